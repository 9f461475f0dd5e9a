/**
 * eventMatMul (src/backend/eventMatMul.ts) against the dense matMul and float64 JS references:
 * values for sparse spikes, general (non 0/1) values and all-zero rows; gradients for x and w
 * against the dense product's gradients and central differences in float64; second order (a
 * recorded backward pass uses dense ops); argument errors; no tensor leaks.
 */
import { describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf';
import { eventMatMul, eventMatMulInto, eventMatMulTInto } from '../../src/backend/eventMatMul';
import { frugalGradients } from '../../src/backend/engine';
import { ArgumentError } from '../../src/errors';

function lcg(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648;
  };
}

/** Spikes (1 with probability p), some other non-zero values when `general`. */
function spikes(M: number, K: number, p: number, seed: number, general = false): Float32Array {
  const r = lcg(seed);
  const v = new Float32Array(M * K);
  for (let i = 0; i < v.length; i++) {
    if (r() < p) v[i] = general ? Math.fround(r() * 4 - 2) : 1;
  }
  return v;
}

function dense(K: number, N: number, seed: number): Float32Array {
  const r = lcg(seed);
  return Float32Array.from({ length: K * N }, () => Math.fround(r() * 2 - 1));
}

function ref64(x: ArrayLike<number>, w: ArrayLike<number>, M: number, K: number, N: number) {
  const out = new Float64Array(M * N);
  for (let m = 0; m < M; m++)
    for (let k = 0; k < K; k++)
      for (let n = 0; n < N; n++) out[m * N + n] += x[m * K + k] * w[k * N + n];
  return out;
}

function expectClose(a: ArrayLike<number>, b: ArrayLike<number>, tol: number): void {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  expect(worst).toBeLessThan(tol);
}

describe('eventMatMul', () => {
  it('equals the float64 product and the dense matMul (sparse, general values, empty rows)', () => {
    for (const [M, K, N, p, general] of [
      [64, 256, 256, 0.02, false],
      [7, 13, 5, 0.3, true],
      [3, 4, 6, 0, false],
      [5, 9, 11, 1, true],
    ] as [number, number, number, number, boolean][]) {
      const xv = spikes(M, K, p, M + K, general);
      const wv = dense(K, N, N);
      const x = tf.tensor2d(xv, [M, K]);
      const w = tf.tensor2d(wv, [K, N]);
      const y = eventMatMul(x, w);
      const yd = tf.matMul(x, w);
      expect(y.shape).toEqual([M, N]);
      expectClose(y.dataSync(), ref64(xv, wv, M, K, N), 1e-4);
      expectClose(y.dataSync(), yd.dataSync(), 1e-4);
      tf.dispose([x, w, y, yd]);
    }
  });

  it('the JS loops: forward and transposed products against float64', () => {
    const [M, K, N] = [6, 10, 4];
    const xv = spikes(M, K, 0.4, 3, true);
    const dyv = dense(M, N, 5);
    const out = new Float32Array(K * N);
    eventMatMulTInto(xv, dyv, out, M, K, N);
    const xt = new Float32Array(K * M);
    for (let m = 0; m < M; m++) for (let k = 0; k < K; k++) xt[k * M + m] = xv[m * K + k];
    expectClose(out, ref64(xt, dyv, K, M, N), 1e-5);
    const o2 = new Float32Array(M * N).fill(7);
    eventMatMulInto(xv, dense(K, N, 9), o2, M, K, N);
    expectClose(o2, ref64(xv, dense(K, N, 9), M, K, N), 1e-5);
  });

  it('gradients equal the dense product’s, and central differences in float64', () => {
    const [M, K, N] = [8, 12, 5];
    const xv = spikes(M, K, 0.25, 11, true);
    const wv = dense(K, N, 13);
    const cv = dense(M, N, 17); // loss = Σ c ⊙ (x·w)²
    const x = tf.tensor2d(xv, [M, K]);
    const w = tf.tensor2d(wv, [K, N]);
    const c = tf.tensor2d(cv, [M, N]);
    const loss = (f: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor) => (a: tf.Tensor, b: tf.Tensor) =>
      tf.sum(tf.mul(c, tf.square(f(a, b))));
    const [gx, gw] = tf.grads(loss(eventMatMul))([x, w]);
    const [dx, dw] = tf.grads(loss((a, b) => tf.matMul(a, b)))([x, w]);
    expectClose(gx.dataSync(), dx.dataSync(), 1e-4);
    expectClose(gw.dataSync(), dw.dataSync(), 1e-4);
    // the frugal reverse pass (memoised wᵀ, event-walk dw) gives the same
    const fr = frugalGradients(() => loss(eventMatMul)(x, w), [x, w]);
    expectClose(fr.grads[0]!.dataSync(), dx.dataSync(), 1e-4);
    expectClose(fr.grads[1]!.dataSync(), dw.dataSync(), 1e-4);
    // central differences of the float64 loss in w
    const L = (wd: Float64Array) => {
      const y = ref64(xv, wd, M, K, N);
      let s = 0;
      for (let i = 0; i < y.length; i++) s += cv[i] * y[i] * y[i];
      return s;
    };
    const g = gw.dataSync();
    for (const i of [0, 7, 23, K * N - 1]) {
      const h = 1e-6;
      const p = Float64Array.from(wv);
      const q = Float64Array.from(wv);
      p[i] += h;
      q[i] -= h;
      expect(g[i]).toBeCloseTo((L(p) - L(q)) / (2 * h), 3);
    }
    tf.dispose([x, w, c, gx, gw, dx, dw, fr.value, ...fr.grads.map((t) => t!)]);
  });

  it('second order works (the recorded backward uses dense ops)', () => {
    const x = tf.tensor2d([1, 0, 2, 0], [2, 2]);
    const w = tf.tensor2d([0.5, -1, 2, 3], [2, 2]);
    // f(w) = Σ (x·w)³ → d/dw Σ_ij (∂f/∂w_ij) = Σ 6 (x·w) ⊙ (x ... ): compare with matMul
    const second = (mm: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor) =>
      tf.grad((b: tf.Tensor) =>
        tf.sum(tf.grad((bb: tf.Tensor) => tf.sum(tf.pow(mm(x, bb), 3)))(b)),
      )(w);
    const a = second(eventMatMul);
    const b = second((p, q) => tf.matMul(p, q));
    expectClose(a.dataSync(), b.dataSync(), 1e-4);
    tf.dispose([x, w, a, b]);
  });

  it('rejects bad shapes and dtypes, and leaks nothing', () => {
    const x = tf.zeros([2, 3]);
    const w = tf.zeros([4, 5]);
    expect(() => eventMatMul(x, w)).toThrow(ArgumentError);
    const xi = tf.zeros([2, 4], 'int32');
    expect(() => eventMatMul(xi, w)).toThrow(ArgumentError);
    const w2 = tf.ones([3, 5]);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 10; i++) {
      tf.tidy(() => {
        tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(eventMatMul(a, b)))([x, w2]);
      });
      const r = frugalGradients(() => tf.sum(eventMatMul(x, w2)), [x, w2]);
      tf.dispose([r.value, ...r.grads.map((t) => t!)]);
    }
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, w, xi, w2]);
  });
});
