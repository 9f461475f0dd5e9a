/**
 * The generalized integrate-and-fire neuron of Mihalas & Niebur (2009): four variables — two
 * spike-induced currents I1, I2, the membrane potential V and a dynamic threshold V_th — that
 * reproduce tonic, phasic, adapting, bursting and other firing classes with linear equations.
 * The defaults are those of the GIF in seed 004's notebook (V_rest 0, V_th_inf 1 mV, R 1,
 * τ 20 ms, τ_I2 50 ms, ReluGrad, soft reset; a = b = 0 so the threshold stays at V_th_inf).
 * Every equation is linear in its own variable, so each is integrated exactly with the others
 * frozen over the step. Step order and reset semantics: see ./base.ts. Units: ms, mV; R·I in mV.
 */
import { tf } from '../../backend/tf';
import * as environ from '../../environ';
import type { InitStateOptions, Size } from '../../graph';
import type { HiddenState } from '../../state';
import { ReluGrad } from '../../surrogate';
import { exprel } from '../expEuler';
import { Neuron, decay, type NeuronOptions, type ParamValue, type StateInit } from './base';
import { checkAbove } from './lif';
import { add, div, maximum, mul, sub, type Num } from './nmath';

export interface GIFOptions extends NeuronOptions {
  /** Resting potential V_rest (mV). Default 0. */
  V_rest?: ParamValue;
  /** Reset potential V_reset (mV; < V_th_inf). Default 0. */
  V_reset?: ParamValue;
  /** Threshold at rest V_th_inf (mV). Default 1. */
  V_th_inf?: ParamValue;
  /** Lower bound of the threshold after a spike: V_th ← max(V_th_reset, V_th) (mV). Default V_th_inf. */
  V_th_reset?: ParamValue;
  /** Membrane resistance R (R·I in mV). Default 1. */
  R?: ParamValue;
  /** Membrane time constant τ (ms, > 0). Default 20. */
  tau?: ParamValue;
  /** Decay time constant of I1, τ_I1 = 1/k1 (ms, > 0). Default 5. */
  tau_I1?: ParamValue;
  /** Decay time constant of I2, τ_I2 = 1/k2 (ms, > 0). Default 50. */
  tau_I2?: ParamValue;
  /** Threshold adaptation to V, a (1/ms). Default 0. */
  a?: ParamValue;
  /** Threshold relaxation rate b (1/ms, ≥ 0). Default 0. */
  b?: ParamValue;
  /** Spike-induced current update I1 ← R1·I1 + A1: R1 (dimensionless). Default 0. */
  R1?: ParamValue;
  /** Spike-induced current update I2 ← R2·I2 + A2: R2. Default 1. */
  R2?: ParamValue;
  /** A1 (current units; R·A1 in mV). Default 0. */
  A1?: ParamValue;
  /** A2. Default 0. (Seed 004's GIF subtracts its A2 on a spike: its A2 = 1 is A2 = −1 here.) */
  A2?: ParamValue;
  /** Initial V (mV). Default 0. */
  V_initializer?: StateInit;
  /** Initial I1. Default 0. */
  I1_initializer?: StateInit;
  /** Initial I2. Default 0. */
  I2_initializer?: StateInit;
  /** Initial V_th (mV). Default V_th_inf. */
  Vth_initializer?: StateInit;
}

/**
 * Generalized integrate-and-fire (Mihalas–Niebur):
 *
 *     dI1/dt = −I1/τ_I1,   dI2/dt = −I2/τ_I2
 *     τ dV/dt = −(V − V_rest) + R·(I + I1 + I2)
 *     dV_th/dt = a·(V − V_rest) − b·(V_th − V_th_inf)
 *
 * spike when V ≥ V_th (argument (V − V_th)/(V_th_inf − V_reset)); in the same step
 * I1 ← R1·I1 + A1, I2 ← R2·I2 + A2, V reset (soft: V −= V_th − V_reset; hard: V = V_reset),
 * V_th ← max(V_th_reset, V_th). Default spike function ReluGrad().
 */
export class GIF extends Neuron {
  readonly V_rest: Num;
  readonly V_reset: Num;
  readonly V_th_inf: Num;
  readonly V_th_reset: Num;
  readonly R: Num;
  readonly tau: Num;
  readonly tau_I1: Num;
  readonly tau_I2: Num;
  readonly a: Num;
  readonly b: Num;
  readonly R1: Num;
  readonly R2: Num;
  readonly A1: Num;
  readonly A2: Num;
  readonly V_initializer: StateInit;
  readonly I1_initializer: StateInit;
  readonly I2_initializer: StateInit;
  readonly Vth_initializer: StateInit;
  /** Membrane potential (mV). */
  V!: HiddenState;
  /** Spike-induced currents. */
  I1!: HiddenState;
  I2!: HiddenState;
  /** Dynamic threshold (mV). */
  V_th!: HiddenState;

