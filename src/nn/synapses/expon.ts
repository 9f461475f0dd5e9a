/**
 * Expon: the single-exponential synapse (spec §5.5), the conductance of the COBA network.
 *
 *   τ dg/dt = −g + I          (I = the sum of current inputs, usually none)
 *   on an input x (spikes or weighted increments):  g ← g + x
 *
 * One step of `environ.dt` is exact: g ← g·e + I·(1 − e) with e = exp(−dt/τ) computed once per dt,
 * then the queued delta inputs (what align-post projections deliver) and `x` are added after
 * the decay. Without current inputs a step is one multiply plus one add per input.
 */
import { tf } from '../../backend/tf';
import { getDt } from '../../environ';
import type { InitStateOptions, Size } from '../../graph';
import { ZeroInit } from '../../init';
import type { HiddenState } from '../../state';
import {
  DecayFactor,
  Synapse,
  hasInputs,
  positive,
  type StateInit,
  type SynapseInput,
} from './synapse';

export interface ExponOptions {
  /** Decay time constant τ (ms), > 0. Default 8. */
  tau?: number;
  /** Initial conductance g (same unit as the increments, e.g. nS). Default `ZeroInit()`. */
  gInitializer?: StateInit;
  name?: string;
}

/** Exponentially decaying conductance g; output g. */
export class Expon extends Synapse {
  static override readonly alignPost = true;

  /** Decay time constant (ms). */
  readonly tau: number;
  readonly gInitializer: StateInit;
  /** The conductance `[batch?, ...varshape]`, created by `initState`. */
  g!: HiddenState;
  readonly #decay: DecayFactor;

  constructor(size: Size, options: ExponOptions = {}) {
    super(size, options.name);
    this.tau = positive(options.tau ?? 8, 'tau', this.describe());
    this.gInitializer = options.gInitializer ?? ZeroInit();
    this.#decay = new DecayFactor(this.tau);
  }

  override initState(options: InitStateOptions = {}): void {
    this.g = this.makeHidden(this.g, this.gInitializer, options.batchSize, 'g');
  }

  override resetState(options: InitStateOptions = {}): void {
    this.resetHidden(this.g, this.gInitializer, options.batchSize, 'g');
  }

  /** Decay g over one step, add the delta inputs and `x`; returns the new g. */
  override update(x?: SynapseInput): tf.Tensor {
    const g = this.need(this.g, 'g');
    const e = this.#decay.at(getDt());
    g.value = tf.tidy(() => {
      let v = tf.mul(g.value, e);
      if (hasInputs(this.currentInputs)) v = tf.add(v, tf.mul(this.sumCurrentInputs(0), 1 - e));
      v = this.sumDeltaInputs(v);
      return x === undefined ? v : tf.add(v, x);
    });
    return g.value;
  }
}
