/**
 * Block execution (multi-step compilation): run many steps of a replayable jitted step in one
 * call, with no user JS, no tfjs dispatch for fused and event kernels, and no allocation per step.
 *
 * A StepBlock is built from the jit's replay plan and fused schedule (runner.ts). Each run of n
 * steps:
 * - copies every written state leaf into a block-owned buffer A and allocates a twin B; step k
 *   reads the old values from one and writes the new values into the other (ping-pong), so no
 *   kernel ever reads a value it overwrites, and the caller's tensors are never written;
 * - binds every kernel of the schedule to fixed buffers once: a fused kernel is its wasm SIMD
 *   function (or JS loop on cpu) on those buffers, a kernel with a registered block binder (the
 *   CSR event kernel) runs in place the same way, and any other kernel is dispatched through tfjs
 *   and its result copied into the buffer (correct for every kernel; slower);
 * - per step: writes the per-step environ inputs (`environ.scalar('t')`), copies the per-step
 *   argument rows, redraws the random inputs with fresh keys (as a replay does), runs the bound
 *   kernels, and hands views of the results to the sink (monitors write them into preallocated
 *   host buffers: nothing is read back per step through tfjs);
 * - at the end writes the final buffers into the states (fresh tensors: the states end exactly
 *   as n replayed calls leave them; results are bit-identical).
 *
 * Blocks need the wasm or cpu backend, no gradient tape and no enclosing transform; `buildBlock`
 * returns the reason (a string) when a step cannot run as a block, and `StepBlock.blocker()`
 * says why it cannot run now (an environ value baked into the trace changed, a state changed
 * shape, a captured tensor was disposed).
 */
import { tf } from '../backend/tf';
import { gradientTapeActive } from '../backend/engine';
import * as environ from '../environ';
import { ArgumentError, TransformError } from '../errors';
import { activeTraces, State } from '../state';
import { isPlainObject, tensorLeaves, treeSignature, type StateValue } from '../state/tree';
import { bindFusedInPlace } from './fusion';
import type { Var } from './program';
import type { Schedule, ScheduledStep } from './runner';
import {
  VarRef,
  type ReplayPlan,
  type StatefulFunction,
  type TraceEntry,
} from './statefulFunction';

type AnyState = State<StateValue>;

/**
 * Binds a kernel to fixed buffers: returns a closure computing the kernel's outputs into `outs`
 * (their own buffers, in place), or null when it cannot on this backend.
 */
export type BlockKernelBinder = (
  inputs: Record<string, tf.Tensor>,
  attrs: Record<string, unknown>,
  outs: readonly tf.Tensor[],
) => (() => void) | null;

const binders = new Map<string, BlockKernelBinder>();

/** Let block execution run `kernelName` in place (e.g. the CSR event kernel). */
export function registerBlockKernel(kernelName: string, binder: BlockKernelBinder): void {
  binders.set(kernelName, binder);
}

/** What feeds a run of steps and receives its results. */
export interface BlockFeed {
  /**
   * The arguments (same structure as the traced call). Tensors not given a per-step row are
   * read as they are, every step.
   */
  args: readonly unknown[];
  /** Per-step argument rows: argument path (e.g. '0.1') → series [T, ...] and the row of step 0. */
  rows?: ReadonlyMap<string, { readonly series: tf.Tensor; readonly start: number }>;
  /**
   * Per-step values of environ inputs (keys the step reads with `environ.scalar`), e.g.
   * `{ t: (k) => t0 + k * dt }`. Keys not given are read from environ once per run.
   */
  environ?: Readonly<Record<string, (k: number) => number>>;
  /**
   * Called after step k with the block's buffers of the result leaves (depth-first order) and
   * `io` to read them (`io.view(t)`) or copy them into other tensors (`io.copy`); both are valid
   * during the call only: copy or scan what you keep (e.g. heapScan.ts's NonzeroScanner).
   */
  sink?: (k: number, results: readonly tf.Tensor[], io: HeapIO) => void;
  /**
   * Stacked outputs: result leaf j of step k is copied to row `start + k` of `tensors[j]`
   * ([T, ...], the leaf's dtype). (Letting the kernels read rows and write results in place
   * instead measured no faster: the step streams the same memory either way.)
   */
  outputs?: { readonly tensors: readonly tf.Tensor[]; readonly start: number };
}

