/**
 * Rate coding of images (or any intensities in [0, 1]) as Poisson spike trains: each pixel of
 * intensity v spikes at every step with probability `v · maxRateHz · dt / 1000` (dt in ms),
 * independently (the Bernoulli approximation of a Poisson process, at most one spike per step).
 * Spikes are drawn on the host from one key of a RandomState (default: the global one, so
 * `random.seed(n)` makes the encoding reproducible). Data preparation: call it outside transforms.
 */
import { tf } from '../backend/tf';
import { ArgumentError, describeValue } from '../errors';
import { defaultRng, RandomState, Xoshiro128, checkKey, type Key } from '../random';
import { checkInteger, checkNonNegative, checkPositive, spikeProbability } from './checks';
import { fillBernoulli } from './spikes';

/** Where poissonEncode takes its randomness from. */
export interface PoissonEncodeOptions {
  /** Draw from this state (one split of its key); default the global RandomState. */
  rng?: RandomState;
  /** Draw with this key (no state is advanced). */
  key?: Key;
}

/**
 * Spikes [T, ...images.shape] (float32 0/1) from intensities `images` in [0, 1]
 * (e.g. [B, 784] → [T, B, 784]): pixel v fires with probability v·maxRateHz·dt/1000 per step.
 */
export function poissonEncode(
  images: tf.Tensor | Float32Array,
  T: number,
  maxRateHz: number,
  dt = 1,
  options: PoissonEncodeOptions = {},
): tf.Tensor {
  const where = 'poissonEncode';
  checkInteger(where, 'T', T);
  checkNonNegative(where, 'maxRateHz', maxRateHz);
  checkPositive(where, 'dt', dt);
  const pMax = spikeProbability(where, 'maxRateHz', maxRateHz, dt);
  let values: Float32Array;
  let shape: number[];
  if (images instanceof tf.Tensor) {
    values = Float32Array.from(images.dataSync() as ArrayLike<number>);
    shape = images.shape;
  } else if (images instanceof Float32Array) {
    values = images;
    shape = [images.length];
  } else {
    throw new ArgumentError(
      `${where}: images must be a tensor or a Float32Array, got ${describeValue(images)}`,
    );
  }
  const key =
    options.key !== undefined
      ? checkKey(options.key, where)
      : (options.rng ?? defaultRng()).splitKey();
  const gen = new Xoshiro128(key);
  const n = values.length;
  const out = new Float32Array(T * n);
  for (let j = 0; j < n; j++) {
    const v = values[j];
    if (!(v >= 0 && v <= 1)) {
      throw new ArgumentError(
        `${where}: intensities must lie in [0, 1], got ${describeValue(v)} at flat index ${j}`,
      );
    }
    fillBernoulli(gen, v * pMax, out, j, T, n);
  }
  return tf.tensor(out, [T, ...shape], 'float32');
}
