/**
 * Samplers of discrete distributions: bernoulli (bool), poisson (int32) and randint. Poisson uses
 * Knuth's multiplication method for small rates and Hörmann's PTRS transformed rejection (1993,
 * as in numpy) for rates ≥ 10, so it is exact in distribution and O(1) per value for any rate.
 */
import { tf } from '../backend/tf';
import { ArgumentError, describeValue } from '../errors';
import { drawStandardUniform } from './continuous';
import { draw } from './draw';
import type { TakeKey } from './key';
import { checkNumber } from './params';
import { outputShape, type Param, type Size } from './shape';
import { logGamma } from './special';
import type { Xoshiro128 } from './xoshiro';

/** The largest rate accepted by poisson: larger rates overflow int32 draws. */
export const MAX_POISSON_RATE = 1e9;

/**
 * True with probability `p`, as a bool tensor. A number p must lie in [0, 1]; a tensor p is used
 * as is (values below 0 act as 0, above 1 as 1), since checking it would read it back to the host.
 */
export function sampleBernoulli(p: Param, size: Size | undefined, takeKey: TakeKey): tf.Tensor {
  const where = 'bernoulli';
  const shape = outputShape(size, { p }, where);
  if (p instanceof tf.Tensor) {
    return tf.tidy(() => tf.less(drawStandardUniform(shape, takeKey), p));
  }
  checkNumber(where, 'p', p, (v) => v >= 0 && v <= 1, 'a probability in [0, 1]');
  return draw(where, shape, { p }, takeKey(), (gen, n) => {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = gen.nextFloat64() < p ? 1 : 0;
    return out;
  });
}

/** Knuth: count uniforms until their product drops below e^−λ (expected λ + 1 uniforms). */
function poissonKnuth(gen: Xoshiro128, lam: number): number {
  const limit = Math.exp(-lam);
  let k = 0;
  let prod = gen.nextFloat64();
  while (prod > limit) {
    k++;
    prod *= gen.nextFloat64();
  }
  return k;
}

/** Hörmann's PTRS ("The transformed rejection method for generating Poisson random variables", 1993), λ ≥ 10. */
function poissonPtrs(gen: Xoshiro128, lam: number): number {
  const sqrtLam = Math.sqrt(lam);
  const logLam = Math.log(lam);
  const b = 0.931 + 2.53 * sqrtLam;
  const a = -0.059 + 0.02483 * b;
  const invAlpha = 1.1239 + 1.1328 / (b - 3.4);
  const vr = 0.9277 - 3.6224 / (b - 2);
  for (;;) {
    const u = gen.nextFloat64() - 0.5;
    const v = gen.nextFloat64();
    const us = 0.5 - Math.abs(u);
    const k = Math.floor(((2 * a) / us + b) * u + lam + 0.43);
    if (us >= 0.07 && v <= vr) return k;
    if (k < 0 || (us < 0.013 && v > us)) continue;
    if (
      Math.log(v) + Math.log(invAlpha) - Math.log(a / (us * us) + b) <=
      -lam + k * logLam - logGamma(k + 1)
    ) {
      return k;
    }
  }
}

function poissonValue(gen: Xoshiro128, lam: number): number {
  return lam < 10 ? poissonKnuth(gen, lam) : poissonPtrs(gen, lam);
}

const rateOk = (v: number): boolean => v >= 0 && v <= MAX_POISSON_RATE;
const rateRange = `a rate in [0, ${MAX_POISSON_RATE}]`;

/**
 * Poisson counts with rate `lam` (int32). A tensor `lam` is broadcast to the output shape and read
 * back to the host (the sampler is a host algorithm).
 */
export function samplePoisson(lam: Param, size: Size | undefined, takeKey: TakeKey): tf.Tensor {
  const where = 'poisson';
  const shape = outputShape(size, { lam }, where);
  if (lam instanceof tf.Tensor) {
    const broadcast = tf.tidy(() => tf.broadcastTo(tf.cast(lam, 'float32'), shape));
    const rates = broadcast.dataSync() as Float32Array;
    broadcast.dispose();
    for (const r of rates) checkNumber(where, 'lam', r, rateOk, rateRange);
    return draw(where, shape, { lam: 'tensor' }, takeKey(), (gen, n) => {
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) out[i] = poissonValue(gen, rates[i]);
      return out;
    });
  }
  checkNumber(where, 'lam', lam, rateOk, rateRange);
  return draw(where, shape, { lam }, takeKey(), (gen, n) => {
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) out[i] = poissonValue(gen, lam);
    return out;
  });
}

const INT32_MIN = -(2 ** 31);
const INT32_LIMIT = 2 ** 31;

/** Uniform integers in [low, high) (one bound: [0, low)), as int32 or float32. */
export function sampleRandint(
  low: number,
  high: number | null | undefined,
  size: Size | undefined,
  dtype: 'int32' | 'float32',
  takeKey: TakeKey,
): tf.Tensor {
  const where = 'randint';
  if (high === null || high === undefined) return sampleRandint(0, low, size, dtype, takeKey);
  if (dtype !== 'int32' && dtype !== 'float32') {
    throw new ArgumentError(
      `${where}: dtype must be 'int32' or 'float32', got ${describeValue(dtype)}`,
    );
  }
  const shape = outputShape(size, {}, where);
  const inRange = (v: number): boolean => Number.isInteger(v) && v >= INT32_MIN && v <= INT32_LIMIT;
  checkNumber(
    where,
    'low',
    low,
    (v) => inRange(v) && v < INT32_LIMIT,
    'an integer in the int32 range',
  );
  checkNumber(
    where,
    'high',
    high,
    (v) => inRange(v) && v > low,
    `an integer > low (${low}), at most 2³¹`,
  );
  const range = high - low;
  return draw(where, shape, { low, high }, takeKey(), (gen, n) => {
    const out = dtype === 'int32' ? new Int32Array(n) : new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = low + gen.nextBelow(range);
    return out;
  });
}