// ---- backend access ---------------------------------------------------------------------------

interface WasmBackendLike {
  typedArrayFromHeap(t: { dataId: object; shape: number[]; dtype: tf.DataType }): tf.TypedArray;
}
interface CpuBackendLike {
  data: { get(dataId: object): { values: unknown } };
}

/** A typed view of a tensor's own buffer (valid until the next wasm heap growth). */
type ViewOf = (t: tf.Tensor) => tf.TypedArray;

interface WasmHeapLike extends WasmBackendLike {
  wasm?: { asm?: { memory?: unknown } };
  dataIdMap: { get(dataId: object): { memoryOffset: number } | undefined };
}

function bytesPer(dtype: tf.DataType): number {
  return dtype === 'bool' ? 1 : 4;
}

/**
 * Reads and copies of tensors' own buffers: on wasm byte copies within tfjs's heap (no view
 * objects per call; the heap view is renewed after a heap growth), on cpu typed-array copies.
 */
export class HeapIO {
  /** A typed view of a tensor's buffer (valid until the next wasm heap growth). */
  readonly view: ViewOf;
  private readonly memory: WebAssembly.Memory | null = null;
  private readonly offsets: WasmHeapLike['dataIdMap'] | null = null;
  private heap: Uint8Array | null = null;

  constructor() {
    const name = tf.getBackend();
    if (name === 'wasm') {
      const b = tf.backend() as unknown as WasmHeapLike;
      this.view = (t) => b.typedArrayFromHeap(t as never);
      const m = b.wasm?.asm?.memory;
      if (m instanceof WebAssembly.Memory) {
        this.memory = m;
        this.offsets = b.dataIdMap;
      }
    } else {
      const b = tf.backend() as unknown as CpuBackendLike;
      this.view = (t) => b.data.get(t.dataId).values as tf.TypedArray;
    }
  }

  /** Byte offset of a tensor's buffer in the wasm heap (null off wasm). */
  pointer(t: tf.Tensor): number | null {
    return this.offsets?.get(t.dataId)?.memoryOffset ?? null;
  }

  /** Copy `count` elements from src[srcAt…] to dst[dstAt…] (same dtype). */
  copy(src: tf.Tensor, srcAt: number, dst: tf.Tensor, dstAt: number, count: number): void {
    const ps = this.pointer(src);
    const pd = this.pointer(dst);
    if (ps !== null && pd !== null) {
      this.copyBytes(
        ps + srcAt * bytesPer(src.dtype),
        pd + dstAt * bytesPer(dst.dtype),
        count * bytesPer(dst.dtype),
      );
      return;
    }
    const from = this.view(src);
    this.view(dst).set(
      srcAt === 0 && count === from.length ? from : from.subarray(srcAt, srcAt + count),
      dstAt,
    );
  }

  /** A bound copy between fixed places (pointers looked up once), for per-step use. */
  copier(src: tf.Tensor, srcAt: number, dst: tf.Tensor, dstAt: number, count: number): () => void {
    const ps = this.pointer(src);
    const pd = this.pointer(dst);
    if (ps !== null && pd !== null) {
      const from = ps + srcAt * bytesPer(src.dtype);
      const to = pd + dstAt * bytesPer(dst.dtype);
      const bytes = count * bytesPer(dst.dtype);
      return () => this.copyBytes(from, to, bytes);
    }
    return () => this.copy(src, srcAt, dst, dstAt, count);
  }

