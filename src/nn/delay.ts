/**
 * Delays (spec §5.2, HEAD ring-buffer semantics) and the prefetch accessors (spec §5.1).
 *
 * A `Delay` keeps the last `maxLength` values of a signal in a ring buffer, the DelayState
 * `history` of shape [maxLength, batch?, ...shape], and an int32 `writePtr` (a NonBatchState).
 * `update(x)` writes x at the pointer and advances it; `retrieveAtStep(d)` returns the value
 * written d updates before the latest one (d = 0: the latest; before any write: the `init` fill).
 * Delays are given in ms (`time`, converted with ⌈time/dt⌉ steps, dt read from environ) or in
 * steps (`{ steps }`). Named entries (`registerEntry`, `at(name)`) let several readers share one
 * buffer, which is as long as the longest entry. The pointer and the read index are tensors, so a
 * step is free of data-dependent JS (a recorded step replays correctly).
 *
 * `StateWithDelay(target, item)` follows a state of another module: registered by
 * `Dynamics.prefetchDelay` as an after-update hook, it pushes the state's current value after
 * each step. `Prefetch`, `PrefetchDelayAt` and `OutputDelayAt` are the small modules projections
 * hold to read a (delayed) value of another module at call time.
 */
import { tf } from '../backend/tf';
import * as environ from '../environ';
import { ArgumentError, KeyNotFoundError, StateError, describeValue } from '../errors';
import { Module, type InitStateOptions } from '../graph';
import { isTapeOn } from '../compile/tape';
import { isInitializer, type Initializer } from '../init';
import { DelayState, NonBatchState, State } from '../state';
import type { Dynamics } from './dynamics';

/** A delay: a time in ms, a number of steps, or null (the latest value, no delay). */
export type DelayTime = number | { readonly steps: number } | null;

/** Built-in interpolation for `retrieveAtTime` between two stored steps. */
export type InterpolationName = 'linear' | 'linear_interp' | 'nearest' | 'round';

/**
 * A custom interpolation: given `at(steps)` (the value `steps` updates back, an integer in
 * [0, maxLength)) and the fractional number of steps, return the delayed value.
 */
export type InterpolationFunction = (
  at: (steps: number) => tf.Tensor,
  floatSteps: number,
  maxLength: number,
) => tf.Tensor;

/** The initial fill of the history: zeros (null), a number, a tensor broadcast to it, or a function/initializer of the shape. */
export type DelayInit =
  null | number | tf.Tensor | Initializer | ((shape: number[], dtype: tf.DataType) => tf.Tensor);

/** What a Delay stores: a tensor (its shape and dtype are used), or a shape and dtype. */
export type TargetInfo =
  tf.Tensor | { readonly shape: readonly number[]; readonly dtype?: tf.DataType };

export interface DelayOptions {
  /** The longest delay in ms (grown by entries registered later). Default: 0 (latest value only). */
  time?: DelayTime;
  /** The initial history: null (zeros, default), a number, a tensor or a function of the shape. */
  init?: DelayInit;
  /** Entries to register right away: `{ name: time in ms | { steps } | null }`. */
  entries?: Readonly<Record<string, DelayTime>>;
  /** How `retrieveAtTime` reads between steps: 'linear' (default), 'nearest', or a function. */
  interpolation?: InterpolationName | InterpolationFunction;
  /** Write only every `updateEvery` ms (≥ dt; a multiple of dt); delays count in such slots. */
  updateEvery?: number | null;
  /** A name for messages. */
  name?: string;
}

const INTERPOLATIONS: Readonly<Record<string, 'linear' | 'nearest'>> = {
  linear: 'linear',
  linear_interp: 'linear',
  nearest: 'nearest',
  round: 'nearest',
};

/** time/slot as a step count: ⌈ratio⌉, but a ratio within 1e-6 of an integer is that integer (1 ms / 0.1 ms = 10). */
export function timeToSteps(time: number, slot: number): number {
  const ratio = time / slot;
  const r = Math.round(ratio);
  return Math.abs(ratio - r) <= 1e-6 * Math.max(1, Math.abs(ratio)) ? r : Math.ceil(ratio);
}

/** An int32 scalar (a JS number would make tfjs promote the int32 pointer to float32). */
function i32(n: number): tf.Tensor {
  return tf.scalar(n, 'int32');
}

