/**
 * The tfjs engine internals brainstate-ts relies on, in one place: the gradient tape's state
 * (tfjs-core 4.22 records kernels while `gradientDepth > 0` and `kernelDepth === 0`; a
 * customGrad's forward runs at `kernelDepth > 0`, off the tape). State ownership, the loops,
 * checkpoint and the gradient transforms all read it from here; the tfjs version is pinned.
 */
import { tf } from './tf';

/** The part of `tf.engine().state` the tape lives in. */
export interface EngineTapeState {
  gradientDepth: number;
  kernelDepth: number;
  activeTape: { saved?: tf.Tensor[] }[] | null;
}

/** The engine's live tape state (mutable: transforms nudge it). */
export function engineState(): EngineTapeState {
  return tf.engine().state as unknown as EngineTapeState;
}

/** True inside a gradient computation's forward pass (tf.grad and friends), at any kernel depth. */
export function gradientTapeActive(): boolean {
  return engineState().gradientDepth > 0;
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
 * `engine.gradients(f, xs, dy, allowNoGradients)` on a fresh tape of its own, wherever it is
 * called: inside another gradient computation's forward pass (whose tape it would otherwise
 * extend), inside a customGrad forward or a kernel (where nothing would be taped), or inside a
 * backward pass. The surrounding tape state is put back afterwards. Inputs without a path to
 * the output get `null`.
 */
export function isolatedGradients(
  f: () => tf.Tensor,
  xs: tf.Tensor[],
  dy?: tf.Tensor,
): { value: tf.Tensor; grads: (tf.Tensor | null)[] } {
  const s = engineState();
  const saved = { tape: s.activeTape, depth: s.gradientDepth, kernel: s.kernelDepth };
  s.activeTape = null;
  s.gradientDepth = 0;
  s.kernelDepth = 0;
  try {
    const { value, grads } = tf.engine().gradients(f, xs, dy, true);
    return { value, grads: grads.map((g) => g ?? null) };
  } finally {
    s.activeTape = saved.tape;
    s.gradientDepth = saved.depth;
    s.kernelDepth = saved.kernel;
  }
}
