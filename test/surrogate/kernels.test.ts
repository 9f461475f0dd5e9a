/**
 * The BstSpike and BstStopGradient kernels: the forward pass is exactly Heaviside with H(0) = 1
 * (bit-identical to greaterEqual + cast), stopGradient is an exact identity with zero gradient,
 * both are registered for every backend, and BstSpike's gradient finds its surrogate by name.
 */
import { describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf';
import { ArgumentError, NotSupportedError } from '../../src/errors';
import {
  ReluGrad,
  SlayerGrad,
  SPIKE_KERNEL,
  STOP_GRADIENT_KERNEL,
  Surrogate,
  ensureSurrogateKernels,
  reluGrad,
  runSpike,
  stopGradient,
} from '../../src/surrogate';
import { bits, expectClose, rng } from './helpers';

/** What the forward pass must equal bit for bit. */
function reference(x: tf.Tensor): ArrayLike<number> {
  const r = tf.tidy(() => tf.cast(tf.greaterEqual(x, 0), 'float32'));
  const v = r.dataSync();
  r.dispose();
  return v;
}

const SPECIAL = [
  0,
  -0,
  1e-45, // smallest subnormal
  -1e-45,
  1.1754943508222875e-38, // smallest normal
  -1.1754943508222875e-38,
  1e-30,
  -1e-30,
  3.4028234663852886e38,
  -3.4028234663852886e38,
  Infinity,
  -Infinity,
  NaN,
  1,
  -1,
];

describe('BstSpike forward: Heaviside with H(0) = 1', () => {
  it('is bit-identical to cast(greaterEqual(x, 0)) on random and special values', () => {
    const next = rng(1);
    const values = [...SPECIAL, ...Array.from({ length: 1000 }, () => (next() - 0.5) * 10)];
    const x = tf.tensor1d(values);
    const y = new ReluGrad().call(x);
    expect(y.dtype).toBe('float32');
    expect(y.shape).toEqual(x.shape);
    expect(bits(y.dataSync())).toEqual(bits(reference(x)));
    tf.dispose([x, y]);
  });

  it('counts 0 and −0 as spikes; subnormals keep their sign; NaN does not spike', () => {
    const x = tf.tensor1d(SPECIAL);
    const y = reluGrad(x);
    expect(Array.from(y.dataSync())).toEqual([1, 1, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 0, 1, 0]);
    tf.dispose([x, y]);
  });

  it('keeps the shape (scalar, 2-D, 3-D, empty)', () => {
    for (const shape of [[], [3, 4], [2, 3, 5], [0], [2, 0]]) {
      const n = shape.reduce((a, b) => a * b, 1);
      const x = tf.tensor(
        Array.from({ length: n }, (_, i) => (i % 3) - 1),
        shape,
      );
      const y = new SlayerGrad().call(x);
      expect(y.shape).toEqual(shape);
      expect(bits(y.dataSync())).toEqual(bits(reference(x)));
      tf.dispose([x, y]);
    }
  });

  it('casts int32 and bool inputs and converts JS values', () => {
    const xi = tf.tensor1d([-2, 0, 3], 'int32');
    const xb = tf.tensor1d([true, false], 'bool');
    const s = new ReluGrad();
    const yi = s.call(xi);
    const yb = s.call(xb);
    expect(yi.dtype).toBe('float32');
    expect(Array.from(yi.dataSync())).toEqual([0, 1, 1]);
    expect(Array.from(yb.dataSync())).toEqual([1, 1]);
    const ys = s.call(-0.5);
    expect(ys.shape).toEqual([]);
    expect(ys.dataSync()[0]).toBe(0);
    tf.dispose([xi, xb, yi, yb, ys]);
  });

  it('the gradient at NaN is NaN (it is not a spike, and g(NaN) is NaN)', () => {
    const x = tf.tensor1d([NaN, 0.5]);
    const g = tf.grad((v: tf.Tensor) => tf.sum(new SlayerGrad().call(v)))(x);
    const gv = g.dataSync();
    expect(Number.isNaN(gv[0])).toBe(true);
    expect(gv[1]).toBeCloseTo(Math.exp(-0.5), 6);
    tf.dispose([x, g]);
  });
});

describe('BstStopGradient', () => {
  it('forward is the exact input (bits, dtype, shape), sharing the buffer on cpu and wasm', () => {
    const x = tf.tensor2d([SPECIAL.slice(0, 5), SPECIAL.slice(10, 15)]);
    const y = stopGradient(x);
    expect(y.dtype).toBe('float32');
    expect(y.shape).toEqual([2, 5]);
    expect(bits(y.dataSync())).toEqual(bits(x.dataSync()));
    expect(y.dataId).toBe(x.dataId);
    x.dispose(); // y keeps the shared buffer alive
    expect(Array.from(y.dataSync()).slice(0, 2)).toEqual([0, -0]);
    y.dispose();
    for (const dtype of ['int32', 'bool'] as const) {
      const xi = tf.tensor1d([1, 0, 1], dtype);
      const yi = stopGradient(xi);
      expect(yi.dtype).toBe(dtype);
      expect(Array.from(yi.dataSync())).toEqual([1, 0, 1]);
      tf.dispose([xi, yi]);
    }
    const yj = stopGradient([1.5, -2]);
    expect(Array.from(yj.dataSync())).toEqual([1.5, -2]);
    yj.dispose();
  });

  it('has a zero gradient, also inside a composite: d/dx Σ x·stopGradient(x) = x', () => {
    const x = tf.tensor1d([-2, -0.5, 0, 1.5, 3]);
    const g0 = tf.grad((v: tf.Tensor) => tf.sum(stopGradient(v)))(x);
    expect(Array.from(g0.dataSync())).toEqual([0, 0, 0, 0, 0]);
    const g1 = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(v, stopGradient(v))))(x);
    expect(Array.from(g1.dataSync())).toEqual([-2, -0.5, 0, 1.5, 3]);
    const g2 = tf.grad((v: tf.Tensor) => tf.sum(new ReluGrad().call(stopGradient(v))))(x);
    expect(Array.from(g2.dataSync())).toEqual([0, 0, 0, 0, 0]);
    tf.dispose([x, g0, g1, g2]);
  });
});

