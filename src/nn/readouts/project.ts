/**
 * The weight projection the readouts share: x [..., in] @ W [in, out] → [..., out], with the
 * input checked (a typed error naming the readout) and cast to float32 (spikes may be bool/int).
 */
import { tf } from '../../backend/tf';
import { ArgumentError, describeValue } from '../../errors';

/** x @ W over the last axis of x; `lead` (if given) is the required leading shape of x. */
export function projectInput(
  owner: string,
  x: unknown,
  W: tf.Tensor,
  lead: readonly number[] | null,
): tf.Tensor {
  const [nIn, nOut] = W.shape;
  const expected = lead === null ? `[..., ${nIn}]` : `[${[...lead, nIn].join(', ')}]`;
  if (!(x instanceof tf.Tensor)) {
    throw new ArgumentError(
      `${owner}.update: the input must be a tensor of shape ${expected}, got ${describeValue(x)}`,
    );
  }
  const ok =
    x.rank >= 1 &&
    x.shape[x.rank - 1] === nIn &&
    (lead === null || tf.util.arraysEqual(x.shape.slice(0, -1), lead as number[]));
  if (!ok) {
    throw new ArgumentError(
      `${owner}.update: the input must have shape ${expected}, got [${x.shape.join(', ')}]`,
    );
  }
  if (x.dtype === 'string' || x.dtype === 'complex64') {
    throw new ArgumentError(`${owner}.update: the input must be numeric, got a ${x.dtype} tensor`);
  }
  const t = x.dtype === 'float32' ? x : tf.cast(x, 'float32');
  if (t.rank === 2) return tf.matMul(t, W);
  const outShape = [...t.shape.slice(0, -1), nOut];
  return tf.reshape(tf.matMul(tf.reshape(t, [-1, nIn]), W), outShape);
}
