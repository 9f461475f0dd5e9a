/**
 * LRScheduler, the base of every learning-rate schedule (spec §8.3), and ConstantLR. A scheduler
 * is a graph Node whose counters are LongTermStates (so they are saved with the optimizer):
 * `lastEpoch` (starts at −1, advanced by `stepEpoch()`) and, for call-based schedules, `lastCall`
 * (advanced by `stepCall()`, which `Optimizer.update` calls once per applied step). The index of
 * the current learning rate is `last + 1`. Formulas are written once, on float32 scalar tensors,
 * so they work unchanged inside jit; `at(i)` evaluates one for inspection.
 */
import { tf } from '../backend/tf';
import { ArgumentError, describeValue } from '../errors';
import { Node } from '../graph';
import { LongTermState, State } from '../state';
import { checkChoice, checkNumber } from './validate';

/** A base learning rate: a number, or a State holding a number or a one-element tensor (so it can be changed while training). */
export type LearningRate = number | State<number> | State<tf.Tensor>;

/**
 * What advances a schedule's index: `'epoch'` (the user calls `stepEpoch()`, e.g. once per
 * epoch) or `'call'` (every optimizer update calls `stepCall()`).
 */
export type CountBy = 'epoch' | 'call';

/** Options shared by the schedules. */
export interface SchedulerOptions {
  /** What advances the index (default: per schedule, `'epoch'` for most; see CountBy). */
  countBy?: CountBy;
}

function counter(name: string): LongTermState {
  return new LongTermState(tf.scalar(-1, 'int32'), { name });
}

/** `i` as a float32 scalar tensor (a number, or a one-element tensor of any dtype). */
function toIndex(owner: string, i: number | tf.Tensor): tf.Tensor {
  if (typeof i === 'number') return tf.scalar(checkNumber(owner, 'index', i, { min: 0 }));
  if (i instanceof tf.Tensor && i.size === 1) return tf.cast(tf.reshape(i, []), 'float32');
  throw new ArgumentError(
    `${owner}: the index must be a number ≥ 0 or a one-element tensor, got ${describeValue(i)}`,
  );
}

/** Check a base learning rate (a number ≥ 0, or a State of a number / one-element tensor). */
export function checkLearningRate(owner: string, lr: unknown, name = 'lr'): LearningRate {
  if (lr instanceof State) {
    const v = lr.rawValue;
    if (typeof v === 'number' || (v instanceof tf.Tensor && v.size === 1))
      return lr as LearningRate;
    throw new ArgumentError(
      `${owner}: a State given as ${name} must hold a number or a one-element tensor, got ${describeValue(v)}`,
    );
  }
  return checkNumber(owner, name, lr, { min: 0 });
}

/** Base class of the learning-rate schedules: see the file header. */
export abstract class LRScheduler extends Node {
  /** The base learning rate (null for schedules defined by a table, like PiecewiseConstantLR). */
  readonly baseLr: LearningRate | null;
  /** What advances the index. */
  readonly countBy: CountBy;
  /** Number of completed epochs − 1 (int32 scalar, −1 at the start). */
  readonly lastEpoch: LongTermState;
  /** Number of optimizer updates − 1 (int32 scalar, −1 at the start); null unless call-based. */
  readonly lastCall: LongTermState | null;

  protected constructor(baseLr: LearningRate | null, countBy: CountBy) {
    super();
    this.baseLr = baseLr;
    this.countBy = countBy;
    this.lastEpoch = counter('lastEpoch');
    this.lastCall = countBy === 'call' ? counter('lastCall') : null;
  }

  /** The learning rate at index `i` (a float32 scalar tensor; `i` is a float32 scalar tensor). */
  protected abstract formula(i: tf.Tensor): tf.Tensor;

  /** Advance the epoch counter by one (the index of epoch-based schedules). */
  stepEpoch(): void {
    const s = this.lastEpoch;
    s.value = tf.tidy(() => tf.add(s.value, tf.scalar(1, 'int32')));
  }

  /**
   * Advance the call counter of a call-based schedule (a no-op for epoch-based ones).
   * `Optimizer.update` calls it once per applied step; `by` may be a tensor (0 or 1), so a
   * skipped step is not counted without reading data back.
   */
  stepCall(by: number | tf.Tensor = 1): void {
    const s = this.lastCall;
    if (s === null) return;
    s.value = tf.tidy(() =>
      tf.add(s.value, typeof by === 'number' ? tf.scalar(by, 'int32') : tf.cast(by, 'int32')),
    );
  }

  /** The current index (last + 1) as a float32 scalar tensor. */
  index(): tf.Tensor {
    const s = this.lastCall ?? this.lastEpoch;
    return tf.tidy(() => tf.add(tf.cast(s.value, 'float32'), 1));
  }

  /** The learning rate at index `i` (default: the current index) as a float32 scalar tensor the caller owns. */
  call(i?: number | tf.Tensor): tf.Tensor {
    const name = this.constructor.name;
    return tf.tidy(() => this.formula(i === undefined ? this.index() : toIndex(name, i)));
  }

  /** The learning rate at index `i` (default: the current one) as a number, for logging and tests. */
  at(i?: number): number {
    return tf.tidy(() => {
      const lr = this.call(i);
      return lr.dataSync()[0];
    });
  }

  /** The base learning rate as a float32 scalar tensor. */
  protected baseLrTensor(): tf.Tensor {
    const b = this.baseLr;
    if (b === null) {
      throw new ArgumentError(`${this.constructor.name}: this schedule has no base learning rate`);
    }
    if (typeof b === 'number') return tf.scalar(b);
    const v: number | tf.Tensor = b.value;
    return typeof v === 'number' ? tf.scalar(v) : tf.cast(tf.reshape(v, []), 'float32');
  }
}

/** Options of ConstantLR. */
export interface ConstantLROptions extends SchedulerOptions {
  /** The learning rate (a number ≥ 0, or a State to change it by hand). */
  lr: LearningRate;
}

/** A constant learning rate: `lr` at every index. */
export class ConstantLR extends LRScheduler {
  constructor(options: ConstantLROptions) {
    const lr = checkLearningRate('ConstantLR', options?.lr);
    super(lr, checkChoice('ConstantLR', 'countBy', options.countBy, ['epoch', 'call'], 'epoch'));
  }

  protected formula(): tf.Tensor {
    return this.baseLrTensor();
  }
}

/** A scheduler as given (a number or a State becomes a ConstantLR). */
export function toScheduler(owner: string, lr: unknown): LRScheduler {
  if (lr instanceof LRScheduler) return lr;
  return new ConstantLR({ lr: checkLearningRate(owner, lr) });
}
