/**
 * Dynamics: the base of every brain-dynamics module (spec §5.1). It adds to Module
 * - a variable shape (`varshape`, = inSize) with states created as [batch?, ...varshape];
 * - before/after-update hooks run around `update` by `call` (delays, align-post synapses);
 * - the input protocol: current inputs (summed into the membrane equation; callables such as
 *   synaptic outputs stay registered, values are consumed once) and delta inputs (jumps added
 *   after integration), keyed by name with an optional label. A tensor given as an input is
 *   owned by the module until it is consumed (it survives tidy scopes in between, e.g. a
 *   projection queueing a jump in one step function and the neuron consuming it in another),
 *   then released (freed unless a transform or tape still needs it).
 * The registries are plain objects, so hooks and inputs that are modules are part of the graph
 * (found by initAllStates, shown in paths like `beforeUpdates.<key>`).
 */
import { tf } from '../backend/tf';
import { ArgumentError, KeyNotFoundError } from '../errors';
import { Module, type Size } from '../graph';
import {
  Delay,
  OutputDelayAt,
  Prefetch,
  PrefetchDelayAt,
  StateWithDelay,
  delayEntryName,
  type DelayOptions,
  type DelayTime,
} from './delay';
import { acquire, release } from '../state';

/** Something callable as a hook or input: a function, or a Module (its `call`). */
export type Callable = ((...args: never[]) => unknown) | Module;

/** An input: a tensor (or number) consumed once, or a callable evaluated every step. */
export type InputValue = tf.Tensor | number | Callable;

/** Hook flags (spec §5.1): a before-update hook that takes the update's arguments, an after-update hook that takes no output. */
export const RECEIVE_UPDATE_INPUT = Symbol('brainstate.receiveUpdateInput');
export const NOT_RECEIVE_UPDATE_OUTPUT = Symbol('brainstate.notReceiveUpdateOutput');

/** Mark a before-update hook as receiving the update's arguments. */
export function receiveUpdateInput<T extends object>(hook: T): T {
  (hook as Record<symbol, boolean>)[RECEIVE_UPDATE_INPUT] = true;
  return hook;
}
/** Mark an after-update hook as not receiving the update's output. */
export function notReceiveUpdateOutput<T extends object>(hook: T): T {
  (hook as Record<symbol, boolean>)[NOT_RECEIVE_UPDATE_OUTPUT] = true;
  return hook;
}

function invoke(fn: Callable, args: unknown[]): unknown {
  return fn instanceof Module ? fn.call(...args) : (fn as (...a: unknown[]) => unknown)(...args);
}

function flag(hook: Callable, key: symbol): boolean {
  return (hook as unknown as Record<symbol, boolean>)[key] === true;
}

function isCallable(x: unknown): x is Callable {
  return typeof x === 'function' || x instanceof Module;
}

/** Base class of neurons, synapses, delays and other stepped modules. */
export class Dynamics extends Module {
  /** Hooks run before `update`, in insertion order. */
  beforeUpdates: Record<string, Callable> = {};
  /** Hooks run after `update`, in insertion order. */
  afterUpdates: Record<string, Callable> = {};
  /** Current inputs: summed into the membrane (or conductance) equation each step. */
  currentInputs: Record<string, InputValue> = {};
  /** Delta inputs: jumps added after integration. */
  deltaInputs: Record<string, InputValue> = {};

  constructor(inSize: Size, name?: string) {
    super(name);
    this.inSize = inSize;
    this.outSize = inSize;
  }

  /** The shape of one sample of the variables (= inSize). */
  get varshape(): number[] {
    return [...this.inSize!];
  }

  /** The number of elements of one sample (product of varshape). */
  get numel(): number {
    return this.varshape.reduce((a, b) => a * b, 1);
  }

  /** The shape of a state for `batchSize` samples: [batch?, ...varshape]. */
  stateShape(batchSize?: number): number[] {
    return batchSize === undefined ? this.varshape : [batchSize, ...this.varshape];
  }

  // ---- hooks --------------------------------------------------------------------------------