function shapesEqual(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** A ring buffer of past values with named delay entries (see the file header). */
export class Delay extends Module {
  /** Delays are initialised after the modules whose states they copy (spec §2.7). */
  static override callOrder: Partial<Record<string, number>> = { initState: 3, resetState: 3 };

  /** The history [maxLength, batch?, ...shape] (after initState). */
  history: DelayState | null = null;
  /** The next slot to write (int32 scalar), advancing mod maxLength·updateEverySteps. */
  writePtr: NonBatchState | null = null;

  #maxSteps: number;
  #entries = new Map<string, number>();
  #dt: number | null;
  #updateEvery: number | null;
  #updateEverySteps: number;
  #interpolation: 'linear' | 'nearest' | InterpolationFunction;
  #init: DelayInit;
  #shape: readonly number[] | null;
  #dtype: tf.DataType;
  /** maxLength of the current history (null before initState). */
  #builtLength: number | null = null;

  constructor(targetInfo: TargetInfo | null, options: DelayOptions = {}) {
    super(options.name);
    if (targetInfo === null) {
      this.#shape = null;
      this.#dtype = 'float32';
    } else if (targetInfo instanceof tf.Tensor) {
      this.#shape = [...targetInfo.shape];
      this.#dtype = targetInfo.dtype;
    } else if (
      typeof targetInfo === 'object' &&
      Array.isArray(targetInfo.shape) &&
      targetInfo.shape.every((d) => Number.isInteger(d) && d >= 0)
    ) {
      this.#shape = [...targetInfo.shape];
      this.#dtype = targetInfo.dtype ?? 'float32';
    } else {
      throw new ArgumentError(
        `${this.describe()}: targetInfo must be a tensor or { shape, dtype? }, got ${describeValue(targetInfo)}`,
      );
    }
    this.#dt = environ.has(environ.DT) ? environ.getDt() : null;
    this.#init = checkInit(options.init ?? null, this.describe());
    this.#interpolation = checkInterpolation(options.interpolation ?? 'linear', this.describe());
    this.#updateEvery = null;
    this.#updateEverySteps = 1;
    if (options.updateEvery != null) {
      const dt = this.dt;
      const u = options.updateEvery;
      if (typeof u !== 'number' || !Number.isFinite(u) || u < dt * (1 - 1e-6)) {
        throw new ArgumentError(
          `${this.describe()}: updateEvery must be a time ≥ dt = ${dt} ms, got ${describeValue(u)}`,
        );
      }
      this.#updateEvery = u;
      this.#updateEverySteps = Math.max(1, Math.round(u / dt));
    }
    this.#maxSteps = 0;
    if (options.time !== undefined && options.time !== null) {
      this.#grow(this.toSteps(options.time, 'time'));
    }
    for (const [name, time] of Object.entries(options.entries ?? {}))
      this.registerEntry(name, time);
  }

  /** The time step (ms) the delay counts in, read from environ at construction (or first use). */
  get dt(): number {
    if (this.#dt === null) this.#dt = environ.getDt();
    return this.#dt;
  }

  /** The duration of one history slot (ms): updateEvery, or dt. */
  get slotDt(): number {
    return this.#updateEvery ?? this.dt;
  }

  /** Number of history slots: the longest delay in steps + 1. */
  get maxLength(): number {
    return this.#maxSteps + 1;
  }

  /** The longest delay in ms (only ever grows): (maxLength − 1) slots. */
  get maxTime(): number {
    return this.#maxSteps * this.slotDt;
  }

  /** Steps between two writes (1 unless `updateEvery` is set). */
  get updateEverySteps(): number {
    return this.#updateEverySteps;
  }

  /** The registered entries and their delays in steps. */
  get entries(): ReadonlyMap<string, number> {
    return this.#entries;
  }

  /** Convert a delay to steps (slots), checking it: ≥ 0 and finite. */
  toSteps(time: DelayTime, what = 'delay'): number {
    if (time === null) return 0;
    if (typeof time === 'object' && time !== null && 'steps' in time) {
      const s = time.steps;
      if (typeof s !== 'number' || !Number.isInteger(s) || s < 0) {
        throw new ArgumentError(
          `${this.describe()}: ${what} in steps must be a non-negative integer, got ${describeValue(s)}`,
        );
      }
      return s;
    }
    if (typeof time !== 'number' || !Number.isFinite(time) || time < 0) {
      throw new ArgumentError(
        `${this.describe()}: ${what} must be a non-negative time in ms (or { steps }), got ${describeValue(time)}` +
          (typeof time === 'number' && time < 0 ? ' (a negative delay would read the future)' : ''),
      );
    }
    return timeToSteps(time, this.slotDt);
  }

  #grow(steps: number): void {
    if (this.#builtLength !== null && steps + 1 > this.#builtLength) {
      throw new StateError(
        `${this.describe()}: a delay of ${steps} steps needs ${steps + 1} history slots but the history ` +
          `was built with ${this.#builtLength}; register delays before initState (or call initState again)`,
      );
    }
    this.#maxSteps = Math.max(this.#maxSteps, steps);
  }

  /** Register a named delay entry (ms, `{ steps }`, or null = latest); returns its steps. A duplicate name is an error. */
  registerEntry(name: string, time: DelayTime): number {
    if (typeof name !== 'string' || name === '') {
      throw new ArgumentError(
        `${this.describe()}: an entry name must be a non-empty string, got ${describeValue(name)}`,
      );
    }
    if (this.#entries.has(name)) {
      throw new ArgumentError(
        `${this.describe()}: delay entry '${name}' has been registered already`,
      );
    }
    const steps = this.toSteps(time, `entry '${name}'`);
    this.#grow(steps);
    this.#entries.set(name, steps);
    return steps;
  }

  /** True if an entry of that name exists. */
  hasEntry(name: string): boolean {
    return this.#entries.has(name);
  }

  /** The value of a registered entry (its delay in steps back from the latest write). */
  at(name: string): tf.Tensor {
    if (typeof name !== 'string') {
      throw new ArgumentError(
        `${this.describe()}.at: the entry name must be a string, got ${describeValue(name)}`,
      );
    }
    const steps = this.#entries.get(name);
    if (steps === undefined) {
      const known = [...this.#entries.keys()];
      throw new KeyNotFoundError(
        `${this.describe()}: does not find delay entry '${name}'; registered: ${known.length ? known.map((k) => `'${k}'`).join(', ') : 'none'}`,
      );
    }
    return this.retrieveAtStep(steps);
  }

  /** A module whose call gives `at(name)` (for projections' prefetch chains). */
  access(name: string): DelayAccess {
    if (!this.#entries.has(name)) this.at(name); // throws the KeyNotFoundError
    return new DelayAccess(this, name);
  }

  /** The shape of one stored value for `batchSize` (without the history axis). */
  protected sampleShape(batchSize?: number): number[] {
    if (this.#shape === null) {
      throw new StateError(
        `${this.describe()}: no target shape known; give targetInfo to the constructor`,
      );
    }
    return batchSize === undefined ? [...this.#shape] : [batchSize, ...this.#shape];
  }

  /** The dtype of the stored values. */
  protected sampleDtype(): tf.DataType {
    return this.#dtype;
  }

  /** Create the history (filled by `init`) and the write pointer. */
  override initState(options: InitStateOptions = {}): void {
    const shape = [this.maxLength, ...this.sampleShape(options.batchSize)];
    const dtype = this.sampleDtype();
    const fill = makeFill(this.#init, shape, dtype, this.describe());
    const ptr = tf.scalar(0, 'int32');
    if (this.history instanceof State) this.history.reinitialize(fill);
    else this.history = new DelayState(fill, { name: 'history' });
    if (this.writePtr instanceof State) this.writePtr.reinitialize(ptr);
    else this.writePtr = new NonBatchState(ptr, { name: 'writePtr' });
    this.#builtLength = this.maxLength;
  }

  /** Zero the pointer and refill the history. */
  override resetState(options: InitStateOptions = {}): void {
    this.initState(options);
  }

  #checkInit(where: string): { history: DelayState; writePtr: NonBatchState } {
    if (this.history === null || this.writePtr === null) {
      throw new StateError(
        `${this.describe()}.${where}: the delay has no history yet; call initAllStates first`,
      );
    }
    return { history: this.history, writePtr: this.writePtr };
  }

  /** Write `current` into the buffer at the pointer and advance it; returns `current`. */
  override update(current: tf.Tensor): tf.Tensor {
    this.write(current);
    return current;
  }

  /** The write itself (StateWithDelay writes its state's value). */
  protected write(current: tf.Tensor): void {
    const { history, writePtr } = this.#checkInit('update');
    if (!(current instanceof tf.Tensor)) {
      throw new ArgumentError(
        `${this.describe()}.update: expected a tensor, got ${describeValue(current)}`,
      );
    }
    const hist = history.value;
    const sample = hist.shape.slice(1);
    if (!shapesEqual(current.shape, sample)) {
      throw new ArgumentError(
        `${this.describe()}.update: expected a value of shape [${sample.join(',')}], got [${current.shape.join(',')}]`,
      );
    }
    const L = hist.shape[0];
    const s = this.#updateEverySteps;
    const ptr = writePtr.value;
    const [newHist, newPtr] = tf.tidy(() => {
      const x = current.dtype === hist.dtype ? current : tf.cast(current, hist.dtype);
      // Slot k is written when ptr == k·s (with updateEvery, only every s-th step writes).
      const slots = tf.range(0, L * s, s, 'int32');
      const mask = tf.reshape(tf.equal(slots, ptr), [L, ...sample.map(() => 1)]);
      const next = tf.where(mask, tf.expandDims(x, 0), hist);
      return [next, tf.mod(tf.add(ptr, i32(1)), i32(L * s))];
    });
    history.value = newHist;
    writePtr.value = newPtr;
  }

  /**
   * The value written `steps` updates (slots) before the latest one: `steps = 0` is the latest.
   * Before any write it is the `init` fill. `steps` must be an integer in [0, maxLength).
   */
  retrieveAtStep(steps: number): tf.Tensor {
    const { history, writePtr } = this.#checkInit('retrieveAtStep');
    const hist = history.value;
    const L = hist.shape[0];
    if (typeof steps !== 'number' || !Number.isInteger(steps) || steps < 0 || steps >= L) {
      throw new ArgumentError(
        `${this.describe()}.retrieveAtStep: steps must be an integer in [0, ${L}), got ${describeValue(steps)}` +
          (typeof steps === 'number' && steps < 0
            ? ' (a negative delay would read the future)'
            : ''),
      );
    }
    const ptr = writePtr.value;
    const s = this.#updateEverySteps;
    return tf.tidy(() => {
      // latest slot = ⌊(ptr − 1)/s⌋ mod L; the wanted one is `steps` slots before it.
      const latest = s === 1 ? tf.sub(ptr, i32(1)) : tf.floorDiv(tf.sub(ptr, i32(1)), i32(s));
      const idx = tf.mod(tf.add(latest, i32(2 * L - steps)), i32(L));
      if (!isTapeOn() || hist.dtype !== 'float32') return tf.gather(hist, idx);
      // Under a gradient tape: a one-hot weighted sum (GatherV2's gradient needs
      // UnsortedSegmentSum, which the wasm backend does not have).
      const hot = tf.reshape(
        // oneHot's own dtype argument is broken on wasm (int bits labelled float32): cast instead
        tf.cast(tf.oneHot(idx, L), 'float32'),
        [L, ...hist.shape.slice(1).map(() => 1)],
      );
      return tf.sum(tf.mul(hist, hot), 0);
    });
  }

  /**
   * The value `time` ms back from the latest write, interpolated between stored slots
   * ('linear', 'nearest' or the custom function given to the constructor).
   */
  retrieveAtTime(time: number): tf.Tensor {
    if (typeof time !== 'number' || !Number.isFinite(time) || time < 0) {
      throw new ArgumentError(
        `${this.describe()}.retrieveAtTime: the delay must be a non-negative time in ms, got ${describeValue(time)}`,
      );
    }
    const ratio = time / this.slotDt;
    const r = Math.round(ratio);
    const floatSteps = Math.abs(ratio - r) <= 1e-6 * Math.max(1, ratio) ? r : ratio;
    const L = this.maxLength;
    if (floatSteps > L - 1) {
      throw new ArgumentError(
        `${this.describe()}.retrieveAtTime: a delay of ${time} ms (${floatSteps} steps) exceeds the buffer (max ${(L - 1) * this.slotDt} ms)`,
      );
    }
    const interp = this.#interpolation;
    if (typeof interp === 'function') {
      return interp((k) => this.retrieveAtStep(k), floatSteps, L);
    }
    if (Number.isInteger(floatSteps)) return this.retrieveAtStep(floatSteps);
    if (interp === 'nearest') return this.retrieveAtStep(Math.min(L - 1, Math.round(floatSteps)));
    const lo = Math.floor(floatSteps);
    const w = floatSteps - lo;
    return tf.tidy(() => {
      const a = this.retrieveAtStep(lo);
      const b = this.retrieveAtStep(lo + 1);
      const af = a.dtype === 'float32' ? a : tf.cast(a, 'float32');
      const bf = b.dtype === 'float32' ? b : tf.cast(b, 'float32');
      return tf.add(tf.mul(af, 1 - w), tf.mul(bf, w));
    });
  }

  /** `Delay(name='d')` or `Delay`, for messages. */
  describe(): string {
    return this.name != null
      ? `${this.constructor.name}(name='${this.name}')`
      : this.constructor.name;
  }
}

function checkInit(init: unknown, owner: string): DelayInit {
  if (
    init === null ||
    typeof init === 'number' ||
    init instanceof tf.Tensor ||
    typeof init === 'function' ||
    isInitializer(init)
  ) {
    return init as DelayInit;
  }
  throw new ArgumentError(
    `${owner}: init must be null, a number, a tensor, an initializer or a function (shape, dtype) => tensor, got ${describeValue(init)}`,
  );
}

function checkInterpolation(
  m: unknown,
  owner: string,
): 'linear' | 'nearest' | InterpolationFunction {
  if (typeof m === 'function') return m as InterpolationFunction;
  if (typeof m !== 'string') {
    throw new ArgumentError(
      `${owner}: interpolation must be a method name or a function, got ${describeValue(m)}`,
    );
  }
  const method = INTERPOLATIONS[m];
  if (method === undefined) {
    throw new ArgumentError(
      `${owner}: unknown interpolation '${m}'; known: ${Object.keys(INTERPOLATIONS).join(', ')} (or a function)`,
    );
  }
  return method;
}

function makeFill(init: DelayInit, shape: number[], dtype: tf.DataType, owner: string): tf.Tensor {
  return tf.tidy(() => {
    let v: tf.Tensor;
    if (init === null) v = tf.zeros(shape, dtype);
    else if (typeof init === 'number') v = tf.fill(shape, init, dtype);
    else if (init instanceof tf.Tensor) v = tf.clone(init);
    else if (typeof init === 'function') v = init(shape, dtype);
    else v = init.call(shape, { dtype });
    if (!(v instanceof tf.Tensor)) {
      throw new ArgumentError(`${owner}: init returned ${describeValue(v)}, not a tensor`);
    }
    try {
      if (!shapesEqual(v.shape, shape)) v = tf.broadcastTo(v, shape);
    } catch {
      throw new ArgumentError(
        `${owner}: init of shape [${v.shape.join(',')}] does not broadcast to the history [${shape.join(',')}]`,
      );
    }
    return v.dtype === dtype ? v : tf.cast(v, dtype);
  });
}

/** A module whose call gives a delay entry's value (`delay.access(name)`). */
export class DelayAccess extends Module {
  static override graphInvisibleAttrs: readonly string[] = ['delay'];
  readonly delay: Delay;
  readonly entry: string;
  constructor(delay: Delay, entry: string) {
    super();
    this.delay = delay;
    this.entry = entry;
  }
  override update(): tf.Tensor {
    return this.delay.at(this.entry);
  }
}

/** Any module attribute: a State (its value is read), a tensor or a number. */
function readItem(module: Module, item: string, owner: string): tf.Tensor | number {
  const rec = module as unknown as Record<string, unknown>;
  if (!(item in rec)) {
    throw new KeyNotFoundError(
      `${owner}: ${module.constructor.name}${module.name != null ? `(name='${module.name}')` : ''} has no attribute '${item}'`,
    );
  }
  const v = rec[item];
  if (v instanceof State) return v.value as tf.Tensor;
  if (v instanceof tf.Tensor || typeof v === 'number') return v;
  throw new ArgumentError(
    `${owner}: attribute '${item}' is ${describeValue(v)}, not a State, a tensor or a number (was initState called?)`,
  );
}

function moduleLabel(m: Module): string {
  return m.name != null ? `${m.constructor.name}(name='${m.name}')` : m.constructor.name;
}

/**
 * A Delay following a state of another module: its history copies the shape (batch axis
 * included) and dtype of `target[item].value` at initState, and `update()` pushes that state's
 * current value. After step n, `at(d steps)` is the value from the end of step n − d.
 */
export class StateWithDelay extends Delay {
  static override graphInvisibleAttrs: readonly string[] = ['target'];
  readonly target: Module;
  readonly item: string;

  constructor(
    target: Module,
    item: string,
    options: Omit<DelayOptions, 'interpolation'> & {
      interpolation?: DelayOptions['interpolation'];
    } = {},
  ) {
    super(null, { interpolation: 'nearest', ...options });
    if (!(target instanceof Module)) {
      throw new ArgumentError(
        `StateWithDelay: target must be a Module, got ${describeValue(target)}`,
      );
    }
    if (typeof item !== 'string' || item === '') {
      throw new ArgumentError(
        `StateWithDelay: item must be an attribute name, got ${describeValue(item)}`,
      );
    }
    this.target = target;
    this.item = item;
  }

  #state(): State<tf.Tensor> {
    const v = (this.target as unknown as Record<string, unknown>)[this.item];
    if (!(v instanceof State) || !(v.rawValue instanceof tf.Tensor)) {
      throw new ArgumentError(
        `${this.describe()}: ${moduleLabel(this.target)}.${this.item} must be a State holding a tensor, got ${describeValue(v)} (was its initState called?)`,
      );
    }
    return v as State<tf.Tensor>;
  }

  protected override sampleShape(): number[] {
    return [...this.#state().shape];
  }

  protected override sampleDtype(): tf.DataType {
    return this.#state().dtype;
  }

  /** Push the followed state's current value. */
  override update(): tf.Tensor {
    const v = this.#state().value;
    this.write(v);
    return v;
  }

  override describe(): string {
    const t = (this as { target?: Module }).target;
    return t === undefined
      ? 'StateWithDelay'
      : `StateWithDelay('${this.item}' of ${moduleLabel(t)})`;
  }
}

/** `module.prefetch(item)`: a module whose call returns `module[item]` (a state's value) at call time. */
export class Prefetch extends Module {
  static override graphInvisibleAttrs: readonly string[] = ['module'];
  readonly module: Dynamics;
  readonly item: string;
  constructor(module: Dynamics, item: string) {
    super();
    this.module = module;
    this.item = item;
  }
  override update(): tf.Tensor | number {
    return readItem(this.module, this.item, `Prefetch('${this.item}')`);
  }
  /** `prefetch.delay.at(time)`: the same item through a delay (see Dynamics.prefetchDelay). */
  get delay(): { at(time: DelayTime): PrefetchDelayAt } {
    return { at: (time: DelayTime) => this.module.prefetchDelay(this.item, time) };
  }
}

/** The value of `module[item]` `time` back, read from the module's StateWithDelay. */
export class PrefetchDelayAt extends Module {
  static override graphInvisibleAttrs: readonly string[] = ['module', 'delay'];
  readonly module: Dynamics;
  readonly item: string;
  readonly delay: StateWithDelay | null;
  readonly entry: string | null;
  constructor(module: Dynamics, item: string, delay: StateWithDelay | null, entry: string | null) {
    super();
    this.module = module;
    this.item = item;
    this.delay = delay;
    this.entry = entry;
  }
  override update(): tf.Tensor | number {
    if (this.delay === null || this.entry === null) {
      return readItem(this.module, this.item, `PrefetchDelayAt('${this.item}')`);
    }
    return this.delay.at(this.entry);
  }
}

/** The module's output `time` back, read from its output Delay (Dynamics.outputDelay). */
export class OutputDelayAt extends Module {
  static override graphInvisibleAttrs: readonly string[] = ['module', 'delay'];
  readonly module: Dynamics;
  readonly delay: Delay;
  readonly entry: string;
  constructor(module: Dynamics, delay: Delay, entry: string) {
    super();
    this.module = module;
    this.delay = delay;
    this.entry = entry;
  }
  override update(): tf.Tensor {
    return this.delay.at(this.entry);
  }
}

/** The entry name used for a delay: `'1 ms'`, `'2 steps'` or `'latest'`. */
export function delayEntryName(time: DelayTime): string {
  if (time === null) return 'latest';
  if (typeof time === 'number') return `${time} ms`;
  return `${time.steps} steps`;
}
