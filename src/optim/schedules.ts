/**
 * The learning-rate schedules of spec §8.3 and a linear warmup. Each is an LRScheduler whose
 * formula maps the index i (epochs or optimizer calls, see CountBy) to a learning rate:
 *
 *   StepLR                       lr·γ^⌊i/stepSize⌋
 *   MultiStepLR                  lr·γ^p, p = number of milestones ≤ i
 *   ExponentialLR                lr·γ^i
 *   CosineAnnealingLR            η_min + (lr − η_min)(1 + cos(π i/T_max))/2
 *   CosineAnnealingWarmRestarts  cosine annealing restarted after T_0, T_0·T_mult, … epochs (call-based)
 *   ExponentialDecayLR           lr·rate^(i/decaySteps) (call-based)
 *   InverseTimeDecayLR           lr/(1 + rate·i/decaySteps)  (⌊i/decaySteps⌋ with staircase)
 *   PolynomialDecayLR            (1 − min(i, steps)/steps)^power·(lr − final) + final
 *   PiecewiseConstantLR          values[number of boundaries < i]
 *   WarmupLR                     linear ramp to a schedule's first value, then the schedule shifted by the warmup
 */
import { tf } from '../backend/tf';
import { ArgumentError, describeValue } from '../errors';
import {
  LRScheduler,
  checkLearningRate,
  toScheduler,
  type CountBy,
  type LearningRate,
  type SchedulerOptions,
} from './scheduler';
import { checkChoice, checkNumber, optionalNumber } from './validate';

const COUNT_BY: readonly CountBy[] = ['epoch', 'call'];

function countBy(owner: string, options: SchedulerOptions, fallback: CountBy): CountBy {
  return checkChoice(owner, 'countBy', options.countBy, COUNT_BY, fallback);
}

function requireOptions<O>(owner: string, options: O): O {
  if (options === null || typeof options !== 'object') {
    throw new ArgumentError(`${owner}: expected an options object, got ${describeValue(options)}`);
  }
  return options;
}

/** base^e for a number base ≥ 0 and a float32 scalar exponent (0^0 = 1). */
function pow(base: number, e: tf.Tensor): tf.Tensor {
  return tf.pow(tf.scalar(base), e);
}

/** A strictly increasing list of numbers ≥ 0 (milestones, boundaries). */
function increasing(owner: string, name: string, list: unknown, integer: boolean): number[] {
  if (!Array.isArray(list)) {
    throw new ArgumentError(
      `${owner}: ${name} must be an array of numbers, got ${describeValue(list)}`,
    );
  }
  list.forEach((v, k) => {
    checkNumber(owner, `${name}[${k}]`, v, { min: 0, integer });
    if (k > 0 && !(v > list[k - 1])) {
      throw new ArgumentError(
        `${owner}: ${name} must be strictly increasing, got ${JSON.stringify(list)}`,
      );
    }
  });
  return [...(list as number[])];
}

/** Options of StepLR. */
export interface StepLROptions extends SchedulerOptions {
  lr: LearningRate;
  /** Decay every `stepSize` indices (an integer ≥ 1). */
  stepSize: number;
  /** Decay factor in [0, 1] (default 0.1). */
  gamma?: number;
}

/** `lr·γ^⌊i/stepSize⌋` (epoch-based by default). */
export class StepLR extends LRScheduler {
  readonly stepSize: number;
  readonly gamma: number;

  constructor(options: StepLROptions) {
    const o = requireOptions('StepLR', options);
    const lr = checkLearningRate('StepLR', o.lr);
    const stepSize = checkNumber('StepLR', 'stepSize', o.stepSize, { min: 1, integer: true });
    const gamma = optionalNumber('StepLR', 'gamma', o.gamma, { min: 0, max: 1 }, 0.1);
    super(lr, countBy('StepLR', o, 'epoch'));
    this.stepSize = stepSize;
    this.gamma = gamma;
  }

