/**
 * DualExpon: the difference-of-exponentials synapse (spec §5.5).
 *
 *   τ_rise dg_rise/dt = −g_rise,   τ_decay dg_decay/dt = −g_decay,
 *   inputs (x, delta inputs) jump BOTH g_rise and g_decay;   output A·(g_decay − g_rise).
 *
 * A unit jump gives A·(e^{−t/τ_decay} − e^{−t/τ_rise}), whose peak is 1 with the default
 *   A = τ_decay/(τ_decay − τ_rise) · (τ_rise/τ_decay)^{τ_rise/(τ_rise − τ_decay)},
 * reached at t* = τ_rise·τ_decay/(τ_decay − τ_rise) · ln(τ_decay/τ_rise).
 *
 * Fixes against brainstate v0.1.10: (1) there `sumDeltaInputs` is called once per branch, and
 * since values are consumed by the first call, queued jumps reached only g_rise: a spike
 * delivered by a projection gave a negative output. Here the jumps are summed once and added
 * to both branches. (2) Upstream multiplies A by a further
 * (τ_decay − τ_rise)/(τ_rise·τ_decay) (unit 1/ms), so its peak is not 1 as documented; here the
 * output factor is A itself (pass `A` to choose another normalisation).
 * Steps are exact: each branch decays by its own exp(−dt/τ), computed once per dt.
 */
import { tf } from '../../backend/tf';
import { getDt } from '../../environ';
import { ArgumentError } from '../../errors';
import type { InitStateOptions, Size } from '../../graph';
import { ZeroInit } from '../../init';
import type { HiddenState } from '../../state';
import {
  DecayFactor,
  Synapse,
  finiteNumber,
  hasInputs,
  positive,
  type StateInit,
  type SynapseInput,
} from './synapse';

export interface DualExponOptions {
  /** Decay time constant (ms), > tau_rise. Default 10. */
  tau_decay?: number;
  /** Rise time constant (ms), > 0. Default 1. */
  tau_rise?: number;
  /** Output factor; default: the one giving a unit peak for a unit jump. */
  A?: number;
  /** Initial g_rise and g_decay. Default `ZeroInit()`. */
  gInitializer?: StateInit;
  name?: string;
}

/** The unit-peak factor of A·(e^{−t/τ_decay} − e^{−t/τ_rise}). */
export function dualExponPeakFactor(tau_decay: number, tau_rise: number): number {
  return (
    (tau_decay / (tau_decay - tau_rise)) *
    Math.pow(tau_rise / tau_decay, tau_rise / (tau_rise - tau_decay))
  );
}

/** Rise-and-decay conductance with a normalised peak; output A·(g_decay − g_rise). */
export class DualExpon extends Synapse {
  static override readonly alignPost = true;

  readonly tau_decay: number;
  readonly tau_rise: number;
  /** The output factor. */
  readonly A: number;
  readonly gInitializer: StateInit;
  g_rise!: HiddenState;
  g_decay!: HiddenState;
  readonly #riseDecay: DecayFactor;
  readonly #decayDecay: DecayFactor;

  constructor(size: Size, options: DualExponOptions = {}) {
    super(size, options.name);
    const where = this.describe();
    this.tau_decay = positive(options.tau_decay ?? 10, 'tau_decay', where);
    this.tau_rise = positive(options.tau_rise ?? 1, 'tau_rise', where);
    if (!(this.tau_rise < this.tau_decay)) {
      throw new ArgumentError(
        `${where}: tau_rise (${this.tau_rise} ms) must be smaller than tau_decay (${this.tau_decay} ms); use Alpha for equal time constants`,
      );
    }
    this.A =
      options.A === undefined
        ? dualExponPeakFactor(this.tau_decay, this.tau_rise)
        : finiteNumber(options.A, 'A', where);
    this.gInitializer = options.gInitializer ?? ZeroInit();
    this.#riseDecay = new DecayFactor(this.tau_rise);
    this.#decayDecay = new DecayFactor(this.tau_decay);
  }

  override initState(options: InitStateOptions = {}): void {
    this.g_rise = this.makeHidden(this.g_rise, this.gInitializer, options.batchSize, 'g_rise');
    this.g_decay = this.makeHidden(this.g_decay, this.gInitializer, options.batchSize, 'g_decay');
  }

  override resetState(options: InitStateOptions = {}): void {
    this.resetHidden(this.g_rise, this.gInitializer, options.batchSize, 'g_rise');
    this.resetHidden(this.g_decay, this.gInitializer, options.batchSize, 'g_decay');
  }

  /** Decay both branches, add the jumps (delta inputs and `x`) to both; returns A·(g_decay − g_rise). */
  override update(x?: SynapseInput): tf.Tensor {
    const gr = this.need(this.g_rise, 'g_rise');
    const gd = this.need(this.g_decay, 'g_decay');
    const dt = getDt();
    const er = this.#riseDecay.at(dt);
    const ed = this.#decayDecay.at(dt);
    const [r, d, out] = tf.tidy(() => {
      let r = tf.mul(gr.value, er);
      let d = tf.mul(gd.value, ed);
      if (hasInputs(this.currentInputs)) {
        const I = this.sumCurrentInputs(0);
        r = tf.add(r, tf.mul(I, 1 - er));
        d = tf.add(d, tf.mul(I, 1 - ed));
      }
      if (hasInputs(this.deltaInputs) || x !== undefined) {
        let jump = this.sumDeltaInputs(0);
        if (x !== undefined) jump = tf.add(jump, x);
        r = tf.add(r, jump);
        d = tf.add(d, jump);
      }
      return [r, d, tf.mul(tf.sub(d, r), this.A)];
    });
    gr.value = r;
    gd.value = d;
    return out;
  }
}
