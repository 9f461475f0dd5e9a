/**
 * The `Neuron` base class (spec §5.4) and what every neuron model shares: the surrogate spike
 * function, soft/hard reset, the `spike` state, parameter checking and state initialisation.
 *
 * Step order (all models): integrate the step from the old state with the inputs frozen over the
 * step, add the delta inputs, threshold, reset in the same step, store, and emit the spike. This
 * is Brian2's / NEST's order (the COBA reference rates come from Brian2). brainstate instead
 * stores the un-reset V and resets "at the start of the next step"; the spike trains are the
 * same, but here the stored V never sits above threshold, and the spikes of the last step are
 * kept in the `spike` state: `getSpike()` returns them (for recurrent connections and monitors),
 * `getSpike(V)` applies the spike function to any V.
 *
 * Delta inputs (jumps, e.g. from a DeltaProj) are added before the threshold, as in brainstate,
 * so a jump that crosses threshold fires in the same step. Current inputs are called with the
 * stored V of the step's start (a COBA output computes g·(E − V) with it).
 *
 * Reset (`spkReset`): 'soft' subtracts (V_th − V_reset)·spike, keeping the overshoot;
 * 'hard' subtracts (stopGradient(V) − V_reset)·spike, landing exactly on V_reset with no gradient
 * through the size of the reset. Either way the gradient reaches the spike through the surrogate.
 *
 * Parameters given as numbers stay JS numbers (no kernels); tensors are used as given (the caller
 * keeps ownership); nested arrays and initializers become tensors the neuron keeps.
 */
import { tf } from '../../backend/tf';
import * as environ from '../../environ';
import { ArgumentError, KeyNotFoundError, NotImplementedError, describeValue } from '../../errors';
import type { Size } from '../../graph';
import {
  param as initParam,
  type InitFunction,
  type Initializer,
  type NumberArray,
} from '../../init';
import { HiddenState, ShortTermState, State } from '../../state';
import { InvSquareGrad, Surrogate, stopGradient } from '../../surrogate';
import { Dynamics } from '../dynamics';
import { add, mul, select, sub, type Num } from './nmath';

/** How a spike resets the membrane: subtract the threshold distance ('soft') or land on V_reset ('hard'). */
export type SpikeReset = 'soft' | 'hard';

/** A spike function: a surrogate (Heaviside forward, surrogate gradient backward) or any x ↦ spike. */
export type SpikeFunction = Surrogate | ((x: tf.Tensor) => tf.Tensor);

/** A model parameter: a number (the whole group), a tensor or nested array (broadcast to the group's shape), or an initializer. */
export type ParamValue = number | tf.Tensor | NumberArray | Initializer;

/** The initial value of a state: a number, a tensor broadcast to the state, an initializer or `(shape) => tensor`. */
export type StateInit = number | tf.Tensor | NumberArray | Initializer | InitFunction;

/** Options every neuron accepts. */
export interface NeuronOptions {
  /** The spike function (default: the model's; `InvSquareGrad()` in the base). */
  spkFun?: SpikeFunction;
  /** 'soft' (default) or 'hard' reset. */
  spkReset?: SpikeReset;
  /** A name for messages. */
  name?: string;
}

/** Rules a parameter is checked against at construction. */
export type ParamRule = 'positive' | 'nonNegative' | 'finite';

const RULE_TEXT: Record<ParamRule, string> = {
  positive: '> 0',
  nonNegative: '≥ 0',
  finite: 'finite',
};

function passes(rule: ParamRule, v: number): boolean {
  if (!Number.isFinite(v)) return false;
  return rule === 'positive' ? v > 0 : rule === 'nonNegative' ? v >= 0 : true;
}

/** Base class of spiking neuron groups. Subclasses define their states, `scaledV` and `update`. */
export abstract class Neuron extends Dynamics {
  /** The spike function applied to the scaled membrane potential. */
  readonly spkFun: SpikeFunction;
  /** 'soft' or 'hard' reset. */
  readonly spkReset: SpikeReset;
  /** The spikes emitted at the last step (float32 0/1, shape [batch?, ...varshape]). */
  spike!: ShortTermState;

  constructor(inSize: Size, options: NeuronOptions = {}, defaultSpkFun?: SpikeFunction) {
    super(inSize, options.name);
    const spkFun = options.spkFun ?? defaultSpkFun ?? new InvSquareGrad();
    if (!(spkFun instanceof Surrogate) && typeof spkFun !== 'function') {
      throw new ArgumentError(
        `${this.describe()}: spkFun must be a surrogate (e.g. new surrogate.ReluGrad()) or a function, got ${describeValue(spkFun)}`,
      );
    }
    const reset = options.spkReset ?? 'soft';
    if (reset !== 'soft' && reset !== 'hard') {
      throw new ArgumentError(
        `${this.describe()}: spkReset must be 'soft' or 'hard', got ${describeValue(reset)}`,
      );
    }
    this.spkFun = spkFun;
    this.spkReset = reset;
  }

