/**
 * The Adam family (spec §8.2), with a per-optimizer step counter t = 1, 2, … for the bias
 * corrections (v0.1.10 derived t from the schedule's epoch, so with a constant rate the
 * correction stayed at t = 1; the broken non-amsgrad AdamW branch is the intended rule here):
 *
 *   Adam    m ← β1m + (1−β1)g;  v ← β2v + (1−β2)g²;  η_t = η·√(1−β2^t)/(1−β1^t)
 *           θ ← (1−λ)θ − η_t·m/(√v + ε)                       (λ: optional decay in [0, 1])
 *   AdamW   θ ← θ(1 − ηλ) − η_t·m/(√v + ε)                    (decoupled decay, uncorrected η)
 *           amsgrad: v̂ ← max(v̂, v), and √v̂ in place of √v
 *   Adamax  m as Adam;  u ← max(β2u, |g| + ε);  θ ← (1−λ)θ − η/(1−β1^t)·m/u
 */
import { tf } from '../backend/tf';
import type { LRScheduler, LearningRate } from './scheduler';
import {
  Optimizer,
  checkOptions,
  decayed,
  oneMinusPow,
  type LeafUpdate,
  type OptimizerOptions,
  type StepScalars,
} from './optimizer';
import { optionalNumber } from './validate';

type Slots = Readonly<Record<string, tf.Tensor>>;

const BETA = { min: 0, max: 1, maxOpen: true } as const;
const EPS = { min: 0, minOpen: true } as const;

/** Options of Adam. */
export interface AdamOptions extends OptimizerOptions {
  /** The learning rate (default 1e-3). */
  lr?: LearningRate | LRScheduler;
  /** Decay of the first moment, in [0, 1) (default 0.9). */
  beta1?: number;
  /** Decay of the second moment, in [0, 1) (default 0.999). */
  beta2?: number;
  /** Added to √v (> 0, default 1e-8). */
  eps?: number;
  /** Weight decay λ in [0, 1]: θ ← (1−λ)θ before the step (default none; see AdamW for decoupled decay). */
  weightDecay?: number | null;
}

interface AdamScalars extends StepScalars {
  /** η_t = η·√(1−β2^t)/(1−β1^t). */
  readonly lrT: tf.Tensor;
  /** AdamW's 1 − ηλ. */
  readonly keep: tf.Tensor | null;
}

function adamMoments(o: { beta1: number; beta2: number }, g: tf.Tensor, slots: Slots) {
  const m = tf.add(tf.mul(slots.m, o.beta1), tf.mul(g, 1 - o.beta1));
  const v = tf.add(tf.mul(slots.v, o.beta2), tf.mul(tf.square(g), 1 - o.beta2));
  return { m, v };
}

function biasCorrectedLr(base: StepScalars, beta1: number, beta2: number): tf.Tensor {
  return tf.div(tf.mul(base.lr, tf.sqrt(oneMinusPow(beta2, base.t))), oneMinusPow(beta1, base.t));
}

/** Adam with standard bias correction. Slots: `m`, `v`. */
export class Adam extends Optimizer<AdamScalars> {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number | null;

  constructor(options: AdamOptions = {}) {
    const o = checkOptions('Adam', options, ['beta1', 'beta2', 'eps', 'weightDecay']);
    const beta1 = optionalNumber('Adam', 'beta1', o.beta1, BETA, 0.9);
    const beta2 = optionalNumber('Adam', 'beta2', o.beta2, BETA, 0.999);
    const eps = optionalNumber('Adam', 'eps', o.eps, EPS, 1e-8);
    const wd = optionalNumber('Adam', 'weightDecay', o.weightDecay, { min: 0, max: 1 }, null);
    super('Adam', o, 1e-3, ['m', 'v']);
    this.beta1 = beta1;
    this.beta2 = beta2;
    this.eps = eps;
    this.weightDecay = wd;
  }

  protected override prepare(base: StepScalars): AdamScalars {
    return { ...base, lrT: biasCorrectedLr(base, this.beta1, this.beta2), keep: null };
  }

  protected rule(p: tf.Tensor, g: tf.Tensor, slots: Slots, s: AdamScalars): LeafUpdate {
    const { m, v } = adamMoments(this, g, slots);
    const step = tf.div(tf.mul(s.lrT, m), tf.add(tf.sqrt(v), this.eps));
    return { param: tf.sub(decayed(p, this.weightDecay), step), slots: { m, v } };
  }
}

