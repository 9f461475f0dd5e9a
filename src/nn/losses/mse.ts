/**
 * mse: the mean squared error (pred − target)² between two tensors of the same shape (or a
 * scalar target), reduced over all elements: 'mean' (default), 'sum' or 'none' (element-wise).
 */
import { tf } from '../../backend/tf';
import { ArgumentError, describeValue } from '../../errors';
import { checkReduction, reduce, type Reduction } from './labels';

/** Options of mse. */
export interface MSEOptions {
  /** 'mean' (default), 'sum' or 'none' (the squared errors, shape of pred). */
  reduction?: Reduction;
}

/** Mean squared error between `pred` and `target` (same shape, or a scalar target). */
export function mse(
  pred: tf.Tensor,
  target: tf.Tensor | tf.TensorLike,
  options: MSEOptions = {},
): tf.Tensor {
  const where = 'mse';
  const reduction = checkReduction(where, options.reduction);
  if (!(pred instanceof tf.Tensor)) {
    throw new ArgumentError(`${where}: pred must be a tensor, got ${describeValue(pred)}`);
  }
  return tf.tidy(() => {
    let t = target instanceof tf.Tensor ? target : tf.tensor(target as tf.TensorLike);
    if (t.rank !== 0 && !tf.util.arraysEqual(t.shape, pred.shape)) {
      throw new ArgumentError(
        `${where}: target of shape [${t.shape.join(', ')}] does not match pred of shape ` +
          `[${pred.shape.join(', ')}] (give the same shape or a scalar)`,
      );
    }
    for (const [name, v] of [
      ['pred', pred],
      ['target', t],
    ] as const) {
      if (v.dtype === 'string' || v.dtype === 'complex64' || v.dtype === 'bool') {
        throw new ArgumentError(`${where}: ${name} must be numeric, got a ${v.dtype} tensor`);
      }
    }
    const p = pred.dtype === 'float32' ? pred : tf.cast(pred, 'float32');
    if (t.dtype !== 'float32') t = tf.cast(t, 'float32');
    return reduce(tf.squaredDifference(p, t), reduction);
  });
}