  /** Set element 0 of a float32 or int32 tensor. */
  setScalar(t: tf.Tensor, value: number): void {
    const p = this.pointer(t);
    if (p === null || t.dtype === 'bool' || (p & 3) !== 0) {
      this.view(t)[0] = value;
      return;
    }
    const buf = this.memory!.buffer;
    if (this.f32 === null || this.f32.buffer !== buf) {
      this.f32 = new Float32Array(buf);
      this.i32 = new Int32Array(buf);
    }
    (t.dtype === 'int32' ? this.i32! : this.f32)[p >> 2] = value;
  }
  private f32: Float32Array | null = null;
  private i32: Int32Array | null = null;

  private copyBytes(from: number, to: number, bytes: number): void {
    let h = this.heap;
    if (h === null || h.buffer !== this.memory!.buffer)
      h = this.heap = new Uint8Array(this.memory!.buffer);
    h.copyWithin(to, from, from + bytes);
  }
}

/** A new tensor with its own buffer (zeros). */
function ownBuffer(shape: readonly number[], dtype: tf.DataType): tf.Tensor {
  // Fill allocates a fresh buffer on wasm and cpu (never a view of another tensor)
  return tf.fill([...shape], 0, dtype);
}

// ---- building -----------------------------------------------------------------------------------

interface StateLeaf {
  readonly state: AnyState;
  readonly leaf: number;
  /** Slot of the old value (undefined: the program does not read it). */
  readonly inSlot: number | undefined;
  /** Slot of the new value. */
  readonly outSlot: number;
  readonly shape: readonly number[];
  readonly dtype: tf.DataType;
}

type InputSource =
  | { kind: 'state'; slot: number; leaf: StateLeaf }
  | { kind: 'readState'; slot: number; state: AnyState; leaf: number }
  | { kind: 'arg'; slot: number; path: string }
  | { kind: 'captured'; slot: number; tensor: tf.Tensor };

/** Why a jitted step cannot run as a block now, or null. */
function environBlocker(plan: ReplayPlan, perStep: ReadonlySet<string>): string | null {
  for (const [k, v] of plan.environ) {
    if (perStep.has(k)) {
      return `the step reads environ '${k}' as a JS number, which changes every step; read it with environ.scalar('${k}')`;
    }
    let now: unknown;
    try {
      now = environ.get(k);
    } catch {
      return `environ '${k}' is no longer set`;
    }
    if (!Object.is(now, v)) return `environ '${k}' changed since the trace`;
  }
  return null;
}

/**
 * A block for the jitted step `sf` called with `args` (it must have been called once with these
 * argument shapes, so the trace exists), or why it cannot run as a block. `perStepKeys` are the
 * environ keys the caller changes every step (e.g. 't', 'i'); `rowPaths` the argument paths fed
 * per step from series.
 */
export function buildBlock<A extends unknown[]>(
  sf: StatefulFunction<A, unknown>,
  args: A,
  perStepKeys: readonly string[] = [],
): StepBlock | string {
  const backend = tf.getBackend();
  if (backend !== 'wasm' && backend !== 'cpu') {
    return `block execution runs on the wasm and cpu backends, not ${backend}`;
  }
  if (gradientTapeActive()) return 'a gradient tape is recording';
  if (activeTraces().length > 0) return 'it runs inside another transform';
  const got = sf.replayEntry(...args);
  if (typeof got === 'string') return got;
  const { entry, plan, runner } = got;
  if (plan.customGrad && gradientTapeActive()) return 'custom gradients under a tape';
  const blocker = environBlocker(plan, new Set(perStepKeys));
  if (blocker !== null) return blocker;
  if (plan.draws.length > 0 && plan.rng === null) return 'its random draws have no RandomState';
  return new StepBlock(sf.name, entry, plan, runner.schedule, new Set(perStepKeys));
}

