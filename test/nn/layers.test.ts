/**
 * The other layers: SignedWLinear (signs kept) and ScaledWSLinear (weight standardisation);
 * max/average pooling against a float64 reference in every padding mode; Flatten; Dropout
 * (identity unless fit, keep rate and 1/prob scaling, seeded masks, broadcast dims) and
 * DropoutFixed; the activations' values and first and second derivatives. Gradients are checked
 * against finite differences on this backend.
 */
import { describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf';
import * as environ from '../../src/environ';
import * as random from '../../src/random';
import { ArgumentError, KeyNotFoundError } from '../../src/errors';
import {
  AvgPool1d,
  AvgPool2d,
  Dropout,
  DropoutFixed,
  ELU,
  ElementWiseBlock,
  Flatten,
  GELU,
  LeakyReLU,
  LogSoftmax,
  MaxPool1d,
  MaxPool2d,
  ReLU,
  ScaledWSLinear,
  SiLU,
  Sigmoid,
  SignedWLinear,
  Softmax,
  Softplus,
  Tanh,
  elu,
  gelu,
  leakyRelu,
  logSoftmax,
  relu,
  sigmoid,
  silu,
  softmax,
  softplus,
  tanh,
} from '../../src/nn/layers';
import type { Pool } from '../../src/nn/layers';
import { resolvePadding } from '../../src/nn/layers/convOps';
import { erf } from '../../src/random';
import { ParamState } from '../../src/state';
import { checkLayerGrads, expectClose, indices, randomArray, randomTensor } from './layersHelpers';

const fit = <R>(value: boolean, fn: () => R): R => environ.context({ fit: value }, fn);

describe('SignedWLinear and ScaledWSLinear', () => {
  it('SignedWLinear: positive inputs give positive outputs, and the signs survive any W', () => {
    const layer = new SignedWLinear(4, 3);
    expect(Object.keys(layer.weight.value)).toEqual(['weight']); // no bias by default
    const x = randomTensor([5, 4], 1, 0.1, 1);
    const y = layer.call(x);
    expect(Array.from(y.dataSync()).every((v) => v > 0)).toBe(true);
    // Flip W's signs: the effective weight |W| is unchanged.
    layer.weight.value = { weight: tf.neg(layer.weight.value.weight) };
    const y2 = layer.call(x);
    expectClose(y2.dataSync(), y.dataSync(), 1e-6, 1e-7, 'sign kept');
    tf.dispose([x, y, y2]);
  });

  it('SignedWLinear with signs per input row, a mask and a bias', () => {
    const sign = [[1], [-1], [1]]; // rows: excitatory, inhibitory, excitatory
    const layer = new SignedWLinear(3, 2, {
      wSign: sign,
      wInit: [
        [-1, 2],
        [3, -4],
        [0.5, 0.5],
      ],
      wMask: [
        [1, 1],
        [1, 0],
        [1, 1],
      ],
      bInit: 0.25,
    });
    const y = layer.call(tf.tensor([[1, 1, 2]]));
    // effective W = [[1, 2], [−3, 0], [0.5, 0.5]]
    expectClose(y.dataSync(), [1 - 3 + 1 + 0.25, 2 + 0 + 1 + 0.25], 1e-6, 1e-6, 'y');
    checkLayerGrads(layer, randomTensor([2, 3], 2));
    y.dispose();
    layer.dispose();
  });

  it('ScaledWSLinear standardises each output column: mean 0, variance 1/fanIn, times the gain', () => {
    const layer = new ScaledWSLinear(6, 3, { bInit: 0.5 });
    expect(Object.keys(layer.weight.value).sort()).toEqual(['bias', 'gain', 'weight']);
    const w = layer.effectiveWeight();
    const { mean, variance } = tf.moments(w, 0);
    expectClose(mean.dataSync(), [0, 0, 0], 0, 1e-6, 'mean');
    expectClose(variance.dataSync(), [1 / 6, 1 / 6, 1 / 6], 1e-4, 1e-6, 'var');
    const x = randomTensor([4, 6], 3);
    const y = layer.call(x);
    const expected = tf.tidy(() => tf.add(tf.matMul(x, w), 0.5));
    expectClose(y.dataSync(), expected.dataSync(), 1e-5, 1e-6, 'y');
    expect(Object.keys(new ScaledWSLinear(2, 2, { wsGain: false }).weight.value).sort()).toEqual([
      'bias',
      'weight',
    ]);
    layer.weight.value = { ...layer.weight.value, gain: tf.tensor([[1, 2, 0.5]]) };
    checkLayerGrads(layer, x, { h: 3e-3, atol: 3e-3 });
    tf.dispose([w, mean, variance, x, y, expected]);
  });
});

/** Float64 pooling of x [B, ...S, C] (avg divides by the real elements of each window). */
function poolRef(
  kind: 'max' | 'avg',
  x: ArrayLike<number>,
  shape: number[],
  kernel: number[],
  strides: number[],
  pads: [number, number][],
): { data: number[]; shape: number[] } {
  const n = kernel.length;
  const S = shape.slice(1, n + 1);
  const C = shape[n + 1];
  const out = S.map(
    (s, i) => Math.floor((s + pads[i][0] + pads[i][1] - kernel[i]) / strides[i]) + 1,
  );
  const strideOf = shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
  const data: number[] = [];
  for (let b = 0; b < shape[0]; b++) {
    for (const p of indices(out)) {
      for (let c = 0; c < C; c++) {
        const vals: number[] = [];
        for (const k of indices(kernel)) {
          const pos = p.map((pi, d) => pi * strides[d] + k[d] - pads[d][0]);
          if (pos.some((v, d) => v < 0 || v >= S[d])) continue;
          const idx = [b, ...pos, c];
          vals.push(x[idx.reduce((f, v, i) => f + v * strideOf[i], 0)]);
        }
        data.push(
          kind === 'max' ? Math.max(...vals) : vals.reduce((a, v) => a + v, 0) / vals.length,
        );
      }
    }
  }
  return { data, shape: [shape[0], ...out, C] };
}

describe('pooling', () => {
  const cases: [string, () => Pool, number[]][] = [
    ['MaxPool2d 2 (stride = kernel)', () => new MaxPool2d(2), [2, 4, 6, 3]],
    [
      'MaxPool2d 3 stride 2 SAME',
      () => new MaxPool2d(3, { stride: 2, padding: 'SAME' }),
      [2, 5, 6, 2],
    ],
    ['MaxPool2d [2, 3] padding 1', () => new MaxPool2d([2, 3], { padding: 1 }), [1, 5, 5, 2]],
    ['AvgPool2d 2', () => new AvgPool2d(2), [2, 4, 4, 2]],
    [
      'AvgPool2d 3 stride 2 SAME',
      () => new AvgPool2d(3, { stride: 2, padding: 'SAME' }),
      [2, 5, 6, 2],
    ],
    [
      'AvgPool2d 3 stride 1 pairs',
      () =>
        new AvgPool2d(3, {
          stride: 1,
          padding: [
            [1, 1],
            [0, 2],
          ],
        }),
      [1, 4, 4, 1],
    ],
    [
      'MaxPool1d 3 stride 2 pad [1, 0]',
      () => new MaxPool1d(3, { stride: 2, padding: [[1, 0]] }),
      [3, 7, 2],
    ],
    ['AvgPool1d 2 stride 1 VALID', () => new AvgPool1d(2, { stride: 1 }), [2, 5, 3]],
    ['AvgPool1d 3 SAME', () => new AvgPool1d(3, { stride: 2, padding: 'SAME' }), [2, 6, 1]],
  ];
  for (const [name, make, shape] of cases) {
    it(`${name}: values and gradient`, () => {
      const pool = make();
      const x = randomTensor(shape, 11, -2, 2);
      const y = pool.call(x);
      const n = pool.poolDim;
      const pads = resolvePadding(
        't',
        pool.padding,
        shape.slice(1, n + 1),
        [...pool.kernelSize],
        [...pool.stride],
        new Array(n).fill(1),
      );
      const ref = poolRef(
        pool.kind,
        x.dataSync(),
        shape,
        [...pool.kernelSize],
        [...pool.stride],
        pads,
      );
      expect(y.shape).toEqual(ref.shape);
      expect(pool.outSizeFor(shape.slice(1))).toEqual(ref.shape.slice(1));
      expectClose(y.dataSync(), ref.data, 1e-5, 1e-6, name);
      checkLayerGrads(pool, x, { h: 1e-3, atol: 2e-3 });
      tf.dispose([x, y]);
    });
  }

  it('leading axes are batch axes; channelAxis null pools the last axes; inSize is checked', () => {
    const pool = new MaxPool2d(2, { inSize: [4, 4, 3] });
    expect(pool.outSize).toEqual([2, 2, 3]);
    expect(pool.call(tf.zeros([5, 2, 4, 4, 3])).shape).toEqual([5, 2, 2, 2, 3]);
    expect(pool.call(tf.zeros([4, 4, 3])).shape).toEqual([2, 2, 3]);
    expect(() => pool.call(tf.zeros([2, 4, 4, 2]))).toThrow(
      /expected an input of shape \[\.\.\., 4, 4, 3\]/,
    );
    const plain = new AvgPool1d(2, { channelAxis: null });
    const y = plain.call(tf.tensor([[1, 3, 5, 7]]));
    expect(Array.from(y.dataSync())).toEqual([2, 6]);
    expect(y.shape).toEqual([1, 2]);
    expect(() => new MaxPool1d(2).call(tf.zeros([3]))).toThrow(/needs at least 2 axes/);
    expect(() => new MaxPool2d(2, { padding: 'FULL' as 'SAME' })).toThrow(/padding must be/);
    expect(() => new MaxPool2d(2, { channelAxis: 0 as -1 })).toThrow(/channelAxis must be -1/);
    expect(() => new AvgPool1d(2, { padding: 2 })).toThrow(/must be smaller than the window \(2\)/);
  });
});

describe('Flatten', () => {
  it('with a sample shape keeps the batch axes', () => {
    const f = new Flatten(0, -1, { inSize: [4, 4, 8] });
    expect(f.outSize).toEqual([128]);
    expect(f.call(tf.zeros([3, 4, 4, 8])).shape).toEqual([3, 128]);
    expect(f.call(tf.zeros([4, 4, 8])).shape).toEqual([128]);
    expect(() => f.call(tf.zeros([3, 4, 8]))).toThrow(ArgumentError);
    const mid = new Flatten(1, 2, { inSize: [2, 3, 4, 5] });
    expect(mid.outSize).toEqual([2, 12, 5]);
  });

  it('without one uses the input axes (upstream behaviour)', () => {
    expect(new Flatten().call(tf.zeros([3, 4, 5])).shape).toEqual([60]);
    expect(new Flatten(1).call(tf.zeros([3, 4, 5])).shape).toEqual([3, 20]);
    expect(new Flatten(-2, -1).call(tf.zeros([3, 4, 5])).shape).toEqual([3, 20]);
    expect(() => new Flatten(2, 1).call(tf.zeros([3, 4, 5]))).toThrow(/comes after endAxis/);
    expect(() => new Flatten(5).call(tf.zeros([3, 4]))).toThrow(/out of range/);
  });
});

describe('Dropout', () => {
  it('is an ElementWiseBlock that needs the fit flag', () => {
    const d = new Dropout(0.5);
    expect(d).toBeInstanceOf(ElementWiseBlock);
    expect(() => d.call(tf.ones([3]))).toThrow(KeyNotFoundError);
    expect(() => new Dropout(0)).toThrow(/keep probability and must be in \(0, 1\]/);
    expect(() => new Dropout(1.5)).toThrow(ArgumentError);
  });

  it('is the identity when fit = false or prob = 1 (a new tensor with the same values)', () => {
    const x = randomTensor([4, 5], 1);
    for (const [d, mode] of [
      [new Dropout(0.3), false],
      [new Dropout(1), true],
    ] as const) {
      const y = fit(mode, () => d.call(x));
      expect(y).not.toBe(x);
      expect(Array.from(y.dataSync())).toEqual(Array.from(x.dataSync()));
      y.dispose();
    }
    x.dispose();
  });

  it('keeps each element with probability prob and scales kept ones by 1/prob', () => {
    const n = 20000;
    const d = new Dropout(0.8);
    const x = tf.fill([n], 2);
    const y = fit(true, () => d.call(x));
    const v = y.dataSync();
    const kept = Array.from(v).filter((u) => u !== 0);
    expect(kept.every((u) => Math.abs(u - 2 / 0.8) < 1e-6)).toBe(true);
    const rate = kept.length / n;
    expect(Math.abs(rate - 0.8)).toBeLessThan(4 * Math.sqrt((0.8 * 0.2) / n));
    tf.dispose([x, y]);
  });

  it('the same seed gives the same mask; another seed another; rng states work alike', () => {
    const d = new Dropout(0.5);
    const x = tf.ones([64]);
    const maskFor = (s: number): number[] => {
      random.seed(s);
      const y = fit(true, () => d.call(x));
      const m = Array.from(y.dataSync());
      y.dispose();
      return m;
    };
    expect(maskFor(7)).toEqual(maskFor(7));
    expect(maskFor(7)).not.toEqual(maskFor(8));
    const own = (s: number): number[] => {
      const layer = new Dropout(0.5, { rng: new random.RandomState(s) });
      const y = fit(true, () => layer.call(x));
      const m = Array.from(y.dataSync());
      y.dispose();
      return m;
    };
    expect(own(3)).toEqual(own(3));
    x.dispose();
  });

  it('broadcastDims share the mask along axes; the gradient is mask/prob', () => {
    const d = new Dropout(0.5, { broadcastDims: [0] });
    const x = tf.ones([4, 32]);
    const y = fit(true, () => d.call(x));
    const rows = y.arraySync() as number[][];
    for (const r of rows) expect(r).toEqual(rows[0]);
    random.seed(11);
    const g = fit(true, () => tf.grad((xi: tf.Tensor) => tf.sum(d.call(xi)))(x));
    random.seed(11);
    const again = fit(true, () => d.call(x));
    expect(Array.from(g.dataSync())).toEqual(Array.from(again.dataSync()));
    tf.dispose([x, y, g, again]);
  });

  it('DropoutFixed keeps its mask across steps until initState draws a new one', () => {
    const d = new DropoutFixed(16, 0.5);
    d.initState({ batchSize: 3 });
    expect(d.mask!.value.shape).toEqual([3, 16]);
    const x = tf.ones([3, 16]);
    const a = fit(true, () => d.call(x));
    const b = fit(true, () => d.call(x));
    expect(Array.from(a.dataSync())).toEqual(Array.from(b.dataSync()));
    expect(Array.from(a.dataSync()).every((v) => v === 0 || v === 2)).toBe(true);
    const e = fit(false, () => d.call(x));
    expect(Array.from(e.dataSync()).every((v) => v === 1)).toBe(true);
    expect(() => fit(true, () => d.call(tf.ones([2, 16])))).toThrow(
      /differs from the mask shape \[3, 16\]/,
    );
    d.initState();
    expect(d.mask!.value.shape).toEqual([16]);
    expect(() => fit(true, () => new DropoutFixed(4).call(tf.ones([4])))).toThrow(/call initState/);
    tf.dispose([x, a, b, e]);
  });
});

describe('activations', () => {
  const gaussCdf = (v: number): number => 0.5 * (1 + erf(v / Math.SQRT2));
  const sig = (v: number): number => 1 / (1 + Math.exp(-v));
  const elementwise: [string, (x: tf.Tensor) => tf.Tensor, (v: number) => number][] = [
    ['relu', relu, (v) => Math.max(v, 0)],
    ['sigmoid', sigmoid, sig],
    ['tanh', tanh, Math.tanh],
    ['silu', silu, (v) => v * sig(v)],
    ['elu', elu, (v) => (v > 0 ? v : Math.expm1(v))],
    ['elu alpha 0.5', (x) => elu(x, 0.5), (v) => (v > 0 ? v : 0.5 * Math.expm1(v))],
    ['gelu', gelu, (v) => v * gaussCdf(v)],
    [
      'gelu approximate',
      (x) => gelu(x, true),
      (v) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3))),
    ],
    ['softplus', softplus, (v) => Math.log1p(Math.exp(v))],
    ['leakyRelu', leakyRelu, (v) => (v > 0 ? v : 0.01 * v)],
  ];
  const xs = randomArray(24, 21, -3, 3);

  for (const [name, f, ref] of elementwise) {
    it(`${name}: values, and first and second derivatives against finite differences`, () => {
      const x = tf.tensor(xs);
      const y = f(x);
      expectClose(y.dataSync(), Array.from(xs, ref), 1e-5, 1e-6, name);
      const h = 1e-3;
      const d1 = tf.grad((t: tf.Tensor) => tf.sum(f(t)))(x);
      const fd1 = Array.from(xs, (v) => (ref(v + h) - ref(v - h)) / (2 * h));
      expectClose(d1.dataSync(), fd1, 1e-3, 1e-4, `${name}'`);
      if (name !== 'relu' && name !== 'leakyRelu') {
        const d2 = tf.grad((t: tf.Tensor) => tf.sum(tf.grad((u: tf.Tensor) => tf.sum(f(u)))(t)))(x);
        const fd2 = Array.from(xs, (v) => (ref(v + h) - 2 * ref(v) + ref(v - h)) / (h * h));
        expectClose(d2.dataSync(), fd2, 1e-2, 2e-3, `${name}''`);
        d2.dispose();
      }
      tf.dispose([x, y, d1]);
    });
  }

  it('softmax and logSoftmax along any axis, with second derivatives', () => {
    const x = tf.tensor(xs, [4, 6]);
    for (const axis of [-1, 0]) {
      const s = softmax(x, axis);
      const ls = logSoftmax(x, axis);
      const sums = tf.sum(s, axis);
      expectClose(sums.dataSync(), new Array(sums.size).fill(1), 1e-5, 1e-6, 'Σ softmax');
      expectClose(tf.exp(ls).dataSync(), s.dataSync(), 1e-5, 1e-6, 'exp logSoftmax');
      tf.dispose([s, ls, sums]);
    }
    const r = randomTensor([4, 6], 22);
    const h2 = tf.grad((t: tf.Tensor) =>
      tf.sum(tf.square(tf.grad((u: tf.Tensor) => tf.sum(tf.mul(logSoftmax(u), r)))(t))),
    )(x);
    expect(Array.from(h2.dataSync()).every(Number.isFinite)).toBe(true);
    tf.dispose([x, r, h2]);
  });

  it('module forms are ElementWiseBlocks computing the same thing, with gradients', () => {
    const x = randomTensor([3, 5], 23, -2, 2);
    const modules = [
      new ReLU(),
      new Sigmoid(),
      new Tanh(),
      new SiLU(),
      new ELU(0.7),
      new GELU(true),
      new Softplus(),
      new LeakyReLU(0.2),
      new Softmax(),
      new LogSoftmax(0),
    ];
    for (const m of modules) {
      expect(m).toBeInstanceOf(ElementWiseBlock);
      expect(m.states(ParamState).size).toBe(0);
      checkLayerGrads(m, x, { h: 1e-3, atol: 2e-3 });
    }
    const a = new LogSoftmax(0).call(x);
    const b = logSoftmax(x, 0);
    expect(Array.from(a.dataSync())).toEqual(Array.from(b.dataSync()));
    tf.dispose([x, a, b]);
  });
});
