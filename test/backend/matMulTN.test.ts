/**
 * matMulTN(a, b) = aᵀ·b (src/backend/matMulTN.ts): the wasm module is its WAT text; values
 * against a float64 reference for shapes that exercise the 4 × 8 tiles and both remainders (and
 * the bench's ES-D-RTRL weight gradient shape), with denormal and zero inputs; the registered
 * gradient against the tf ops; a recording sees one kernel; typed errors; no leaks.
 */
import { expectAssembled } from '../assembled';
import { describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf';
import { MATMUL_TN_KERNEL, matMulTN } from '../../src/backend/matMulTN';
import { GEMM_WAT } from '../../src/backend/gemmSource';
import { GEMM_WASM_BASE64 } from '../../src/backend/gemmBinary';
import { makeIR } from '../../src/compile';

const isWasm = tf.getBackend() === 'wasm';

/** aᵀ·b in float64 (a [K, M], b [K, N], row-major). */
function reference(a: Float32Array, b: Float32Array, K: number, M: number, N: number) {
  const c = new Float64Array(M * N);
  for (let k = 0; k < K; k++)
    for (let m = 0; m < M; m++)
      for (let n = 0; n < N; n++) c[m * N + n] += a[k * M + m] * b[k * N + n];
  return c;
}

describe('matMulTN', () => {
  it('the gemm module is the WAT source compiled by wabt 1.0.39 (simd)', async () => {
    await expectAssembled(GEMM_WAT, GEMM_WASM_BASE64, 'src/backend/gemmBinary.ts');
  });

  it.each([
    [64, 356, 256],
    [5, 7, 3],
    [3, 1, 9],
    [7, 12, 17],
    [1, 4, 8],
    [2, 5, 11],
    [0, 3, 4],
  ])('K %i, M %i, N %i: aᵀ·b within float32 rounding of float64', (K, M, N) => {
    const a = tf.randomNormal([K, M], 0, 1, 'float32', 1);
    const b = tf.randomNormal([K, N], 0, 1, 'float32', 2);
    const c = matMulTN(a, b);
    expect(c.shape).toEqual([M, N]);
    const ref = reference(a.dataSync() as Float32Array, b.dataSync() as Float32Array, K, M, N);
    const got = c.dataSync();
    for (let i = 0; i < ref.length; i++) {
      expect(Math.abs(got[i] - ref[i])).toBeLessThan(
        1e-5 * (1 + Math.sqrt(K)) * (1 + Math.abs(ref[i])),
      );
    }
    tf.dispose([a, b, c]);
  });

  it('zeros, denormals and spikes in a give exact products', () => {
    const a = tf.tensor2d([
      [0, 1e-40, 1, 0, 2],
      [1, 0, 0, 1e-39, 0],
    ]);
    const b = tf.tensor2d([
      [1, 2, 3, 4, 5, 6, 7, 8, 9],
      [-1, -2, -3, -4, -5, -6, -7, -8, -9],
    ]);
    const ref = tf.matMul(tf.transpose(a), b);
    const c = matMulTN(a, b);
    expect(Array.from(c.dataSync())).toEqual(Array.from(ref.dataSync()));
    tf.dispose([a, b, c, ref]);
  });

  it('has a gradient: the tf ops’ one', () => {
    const a = tf.randomNormal([6, 5], 0, 1, 'float32', 3);
    const b = tf.randomNormal([6, 9], 0, 1, 'float32', 4);
    const w = tf.randomNormal([5, 9], 0, 1, 'float32', 5);
    const f = (g: (x: tf.Tensor, y: tf.Tensor) => tf.Tensor) =>
      tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(g(x, y), w)))([a, b]);
    const ours = f(matMulTN);
    const ref = f((x, y) => tf.matMul(tf.transpose(x), y));
    ours.forEach((g, i) => {
      const r = ref[i].dataSync();
      g.dataSync().forEach((v, j) => expect(v).toBeCloseTo(r[j], 4));
    });
    tf.dispose([a, b, w, ...ours, ...ref]);
  });

  it('a recording sees one kernel on wasm (a jit replays it)', () => {
    const a = tf.ones([4, 3]);
    const b = tf.ones([4, 2]);
    const p = makeIR((x: tf.Tensor, y: tf.Tensor) => matMulTN(x, y))(a, b);
    const kernels = p.equations.map((e) => e.kernel);
    if (isWasm) expect(kernels).toEqual([MATMUL_TN_KERNEL]);
    else expect(kernels).toContain('BatchMatMul');
    tf.dispose([a, b]);
  });

  it('rejects what is not a [K, M]·[K, N] pair, and leaks nothing', () => {
    const a = tf.ones([4, 3]);
    const b = tf.ones([5, 2]);
    expect(() => matMulTN(a, b)).toThrow(
      /matMulTN: expected a \[K, M\] and b \[K, N\] with the same K, got \[4,3\] and \[5,2\]/,
    );
    expect(() => matMulTN(tf.ones([2, 2, 2]), b)).toThrow(/matMulTN/);
    expect(() => matMulTN(a, [1, 2] as unknown as tf.Tensor)).toThrow(/must be tensors/);
    const c = tf.ones([4, 2]);
    matMulTN(a, c).dispose();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 100; i++) matMulTN(a, c).dispose();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([a, b, c]);
  });
});
