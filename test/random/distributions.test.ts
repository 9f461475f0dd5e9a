/**
 * The distributions: moments against theory (tolerances from the sample size), supports, shapes,
 * dtypes, tensor parameters, and typed errors for bad parameters.
 */
import { beforeEach, describe, expect, test } from 'vitest';
import { tf } from '../../src/backend/tf';
import { ArgumentError } from '../../src/errors';
import * as random from '../../src/random';
import { logGamma, ndtr } from '../../src/random';
import { counts, max, mean, meanTolerance, min, take, variance, varianceTolerance } from './stats';

const N = 100_000;

beforeEach(() => random.seed(2024));

function expectMoments(x: Float64Array, mu: number, sigma2: number, kurtosis = 3): void {
  expect(Math.abs(mean(x) - mu)).toBeLessThan(meanTolerance(Math.sqrt(sigma2), x.length));
  expect(Math.abs(variance(x) - sigma2)).toBeLessThan(
    varianceTolerance(sigma2, x.length, kurtosis),
  );
}

describe('uniform', () => {
  test('rand is U[0, 1): mean 1/2, variance 1/12, never 1', () => {
    const x = take(random.rand(N));
    expectMoments(x, 0.5, 1 / 12, 1.8);
    expect(min(x)).toBeGreaterThanOrEqual(0);
    expect(max(x)).toBeLessThan(1);
  });

  test('uniform(low, high) has mean (low+high)/2, variance (high−low)²/12 and stays in [low, high)', () => {
    const x = take(random.uniform(-2, 3, [N]));
    expectMoments(x, 0.5, 25 / 12, 1.8);
    expect(min(x)).toBeGreaterThanOrEqual(-2);
    expect(max(x)).toBeLessThan(3);
    // A range where float32 rounding could reach `high`.
    const y = take(random.uniform(1, 1.0000001, [1000]));
    expect(max(y)).toBeLessThan(1.0000001);
  });

  test('tensor bounds broadcast to size', () => {
    const low = tf.tensor1d([0, 10]);
    const high = tf.tensor1d([1, 20]);
    const x = random.uniform(low, high, [5000, 2]);
    expect(x.shape).toEqual([5000, 2]);
    const cols = take(tf.tidy(() => tf.mean(x, 0)));
    const all = take(x);
    expect(Math.abs(cols[0] - 0.5)).toBeLessThan(0.03);
    expect(Math.abs(cols[1] - 15)).toBeLessThan(0.3);
    expect(min(all)).toBeGreaterThanOrEqual(0);
    const inferred = random.uniform(low, high);
    expect(inferred.shape).toEqual([2]);
    inferred.dispose();
    expect(() => random.uniform(low, high, [3])).toThrow(/does not broadcast to size \[3\]/);
    tf.dispose([low, high]);
  });

  test('bad bounds are ArgumentErrors', () => {
    expect(() => random.uniform(2, 1, [3])).toThrow(ArgumentError);
    expect(() => random.uniform(0, Infinity, [3])).toThrow(/high/);
  });
});

describe('normal', () => {
  test('randn and normal(loc, scale) have the right mean and variance', () => {
    expectMoments(take(random.randn(N)), 0, 1);
    expectMoments(take(random.normal(3, 2, [N])), 3, 4);
  });

  test('tensor loc / scale', () => {
    const loc = tf.tensor1d([-5, 5]);
    const x = random.normal(loc, 0.5, [4000, 2]);
    const m = take(tf.tidy(() => tf.mean(x, 0)));
    x.dispose();
    expect(Math.abs(m[0] + 5)).toBeLessThan(0.05);
    expect(Math.abs(m[1] - 5)).toBeLessThan(0.05);
    loc.dispose();
  });

  test('negative scale is an ArgumentError naming scale', () => {
    expect(() => random.normal(0, -1, [3])).toThrow(/normal: scale must be a finite number ≥ 0/);
    expect(() => random.normal(NaN, 1, [3])).toThrow(ArgumentError);
    const loc = tf.zeros([3]);
    expect(() => random.normal(loc, -1, [3])).toThrow(/scale/);
    loc.dispose();
  });
});

describe('bernoulli', () => {
  test('is a bool tensor, true with probability p', () => {
    const b = random.bernoulli(0.3, [N]);
    expect(b.dtype).toBe('bool');
    const x = take(b);
    expect(Math.abs(mean(x) - 0.3)).toBeLessThan(meanTolerance(Math.sqrt(0.21), N));
    expect(mean(take(random.bernoulli(0, [100])))).toBe(0);
    expect(mean(take(random.bernoulli(1, [100])))).toBe(1);
  });

  test('tensor p', () => {
    const p = tf.tensor1d([0.1, 0.9]);
    const b = random.bernoulli(p, [20_000, 2]);
    expect(b.dtype).toBe('bool');
    const m = take(tf.tidy(() => tf.mean(tf.cast(b, 'float32'), 0)));
    b.dispose();
    p.dispose();
    expect(Math.abs(m[0] - 0.1)).toBeLessThan(0.015);
    expect(Math.abs(m[1] - 0.9)).toBeLessThan(0.015);
  });

  test('p outside [0, 1] is an ArgumentError naming p', () => {
    expect(() => random.bernoulli(1.5, [3])).toThrow(
      /bernoulli: p must be a probability in \[0, 1\], got 1.5/,
    );
    expect(() => random.bernoulli(-0.1)).toThrow(ArgumentError);
    expect(() => random.bernoulli(NaN)).toThrow(ArgumentError);
  });
});

