/**
 * What the ML layers share: the `ElementWiseBlock` marker for shape-preserving layers
 * (activations, dropout), input conversion, the "batched or unbatched" input check of layers with
 * a fixed sample shape, the environment's `fit` flag read as BatchNorm and Dropout need it, and
 * axis normalisation.
 */
import { tf } from '../../backend/tf';
import * as environ from '../../environ';
import { ArgumentError, KeyNotFoundError, describeValue } from '../../errors';
import { Module } from '../../graph';

/** Marker base of layers whose output has the input's shape (activations, dropout). */
export class ElementWiseBlock extends Module {}

/** `ClassName(name='x')`, or `ClassName`, for messages. */
export function layerLabel(m: Module): string {
  const cls = m.constructor.name;
  return m.name != null ? `${cls}(name='${m.name}')` : cls;
}

/** A tensor or tensor-like input as a float32 tensor (a new tensor unless x already is one). */
export function floatInput(x: tf.Tensor | tf.TensorLike, where: string): tf.Tensor {
  let t: tf.Tensor;
  if (x instanceof tf.Tensor) {
    t = x;
  } else if (typeof x === 'number' || Array.isArray(x) || ArrayBuffer.isView(x)) {
    t = tf.tensor(x as tf.TensorLike);
  } else {
    throw new ArgumentError(
      `${where}: expected a tensor or nested arrays, got ${describeValue(x)}`,
    );
  }
  return t.dtype === 'float32' ? t : tf.cast(t, 'float32');
}

const shapeText = (s: readonly number[]): string => `[${s.join(', ')}]`;

/**
 * Check x against a layer's sample shape: x is `[...sample]` (unbatched) or `[B, ...sample]`
 * (batched). Returns whether it is batched; throws an ArgumentError naming both accepted shapes.
 */
export function checkSampleShape(
  where: string,
  x: tf.Tensor,
  sample: readonly number[],
): { batched: boolean } {
  const s = x.shape;
  if (s.length === sample.length && tf.util.arraysEqual(s, [...sample])) {
    return { batched: false };
  }
  if (s.length === sample.length + 1 && tf.util.arraysEqual(s.slice(1), [...sample])) {
    return { batched: true };
  }
  throw new ArgumentError(
    `${where}: expected an input of shape ${shapeText(sample)} (unbatched) or [batch, ${sample.join(', ')}] (batched), got ${shapeText(s)}`,
  );
}

/**
 * The environment's training flag. It must be set (`environ.context({ fit: true }, fn)` or
 * `environ.set({ fit })`): a layer that behaves differently in training throws a
 * KeyNotFoundError naming itself otherwise, as upstream does.
 */
export function fitFlag(where: string): boolean {
  if (!environ.has(environ.FIT)) {
    throw new KeyNotFoundError(
      `${where}: the environment's 'fit' flag is not set; this layer behaves differently in training and evaluation, ` +
        `so run it inside environ.context({ fit: true }, fn) (training) or environ.context({ fit: false }, fn) (evaluation), or call environ.set({ fit })`,
    );
  }
  return environ.get<boolean>(environ.FIT);
}

/** An axis (negative counts from the end) as an index in [0, rank), or an ArgumentError. */
export function normalizeAxis(where: string, what: string, axis: number, rank: number): number {
  const i = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(axis) || i < 0 || i >= rank) {
    throw new ArgumentError(
      `${where}: ${what} ${describeValue(axis)} is out of range for ${rank} axes`,
    );
  }
  return i;
}

/** One axis or several, normalised, sorted and unique. */
export function normalizeAxes(
  where: string,
  what: string,
  axes: number | readonly number[],
  rank: number,
): number[] {
  const list = typeof axes === 'number' ? [axes] : [...axes];
  const out = [...new Set(list.map((a) => normalizeAxis(where, what, a, rank)))].sort(
    (a, b) => a - b,
  );
  if (out.length !== list.length) {
    throw new ArgumentError(`${where}: ${what} ${JSON.stringify(axes)} repeats an axis`);
  }
  return out;
}

/** Product of the numbers. */
export function prod(xs: readonly number[]): number {
  return xs.reduce((a, b) => a * b, 1);
}
