/**
 * `param()`: turn what a user gave for a parameter (nothing, a scalar, an initializer, a function,
 * a tensor or a State) into its value for a given shape and optional batch size (spec §9.3).
 * Models call it once per parameter when they are built.
 */
import { tf } from '../backend/tf';
import { ArgumentError, describeValue } from '../errors';
import { State } from '../state';
import {
  isInitializer,
  toShape,
  type InitFunction,
  type Initializer,
  type Shape,
} from './Initializer';

/** Nested arrays of numbers, converted with `tf.tensor` (float32). */
export type NumberArray = readonly (number | NumberArray)[];

/** Everything `param` accepts. */
export type ParamSpec =
  | null
  | undefined
  | number
  | tf.Tensor
  | NumberArray
  | Initializer
  | InitFunction
  | State<tf.Tensor>;

export interface ParamOptions {
  /** Prepend a batch axis of this size (initializers are called with [batchSize, ...sizes]). */
  batchSize?: number | null;
  /** Accept null/undefined and return null (default true). */
  allowNone?: boolean;
  /** Return scalars (numbers, 0-d tensors) unchanged (default true). */
  allowScalar?: boolean;
}

/** True if the trailing dimensions of `a` and `b` agree or one of them is 1 (numpy broadcasting). */
function broadcastCompatible(a: readonly number[], b: readonly number[]): boolean {
  for (let i = 1; i <= Math.min(a.length, b.length); i++) {
    const x = a[a.length - i];
    const y = b[b.length - i];
    if (x !== y && x !== 1 && y !== 1) return false;
  }
  return true;
}

/** Check a tensor against `sizes` and add the batch axis (a new tensor) if asked. */
function fitTensor(value: tf.Tensor, sizes: number[], batchSize: number | null): tf.Tensor {
  if (!broadcastCompatible(value.shape, sizes)) {
    throw new ArgumentError(
      `param: a value of shape [${value.shape.join(', ')}] does not broadcast to the parameter shape [${sizes.join(', ')}]`,
    );
  }
  if (batchSize === null) return value;
  if (value.rank > sizes.length) {
    if (value.shape[0] !== batchSize) {
      throw new ArgumentError(
        `param: a value of shape [${value.shape.join(', ')}] has batch size ${value.shape[0]} on axis 0, expected ${batchSize}`,
      );
    }
    return value;
  }
  // Expand to the full rank with leading 1s, then repeat along a new batch axis.
  const full = [1, ...new Array<number>(sizes.length - value.rank).fill(1), ...value.shape];
  return tf.tidy(() =>
    tf.tile(tf.reshape(value, full), [batchSize, ...new Array<number>(sizes.length).fill(1)]),
  );
}

/**
 * The value of a parameter of shape `sizes`:
 * - null/undefined → null (ArgumentError if `allowNone` is false);
 * - a number or a 0-d tensor → returned unchanged (if `allowScalar`; a number is otherwise an error);
 * - an Initializer or a `(shape) => tensor` function → called with `[batchSize?, ...sizes]`;
 * - a tensor or nested number array → checked to broadcast to `sizes` (ArgumentError naming both
 *   shapes); with `batchSize`, a value of rank ≤ len(sizes) is expanded to full rank and repeated
 *   along a new axis 0, a larger one must already have `shape[0] === batchSize`;
 * - a State → a new State of the same class holding the value processed as above.
 * Tensors passed in are returned as is when nothing changes (no copy).
 */
export function param(parameter: null | undefined, sizes: Shape, options?: ParamOptions): null;
export function param(parameter: number, sizes: Shape, options?: ParamOptions): number;
export function param<S extends State<tf.Tensor>>(
  parameter: S,
  sizes: Shape,
  options?: ParamOptions,
): S;
export function param(
  parameter: tf.Tensor | NumberArray | Initializer | InitFunction,
  sizes: Shape,
  options?: ParamOptions,
): tf.Tensor;
export function param(parameter: ParamSpec, sizes: Shape, options?: ParamOptions): ParamSpec;
export function param(parameter: ParamSpec, sizes: Shape, options: ParamOptions = {}): ParamSpec {
  const { allowNone = true, allowScalar = true } = options;
  const batchSize = options.batchSize ?? null;
  if (batchSize !== null && !(Number.isSafeInteger(batchSize) && batchSize > 0)) {
    throw new ArgumentError(
      `param: batchSize must be a positive integer, got ${describeValue(batchSize)}`,
    );
  }
  if (parameter === null || parameter === undefined) {
    if (allowNone) return null;
    throw new ArgumentError(
      'param: a value is required here (a number, a tensor, an initializer or a function), got null',
    );
  }
  if (typeof parameter === 'number') {
    if (allowScalar) return parameter;
    throw new ArgumentError(
      `param: a scalar (${parameter}) is not accepted here; give a tensor broadcastable to [${toShape(sizes, 'param').join(', ')}] or an initializer`,
    );
  }
  if (parameter instanceof tf.Tensor && parameter.rank === 0 && allowScalar) return parameter;
  const dims = toShape(sizes, 'param');
  if (isInitializer(parameter) || typeof parameter === 'function') {
    const shape = batchSize === null ? dims : [batchSize, ...dims];
    const value = typeof parameter === 'function' ? parameter(shape) : parameter.call(shape);
    if (!(value instanceof tf.Tensor)) {
      throw new ArgumentError(
        `param: the initializer ${String(parameter)} returned ${describeValue(value)}, not a tensor`,
      );
    }
    return value;
  }
  if (parameter instanceof State) {
    const v = parameter.value;
    if (!(v instanceof tf.Tensor)) {
      throw new ArgumentError(
        `param: ${parameter.describe()} must hold one tensor, got ${describeValue(v)}`,
      );
    }
    return parameter.replace(fitTensor(v, dims, batchSize));
  }
  if (parameter instanceof tf.Tensor) return fitTensor(parameter, dims, batchSize);
  if (Array.isArray(parameter)) {
    const t = tf.tensor(parameter as number[]);
    const out = fitTensor(t, dims, batchSize);
    if (out !== t) t.dispose();
    return out;
  }
  throw new ArgumentError(
    `param: expected null, a number, a tensor, a number array, an Initializer, a function or a State, got ${describeValue(parameter)}`,
  );
}