/** A jitted step compiled for runs of many steps (see the file header). */
export class StepBlock {
  private readonly stateLeaves: StateLeaf[] = [];
  private readonly inputs: InputSource[] = [];
  /** Block-owned buffers of intermediate, constant, environ, draw and row slots. */
  private readonly owned = new Map<number, tf.Tensor>();
  private readonly resultSlots: number[];
  private readonly environSlots: { slot: number; key: string }[];
  private readonly drawSlots: { slot: number; redraw: ReplayPlan['draws'][number]['redraw'] }[];
  private disposed = false;

  constructor(
    readonly name: string,
    private readonly entry: TraceEntry,
    private readonly plan: ReplayPlan,
    private readonly schedule: Schedule,
    private readonly perStepKeys: ReadonlySet<string>,
  ) {
    const program = entry.program;
    const slotOf = new Map<Var, number>();
    schedule.varOfSlot.forEach((v, s) => v !== undefined && slotOf.set(v, s));
    const slotOfVar = (v: Var, what: string): number => {
      const s = slotOf.get(v);
      if (s === undefined) throw new TransformError(`${name}: internal: no slot for ${what}`);
      return s;
    };
    // written state leaves: their output slots
    const written = new Map<AnyState, Map<number, number>>();
    for (const w of plan.writes) {
      const m = new Map<number, number>();
      let leaf = 0;
      const walk = (tpl: unknown): void => {
        if (tpl instanceof VarRef) m.set(leaf++, slotOfVar(tpl.v, `${w.state.describe()}`));
        else if (tpl instanceof tf.Tensor) leaf++;
        else if (Array.isArray(tpl)) tpl.forEach(walk);
        else if (isPlainObject(tpl)) Object.values(tpl).forEach(walk);
      };
      walk(w.template);
      written.set(w.state, m);
    }
    const leafOf = new Map<string, StateLeaf>();
    const stateIds = new Map<AnyState, number>();
    const leafKey = (s: AnyState, l: number) => {
      if (!stateIds.has(s)) stateIds.set(s, stateIds.size);
      return `${stateIds.get(s)}:${l}`;
    };
    for (const [state, m] of written) {
      const leaves = tensorLeaves(state.rawValue);
      for (const [leaf, outSlot] of m) {
        const t = leaves[leaf];
        const sl: StateLeaf = {
          state,
          leaf,
          inSlot: undefined,
          outSlot,
          shape: t.shape,
          dtype: t.dtype,
        };
        this.stateLeaves.push(sl);
        leafOf.set(leafKey(state, leaf), sl);
      }
    }
    program.inputs.forEach((inp) => {
      const slot = slotOf.get(inp.var);
      if (slot === undefined) return; // not needed by the schedule
      const src = inp.source;
      if (src.kind === 'state') {
        const sl = leafOf.get(leafKey(src.state, src.leaf));
        if (sl !== undefined) {
          (sl as { inSlot: number | undefined }).inSlot = slot;
          this.inputs.push({ kind: 'state', slot, leaf: sl });
        } else {
          this.inputs.push({ kind: 'readState', slot, state: src.state, leaf: src.leaf });
        }
      } else if (src.kind === 'arg') this.inputs.push({ kind: 'arg', slot, path: src.path });
      else this.inputs.push({ kind: 'captured', slot, tensor: src.tensor });
    });
    this.environSlots = plan.environInputs
      .filter((e) => schedule.extraSlots.has(e.var))
      .map((e) => ({ slot: schedule.extraSlots.get(e.var)!, key: e.key }));
    this.drawSlots = plan.draws
      .filter((d) => schedule.extraSlots.has(d.var))
      .map((d) => ({ slot: schedule.extraSlots.get(d.var)!, redraw: d.redraw }));
    const results: number[] = [];
    const walkResult = (tpl: unknown): void => {
      if (tpl instanceof VarRef) results.push(slotOfVar(tpl.v, 'a result'));
      else if (Array.isArray(tpl)) tpl.forEach(walkResult);
      else if (isPlainObject(tpl)) Object.values(tpl).forEach(walkResult);
    };
    walkResult(plan.result);
    this.resultSlots = results;
    // block-owned buffers: every slot that is not an input or a state leaf's new value
    const taken = new Set<number>([
      ...this.inputs.filter((i) => i.kind !== 'arg').map((i) => i.slot),
      ...this.stateLeaves.map((l) => l.outSlot),
    ]);
    for (const c of schedule.constants) {
      this.owned.set(c.slot, tf.tensor(c.values as number[], c.shape, c.dtype));
      taken.add(c.slot);
    }
    schedule.varOfSlot.forEach((v, s) => {
      if (v === undefined || taken.has(s)) return;
      if (this.inputs.some((i) => i.kind === 'arg' && i.slot === s)) return; // bound per run
      this.owned.set(s, ownBuffer(v.shape, v.dtype));
    });
  }

