/**
 * The surrogate kernels across platforms and over time: no tensor leaks over 1000 forward +
 * gradient calls, the same results after switching between cpu and wasm, and a backend
 * registered after import gets the kernels on first use (the generic readSync/write path).
 */
import { describe, expect, it } from 'vitest';
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { tf } from '../../src/backend/tf';
import {
  defaultPlatform,
  getPlatform,
  setPlatform,
  type Platform,
} from '../../src/backend/platform';
import {
  MultiGaussianGrad,
  ReluGrad,
  SPIKE_KERNEL,
  STOP_GRADIENT_KERNEL,
  Sigmoid,
  stopGradient,
} from '../../src/surrogate';
import { expectClose } from './helpers';

const XS = [-2, -0.75, -0.1, 0, 0.3, 0.9, 1.5];

describe('memory', () => {
  it('no tensor leaks over 1000 forward + gradient calls', () => {
    const x = tf.tensor1d(Array.from({ length: 100 }, (_, i) => (i - 50) / 25));
    const w = tf.randomUniform([100], 0.5, 1.5, 'float32', 3);
    const surrogates = [new ReluGrad(), new Sigmoid(), new MultiGaussianGrad()];
    const loss = (v: tf.Tensor) => tf.sum(tf.mul(surrogates[0].call(v), w));
    const before = tf.memory();
    for (let i = 0; i < 1000; i++) {
      const s = surrogates[i % surrogates.length];
      const y = s.call(x);
      const g = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(s.call(stopGradient(v)), v)))(x);
      const dg = tf.grad(loss)(x);
      const sg = s.surrogateGrad(x);
      tf.dispose([y, g, dg, sg]);
    }
    const after = tf.memory();
    expect(after.numTensors).toBe(before.numTensors);
    expect(after.numDataBuffers).toBe(before.numDataBuffers);
    expect(after.numBytes).toBe(before.numBytes);
    tf.dispose([x, w]);
  });
});

describe('platforms', () => {
  it('switching between cpu and wasm keeps the kernels and the results', async () => {
    const start = getPlatform();
    const results: { y: number[]; g: Float32Array; s: number[] }[] = [];
    const carried = tf.tensor1d(XS); // made on the start platform, moved lazily
    for (const p of ['cpu', 'wasm', 'cpu', 'wasm'] as Platform[]) {
      await setPlatform(p);
      expect(tf.getBackend()).toBe(p);
      const s = new Sigmoid({ alpha: 2 });
      const y = s.call(carried);
      const g = tf.grad((v: tf.Tensor) => tf.sum(new ReluGrad().call(v)))(carried);
      const st = stopGradient(carried);
      results.push({
        y: Array.from(y.dataSync()),
        g: g.dataSync() as Float32Array,
        s: Array.from(st.dataSync()),
      });
      tf.dispose([y, g, st]);
    }
    for (const r of results) {
      expect(r.y).toEqual(XS.map((v) => (v >= 0 ? 1 : 0)));
      expectClose(
        r.g,
        XS.map((v) => 0.3 * Math.max(1 - Math.abs(v), 0)),
        'ReluGrad grad',
      );
      expect(r.s).toEqual(XS.map(Math.fround));
    }
    carried.dispose();
    await setPlatform(start);
  });

  it('a backend registered after import gets the kernels on first use', async () => {
    const name = 'bst-surrogate-test';
    const start = getPlatform();
    tf.registerBackend(name, () => new MathBackendCPU());
    try {
      expect(tf.getKernel(SPIKE_KERNEL, name)).toBeUndefined();
      await tf.setBackend(name);
      // This backend has no stock kernels at all, only ours (generic readSync/write path).
      const x = tf.tensor1d([-1, -0, 0.5, NaN]);
      const y = new ReluGrad().call(x);
      expect(tf.getKernel(SPIKE_KERNEL, name)).toBeDefined();
      expect(tf.getKernel(STOP_GRADIENT_KERNEL, name)).toBeDefined();
      expect(y.dtype).toBe('float32');
      expect(Array.from(y.dataSync())).toEqual([0, 1, 1, 0]);
      const z = stopGradient(x);
      expect(Array.from(z.dataSync()).slice(0, 3)).toEqual([-1, -0, 0.5]);
      tf.dispose([x, y, z]);
    } finally {
      await setPlatform(start ?? defaultPlatform());
      tf.removeBackend(name);
      tf.unregisterKernel(SPIKE_KERNEL, name);
      tf.unregisterKernel(STOP_GRADIENT_KERNEL, name);
    }
    expect(getPlatform()).toBe(start);
  });
});
