/**
 * Arithmetic on "a number or a tensor" for the neuron models. Parameters are usually plain
 * numbers (one value for the whole group) and sometimes tensors (one per neuron); an input may be
 * the number 0. These helpers compute in JS when both sides are numbers and skip identities
 * (x·1, x+0), so a step dispatches only the tfjs kernels it needs: the LIF step stays a handful
 * of kernels, which is what makes a 4000-neuron network fast in eager mode.
 */
import { tf } from '../../backend/tf';

/** A number (uniform over the group) or a tensor (broadcast against the state). */
export type Num = number | tf.Tensor;

export function add(a: Num, b: Num): Num {
  if (typeof a === 'number' && typeof b === 'number') return a + b;
  if (a === 0) return b;
  if (b === 0) return a;
  return tf.add(a, b);
}

export function sub(a: Num, b: Num): Num {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (b === 0) return a;
  return tf.sub(a, b);
}

export function mul(a: Num, b: Num): Num {
  if (typeof a === 'number' && typeof b === 'number') return a * b;
  if (a === 1) return b;
  if (b === 1) return a;
  if (a === 0 || b === 0) return 0;
  return tf.mul(a, b);
}

export function div(a: Num, b: Num): Num {
  if (typeof a === 'number' && typeof b === 'number') return a / b;
  if (b === 1) return a;
  if (a === 0) return 0;
  return tf.div(a, b);
}

export function neg(a: Num): Num {
  return typeof a === 'number' ? -a : tf.neg(a);
}

export function exp(a: Num): Num {
  return typeof a === 'number' ? Math.exp(a) : tf.exp(a);
}

export function minimum(a: Num, b: Num): Num {
  if (typeof a === 'number' && typeof b === 'number') return Math.min(a, b);
  return tf.minimum(a, b);
}

export function maximum(a: Num, b: Num): Num {
  if (typeof a === 'number' && typeof b === 'number') return Math.max(a, b);
  return tf.maximum(a, b);
}

/**
 * Select element-wise: `cond ? a : b`. With same-shaped tensors this is one `Select` kernel
 * (tf.where adds a broadcast per input); otherwise it falls back to tf.where.
 */
export function select(cond: tf.Tensor, a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  const same = (t: tf.Tensor) =>
    t.shape.length === cond.shape.length && t.shape.every((d, i) => d === cond.shape[i]);
  if (same(a) && same(b) && cond.dtype === 'bool' && a.dtype === b.dtype) {
    return tf.engine().runKernel('Select', { condition: cond, t: a, e: b }) as tf.Tensor;
  }
  return tf.where(cond, a, b);
}
