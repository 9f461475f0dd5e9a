/**
 * Normalisation layers: BatchNorm in training (batch statistics, running statistics updated with
 * the momentum) and evaluation (running statistics) chosen by environ's `fit`, which must be set;
 * LayerNorm, RMSNorm and GroupNorm against float64 references; gradients of every layer against
 * finite differences; shape and argument errors.
 */
import { describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf';
import * as environ from '../../src/environ';
import { grad } from '../../src/augment';
import { ArgumentError, KeyNotFoundError } from '../../src/errors';
import {
  BatchNorm0d,
  BatchNorm1d,
  BatchNorm2d,
  BatchNorm3d,
  GroupNorm,
  LayerNorm,
  RMSNorm,
} from '../../src/nn/layers';
import { BatchState, ParamState } from '../../src/state';
import { checkLayerGrads, expectClose, indices, randomTensor } from './layersHelpers';

/**
 * Float64 normalisation of x over `axes`: (x − mean)/sqrt(var + eps) (or x/sqrt(E[x²] + eps)
 * with `rms`), and the per-group mean and (biased) variance in row-major order of the kept axes.
 */
function normalizeRef(
  x: ArrayLike<number>,
  shape: number[],
  axes: number[],
  eps: number,
  rms = false,
): { y: Float64Array; mean: number[]; variance: number[] } {
  const kept = shape.map((_, i) => i).filter((i) => !axes.includes(i));
  const groups = new Map<string, number[]>();
  const strides = shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
  indices(shape).forEach((idx) => {
    const key = kept.map((k) => idx[k]).join(',');
    const flat = idx.reduce((f, v, i) => f + v * strides[i], 0);
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key)!.push(flat);
  });
  const y = new Float64Array(x.length);
  const mean: number[] = [];
  const variance: number[] = [];
  for (const members of groups.values()) {
    const m = members.reduce((s, i) => s + x[i], 0) / members.length;
    const v = members.reduce((s, i) => s + (x[i] - m) ** 2, 0) / members.length;
    const ms = members.reduce((s, i) => s + x[i] ** 2, 0) / members.length;
    mean.push(m);
    variance.push(v);
    for (const i of members)
      y[i] = rms ? x[i] / Math.sqrt(ms + eps) : (x[i] - m) / Math.sqrt(v + eps);
  }
  return { y, mean, variance };
}

const fit = <R>(value: boolean, fn: () => R): R => environ.context({ fit: value }, fn);