  protected formula(i: tf.Tensor): tf.Tensor {
    return tf.mul(this.baseLrTensor(), pow(this.gamma, tf.floor(tf.div(i, this.stepSize))));
  }
}

/** Options of MultiStepLR. */
export interface MultiStepLROptions extends SchedulerOptions {
  lr: LearningRate;
  /** Indices at which to decay, strictly increasing integers ≥ 0. */
  milestones: readonly number[];
  /** Decay factor in [0, 1] (default 0.1). */
  gamma?: number;
}

/** `lr·γ^p` with p the number of milestones ≤ i (epoch-based by default). */
export class MultiStepLR extends LRScheduler {
  readonly milestones: readonly number[];
  readonly gamma: number;

  constructor(options: MultiStepLROptions) {
    const o = requireOptions('MultiStepLR', options);
    const lr = checkLearningRate('MultiStepLR', o.lr);
    const milestones = increasing('MultiStepLR', 'milestones', o.milestones, true);
    const gamma = optionalNumber('MultiStepLR', 'gamma', o.gamma, { min: 0, max: 1 }, 0.1);
    super(lr, countBy('MultiStepLR', o, 'epoch'));
    this.milestones = Object.freeze(milestones);
    this.gamma = gamma;
  }

  protected formula(i: tf.Tensor): tf.Tensor {
    if (this.milestones.length === 0) return this.baseLrTensor();
    const passed = tf.sum(tf.cast(tf.lessEqual(tf.tensor1d([...this.milestones]), i), 'float32'));
    return tf.mul(this.baseLrTensor(), pow(this.gamma, passed));
  }
}

/** Options of ExponentialLR. */
export interface ExponentialLROptions extends SchedulerOptions {
  lr: LearningRate;
  /** Factor per index, ≥ 0. */
  gamma: number;
}

/** `lr·γ^i` (epoch-based by default). */
export class ExponentialLR extends LRScheduler {
  readonly gamma: number;

  constructor(options: ExponentialLROptions) {
    const o = requireOptions('ExponentialLR', options);
    const lr = checkLearningRate('ExponentialLR', o.lr);
    const gamma = checkNumber('ExponentialLR', 'gamma', o.gamma, { min: 0 });
    super(lr, countBy('ExponentialLR', o, 'epoch'));
    this.gamma = gamma;
  }

  protected formula(i: tf.Tensor): tf.Tensor {
    return tf.mul(this.baseLrTensor(), pow(this.gamma, i));
  }
}

/** Options of CosineAnnealingLR. */
export interface CosineAnnealingLROptions extends SchedulerOptions {
  lr: LearningRate;
  /** Half period: the index at which the rate reaches etaMin (> 0). */
  tMax: number;
  /** The minimum rate (default 0). */
  etaMin?: number;
}

/** η_min + (lr − η_min)(1 + cos(π i/T_max))/2, from (1 + cos(π·x))/2. */
function cosineAnneal(lr: tf.Tensor, etaMin: number, x: tf.Tensor): tf.Tensor {
  const half = tf.div(tf.add(1, tf.cos(tf.mul(Math.PI, x))), 2);
  return tf.add(etaMin, tf.mul(tf.sub(lr, etaMin), half));
}

/** `η_min + (lr − η_min)(1 + cos(π i/T_max))/2` (epoch-based by default; periodic past T_max, as in the spec). */
export class CosineAnnealingLR extends LRScheduler {
  readonly tMax: number;
  readonly etaMin: number;

  constructor(options: CosineAnnealingLROptions) {
    const o = requireOptions('CosineAnnealingLR', options);
    const lr = checkLearningRate('CosineAnnealingLR', o.lr);
    const tMax = checkNumber('CosineAnnealingLR', 'tMax', o.tMax, { min: 0, minOpen: true });
    const etaMin = optionalNumber('CosineAnnealingLR', 'etaMin', o.etaMin, { min: 0 }, 0);
    super(lr, countBy('CosineAnnealingLR', o, 'epoch'));
    this.tMax = tMax;
    this.etaMin = etaMin;
  }