  /** Why the block cannot run now (null: it can). */
  blocker(): string | null {
    if (this.disposed) return 'the block was disposed';
    if (gradientTapeActive()) return 'a gradient tape is recording';
    if (activeTraces().length > 0) return 'it runs inside another transform';
    const e = this.entry;
    for (let i = 0; i < e.states.length; i++) {
      if (treeSignature(e.states[i].rawValue) !== e.stateSignatures[i]) {
        return `${e.states[i].describe()} changed shape or dtype since the trace`;
      }
    }
    for (const i of this.inputs) {
      if (i.kind === 'captured' && i.tensor.isDisposed) return 'a captured tensor was disposed';
    }
    return environBlocker(this.plan, this.perStepKeys);
  }

  /**
   * Run n steps (n ≥ 1). Throws an ArgumentError when the block cannot run now (see `blocker`)
   * or the feed does not match the trace; on an error inside a step the states keep their values
   * from before the run.
   */
  run(n: number, feed: BlockFeed): void {
    if (!(Number.isInteger(n) && n >= 1)) {
      throw new ArgumentError(`${this.name} block: n must be a positive integer, got ${n}`);
    }
    const why = this.blocker();
    if (why !== null) throw new ArgumentError(`${this.name} block cannot run: ${why}`);
    const io = new HeapIO();
    const perRun: tf.Tensor[] = [];
    const bufA = this.stateLeaves.map((l) => {
      const src = tensorLeaves(l.state.rawValue)[l.leaf];
      const a = ownBuffer(l.shape, l.dtype);
      io.copy(src, 0, a, 0, a.size);
      perRun.push(a);
      return a;
    });
    const bufB = this.stateLeaves.map((l) => {
      const b = ownBuffer(l.shape, l.dtype);
      perRun.push(b);
      return b;
    });
    let finished = false;
    try {
      // arguments: a tensor per arg path, rows copied into own buffers per step
      const argTensors = new Map<string, tf.Tensor>();
      feed.args.forEach((a, i) => {
        const walk = (v: unknown, path: string): void => {
          if (v instanceof tf.Tensor) argTensors.set(path, v);
          else if (Array.isArray(v)) v.forEach((e, j) => walk(e, `${path}.${j}`));
          else if (isPlainObject(v))
            for (const [k, e] of Object.entries(v)) walk(e, `${path}.${k}`);
        };
        walk(a, String(i));
      });
      const rowCopies: { series: tf.Tensor; start: number; size: number; into: tf.Tensor }[] = [];
      const outCopies = this.outputTargets(feed, n);
      const argBuffers = new Map<number, tf.Tensor>();
      for (const i of this.inputs) {
        if (i.kind !== 'arg') continue;
        const row = feed.rows?.get(i.path);
        const v = this.entry.program.inputs.find(
          (p) => p.source.kind === 'arg' && p.source.path === i.path,
        )!.var;
        if (row !== undefined) {
          const need = row.start + n;
          if (row.series.shape[0] === undefined || row.series.shape[0] < need) {
            throw new ArgumentError(
              `${this.name} block: the series of argument ${i.path} has ${row.series.shape[0]} rows; the run needs ${need}`,
            );
          }
          const size = v.shape.reduce((a, b) => a * b, 1);
          if (row.series.dtype !== v.dtype || row.series.size !== row.series.shape[0] * size) {
            throw new ArgumentError(
              `${this.name} block: the series of argument ${i.path} is ${row.series.dtype}[${row.series.shape}], rows of ${v.dtype}[${v.shape}] are needed`,
            );
          }
          const into = ownBuffer(v.shape, v.dtype);
          perRun.push(into);
          rowCopies.push({ series: row.series, start: row.start, size: into.size, into });
          argBuffers.set(i.slot, into);
        } else {
          const t = argTensors.get(i.path);
          if (t === undefined || t.isDisposed) {
            throw new ArgumentError(`${this.name} block: argument ${i.path} is missing`);
          }
          if (t.dtype !== v.dtype || t.shape.join(',') !== v.shape.join(',')) {
            throw new ArgumentError(
              `${this.name} block: argument ${i.path} is ${t.dtype}[${t.shape}], the trace has ${v.dtype}[${v.shape}]`,
            );
          }
          argBuffers.set(i.slot, t);
        }
      }
      const buffersFor = (parity: 0 | 1): (tf.Tensor | undefined)[] => {
        const b: (tf.Tensor | undefined)[] = new Array(this.schedule.varOfSlot.length);
        for (const [s, t] of this.owned) b[s] = t;
        for (const [s, t] of argBuffers) b[s] = t;
        for (const i of this.inputs) {
          if (i.kind === 'readState') b[i.slot] = tensorLeaves(i.state.rawValue)[i.leaf];
          else if (i.kind === 'captured') b[i.slot] = i.tensor;
        }
        this.stateLeaves.forEach((l, j) => {
          const cur = parity === 0 ? bufA[j] : bufB[j];
          const next = parity === 0 ? bufB[j] : bufA[j];
          if (l.inSlot !== undefined) b[l.inSlot] = cur;
          if (b[l.outSlot] === undefined) b[l.outSlot] = next;
        });
        return b;
      };
      const plans = ([0, 1] as const).map((parity) => {
        const b = buffersFor(parity);
        const ops = this.schedule.steps.map((st) => this.bindStep(st, b, io));
        // state leaves whose new value is not computed into their own next buffer: copy it
        this.stateLeaves.forEach((l, j) => {
          const next = parity === 0 ? bufB[j] : bufA[j];
          const src = b[l.outSlot]!;
          if (src !== next) ops.push(io.copier(src, 0, next, 0, next.size));
        });
        const results = this.resultSlots.map((s) => b[s]!);
        const copies = outCopies.map(({ j, into }) => ({ from: results[j], into }));
        return { ops, results, copies };
      });
      // environ inputs: per-step functions, or the value now
      const environFill = this.environSlots.map(({ slot, key }) => {
        const f = feed.environ?.[key];
        if (f !== undefined) return { t: this.owned.get(slot)!, f };
        const v = environ.get(key);
        if (typeof v !== 'number') {
          throw new ArgumentError(
            `${this.name} block: environ '${key}' holds ${typeof v}, not a number`,
          );
        }
        return { t: this.owned.get(slot)!, f: () => v };
      });
      const rng = this.plan.rng;
      const sink = feed.sink;
      const outStart = feed.outputs?.start ?? 0;
      for (let k = 0; k < n; k++) {
        for (const e of environFill) io.setScalar(e.t, e.f(k));
        for (const r of rowCopies) io.copy(r.series, (r.start + k) * r.size, r.into, 0, r.size);
        for (const d of this.drawSlots) {
          const t = d.redraw(rng!.splitKey());
          try {
            const into = this.owned.get(d.slot)!;
            io.copy(t, 0, into, 0, into.size);
          } finally {
            t.dispose();
          }
        }
        const p = plans[k & 1];
        for (const op of p.ops) op();
        for (const c of p.copies)
          io.copy(c.from, 0, c.into, (outStart + k) * c.from.size, c.from.size);
        if (sink !== undefined) sink(k, p.results, io);
      }
      // the final values go to the states; the other buffers are freed
      const final = n & 1 ? bufB : bufA;
      const keep = new Set(final);
      const byState = new Map<AnyState, Map<number, tf.Tensor>>();
      this.stateLeaves.forEach((l, j) => {
        const m = byState.get(l.state) ?? new Map<number, tf.Tensor>();
        m.set(l.leaf, final[j]);
        byState.set(l.state, m);
      });
      for (const w of this.plan.writes) {
        const m = byState.get(w.state)!;
        let leaf = 0;
        const fill = (tpl: unknown): unknown => {
          if (tpl instanceof VarRef) return m.get(leaf++)!;
          if (tpl instanceof tf.Tensor) {
            leaf++;
            return tpl;
          }
          if (Array.isArray(tpl)) return tpl.map(fill);
          if (isPlainObject(tpl)) {
            return Object.fromEntries(Object.entries(tpl).map(([k, v]) => [k, fill(v)]));
          }
          return tpl;
        };
        w.state.value = fill(w.template) as StateValue;
      }
      tf.dispose(perRun.filter((t) => !keep.has(t)));
      finished = true;
    } finally {
      if (!finished) tf.dispose(perRun);
    }
  }