describe('BatchNorm', () => {
  it('needs the fit flag: a KeyNotFoundError naming the layer when it is not set', () => {
    const bn = new BatchNorm0d(3);
    expect(environ.has('fit')).toBe(false);
    expect(() => bn.call(tf.ones([2, 3]))).toThrow(KeyNotFoundError);
    expect(() => bn.call(tf.ones([2, 3]))).toThrow(
      /BatchNorm0d: the environment's 'fit' flag is not set/,
    );
  });

  it('training: batch statistics over all non-feature axes; running stats move by the momentum', () => {
    const bn = new BatchNorm2d([3, 2, 4], { momentum: 0.9 });
    expect(bn.runningMean).toBeInstanceOf(BatchState);
    expect(bn.weight).toBeInstanceOf(ParamState);
    const x = randomTensor([5, 3, 2, 4], 1, -2, 3);
    const y = fit(true, () => bn.call(x));
    const ref = normalizeRef(x.dataSync(), x.shape, [0, 1, 2], 1e-5);
    expectClose(y.dataSync(), ref.y, 1e-4, 1e-5, 'train');
    expectClose(
      bn.runningMean!.value.dataSync(),
      ref.mean.map((m) => 0.1 * m),
      1e-5,
      1e-6,
      'mean',
    );
    expectClose(
      bn.runningVar!.value.dataSync(),
      ref.variance.map((v) => 0.9 + 0.1 * v),
      1e-5,
      1e-6,
      'var',
    );
    // A second step moves again from the new values.
    const rm1 = Array.from(bn.runningMean!.value.dataSync());
    fit(true, () => bn.call(x)).dispose();
    expectClose(
      bn.runningMean!.value.dataSync(),
      rm1.map((m, i) => 0.9 * m + 0.1 * ref.mean[i]),
      1e-5,
      1e-6,
      'mean 2',
    );
    tf.dispose([x, y]);
  });

  it('evaluation: the running statistics, not the batch, and no update', () => {
    const bn = new BatchNorm1d([4, 2], { epsilon: 1e-3 });
    bn.runningMean!.value = tf.tensor([0.5, -1]);
    bn.runningVar!.value = tf.tensor([4, 0.25]);
    bn.weight!.value = { scale: tf.tensor([2, 3]), bias: tf.tensor([0.1, -0.1]) };
    const x = randomTensor([3, 4, 2], 2);
    const y = fit(false, () => bn.call(x));
    const xd = x.dataSync();
    const expected = Array.from(xd, (v, i) => {
      const c = i % 2;
      return ((v - [0.5, -1][c]) / Math.sqrt([4, 0.25][c] + 1e-3)) * [2, 3][c] + [0.1, -0.1][c];
    });
    expectClose(y.dataSync(), expected, 1e-5, 1e-6, 'eval');
    expect(Array.from(bn.runningMean!.value.dataSync())).toEqual([0.5, -1]);
    // Training and evaluation differ on the same input.
    const yTrain = fit(true, () => bn.call(x));
    expect(tf.tidy(() => tf.max(tf.abs(tf.sub(y, yTrain))).dataSync()[0])).toBeGreaterThan(0.1);
    tf.dispose([x, y, yTrain]);
  });

  it('unbatched input, a feature axis other than the last, no running stats, no affine', () => {
    const bn = new BatchNorm1d([3, 5], { featureAxis: 0, trackRunningStats: false, affine: false });
    expect(bn.runningMean).toBeNull();
    expect(bn.weight).toBeNull();
    const x = randomTensor([3, 5], 3);
    const ref = normalizeRef(x.dataSync(), [3, 5], [1], 1e-5);
    for (const mode of [true, false]) {
      const y = fit(mode, () => bn.call(x));
      expectClose(y.dataSync(), ref.y, 1e-4, 1e-5, `fit=${mode}`);
      y.dispose();
    }
    x.dispose();
  });

  it('BatchNorm3d and the input shape checks', () => {
    const bn = new BatchNorm3d([2, 2, 2, 3]);
    const x = randomTensor([2, 2, 2, 2, 3], 4);
    const y = fit(true, () => bn.call(x));
    expect(y.shape).toEqual([2, 2, 2, 2, 3]);
    expect(() => fit(true, () => bn.call(tf.zeros([2, 2, 2, 3, 3])))).toThrow(ArgumentError);
    expect(() => new BatchNorm2d([3, 4])).toThrow(/inSize must have 3 entries/);
    expect(() => new BatchNorm0d(3, { momentum: 2 })).toThrow(/momentum must be in \[0, 1\]/);
    tf.dispose([x, y]);
  });

  it('gradients in training (through the batch statistics) and in evaluation', () => {
    const bn = new BatchNorm2d([2, 2, 3], { scaleInit: 1.5, biasInit: 0.2 });
    const x = randomTensor([3, 2, 2, 3], 5, -2, 2);
    fit(true, () => checkLayerGrads(bn, x, { h: 3e-3, atol: 3e-3 }));
    fit(false, () => checkLayerGrads(bn, x, { h: 3e-3, atol: 3e-3 }));
    x.dispose();
  });

  it('under grad, training updates the running statistics once and they get no gradient', () => {
    const bn = new BatchNorm0d(2, { momentum: 0.5 });
    const x = tf.tensor([
      [1, 2],
      [3, 6],
    ]);
    const params = bn.states(ParamState).values();
    const g = fit(true, () =>
      grad(() => tf.sum(tf.square(bn.call(x) as tf.Tensor)), { gradStates: params })(),
    );
    expectClose(bn.runningMean!.value.dataSync(), [1, 2], 1e-6, 1e-6, 'running mean');
    expectClose(
      bn.runningVar!.value.dataSync(),
      [0.5 + 0.5 * 1, 0.5 + 0.5 * 4],
      1e-6,
      1e-6,
      'running var',
    );
    tf.dispose([x, g as unknown as tf.TensorContainer]);
  });
});

