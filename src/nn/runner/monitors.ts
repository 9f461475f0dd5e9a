/**
 * What a Runner records. Spike monitors keep EVENTS (the step and flat neuron index of every
 * spike: 8 bytes per spike instead of T×N values); other monitors keep VALUES in one
 * preallocated Float32Array [T, ...shape]. Both read the device in blocks: the per-step tensors
 * of `blockSteps` steps are stacked and read back once, then disposed, so a run holds at most one
 * block of tensors and the host side is plain typed arrays.
 */
import { tf } from '../../backend/tf';
import { ArgumentError } from '../../errors';

/** The recording of one monitor over the steps of a run. */
export abstract class MonitorData {
  abstract readonly kind: 'events' | 'values';
  constructor(
    /** Step times in ms (the environ `t` of each step; values are recorded after the step). */
    readonly ts: Float32Array,
    /** Shape of the monitored value at one step (flat index j runs over its elements). */
    readonly shape: readonly number[],
    /** Time step in ms. */
    readonly dt: number,
  ) {}

  /** Number of recorded steps. */
  get numSteps(): number {
    return this.ts.length;
  }
  /** Elements per step (product of `shape`). */
  get size(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }
  /** The values of element `j` over time (length numSteps). */
  abstract column(j: number): Float32Array;
  /** All values, row-major [T, ...shape] (spike events become 0/1). */
  abstract toDense(): Float32Array;
  /** A new tensor [T, ...shape] (the caller owns it). */
  toTensor(): tf.Tensor {
    return tf.tensor(this.toDense(), [this.numSteps, ...this.shape]);
  }

  protected checkIndex(j: number): void {
    if (!(Number.isInteger(j) && j >= 0 && j < this.size)) {
      throw new ArgumentError(`${this.constructor.name}: index ${j} is outside [0, ${this.size})`);
    }
  }
}

/** A value monitor: `data` is [T, ...shape] row-major. */
export class Trace extends MonitorData {
  readonly kind = 'values' as const;
  constructor(
    ts: Float32Array,
    shape: readonly number[],
    dt: number,
    /** The values, row-major [T, ...shape]. */
    readonly data: Float32Array,
  ) {
    super(ts, shape, dt);
  }

  /** The values at step `k` (a view, [size]). */
  at(k: number): Float32Array {
    return this.data.subarray(k * this.size, (k + 1) * this.size);
  }
  column(j: number): Float32Array {
    this.checkIndex(j);
    const n = this.size;
    const out = new Float32Array(this.numSteps);
    for (let k = 0; k < out.length; k++) out[k] = this.data[k * n + j];
    return out;
  }
  toDense(): Float32Array {
    return this.data;
  }
}

/** Dense rasters larger than this many elements must be asked for explicitly. */
export const MAX_DENSE_RASTER = 50_000_000;

/** A spike monitor: one (step, flat index) pair per spike, in time order. */
export class SpikeEvents extends MonitorData {
  readonly kind = 'events' as const;
  private timesCache: Float32Array | null = null;
  constructor(
    ts: Float32Array,
    shape: readonly number[],
    dt: number,
    /** Step (index into ts) of each spike. */
    readonly steps: Int32Array,
    /** Flat index (over `shape`) of each spike's neuron. */
    readonly indices: Int32Array,
  ) {
    super(ts, shape, dt);
  }

  /** Number of spikes. */
  get count(): number {
    return this.steps.length;
  }
  /** Time in ms of each spike. */
  get times(): Float32Array {
    if (this.timesCache === null) {
      const t = new Float32Array(this.steps.length);
      for (let k = 0; k < t.length; k++) t[k] = this.ts[this.steps[k]];
      this.timesCache = t;
    }
    return this.timesCache;
  }
  /** Spike count of every neuron. */
  counts(): Int32Array {
    const c = new Int32Array(this.size);
    for (const j of this.indices) c[j]++;
    return c;
  }
  /** Duration recorded, in ms (numSteps · dt). */
  get duration(): number {
    return this.numSteps * this.dt;
  }
  /** Firing rate of every neuron in Hz. */
  rates(): Float64Array {
    const c = this.counts();
    const seconds = this.duration / 1000;
    return Float64Array.from(c, (x) => (seconds > 0 ? x / seconds : 0));
  }
  /** Mean firing rate over neurons in Hz. */
  meanRate(): number {
    const seconds = this.duration / 1000;
    return seconds > 0 && this.size > 0 ? this.count / this.size / seconds : 0;
  }
  column(j: number): Float32Array {
    this.checkIndex(j);
    const out = new Float32Array(this.numSteps);
    for (let k = 0; k < this.count; k++) if (this.indices[k] === j) out[this.steps[k]] = 1;
    return out;
  }
  /**
   * The dense 0/1 raster [T, ...shape]. Above MAX_DENSE_RASTER elements it throws unless
   * `{ force: true }` (10 s of 4000 neurons at dt 0.1 ms would be 1.6 GB).
   */
  toDense(options: { force?: boolean } = {}): Float32Array {
    const n = this.numSteps * this.size;
    if (n > MAX_DENSE_RASTER && !options.force) {
      throw new ArgumentError(
        `SpikeEvents.toDense: a ${this.numSteps}×${this.size} raster has ${n} elements; ` +
          `use steps/indices/times, or pass { force: true }`,
      );
    }
    const out = new Float32Array(n);
    for (let k = 0; k < this.count; k++) out[this.steps[k] * this.size + this.indices[k]] = 1;
    return out;
  }
}

