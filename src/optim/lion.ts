/**
 * Lion (Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms"): the step is the sign
 * of an interpolation between the momentum and the gradient, with decoupled weight decay:
 *
 *   c = β1·m + (1−β1)·g;  θ ← θ(1 − ηλ) − η·sign(c);  m ← β2·m + (1−β2)·g
 *
 * Every element moves by exactly η (or 0), so Lion wants a rate 3–10× smaller than AdamW's.
 */
import { tf } from '../backend/tf';
import type { LRScheduler, LearningRate } from './scheduler';
import {
  Optimizer,
  checkOptions,
  type LeafUpdate,
  type OptimizerOptions,
  type StepScalars,
} from './optimizer';
import { optionalNumber } from './validate';

/** Options of Lion. */
export interface LionOptions extends OptimizerOptions {
  /** The learning rate (default 1e-4). */
  lr?: LearningRate | LRScheduler;
  /** Interpolation of the update direction, in [0, 1) (default 0.9). */
  beta1?: number;
  /** Decay of the momentum, in [0, 1) (default 0.99). */
  beta2?: number;
  /** Decoupled weight decay λ ≥ 0: θ ← θ(1 − ηλ) (default 0). */
  weightDecay?: number;
}

/** Lion: sign updates (see the file header). Slot: `m`. */
export class Lion extends Optimizer {
  readonly beta1: number;
  readonly beta2: number;
  readonly weightDecay: number;

  constructor(options: LionOptions = {}) {
    const o = checkOptions('Lion', options, ['beta1', 'beta2', 'weightDecay']);
    const beta = { min: 0, max: 1, maxOpen: true } as const;
    const beta1 = optionalNumber('Lion', 'beta1', o.beta1, beta, 0.9);
    const beta2 = optionalNumber('Lion', 'beta2', o.beta2, beta, 0.99);
    const wd = optionalNumber('Lion', 'weightDecay', o.weightDecay, { min: 0 }, 0);
    super('Lion', o, 1e-4, ['m']);
    this.beta1 = beta1;
    this.beta2 = beta2;
    this.weightDecay = wd;
  }

  protected rule(
    p: tf.Tensor,
    g: tf.Tensor,
    slots: Readonly<Record<string, tf.Tensor>>,
    s: StepScalars,
  ): LeafUpdate {
    const { beta1, beta2, weightDecay } = this;
    const c = tf.add(tf.mul(slots.m, beta1), tf.mul(g, 1 - beta1));
    const kept = weightDecay === 0 ? p : tf.mul(p, tf.sub(1, tf.mul(s.lr, weightDecay)));
    const param = tf.sub(kept, tf.mul(s.lr, tf.sign(c)));
    const m = tf.add(tf.mul(slots.m, beta2), tf.mul(g, 1 - beta2));
    return { param, slots: { m } };
  }
}
