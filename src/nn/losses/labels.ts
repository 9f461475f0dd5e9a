/**
 * What the classification losses and metrics share: checking logits, turning labels into either
 * class indices (int32, the shape of the logits without the class axis) or dense targets (one-hot
 * or probabilities, the shape of the logits), with typed errors for out-of-range labels and batch
 * mismatches; and the reduction ('mean' | 'sum' | 'none') over the per-sample values.
 */
import { tf } from '../../backend/tf';
import { ArgumentError, describeValue } from '../../errors';

/**
 * Labels: class indices (an int32 tensor, a number, or a number[] / Int32Array with one entry per
 * sample), or one-hot / probability rows (a float tensor of the logits' shape, or number[][]).
 */
export type Labels =
  tf.Tensor | number | readonly number[] | Int32Array | readonly (readonly number[])[];

/** How per-sample values are combined: their mean (default), their sum, or none (per sample). */
export type Reduction = 'mean' | 'sum' | 'none';

/** Options of the classification losses and metrics. */
export interface ClassificationOptions {
  /** 'mean' (default), 'sum' or 'none'. */
  reduction?: Reduction;
  /**
   * Check that index labels are integers in [0, numClasses) (default true). The check reads a
   * label tensor back to JS; pass false inside jit to keep the step free of host reads.
   */
  checkLabels?: boolean;
}

/** The labels of a batch, as indices or as dense rows. */
export type ClassTargets =
  { kind: 'index'; indices: tf.Tensor } | { kind: 'dense'; probs: tf.Tensor };

const REDUCTIONS: readonly Reduction[] = ['mean', 'sum', 'none'];

/** The reduction option, checked. */
export function checkReduction(where: string, reduction: unknown): Reduction {
  if (reduction === undefined) return 'mean';
  if (!REDUCTIONS.includes(reduction as Reduction)) {
    throw new ArgumentError(
      `${where}: reduction must be 'mean', 'sum' or 'none', got ${describeValue(reduction)}`,
    );
  }
  return reduction as Reduction;
}

/** Reduce per-sample values. */
export function reduce(values: tf.Tensor, reduction: Reduction): tf.Tensor {
  if (reduction === 'mean') return tf.mean(values);
  if (reduction === 'sum') return tf.sum(values);
  return values;
}

/** Logits as float32, checked to be a numeric tensor [..., numClasses] with numClasses ≥ 1. */
export function checkLogits(where: string, logits: unknown): tf.Tensor {
  if (!(logits instanceof tf.Tensor)) {
    throw new ArgumentError(
      `${where}: logits must be a tensor [..., numClasses], got ${describeValue(logits)}`,
    );
  }
  if (logits.rank === 0 || logits.shape[logits.rank - 1] === 0) {
    throw new ArgumentError(
      `${where}: logits must have a non-empty class axis [..., numClasses], got shape [${logits.shape.join(', ')}]`,
    );
  }
  if (logits.dtype === 'string' || logits.dtype === 'complex64' || logits.dtype === 'bool') {
    throw new ArgumentError(`${where}: logits must be numeric, got a ${logits.dtype} tensor`);
  }
  return logits.dtype === 'float32' ? logits : tf.cast(logits, 'float32');
}

const shapeText = (s: readonly number[]) => `[${s.join(', ')}]`;

function mismatch(where: string, labelShape: readonly number[], logitShape: number[]): never {
  const lead = logitShape.slice(0, -1);
  const sameRank = labelShape.length === lead.length || labelShape.length === logitShape.length;
  const batchText =
    sameRank && lead.length > 0 && labelShape.length > 0 && labelShape[0] !== lead[0]
      ? `batch size mismatch: the logits have ${lead[0]} samples, the labels ${labelShape[0]}; `
      : '';
  throw new ArgumentError(
    `${where}: ${batchText}labels of shape ${shapeText(labelShape)} do not match logits of shape ` +
      `${shapeText(logitShape)}: give class indices of shape ${shapeText(lead)} or one-hot rows ` +
      `of shape ${shapeText(logitShape)}`,
  );
}

