/**
 * SequenceTask: the base of the synthetic tasks (evidence accumulation, delayed match-to-sample,
 * copying). A task is a seeded data generator: `batch(B)` draws B fresh trials from the training
 * stream, `batches(B, n)` iterates, and `testSet(n)` is a fixed set drawn from a separate stream,
 * the same on every call (and `testSet(m)` is a prefix of `testSet(n)` for m ≤ n).
 *
 * Trials are generated on the host from Threefry keys (one key per trial, folded from the batch
 * key), so a seed gives the same data on every backend. Inputs are time-major float32
 * `x: [T, B, nIn]`; the caller owns and disposes the returned tensors.
 */
import type { tf } from '../backend/tf';
import { foldIn, RandomState, toKey, Xoshiro128, type Key, type SeedOrKey } from '../random';
import { checkInteger, checkPositive } from './checks';

/** One batch of trials: inputs `x` [T, B, nIn] (float32) and the labels `y` (int32). */
export interface TaskBatch {
  readonly x: tf.Tensor3D;
  readonly y: tf.Tensor;
}

/** Options shared by every task. */
export interface TaskOptions {
  /** Seed (integer) or key of the task's streams; default 0, so a task is reproducible by default. */
  seed?: SeedOrKey;
  /** Time step in ms, used to turn rates (Hz) into spike probabilities per step; default 1. */
  dt?: number;
}

/** Fold-in tags that make the training and test streams independent. */
const TRAIN_STREAM = 1;
const TEST_STREAM = 2;

/** A seeded, batched generator of trials of T steps. */
export abstract class SequenceTask<B extends TaskBatch = TaskBatch> {
  /** Number of time steps of a trial. */
  abstract readonly T: number;
  /** Number of input channels (last axis of x). */
  abstract readonly nIn: number;
  /** Number of output classes. */
  abstract readonly nOut: number;
  /**
   * The steps `[start, end)` on which the answer is due (recall, test or copy period): where a
   * loss or a readout average should look; the steps before are the warm-up.
   */
  abstract readonly responseWindow: readonly [number, number];
  /** Time step in ms. */
  readonly dt: number;
  /** The training stream: each batch takes one split of its key (reseed it to restart). */
  readonly rng: RandomState;
  private readonly testKey: Key;

  constructor(
    protected readonly where: string,
    options: TaskOptions,
  ) {
    const root = toKey(options.seed ?? 0, `${where}: seed`);
    this.dt = checkPositive(where, 'dt', options.dt ?? 1);
    this.rng = new RandomState(foldIn(root, TRAIN_STREAM), { name: `${where}.rng` });
    this.testKey = foldIn(root, TEST_STREAM);
  }

  /** `batchSize` fresh trials from the training stream. */
  batch(batchSize: number): B {
    checkInteger(`${this.where}.batch`, 'batchSize', batchSize);
    const key = this.rng.splitKey();
    return this.generate(batchSize, (b) => new Xoshiro128(foldIn(key, b)));
  }

  /** `nBatches` batches (default: without end) from the training stream, drawn lazily. */
  *batches(batchSize: number, nBatches = Infinity): Generator<B, void, undefined> {
    checkInteger(`${this.where}.batches`, 'batchSize', batchSize);
    if (nBatches !== Infinity) checkInteger(`${this.where}.batches`, 'nBatches', nBatches, 0);
    for (let i = 0; i < nBatches; i++) yield this.batch(batchSize);
  }

  /** A fixed set of n trials from the test stream (independent of the training stream). */
  testSet(n: number): B {
    checkInteger(`${this.where}.testSet`, 'n', n);
    return this.generate(n, (b) => new Xoshiro128(foldIn(this.testKey, b)));
  }

  /** Generate `batchSize` trials; trial b draws only from `trialGen(b)`. */
  protected abstract generate(batchSize: number, trialGen: (b: number) => Xoshiro128): B;
}
