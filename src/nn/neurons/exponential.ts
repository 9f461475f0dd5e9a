/**
 * Exponential integrate-and-fire neurons: ExpIF (Fourcaud-Trocmé et al. 2003; also exported as
 * `ExpLIF`, the name seed 001 uses) and AdExIF (Brette & Gerstner 2005). V is integrated with
 * exponential Euler and its analytic element-wise Jacobian, x' = x + dt·exprel(dt·J)·f(x), the
 * scheme brainstate's `exp_euler_step` applies to these models; the adaptation current w, linear
 * in itself, is integrated exactly. The spike-initiating exponential runs away within a step, so
 * V is capped at the cut-off V_th (and the exponential evaluated at min(V, V_th)): the spike
 * fires at V = V_th and the reset lands where it should (an uncapped V of 1e25 would make the
 * reset lose V_reset to rounding). Step order and reset semantics: see ./base.ts. Units: ms, mV.
 */
import { tf } from '../../backend/tf';
import * as environ from '../../environ';
import type { InitStateOptions, Size } from '../../graph';
import type { HiddenState, ShortTermState } from '../../state';
import { expEulerUpdate } from '../expEuler';
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
import { checkAbove } from './lif';
import { add, div, exp, minimum, mul, neg, sub, type Num } from './nmath';

/** Parameters and states shared by ExpIF and AdExIF. */
export interface ExpIFOptions extends NeuronOptions {
  /** Resting potential V_rest (mV). Default −65. */
  V_rest?: ParamValue;
  /** Reset potential V_reset (mV). Default −68. */
  V_reset?: ParamValue;
  /** Spike cut-off V_th (mV; > V_reset and > V_T). Default −30. */
  V_th?: ParamValue;
  /** Threshold of the exponential (rheobase) V_T (mV). Default −59.9. Rest is stable only if V_T − V_rest > delta_T. */
  V_T?: ParamValue;
  /** Sharpness Δ_T (mV, > 0). Default 3.48. */
  delta_T?: ParamValue;
  /** Membrane resistance R (R·I in mV). Default 1. */
  R?: ParamValue;
  /** Membrane time constant τ (ms, > 0). Default 10. */
  tau?: ParamValue;
  /** Refractory period τ_ref (ms, ≥ 0; 0 = none, no lastSpikeTime state). Default 0. */
  tau_ref?: ParamValue;
  /** A constant external current I_e added to the input (R·I_e in mV). Default 0. */
  I_e?: ParamValue;
  /** Initial V (mV). Default V_rest. */
  V_initializer?: StateInit;
}

function hasRefractoriness(tau_ref: Num): boolean {
  return typeof tau_ref !== 'number' || tau_ref > 0;
}

/**
 * Exponential integrate-and-fire:
 *
 *     τ dV/dt = −(V − V_rest) + Δ_T·exp((V − V_T)/Δ_T) + R·(I + I_e)
 *
 * spike when V ≥ V_th (the cut-off; argument (V − V_th)/(V_th − V_reset)); reset in the same
 * step (soft: V −= V_th − V_reset, which lands on V_reset since V is capped at V_th; hard:
 * V = V_reset); with τ_ref > 0, V is clamped after a spike as in LIFRef (needs environ t).
 * J = (exp((V − V_T)/Δ_T) − 1)/τ. Default spike function InvSquareGrad().
 */
export class ExpIF extends Neuron {
  readonly V_rest: Num;
  readonly V_reset: Num;
  readonly V_th: Num;
  readonly V_T: Num;
  readonly delta_T: Num;
  readonly R: Num;
  readonly tau: Num;
  readonly tau_ref: Num;
  readonly I_e: Num;
  readonly V_initializer: StateInit;
  /** Membrane potential (mV). */
  V!: HiddenState;
  /** Time (ms) of the last spike (only with τ_ref > 0). */
  lastSpikeTime: ShortTermState | null = null;

  constructor(inSize: Size, options: ExpIFOptions = {}) {
    super(inSize, options);
    this.V_rest = this.param('V_rest', options.V_rest ?? -65, 'finite');
    this.V_reset = this.param('V_reset', options.V_reset ?? -68, 'finite');
    this.V_th = this.param('V_th', options.V_th ?? -30, 'finite');
    this.V_T = this.param('V_T', options.V_T ?? -59.9, 'finite');
    this.delta_T = this.param('delta_T', options.delta_T ?? 3.48, 'positive');
    this.R = this.param('R', options.R ?? 1, 'finite');
    this.tau = this.param('tau', options.tau ?? 10, 'positive');
    this.tau_ref = this.param('tau_ref', options.tau_ref ?? 0, 'nonNegative');
    this.I_e = this.param('I_e', options.I_e ?? 0, 'finite');
    checkAbove(this.describe(), 'V_th', this.V_th, 'V_reset', this.V_reset);
    this.V_initializer = options.V_initializer ?? this.V_rest;
  }

  override initState(options: InitStateOptions = {}): void {
    this.V = this.hiddenState(
      this.V,
      'V',
      this.initialValue('V', this.V_initializer, options.batchSize),
    );
    this.initSpike(options.batchSize);
    if (hasRefractoriness(this.tau_ref)) {
      this.lastSpikeTime = this.shortTermState(
        this.lastSpikeTime ?? undefined,
        'lastSpikeTime',
        tf.fill(this.stateShape(options.batchSize), NEVER_SPIKED, 'float32'),
      );
    }
  }