describe('LayerNorm, RMSNorm, GroupNorm', () => {
  it('LayerNorm normalises each sample over the reduction axes, with per-feature scale and bias', () => {
    const ln = new LayerNorm([3, 4], { reductionAxes: [-2, -1], featureAxes: -1 });
    expect(ln.weight!.value.scale.shape).toEqual([1, 4]);
    ln.weight!.value = { scale: tf.tensor([[1, 2, 3, 4]]), bias: tf.tensor([[0, 1, 0, -1]]) };
    const x = randomTensor([2, 5, 3, 4], 6, -3, 3);
    const y = ln.call(x);
    const ref = normalizeRef(x.dataSync(), x.shape, [2, 3], 1e-6);
    const expected = Array.from(ref.y, (v, i) => v * [1, 2, 3, 4][i % 4] + [0, 1, 0, -1][i % 4]);
    expectClose(y.dataSync(), expected, 1e-4, 1e-5, 'LayerNorm');
    expect(() => ln.call(tf.zeros([2, 4, 3]))).toThrow(
      /expected an input of shape \[\.\.\., 3, 4\]/,
    );
    tf.dispose([x, y]);
  });

  it('RMSNorm divides by the root mean square, no centring', () => {
    const rn = new RMSNorm(6, { epsilon: 1e-5 });
    expect(Object.keys(rn.weight!.value)).toEqual(['scale']);
    const x = randomTensor([4, 6], 7, -2, 2);
    const y = rn.call(x);
    expectClose(
      y.dataSync(),
      normalizeRef(x.dataSync(), [4, 6], [1], 1e-5, true).y,
      1e-4,
      1e-5,
      'RMSNorm',
    );
    tf.dispose([x, y]);
  });

  it('GroupNorm normalises each group of channels over all positions of a sample', () => {
    const gn = new GroupNorm([3, 2, 6], { numGroups: 3 });
    const x = randomTensor([2, 3, 2, 6], 8, -2, 2);
    const y = gn.call(x);
    // Reference: view as [B, 3, 2, G, C/G], normalise over axes 1, 2, 4.
    const ref = normalizeRef(x.dataSync(), [2, 3, 2, 3, 2], [1, 2, 4], 1e-6);
    expectClose(y.dataSync(), ref.y, 1e-4, 1e-5, 'GroupNorm');
    const single = gn.call(tf.slice(x, [1, 0, 0, 0], [1, 3, 2, 6]).reshape([3, 2, 6]));
    expectClose(single.dataSync(), Array.from(y.dataSync()).slice(36), 1e-5, 1e-6, 'unbatched');
    expect(new GroupNorm([4, 8], { groupSize: 2 }).numGroups).toBe(4);
    expect(() => new GroupNorm([4, 6])).toThrow(/must split evenly into groups, got numGroups 32/);
    expect(() => new GroupNorm([4, 6], { numGroups: 3, groupSize: 2 })).toThrow(/not both/);
    tf.dispose([x, y, single]);
  });

  it('gradients against finite differences', () => {
    const x = randomTensor([2, 3, 4], 9, -2, 2);
    const ln = new LayerNorm([3, 4], { reductionAxes: [0, 1], scaleInit: 1.3, biasInit: 0.1 });
    checkLayerGrads(ln, x, { h: 3e-3, atol: 3e-3 });
    const rn = new RMSNorm([3, 4], { scaleInit: 0.7 });
    checkLayerGrads(rn, x, { h: 3e-3, atol: 3e-3 });
    const gn = new GroupNorm([3, 4], { numGroups: 2, scaleInit: 1.2, biasInit: -0.3 });
    checkLayerGrads(gn, x, { h: 3e-3, atol: 3e-3 });
    x.dispose();
  });
});
