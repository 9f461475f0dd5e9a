/**
 * Sampling from a finite set: `permutation` (Fisher–Yates) and `choice` (with or without
 * replacement, uniform or with probabilities `p`). Given a tensor, both draw int32 indices and
 * gather rows along axis 0; given an integer n, they return the indices themselves.
 */
import { tf } from '../backend/tf';
import { ArgumentError, describeValue } from '../errors';
import { draw } from './draw';
import type { TakeKey } from './key';
import { numel, toShape, type Size } from './shape';
import type { Xoshiro128 } from './xoshiro';

/** Probabilities for `choice`: one per candidate, summing to 1. */
export type Probabilities = readonly number[] | Float32Array | Float64Array | tf.Tensor;

/** Tolerance on the sum of `p`. */
export const PROBABILITY_SUM_TOLERANCE = 1e-6;

function candidates(a: number | tf.Tensor, where: string): number {
  if (a instanceof tf.Tensor) {
    if (a.rank < 1)
      throw new ArgumentError(`${where}: a tensor argument needs rank ≥ 1, got a scalar`);
    return a.shape[0];
  }
  if (!Number.isSafeInteger(a) || a < 0) {
    throw new ArgumentError(
      `${where}: expected a non-negative integer or a tensor, got ${describeValue(a)}`,
    );
  }
  return a;
}

/** Indices → the tensor's rows (disposing the indices), or the indices themselves. */
function gatherRows(a: number | tf.Tensor, indices: tf.Tensor): tf.Tensor {
  if (!(a instanceof tf.Tensor)) return indices;
  const out = tf.gather(a, indices);
  indices.dispose();
  return out;
}

/** Shuffle 0 … n−1 in place (Fisher–Yates), or only its first `m` positions. */
function shuffleInto(out: Int32Array, gen: Xoshiro128, m = out.length): void {
  const n = out.length;
  for (let i = 0; i < n; i++) out[i] = i;
  for (let i = 0; i < Math.min(m, n - 1); i++) {
    const j = i + gen.nextBelow(n - i);
    const t = out[i];
    out[i] = out[j];
    out[j] = t;
  }
}

/** A random permutation of 0 … n−1 (int32), or of a tensor's rows (axis 0). */
export function samplePermutation(x: number | tf.Tensor, takeKey: TakeKey): tf.Tensor {
  const n = candidates(x, 'permutation');
  const indices = draw('permutation', [n], { n }, takeKey(), (gen) => {
    const out = new Int32Array(n);
    shuffleInto(out, gen);
    return out;
  });
  return gatherRows(x, indices);
}

function checkProbabilities(p: Probabilities, n: number, where: string): Float64Array {
  if (p instanceof tf.Tensor && p.rank !== 1) {
    throw new ArgumentError(`${where}: p must be 1-D, got shape [${p.shape.join(', ')}]`);
  }
  const values = Float64Array.from(p instanceof tf.Tensor ? p.dataSync() : p);
  if (values.length !== n) {
    throw new ArgumentError(`${where}: p has ${values.length} entries for ${n} candidates`);
  }
  let sum = 0;
  for (const v of values) {
    if (!(v >= 0 && Number.isFinite(v))) {
      throw new ArgumentError(
        `${where}: p must hold finite probabilities ≥ 0, got ${describeValue(v)}`,
      );
    }
    sum += v;
  }
  if (!(Math.abs(sum - 1) <= PROBABILITY_SUM_TOLERANCE)) {
    throw new ArgumentError(
      `${where}: p must sum to 1 (±${PROBABILITY_SUM_TOLERANCE}), sums to ${sum}`,
    );
  }
  for (let i = 0; i < n; i++) values[i] /= sum;
  return values;
}

/** Index of the first cumulative weight > u (binary search), skipping zero-probability entries. */
function searchCumulative(cumulative: Float64Array, u: number): number {
  let lo = 0;
  let hi = cumulative.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cumulative[mid] > u) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

export interface ChoiceOptions {
  /** Sample with replacement (default true). */
  replace?: boolean;
  /** Probability of each candidate (default uniform); must sum to 1 within 1e-6. */
  p?: Probabilities;
}

/**
 * `size` samples from 0 … n−1 (`a` an integer; int32 result) or from the rows of tensor `a`.
 * Without replacement there are no repeats, so size cannot exceed the number of candidates
 * (with `p`: the number of candidates of non-zero probability). Weighted sampling without
 * replacement uses Efraimidis–Spirakis keys (u^(1/p)), the same law as drawing one at a time.
 */
export function sampleChoice(
  a: number | tf.Tensor,
  size: Size | undefined,
  options: ChoiceOptions,
  takeKey: TakeKey,
): tf.Tensor {
  const where = 'choice';
  const n = candidates(a, where);
  const shape = size === undefined || size === null ? [] : toShape(size, where);
  const m = numel(shape);
  const replace = options.replace ?? true;
  const p =
    options.p === undefined || options.p === null ? null : checkProbabilities(options.p, n, where);
  const available = p === null ? n : p.reduce((c, v) => c + (v > 0 ? 1 : 0), 0);
  if (m > 0 && available === 0) throw new ArgumentError(`${where}: no candidates to choose from`);
  if (!replace && m > available) {
    throw new ArgumentError(
      `${where}: cannot take ${m} samples without replacement from ${available} candidates${p ? ' of non-zero probability' : ''}`,
    );
  }
  const indices = draw(where, shape, { n, replace, p: p !== null }, takeKey(), (gen) => {
    const out = new Int32Array(m);
    if (p === null && replace) {
      for (let i = 0; i < m; i++) out[i] = gen.nextBelow(n);
    } else if (p === null) {
      const perm = new Int32Array(n);
      shuffleInto(perm, gen, m);
      out.set(perm.subarray(0, m));
    } else if (replace) {
      const cumulative = new Float64Array(n);
      let c = 0;
      for (let i = 0; i < n; i++) cumulative[i] = c += p[i];
      let last = n - 1;
      while (p[last] === 0) last--;
      for (let i = 0; i < m; i++)
        out[i] = Math.min(searchCumulative(cumulative, gen.nextFloat64() * c), last);
    } else {
      // Largest log(u)/p first; zero-probability candidates never qualify.
      const keys = new Float64Array(n);
      const order: number[] = [];
      for (let i = 0; i < n; i++) {
        keys[i] = Math.log(gen.nextOpenFloat64()) / p[i];
        if (p[i] > 0) order.push(i);
      }
      order.sort((x, y) => keys[y] - keys[x]);
      for (let i = 0; i < m; i++) out[i] = order[i];
    }
    return out;
  });
  return gatherRows(a, indices);
}