/** A growable Int32Array. */
class IntList {
  data = new Int32Array(1024);
  length = 0;
  push(x: number): void {
    if (this.length === this.data.length) {
      const bigger = new Int32Array(this.data.length * 2);
      bigger.set(this.data);
      this.data = bigger;
    }
    this.data[this.length++] = x;
  }
  toArray(): Int32Array {
    return this.data.slice(0, this.length);
  }
}

export type HostData = Float32Array | Int32Array | Uint8Array;

/**
 * Collects one monitor's per-step tensors during a run. `push` takes ownership of a tensor;
 * `flush` stacks the pending block, reads it back once and disposes it.
 */
export abstract class Recorder {
  protected pending: tf.Tensor[] = [];
  protected shape: readonly number[] | null = null;
  protected stepsDone = 0;

  constructor(
    readonly name: string,
    protected readonly numSteps: number,
  ) {}

  /** Elements per step (known after the first push). */
  get stepSize(): number {
    return this.shape === null ? 0 : this.shape.reduce((a, b) => a * b, 1);
  }

  push(t: tf.Tensor): void {
    if (this.shape === null) {
      this.shape = [...t.shape];
      this.allocate();
    } else if (!sameShape(this.shape, t.shape)) {
      this.dispose();
      t.dispose();
      throw new ArgumentError(
        `Runner: monitor '${this.name}' changed shape from [${this.shape.join(', ')}] to [${t.shape.join(', ')}] during the run`,
      );
    }
    this.pending.push(t);
  }

  /**
   * Record one step from host data (a view the caller may reuse: it is consumed now). Pending
   * tensors must have been flushed first.
   */
  pushData(data: HostData, shape?: readonly number[]): void {
    if (this.pending.length > 0) {
      throw new ArgumentError(`Runner: monitor '${this.name}': flush before pushing host data`);
    }
    if (this.shape === null) {
      this.shape = shape !== undefined ? [...shape] : [data.length];
      this.allocate();
    }
    if (data.length !== this.stepSize) {
      throw new ArgumentError(
        `Runner: monitor '${this.name}' got ${data.length} values for a step of ${this.stepSize}`,
      );
    }
    this.consume(data, this.stepsDone, 1);
    this.stepsDone++;
  }

  /** Read the pending block back and dispose it. */
  async flush(): Promise<void> {
    if (this.pending.length === 0) return;
    const block = this.pending;
    this.pending = [];
    const stacked = tf.stack(block);
    tf.dispose(block);
    try {
      const data = (await stacked.data()) as HostData;
      this.consume(data, this.stepsDone, block.length);
      this.stepsDone += block.length;
    } finally {
      stacked.dispose();
    }
  }

  /** Dispose the tensors not read yet (after an error). */
  dispose(): void {
    tf.dispose(this.pending);
    this.pending = [];
  }

  protected abstract allocate(): void;
  protected abstract consume(data: HostData, firstStep: number, count: number): void;
  abstract finish(ts: Float32Array, dt: number): MonitorData;
}

/** Records values into a preallocated Float32Array [T, ...shape]. */
export class ValueRecorder extends Recorder {
  private data: Float32Array | null = null;

  protected allocate(): void {
    const n = this.numSteps * this.stepSize;
    if (n > 2 ** 30) {
      throw new ArgumentError(
        `Runner: monitor '${this.name}' would store ${this.numSteps}×${this.stepSize} values (${(n * 4) / 2 ** 30} GiB); ` +
          `monitor fewer elements (a function monitor of a slice) or run shorter segments`,
      );
    }
    this.data = new Float32Array(n);
  }
  protected consume(data: HostData, firstStep: number): void {
    this.data!.set(data, firstStep * this.stepSize);
  }
  finish(ts: Float32Array, dt: number): Trace {
    return new Trace(ts, this.shape ?? [0], dt, this.data ?? new Float32Array(0));
  }
}

/** Records the (step, index) of every nonzero element. */
export class EventRecorder extends Recorder {
  private readonly steps = new IntList();
  private readonly indices = new IntList();

  protected allocate(): void {}
  protected consume(data: HostData, firstStep: number, count: number): void {
    const n = this.stepSize;
    for (let k = 0; k < count; k++) {
      const base = k * n;
      for (let j = 0; j < n; j++) {
        if (data[base + j] !== 0) {
          this.steps.push(firstStep + k);
          this.indices.push(j);
        }
      }
    }
  }
  /**
   * Record one step from the indices of its non-zero elements (the first `count` of `indices`,
   * increasing). Pending tensors must have been flushed first.
   */
  pushIndices(indices: Int32Array, count: number, shape: readonly number[]): void {
    if (this.pending.length > 0) {
      throw new ArgumentError(`Runner: monitor '${this.name}': flush before pushing host data`);
    }
    if (this.shape === null) this.shape = [...shape];
    const step = this.stepsDone++;
    for (let c = 0; c < count; c++) {
      this.steps.push(step);
      this.indices.push(indices[c]);
    }
  }

  finish(ts: Float32Array, dt: number): SpikeEvents {
    return new SpikeEvents(ts, this.shape ?? [0], dt, this.steps.toArray(), this.indices.toArray());
  }
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