  override resetState(options: InitStateOptions = {}): void {
    this.initState(options);
  }

  protected override scaledV(V: tf.Tensor): tf.Tensor {
    return div(sub(V, this.V_th), sub(this.V_th, this.V_reset)) as tf.Tensor;
  }

  /** exp((min(V, V_th) − V_T)/Δ_T), the spike-initiation factor (capped at the cut-off). */
  protected expFactor(V: tf.Tensor): tf.Tensor {
    return exp(div(sub(minimum(V, this.V_th), this.V_T), this.delta_T)) as tf.Tensor;
  }

  /** The membrane step from V with current I and an extra drift term `extra` (mV, e.g. −R·w). */
  protected integrateV(V: tf.Tensor, I: Num, extra: Num, dt: number): tf.Tensor {
    const u = this.expFactor(V);
    const drive = add(add(mul(this.R, add(I, this.I_e)), extra), this.V_rest);
    const f = div(add(sub(drive, V), mul(this.delta_T, u)), this.tau) as tf.Tensor;
    const J = div(sub(u, 1), this.tau) as tf.Tensor;
    return minimum(expEulerUpdate(V, f, J, dt), this.V_th) as tf.Tensor;
  }

  /** Integrate, hold if refractory, fire, reset; returns [V after reset, spike]. */
  protected stepV(V: tf.Tensor, I: Num, extra: Num, dt: number): [tf.Tensor, tf.Tensor] {
    const last = this.lastSpikeTime?.value ?? null;
    const t = last === null ? 0 : this.currentTime();
    const refractory = last === null ? null : refractoryMask(last, t, this.tau_ref, dt);
    let Vn = this.withDeltaInputs(this.integrateV(V, I, extra, dt));
    if (refractory !== null) Vn = holdRefractory(refractory, V, Vn);
    let spike = this.getSpike(Vn);
    if (refractory !== null && this.spkReset === 'soft') spike = maskSpikes(refractory, spike);
    if (last !== null) this.lastSpikeTime!.value = nextLastSpikeTime(last, spike, t);
    return [this.resetV(Vn, spike, this.V_th, this.V_reset), spike];
  }

  override update(x: tf.Tensor | number = 0): tf.Tensor {
    const dt = environ.getDt();
    const V = this.V.value;
    const I = this.inputCurrent(x, [V]);
    const [Vn, spike] = this.stepV(V, I, 0, dt);
    this.V.value = Vn;
    this.spike.value = spike;
    return spike;
  }
}

/** The name seed 001 (NeurAI) uses for the exponential integrate-and-fire neuron: the same class. */
export const ExpLIF = ExpIF;
export type ExpLIF = ExpIF;

export interface AdExIFOptions extends ExpIFOptions {
  /** Subthreshold adaptation coupling a (w per mV). Default 1. */
  a?: ParamValue;
  /** Spike-triggered adaptation increment b (added to w per spike). Default 1. */
  b?: ParamValue;
  /** Adaptation time constant τ_w (ms, > 0). Default 30. */
  tau_w?: ParamValue;
  /** Initial w. Default 0. */
  w_initializer?: StateInit;
}

/**
 * Adaptive exponential integrate-and-fire:
 *
 *     τ dV/dt = −(V − V_rest) + Δ_T·exp((V − V_T)/Δ_T) − R·w + R·I
 *     τ_w dw/dt = a·(V − V_rest) − w
 *
 * spike when V ≥ V_th: V reset as in ExpIF, w += b (same step). Within a step both equations
 * start from the old (V, w): V by exponential Euler with w frozen, w exactly with V frozen:
 * w' = w·e_w + (1 − e_w)·a(V − V_rest), e_w = exp(−dt/τ_w).
 */
export class AdExIF extends ExpIF {
  readonly a: Num;
  readonly b: Num;
  readonly tau_w: Num;
  readonly w_initializer: StateInit;
  /** Adaptation current (R·w in mV). */
  w!: HiddenState;

  constructor(inSize: Size, options: AdExIFOptions = {}) {
    super(inSize, options);
    this.a = this.param('a', options.a ?? 1, 'finite');
    this.b = this.param('b', options.b ?? 1, 'finite');
    this.tau_w = this.param('tau_w', options.tau_w ?? 30, 'positive');
    this.w_initializer = options.w_initializer ?? 0;
  }

  override initState(options: InitStateOptions = {}): void {
    super.initState(options);
    this.w = this.hiddenState(
      this.w,
      'w',
      this.initialValue('w', this.w_initializer, options.batchSize),
    );
  }

  override update(x: tf.Tensor | number = 0): tf.Tensor {
    const dt = environ.getDt();
    const V = this.V.value;
    const w = this.w.value;
    const I = this.inputCurrent(x, [V]);
    const ew = decay(this.tau_w, dt);
    const wn = add(mul(w, ew), mul(mul(this.a, sub(V, this.V_rest)), sub(1, ew))) as tf.Tensor;
    const [Vn, spike] = this.stepV(V, I, neg(mul(this.R, w)), dt);
    this.V.value = Vn;
    this.w.value = add(wn, mul(spike, this.b)) as tf.Tensor;
    this.spike.value = spike;
    return spike;
  }
}
