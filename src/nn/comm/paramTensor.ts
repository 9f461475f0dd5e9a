/**
 * `paramTensor`: a parameter's initial value as a float32 tensor of exactly the given shape,
 * from what a user gave (a number, a tensor or nested arrays broadcastable to the shape, an
 * initializer, or a `(shape) => tensor` function); `param()` does the checks.
 */
import { tf } from '../../backend/tf';
import { ArgumentError, describeValue } from '../../errors';
import { param, type InitFunction, type Initializer, type NumberArray } from '../../init';

/** What a weight or bias can be initialised from. */
export type TensorInit = number | tf.Tensor | NumberArray | Initializer | InitFunction;

/** A new float32 tensor of `shape` (tensors given with exactly that shape are returned as is). */
export function paramTensor(init: TensorInit, shape: number[], where: string): tf.Tensor {
  if (init === null || init === undefined) {
    throw new ArgumentError(
      `${where}: expected a number, a tensor or an initializer, got ${describeValue(init)}`,
    );
  }
  const value = param(init, shape);
  if (typeof value === 'number') return tf.fill(shape, value, 'float32');
  if (!(value instanceof tf.Tensor)) {
    throw new ArgumentError(
      `${where}: expected a number, a tensor or an initializer, got ${describeValue(init)}`,
    );
  }
  if (value.dtype === 'float32' && tf.util.arraysEqual(value.shape, shape)) return value;
  return tf.tidy(() => tf.broadcastTo(tf.cast(value, 'float32'), shape));
}
