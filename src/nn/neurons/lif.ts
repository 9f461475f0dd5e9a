/**
 * Integrate-and-fire neurons with a linear leak (spec §5.4): IF, LIF, LIFRef, ALIF. The leak is
 * integrated exactly with the input current frozen over the step (the exponential-Euler solution
 * of a linear drift, with e = exp(−dt/τ) computed once per step in JS):
 *
 *     V' = V·e + (1 − e)·(V_rest + R·I)
 *
 * which costs four tfjs kernels. Units: ms, mV; R·I in mV (R in Ω with I in mA, or R = 1 and I
 * given directly in mV as in the COBA model). Step order and reset semantics: see ./base.ts.
 */
import { tf } from '../../backend/tf';
import * as environ from '../../environ';
import { ArgumentError } from '../../errors';
import type { InitStateOptions, Size } from '../../graph';
import type { HiddenState, ShortTermState } from '../../state';
import { ReluGrad } from '../../surrogate';
import {
  NEVER_SPIKED,
  Neuron,
  decay,
  holdRefractory,
  maskSpikes,
  nextLastSpikeTime,
  refractoryMask,
  type NeuronOptions,
  type ParamValue,
  type StateInit,
} from './base';
import { add, div, mul, sub, type Num } from './nmath';

/** `(V − top)/(top − bottom)` with the reciprocal folded in JS when both are numbers. */
function scaled(V: tf.Tensor, top: Num, bottom: Num): tf.Tensor {
  const span = sub(top, bottom);
  return typeof span === 'number'
    ? (mul(sub(V, top), 1 / span) as tf.Tensor)
    : (div(sub(V, top), span) as tf.Tensor);
}

/** Throw unless a > b everywhere (numbers, or tensors checked once at construction). */
export function checkAbove(owner: string, aName: string, a: Num, bName: string, b: Num): void {
  const ok =
    typeof a === 'number' && typeof b === 'number'
      ? a > b
      : tf.tidy(() => tf.all(tf.greater(a, b)).dataSync()[0] === 1);
  if (!ok) {
    throw new ArgumentError(
      `${owner}: parameter ${aName} must be greater than ${bName}` +
        (typeof a === 'number' && typeof b === 'number'
          ? `, got ${aName}=${a}, ${bName}=${b}`
          : ' everywhere'),
    );
  }
}

export interface IFOptions extends NeuronOptions {
  /** Membrane time constant τ (ms, > 0). Default 5. */
  tau?: ParamValue;
  /** Membrane resistance R (R·I in mV). Default 1. */
  R?: ParamValue;
  /** Threshold V_th (mV, > 0). Default 1. */
  V_th?: ParamValue;
  /** Initial V (mV): a number, tensor or initializer. Default 0. */
  V_initializer?: StateInit;
}

/**
 * Integrate-and-fire (leaky towards 0):  τ dV/dt = −V + R·I.
 * Spike when V ≥ V_th (spike argument (V − V_th)/V_th); soft reset V −= V_th, hard reset V = 0.
 * Default spike function ReluGrad().
 */
export class IF extends Neuron {
  readonly tau: Num;
  readonly R: Num;
  readonly V_th: Num;
  readonly V_initializer: StateInit;
  /** Membrane potential (mV). */
  V!: HiddenState;

  constructor(inSize: Size, options: IFOptions = {}) {
    super(inSize, options, new ReluGrad());
    this.tau = this.param('tau', options.tau ?? 5, 'positive');
    this.R = this.param('R', options.R ?? 1, 'finite');
    this.V_th = this.param('V_th', options.V_th ?? 1, 'positive');
    this.V_initializer = options.V_initializer ?? 0;
  }

  override initState(options: InitStateOptions = {}): void {
    this.V = this.hiddenState(
      this.V,
      'V',
      this.initialValue('V', this.V_initializer, options.batchSize),
    );
    this.initSpike(options.batchSize);
  }

  override resetState(options: InitStateOptions = {}): void {
    this.initState(options);
  }

  protected override scaledV(V: tf.Tensor): tf.Tensor {
    return scaled(V, this.V_th, 0);
  }

  override update(x: tf.Tensor | number = 0): tf.Tensor {
    const dt = environ.getDt();
    const V = this.V.value;
    const I = this.inputCurrent(x, [V]);
    const e = decay(this.tau, dt);
    const Vn = this.withDeltaInputs(add(mul(V, e), mul(I, mul(this.R, sub(1, e)))) as tf.Tensor);
    const spike = this.getSpike(Vn);
    this.V.value = this.resetV(Vn, spike, this.V_th, 0);
    this.spike.value = spike;
    return spike;
  }
}

