/**
 * Readouts (spec §5.8): LeakyRateReadout against its closed form (constant input: r_k =
 * y·(1 − dᵏ)/(1 − d) → y/(1 − d), y = x@W, d = exp(−dt/τ)), the decay fixed at construction,
 * shapes with and without batch; LeakySpikeReadout with a non-square weight [in, out] against a
 * float64 IF reference (soft and hard reset), surrogate gradients through forLoop; typed errors;
 * no tensor leaks over 500 steps.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf';
import { grad } from '../../src/augment';
import { forLoop } from '../../src/compile';
import * as environ from '../../src/environ';
import { ArgumentError, KeyNotFoundError } from '../../src/errors';
import { initAllStates, states } from '../../src/graph';
import { seed } from '../../src/random';
import { ParamState } from '../../src/state';
import { LeakyRateReadout, LeakySpikeReadout } from '../../src/nn/readouts';
import { checkNoTensorLeaks, disposeGraph } from '../graph/fixtures';

checkNoTensorLeaks();
beforeAll(() => {
  seed(3);
  environ.set({ dt: 1 });
});
afterAll(() => environ.reset());

/** Float64 x [B, in] @ W [in, out] (row-major) → [B][out]. */
function matmul(x: number[][], W: ArrayLike<number>, nOut: number): number[][] {
  return x.map((row) =>
    Array.from({ length: nOut }, (_, j) => row.reduce((a, v, i) => a + v * W[i * nOut + j], 0)),
  );
}

describe('LeakyRateReadout', () => {
  it('constant input: r_k = y(1 − dᵏ)/(1 − d) at every step, converging to x@W/(1 − decay)', () => {
    const ro = new LeakyRateReadout(3, 4, { tau: 5 });
    const d = Math.exp(-1 / 5);
    expect(ro.decay).toBeCloseTo(d, 12);
    expect(ro.weight.shape).toEqual([3, 4]);
    initAllStates(ro, { batchSize: 2 });
    expect(ro.r.shape).toEqual([2, 4]);
    const xRows = [
      [1, 0, 1],
      [0.5, -0.25, 2],
    ];
    const x = tf.tensor2d(xRows);
    const y = matmul(xRows, ro.weight.value.dataSync(), 4).flat();
    const T = 100;
    const rs = forLoop(() => ro.call(x), { length: T });
    expect(rs.shape).toEqual([T, 2, 4]);
    const got = rs.dataSync();
    for (let k = 1; k <= T; k++) {
      for (let i = 0; i < 8; i++) {
        const expected = (y[i] * (1 - d ** k)) / (1 - d);
        expect(Math.abs(got[(k - 1) * 8 + i] - expected)).toBeLessThan(
          1e-5 * (1 + Math.abs(expected)),
        );
      }
    }
    // after 100 steps (20 τ) r is at the fixed point y/(1 − d)
    const last = ro.r.value.dataSync();
    for (let i = 0; i < 8; i++) expect(last[i]).toBeCloseTo(y[i] / (1 - d), 4);
    tf.dispose([x, rs]);
    disposeGraph(ro);
  });

  it('without a batch axis, with leading axes, and spike (bool) inputs', () => {
    const ro = new LeakyRateReadout(3, 2, { tau: 10, wInit: 1 });
    initAllStates(ro);
    expect(ro.r.shape).toEqual([2]);
    const spikes = tf.tensor1d([true, false, true], 'bool');
    const r = ro.call(spikes);
    expect(r.shape).toEqual([2]);
    expect(Array.from(r.dataSync())).toEqual([2, 2]);
    const x2 = tf.ones([2, 3]);
    expect(() => ro.call(x2)).toThrow(ArgumentError);
    initAllStates(ro, { batchSize: 2 });
    const wrong = tf.ones([2, 4]);
    expect(() => ro.call(wrong)).toThrow(/must have shape \[2, 3\], got \[2, 4\]/);
    tf.dispose([spikes, x2, wrong]);
    disposeGraph(ro);
  });

  it('computes the decay at construction: needs dt then, ignores later changes; checks tau', () => {
    const ro = environ.context({ dt: 0.1 }, () => new LeakyRateReadout(2, 2, { tau: 2 }));
    expect(ro.decay).toBeCloseTo(Math.exp(-0.05), 12);
    environ.reset();
    expect(() => new LeakyRateReadout(2, 2)).toThrow(KeyNotFoundError);
    expect(() => new LeakyRateReadout(2, 2)).toThrow(/computed at construction/);
    environ.set({ dt: 1 });
    expect(() => new LeakyRateReadout(2, 2, { tau: 0 })).toThrow(ArgumentError);
    const fresh = new LeakyRateReadout(2, 2);
    const x = tf.ones([2]);
    expect(() => fresh.call(x)).toThrow(KeyNotFoundError);
    x.dispose();
    disposeGraph(ro);
    disposeGraph(fresh);
  });

  it('gradient w.r.t. the weight over a forLoop equals the closed form', () => {
    const ro = new LeakyRateReadout(3, 2, { tau: 5 });
    initAllStates(ro, { batchSize: 1 });
    const x = tf.tensor2d([[1, 2, 3]]);
    const T = 10;
    const d = Math.exp(-1 / 5);
    const g = grad(() => tf.sum(forLoop(() => ro.call(x), { length: T })), {
      gradStates: ro.weight,
    })();
    // Σ_k r_k = y·Σ_k (1 − dᵏ)/(1 − d)  ⇒  ∂/∂W_ij = x_i·Σ_k (1 − dᵏ)/(1 − d)
    let s = 0;
    for (let k = 1; k <= T; k++) s += (1 - d ** k) / (1 - d);
    const expected = [1, 1, 2, 2, 3, 3].map((v) => v * s);
    const got = g.dataSync();
    for (let i = 0; i < 6; i++) expect(got[i]).toBeCloseTo(expected[i], 3);
    tf.dispose([x, g]);
    disposeGraph(ro);
  });
});

