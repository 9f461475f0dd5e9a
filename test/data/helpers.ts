/** Helpers of the data tests: read a task batch back to the host (disposing it), index x. */
import { tf } from '../../src/backend/tf';
import type { TaskBatch } from '../../src/data';

/** Host copies of a batch's tensors; every tensor of the batch is disposed. */
export interface HostBatch {
  x: Float32Array;
  y: Int32Array;
  shape: number[];
  extra: Record<string, Int32Array>;
}

export function hostBatch(batch: TaskBatch): HostBatch {
  const out: HostBatch = {
    x: batch.x.dataSync() as Float32Array,
    y: batch.y.dataSync() as Int32Array,
    shape: batch.x.shape,
    extra: {},
  };
  for (const [k, v] of Object.entries(batch as object)) {
    if (v instanceof tf.Tensor) {
      if (k !== 'x' && k !== 'y') out.extra[k] = v.dataSync() as Int32Array;
      v.dispose();
    }
  }
  return out;
}

/** x[t, b, i] of a time-major [T, B, nIn] array. */
export function at(h: HostBatch, t: number, b: number, i: number): number {
  const [, B, n] = h.shape;
  return h.x[(t * B + b) * n + i];
}

/** Sum of x[t, b, i] over t ∈ [t0, t1) and i ∈ [i0, i1). */
export function count(
  h: HostBatch,
  b: number,
  t0: number,
  t1: number,
  i0: number,
  i1: number,
): number {
  let s = 0;
  for (let t = t0; t < t1; t++) for (let i = i0; i < i1; i++) s += at(h, t, b, i);
  return s;
}
