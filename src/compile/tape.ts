/**
 * Tape helpers for transforms that manage memory around the gradient tape (loops, checkpoint):
 * gradients inside a backward pass, and the tensor-id watermark. The engine state itself is read
 * through src/backend/engine.ts.
 */
import { tf } from '../backend/tf';
import { engineState, isTapeOn, withoutTape } from '../backend/engine';

export { isTapeOn, withoutTape };

/**
 * `engine.gradients(f, xs, dy, allowNoGradients=true)`, safe to call inside a customGrad's
 * gradFunc. tfjs 4.22 bug: a gradient computation started while the outer backward pass runs at
 * gradientDepth 0 replaces the engine's active tape and sets it to null when done, and the outer
 * backward pass then crashes on `activeTape.forEach`. The outer tape is put back afterwards.
 * Inputs without a path to the output get `null`.
 */
export function gradientsInBackward(
  f: () => tf.Tensor,
  xs: tf.Tensor[],
  dy: tf.Tensor,
): { value: tf.Tensor; grads: (tf.Tensor | null)[] } {
  const s = engineState();
  const outerTape = s.gradientDepth === 0 ? s.activeTape : undefined;
  try {
    const { value, grads } = tf.engine().gradients(f, xs, dy, true);
    return { value, grads: grads.map((g) => g ?? null) };
  } finally {
    if (outerTape !== undefined) s.activeTape = outerTape;
  }
}

interface EngineClass {
  nextTensorId?: unknown;
}

/**
 * The id the next tensor will get, or null if it cannot be read. Tensor ids only grow, so a
 * tensor with a smaller id existed before this call ("pre-existing").
 */
export function tensorIdWatermark(): number | null {
  const next = (tf.engine().constructor as EngineClass).nextTensorId;
  return typeof next === 'number' ? next : null;
}
