/**
 * The distributions as free functions on the default state (`random.normal(0, 1, [3, 4])`).
 * Each splits `DEFAULT`'s key (unless `{ key }` is given) and returns a new tensor the caller
 * owns; see the RandomState methods of the same names.
 */
import type { tf } from '../backend/tf';
import { DEFAULT } from './default';
import type { DrawOptions } from './RandomState';
import type { ChoiceOptions } from './sampling';
import type { Param, Size } from './shape';

/** Uniform on [0, 1) with the given dimensions (float32): `rand(2, 3)`, `rand(2, 3, { key })`. */
export function rand(...dims: number[]): tf.Tensor;
export function rand(...dimsThenOptions: [...number[], DrawOptions]): tf.Tensor;
export function rand(...args: (number | DrawOptions)[]): tf.Tensor {
  return DEFAULT.rand(...(args as number[]));
}

/** Standard normal values with the given dimensions (float32). */
export function randn(...dims: number[]): tf.Tensor;
export function randn(...dimsThenOptions: [...number[], DrawOptions]): tf.Tensor;
export function randn(...args: (number | DrawOptions)[]): tf.Tensor {
  return DEFAULT.randn(...(args as number[]));
}

/** Uniform on [low, high) (float32); bounds may be tensors broadcastable to `size`. */
export function uniform(
  low: Param = 0,
  high: Param = 1,
  size?: Size,
  options?: DrawOptions,
): tf.Tensor {
  return DEFAULT.uniform(low, high, size, options);
}

/** Normal with mean `loc` and standard deviation `scale` ≥ 0 (float32). */
export function normal(
  loc: Param = 0,
  scale: Param = 1,
  size?: Size,
  options?: DrawOptions,
): tf.Tensor {
  return DEFAULT.normal(loc, scale, size, options);
}

/** True with probability `p` (bool tensor); a number p outside [0, 1] is an ArgumentError. */
export function bernoulli(p: Param = 0.5, size?: Size, options?: DrawOptions): tf.Tensor {
  return DEFAULT.bernoulli(p, size, options);
}

/** Poisson counts with rate `lam` (int32). */
export function poisson(lam: Param = 1, size?: Size, options?: DrawOptions): tf.Tensor {
  return DEFAULT.poisson(lam, size, options);
}

/** Uniform integers in [low, high); with one bound (`randint(10, null, [5])`), in [0, low). */
export function randint(
  low: number,
  high?: number | null,
  size?: Size,
  dtype: 'int32' | 'float32' = 'int32',
  options?: DrawOptions,
): tf.Tensor {
  return DEFAULT.randint(low, high, size, dtype, options);
}

/** A random permutation of 0 … n−1 (int32), or of a tensor's rows (axis 0). */
export function permutation(x: number | tf.Tensor, options?: DrawOptions): tf.Tensor {
  return DEFAULT.permutation(x, options);
}

/** `size` samples from 0 … a−1 (int32) or from the rows of tensor `a`; `{ replace = true, p }`. */
export function choice(
  a: number | tf.Tensor,
  size?: Size,
  options?: ChoiceOptions & DrawOptions,
): tf.Tensor {
  return DEFAULT.choice(a, size, options);
}

/** Exponential with mean `scale` (float32). */
export function exponential(scale: Param = 1, size?: Size, options?: DrawOptions): tf.Tensor {
  return DEFAULT.exponential(scale, size, options);
}

/** Normal(loc, scale) restricted to the absolute window [lower, upper] (float32, inverse CDF). */
export function truncatedNormal(
  lower: number,
  upper: number,
  size?: Size,
  loc = 0,
  scale = 1,
  options?: DrawOptions,
): tf.Tensor {
  return DEFAULT.truncatedNormal(lower, upper, size, loc, scale, options);
}
