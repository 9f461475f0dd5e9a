/**
 * What the tfjs gradient tape is doing, for transforms that manage memory around it (loops,
 * checkpoint). tfjs 4.22 records kernels while `gradientDepth > 0` and `kernelDepth === 0`
 * (a customGrad's forward runs at `kernelDepth > 0`, so it is off the tape). These helpers read
 * and nudge that public `tf.engine().state`; the tfjs version is pinned.
 */
import { tf } from '../backend/tf';

function engineState(): ReturnType<typeof tf.engine>['state'] {
  return tf.engine().state;
}

/** True while kernels are being recorded on a gradient tape (inside tf.grad's forward pass). */
export function isTapeOn(): boolean {
  const s = engineState();
  return s.gradientDepth > 0 && s.kernelDepth === 0;
}

/**
 * Run `fn` without recording on the tape, as tfjs does for the body of a kernel. Used to trace a
 * function for its states without making the tape keep that run's intermediates.
 */
export function withoutTape<R>(fn: () => R): R {
  const s = engineState();
  s.kernelDepth++;
  try {
    return fn();
  } finally {
    s.kernelDepth--;
  }
}

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
