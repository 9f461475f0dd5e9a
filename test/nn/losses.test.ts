/**
 * Losses and metrics: softmax cross-entropy against a float64 reference (integer labels as an
 * int32 tensor, a number[] and an Int32Array; one-hot and probability rows; extreme logits), its
 * gradient softmax − onehot, the reductions, accuracy, mse, typed errors for bad labels and
 * shapes, and no tensor leaks.
 */
import { describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf';
import { ArgumentError } from '../../src/errors';
import { accuracy, mse, softmaxCrossEntropy } from '../../src/nn/losses';
import { checkNoTensorLeaks } from '../graph/fixtures';

checkNoTensorLeaks();

/** Deterministic pseudo-random numbers in [-scale, scale). */
function fixed(n: number, seed: number, scale = 1): number[] {
  let s = seed * 2654435761;
  return Array.from({ length: n }, () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return (s / 2147483648) * 2 * scale - scale;
  });
}

/** Float64 per-sample cross-entropy and softmax of row-major logits [n, c]. */
function referenceCE(logits: number[], labels: number[], c: number): { ce: number[]; p: number[] } {
  const n = labels.length;
  const ce: number[] = [];
  const p: number[] = [];
  for (let i = 0; i < n; i++) {
    const row = logits.slice(i * c, (i + 1) * c);
    const m = Math.max(...row);
    const lse = m + Math.log(row.reduce((a, v) => a + Math.exp(v - m), 0));
    ce.push(lse - row[labels[i]]);
    for (const v of row) p.push(Math.exp(v - lse));
  }
  return { ce, p };
}

const N = 5;
const C = 4;
const LOGITS = fixed(N * C, 1, 3);
const LABELS = [0, 3, 1, 1, 2];

function close(actual: ArrayLike<number>, expected: ArrayLike<number>, tol = 1e-5): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    expect(Math.abs(actual[i] - expected[i])).toBeLessThanOrEqual(
      tol * (1 + Math.abs(expected[i])),
    );
  }
}