/** Options of AdamW. */
export interface AdamWOptions extends Omit<AdamOptions, 'weightDecay'> {
  /** Decoupled weight decay λ ≥ 0: θ ← θ(1 − ηλ) (default 1e-2). */
  weightDecay?: number;
  /** Use the running maximum of v (AMSGrad; default false). */
  amsgrad?: boolean;
}

/** Adam with decoupled weight decay, optionally AMSGrad. Slots: `m`, `v` (and `vHat` with amsgrad). */
export class AdamW extends Optimizer<AdamScalars> {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  readonly amsgrad: boolean;

  constructor(options: AdamWOptions = {}) {
    const o = checkOptions('AdamW', options, ['beta1', 'beta2', 'eps', 'weightDecay', 'amsgrad']);
    const beta1 = optionalNumber('AdamW', 'beta1', o.beta1, BETA, 0.9);
    const beta2 = optionalNumber('AdamW', 'beta2', o.beta2, BETA, 0.999);
    const eps = optionalNumber('AdamW', 'eps', o.eps, EPS, 1e-8);
    const wd = optionalNumber('AdamW', 'weightDecay', o.weightDecay, { min: 0 }, 1e-2);
    const amsgrad = o.amsgrad === true;
    super('AdamW', o, 1e-3, amsgrad ? ['m', 'v', 'vHat'] : ['m', 'v']);
    this.beta1 = beta1;
    this.beta2 = beta2;
    this.eps = eps;
    this.weightDecay = wd;
    this.amsgrad = amsgrad;
  }

  protected override prepare(base: StepScalars): AdamScalars {
    const keep = this.weightDecay === 0 ? null : tf.sub(1, tf.mul(base.lr, this.weightDecay));
    return { ...base, lrT: biasCorrectedLr(base, this.beta1, this.beta2), keep };
  }

  protected rule(p: tf.Tensor, g: tf.Tensor, slots: Slots, s: AdamScalars): LeafUpdate {
    const { m, v } = adamMoments(this, g, slots);
    const vHat = this.amsgrad ? tf.maximum(slots.vHat, v) : null;
    const step = tf.div(tf.mul(s.lrT, m), tf.add(tf.sqrt(vHat ?? v), this.eps));
    const param = tf.sub(s.keep ? tf.mul(p, s.keep) : p, step);
    return { param, slots: vHat ? { m, v, vHat } : { m, v } };
  }
}

/** Options of Adamax. */
export interface AdamaxOptions extends Omit<AdamOptions, 'lr'> {
  /** The learning rate (default 2e-3). */
  lr?: LearningRate | LRScheduler;
}

interface AdamaxScalars extends StepScalars {
  /** η/(1−β1^t). */
  readonly lrT: tf.Tensor;
}

/** Adamax, Adam with the infinity norm (PyTorch's form, ε inside the max). Slots: `m`, `u`. */
export class Adamax extends Optimizer<AdamaxScalars> {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number | null;

  constructor(options: AdamaxOptions = {}) {
    const o = checkOptions('Adamax', options, ['beta1', 'beta2', 'eps', 'weightDecay']);
    const beta1 = optionalNumber('Adamax', 'beta1', o.beta1, BETA, 0.9);
    const beta2 = optionalNumber('Adamax', 'beta2', o.beta2, BETA, 0.999);
    const eps = optionalNumber('Adamax', 'eps', o.eps, EPS, 1e-8);
    const wd = optionalNumber('Adamax', 'weightDecay', o.weightDecay, { min: 0, max: 1 }, null);
    super('Adamax', o, 2e-3, ['m', 'u']);
    this.beta1 = beta1;
    this.beta2 = beta2;
    this.eps = eps;
    this.weightDecay = wd;
  }

  protected override prepare(base: StepScalars): AdamaxScalars {
    return { ...base, lrT: tf.div(base.lr, oneMinusPow(this.beta1, base.t)) };
  }

  protected rule(p: tf.Tensor, g: tf.Tensor, slots: Slots, s: AdamaxScalars): LeafUpdate {
    const m = tf.add(tf.mul(slots.m, this.beta1), tf.mul(g, 1 - this.beta1));
    const u = tf.maximum(tf.mul(slots.u, this.beta2), tf.add(tf.abs(g), this.eps));
    const step = tf.div(tf.mul(s.lrT, m), u);
    return { param: tf.sub(decayed(p, this.weightDecay), step), slots: { m, u } };
  }
}
