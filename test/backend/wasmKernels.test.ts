/**
 * The wasm Slice/SplitV replacements (src/backend/wasmKernels.ts): the same values
 * as a JS reference and (bit for bit) as tfjs's stock kernels for every rank, begin/size,
 * and dtype; gradients of slice/split unchanged; only the slice is copied (a per-step slice of a long sequence costs
 * about the same as one of a short one); no tensor leaks. On cpu the kernels are not swapped and
 * the value tests check the cpu kernels against the same reference.
 */
import { describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf';
import { copyBox, installWasmKernels, withStockWasmKernels } from '../../src/backend/wasmKernels';

const isWasm = tf.getBackend() === 'wasm';

function iota(shape: number[], dtype: 'float32' | 'int32' | 'bool' = 'float32'): tf.Tensor {
  const n = shape.reduce((p, d) => p * d, 1);
  const v = Array.from({ length: n }, (_, i) => (dtype === 'bool' ? i % 3 === 0 : i * 0.5 - 7));
  if (dtype === 'bool') return tf.tensor(v as boolean[], shape, 'bool');
  return tf.tensor(
    v.map((x) => (dtype === 'int32' ? Math.round(x as number) : x)) as number[],
    shape,
    dtype,
  );
}

/** Reference slice on a flat array with explicit strides. */
function refSlice(
  vals: ArrayLike<number>,
  shape: number[],
  begin: number[],
  size: number[],
): number[] {
  const out: number[] = [];
  const rank = shape.length;
  const strides = shape.map((_, d) => shape.slice(d + 1).reduce((p, x) => p * x, 1));
  const idx = new Array<number>(rank).fill(0);
  const total = size.reduce((p, d) => p * d, 1);
  for (let r = 0; r < total; r++) {
    let off = 0;
    for (let d = 0; d < rank; d++) off += (begin[d] + idx[d]) * strides[d];
    out.push(Number(vals[off]));
    for (let d = rank - 1; d >= 0; d--) {
      if (++idx[d] < size[d]) break;
      idx[d] = 0;
    }
  }
  return out;
}

const cases: [number[], number[], number[]][] = [
  [[7], [2], [4]],
  [
    [5, 6],
    [1, 0],
    [3, 6],
  ],
  [
    [5, 6],
    [1, 2],
    [3, 3],
  ],
  [
    [4, 3, 5],
    [2, 0, 0],
    [1, 3, 5],
  ],
  [
    [4, 3, 5],
    [1, 1, 2],
    [2, 2, 3],
  ],
  [
    [4, 3, 5],
    [0, 2, 0],
    [4, 1, 5],
  ],
  [
    [3, 2, 4, 5],
    [1, 0, 1, 0],
    [2, 2, 3, 5],
  ],
  [
    [2, 3, 2, 2, 3],
    [1, 1, 0, 1, 1],
    [1, 2, 2, 1, 2],
  ],
  [
    [2, 3, 2, 2, 3, 2],
    [0, 1, 1, 0, 0, 1],
    [2, 2, 1, 2, 3, 1],
  ],
  [
    [4, 3],
    [1, 1],
    [0, 2],
  ],
];

describe('copyBox', () => {
  it('copies any box of a row-major array', () => {
    for (const [shape, begin, size] of cases) {
      const n = shape.reduce((p, d) => p * d, 1);
      const x = Float32Array.from({ length: n }, (_, i) => i);
      const out = new Float32Array(size.reduce((p, d) => p * d, 1));
      copyBox(x, shape, begin, size, out);
      expect(Array.from(out)).toEqual(refSlice(x, shape, begin, size));
    }
  });
});

describe('Slice / SplitV kernels', () => {
  it('slice equals the reference (and the stock kernel) for every dtype', () => {
    for (const dtype of ['float32', 'int32', 'bool'] as const) {
      for (const [shape, begin, size] of cases) {
        const x = iota(shape, dtype);
        const got = tf.slice(x, begin, size);
        expect(got.shape).toEqual(size);
        expect(got.dtype).toBe(dtype);
        const want = refSlice(x.dataSync(), shape, begin, size);
        expect(Array.from(got.dataSync()).map(Number)).toEqual(want);
        if (isWasm) {
          const stockOut = withStockWasmKernels(() => tf.slice(x, begin, size));
          expect(Array.from(stockOut.dataSync())).toEqual(Array.from(got.dataSync()));
          stockOut.dispose();
        }
        tf.dispose([x, got]);
      }
    }
  });

  it('split along every axis equals the reference, with sizes and counts', () => {
    const x = iota([4, 6, 3]);
    const xv = x.dataSync();
    for (const [axis, splits] of [
      [0, 4],
      [0, [1, 3]],
      [1, [2, 0, 4]],
      [2, 3],
      [-1, [2, -1]],
    ] as [number, number | number[]][]) {
      const parts = tf.split(x, splits, axis);
      const ax = axis < 0 ? axis + 3 : axis;
      let at = 0;
      for (const p of parts) {
        const begin = [0, 0, 0];
        begin[ax] = at;
        expect(Array.from(p.dataSync())).toEqual(refSlice(xv, [4, 6, 3], begin, p.shape));
        at += p.shape[ax];
      }
      tf.dispose(parts);
    }
    x.dispose();
  });

  it('gradients of slice and split are unchanged (pad / concat of dy)', () => {
    const x = iota([3, 4]);
    const g = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.slice(a, [1, 1], [2, 2]), 3)))(x);
    expect(Array.from(g.dataSync())).toEqual([0, 0, 0, 0, 0, 3, 3, 0, 0, 3, 3, 0]);
    const g2 = tf.grad((a: tf.Tensor) => {
      const [p, q] = tf.split(a, [1, 3], 1);
      return tf.add(tf.sum(tf.mul(p, 2)), tf.sum(tf.mul(q, 5)));
    })(x);
    expect(Array.from(g2.dataSync())).toEqual([2, 5, 5, 5, 2, 5, 5, 5, 2, 5, 5, 5]);
    tf.dispose([x, g, g2]);
  });

  it('installWasmKernels is idempotent, and leaks nothing', () => {
    installWasmKernels();
    installWasmKernels();
    const x = iota([10, 4, 3]);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 20; i++) {
      tf.tidy(() => {
        tf.slice(x, [i % 10, 0, 0], [1, 4, 3]);
        tf.split(x, 5, 0);
      });
    }
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
  });

  it.runIf(isWasm)('a one-step slice of a long sequence costs like one of a short one', () => {
    const long = tf.zeros([2000, 64, 100]);
    const short = tf.zeros([20, 64, 100]);
    const timeSlices = (x: tf.Tensor): number => {
      let best = Infinity;
      for (let r = 0; r < 3; r++) {
        const t0 = performance.now();
        for (let i = 0; i < 20; i++) tf.slice(x, [i, 0, 0], [1, 64, 100]).dispose();
        best = Math.min(best, performance.now() - t0);
      }
      return best;
    };
    timeSlices(short);
    const tShort = timeSlices(short);
    const tLong = timeSlices(long);
    // stock: ~100× slower for the long one (copies 2000 steps per slice)
    expect(tLong).toBeLessThan(tShort * 5 + 5);
    tf.dispose([long, short]);
  });
});
