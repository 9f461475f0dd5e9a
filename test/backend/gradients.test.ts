/**
 * The replacement gradients of src/backend/gradients.ts against float64 JS references, and against
 * the stock tfjs gradients (run through `withStockGradients`) to show what they fix:
 * - BatchMatMul: same values as the stock gradient, no transpose flags in the backward pass, and
 *   broadcast batch dims (where the stock gradient throws a shape error);
 * - second order: Hessian-vector products `grad(x ↦ Σ grad(f)(x)·v)` equal central differences (in
 *   float64) of an analytic float64 first derivative; the stock gradients throw or are wrong;
 * - no tensor leaks.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf';
import {
  REPLACED_GRADIENTS,
  installGradients,
  logSoftmax,
  stockGradient,
  withStockGradients,
} from '../../src/backend/gradients';

type Tensor = tf.Tensor;
type Vec = Float64Array;

// ---------------------------------------------------------------------------------------------
// Deterministic inputs and comparison helpers

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const size = (shape: number[]): number => shape.reduce((p, d) => p * d, 1);

/** Values uniform in [lo, hi), rounded to float32 so JS and tfjs see the same numbers. */
function uniform(shape: number[], seed: number, lo = -1, hi = 1): Vec {
  const r = rng(seed);
  return Float64Array.from({ length: size(shape) }, () => Math.fround(lo + (hi - lo) * r()));
}

const tensors: Tensor[] = [];
/** A float32 tensor kept until the end of the file. */
function t(values: Vec, shape: number[]): Tensor {
  const x = tf.tensor(Float32Array.from(values), shape);
  tensors.push(x);
  return x;
}
afterAll(() => tf.dispose(tensors));

function read(x: Tensor): Vec {
  return Float64Array.from(x.dataSync());
}

/** max |actual − expected| / max |expected|. */
function relErr(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  expect(actual.length).toBe(expected.length);
  let num = 0;
  let den = 1e-12;
  for (let i = 0; i < expected.length; i++) {
    num = Math.max(num, Math.abs(actual[i] - expected[i]));
    den = Math.max(den, Math.abs(expected[i]));
  }
  return num / den;
}

const map = (x: Vec, f: (v: number, i: number) => number): Vec => Float64Array.from(x, f);

// ---------------------------------------------------------------------------------------------
// Kernel recording: wrap Engine.runKernel (every op goes through it) for the duration of fn.

interface KernelCall {
  name: string;
  attrs: Record<string, unknown>;
  ranks: number[];
}

function recordKernels<T>(fn: () => T): { result: T; calls: KernelCall[] } {
  const engine = tf.engine();
  const original = engine.runKernel;
  const calls: KernelCall[] = [];
  engine.runKernel = function (this: typeof engine, name, inputs, attrs) {
    calls.push({
      name,
      attrs: { ...(attrs ?? {}) },
      ranks: Object.values(inputs).map((x) => x.rank),
    });
    return original.call(this, name, inputs, attrs);
  } as typeof original;
  try {
    return { result: fn(), calls };
  } finally {
    delete (engine as { runKernel?: unknown }).runKernel; // back to the prototype method
    expect(engine.runKernel).toBe(original);
  }
}

// ---------------------------------------------------------------------------------------------
// Registry behaviour

