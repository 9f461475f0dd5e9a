/** Small statistics helpers for the random and init tests (float64 on host arrays). */
import { tf } from '../../src/backend/tf';

/** The values of a tensor as float64 (the tensor is disposed). */
export function take(t: tf.Tensor): Float64Array {
  const out = Float64Array.from(t.dataSync() as ArrayLike<number>);
  t.dispose();
  return out;
}

export function mean(x: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i];
  return s / x.length;
}

/** The unbiased sample variance. */
export function variance(x: ArrayLike<number>): number {
  const m = mean(x);
  let s = 0;
  for (let i = 0; i < x.length; i++) s += (x[i] - m) ** 2;
  return s / (x.length - 1);
}

export function std(x: ArrayLike<number>): number {
  return Math.sqrt(variance(x));
}

/** Pearson correlation of two equally long samples. */
export function correlation(x: ArrayLike<number>, y: ArrayLike<number>): number {
  const mx = mean(x);
  const my = mean(y);
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < x.length; i++) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) ** 2;
    syy += (y[i] - my) ** 2;
  }
  return sxy / Math.sqrt(sxx * syy);
}

export function min(x: ArrayLike<number>): number {
  let m = Infinity;
  for (let i = 0; i < x.length; i++) m = Math.min(m, x[i]);
  return m;
}

export function max(x: ArrayLike<number>): number {
  let m = -Infinity;
  for (let i = 0; i < x.length; i++) m = Math.max(m, x[i]);
  return m;
}

/** Counts of the integer values 0 … n−1 (values outside are ignored). */
export function counts(x: ArrayLike<number>, n: number, offset = 0): number[] {
  const c = new Array<number>(n).fill(0);
  for (let i = 0; i < x.length; i++) {
    const k = x[i] - offset;
    if (k >= 0 && k < n) c[k]++;
  }
  return c;
}

/**
 * Expect the sample mean within `z` standard errors of `expected` (sd the population standard
 * deviation): the tolerance follows the sample size.
 */
export function meanTolerance(sd: number, n: number, z = 5): number {
  return (z * sd) / Math.sqrt(n);
}

/** Tolerance for a sample variance: z · σ² · √((κ − 1)/n), with κ the kurtosis (3 for a normal). */
export function varianceTolerance(sigma2: number, n: number, kurtosis = 3, z = 5): number {
  return z * sigma2 * Math.sqrt((kurtosis - 1) / n);
}
