/**
 * Synapse: the base of the synaptic dynamics (spec §5.5). A synapse is a Dynamics whose states
 * are HiddenStates `[batch?, ...varshape]` created by `initState({ batchSize })`, whose
 * `update(x?)` advances them by one step of `environ.dt` and returns the synaptic output.
 * Synapses marked `alignPost` are linear in their input (a jump added to a conductance), so
 * an align-post projection may add post-sized increments to them as delta inputs and several
 * projections may share one of them (spec §5.7).
 *
 * This file also holds the small helpers the synapse models share: checked time constants, the
 * exact decay factor exp(−dt/τ) cached per dt, and the creation of initial state values.
 */
import { tf } from '../../backend/tf';
import { ArgumentError, NotImplementedError, StateError, describeValue } from '../../errors';
import type { Size } from '../../graph';
import {
  isInitializer,
  param,
  type InitFunction,
  type Initializer,
  type NumberArray,
} from '../../init';
import { HiddenState } from '../../state';
import { Dynamics } from '../dynamics';

/** The initial value of a state: a number, a tensor or nested array broadcastable to the state, an initializer, or a function of the shape (the same union as the neurons' StateInit). */
export type StateInit = number | tf.Tensor | NumberArray | Initializer | InitFunction;

/** What a synapse's `update` accepts as a direct input: spikes or increments, `[batch?, ...varshape]` or broadcastable. */
export type SynapseInput = tf.Tensor | number;

/** Base class of synapse models. */
export class Synapse extends Dynamics {
  /**
   * True for synapses an align-post projection can drive: the input enters linearly as a jump of
   * the state(s), so the projection's post-sized increments can be queued as delta inputs and
   * summed over projections (Expon, Alpha, DualExpon). False for presynaptic or nonlinear ones.
   */
  static readonly alignPost: boolean = false;

  constructor(size: Size, name?: string) {
    super(size, name);
  }

  /** One step: advance the states and return the output. Subclasses override it. */
  override update(x?: SynapseInput): tf.Tensor {
    void x;
    throw new NotImplementedError(
      `${this.describe()}.update() is not implemented: a Synapse subclass must override it`,
    );
  }

  /** The state, or a StateError telling to initialise the model first. */
  protected need(state: HiddenState | undefined, what: string): HiddenState {
    if (state === undefined) {
      throw new StateError(
        `${this.describe()}: state '${what}' does not exist yet; call initAllStates(model, { batchSize }) (or initState) before stepping`,
      );
    }
    return state;
  }

  /**
   * The HiddenState `[batch?, ...varshape]` holding the initial value described by `init`: the
   * existing state re-initialised (same identity, old tensor freed) or, the first time, a new one.
   */
  protected makeHidden(
    current: HiddenState | undefined,
    init: StateInit,
    batchSize: number | undefined,
    what: string,
  ): HiddenState {
    const v = initialValue(
      init,
      this.stateShape(batchSize),
      batchSize,
      `${this.describe()}.${what}`,
    );
    if (current instanceof HiddenState) {
      current.reinitialize(v);
      return current;
    }
    return new HiddenState(v, { name: what });
  }

  /** Give `state` its initial value again (shape may change with the batch size). */
  protected resetHidden(
    state: HiddenState | undefined,
    init: StateInit,
    batchSize: number | undefined,
    what: string,
  ): void {
    if (state === undefined) return;
    const v = initialValue(
      init,
      this.stateShape(batchSize),
      batchSize,
      `${this.describe()}.${what}`,
    );
    state.reinitialize(v);
  }
}

/** True if `cls` is a synapse class an align-post projection can drive. */
export function isAlignPostClass(cls: unknown): boolean {
  return (
    typeof cls === 'function' &&
    (cls === Synapse || (cls as { prototype: unknown }).prototype instanceof Synapse) &&
    (cls as typeof Synapse).alignPost
  );
}

/** The float32 tensor of `shape` an initial-value spec describes (a new tensor the caller owns). */
export function initialValue(
  init: StateInit,
  shape: number[],
  batchSize: number | undefined,
  where: string,
): tf.Tensor {
  if (typeof init === 'number') {
    if (!Number.isFinite(init))
      throw new ArgumentError(`${where}: the initial value must be finite, got ${init}`);
    return tf.fill(shape, init, 'float32');
  }
  if (
    !(init instanceof tf.Tensor) &&
    !Array.isArray(init) &&
    !isInitializer(init) &&
    typeof init !== 'function'
  ) {
    throw new ArgumentError(
      `${where}: the initializer must be a number, a tensor, a number array, an Initializer or a function of the shape, got ${describeValue(init)}`,
    );
  }
  const varshape = batchSize === undefined ? shape : shape.slice(1);
  const v = param(init, varshape, { batchSize: batchSize ?? null });
  const out = tf.tidy(() => {
    const full = sameShape(v.shape, shape) ? v : tf.broadcastTo(v, shape);
    const f = full.dtype === 'float32' ? full : tf.cast(full, 'float32');
    // a tensor the user passed comes back from param() unchanged: copy it so the state owns its own
    return f === init ? tf.clone(f) : f;
  });
  if (v !== out && v !== init) v.dispose();
  return out;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** Check a positive finite parameter (`unit` names its unit in the message, e.g. 'ms'). */
export function positive(value: unknown, what: string, where: string, unit = 'ms'): number {
  if (typeof value !== 'number' || !(value > 0) || !Number.isFinite(value)) {
    throw new ArgumentError(
      `${where}: ${what} must be a positive number (${unit}), got ${describeValue(value)}`,
    );
  }
  return value;
}

/** Check a finite number parameter. */
export function finiteNumber(value: unknown, what: string, where: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new ArgumentError(
      `${where}: ${what} must be a finite number, got ${describeValue(value)}`,
    );
  }
  return value;
}

/** exp(−dt/τ) for a fixed τ, recomputed only when dt changes (the exact decay of dx/dt = −x/τ over one step). */
export class DecayFactor {
  #dt = Number.NaN;
  #value = 1;
  constructor(readonly tau: number) {}
  /** The factor for time step `dt` (ms). */
  at(dt: number): number {
    if (dt !== this.#dt) {
      this.#dt = dt;
      this.#value = Math.exp(-dt / this.tau);
    }
    return this.#value;
  }
}

/** A spike input as float32 (booleans and ints are cast; floats are returned as is). */
export function asFloat(x: SynapseInput): tf.Tensor | number {
  if (typeof x === 'number') return x;
  return x.dtype === 'float32' ? x : tf.cast(x, 'float32');
}

/** True if the module has any current input registered. */
export function hasInputs(reg: Record<string, unknown>): boolean {
  for (const _ in reg) return true;
  return false;
}