  protected formula(i: tf.Tensor): tf.Tensor {
    return cosineAnneal(this.baseLrTensor(), this.etaMin, tf.div(i, this.tMax));
  }
}

/** Options of CosineAnnealingWarmRestarts. */
export interface CosineAnnealingWarmRestartsOptions extends SchedulerOptions {
  lr: LearningRate;
  /** Optimizer calls per epoch (an integer ≥ 1). */
  numCallPerEpoch: number;
  /** Epochs until the first restart (an integer ≥ 1). */
  t0: number;
  /** Growth factor of the period after each restart (an integer ≥ 1, default 1). */
  tMult?: number;
  /** The minimum rate (default 0). */
  etaMin?: number;
}

/**
 * Cosine annealing with warm restarts (SGDR), call-based by default: epoch = ⌊i/numCallPerEpoch⌋;
 * the k-th period lasts T_0·T_mult^k epochs and anneals from lr to η_min.
 */
export class CosineAnnealingWarmRestarts extends LRScheduler {
  readonly numCallPerEpoch: number;
  readonly t0: number;
  readonly tMult: number;
  readonly etaMin: number;

  constructor(options: CosineAnnealingWarmRestartsOptions) {
    const name = 'CosineAnnealingWarmRestarts';
    const o = requireOptions(name, options);
    const lr = checkLearningRate(name, o.lr);
    const perEpoch = checkNumber(name, 'numCallPerEpoch', o.numCallPerEpoch, {
      min: 1,
      integer: true,
    });
    const t0 = checkNumber(name, 't0', o.t0, { min: 1, integer: true });
    const tMult = optionalNumber(name, 'tMult', o.tMult, { min: 1, integer: true }, 1);
    const etaMin = optionalNumber(name, 'etaMin', o.etaMin, { min: 0 }, 0);
    super(lr, countBy(name, o, 'call'));
    this.numCallPerEpoch = perEpoch;
    this.t0 = t0;
    this.tMult = tMult;
    this.etaMin = etaMin;
  }

  protected formula(i: tf.Tensor): tf.Tensor {
    const { t0, tMult: m } = this;
    const epoch = tf.floor(tf.div(i, this.numCallPerEpoch));
    let tCur: tf.Tensor;
    let tI: tf.Tensor;
    if (m === 1) {
      tCur = tf.mod(epoch, t0);
      tI = tf.scalar(t0);
    } else {
      // n = ⌊log_m(epoch/T_0·(m−1) + 1)⌋, then corrected by one either way against float32
      // rounding: period n starts at epoch T_0(m^n − 1)/(m − 1).
      const start = (n: tf.Tensor) => tf.mul(t0 / (m - 1), tf.sub(pow(m, n), 1));
      let n = tf.floor(tf.div(tf.log(tf.add(tf.mul(epoch, (m - 1) / t0), 1)), Math.log(m)));
      n = tf.where(tf.lessEqual(start(tf.add(n, 1)), epoch), tf.add(n, 1), n);
      n = tf.where(tf.greater(start(n), epoch), tf.sub(n, 1), n);
      tCur = tf.sub(epoch, start(n));
      tI = tf.mul(t0, pow(m, n));
    }
    return cosineAnneal(this.baseLrTensor(), this.etaMin, tf.div(tCur, tI));
  }
}

/** Options of ExponentialDecayLR. */
export interface ExponentialDecayLROptions extends SchedulerOptions {
  lr: LearningRate;
  /** Indices per factor of `decayRate` (> 0). */
  decaySteps: number;
  /** Decay factor per `decaySteps` indices (≥ 0). */
  decayRate: number;
}

/** `lr·rate^(i/decaySteps)` (call-based by default). */
export class ExponentialDecayLR extends LRScheduler {
  readonly decaySteps: number;
  readonly decayRate: number;