describe('kernel registration', () => {
  it('both kernels and gradients exist for every backend tfjs knows', () => {
    for (const b of tf.engine().backendNames()) {
      expect(tf.getKernel(SPIKE_KERNEL, b), `${SPIKE_KERNEL} on ${b}`).toBeDefined();
      expect(
        tf.getKernel(STOP_GRADIENT_KERNEL, b),
        `${STOP_GRADIENT_KERNEL} on ${b}`,
      ).toBeDefined();
    }
    expect(tf.getGradient(SPIKE_KERNEL)).toBeDefined();
    expect(tf.getGradient(STOP_GRADIENT_KERNEL)).toBeDefined();
    expect(() => ensureSurrogateKernels()).not.toThrow(); // idempotent
  });

  it('runs by name with attrs alone: the gradient builds the surrogate from a factory', () => {
    const x = tf.tensor1d([-1, 0.25, 2]);
    const g = tf.grad((v: tf.Tensor) =>
      tf.sum(
        tf.engine().runKernel(SPIKE_KERNEL, { x: v }, {
          surrogate: 'SlayerGrad',
          params: [2.5],
        } as unknown as tf.NamedAttrMap) as tf.Tensor,
      ),
    )(x);
    expectClose(
      g.dataSync(),
      [-1, 0.25, 2].map((v) => Math.exp(-2.5 * Math.abs(v))),
      'g',
    );
    tf.dispose([x, g]);
  });

  it('an unknown surrogate name fails in the backward pass with a NotSupportedError', () => {
    const x = tf.tensor1d([1]);
    expect(() => tf.grad((v: tf.Tensor) => tf.sum(runSpike(v, 'NoSuchSurrogate', [])))(x)).toThrow(
      NotSupportedError,
    );
    x.dispose();
  });
});

describe('custom surrogates', () => {
  class CosineGrad extends Surrogate {
    constructor(readonly k = 2) {
      super([['k', k, 'positive']]);
    }
    protected computeGrad(x: tf.Tensor): tf.Tensor {
      return tf.mul(tf.cos(x), this.k);
    }
  }

  it('a subclass defines g(x) and gets the spike, printing and validation for free', () => {
    const s = new CosineGrad(3);
    expect(s.toString()).toBe('CosineGrad(k=3)');
    const xs = [-1, -0.2, 0, 0.7];
    const x = tf.tensor1d(xs);
    const y = s.call(x);
    expect(Array.from(y.dataSync())).toEqual([0, 0, 1, 1]);
    const g = tf.grad((v: tf.Tensor) => tf.sum(s.call(v)))(x);
    expectClose(
      g.dataSync(),
      xs.map((v) => 3 * Math.cos(v)),
      'g',
    );
    expect(() => new CosineGrad(-1)).toThrow(/CosineGrad: parameter k must be a finite number > 0/);
    tf.dispose([x, y, g]);
  });

  it('two classes with the same name cannot share the IR name', () => {
    const makeClass = (k: number) =>
      class Dup extends Surrogate {
        constructor() {
          super([['p', 1, 'finite']]);
        }
        protected computeGrad(x: tf.Tensor): tf.Tensor {
          return tf.mul(tf.onesLike(x), k);
        }
      };
    const A = makeClass(1);
    const B = makeClass(2);
    const x = tf.tensor1d([0]);
    const ya = new A().call(x);
    expect(() => new B().call(x)).toThrow(ArgumentError);
    expect(() => new B().call(x)).toThrow(/another class is also named Dup/);
    tf.dispose([x, ya]);
  });
});
