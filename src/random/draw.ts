/**
 * The single path of every random draw: `draw(kind, shape, params, key, generate)` seeds a bulk
 * generator from the key, lets `generate` fill the values on the host and makes one tensor of
 * them. Keeping all draws in one function gives the IR recorder one place to annotate random
 * draws (which kind, which key, how to redraw with a fresh key on replay): `setDrawObserver`.
 */
import { tf } from '../backend/tf';
import type { Key } from './key';
import { numel } from './shape';
import { Xoshiro128 } from './xoshiro';

/** The host values of a draw; the array type gives the tensor's dtype. */
export type DrawData = Float32Array | Int32Array | Uint8Array;

/** Fills `n` values from a generator (the same generator state gives the same values). */
export type Generate = (gen: Xoshiro128, n: number) => DrawData;

/** What an observer learns about one draw. */
export interface DrawEvent {
  /** The distribution, e.g. 'normal', 'uniform', 'truncated_normal', 'permutation'. */
  readonly kind: string;
  readonly shape: readonly number[];
  readonly dtype: 'float32' | 'int32' | 'bool';
  /** The distribution's host parameters (for messages and IR annotations). */
  readonly params: Readonly<Record<string, unknown>>;
  /** The key the values were drawn with. */
  readonly key: Key;
  /** The tensor returned to the caller. */
  readonly output: tf.Tensor;
  /** The same draw with another key (what a replay with a fresh key needs). */
  readonly redraw: (key: Key) => tf.Tensor;
}

/** Called after every draw. */
export type DrawObserver = (event: DrawEvent) => void;

let observer: DrawObserver | null = null;

/** Install the draw observer (null to remove it); returns the previous one so callers can restore it. */
export function setDrawObserver(next: DrawObserver | null): DrawObserver | null {
  const previous = observer;
  observer = next;
  return previous;
}

function dtypeOf(data: DrawData): 'float32' | 'int32' | 'bool' {
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof Int32Array) return 'int32';
  return 'bool';
}

function makeTensor(shape: readonly number[], key: Key, generate: Generate): tf.Tensor {
  const data = generate(new Xoshiro128(key), numel(shape));
  return tf.tensor(data, [...shape], dtypeOf(data));
}

/** Draw one tensor of `shape` with values from `generate`, seeded by `key`. */
export function draw(
  kind: string,
  shape: readonly number[],
  params: Readonly<Record<string, unknown>>,
  key: Key,
  generate: Generate,
): tf.Tensor {
  const output = makeTensor(shape, key, generate);
  if (observer !== null) {
    observer({
      kind,
      shape,
      dtype: output.dtype as DrawEvent['dtype'],
      params,
      key,
      output,
      redraw: (k) => makeTensor(shape, k, generate),
    });
  }
  return output;
}