export interface LIFOptions extends NeuronOptions {
  /** Membrane time constant τ (ms, > 0). Default 5. */
  tau?: ParamValue;
  /** Membrane resistance R (R·I in mV). Default 1. */
  R?: ParamValue;
  /** Threshold V_th (mV; > V_reset). Default 1. */
  V_th?: ParamValue;
  /** Reset potential V_reset (mV). Default 0. */
  V_reset?: ParamValue;
  /** Resting potential V_rest (mV). Default 0. */
  V_rest?: ParamValue;
  /** Initial V (mV): a number, tensor or initializer (e.g. `init.Normal(-55, 2)`). Default 0. */
  V_initializer?: StateInit;
}

/**
 * Leaky integrate-and-fire:  τ dV/dt = −V + V_rest + R·I.
 * Spike when V ≥ V_th (argument (V − V_th)/(V_th − V_reset)), reset in the same step:
 * soft V −= (V_th − V_reset), hard V = V_reset. Default spike function ReluGrad().
 * Exact step (I frozen): V' = V·e + (1 − e)(V_rest + R·I), e = exp(−dt/τ).
 */
export class LIF extends Neuron {
  readonly tau: Num;
  readonly R: Num;
  readonly V_th: Num;
  readonly V_reset: Num;
  readonly V_rest: Num;
  readonly V_initializer: StateInit;
  /** Membrane potential (mV). */
  V!: HiddenState;

  constructor(inSize: Size, options: LIFOptions = {}) {
    super(inSize, options, new ReluGrad());
    this.tau = this.param('tau', options.tau ?? 5, 'positive');
    this.R = this.param('R', options.R ?? 1, 'finite');
    this.V_th = this.param('V_th', options.V_th ?? 1, 'finite');
    this.V_reset = this.param('V_reset', options.V_reset ?? 0, 'finite');
    this.V_rest = this.param('V_rest', options.V_rest ?? 0, 'finite');
    checkAbove(this.describe(), 'V_th', this.V_th, 'V_reset', this.V_reset);
    this.V_initializer = options.V_initializer ?? 0;
  }

  override initState(options: InitStateOptions = {}): void {
    this.V = this.hiddenState(
      this.V,
      'V',
      this.initialValue('V', this.V_initializer, options.batchSize),
    );
    this.initSpike(options.batchSize);
  }

  override resetState(options: InitStateOptions = {}): void {
    this.initState(options);
  }

  protected override scaledV(V: tf.Tensor): tf.Tensor {
    return scaled(V, this.V_th, this.V_reset);
  }

  /** The exact leak step V·e + (1 − e)(V_rest + R·I): four kernels with number parameters. */
  protected integrateV(V: tf.Tensor, I: Num, dt: number): tf.Tensor {
    const e = decay(this.tau, dt);
    const w = sub(1, e);
    return add(mul(V, e), add(mul(I, mul(this.R, w)), mul(this.V_rest, w))) as tf.Tensor;
  }

  override update(x: tf.Tensor | number = 0): tf.Tensor {
    const dt = environ.getDt();
    const V = this.V.value;
    const I = this.inputCurrent(x, [V]);
    const Vn = this.withDeltaInputs(this.integrateV(V, I, dt));
    const spike = this.getSpike(Vn);
    this.V.value = this.resetV(Vn, spike, this.V_th, this.V_reset);
    this.spike.value = spike;
    return spike;
  }
}

export interface LIFRefOptions extends LIFOptions {
  /** Refractory period τ_ref (ms, ≥ 0). Default 5. */
  tau_ref?: ParamValue;
}

/**
 * LIF with an absolute refractory period (Brian2's semantics, which the COBA reference rates use):
 *
 *     τ dV/dt = −V + V_rest + R·I   (unless refractory);  spike when V ≥ V_th; V ← V_reset.
 *
 * Within a step: refractory = (t − lastSpikeTime < τ_ref, counted in whole steps); integrate;
 * add delta inputs; a refractory neuron keeps its stored (post-reset) V and cannot spike;
 * threshold; reset; lastSpikeTime = t where it spiked. After a spike at step n the neuron is
 * clamped during steps n+1 … n+⌊τ_ref/dt⌋−1 and integrates again from step n+⌊τ_ref/dt⌋, so a
 * regular spike train has period ⌊τ_ref/dt⌋ − 1 + K steps, K the steps to reach threshold from
 * V_reset. brainstate's LIFRef (reset at the start of the next step) gives the same train.
 * Needs the current time `environ.get('t')` (a Runner sets it each step).
 */