  addBeforeUpdate(key: string, hook: Callable): void {
    this.addHook(this.beforeUpdates, 'before', key, hook);
  }
  addAfterUpdate(key: string, hook: Callable): void {
    this.addHook(this.afterUpdates, 'after', key, hook);
  }
  hasBeforeUpdate(key: string): boolean {
    return key in this.beforeUpdates;
  }
  hasAfterUpdate(key: string): boolean {
    return key in this.afterUpdates;
  }
  getBeforeUpdate(key: string): Callable {
    return this.getHook(this.beforeUpdates, 'before', key);
  }
  getAfterUpdate(key: string): Callable {
    return this.getHook(this.afterUpdates, 'after', key);
  }

  private addHook(reg: Record<string, Callable>, kind: string, key: string, hook: Callable): void {
    if (key in reg) {
      throw new ArgumentError(
        `${this.describe()}: a ${kind}-update hook '${key}' has been registered already`,
      );
    }
    if (!isCallable(hook)) {
      throw new ArgumentError(
        `${this.describe()}: ${kind}-update hook '${key}' must be a function or a Module`,
      );
    }
    reg[key] = hook;
  }
  private getHook(reg: Record<string, Callable>, kind: string, key: string): Callable {
    if (!(key in reg)) {
      throw new KeyNotFoundError(
        `${this.describe()}: no ${kind}-update hook '${key}'; registered: ${Object.keys(reg).join(', ') || 'none'}`,
      );
    }
    return reg[key];
  }

  /** Before-updates, then `update(...args)`, then after-updates (spec §5.1). */
  override call<M extends Module>(
    this: M,
    ...args: Parameters<M['update']>
  ): ReturnType<M['update']> {
    const self = this as unknown as Dynamics;
    for (const hook of Object.values(self.beforeUpdates)) {
      invoke(hook, flag(hook, RECEIVE_UPDATE_INPUT) ? args : []);
    }
    const ret = (this.update as (...a: unknown[]) => unknown).apply(this, args);
    for (const hook of Object.values(self.afterUpdates)) {
      invoke(hook, flag(hook, NOT_RECEIVE_UPDATE_OUTPUT) ? [] : [ret]);
    }
    return ret as ReturnType<M['update']>;
  }

  // ---- inputs -------------------------------------------------------------------------------

  /** Register a current input (a callable stays; a value is consumed by the next sum). */
  addCurrentInput(key: string, input: InputValue, label?: string): void {
    this.addInput(this.currentInputs, 'current', key, input, label);
  }
  /** Register a delta input (a jump added after integration). */
  addDeltaInput(key: string, input: InputValue, label?: string): void {
    this.addInput(this.deltaInputs, 'delta', key, input, label);
  }

  private addInput(
    reg: Record<string, InputValue>,
    kind: string,
    key: string,
    input: InputValue,
    label?: string,
  ): void {
    const k = label != null ? `${label} // ${key}` : key;
    if (k in reg && reg[k] !== input) {
      if (isCallable(reg[k]) || isCallable(input)) {
        throw new ArgumentError(
          `${this.describe()}: ${kind} input '${k}' is registered already with another object`,
        );
      }
      // two values under one key within a step accumulate (several projections queueing jumps)
      const prev = reg[k] as tf.Tensor | number;
      const sum = tf.add(prev, input as tf.Tensor | number);
      acquire(sum);
      if (prev instanceof tf.Tensor) release(prev);
      if (input instanceof tf.Tensor) release(input);
      reg[k] = sum;
      return;
    }
    if (input instanceof tf.Tensor && !(k in reg)) acquire(input);
    reg[k] = input;
  }

  /** A registered input by key (current inputs first, then delta inputs). */
  getInput(key: string): InputValue {
    if (key in this.currentInputs) return this.currentInputs[key];
    if (key in this.deltaInputs) return this.deltaInputs[key];
    throw new KeyNotFoundError(`${this.describe()}: no input '${key}'`);
  }