describe('poisson', () => {
  const poissonPmf = (k: number, lam: number): number =>
    Math.exp(-lam + k * Math.log(lam) - logGamma(k + 1));

  test.each([0.5, 3, 9.5, 10, 50, 1e4])('lam = %s: int32 with mean and variance lam', (lam) => {
    const t = random.poisson(lam, [N]);
    expect(t.dtype).toBe('int32');
    const x = take(t);
    expect(min(x)).toBeGreaterThanOrEqual(0);
    expect(x.every(Number.isInteger)).toBe(true);
    expectMoments(x, lam, lam, 3 + 1 / lam);
  });

  test('the large-rate sampler (PTRS) follows the Poisson pmf', () => {
    const lam = 25;
    const x = take(random.poisson(lam, [N]));
    const c = counts(x, 60);
    for (let k = 10; k < 45; k++) {
      const p = poissonPmf(k, lam);
      expect(Math.abs(c[k] / N - p)).toBeLessThan(5 * Math.sqrt((p * (1 - p)) / N) + 1e-4);
    }
  });

  test('the small-rate sampler (Knuth) follows the Poisson pmf', () => {
    const lam = 2.5;
    const c = counts(take(random.poisson(lam, [N])), 15);
    for (let k = 0; k < 12; k++) {
      const p = poissonPmf(k, lam);
      expect(Math.abs(c[k] / N - p)).toBeLessThan(5 * Math.sqrt((p * (1 - p)) / N) + 1e-4);
    }
  });

  test('lam = 0 gives zeros; a tensor lam is per element; bad lam is an ArgumentError', () => {
    expect(max(take(random.poisson(0, [100])))).toBe(0);
    const lam = tf.tensor1d([1, 100]);
    const x = random.poisson(lam, [20_000, 2]);
    const m = take(tf.tidy(() => tf.mean(tf.cast(x, 'float32'), 0)));
    x.dispose();
    lam.dispose();
    expect(Math.abs(m[0] - 1)).toBeLessThan(0.05);
    expect(Math.abs(m[1] - 100)).toBeLessThan(0.5);
    expect(() => random.poisson(-1, [3])).toThrow(/poisson: lam must be a rate/);
    expect(() => random.poisson(2e9, [3])).toThrow(ArgumentError);
  });
});

describe('exponential', () => {
  test('mean scale, variance scale², non-negative', () => {
    const x = take(random.exponential(2, [N]));
    expectMoments(x, 2, 4, 9);
    expect(min(x)).toBeGreaterThanOrEqual(0);
    expect(() => random.exponential(-1, [3])).toThrow(ArgumentError);
  });
});

describe('truncatedNormal', () => {
  /** Mean and variance of N(loc, scale²) truncated to the absolute window [lower, upper]. */
  function truncatedMoments(
    lower: number,
    upper: number,
    loc: number,
    scale: number,
  ): [number, number] {
    const a = (lower - loc) / scale;
    const b = (upper - loc) / scale;
    const pdf = (x: number): number =>
      Number.isFinite(x) ? Math.exp((-x * x) / 2) / Math.sqrt(2 * Math.PI) : 0;
    // Φ(b) − Φ(a), computed in the lower tail (where Φ is accurate) for windows above the mean.
    const z = a > 0 ? ndtr(-a) - ndtr(-b) : ndtr(b) - ndtr(a);
    const r = (pdf(a) - pdf(b)) / z;
    const s = ((Number.isFinite(a) ? a * pdf(a) : 0) - (Number.isFinite(b) ? b * pdf(b) : 0)) / z;
    return [loc + scale * r, scale * scale * (1 + s - r * r)];
  }

  test.each([
    // [lower, upper, loc, scale]: an asymmetric window, a window above the mean (mirrored), a far tail, one-sided
    [-1, 2.5, 0.5, 1.5],
    [1, 3, 0, 1],
    [5, 6, 0, 1],
    [-Infinity, -1, 0, 2],
    [-2, 2, 0, 1],
  ])(
    'window [%s, %s], loc %s, scale %s: moments match the closed form; values stay inside',
    (lo, hi, loc, scale) => {
      const x = take(random.truncatedNormal(lo, hi, [N], loc, scale));
      const [mu, sigma2] = truncatedMoments(lo, hi, loc, scale);
      expect(min(x)).toBeGreaterThanOrEqual(lo);
      expect(max(x)).toBeLessThanOrEqual(hi);
      expectMoments(x, mu, sigma2, 3);
    },
  );

  test('closed-form reference agrees with scipy.stats.truncnorm', () => {
    const [m1, v1] = truncatedMoments(-1, 2.5, 0.5, 1.5);
    expect(m1).toBeCloseTo(0.6558935451597236, 12);
    expect(v1).toBeCloseTo(0.8439907226000241, 12);
    const [m2, v2] = truncatedMoments(5, 6, 0, 1);
    expect(m2).toBeCloseTo(5.183147090477182, 10);
    expect(v2).toBeCloseTo(0.029452430768436844, 10);
  });

  test('bad bounds or scale are ArgumentErrors', () => {
    expect(() => random.truncatedNormal(1, 1, [3])).toThrow(/upper must be a number > lower/);
    expect(() => random.truncatedNormal(2, 1, [3])).toThrow(ArgumentError);
    expect(() => random.truncatedNormal(-1, 1, [3], 0, 0)).toThrow(
      /scale must be a finite number > 0/,
    );
    expect(() => random.truncatedNormal(50, 60, [3])).toThrow(/underflows/);
  });
});