  /** The number of neurons (product of varshape), for sizing connections. */
  get size(): number {
    return this.numel;
  }

  /**
   * Without V: the spikes emitted at the last step (the `spike` state). With V: the spike
   * function of V scaled by the model (`scaledV`), e.g. H((V − V_th)/(V_th − V_reset)).
   */
  getSpike(V?: tf.Tensor): tf.Tensor {
    if (V === undefined) {
      if (!(this.spike instanceof State)) {
        throw new KeyNotFoundError(
          `${this.describe()}.getSpike: no spike state yet; call initAllStates first`,
        );
      }
      return this.spike.value;
    }
    return this.fire(this.scaledV(V));
  }

  /** The argument of the spike function for membrane potential V (≥ 0 means a spike). */
  protected scaledV(V: tf.Tensor): tf.Tensor {
    void V;
    throw new NotImplementedError(
      `${this.describe()}.getSpike(V) is not implemented: a Neuron subclass must define scaledV(V)`,
    );
  }

  /** Apply the spike function. */
  protected fire(x: tf.Tensor): tf.Tensor {
    const f = this.spkFun;
    return f instanceof Surrogate ? f.call(x) : f(x);
  }

  /** One step; returns the spikes. */
  abstract override update(x?: tf.Tensor | number): tf.Tensor;

  // ---- helpers for subclasses ---------------------------------------------------------------

  /** Check and resolve a parameter (a number stays a number; others become a float32 tensor). */
  protected param(name: string, value: ParamValue | undefined, rule: ParamRule): Num {
    const owner = this.describe();
    if (value === undefined || value === null) {
      throw new ArgumentError(
        `${owner}: parameter ${name} is required, got ${describeValue(value)}`,
      );
    }
    if (typeof value === 'number') {
      if (!passes(rule, value)) {
        throw new ArgumentError(
          `${owner}: parameter ${name} must be ${RULE_TEXT[rule]}, got ${value}`,
        );
      }
      return value;
    }
    let t: tf.Tensor;
    try {
      t = initParam(value, this.varshape, { allowNone: false }) as tf.Tensor;
    } catch (e) {
      throw new ArgumentError(`${owner}: parameter ${name}: ${(e as Error).message}`);
    }
    if (!(t instanceof tf.Tensor)) {
      throw new ArgumentError(
        `${owner}: parameter ${name} must be a number, a tensor or an initializer, got ${describeValue(value)}`,
      );
    }
    if (t.dtype !== 'float32') t = tf.cast(t, 'float32');
    const bad = Array.from(t.dataSync()).find((v) => !passes(rule, v));
    if (bad !== undefined) {
      throw new ArgumentError(
        `${owner}: parameter ${name} must be ${RULE_TEXT[rule]} everywhere, got ${bad}`,
      );
    }
    if (t !== value) tf.keep(t);
    return t;
  }

  /** The initial value of a state from its initializer, as a float32 tensor of stateShape(batchSize) (a new tensor). */
  protected initialValue(name: string, init: StateInit, batchSize?: number): tf.Tensor {
    const shape = this.stateShape(batchSize);
    return tf.tidy(() => {
      if (typeof init === 'number') return tf.fill(shape, init, 'float32');
      let v: unknown;
      try {
        v = initParam(init, this.varshape, { batchSize: batchSize ?? null, allowNone: false });
      } catch (e) {
        throw new ArgumentError(`${this.describe()}: ${name}_initializer: ${(e as Error).message}`);
      }
      if (typeof v === 'number') return tf.fill(shape, v, 'float32');
      if (!(v instanceof tf.Tensor)) {
        throw new ArgumentError(
          `${this.describe()}: ${name}_initializer gave ${describeValue(v)}, not a tensor`,
        );
      }
      let t = v.dtype === 'float32' ? v : tf.cast(v, 'float32');
      if (t.shape.join(',') !== shape.join(',')) {
        try {
          t = tf.broadcastTo(t, shape);
        } catch {
          throw new ArgumentError(
            `${this.describe()}: ${name}_initializer gave shape [${t.shape.join(',')}], expected [${shape.join(',')}]`,
          );
        }
      }
      // Never hand the caller's own tensor to a state (the state would dispose it later).
      return t === init ? tf.clone(t) : t;
    });
  }

  /** Create a hidden state, or re-initialise the existing one (same object, new value). */
  protected hiddenState(
    current: HiddenState | undefined,
    name: string,
    value: tf.Tensor,
  ): HiddenState {
    if (current instanceof HiddenState) {
      current.reinitialize(value);
      return current;
    }
    return new HiddenState(value, { name });
  }

  /** Create (or re-initialise) a short-term state. */
  protected shortTermState(
    current: ShortTermState | undefined,
    name: string,
    value: tf.Tensor,
  ): ShortTermState {
    if (current instanceof ShortTermState) {
      current.reinitialize(value);
      return current;
    }
    return new ShortTermState(value, { name });
  }