describe('softmaxCrossEntropy', () => {
  it('equals the float64 reference for int32, number[] and Int32Array labels, with each reduction', () => {
    const { ce } = referenceCE(LOGITS, LABELS, C);
    const mean = ce.reduce((a, b) => a + b, 0) / N;
    const logits = tf.tensor2d(LOGITS, [N, C]);
    const labels = tf.tensor1d(LABELS, 'int32');
    for (const lab of [labels, LABELS, Int32Array.from(LABELS)]) {
      const none = softmaxCrossEntropy(logits, lab, { reduction: 'none' });
      expect(none.shape).toEqual([N]);
      close(none.dataSync(), ce);
      const m = softmaxCrossEntropy(logits, lab);
      expect(m.shape).toEqual([]);
      close(m.dataSync(), [mean]);
      const s = softmaxCrossEntropy(logits, lab, { reduction: 'sum' });
      close(s.dataSync(), [mean * N]);
      tf.dispose([none, m, s]);
    }
    tf.dispose([logits, labels]);
  });

  it('accepts one-hot and probability rows (float) and matches −Σ y log p', () => {
    const { ce, p } = referenceCE(LOGITS, LABELS, C);
    const oneHot = LABELS.map((l) => Array.from({ length: C }, (_, k) => (k === l ? 1 : 0)));
    const logits = tf.tensor2d(LOGITS, [N, C]);
    const dense = tf.tensor2d(oneHot);
    for (const lab of [dense, oneHot]) {
      const v = softmaxCrossEntropy(logits, lab, { reduction: 'none' });
      close(v.dataSync(), ce);
      v.dispose();
    }
    const soft = Array.from({ length: N }, (_, i) => [0.1, 0.2, 0.3, 0.4].map((q) => q + 0 * i));
    const expected = soft.map(
      (row, i) => -row.reduce((a, q, k) => a + q * Math.log(p[i * C + k]), 0),
    );
    const v = softmaxCrossEntropy(logits, soft, { reduction: 'none' });
    close(v.dataSync(), expected);
    tf.dispose([logits, dense, v]);
  });

  it('is stable for extreme logits (±1000) and works with leading axes [T, B, C]', () => {
    const big = [1000, -1000, 0, 999, -500, 500, 10, 20];
    const labels = [3, 0];
    const { ce } = referenceCE(big, labels, C);
    const logits = tf.tensor2d(big, [2, C]);
    const v = softmaxCrossEntropy(logits, labels, { reduction: 'none' });
    const got = v.dataSync();
    expect(Array.from(got).every(Number.isFinite)).toBe(true);
    close(got, ce, 1e-4); // float32 resolution at |logit| = 1000 is 6e-5
    // [T=2, B=N/... ] leading axes: reshape [N-1=4 samples] as [2, 2, C]
    const l3 = tf.tensor3d(LOGITS.slice(0, 4 * C), [2, 2, C]);
    const lab3 = tf.tensor2d([LABELS.slice(0, 2), LABELS.slice(2, 4)], [2, 2], 'int32');
    const v3 = softmaxCrossEntropy(l3, lab3, { reduction: 'none' });
    expect(v3.shape).toEqual([2, 2]);
    close(v3.dataSync(), referenceCE(LOGITS.slice(0, 4 * C), LABELS.slice(0, 4), C).ce);
    tf.dispose([logits, v, l3, lab3, v3]);
  });

  it('has gradient softmax − onehot (sum) and (softmax − onehot)/N (mean)', () => {
    const { p } = referenceCE(LOGITS, LABELS, C);
    const expected = p.map((q, k) => q - (LABELS[Math.floor(k / C)] === k % C ? 1 : 0));
    const logits = tf.tensor2d(LOGITS, [N, C]);
    const gSum = tf.grad((z: tf.Tensor) => softmaxCrossEntropy(z, LABELS, { reduction: 'sum' }))(
      logits,
    );
    close(gSum.dataSync(), expected, 1e-5);
    const gMean = tf.grad((z: tf.Tensor) => softmaxCrossEntropy(z, LABELS))(logits);
    close(
      gMean.dataSync(),
      expected.map((g) => g / N),
      1e-5,
    );
    tf.dispose([logits, gSum, gMean]);
  });

  it('raises typed errors for labels out of range, non-integers, batch and shape mismatches', () => {
    const logits = tf.tensor2d(LOGITS, [N, C]);
    const cases: [unknown, RegExp][] = [
      [[0, 1, 4, 1, 2], /largest label is 4 .*4 classes/],
      [[0, 1, 9, 1, 2], /largest label is 9 .*4 classes/],
      [[0, -1, 2, 1, 2], /smallest label is -1/],
      [[0, 1.5, 2, 1, 2], /integer class indices/],
      [[0, 1, 2], /batch size mismatch: the logits have 5 samples, the labels 3/],
      [[[1, 0, 0, 0]], /batch size mismatch/],
      ['cat', /labels must be a tensor/],
    ];
    for (const [labels, message] of cases) {
      expect(() => softmaxCrossEntropy(logits, labels as number[])).toThrow(ArgumentError);
      expect(() => softmaxCrossEntropy(logits, labels as number[])).toThrow(message);
    }
    const t = tf.tensor1d([0, 1, 7, 1, 2], 'int32');
    expect(() => softmaxCrossEntropy(logits, t)).toThrow(
      /largest label is 7 but the logits have 4 classes/,
    );
    expect(() => accuracy(logits, t)).toThrow(ArgumentError);
    const t6 = tf.tensor1d([0, 1, 2, 1, 2, 0], 'int32');
    expect(() => softmaxCrossEntropy(logits, t6)).toThrow(
      /batch size mismatch.*5 samples.*labels 6/,
    );
    const t3 = tf.zeros([N, C, 1]);
    expect(() => softmaxCrossEntropy(logits, t3)).toThrow(/do not match logits of shape \[5, 4\]/);
    expect(() => softmaxCrossEntropy(logits, LABELS, { reduction: 'avg' as 'mean' })).toThrow(
      /reduction must be/,
    );
    const scalar = tf.scalar(1);
    expect(() => softmaxCrossEntropy(scalar, [0])).toThrow(/non-empty class axis/);
    // the check can be skipped (e.g. inside jit): no host read, out-of-range rows give 0 one-hot
    const skipped = softmaxCrossEntropy(logits, t, { checkLabels: false, reduction: 'none' });
    expect(skipped.shape).toEqual([N]);
    tf.dispose([logits, t, t6, t3, skipped, scalar]);
  });
});

