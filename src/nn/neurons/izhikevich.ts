/**
 * The Izhikevich (2003) neuron: two variables and four parameters that reproduce regular
 * spiking, fast spiking, bursting and other cortical firing patterns. V is integrated with
 * exponential Euler and its analytic Jacobian ∂f/∂V = 0.08·V + 5, the recovery variable u
 * exactly with V frozen over the step. V is capped at the spike peak V_th so the reset lands
 * on c. Step order and reset semantics: see ./base.ts. Units: ms, mV; I in mV/ms.
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
import { add, div, minimum, mul, sub, type Num } from './nmath';

export interface IzhikevichOptions extends NeuronOptions {
  /** Time scale of the recovery variable a (1/ms, > 0). Default 0.02 (regular spiking). */
  a?: ParamValue;
  /** Sensitivity of u to V, b. Default 0.2. */
  b?: ParamValue;
  /** Reset potential c (mV). Default −65. */
  c?: ParamValue;
  /** Increment of u per spike, d. Default 8. */
  d?: ParamValue;
  /** Spike peak / cut-off V_th (mV; > c). Default 30. */
  V_th?: ParamValue;
  /** Refractory period τ_ref (ms, ≥ 0; 0 = none). Default 0. */
  tau_ref?: ParamValue;
  /** Initial V (mV). Default −65. */
  V_initializer?: StateInit;
  /** Initial u. Default b·V_init when both are numbers, else −13. */
  u_initializer?: StateInit;
}

/**
 * Izhikevich neuron:
 *
 *     dV/dt = 0.04·V² + 5·V + 140 − u + I
 *     du/dt = a·(b·V − u)
 *
 * spike when V ≥ V_th (argument (V − V_th)/(V_th − c)): V ← c (hard; soft subtracts V_th − c
 * from the capped V, the same value), u ← u + d, in the same step. The classes of Izhikevich
 * (2003): RS a=0.02 b=0.2 c=−65 d=8 (default), IB c=−55 d=4, CH c=−50 d=2, FS a=0.1 d=2.
 */
export class Izhikevich extends Neuron {
  readonly a: Num;
  readonly b: Num;
  readonly c: Num;
  readonly d: Num;
  readonly V_th: Num;
  readonly tau_ref: Num;
  readonly V_initializer: StateInit;
  readonly u_initializer: StateInit;
  /** Membrane potential (mV). */
  V!: HiddenState;
  /** Recovery variable (mV/ms). */
  u!: HiddenState;
  /** Time (ms) of the last spike (only with τ_ref > 0). */
  lastSpikeTime: ShortTermState | null = null;

  constructor(inSize: Size, options: IzhikevichOptions = {}) {
    super(inSize, options);
    this.a = this.param('a', options.a ?? 0.02, 'positive');
    this.b = this.param('b', options.b ?? 0.2, 'finite');
    this.c = this.param('c', options.c ?? -65, 'finite');
    this.d = this.param('d', options.d ?? 8, 'finite');
    this.V_th = this.param('V_th', options.V_th ?? 30, 'finite');
    this.tau_ref = this.param('tau_ref', options.tau_ref ?? 0, 'nonNegative');
    checkAbove(this.describe(), 'V_th', this.V_th, 'c', this.c);
    this.V_initializer = options.V_initializer ?? -65;
    const v0 = this.V_initializer;
    this.u_initializer =
      options.u_initializer ??
      (typeof v0 === 'number' && typeof this.b === 'number' ? this.b * v0 : -13);
  }

  override initState(options: InitStateOptions = {}): void {
    this.V = this.hiddenState(
      this.V,
      'V',
      this.initialValue('V', this.V_initializer, options.batchSize),
    );
    this.u = this.hiddenState(
      this.u,
      'u',
      this.initialValue('u', this.u_initializer, options.batchSize),
    );
    this.initSpike(options.batchSize);
    if (typeof this.tau_ref !== 'number' || this.tau_ref > 0) {
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
    return div(sub(V, this.V_th), sub(this.V_th, this.c)) as tf.Tensor;
  }

  override update(x: tf.Tensor | number = 0): tf.Tensor {
    const dt = environ.getDt();
    const V = this.V.value;
    const u = this.u.value;
    const I = this.inputCurrent(x, [V]);
    const last = this.lastSpikeTime?.value ?? null;
    const t = last === null ? 0 : this.currentTime();
    const refractory = last === null ? null : refractoryMask(last, t, this.tau_ref, dt);
    // dV/dt = V(0.04V + 5) + 140 − u + I, J = 0.08V + 5
    const f = add(sub(add(mul(V, add(mul(V, 0.04), 5)), 140), u), I) as tf.Tensor;
    const J = add(mul(V, 0.08), 5) as tf.Tensor;
    let Vn = this.withDeltaInputs(minimum(expEulerUpdate(V, f, J, dt), this.V_th) as tf.Tensor);
    if (refractory !== null) Vn = holdRefractory(refractory, V, Vn);
    const ea = decay(div(1, this.a), dt);
    const un = add(mul(u, ea), mul(mul(this.b, V), sub(1, ea))) as tf.Tensor;
    let spike = this.getSpike(Vn);
    if (refractory !== null && this.spkReset === 'soft') spike = maskSpikes(refractory, spike);
    this.V.value = this.resetV(Vn, spike, this.V_th, this.c);
    this.u.value = add(un, mul(spike, this.d)) as tf.Tensor;
    if (last !== null) this.lastSpikeTime!.value = nextLastSpikeTime(last, spike, t);
    this.spike.value = spike;
    return spike;
  }
}
