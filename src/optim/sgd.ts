/**
 * Gradient descent with and without momentum (spec §8.2). θ is a parameter, g its gradient,
 * η the scheduled learning rate, λ the optional weight decay in [0, 1] (θ ← (1−λ)θ before the step):
 *
 *   SGD               θ ← θ − ηg
 *   Momentum          v ← μv − ηg;  θ ← θ + v
 *   MomentumNesterov  v ← μv − ηg;  θ ← θ + μv − ηg   (true look-ahead)
 *
 * v0.1.10 applied `θ − η·v` for Momentum (a second η and a flipped sign) and used the same rule
 * for Nesterov; these are the intended rules.
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

/** Options of SGD. */
export interface SGDOptions extends OptimizerOptions {
  /** The learning rate (required). */
  lr: LearningRate | LRScheduler;
  /** Weight decay λ in [0, 1]: θ ← (1−λ)θ − ηg (default none). */
  weightDecay?: number | null;
}

/** Plain stochastic gradient descent: θ ← (1−λ)θ − ηg. */
export class SGD extends Optimizer {
  readonly weightDecay: number | null;

  constructor(options: SGDOptions) {
    const o = checkOptions('SGD', options, ['weightDecay']);
    const wd = optionalNumber('SGD', 'weightDecay', o.weightDecay, { min: 0, max: 1 }, null);
    super('SGD', o, null, []);
    this.weightDecay = wd;
  }

  protected rule(p: tf.Tensor, g: tf.Tensor, _slots: unknown, s: StepScalars): LeafUpdate {
    return { param: tf.sub(decayed(p, this.weightDecay), tf.mul(s.lr, g)), slots: {} };
  }
}

/** Options of Momentum and MomentumNesterov. */
export interface MomentumOptions extends OptimizerOptions {
  /** The learning rate (required). */
  lr: LearningRate | LRScheduler;
  /** Momentum μ in [0, 1) (default 0.9). */
  momentum?: number;
  /** Weight decay λ in [0, 1]: θ ← (1−λ)θ before the step (default none). */
  weightDecay?: number | null;
}

function momentumOptions(owner: string, options: MomentumOptions) {
  const o = checkOptions(owner, options, ['momentum', 'weightDecay']);
  return {
    o,
    momentum: optionalNumber(owner, 'momentum', o.momentum, { min: 0, max: 1, maxOpen: true }, 0.9),
    weightDecay: optionalNumber(owner, 'weightDecay', o.weightDecay, { min: 0, max: 1 }, null),
  };
}

/** Heavy-ball momentum: v ← μv − ηg; θ ← (1−λ)θ + v. Slot: `velocity`. */
export class Momentum extends Optimizer {
  readonly momentum: number;
  readonly weightDecay: number | null;

  constructor(options: MomentumOptions) {
    const { o, momentum, weightDecay } = momentumOptions('Momentum', options);
    super('Momentum', o, null, ['velocity']);
    this.momentum = momentum;
    this.weightDecay = weightDecay;
  }

  protected rule(
    p: tf.Tensor,
    g: tf.Tensor,
    slots: Readonly<Record<string, tf.Tensor>>,
    s: StepScalars,
  ): LeafUpdate {
    const v = tf.sub(tf.mul(slots.velocity, this.momentum), tf.mul(s.lr, g));
    return { param: tf.add(decayed(p, this.weightDecay), v), slots: { velocity: v } };
  }
}

/** Nesterov momentum with the look-ahead: v ← μv − ηg; θ ← (1−λ)θ + μv − ηg. Slot: `velocity`. */
export class MomentumNesterov extends Optimizer {
  readonly momentum: number;
  readonly weightDecay: number | null;

  constructor(options: MomentumOptions) {
    const { o, momentum, weightDecay } = momentumOptions('MomentumNesterov', options);
    super('MomentumNesterov', o, null, ['velocity']);
    this.momentum = momentum;
    this.weightDecay = weightDecay;
  }

  protected rule(
    p: tf.Tensor,
    g: tf.Tensor,
    slots: Readonly<Record<string, tf.Tensor>>,
    s: StepScalars,
  ): LeafUpdate {
    const step = tf.mul(s.lr, g);
    const v = tf.sub(tf.mul(slots.velocity, this.momentum), step);
    const param = tf.sub(tf.add(decayed(p, this.weightDecay), tf.mul(v, this.momentum)), step);
    return { param, slots: { velocity: v } };
  }
}

/** The name the training issue uses for MomentumNesterov. */
export { MomentumNesterov as Nesterov };