/** The float64 IF reference: V' = V·e + (1 − e)·(x@W); s = V' ≥ V_th; reset soft or hard. */
function spikeReference(
  W: ArrayLike<number>,
  xs: number[][][],
  nOut: number,
  tau: number,
  V_th: number,
  reset: 'soft' | 'hard',
): number[] {
  const e = Math.exp(-1 / tau);
  const B = xs[0].length;
  let V = Array.from({ length: B }, () => new Array<number>(nOut).fill(0));
  const out: number[] = [];
  for (const xt of xs) {
    const I = matmul(xt, W, nOut);
    V = V.map((row, b) =>
      row.map((v, j) => {
        const vn = v * e + (1 - e) * I[b][j];
        const s = vn >= V_th ? 1 : 0;
        out.push(s);
        return s ? (reset === 'soft' ? vn - V_th : 0) : vn;
      }),
    );
  }
  return out;
}

describe('LeakySpikeReadout', () => {
  const W = [
    [2.5, 0.4],
    [1.1, 3.0],
    [0.3, 1.7],
  ];
  /** Deterministic 0/1 input spikes [T, B, 3]. */
  const xs = Array.from({ length: 40 }, (_, t) =>
    Array.from({ length: 2 }, (_, b) =>
      [0, 1, 2].map((i) => ((t * 7 + b * 3 + i * 5) % 4 === 0 ? 1 : 0)),
    ),
  );

  it.each(['soft', 'hard'] as const)(
    'weight [in, out] (not square), spikes match the float64 IF reference (%s reset)',
    (reset) => {
      const ro = new LeakySpikeReadout(3, 2, { tau: 4, V_th: 1, wInit: W, spkReset: reset });
      expect(ro.weight.shape).toEqual([3, 2]);
      expect(ro.outSize).toEqual([2]);
      expect(ro.inSize).toEqual([3]);
      initAllStates(ro, { batchSize: 2 });
      expect(ro.V.shape).toEqual([2, 2]);
      const x = tf.tensor3d(xs);
      const spikes = forLoop((xt: tf.Tensor) => ro.call(xt), x);
      expect(spikes.shape).toEqual([40, 2, 2]);
      const expected = spikeReference(W.flat(), xs, 2, 4, 1, reset);
      expect(expected.reduce((a, b) => a + b, 0)).toBeGreaterThan(5);
      expect(Array.from(spikes.dataSync())).toEqual(expected);
      tf.dispose([x, spikes]);
      disposeGraph(ro);
    },
  );

  it('without a batch axis; typed errors for a bad input and an uninitialised state', () => {
    const ro = new LeakySpikeReadout(3, 5);
    const x = tf.ones([3]);
    expect(() => ro.call(x)).toThrow(KeyNotFoundError);
    initAllStates(ro);
    expect(ro.V.shape).toEqual([5]);
    expect(ro.call(x).shape).toEqual([5]);
    const wrong = tf.ones([4]);
    expect(() => ro.call(wrong)).toThrow(/must have shape \[3\], got \[4\]/);
    tf.dispose([x, wrong]);
    disposeGraph(ro);
  });

  it('surrogate gradients w.r.t. the weight through forLoop are finite and non-zero', () => {
    const ro = new LeakySpikeReadout(3, 2, { tau: 4, wInit: W });
    initAllStates(ro, { batchSize: 2 });
    const x = tf.tensor3d(xs);
    const g = grad(() => tf.sum(forLoop((xt: tf.Tensor) => ro.call(xt), x)), {
      gradStates: states(ro, ParamState),
    })();
    const gw = g['weight'];
    expect(gw.shape).toEqual([3, 2]);
    const v = Array.from(gw.dataSync());
    expect(v.every(Number.isFinite)).toBe(true);
    expect(v.some((d) => d !== 0)).toBe(true);
    tf.dispose([x, gw]);
    disposeGraph(ro);
  });
});

describe('readout memory', () => {
  it.each([
    ['LeakyRateReadout', () => new LeakyRateReadout(6, 3)],
    ['LeakySpikeReadout', () => new LeakySpikeReadout(6, 3)],
  ] as const)('%s: no tensor leaks over 500 steps in a forLoop', (_name, make) => {
    const ro = make();
    initAllStates(ro, { batchSize: 4 });
    const xs = tf.randomUniform([500, 4, 6]);
    const before = tf.memory().numTensors;
    const ys = forLoop((x: tf.Tensor) => ro.call(x), xs);
    expect(ys.shape).toEqual([500, 4, 3]);
    ys.dispose();
    expect(tf.memory().numTensors).toBe(before);
    xs.dispose();
    disposeGraph(ro);
  });
});