  /** The output tensor of each result when `feed.outputs` is given (checked). */
  private outputTargets(feed: BlockFeed, n: number): { j: number; into: tf.Tensor }[] {
    const out = feed.outputs;
    if (out === undefined) return [];
    if (out.tensors.length !== this.resultSlots.length) {
      throw new ArgumentError(
        `${this.name} block: ${out.tensors.length} output tensors for ${this.resultSlots.length} results`,
      );
    }
    return this.resultSlots.map((slot, j) => {
      const t = out.tensors[j];
      const v = this.schedule.varOfSlot[slot];
      const size = v.shape.reduce((a, b) => a * b, 1);
      if (t.dtype !== v.dtype || t.shape[0] === undefined || t.size !== t.shape[0] * size) {
        throw new ArgumentError(
          `${this.name} block: output ${j} is ${t.dtype}[${t.shape}], rows of ${v.dtype}[${v.shape}] are needed`,
        );
      }
      if (t.shape[0] < out.start + n) {
        throw new ArgumentError(
          `${this.name} block: output ${j} has ${t.shape[0]} rows; the run needs ${out.start + n}`,
        );
      }
      return { j, into: t };
    });
  }

  /** The closure computing one scheduled step on the buffers `b`. */
  private bindStep(st: ScheduledStep, b: (tf.Tensor | undefined)[], io: HeapIO): () => void {
    const ins = st.ins.map((s) => b[s]!);
    const outs = st.outs.map((s) => b[s]!);
    if (st.fused !== undefined) return bindFusedInPlace(st.fused, ins, outs);
    const named: Record<string, tf.Tensor> = {};
    st.names.forEach((k, i) => (named[k] = ins[i]));
    const binder = binders.get(st.kernel);
    const bound = binder?.(named, st.attrs, outs) ?? null;
    if (bound !== null) return bound;
    const engine = tf.engine() as unknown as {
      runKernel(n: string, i: unknown, a: unknown): tf.Tensor | tf.Tensor[];
    };
    const inputs = st.listed ? ins : named;
    const kernel = st.kernel;
    const attrs = st.attrs;
    return () => {
      const r = engine.runKernel(kernel, inputs, attrs);
      const list = Array.isArray(r) ? r : [r];
      try {
        list.forEach((t, i) => io.copy(t, 0, outs[i], 0, outs[i].size));
      } finally {
        tf.dispose(list);
      }
    };
  }

  /** Free the block's own buffers. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    tf.dispose([...this.owned.values()]);
    this.owned.clear();
  }
}