  constructor(options: ExponentialDecayLROptions) {
    const name = 'ExponentialDecayLR';
    const o = requireOptions(name, options);
    const lr = checkLearningRate(name, o.lr);
    const steps = checkNumber(name, 'decaySteps', o.decaySteps, { min: 0, minOpen: true });
    const rate = checkNumber(name, 'decayRate', o.decayRate, { min: 0 });
    super(lr, countBy(name, o, 'call'));
    this.decaySteps = steps;
    this.decayRate = rate;
  }

  protected formula(i: tf.Tensor): tf.Tensor {
    return tf.mul(this.baseLrTensor(), pow(this.decayRate, tf.div(i, this.decaySteps)));
  }
}

/** Options of InverseTimeDecayLR. */
export interface InverseTimeDecayLROptions extends SchedulerOptions {
  lr: LearningRate;
  /** Index scale (> 0). */
  decaySteps: number;
  /** Decay rate (≥ 0). */
  decayRate: number;
  /** Use ⌊i/decaySteps⌋ (default false). */
  staircase?: boolean;
}

/** `lr/(1 + rate·i/decaySteps)`, or with ⌊i/decaySteps⌋ when `staircase` (epoch-based by default). */
export class InverseTimeDecayLR extends LRScheduler {
  readonly decaySteps: number;
  readonly decayRate: number;
  readonly staircase: boolean;

  constructor(options: InverseTimeDecayLROptions) {
    const name = 'InverseTimeDecayLR';
    const o = requireOptions(name, options);
    const lr = checkLearningRate(name, o.lr);
    const steps = checkNumber(name, 'decaySteps', o.decaySteps, { min: 0, minOpen: true });
    const rate = checkNumber(name, 'decayRate', o.decayRate, { min: 0 });
    super(lr, countBy(name, o, 'epoch'));
    this.decaySteps = steps;
    this.decayRate = rate;
    this.staircase = o.staircase === true;
  }

  protected formula(i: tf.Tensor): tf.Tensor {
    const x = tf.div(i, this.decaySteps);
    const k = this.staircase ? tf.floor(x) : x;
    return tf.div(this.baseLrTensor(), tf.add(1, tf.mul(this.decayRate, k)));
  }
}

/** Options of PolynomialDecayLR. */
export interface PolynomialDecayLROptions extends SchedulerOptions {
  lr: LearningRate;
  /** The index at which the rate reaches `finalLr` (> 0). */
  decaySteps: number;
  /** The rate from `decaySteps` on (≥ 0). */
  finalLr: number;
  /** Exponent of the decay (> 0, default 1: linear). */
  power?: number;
}

/** `(1 − i'/steps)^power·(lr − final) + final` with i' = min(i, steps) (epoch-based by default). */
export class PolynomialDecayLR extends LRScheduler {
  readonly decaySteps: number;
  readonly finalLr: number;
  readonly power: number;

  constructor(options: PolynomialDecayLROptions) {
    const name = 'PolynomialDecayLR';
    const o = requireOptions(name, options);
    const lr = checkLearningRate(name, o.lr);
    const steps = checkNumber(name, 'decaySteps', o.decaySteps, { min: 0, minOpen: true });
    const finalLr = checkNumber(name, 'finalLr', o.finalLr, { min: 0 });
    const power = optionalNumber(name, 'power', o.power, { min: 0, minOpen: true }, 1);
    super(lr, countBy(name, o, 'epoch'));
    this.decaySteps = steps;
    this.finalLr = finalLr;
    this.power = power;
  }

  protected formula(i: tf.Tensor): tf.Tensor {
    const frac = tf.sub(1, tf.div(tf.minimum(i, this.decaySteps), this.decaySteps));
    const lr = this.baseLrTensor();
    return tf.add(tf.mul(tf.pow(frac, this.power), tf.sub(lr, this.finalLr)), this.finalLr);
  }
}