export class LIFRef extends LIF {
  readonly tau_ref: Num;
  /** Time (ms) of the last spike of each neuron (−1e7: never). */
  lastSpikeTime!: ShortTermState;

  constructor(inSize: Size, options: LIFRefOptions = {}) {
    super(inSize, options);
    this.tau_ref = this.param('tau_ref', options.tau_ref ?? 5, 'nonNegative');
  }

  override initState(options: InitStateOptions = {}): void {
    super.initState(options);
    this.lastSpikeTime = this.shortTermState(
      this.lastSpikeTime,
      'lastSpikeTime',
      tf.fill(this.stateShape(options.batchSize), NEVER_SPIKED, 'float32'),
    );
  }

  override update(x: tf.Tensor | number = 0): tf.Tensor {
    const dt = environ.getDt();
    const t = this.currentTime();
    const V = this.V.value;
    const last = this.lastSpikeTime.value;
    const refractory = refractoryMask(last, t, this.tau_ref, dt);
    const I = this.inputCurrent(x, [V]);
    const Vn = holdRefractory(refractory, V, this.withDeltaInputs(this.integrateV(V, I, dt)));
    let spike = this.getSpike(Vn);
    if (this.spkReset === 'soft') spike = maskSpikes(refractory, spike);
    this.V.value = this.resetV(Vn, spike, this.V_th, this.V_reset);
    this.lastSpikeTime.value = nextLastSpikeTime(last, spike, t);
    this.spike.value = spike;
    return spike;
  }
}

export interface ALIFOptions extends LIFOptions {
  /** Adaptation time constant τ_a (ms, > 0). Default 100. */
  tau_a?: ParamValue;
  /** Threshold increase per unit of adaptation β (mV). Default 0.1. */
  beta?: ParamValue;
  /** Initial adaptation a. Default 0. */
  a_initializer?: StateInit;
}

/**
 * Adaptive LIF:  τ dV/dt = −V + V_rest + R·I;  τ_a da/dt = −a;  effective threshold V_th + β·a.
 * Spike when V ≥ V_th + β·a (argument (V − V_th − β·a)/(V_th − V_reset)); then V is reset
 * (soft: −(V_th − V_reset); hard: V_reset) and a += 1 in the same step, so the raised threshold
 * acts from the next step. Each step a decays exactly: a' = a·exp(−dt/τ_a).
 */
export class ALIF extends LIF {
  readonly tau_a: Num;
  readonly beta: Num;
  readonly a_initializer: StateInit;
  /** Adaptation variable (dimensionless). */
  a!: HiddenState;

  constructor(inSize: Size, options: ALIFOptions = {}) {
    super(inSize, options);
    this.tau_a = this.param('tau_a', options.tau_a ?? 100, 'positive');
    this.beta = this.param('beta', options.beta ?? 0.1, 'finite');
    this.a_initializer = options.a_initializer ?? 0;
  }

  override initState(options: InitStateOptions = {}): void {
    super.initState(options);
    this.a = this.hiddenState(
      this.a,
      'a',
      this.initialValue('a', this.a_initializer, options.batchSize),
    );
  }

  /** The spike argument with the current adaptation `a` (the state's value unless given). */
  protected override scaledV(V: tf.Tensor, a: tf.Tensor = this.a.value): tf.Tensor {
    return scaled(sub(V, mul(this.beta, a)) as tf.Tensor, this.V_th, this.V_reset);
  }

  override update(x: tf.Tensor | number = 0): tf.Tensor {
    const dt = environ.getDt();
    const V = this.V.value;
    const a = mul(this.a.value, decay(this.tau_a, dt)) as tf.Tensor;
    const I = this.inputCurrent(x, [V]);
    const Vn = this.withDeltaInputs(this.integrateV(V, I, dt));
    const spike = this.fire(this.scaledV(Vn, a));
    this.V.value = this.resetV(Vn, spike, this.V_th, this.V_reset);
    this.a.value = tf.add(a, spike);
    this.spike.value = spike;
    return spike;
  }
}
