/**
 * DataLoader: batches of an in-memory labelled dataset (host arrays), reshuffled at every epoch
 * from a seeded RandomState. Iterating the loader runs one epoch; each batch is a pair of new
 * tensors `{ x: [B, ...featureShape] float32, y: [B] int32 }` that the caller disposes.
 *
 *   const loader = new DataLoader(train, { batchSize: 128, seed: 0 });
 *   for (let epoch = 0; epoch < 3; epoch++) for (const { x, y } of loader) { ...; tf.dispose([x, y]); }
 */
import { tf } from '../backend/tf';
import { ArgumentError } from '../errors';
import { RandomState, type SeedOrKey } from '../random';
import { checkInteger } from './checks';

/** An in-memory labelled dataset: `size` examples of `featureShape`, row-major in `features`. */
export interface LabelledData {
  readonly features: Float32Array;
  readonly labels: Int32Array;
  readonly featureShape: readonly number[];
  readonly size: number;
}

/** A batch of examples: features [B, ...featureShape] (float32) and labels [B] (int32). */
export interface LabelledBatch {
  readonly x: tf.Tensor;
  readonly y: tf.Tensor1D;
}

/** Options of DataLoader. */
export interface DataLoaderOptions {
  batchSize: number;
  /** Draw a new order of the examples at every epoch (default true). */
  shuffle?: boolean;
  /** Seed of the shuffling stream (default 0). */
  seed?: SeedOrKey;
  /** Skip the last, smaller batch of an epoch (default false). */
  dropLast?: boolean;
}

/** The examples at `indices` as a batch of new tensors. */
export function gatherBatch(data: LabelledData, indices: ArrayLike<number>): LabelledBatch {
  const width = data.features.length / data.size;
  const x = new Float32Array(indices.length * width);
  const y = new Int32Array(indices.length);
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k];
    x.set(data.features.subarray(i * width, (i + 1) * width), k * width);
    y[k] = data.labels[i];
  }
  return {
    x: tf.tensor(x, [indices.length, ...data.featureShape], 'float32'),
    y: tf.tensor1d(y, 'int32'),
  };
}

/** Batches of a dataset, one epoch per iteration, shuffled per epoch. */
export class DataLoader implements Iterable<LabelledBatch> {
  readonly batchSize: number;
  readonly shuffle: boolean;
  readonly dropLast: boolean;
  /** The shuffling stream: each epoch takes one permutation from it. */
  readonly rng: RandomState;

  constructor(
    readonly data: LabelledData,
    options: DataLoaderOptions,
  ) {
    this.batchSize = checkInteger('DataLoader', 'batchSize', options.batchSize);
    this.shuffle = options.shuffle ?? true;
    this.dropLast = options.dropLast ?? false;
    if (this.dropLast && this.batchSize > data.size) {
      throw new ArgumentError(
        `DataLoader: batchSize ${this.batchSize} is larger than the dataset (${data.size} examples) ` +
          `and dropLast is set, so an epoch would have no batch`,
      );
    }
    this.rng = new RandomState(options.seed ?? 0, { name: 'DataLoader.rng' });
  }

  /** Number of batches per epoch. */
  get numBatches(): number {
    const n = this.data.size / this.batchSize;
    return this.dropLast ? Math.floor(n) : Math.ceil(n);
  }

  /** One epoch of batches (a new order if shuffling). */
  *epoch(): Generator<LabelledBatch, void, undefined> {
    const order = this.order();
    for (let k = 0; k < this.numBatches; k++) {
      yield gatherBatch(this.data, order.subarray(k * this.batchSize, (k + 1) * this.batchSize));
    }
  }

  [Symbol.iterator](): Iterator<LabelledBatch> {
    return this.epoch();
  }

  private order(): Int32Array {
    const n = this.data.size;
    if (!this.shuffle) return Int32Array.from({ length: n }, (_, i) => i);
    const perm = this.rng.permutation(n);
    const order = Int32Array.from(perm.dataSync());
    perm.dispose();
    return order;
  }
}
