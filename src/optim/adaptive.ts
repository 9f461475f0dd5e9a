/**
 * Per-element adaptive step sizes from running squared gradients (spec §8.2). λ is the optional
 * weight decay in [0, 1] (θ ← (1−λ)θ before the step); ε sits inside the square roots, as in
 * the reference:
 *
 *   Adagrad   G ← G + g²;                  θ ← θ − ηg/√(G + ε)
 *   RMSProp   E ← ρE + (1−ρ)g²;            θ ← θ − ηg/√(E + ε)
 *   Adadelta  E_g ← ρE_g + (1−ρ)g²;  Δ = g·√(E_Δ + ε)/√(E_g + ε);  E_Δ ← ρE_Δ + (1−ρ)Δ²;  θ ← θ − ηΔ
 *
 * Adadelta: the reference ignores η; here θ ← θ − ηΔ with η = 1 by default (the same rule), so a
 * schedule or another rate still means something.
 */
import { tf } from '../backend/tf';
import type { LRScheduler, LearningRate } from './scheduler';
import {
  Optimizer,
  checkOptions,
  decayed,
  type LeafUpdate,
  type OptimizerOptions,
  type StepScalars,
} from './optimizer';
import { optionalNumber } from './validate';

type Slots = Readonly<Record<string, tf.Tensor>>;

const EPS = { min: 0, minOpen: true } as const;
const RHO = { min: 0, max: 1, maxOpen: true } as const;
const DECAY = { min: 0, max: 1 } as const;

/** Options of Adagrad. */
export interface AdagradOptions extends OptimizerOptions {
  /** The learning rate (required). */
  lr: LearningRate | LRScheduler;
  /** Added to G inside the square root (> 0, default 1e-6). */
  eps?: number;
  /** Weight decay λ in [0, 1] (default none). */
  weightDecay?: number | null;
}

/** Adagrad: G ← G + g²; θ ← (1−λ)θ − ηg/√(G + ε). Slot: `sumSq`. */
export class Adagrad extends Optimizer {
  readonly eps: number;
  readonly weightDecay: number | null;

  constructor(options: AdagradOptions) {
    const o = checkOptions('Adagrad', options, ['eps', 'weightDecay']);
    const eps = optionalNumber('Adagrad', 'eps', o.eps, EPS, 1e-6);
    const wd = optionalNumber('Adagrad', 'weightDecay', o.weightDecay, DECAY, null);
    super('Adagrad', o, null, ['sumSq']);
    this.eps = eps;
    this.weightDecay = wd;
  }

  protected rule(p: tf.Tensor, g: tf.Tensor, slots: Slots, s: StepScalars): LeafUpdate {
    const sumSq = tf.add(slots.sumSq, tf.square(g));
    const step = tf.div(tf.mul(s.lr, g), tf.sqrt(tf.add(sumSq, this.eps)));
    return { param: tf.sub(decayed(p, this.weightDecay), step), slots: { sumSq } };
  }
}

/** Options of RMSProp. */
export interface RMSPropOptions extends OptimizerOptions {
  /** The learning rate (required). */
  lr: LearningRate | LRScheduler;
  /** Decay ρ of the running mean of g², in [0, 1) (default 0.9). */
  rho?: number;
  /** Added inside the square root (> 0, default 1e-6). */
  eps?: number;
  /** Weight decay λ in [0, 1] (default none). */
  weightDecay?: number | null;
}

/** RMSProp: E ← ρE + (1−ρ)g²; θ ← (1−λ)θ − ηg/√(E + ε). Slot: `meanSq`. */
export class RMSProp extends Optimizer {
  readonly rho: number;
  readonly eps: number;
  readonly weightDecay: number | null;

  constructor(options: RMSPropOptions) {
    const o = checkOptions('RMSProp', options, ['rho', 'eps', 'weightDecay']);
    const rho = optionalNumber('RMSProp', 'rho', o.rho, RHO, 0.9);
    const eps = optionalNumber('RMSProp', 'eps', o.eps, EPS, 1e-6);
    const wd = optionalNumber('RMSProp', 'weightDecay', o.weightDecay, DECAY, null);
    super('RMSProp', o, null, ['meanSq']);
    this.rho = rho;
    this.eps = eps;
    this.weightDecay = wd;
  }

  protected rule(p: tf.Tensor, g: tf.Tensor, slots: Slots, s: StepScalars): LeafUpdate {
    const meanSq = tf.add(tf.mul(slots.meanSq, this.rho), tf.mul(tf.square(g), 1 - this.rho));
    const step = tf.div(tf.mul(s.lr, g), tf.sqrt(tf.add(meanSq, this.eps)));
    return { param: tf.sub(decayed(p, this.weightDecay), step), slots: { meanSq } };
  }
}

/** Options of Adadelta. */
export interface AdadeltaOptions extends OptimizerOptions {
  /** Scales the Adadelta step (default 1, the reference rule). */
  lr?: LearningRate | LRScheduler;
  /** Decay ρ of the running means, in [0, 1) (default 0.95). */
  rho?: number;
  /** Added inside the square roots (> 0, default 1e-6). */
  eps?: number;
  /** Weight decay λ in [0, 1] (default none). */
  weightDecay?: number | null;
}

/** Adadelta (see the file header). Slots: `meanSq` (E_g) and `meanDeltaSq` (E_Δ). */
export class Adadelta extends Optimizer {
  readonly rho: number;
  readonly eps: number;
  readonly weightDecay: number | null;

  constructor(options: AdadeltaOptions = {}) {
    const o = checkOptions('Adadelta', options, ['rho', 'eps', 'weightDecay']);
    const rho = optionalNumber('Adadelta', 'rho', o.rho, RHO, 0.95);
    const eps = optionalNumber('Adadelta', 'eps', o.eps, EPS, 1e-6);
    const wd = optionalNumber('Adadelta', 'weightDecay', o.weightDecay, DECAY, null);
    super('Adadelta', o, 1, ['meanSq', 'meanDeltaSq']);
    this.rho = rho;
    this.eps = eps;
    this.weightDecay = wd;
  }

  protected rule(p: tf.Tensor, g: tf.Tensor, slots: Slots, s: StepScalars): LeafUpdate {
    const { rho, eps } = this;
    const meanSq = tf.add(tf.mul(slots.meanSq, rho), tf.mul(tf.square(g), 1 - rho));
    const delta = tf.mul(
      g,
      tf.div(tf.sqrt(tf.add(slots.meanDeltaSq, eps)), tf.sqrt(tf.add(meanSq, eps))),
    );
    const meanDeltaSq = tf.add(tf.mul(slots.meanDeltaSq, rho), tf.mul(tf.square(delta), 1 - rho));
    return {
      param: tf.sub(decayed(p, this.weightDecay), tf.mul(s.lr, delta)),
      slots: { meanSq, meanDeltaSq },
    };
  }
}