describe('accuracy', () => {
  it('counts arg-max hits for index and one-hot labels, with each reduction', () => {
    const logits = tf.tensor2d(
      [
        [0.1, 0.9, 0],
        [2, 1, 0],
        [0, 0, 5],
        [1, 1, 0], // tie → class 0
      ],
      [4, 3],
    );
    const labels = [1, 0, 1, 0];
    const mean = accuracy(logits, labels);
    expect(mean.dataSync()[0]).toBeCloseTo(0.75, 6);
    const labelTensor = tf.tensor1d(labels, 'int32');
    const none = accuracy(logits, labelTensor, { reduction: 'none' });
    expect(Array.from(none.dataSync())).toEqual([1, 1, 0, 1]);
    const sum = accuracy(
      logits,
      [
        [0, 1, 0],
        [1, 0, 0],
        [0, 1, 0],
        [1, 0, 0],
      ],
      { reduction: 'sum' },
    );
    expect(sum.dataSync()[0]).toBe(3);
    expect(() => accuracy(logits, [0, 1])).toThrow(/batch size mismatch/);
    expect(() => accuracy(logits, [0, 1, 3, 0])).toThrow(
      /largest label is 3 but the logits have 3 classes/,
    );
    tf.dispose([logits, labelTensor, mean, none, sum]);
  });
});

describe('mse', () => {
  it('is the mean (sum, element-wise) squared error with gradient 2(p − t)/n', () => {
    const p = tf.tensor2d([1, 2, 3, 4, 5, 6], [2, 3]);
    const t = [[1, 0, 3, 0, 5, 0]][0];
    const target = tf.tensor2d(t, [2, 3]);
    const sq = [0, 4, 0, 16, 0, 36];
    const mean = mse(p, target);
    expect(mean.dataSync()[0]).toBeCloseTo(56 / 6, 5);
    const sum = mse(
      p,
      [
        [1, 0, 3],
        [0, 5, 0],
      ],
      { reduction: 'sum' },
    );
    expect(sum.dataSync()[0]).toBeCloseTo(56, 5);
    const none = mse(p, target, { reduction: 'none' });
    expect(Array.from(none.dataSync())).toEqual(sq);
    const scalarTarget = mse(p, 1, { reduction: 'sum' });
    expect(scalarTarget.dataSync()[0]).toBeCloseTo(0 + 1 + 4 + 9 + 16 + 25, 5);
    const g = tf.grad((x: tf.Tensor) => mse(x, target))(p);
    close(
      g.dataSync(),
      [1, 2, 3, 4, 5, 6].map((v, i) => (2 * (v - t[i])) / 6),
    );
    expect(() => mse(p, [1, 2, 3])).toThrow(ArgumentError);
    expect(() => mse(p, target, { reduction: 'max' as 'sum' })).toThrow(/reduction must be/);
    tf.dispose([p, target, mean, sum, none, scalarTarget, g]);
  });
});

describe('memory', () => {
  it('leaves no tensors behind over many calls (values and gradients)', () => {
    const logits = tf.tensor2d(LOGITS, [N, C]);
    const labels = tf.tensor1d(LABELS, 'int32');
    const before = tf.memory().numTensors;
    for (let k = 0; k < 200; k++) {
      tf.dispose([
        softmaxCrossEntropy(logits, labels),
        softmaxCrossEntropy(logits, LABELS, { reduction: 'none' }),
        accuracy(logits, labels),
        mse(logits, logits),
        tf.grad((z: tf.Tensor) => softmaxCrossEntropy(z, labels))(logits),
      ]);
    }
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([logits, labels]);
  });
});
