/**
 * Output shapes of random draws: `size` arguments (a number or an array of non-negative integers,
 * as in numpy) and the broadcasting of tensor parameters against them.
 */
import { tf } from '../backend/tf';
import { ArgumentError, describeValue } from '../errors';

/** The shape of a draw: `n` for a vector of n values, or an array of dimensions. */
export type Size = number | readonly number[];

/** A distribution parameter: a number, or a tensor broadcastable to the output shape. */
export type Param = number | tf.Tensor;

/** Check a size argument and return it as a fresh shape array. */
export function toShape(size: Size, where: string, what = 'size'): number[] {
  const dims = typeof size === 'number' ? [size] : Array.isArray(size) ? [...size] : null;
  if (dims === null || !dims.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new ArgumentError(
      `${where}: ${what} must be a non-negative integer or an array of them, got ${Array.isArray(size) ? `[${size.join(', ')}]` : describeValue(size)}`,
    );
  }
  return dims;
}

/** Number of elements of a shape. */
export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** The broadcast of two shapes (numpy rules), or an ArgumentError naming both. */
export function broadcastShapes(
  a: readonly number[],
  b: readonly number[],
  where: string,
): number[] {
  const shape = tryBroadcast(a, b);
  if (shape === null) {
    throw new ArgumentError(
      `${where}: shapes [${a.join(', ')}] and [${b.join(', ')}] are not broadcastable`,
    );
  }
  return shape;
}

/**
 * The output shape of a draw: `size` if given (every tensor parameter must broadcast to it),
 * else the broadcast of the tensor parameters' shapes (a scalar for number parameters).
 */
export function outputShape(
  size: Size | undefined,
  params: Record<string, Param>,
  where: string,
): number[] {
  const tensors = Object.entries(params).filter(
    (e): e is [string, tf.Tensor] => e[1] instanceof tf.Tensor,
  );
  if (size === undefined || size === null) {
    return tensors.reduce<number[]>((s, [, t]) => broadcastShapes(s, t.shape, where), []);
  }
  const shape = toShape(size, where);
  for (const [name, t] of tensors) {
    const b = tryBroadcast(t.shape, shape);
    if (b === null || b.join(',') !== shape.join(',')) {
      throw new ArgumentError(
        `${where}: ${name} of shape [${t.shape.join(', ')}] does not broadcast to size [${shape.join(', ')}]`,
      );
    }
  }
  return shape;
}

/** The broadcast of two shapes, or null if they do not broadcast. */
export function tryBroadcast(a: readonly number[], b: readonly number[]): number[] | null {
  try {
    return tf.broadcast_util.assertAndGetBroadcastShape([...a], [...b]);
  } catch {
    return null;
  }
}