  constructor(inSize: Size, options: GIFOptions = {}) {
    super(inSize, options, new ReluGrad());
    this.V_rest = this.param('V_rest', options.V_rest ?? 0, 'finite');
    this.V_reset = this.param('V_reset', options.V_reset ?? 0, 'finite');
    this.V_th_inf = this.param('V_th_inf', options.V_th_inf ?? 1, 'finite');
    this.V_th_reset = this.param('V_th_reset', options.V_th_reset ?? this.V_th_inf, 'finite');
    this.R = this.param('R', options.R ?? 1, 'finite');
    this.tau = this.param('tau', options.tau ?? 20, 'positive');
    this.tau_I1 = this.param('tau_I1', options.tau_I1 ?? 5, 'positive');
    this.tau_I2 = this.param('tau_I2', options.tau_I2 ?? 50, 'positive');
    this.a = this.param('a', options.a ?? 0, 'finite');
    this.b = this.param('b', options.b ?? 0, 'nonNegative');
    this.R1 = this.param('R1', options.R1 ?? 0, 'finite');
    this.R2 = this.param('R2', options.R2 ?? 1, 'finite');
    this.A1 = this.param('A1', options.A1 ?? 0, 'finite');
    this.A2 = this.param('A2', options.A2 ?? 0, 'finite');
    checkAbove(this.describe(), 'V_th_inf', this.V_th_inf, 'V_reset', this.V_reset);
    this.V_initializer = options.V_initializer ?? 0;
    this.I1_initializer = options.I1_initializer ?? 0;
    this.I2_initializer = options.I2_initializer ?? 0;
    this.Vth_initializer = options.Vth_initializer ?? this.V_th_inf;
  }

  override initState(options: InitStateOptions = {}): void {
    const b = options.batchSize;
    this.V = this.hiddenState(this.V, 'V', this.initialValue('V', this.V_initializer, b));
    this.I1 = this.hiddenState(this.I1, 'I1', this.initialValue('I1', this.I1_initializer, b));
    this.I2 = this.hiddenState(this.I2, 'I2', this.initialValue('I2', this.I2_initializer, b));
    this.V_th = this.hiddenState(
      this.V_th,
      'V_th',
      this.initialValue('Vth', this.Vth_initializer, b),
    );
    this.initSpike(b);
  }

  override resetState(options: InitStateOptions = {}): void {
    this.initState(options);
  }

  /** The spike argument for V against the threshold `Vth` (the state's value unless given). */
  protected override scaledV(V: tf.Tensor, Vth: tf.Tensor = this.V_th.value): tf.Tensor {
    return div(sub(V, Vth), sub(this.V_th_inf, this.V_reset)) as tf.Tensor;
  }

  override update(x: tf.Tensor | number = 0): tf.Tensor {
    const dt = environ.getDt();
    const V = this.V.value;
    const I1 = this.I1.value;
    const I2 = this.I2.value;
    const Vth = this.V_th.value;
    const I = this.inputCurrent(x, [V]);
    const I1n = mul(I1, decay(this.tau_I1, dt)) as tf.Tensor;
    const I2n = mul(I2, decay(this.tau_I2, dt)) as tf.Tensor;
    const e = decay(this.tau, dt);
    const target = add(this.V_rest, mul(this.R, add(add(I, I1), I2)));
    const Vn = this.withDeltaInputs(add(mul(V, e), mul(target, sub(1, e))) as tf.Tensor);
    let Vthn = Vth;
    if (this.a !== 0 || this.b !== 0) {
      // V_th' = V_th + dt·exprel(−b·dt)·(a(V − V_rest) − b(V_th − V_th_inf))
      const g = mul(exprel(mul(this.b, -dt)), dt);
      const drift = sub(mul(this.a, sub(V, this.V_rest)), mul(this.b, sub(Vth, this.V_th_inf)));
      Vthn = add(Vth, mul(drift, g)) as tf.Tensor;
    }
    const spike = this.fire(this.scaledV(Vn, Vthn));
    this.V.value = this.resetV(Vn, spike, Vthn, this.V_reset);
    this.I1.value = add(I1n, mul(spike, add(mul(sub(this.R1, 1), I1n), this.A1))) as tf.Tensor;
    this.I2.value = add(I2n, mul(spike, add(mul(sub(this.R2, 1), I2n), this.A2))) as tf.Tensor;
    this.V_th.value = add(Vthn, mul(spike, sub(maximum(this.V_th_reset, Vthn), Vthn))) as tf.Tensor;
    this.spike.value = spike;
    return spike;
  }
}