  /** `init` plus every current input: callables get `args` and stay; values are consumed. */
  sumCurrentInputs(init: tf.Tensor | number, args: unknown[] = [], label?: string): tf.Tensor {
    return this.sumInputs(this.currentInputs, 'current', init, args, label);
  }
  /** `init` plus every delta input (same rules). */
  sumDeltaInputs(init: tf.Tensor | number, args: unknown[] = [], label?: string): tf.Tensor {
    return this.sumInputs(this.deltaInputs, 'delta', init, args, label);
  }

  private sumInputs(
    reg: Record<string, InputValue>,
    kind: string,
    init: tf.Tensor | number,
    args: unknown[],
    label?: string,
  ): tf.Tensor {
    let total: tf.Tensor = typeof init === 'number' ? tf.scalar(init) : init;
    const prefix = label != null ? `${label} // ` : null;
    for (const key of Object.keys(reg)) {
      if (prefix !== null && !key.startsWith(prefix)) continue;
      const v = reg[key];
      let add: unknown;
      try {
        add = isCallable(v) ? invoke(v, args) : v;
      } catch (e) {
        throw new ArgumentError(
          `${this.describe()}: ${kind} input '${key}' failed: ${(e as Error).message}`,
        );
      }
      total = tf.add(total, add as tf.Tensor | number);
      if (!isCallable(v)) {
        delete reg[key];
        if (v instanceof tf.Tensor) release(v);
      }
    }
    return total;
  }

  /** `ClassName 'path'` or `ClassName(name)` for messages. */
  describe(): string {
    return this.name != null
      ? `${this.constructor.name}(name='${this.name}')`
      : this.constructor.name;
  }

  // ---- prefetch and delays (spec §5.1–5.2) --------------------------------------------------

  /** A module whose call returns this module's `item` (a state's value) at call time. */
  prefetch(item: string): Prefetch {
    return new Prefetch(this, item);
  }

  /**
   * The value of state `item` delayed by `time` (ms, `{ steps }`, or null = current value): an
   * accessor whose call gives the delayed value. The first call per (item, updateEvery) registers
   * a StateWithDelay as an after-update hook (key `'{item}-prefetch-delay'`, plus `-{updateEvery}`
   * when given) that pushes the state's value after each step; later calls add entries to it.
   */
  prefetchDelay(
    item: string,
    time: DelayTime = null,
    options: Pick<DelayOptions, 'init' | 'interpolation' | 'updateEvery'> = {},
  ): PrefetchDelayAt {
    const key =
      options.updateEvery == null
        ? `${item}-prefetch-delay`
        : `${item}-prefetch-delay-${options.updateEvery}`;
    let delay: StateWithDelay;
    if (this.hasAfterUpdate(key)) {
      delay = this.getAfterUpdate(key) as StateWithDelay;
    } else {
      delay = new StateWithDelay(this, item, options);
      this.addAfterUpdate(key, notReceiveUpdateOutput(delay));
    }
    if (time === null) return new PrefetchDelayAt(this, item, null, null);
    const entry = delayEntryName(time);
    if (!delay.hasEntry(entry)) delay.registerEntry(entry, time);
    return new PrefetchDelayAt(this, item, delay, entry);
  }

  /**
   * This module's output delayed by `time`: registers (once per updateEvery) a Delay of the
   * output as an after-update that receives it (key `'output-delay'`), and returns an accessor.
   */
  outputDelay(
    time: DelayTime,
    options: Pick<DelayOptions, 'init' | 'updateEvery'> = {},
  ): OutputDelayAt {
    const key =
      options.updateEvery == null ? 'output-delay' : `output-delay-${options.updateEvery}`;
    let delay: Delay;
    if (this.hasAfterUpdate(key)) {
      delay = this.getAfterUpdate(key) as Delay;
    } else {
      delay = new Delay({ shape: this.outSize ?? this.varshape, dtype: 'float32' }, options);
      this.addAfterUpdate(key, delay);
    }
    const entry = delayEntryName(time);
    if (!delay.hasEntry(entry)) delay.registerEntry(entry, time);
    return new OutputDelayAt(this, delay, entry);
  }
}