/** Options of PiecewiseConstantLR. */
export interface PiecewiseConstantLROptions extends SchedulerOptions {
  /** Strictly increasing indices ≥ 0 where the rate changes. */
  boundaries: readonly number[];
  /** The rates: one more than there are boundaries, each ≥ 0. */
  values: readonly number[];
}

/** `values[k]` with k the number of boundaries < i (epoch-based by default). */
export class PiecewiseConstantLR extends LRScheduler {
  readonly boundaries: readonly number[];
  readonly values: readonly number[];

  constructor(options: PiecewiseConstantLROptions) {
    const name = 'PiecewiseConstantLR';
    const o = requireOptions(name, options);
    const boundaries = increasing(name, 'boundaries', o.boundaries, false);
    if (!Array.isArray(o.values) || o.values.length !== boundaries.length + 1) {
      throw new ArgumentError(
        `${name}: values must have one more entry than boundaries (${boundaries.length + 1}), got ${describeValue(o.values)}`,
      );
    }
    o.values.forEach((v, k) => checkNumber(name, `values[${k}]`, v, { min: 0 }));
    super(null, countBy(name, o, 'epoch'));
    this.boundaries = Object.freeze(boundaries);
    this.values = Object.freeze([...o.values]);
  }

  protected formula(i: tf.Tensor): tf.Tensor {
    const values = tf.tensor1d([...this.values]);
    if (this.boundaries.length === 0) return tf.reshape(tf.slice(values, 0, 1), []);
    const k = tf.sum(tf.cast(tf.greater(i, tf.tensor1d([...this.boundaries])), 'int32'));
    return tf.reshape(tf.gather(values, tf.reshape(k, [1])), []);
  }
}

/** Options of WarmupLR. */
export interface WarmupLROptions extends SchedulerOptions {
  /** Length of the warmup in indices (an integer ≥ 1). */
  warmupSteps: number;
  /** The schedule after the warmup (or a constant rate); it is evaluated at i − warmupSteps. */
  schedule: LRScheduler | LearningRate;
  /** The fraction of the first rate at index 0 (in [0, 1], default 0). */
  startFactor?: number;
}

/**
 * Linear warmup wrapping another schedule: for i < W the rate ramps linearly from
 * `startFactor·s(0)` to `s(0)` (s = the wrapped schedule), then it is `s(i − W)`. The index is
 * this scheduler's own (countBy defaults to the wrapped schedule's); the wrapped schedule's
 * counters are not used.
 */
export class WarmupLR extends LRScheduler {
  readonly warmupSteps: number;
  readonly startFactor: number;
  readonly schedule: LRScheduler;

  constructor(options: WarmupLROptions) {
    const name = 'WarmupLR';
    const o = requireOptions(name, options);
    const steps = checkNumber(name, 'warmupSteps', o.warmupSteps, { min: 1, integer: true });
    const start = optionalNumber(name, 'startFactor', o.startFactor, { min: 0, max: 1 }, 0);
    if (!(o.schedule instanceof LRScheduler)) checkLearningRate(name, o.schedule, 'schedule');
    checkChoice(name, 'countBy', o.countBy, COUNT_BY, 'epoch');
    const schedule = toScheduler(name, o.schedule);
    super(null, countBy(name, o, schedule.countBy));
    this.warmupSteps = steps;
    this.startFactor = start;
    this.schedule = schedule;
  }

  protected formula(i: tf.Tensor): tf.Tensor {
    const w = this.warmupSteps;
    const first = this.schedule.call(tf.scalar(0));
    const ramp = tf.add(this.startFactor, tf.mul(1 - this.startFactor, tf.div(i, w)));
    const after = this.schedule.call(tf.maximum(tf.sub(i, w), 0));
    return tf.where(tf.less(i, w), tf.mul(first, ramp), after);
  }
}