describe('installGradients / stockGradient / withStockGradients', () => {
  it('replaces every listed gradient with one that saves no outputs, and keeps the stock one', () => {
    for (const name of REPLACED_GRADIENTS) {
      const ours = tf.getGradient(name);
      const stock = stockGradient(name);
      expect(ours, name).toBeDefined();
      expect(stock, name).toBeDefined();
      expect(ours).not.toBe(stock);
      expect(ours.outputsToSave ?? [], name).toEqual([]);
    }
    for (const name of REPLACED_GRADIENTS.filter((n) => n !== 'BatchMatMul')) {
      expect(stockGradient(name)!.outputsToSave, name).toContain(true);
    }
  });

  it('is idempotent', () => {
    const before = REPLACED_GRADIENTS.map((n) => [tf.getGradient(n), stockGradient(n)]);
    installGradients();
    installGradients();
    const after = REPLACED_GRADIENTS.map((n) => [tf.getGradient(n), stockGradient(n)]);
    expect(after).toEqual(before);
    after.forEach(([ours], i) => expect(ours).toBe(before[i][0]));
  });

  it('withStockGradients swaps the stock configs in and restores ours, also on throw', () => {
    const ours = tf.getGradient('Tanh');
    expect(withStockGradients(() => tf.getGradient('Tanh'), ['Tanh'])).toBe(stockGradient('Tanh'));
    expect(withStockGradients(() => tf.getGradient('Exp'), ['Tanh'])).toBe(tf.getGradient('Exp'));
    expect(() =>
      withStockGradients(() => {
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(tf.getGradient('Tanh')).toBe(ours);
    expect(() => withStockGradients(() => 0, ['Add'])).toThrow(/not a kernel/);
  });
});

// ---------------------------------------------------------------------------------------------
// BatchMatMul

interface Arr {
  shape: number[];
  data: Vec;
}

const swapLast2 = (shape: number[]): number[] => [
  ...shape.slice(0, -2),
  shape.at(-1)!,
  shape.at(-2)!,
];

/** Flat batch index of `src` (right-aligned, size-1 dims broadcast) for flat index `o` in `out`. */
function batchIndex(o: number, out: number[], src: number[]): number {
  let idx = 0;
  let stride = 1;
  for (let i = 1; i <= out.length; i++) {
    const d = out[out.length - i];
    const coord = o % d;
    o = Math.floor(o / d);
    if (i <= src.length) {
      const s = src[src.length - i];
      idx += (s === 1 ? 0 : coord) * stride;
      stride *= s;
    }
  }
  return idx;
}

/** dL/da, dL/db of L = Σ w ⊙ (op(a)·op(b)), in float64 loops. */
function refMatMulGrads(a: Arr, b: Arr, tA: boolean, tB: boolean, w: Vec): { da: Vec; db: Vec } {
  const [ra, ca] = a.shape.slice(-2);
  const [rb, cb] = b.shape.slice(-2);
  const [m, k] = tA ? [ca, ra] : [ra, ca];
  const n = tB ? rb : cb;
  const aB = a.shape.slice(0, -2);
  const bB = b.shape.slice(0, -2);
  const rank = Math.max(aB.length, bB.length);
  const outB = Array.from({ length: rank }, (_, i) => {
    const da = aB[aB.length - rank + i] ?? 1;
    const db = bB[bB.length - rank + i] ?? 1;
    return Math.max(da, db);
  });
  const ia = (bi: number, i: number, kk: number): number =>
    bi * ra * ca + (tA ? kk * ca + i : i * ca + kk);
  const ib = (bi: number, kk: number, j: number): number =>
    bi * rb * cb + (tB ? j * cb + kk : kk * cb + j);
  const da = new Float64Array(a.data.length);
  const db = new Float64Array(b.data.length);
  for (let o = 0; o < size(outB); o++) {
    const ba = batchIndex(o, outB, aB);
    const bb = batchIndex(o, outB, bB);
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        const wij = w[(o * m + i) * n + j];
        for (let kk = 0; kk < k; kk++) {
          da[ia(ba, i, kk)] += wij * b.data[ib(bb, kk, j)];
          db[ib(bb, kk, j)] += wij * a.data[ia(ba, i, kk)];
        }
      }
    }
  }
  return { da, db };
}

/** Logical shapes op(a), op(b): rank 2, rank 3, broadcast batches. */
const MATMUL_SHAPES: [number[], number[]][] = [
  [
    [3, 4],
    [4, 5],
  ],
  [
    [2, 3, 4],
    [2, 4, 5],
  ],
  [
    [2, 3, 4],
    [4, 5],
  ],
  [
    [1, 3, 4],
    [2, 4, 5],
  ],
  [
    [3, 4],
    [2, 4, 5],
  ],
  // tfjs' forward BatchMatMul indexes the flattened batch modulo each operand's batch size, so it
  // only broadcasts a batch of size 1 or a trailing suffix of the batch dims ([2,1]×[3] is wrong).
  [
    [2, 3, 3, 4],
    [3, 4, 5],
  ],
];
const FLAGS: [boolean, boolean][] = [
  [false, false],
  [false, true],
  [true, false],
  [true, true],
];

describe('BatchMatMul gradient', () => {
  function setup(opA: number[], opB: number[], tA: boolean, tB: boolean, seed: number) {
    const aShape = tA ? swapLast2(opA) : opA;
    const bShape = tB ? swapLast2(opB) : opB;
    const a: Arr = { shape: aShape, data: uniform(aShape, seed) };
    const b: Arr = { shape: bShape, data: uniform(bShape, seed + 1) };
    const outShape = tf.tidy(() => tf.matMul(tf.zeros(aShape), tf.zeros(bShape), tA, tB).shape);
    const w = uniform(outShape, seed + 2);
    const [at, bt, wt] = [t(a.data, aShape), t(b.data, bShape), t(w, outShape)];
    const grads = (): Tensor[] =>
      tf.grads((x: Tensor, y: Tensor) => tf.sum(tf.mul(tf.matMul(x, y, tA, tB), wt)))([at, bt]);
    return { a, b, w, grads };
  }

  for (const [opA, opB] of MATMUL_SHAPES) {
    for (const [tA, tB] of FLAGS) {
      const broadcast = opA.length !== opB.length || opA.slice(0, -2).some((d, i) => d !== opB[i]);
      it(`${JSON.stringify(opA)}·${JSON.stringify(opB)} transposeA=${tA} transposeB=${tB}`, () => {
        const { a, b, w, grads } = setup(opA, opB, tA, tB, 11);
        const ref = refMatMulGrads(a, b, tA, tB, w);
        const [da, db] = grads();
        expect(da.shape).toEqual(a.shape);
        expect(db.shape).toEqual(b.shape);
        expect(relErr(read(da), ref.da)).toBeLessThan(1e-5);
        expect(relErr(read(db), ref.db)).toBeLessThan(1e-5);
        // The stock gradient gives the same values, or (broadcast batch dims) a shape error.
        let stock: Tensor[] | null = null;
        try {
          stock = withStockGradients(grads, ['BatchMatMul']);
        } catch (e) {
          expect(broadcast, String(e)).toBe(true);
          expect(String(e)).toMatch(/does not match the shape/);
        }
        if (stock != null) {
          expect(relErr(read(da), read(stock[0]))).toBeLessThan(1e-6);
          expect(relErr(read(db), read(stock[1]))).toBeLessThan(1e-6);
        }
        tf.dispose([da, db, ...(stock ?? [])]);
      });
    }
  }

  it('runs no BatchMatMul with a transpose flag in the backward pass', () => {
    for (const [opA, opB] of MATMUL_SHAPES) {
      for (const [tA, tB] of FLAGS) {
        const { grads } = setup(opA, opB, tA, tB, 3);
        const { result, calls } = recordKernels(grads);
        tf.dispose(result);
        // aᵀ·b of matrices runs as BstMatMulTN on wasm (src/backend/matMulTN.ts)
        const matmuls = calls.filter((c) => c.name === 'BatchMatMul' || c.name === 'BstMatMulTN');
        const flagged = matmuls.filter(
          (c) => c.attrs.transposeA === true || c.attrs.transposeB === true,
        );
        expect(matmuls.length).toBe(3); // forward + one per operand
        expect(flagged.length, `${opA}·${opB} ${tA} ${tB}`).toBe(tA || tB ? 1 : 0); // only the forward
      }
    }
    // The hook does see backward kernels: the stock gradient uses the flags.
    const { grads } = setup([3, 4], [4, 5], false, false, 3);
    const { result, calls } = recordKernels(() => withStockGradients(grads, ['BatchMatMul']));
    tf.dispose(result);
    expect(
      calls.filter((c) => c.name === 'BatchMatMul' && (c.attrs.transposeA || c.attrs.transposeB))
        .length,
    ).toBe(2);
  });

  it('folds a shared weight matrix: x[2,3,4]·W[4,5] backward uses 2-D matMuls only', () => {
    const { grads } = setup([2, 3, 4], [4, 5], false, false, 5);
    const { result, calls } = recordKernels(grads);
    tf.dispose(result);
    const backward = calls
      .filter((c) => c.name === 'BatchMatMul' || c.name === 'BstMatMulTN')
      .slice(1);
    expect(backward.length).toBe(2);
    for (const c of backward) expect(c.ranks).toEqual([2, 2]);
  });
});

// ---------------------------------------------------------------------------------------------
// Second order

/** Σ_out grad(f)(x)·v, differentiated again: the Hessian-vector product H(x)·v. */
function hvp(f: (x: Tensor) => Tensor, x: Tensor, v: Tensor): Tensor {
  return tf.grad((z: Tensor) => tf.sum(tf.mul(tf.grad(f)(z), v)))(x);
}

/** Central difference of a float64 gradient function along v: (g(x + hv) − g(x − hv)) / 2h. */
function refHvp(g: (x: Vec) => Vec, x: Vec, v: Vec, h = 1e-6): Vec {
  const gp = g(map(x, (xi, i) => xi + h * v[i]));
  const gm = g(map(x, (xi, i) => xi - h * v[i]));
  return map(gp, (p, i) => (p - gm[i]) / (2 * h));
}

interface Case {
  name: string;
  shape: number[];
  /** Range of the random input. */
  range?: [number, number];
  /** f(x) = Σ w ⊙ op(x) for the tfjs side (w is bound by the case). */
  f: (w: Tensor) => (x: Tensor) => Tensor;
  /** Shape of op(x), i.e. of w. */
  outShape: number[];
  /** The float64 gradient of f. */
  g: (x: Vec, w: Vec) => Vec;
  /** True if the stock tfjs gradients get H·v wrong or throw for this case. */
  stockBroken: boolean;
  /** The wasm forward kernel itself is wrong here: nothing to compare on wasm. */
  wasmForwardWrong?: boolean;
  /** Stock first derivative is wrong everywhere. */
  stockFirstOrderWrong?: boolean;
  /** Stock first derivative is wrong on wasm (its MaxPoolGrad kernel mishandles negative maxima). */
  stockFirstOrderWrongOnWasm?: boolean;
}

function sum(xs: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += xs[i];
  return s;
}

/** Apply fn to each row (last axis of length c) of x and w. */
function rows(x: Vec, w: Vec, c: number, fn: (x: Vec, w: Vec, out: Vec) => void): Vec {
  const out = new Float64Array(x.length);
  for (let r = 0; r < x.length / c; r++) {
    const sl = (a: Vec) => a.subarray(r * c, r * c + c);
    fn(sl(x), sl(w), sl(out));
  }
  return out;
}

function softmaxRow(row: Vec): Vec {
  const m = Math.max(...row);
  const e = map(row, (v) => Math.exp(v - m));
  const s = sum(e);
  return map(e, (v) => v / s);
}

/** Reference max pooling (NHWC / NDHWC): output values and the flat index of each window's max. */
function refPool(
  x: Vec,
  shape: number[],
  filter: number[],
  stride: number[],
  pad: 'same' | 'valid' | number,
  rounding: (v: number) => number = Math.floor,
): { y: Vec; arg: Int32Array; outShape: number[] } {
  const sp = shape.slice(1, -1);
  const ch = shape.at(-1)!;
  const out = sp.map((d, i) =>
    pad === 'same'
      ? Math.ceil(d / stride[i])
      : pad === 'valid'
        ? Math.ceil((d - filter[i] + 1) / stride[i])
        : rounding((d - filter[i] + 2 * pad) / stride[i] + 1),
  );
  const before = sp.map((d, i) =>
    pad === 'same'
      ? Math.floor(Math.max((out[i] - 1) * stride[i] + filter[i] - d, 0) / 2)
      : pad === 'valid'
        ? 0
        : pad,
  );
  const outShape = [shape[0], ...out, ch];
  const y = new Float64Array(size(outShape));
  const arg = new Int32Array(size(outShape));
  const xStrides = sp.map((_, i) => size(sp.slice(i + 1)) * ch);
  const offsets = filter.reduce<number[][]>(
    (acc, f) => acc.flatMap((o) => Array.from({ length: f }, (_, j) => [...o, j])),
    [[]],
  );
  for (let flat = 0; flat < y.length; flat++) {
    let rest = flat;
    const c = rest % ch;
    rest = Math.floor(rest / ch);
    const pos: number[] = [];
    for (let i = out.length - 1; i >= 0; i--) {
      pos[i] = rest % out[i];
      rest = Math.floor(rest / out[i]);
    }
    let best = -Infinity;
    let bestIdx = -1;
    for (const o of offsets) {
      const coords = o.map((oi, i) => pos[i] * stride[i] - before[i] + oi);
      if (coords.some((cc, i) => cc < 0 || cc >= sp[i])) continue;
      const idx = rest * size(sp) * ch + coords.reduce((p, cc, i) => p + cc * xStrides[i], 0) + c;
      if (x[idx] > best) {
        best = x[idx];
        bestIdx = idx;
      }
    }
    y[flat] = best;
    arg[flat] = bestIdx;
  }
  return { y, arg, outShape };
}

/** A case for Σ w ⊙ maxPool(x)² (2-D or 3-D by the rank of `shape`). */
function poolCase(
  shape: number[],
  filter: number,
  stride: number,
  pad: 'same' | 'valid' | number,
  rounding?: 'ceil' | 'round',
): Case {
  // Stock MaxPool drops dimRoundingMode when it calls the backprop kernel: wrong on every backend.
  const stockFirstOrderWrong = rounding != null;
  const nd = shape.length - 2;
  const fs = Array<number>(nd).fill(filter);
  const ss = Array<number>(nd).fill(stride);
  const roundFn = rounding === 'ceil' ? Math.ceil : rounding === 'round' ? Math.round : Math.floor;
  const pool = (x: Vec) => refPool(x, shape, fs, ss, pad, roundFn);
  const op =
    nd === 2
      ? (x: Tensor) => tf.maxPool(x as tf.Tensor4D, filter, stride, pad, rounding)
      : (x: Tensor) =>
          tf.maxPool3d(x as tf.Tensor5D, filter, stride, pad as 'same' | 'valid', rounding);
  return {
    name: `${nd === 2 ? 'maxPool' : 'maxPool3d'} ${JSON.stringify(shape)} f${filter} s${stride} ${pad}${rounding ? ' ' + rounding : ''}`,
    shape,
    outShape: pool(new Float64Array(size(shape))).outShape,
    f: weighted((x) => tf.square(op(x))),
    g: (x, w) => {
      const { y, arg } = pool(x);
      const gx = new Float64Array(x.length);
      for (let o = 0; o < y.length; o++) gx[arg[o]] += 2 * w[o] * y[o];
      return gx;
    },
    stockBroken: true,
    stockFirstOrderWrong,
    stockFirstOrderWrongOnWasm: true,
    // wasm's MaxPool returns garbage under dimRoundingMode (XNNPACK pooling has no rounding mode).
    wasmForwardWrong: rounding != null,
  };
}

/** Gradient of Σ w ⊙ LRN(x) (last axis = channels). */
function refLrnGrad(
  x: Vec,
  w: Vec,
  ch: number,
  r: number,
  bias: number,
  alpha: number,
  beta: number,
): Vec {
  return rows(x, w, ch, (xs, ws, out) => {
    const win = (c: number) => [Math.max(0, c - r), Math.min(ch - 1, c + r)];
    const norm = Array.from({ length: ch }, (_, c) => {
      const [lo, hi] = win(c);
      let s = 0;
      for (let q = lo; q <= hi; q++) s += xs[q] * xs[q];
      return bias + alpha * s;
    });
    for (let k = 0; k < ch; k++) {
      const [lo, hi] = win(k);
      let s = 0;
      for (let c = lo; c <= hi; c++) s += ws[c] * xs[c] * norm[c] ** (-beta - 1);
      out[k] = ws[k] * norm[k] ** -beta - 2 * alpha * beta * xs[k] * s;
    }
  });
}

const weighted =
  (op: (x: Tensor) => Tensor) =>
  (w: Tensor) =>
  (x: Tensor): Tensor =>
    tf.sum(tf.mul(op(x), w));

const EXPONENT = uniform([3, 5], 77, 0.5, 3);
const BASE = uniform([3, 5], 78, 0.5, 2);
const EXPONENT_T = t(EXPONENT, [3, 5]);
const BASE_T = t(BASE, [3, 5]);
const sigmoid = (v: number): number => 1 / (1 + Math.exp(-v));

const CASES: Case[] = [
  {
    name: 'tanh',
    shape: [3, 5],
    range: [-2, 2],
    outShape: [3, 5],
    f: weighted(tf.tanh),
    g: (x, w) => map(x, (v, i) => w[i] * (1 - Math.tanh(v) ** 2)),
    stockBroken: true,
  },
  {
    name: 'exp',
    shape: [3, 5],
    outShape: [3, 5],
    f: weighted(tf.exp),
    g: (x, w) => map(x, (v, i) => w[i] * Math.exp(v)),
    stockBroken: true,
  },
  {
    name: 'sigmoid',
    shape: [3, 5],
    range: [-3, 3],
    outShape: [3, 5],
    f: weighted(tf.sigmoid),
    g: (x, w) => map(x, (v, i) => w[i] * sigmoid(v) * (1 - sigmoid(v))),
    stockBroken: true,
  },
  {
    name: 'elu',
    shape: [3, 5],
    range: [-2, 2],
    outShape: [3, 5],
    f: weighted(tf.elu),
    g: (x, w) => map(x, (v, i) => w[i] * (v > 0 ? 1 : Math.exp(v))),
    stockBroken: true,
  },
  {
    name: 'softmax',
    shape: [3, 5],
    range: [-2, 2],
    outShape: [3, 5],
    f: weighted((x) => tf.softmax(x)),
    g: (x, w) =>
      rows(x, w, 5, (xs, ws, out) => {
        const s = softmaxRow(xs);
        const sw = sum(s.map((si, j) => si * ws[j]));
        out.set(s.map((si, j) => si * (ws[j] - sw)));
      }),
    stockBroken: true,
  },
  {
    name: 'logSoftmax (brainstate, = x − logSumExp x)',
    shape: [3, 5],
    range: [-2, 2],
    outShape: [3, 5],
    f: weighted((x) => logSoftmax(x)),
    g: (x, w) =>
      rows(x, w, 5, (xs, ws, out) => {
        const s = softmaxRow(xs);
        const total = sum(ws);
        out.set(s.map((si, j) => ws[j] - si * total));
      }),
    stockBroken: true,
  },
  {
    name: 'pow (base)',
    shape: [3, 5],
    range: [0.5, 2],
    outShape: [3, 5],
    f: weighted((x) => tf.pow(x, EXPONENT_T)),
    g: (x, w) => map(x, (v, i) => w[i] * EXPONENT[i] * v ** (EXPONENT[i] - 1)),
    stockBroken: false, // the stock derivative in the base only uses inputs
  },
  {
    name: 'pow (exponent)',
    shape: [3, 5],
    range: [0.5, 3],
    outShape: [3, 5],
    f: weighted((x) => tf.pow(BASE_T, x)),
    g: (x, w) => map(x, (v, i) => w[i] * BASE[i] ** v * Math.log(BASE[i])),
    stockBroken: true,
  },
  {
    name: 'max (axis 1)',
    shape: [4, 6],
    outShape: [4],
    f: weighted((x) => tf.square(tf.max(x, 1))),
    g: (x, w) => {
      const out = new Float64Array(x.length);
      for (let r = 0; r < 4; r++) {
        const row = [...x.subarray(r * 6, r * 6 + 6)];
        const j = row.indexOf(Math.max(...row));
        out[r * 6 + j] = 2 * w[r] * row[j];
      }
      return out;
    },
    stockBroken: true,
  },
  {
    name: 'min (axis 0, keepDims)',
    shape: [4, 6],
    outShape: [1, 6],
    f: weighted((x) => tf.square(tf.min(x, 0, true))),
    g: (x, w) => {
      const out = new Float64Array(x.length);
      for (let c = 0; c < 6; c++) {
        const col = [0, 1, 2, 3].map((r) => x[r * 6 + c]);
        const r = col.indexOf(Math.min(...col));
        out[r * 6 + c] = 2 * w[c] * col[r];
      }
      return out;
    },
    stockBroken: true,
  },
  poolCase([2, 5, 5, 3], 2, 2, 'same'),
  poolCase([1, 6, 6, 2], 3, 1, 'valid'),
  poolCase([1, 7, 7, 1], 3, 2, 1),
  poolCase([1, 6, 6, 1], 3, 2, 0, 'ceil'),
  poolCase([1, 4, 4, 4, 2], 2, 2, 'valid'),
  poolCase([1, 5, 5, 5, 1], 3, 2, 'same'),
  {
    name: 'LRN r2',
    shape: [1, 2, 3, 6],
    outShape: [1, 2, 3, 6],
    f: weighted((x) => tf.localResponseNormalization(x as tf.Tensor4D, 2, 1, 0.5, 0.75)),
    g: (x, w) => refLrnGrad(x, w, 6, 2, 1, 0.5, 0.75),
    stockBroken: true,
  },
];

describe('second order (Hessian-vector products)', () => {
  CASES.forEach((c, ci) => {
    const [lo, hi] = c.range ?? [-1, 1];
    const x = uniform(c.shape, 100 + ci, lo, hi);
    const v = uniform(c.shape, 200 + ci);
    const w = uniform(c.outShape, 300 + ci);
    const f = c.f(t(w, c.outShape));
    const xt = t(x, c.shape);
    const vt = t(v, c.shape);

    const skip = c.wasmForwardWrong === true && tf.getBackend() === 'wasm';
    it.skipIf(skip)(`${c.name}: first and second derivative match float64 references`, () => {
      const ref1 = c.g(x, w);
      const g1 = tf.grad(f)(xt);
      expect(relErr(read(g1), ref1)).toBeLessThan(1e-5);
      const hv = hvp(f, xt, vt);
      expect(
        relErr(
          read(hv),
          refHvp((z) => c.g(z, w), x, v),
        ),
      ).toBeLessThan(1e-5);
      // First order: same as stock, except where the stock gradient is wrong.
      const s1 = withStockGradients(() => tf.grad(f)(xt));
      if (c.stockFirstOrderWrong) {
        expect(relErr(read(s1), ref1)).toBeGreaterThan(0.1);
      } else if (!(c.stockFirstOrderWrongOnWasm && tf.getBackend() === 'wasm')) {
        expect(relErr(read(g1), read(s1))).toBeLessThan(1e-6);
      }
      tf.dispose([g1, hv, s1]);
    });

    it.skipIf(skip)(
      `${c.name}: stock gradients ${c.stockBroken ? 'throw or are wrong' : 'agree'}`,
      () => {
        const ref = refHvp((z) => c.g(z, w), x, v);
        let outcome: string;
        try {
          const hv = withStockGradients(() => hvp(f, xt, vt));
          outcome = relErr(read(hv), ref) < 1e-3 ? 'right' : 'wrong';
          hv.dispose();
        } catch (e) {
          outcome = `throws: ${(e as Error).message}`;
        }
        if (c.stockBroken) expect(outcome).not.toBe('right');
        else expect(outcome).toBe('right');
      },
    );
  });

  it('tanh(x) + x³: the stock second derivative is silently wrong (another path exists)', () => {
    const x = uniform([6], 5, -1.5, 1.5);
    const xt = t(x, [6]);
    const ones = t(new Float64Array(6).fill(1), [6]);
    const f = (z: Tensor) => tf.add(tf.sum(tf.tanh(z)), tf.sum(tf.pow(z, 3)));
    // d²/dx² = −2 tanh(x)(1 − tanh²(x)) + 6x (diagonal Hessian, v = 1)
    const ref = map(x, (v) => -2 * Math.tanh(v) * (1 - Math.tanh(v) ** 2) + 6 * v);
    const ours = hvp(f, xt, ones);
    const stock = withStockGradients(() => hvp(f, xt, ones));
    expect(relErr(read(ours), ref)).toBeLessThan(1e-5);
    expect(
      relErr(
        read(stock),
        map(x, (v) => 6 * v),
      ),
    ).toBeLessThan(1e-5); // the tanh term is lost
    expect(relErr(read(stock), ref)).toBeGreaterThan(1e-2);
    tf.dispose([ours, stock]);
  });

  it('LogSoftmax kernel gradient is second-order correct (no backend runs the kernel: call gradFunc)', () => {
    const x = uniform([3, 5], 9, -2, 2);
    const w = uniform([3, 5], 10);
    const v = uniform([3, 5], 11);
    const [xt, wt, vt] = [t(x, [3, 5]), t(w, [3, 5]), t(v, [3, 5])];
    const grad = (z: Tensor) =>
      tf.getGradient('LogSoftmax').gradFunc(wt, [z], { axis: 1 }).logits();
    const ref = (z: Vec) =>
      rows(z, w, 5, (xs, ws, out) => {
        const s = softmaxRow(xs);
        out.set(s.map((si, j) => ws[j] - si * sum(ws)));
      });
    const g1 = grad(xt);
    expect(relErr(read(g1), ref(x))).toBeLessThan(1e-5);
    const hv = tf.grad((z: Tensor) => tf.sum(tf.mul(grad(z), vt)))(xt);
    expect(relErr(read(hv), refHvp(ref, x, v))).toBeLessThan(1e-5);
    tf.dispose([g1, hv]);
  });

  it('known limitation: tf.logSoftmax (a customGrad saving its output) still fails at second order', () => {
    const x = uniform([3, 5], 12, -2, 2);
    const w = uniform([3, 5], 13);
    const v = uniform([3, 5], 14);
    const [xt, wt, vt] = [t(x, [3, 5]), t(w, [3, 5]), t(v, [3, 5])];
    const ref = (z: Vec) =>
      rows(z, w, 5, (xs, ws, out) => {
        const s = softmaxRow(xs);
        out.set(s.map((si, j) => ws[j] - si * sum(ws)));
      });
    const ours = hvp(weighted((z) => logSoftmax(z))(wt), xt, vt);
    expect(relErr(read(ours), refHvp(ref, x, v))).toBeLessThan(1e-5);
    // tf.logSoftmax: throws "Cannot compute gradient of y=f(x)" (or, with another path, is wrong).
    expect(() => hvp(weighted((z) => tf.logSoftmax(z))(wt), xt, vt)).toThrow(
      /Cannot compute gradient/,
    );
    ours.dispose();
  });
});

describe('MaxPool first order', () => {
  it('is right where every window maximum is negative (stock is wrong on wasm)', () => {
    const shape = [1, 5, 5, 2];
    const x = uniform(shape, 31, -3, -1);
    const c = poolCase(shape, 2, 2, 'same');
    const w = uniform(c.outShape, 32);
    const f = c.f(t(w, c.outShape));
    const xt = t(x, shape);
    const ref = c.g(x, w);
    const ours = tf.grad(f)(xt);
    const stock = withStockGradients(() => tf.grad(f)(xt));
    expect(relErr(read(ours), ref)).toBeLessThan(1e-5);
    if (tf.getBackend() === 'wasm') expect(relErr(read(stock), ref)).toBeGreaterThan(0.5);
    else expect(relErr(read(stock), ref)).toBeLessThan(1e-5);
    tf.dispose([ours, stock]);
  });
});

// ---------------------------------------------------------------------------------------------
// Memory

describe('memory', () => {
  it('100 first- and second-order evaluations leak no tensors', () => {
    const x = t(uniform([1, 4, 4, 6], 21), [1, 4, 4, 6]);
    const v = t(uniform([1, 4, 4, 6], 22), [1, 4, 4, 6]);
    const b = t(uniform([4, 5], 24), [4, 5]);
    // One function through every replaced kernel.
    const f = (z: Tensor): Tensor => {
      const p = tf.maxPool(tf.elu(z) as tf.Tensor4D, 2, 2, 'same');
      const l = tf.localResponseNormalization(tf.tanh(z) as tf.Tensor4D, 2, 1, 0.5, 0.75);
      const s = tf.softmax(tf.sigmoid(tf.reshape(z, [16, 6])));
      const q = tf.pow(tf.exp(tf.mul(z, 0.1)), 1.5);
      const m = tf.maxPool3d(tf.reshape(z, [1, 4, 4, 6, 1]) as tf.Tensor5D, 2, 2, 'valid');
      return tf.addN([
        tf.sum(p),
        tf.sum(tf.square(l)),
        tf.sum(tf.max(s, 1)),
        tf.sum(tf.min(q, 0)),
        tf.sum(tf.square(m)),
      ]);
    };
    // Cheaper, for the second order of all 100 rounds (the pooling ones cost most).
    const light = (z: Tensor): Tensor =>
      tf.sum(tf.max(tf.softmax(tf.mul(tf.tanh(z), tf.pow(tf.exp(tf.sigmoid(z)), 1.5))), 3));
    const mm = (p: Tensor, q: Tensor) => tf.sum(tf.square(tf.matMul(p, q, true, false)));
    const at = t(uniform([2, 4, 3], 25), [2, 4, 3]);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 100; i++) {
      const g = tf.grad(f)(x);
      const h = i % 10 === 0 ? hvp(f, x, v) : hvp(light, x, v);
      const gm = tf.grads(mm)([at, b]);
      tf.dispose([g, h, ...gm]);
    }
    expect(tf.memory().numTensors).toBe(before);
  });
});
