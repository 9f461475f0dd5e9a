/**
 * Conv1d/2d/3d: output values against a float64 reference convolution for every padding mode
 * (SAME, VALID, an amount, [low, high] pairs), strides, dilations (also combined with strides),
 * groups, bias and masks, batched and unbatched; the computed outSize; gradients w.r.t. input,
 * kernel and bias against finite differences (on this backend, which catches missing backprop
 * kernels: wasm has no Conv2DBackpropFilter); second-order gradients; typed errors.
 */
import { describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf';
import { ArgumentError } from '../../src/errors';
import { Conv, Conv1d, Conv2d, Conv3d, convValid, type ConvOptions } from '../../src/nn/layers';
import { resolvePadding } from '../../src/nn/layers/convOps';
import {
  checkLayerGrads,
  expectClose,
  randomArray,
  randomTensor,
  referenceConv,
} from './layersHelpers';

type ConvClass = typeof Conv1d | typeof Conv2d | typeof Conv3d;

interface Case {
  name: string;
  cls: ConvClass;
  inSize: number[];
  out: number;
  kernel: number | number[];
  options: ConvOptions;
  batch: number | null;
}

const CASES: Case[] = [
  {
    name: '1d SAME stride 2',
    cls: Conv1d,
    inSize: [7, 3],
    out: 4,
    kernel: 3,
    options: { stride: 2 },
    batch: 2,
  },
  {
    name: '1d VALID dilation 2, bias',
    cls: Conv1d,
    inSize: [9, 2],
    out: 3,
    kernel: 3,
    options: { padding: 'VALID', dilation: 2, bInit: 0.5 },
    batch: 3,
  },
  {
    name: '1d int padding, unbatched',
    cls: Conv1d,
    inSize: [5, 2],
    out: 2,
    kernel: 2,
    options: { padding: 1 },
    batch: null,
  },
  {
    name: '2d pairs, stride [2, 1]',
    cls: Conv2d,
    inSize: [5, 6, 2],
    out: 3,
    kernel: [3, 2],
    options: {
      padding: [
        [1, 0],
        [0, 2],
      ],
      stride: [2, 1],
    },
    batch: 2,
  },
  {
    name: '2d SAME groups 2 dilation 2',
    cls: Conv2d,
    inSize: [5, 5, 4],
    out: 6,
    kernel: 3,
    options: { groups: 2, dilation: 2 },
    batch: 2,
  },
  {
    name: '2d SAME stride 2 and dilation 2',
    cls: Conv2d,
    inSize: [7, 6, 2],
    out: 3,
    kernel: [2, 3],
    options: { stride: 2, dilation: [2, 1] },
    batch: 1,
  },
  {
    name: '2d depthwise (groups = channels), VALID',
    cls: Conv2d,
    inSize: [4, 5, 3],
    out: 6,
    kernel: 2,
    options: { groups: 3, padding: 'valid' },
    batch: 2,
  },
  {
    name: '2d SAME even kernel, unbatched, bias',
    cls: Conv2d,
    inSize: [4, 4, 1],
    out: 2,
    kernel: 2,
    options: { bInit: 0.1 },
    batch: null,
  },
  {
    name: '3d SAME bias',
    cls: Conv3d,
    inSize: [4, 3, 3, 2],
    out: 2,
    kernel: 2,
    options: { bInit: -0.2 },
    batch: 2,
  },
  {
    name: '3d VALID dilation 2 stride 1',
    cls: Conv3d,
    inSize: [5, 4, 5, 1],
    out: 2,
    kernel: [2, 2, 2],
    options: { padding: 'VALID', dilation: 2 },
    batch: 1,
  },
  {
    name: '3d stride 2 pairs',
    cls: Conv3d,
    inSize: [5, 4, 3, 2],
    out: 3,
    kernel: [3, 2, 2],
    options: { stride: [2, 2, 1], padding: [1, [0, 1], 0] },
    batch: 2,
  },
];

function tupled(v: number | readonly number[] | undefined, n: number, dflt = 1): number[] {
  return v === undefined
    ? new Array(n).fill(dflt)
    : typeof v === 'number'
      ? new Array(n).fill(v)
      : [...v];
}

/** The float64 reference output of a layer on x. */
function reference(
  layer: Conv,
  x: tf.Tensor,
  batched: boolean,
  c: Case,
): { data: Float64Array; shape: number[] } {
  const n = layer.numSpatial;
  const xShape = batched ? x.shape : [1, ...x.shape];
  const { weight, bias } = layer.weight.value;
  const w = Float64Array.from(weight.dataSync());
  const pads = resolvePadding(
    'test',
    c.options.padding ?? 'SAME',
    c.inSize.slice(0, n),
    tupled(c.kernel as number | number[], n),
    tupled(c.options.stride, n),
    tupled(c.options.dilation, n),
  );
  const ref = referenceConv(x.dataSync(), xShape, w, weight.shape, {
    strides: tupled(c.options.stride, n),
    dilations: tupled(c.options.dilation, n),
    pads,
    groups: c.options.groups ?? 1,
  });
  if (bias !== undefined) {
    const b = bias.dataSync();
    for (let i = 0; i < ref.data.length; i++) ref.data[i] += b[i % b.length];
  }
  return { data: ref.data, shape: batched ? ref.shape : ref.shape.slice(1) };
}

describe('Conv layers: values against a float64 reference', () => {
  for (const c of CASES) {
    it(c.name, () => {
      const layer = new c.cls(c.inSize, c.out, c.kernel, c.options);
      const shape = c.batch === null ? c.inSize : [c.batch, ...c.inSize];
      const x = randomTensor(shape, 1);
      const y = layer.call(x);
      const ref = reference(layer, x, c.batch !== null, c);
      expect(y.shape).toEqual(ref.shape);
      expect(y.shape.slice(c.batch === null ? 0 : 1)).toEqual(layer.outSize);
      expectClose(y.dataSync(), ref.data, 1e-5, 1e-5, c.name);
      tf.dispose([x, y]);
      layer.dispose();
    });
  }
});

describe('Conv layers: outSize for the padding modes', () => {
  it('SAME gives ceil(in/stride), VALID (in − (k−1)d − 1)/s + 1, explicit pads add to the input', () => {
    expect(new Conv2d([28, 28, 1], 8, 3).outSize).toEqual([28, 28, 8]);
    expect(new Conv2d([28, 28, 1], 8, 3, { stride: 2 }).outSize).toEqual([14, 14, 8]);
    expect(new Conv2d([7, 7, 1], 8, 3, { stride: 2 }).outSize).toEqual([4, 4, 8]);
    expect(new Conv2d([28, 28, 1], 8, 3, { padding: 'VALID' }).outSize).toEqual([26, 26, 8]);
    expect(new Conv2d([28, 28, 1], 8, 5, { padding: 'VALID', stride: 2 }).outSize).toEqual([
      12, 12, 8,
    ]);
    expect(new Conv1d([10, 2], 4, 3, { padding: 'VALID', dilation: 3 }).outSize).toEqual([4, 4]);
    expect(new Conv1d([10, 2], 4, 3, { padding: 2 }).outSize).toEqual([12, 4]);
    expect(new Conv1d([10, 2], 4, 3, { padding: [[2, 0]] }).outSize).toEqual([10, 4]);
    expect(new Conv3d([4, 5, 6, 2], 3, [1, 2, 3], { padding: 'VALID' }).outSize).toEqual([
      4, 4, 4, 3,
    ]);
  });

  it('creates the kernel [...k, C/groups, out] with XavierNormal and no bias by default', () => {
    const layer = new Conv2d([8, 8, 4], 6, [3, 2], { groups: 2 });
    const { weight, bias } = layer.weight.value;
    expect(weight.shape).toEqual([3, 2, 2, 6]);
    expect(bias).toBeUndefined();
    // XavierNormal: variance 2/(fanIn + fanOut) = 2/(3·2·2 + 3·2·6).
    const v = tf.tidy(() => tf.moments(weight).variance.dataSync()[0]);
    expect(v).toBeGreaterThan(0);
    expect(v).toBeLessThan(0.2);
    layer.dispose();
  });

  it('a mask multiplies the kernel', () => {
    const mask = [[[[1, 0]]], [[[0, 1]]]]; // [2, 1, 1, 2]
    const layer = new Conv2d([3, 1, 1], 2, [2, 1], { wMask: mask, wInit: 1, padding: 'VALID' });
    const x = tf.tensor([1, 2, 3], [3, 1, 1]);
    const y = layer.call(x);
    // out[i, 0] = x[i]·1 (tap 0), out[i, 1] = x[i+1]·1 (tap 1).
    expect(Array.from(y.dataSync())).toEqual([1, 2, 2, 3]);
    tf.dispose([x, y]);
    layer.dispose();
  });
});

describe('Conv layers: gradients against finite differences on this backend', () => {
  const gradCases: [string, () => Conv, number[]][] = [
    [
      'Conv1d stride 2 SAME, bias',
      () => new Conv1d([6, 2], 3, 3, { stride: 2, bInit: 0.1 }),
      [2, 6, 2],
    ],
    [
      'Conv2d SAME groups 2',
      () => new Conv2d([4, 4, 2], 4, 3, { groups: 2, bInit: 0 }),
      [2, 4, 4, 2],
    ],
    [
      'Conv2d stride 2 + dilation 2, pairs',
      () =>
        new Conv2d([6, 5, 1], 2, 2, {
          stride: 2,
          dilation: 2,
          padding: [
            [1, 0],
            [0, 1],
          ],
        }),
      [1, 6, 5, 1],
    ],
    [
      'Conv2d VALID dilation [1, 2], unbatched',
      () => new Conv2d([4, 5, 2], 2, [2, 2], { dilation: [1, 2], padding: 'VALID' }),
      [4, 5, 2],
    ],
    [
      'Conv3d SAME stride 2, bias',
      () => new Conv3d([3, 4, 3, 1], 2, 2, { stride: 2, bInit: 0 }),
      [2, 3, 4, 3, 1],
    ],
    [
      'Conv3d VALID dilation 2',
      () => new Conv3d([4, 3, 4, 2], 1, 2, { dilation: [2, 1, 2], padding: 'VALID' }),
      [1, 4, 3, 4, 2],
    ],
  ];
  for (const [name, make, shape] of gradCases) {
    it(name, () => {
      const layer = make();
      const x = randomTensor(shape, 3);
      checkLayerGrads(layer, x);
      x.dispose();
      layer.dispose();
    });
  }

  it('second order: ∂/∂w of |∂L/∂x|² matches finite differences (conv is bilinear)', () => {
    const x = randomTensor([2, 5, 4, 2], 5);
    const r = randomTensor([2, 2, 2, 3], 6);
    const w0 = randomArray(2 * 2 * 2 * 3, 7);
    const strides = [2, 2];
    const dil = [1, 1];
    const inner = (w: tf.Tensor): tf.Tensor => {
      const gx = tf.grad((xi: tf.Tensor) => tf.sum(tf.mul(convValid(xi, w, strides, dil), r)))(x);
      return tf.sum(tf.square(gx));
    };
    const w = tf.tensor(w0, [2, 2, 2, 3]);
    const g2 = tf.grad(inner)(w);
    const h = 1e-2;
    const fd = Array.from(w0, (_, i) => {
      const at = (d: number): number => {
        const p = w0.slice();
        p[i] += d;
        return tf.tidy(() => inner(tf.tensor(p, [2, 2, 2, 3])).dataSync()[0]);
      };
      return (at(h) - at(-h)) / (2 * h);
    });
    expectClose(g2.dataSync(), fd, 1e-2, 2e-3, '∂²');
    tf.dispose([x, r, w, g2]);
  });
});

describe('Conv layers: typed errors', () => {
  it('rejects inputs of the wrong shape, naming both accepted shapes', () => {
    const layer = new Conv2d([5, 5, 2], 3, 3);
    expect(() => layer.call(tf.zeros([5, 5, 3]))).toThrow(ArgumentError);
    expect(() => layer.call(tf.zeros([2, 5, 5, 3]))).toThrow(
      /\[5, 5, 2\] \(unbatched\) or \[batch, 5, 5, 2\]/,
    );
    expect(() => layer.call(tf.zeros([1, 2, 5, 5, 2]))).toThrow(ArgumentError);
    layer.dispose();
  });

  it('rejects bad construction arguments', () => {
    expect(() => new Conv2d([5, 2], 3, 3)).toThrow(
      /inSize must be \[\.\.\.spatial, channels\] with 2 spatial/,
    );
    expect(() => new Conv1d([5, 4], 3, 3, { groups: 2 })).toThrow(
      /groups must be a positive integer dividing/,
    );
    expect(() => new Conv1d([5, 4], 0, 3)).toThrow(ArgumentError);
    expect(() => new Conv1d([5, 4], 2, [3, 3])).toThrow(
      /kernelSize must be a positive integer or 1/,
    );
    expect(() => new Conv1d([5, 4], 2, 3, { padding: 'FULL' as 'SAME' })).toThrow(
      /padding must be/,
    );
    expect(() => new Conv1d([5, 4], 2, 3, { padding: -1 })).toThrow(/padding must be/);
    expect(() => new Conv1d([3, 4], 2, 5, { padding: 'VALID' })).toThrow(
      /larger than the padded input/,
    );
  });
});
