/**
 * Helpers of the layer tests: seeded arrays, a float64 reference convolution over any number of
 * spatial axes, and a gradient check that compares `grad` (over a module's ParamStates and the
 * input) with central finite differences of L = Σ layer(x)·r.
 */
import { expect } from 'vitest';
import { tf } from '../../src/backend/tf';
import { grad } from '../../src/augment';
import type { Module } from '../../src/graph';
import { Xoshiro128, keyFromSeed } from '../../src/random';
import { ParamState, type StateValue } from '../../src/state';

/** n values uniform in [lo, hi) from a seeded generator. */
export function randomArray(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const g = new Xoshiro128(keyFromSeed(seed));
  return Float32Array.from({ length: n }, () => lo + (hi - lo) * g.nextFloat32());
}

/** A float32 tensor of `shape` with seeded uniform values. */
export function randomTensor(shape: number[], seed: number, lo = -1, hi = 1): tf.Tensor {
  return tf.tensor(randomArray(tf.util.sizeFromShape(shape), seed, lo, hi), shape);
}

/** Row-major index of a multi-index. */
function flatIndex(idx: readonly number[], shape: readonly number[]): number {
  let f = 0;
  for (let i = 0; i < shape.length; i++) f = f * shape[i] + idx[i];
  return f;
}

/** All multi-indices of a shape, row-major. */
export function indices(shape: readonly number[]): number[][] {
  let acc: number[][] = [[]];
  for (const d of shape) acc = acc.flatMap((p) => Array.from({ length: d }, (_, i) => [...p, i]));
  return acc;
}

/**
 * Float64 convolution: x [B, ...S, C], w [...K, C/groups, O], `pads` [low, high] per spatial
 * axis, output [B, ...Out, O] with Out = ⌊(S + low + high − (K−1)·d − 1)/s⌋ + 1.
 */
export function referenceConv(
  x: ArrayLike<number>,
  xShape: readonly number[],
  w: ArrayLike<number>,
  wShape: readonly number[],
  opts: { strides: number[]; dilations: number[]; pads: [number, number][]; groups: number },
): { data: Float64Array; shape: number[] } {
  const n = xShape.length - 2;
  const [B] = xShape;
  const S = xShape.slice(1, n + 1);
  const C = xShape[n + 1];
  const K = wShape.slice(0, n);
  const O = wShape[n + 1];
  const cg = C / opts.groups;
  const og = O / opts.groups;
  const out = S.map(
    (s, i) =>
      Math.floor(
        (s + opts.pads[i][0] + opts.pads[i][1] - (K[i] - 1) * opts.dilations[i] - 1) /
          opts.strides[i],
      ) + 1,
  );
  const shape = [B, ...out, O];
  const data = new Float64Array(shape.reduce((a, b) => a * b, 1));
  const kIdx = indices(K);
  for (const b of Array.from({ length: B }, (_, i) => i)) {
    for (const p of indices(out)) {
      for (let o = 0; o < O; o++) {
        const g = Math.floor(o / og);
        let sum = 0;
        for (const k of kIdx) {
          const pos = p.map(
            (pi, d) => pi * opts.strides[d] + k[d] * opts.dilations[d] - opts.pads[d][0],
          );
          if (pos.some((v, d) => v < 0 || v >= S[d])) continue;
          for (let ci = 0; ci < cg; ci++) {
            sum +=
              x[flatIndex([b, ...pos, g * cg + ci], xShape)] * w[flatIndex([...k, ci, o], wShape)];
          }
        }
        data[flatIndex([b, ...p, o], shape)] = sum;
      }
    }
  }
  return { data, shape };
}

/** |a − b| ≤ atol + rtol·|b| elementwise, with a readable failure. */
export function expectClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  rtol: number,
  atol: number,
  what = '',
): void {
  expect(actual.length, `${what} length`).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i];
    const e = expected[i];
    const tol = atol + rtol * Math.abs(e);
    if (!(Math.abs(a - e) <= tol))
      expect.fail(`${what}[${i}]: got ${a}, expected ${e} (tolerance ${tol})`);
  }
}

type Leaves = [key: string | null, value: tf.Tensor][];

function leavesOf(v: StateValue): Leaves {
  if (v instanceof tf.Tensor) return [[null, v]];
  return Object.entries(v as Record<string, tf.Tensor>);
}

function withLeaf(v: StateValue, key: string | null, leaf: tf.Tensor): StateValue {
  return key === null ? leaf : { ...(v as Record<string, tf.Tensor>), [key]: leaf };
}

export interface GradCheckOptions {
  /** Finite-difference step (default 1e-2). */
  h?: number;
  rtol?: number;
  atol?: number;
  /** Also check the input gradient (default true). */
  input?: boolean;
}

/**
 * Check ∂L/∂x and ∂L/∂(every ParamState leaf of `layer`) for L = Σ layer(x)·r (r fixed, seeded)
 * against central finite differences. The loss of the differences is summed in float64.
 */
export function checkLayerGrads(layer: Module, x: tf.Tensor, options: GradCheckOptions = {}): void {
  const { h = 1e-2, rtol = 1e-2, atol = 1e-3, input = true } = options;
  const params = layer.states(ParamState).values() as ParamState<StateValue>[];
  const y0 = layer.call(x) as tf.Tensor;
  const r = randomTensor(y0.shape, 99);
  const rData = Float64Array.from(r.dataSync());
  y0.dispose();
  const lossNum = (xIn: tf.Tensor): number => {
    const y = layer.call(xIn) as tf.Tensor;
    const d = y.dataSync();
    y.dispose();
    let s = 0;
    for (let i = 0; i < d.length; i++) s += d[i] * rData[i];
    return s;
  };
  const lossT = (xIn: tf.Tensor): tf.Tensor => tf.sum(tf.mul(layer.call(xIn) as tf.Tensor, r));
  const [stateGrads, xGrad] = grad(lossT, { gradStates: params, argnums: 0 })(x) as unknown as [
    StateValue[],
    tf.Tensor,
  ];

  const fdOf = (n: number, evalAt: (i: number, delta: number) => number): Float64Array => {
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) out[i] = (evalAt(i, h) - evalAt(i, -h)) / (2 * h);
    return out;
  };

  if (input) {
    const base = x.dataSync().slice();
    const fd = fdOf(base.length, (i, delta) => {
      const p = base.slice();
      p[i] += delta;
      const xp = tf.tensor(p, x.shape);
      const v = lossNum(xp);
      xp.dispose();
      return v;
    });
    expectClose(xGrad.dataSync(), fd, rtol, atol, `${layer.constructor.name} ∂L/∂x`);
  }
  params.forEach((state, s) => {
    const analytic = leavesOf(stateGrads[s]);
    for (const [key, leaf] of leavesOf(state.value)) {
      const shape = leaf.shape;
      const base = leaf.dataSync().slice();
      const fd = fdOf(base.length, (i, delta) => {
        const p = base.slice();
        p[i] += delta;
        state.value = withLeaf(state.value, key, tf.tensor(p, shape));
        return lossNum(x);
      });
      state.value = withLeaf(state.value, key, tf.tensor(base, shape));
      const a = analytic.find(([k]) => k === key)![1];
      expectClose(a.dataSync(), fd, rtol, atol, `${layer.constructor.name} ∂L/∂${key ?? 'param'}`);
    }
  });
  tf.dispose([r, xGrad, ...stateGrads.flatMap((g) => leavesOf(g).map(([, t]) => t))]);
}