describe('randint', () => {
  test('values are integers in [low, high), uniformly', () => {
    const t = random.randint(-5, 5, [N]);
    expect(t.dtype).toBe('int32');
    const x = take(t);
    expect(min(x)).toBe(-5);
    expect(max(x)).toBe(4);
    const c = counts(x, 10, -5);
    for (const k of c) expect(Math.abs(k / N - 0.1)).toBeLessThan(5 * Math.sqrt(0.09 / N));
  });

  test('one bound means [0, low); float32 dtype; full int32 range', () => {
    const x = take(random.randint(3, null, [1000]));
    expect(new Set(x)).toEqual(new Set([0, 1, 2]));
    const f = random.randint(0, 10, [4], 'float32');
    expect(f.dtype).toBe('float32');
    f.dispose();
    const wide = take(random.randint(-(2 ** 31), 2 ** 31, [1000]));
    expect(min(wide)).toBeGreaterThanOrEqual(-(2 ** 31));
    expect(max(wide)).toBeLessThan(2 ** 31);
  });

  test('bad bounds are ArgumentErrors', () => {
    expect(() => random.randint(5, 5, [3])).toThrow(/high must be an integer > low/);
    expect(() => random.randint(0.5, 3, [3])).toThrow(ArgumentError);
    expect(() => random.randint(0, 2 ** 32, [3])).toThrow(ArgumentError);
    expect(() => random.randint(0)).toThrow(ArgumentError);
    expect(() => random.randint(0, 3, [3], 'bool' as 'int32')).toThrow(/dtype/);
  });
});

describe('shapes and dtypes', () => {
  test.each([
    ['rand', () => random.rand(2, 3), [2, 3], 'float32'],
    ['rand()', () => random.rand(), [], 'float32'],
    ['randn', () => random.randn(4), [4], 'float32'],
    ['uniform', () => random.uniform(0, 1, 5), [5], 'float32'],
    ['uniform scalar', () => random.uniform(), [], 'float32'],
    ['normal', () => random.normal(0, 1, [2, 0, 3]), [2, 0, 3], 'float32'],
    ['bernoulli', () => random.bernoulli(0.5, [3, 1]), [3, 1], 'bool'],
    ['poisson', () => random.poisson(4, [2, 2]), [2, 2], 'int32'],
    ['randint', () => random.randint(0, 9, [7]), [7], 'int32'],
    ['exponential', () => random.exponential(1, [1, 2, 3]), [1, 2, 3], 'float32'],
    ['truncatedNormal', () => random.truncatedNormal(-1, 1, [6]), [6], 'float32'],
    ['permutation', () => random.permutation(5), [5], 'int32'],
    ['choice', () => random.choice(5, [2, 2]), [2, 2], 'int32'],
    ['choice scalar', () => random.choice(5), [], 'int32'],
  ] as const)('%s', (_, make, shape, dtype) => {
    const t = make();
    expect(t.shape).toEqual(shape);
    expect(t.dtype).toBe(dtype);
    t.dispose();
  });

  test('bad sizes are ArgumentErrors naming size', () => {
    expect(() => random.normal(0, 1, [-1])).toThrow(/size must be a non-negative integer/);
    expect(() => random.uniform(0, 1, [2.5])).toThrow(ArgumentError);
    expect(() => random.rand(-3)).toThrow(ArgumentError);
    expect(() => random.rand([2, 3] as unknown as number)).toThrow(ArgumentError);
  });
});
