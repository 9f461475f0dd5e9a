/**
 * Tensor ownership. A State owns its tensor: writing a value hands the tensor to the state
 * (tf.keep, so an enclosing tf.tidy does not free it) and releases the old one. Several states
 * may hold the same tensor, so owners are counted per tensor. A tensor whose last owner let go is
 * disposed at once, unless something may still need it: a transform in progress (the trace stack
 * is not empty) or a gradient tape (tf.grad's forward pass). Then disposal waits until the
 * outermost transform ends (`flushDisposals`), so no tape or transform ever sees a freed tensor.
 */
import { tf } from '../backend/tf';
import { gradientTapeActive } from '../backend/engine';

const owners = new Map<tf.Tensor, number>();
const retired = new Set<tf.Tensor>();
let deferDepth = 0;

/** True while released tensors must not be disposed yet. */
export function disposalDeferred(): boolean {
  return deferDepth > 0 || gradientTapeActive();
}

/** Take ownership of a tensor (it survives tidy scopes until its last owner releases it). */
export function acquire(t: tf.Tensor): void {
  const n = owners.get(t) ?? 0;
  if (n === 0) {
    if (t.isDisposed) throw new Error(`acquire: tensor ${t.id} is already disposed`);
    tf.keep(t);
    retired.delete(t);
  }
  owners.set(t, n + 1);
}

/** Give up ownership; dispose when nobody owns it and nothing may still need it. */
export function release(t: tf.Tensor): void {
  const n = owners.get(t);
  if (n === undefined) return;
  if (n > 1) {
    owners.set(t, n - 1);
    return;
  }
  owners.delete(t);
  if (disposalDeferred()) {
    retired.add(t);
  } else {
    t.dispose();
    flushDisposals();
  }
}

/** Number of owners of a tensor (0 if it is not owned by any state or snapshot). */
export function ownerCount(t: tf.Tensor): number {
  return owners.get(t) ?? 0;
}

/** Run `fn` with disposal deferred (transforms wrap their whole run in this). */
export function deferDisposal<R>(fn: () => R): R {
  deferDepth++;
  try {
    return fn();
  } finally {
    deferDepth--;
    if (deferDepth === 0) flushDisposals();
  }
}

/** Enter / leave a deferral scope by hand (for trace frames that open and close separately). */
export function pushDeferral(): void {
  deferDepth++;
}
export function popDeferral(): void {
  deferDepth--;
  if (deferDepth === 0) flushDisposals();
}

/**
 * Dispose released tensors that are still unowned, if nothing may need them now. Called when the
 * outermost transform ends and on top-level state writes (so tensors released during a raw
 * tf.grad are freed at the next opportunity). Returns the number disposed.
 */
export function flushDisposals(): number {
  if (disposalDeferred() || retired.size === 0) return 0;
  let n = 0;
  for (const t of retired) {
    if (!owners.has(t) && !t.isDisposed) {
      t.dispose();
      n++;
    }
  }
  retired.clear();
  return n;
}

/** Number of released tensors waiting for the end of a transform or tape. */
export function pendingDisposals(): number {
  return retired.size;
}