  /** Create (or zero) the `spike` state. */
  protected initSpike(batchSize?: number): void {
    this.spike = this.shortTermState(this.spike, 'spike', tf.zeros(this.stateShape(batchSize)));
  }

  /** The input current: `x` plus the current inputs called with `args` (a number when there are none and x is one). */
  protected inputCurrent(x: tf.Tensor | number, args: unknown[]): Num {
    if (typeof x !== 'number' && !(x instanceof tf.Tensor)) {
      throw new ArgumentError(
        `${this.describe()}.update: the input must be a tensor or a number, got ${describeValue(x)}`,
      );
    }
    if (Object.keys(this.currentInputs).length === 0) return x;
    return this.sumCurrentInputs(x, args);
  }

  /** V plus the delta inputs (skipped when there are none). */
  protected withDeltaInputs(V: tf.Tensor): tf.Tensor {
    return Object.keys(this.deltaInputs).length === 0 ? V : this.sumDeltaInputs(V);
  }

  /** The reset: V − (V_th − V_reset)·spike ('soft') or V − (stopGradient(V) − V_reset)·spike ('hard'). */
  protected resetV(V: tf.Tensor, spike: tf.Tensor, V_th: Num, V_reset: Num): tf.Tensor {
    const top = this.spkReset === 'soft' ? V_th : stopGradient(V);
    return sub(V, mul(sub(top, V_reset), spike)) as tf.Tensor;
  }

  /** The current time (ms) from environ, for refractoriness. */
  protected currentTime(): tf.Tensor {
    try {
      return environ.scalar(environ.T);
    } catch (e) {
      throw new KeyNotFoundError(
        `${this.describe()}: refractoriness needs the current time: ${(e as Error).message}`,
      );
    }
  }
}

/**
 * Refractoriness shared by the models with τ_ref: a `lastSpikeTime` state (ms, initially −1e7)
 * and the rule "refractory while t − lastSpikeTime < τ_ref", evaluated in whole steps as Brian2
 * does: after a spike at step n the neuron is clamped during steps n+1 … n+⌊τ_ref/dt⌋−1 and
 * integrates again from step n+⌊τ_ref/dt⌋ (integration over [t_spike + τ_ref, …]).
 */
export const NEVER_SPIKED = -1e7;

/**
 * The refractory test `lastSpikeTime ≥ t − (⌊τ_ref/dt⌋·dt − dt/2)` (the half step makes it robust
 * to float error in t; greaterEqual because tfjs has a gradient for it, needed under BPTT).
 */
export function refractoryMask(
  lastSpikeTime: tf.Tensor,
  t: tf.Tensor | number,
  tau_ref: Num,
  dt: number,
): tf.Tensor {
  if (typeof tau_ref === 'number') {
    const window = Math.floor(tau_ref / dt + 1e-3) * dt - dt / 2;
    return tf.greaterEqual(lastSpikeTime, typeof t === 'number' ? t - window : tf.sub(t, window));
  }
  const window = tf.sub(tf.mul(tf.floor(tf.add(tf.div(tau_ref, dt), 1e-3)), dt), dt / 2);
  return tf.greaterEqual(lastSpikeTime, tf.sub(t, window));
}

/** `spike ? t : lastSpikeTime` (float32, with no gradient). */
export function nextLastSpikeTime(
  lastSpikeTime: tf.Tensor,
  spike: tf.Tensor,
  t: tf.Tensor | number,
): tf.Tensor {
  const fired = tf.cast(spike, 'bool');
  const now =
    typeof t === 'number'
      ? tf.fill(lastSpikeTime.shape, t, 'float32')
      : tf.broadcastTo(t, lastSpikeTime.shape);
  return select(fired, now, lastSpikeTime);
}

/** `refractory ? held : V`: a refractory neuron keeps its stored (post-reset) potential. */
export function holdRefractory(refractory: tf.Tensor, held: tf.Tensor, V: tf.Tensor): tf.Tensor {
  return select(refractory, held, V);
}

/** Spikes forced to 0 where `refractory` (only needed for soft reset, whose held V can stay above threshold). */
export function maskSpikes(refractory: tf.Tensor, spike: tf.Tensor): tf.Tensor {
  return select(refractory, tf.zerosLike(spike), spike);
}

/** e^{−dt/τ} and the exact-integration weights of a linear leak: x' = x·e + (1 − e)·x∞. */
export function decay(tau: Num, dt: number): Num {
  return typeof tau === 'number' ? Math.exp(-dt / tau) : tf.exp(tf.div(-dt, tau));
}

/** `x·e + (1 − e)·target`, the exact step of τ dx/dt = −x + target with `target` frozen over the step. */
export function relax(x: tf.Tensor, e: Num, target: Num): tf.Tensor {
  return add(mul(x, e), mul(target, sub(1, e))) as tf.Tensor;
}
