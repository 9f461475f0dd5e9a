/**
 * STP and STD: short-term plasticity of presynaptic efficacy (spec §5.5), the Tsodyks–Markram
 * model. They sit on the presynaptic side (their size is the presynaptic population) and scale
 * the spikes: `update(preSpike)` returns the efficacy of each spike (0 where there is none).
 *
 * STP (facilitation u and resources x), between spikes   τ_f du/dt = −u,   τ_d dx/dt = 1 − x;
 * at a spike, with u⁻ and x⁻ the values just before it:
 *   u⁺ = u⁻ + U·(1 − u⁻),   efficacy = u⁺·x⁻,   x⁺ = x⁻ − u⁺·x⁻.
 * STD (resources x only), between spikes τ dx/dt = 1 − x; at a spike: efficacy = x⁻, x⁺ = x⁻ − U·x⁻.
 *
 * Under periodic spikes with interval Δ these converge to the closed-form fixed point
 *   u⁺* = U / (1 − (1 − U)·e^{−Δ/τ_f}),   x⁻* = (1 − e^{−Δ/τ_d}) / (1 − (1 − u⁺*)·e^{−Δ/τ_d}).
 * The decays are exact (factors computed once per dt), so that fixed point holds to float32.
 * Differences from brainstate v0.1.10 (whose STP/STD tests are skipped): the spike updates use
 * the values decayed to the spike's time, not the previous step's, and the efficacy is taken
 * with the resources available at the spike (x⁻), not after the release (x⁺), as in the
 * Tsodyks–Markram model. Initial values follow the spec: x = 1 and u = U.
 */
import { tf } from '../../backend/tf';
import { getDt } from '../../environ';
import { ArgumentError } from '../../errors';
import type { InitStateOptions, Size } from '../../graph';
import type { HiddenState } from '../../state';
import {
  DecayFactor,
  Synapse,
  asFloat,
  finiteNumber,
  positive,
  type SynapseInput,
} from './synapse';

export interface STPOptions {
  /** Utilisation increment U per spike, in (0, 1]. Default 0.15. */
  U?: number;
  /** Facilitation time constant τ_f (ms). Default 1500. */
  tau_f?: number;
  /** Depression (recovery) time constant τ_d (ms). Default 200. */
  tau_d?: number;
  name?: string;
}

export interface STDOptions {
  /** Fraction U of the resources released per spike, in (0, 1]. Default 0.07. */
  U?: number;
  /** Recovery time constant τ (ms). Default 200. */
  tau?: number;
  name?: string;
}

/** Short-term facilitation and depression (u, x); output u⁺·x⁻·spike. */
export class STP extends Synapse {
  readonly U: number;
  readonly tau_f: number;
  readonly tau_d: number;
  /** Utilisation (release probability), starts at U. */
  u!: HiddenState;
  /** Available resources, starts at 1. */
  x!: HiddenState;
  readonly #fDecay: DecayFactor;
  readonly #dDecay: DecayFactor;

  constructor(size: Size, options: STPOptions = {}) {
    super(size, options.name);
    const where = this.describe();
    this.U = fraction(options.U ?? 0.15, 'U', where);
    this.tau_f = positive(options.tau_f ?? 1500, 'tau_f', where);
    this.tau_d = positive(options.tau_d ?? 200, 'tau_d', where);
    this.#fDecay = new DecayFactor(this.tau_f);
    this.#dDecay = new DecayFactor(this.tau_d);
  }

  override initState(options: InitStateOptions = {}): void {
    this.u = this.makeHidden(this.u, this.U, options.batchSize, 'u');
    this.x = this.makeHidden(this.x, 1, options.batchSize, 'x');
  }

  override resetState(options: InitStateOptions = {}): void {
    this.resetHidden(this.u, this.U, options.batchSize, 'u');
    this.resetHidden(this.x, 1, options.batchSize, 'x');
  }

  /** One step given the presynaptic spikes (boolean or 0/1); returns each spike's efficacy u⁺·x⁻. */
  override update(preSpike?: SynapseInput): tf.Tensor {
    const u = this.need(this.u, 'u');
    const x = this.need(this.x, 'x');
    const s = requireSpikes(preSpike, this.describe());
    const dt = getDt();
    const ef = this.#fDecay.at(dt);
    const ed = this.#dDecay.at(dt);
    const [uNew, xNew, out] = tf.tidy(() => {
      const spk = asFloat(s);
      const uMinus = tf.mul(u.value, ef);
      const xMinus = tf.add(tf.mul(x.value, ed), 1 - ed);
      const uPlus = tf.add(uMinus, tf.mul(tf.mul(spk, this.U), tf.sub(1, uMinus)));
      const release = tf.mul(tf.mul(uPlus, xMinus), spk);
      return [uPlus, tf.sub(xMinus, release), release];
    });
    u.value = uNew;
    x.value = xNew;
    return out;
  }
}

/** Short-term depression (x); output x⁻·spike. */
export class STD extends Synapse {
  readonly U: number;
  readonly tau: number;
  /** Available resources, starts at 1. */
  x!: HiddenState;
  readonly #decay: DecayFactor;

  constructor(size: Size, options: STDOptions = {}) {
    super(size, options.name);
    const where = this.describe();
    this.U = fraction(options.U ?? 0.07, 'U', where);
    this.tau = positive(options.tau ?? 200, 'tau', where);
    this.#decay = new DecayFactor(this.tau);
  }

  override initState(options: InitStateOptions = {}): void {
    this.x = this.makeHidden(this.x, 1, options.batchSize, 'x');
  }

  override resetState(options: InitStateOptions = {}): void {
    this.resetHidden(this.x, 1, options.batchSize, 'x');
  }

  /** One step given the presynaptic spikes (boolean or 0/1); returns each spike's efficacy x⁻. */
  override update(preSpike?: SynapseInput): tf.Tensor {
    const x = this.need(this.x, 'x');
    const s = requireSpikes(preSpike, this.describe());
    const ed = this.#decay.at(getDt());
    const [xNew, out] = tf.tidy(() => {
      const xMinus = tf.add(tf.mul(x.value, ed), 1 - ed);
      const avail = tf.mul(xMinus, asFloat(s));
      return [tf.sub(xMinus, tf.mul(avail, this.U)), avail];
    });
    x.value = xNew;
    return out;
  }
}

function requireSpikes(preSpike: SynapseInput | undefined, where: string): SynapseInput {
  if (preSpike === undefined) {
    throw new ArgumentError(`${where}.update(preSpike): the presynaptic spikes are required`);
  }
  return preSpike;
}

function fraction(value: unknown, what: string, where: string): number {
  const v = finiteNumber(value, what, where);
  if (!(v > 0 && v <= 1)) throw new ArgumentError(`${where}: ${what} must be in (0, 1], got ${v}`);
  return v;
}