/** Throw unless every value is an integer in [0, numClasses). */
function checkIndices(where: string, values: ArrayLike<number>, numClasses: number): void {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isInteger(v)) {
      throw new ArgumentError(
        `${where}: labels must be integer class indices, got ${v} at position ${i}`,
      );
    }
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (max >= numClasses) {
    throw new ArgumentError(
      `${where}: labels out of range: the largest label is ${max} but the logits have ` +
        `${numClasses} classes (labels must be in 0…${numClasses - 1})`,
    );
  }
  if (min < 0) {
    throw new ArgumentError(
      `${where}: labels out of range: the smallest label is ${min} (labels must be in 0…${numClasses - 1}, ` +
        `${numClasses} classes)`,
    );
  }
}

/**
 * The labels as class indices or dense rows for `logits` [...lead, numClasses]. Tensors created
 * here are not tracked: call it inside a tf.tidy.
 */
export function classTargets(
  where: string,
  logits: tf.Tensor,
  labels: unknown,
  check: boolean,
): ClassTargets {
  const numClasses = logits.shape[logits.rank - 1];
  const lead = logits.shape.slice(0, -1);
  if (labels instanceof Int32Array) labels = Array.from(labels);
  if (typeof labels === 'number' || Array.isArray(labels)) {
    if (typeof labels === 'number' || labels.every((v) => typeof v === 'number')) {
      const values: number[] = typeof labels === 'number' ? [labels] : labels;
      const shape = typeof labels === 'number' ? [] : [labels.length];
      if (!tf.util.arraysEqual(shape, lead)) mismatch(where, shape, logits.shape);
      checkIndices(where, values, numClasses);
      return { kind: 'index', indices: tf.tensor(values, shape, 'int32') };
    }
    if (labels.every((row) => Array.isArray(row) && row.every((v) => typeof v === 'number'))) {
      const probs = tf.tensor(labels as number[][], undefined, 'float32');
      if (!tf.util.arraysEqual(probs.shape, logits.shape))
        mismatch(where, probs.shape, logits.shape);
      return { kind: 'dense', probs };
    }
    throw new ArgumentError(
      `${where}: labels given as an array must be numbers (class indices) or rows of numbers (one-hot)`,
    );
  }
  if (!(labels instanceof tf.Tensor)) {
    throw new ArgumentError(
      `${where}: labels must be a tensor, a number or an array, got ${describeValue(labels)}`,
    );
  }
  if (labels.dtype === 'string' || labels.dtype === 'complex64') {
    throw new ArgumentError(`${where}: labels must be numeric, got a ${labels.dtype} tensor`);
  }
  if (labels.rank === logits.rank - 1) {
    if (!tf.util.arraysEqual(labels.shape, lead)) mismatch(where, labels.shape, logits.shape);
    if (check) checkIndices(where, labels.dataSync() as ArrayLike<number>, numClasses);
    return {
      kind: 'index',
      indices: labels.dtype === 'int32' ? labels : tf.cast(labels, 'int32'),
    };
  }
  if (labels.rank === logits.rank) {
    if (!tf.util.arraysEqual(labels.shape, logits.shape)) {
      mismatch(where, labels.shape, logits.shape);
    }
    return {
      kind: 'dense',
      probs: labels.dtype === 'float32' ? labels : tf.cast(labels, 'float32'),
    };
  }
  mismatch(where, labels.shape, logits.shape);
}

/** Dense one-hot rows [...lead, numClasses] (float32) for int32 class indices [...lead]. */
export function oneHotRows(indices: tf.Tensor, numClasses: number): tf.Tensor {
  const classes = tf.range(0, numClasses, 1, 'int32');
  return tf.cast(tf.equal(tf.expandDims(indices, -1), classes), 'float32');
}
