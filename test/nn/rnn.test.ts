/**
 * Rate RNN cells (spec §5.10, brainscale §4): for every cell, output and state shapes with and
 * without a batch axis; two steps (from a non-zero state) against an independent float64 JS
 * implementation of its equations; BPTT gradients over 3 steps through forLoop with respect to
 * every parameter, finite, non-zero and equal to float64 central differences of the reference;
 * no tensor leaks over 500 steps in a forLoop; typed errors; and the cell-specific fixes
 * (LRU uses the old h_re, URLSTM is constructible with its uniform forget bias).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf';
import { grad } from '../../src/augment';
import { forLoop } from '../../src/compile';
import { ArgumentError, KeyNotFoundError } from '../../src/errors';
import { initAllStates, states } from '../../src/graph';
import { Uniform } from '../../src/init';
import { seed } from '../../src/random';
import { HiddenState, ParamState, ownerCount } from '../../src/state';
import {
  GRUCell,
  LRUCell,
  LSTMCell,
  MGUCell,
  MiniGRUCell,
  MiniLSTMCell,
  MinimalRNNCell,
  RNNCell,
  URLSTMCell,
  ValinaRNNCell,
  VanillaRNNCell,
} from '../../src/nn/rnn';
import { checkNoTensorLeaks, disposeGraph } from '../graph/fixtures';

checkNoTensorLeaks();
beforeAll(() => seed(42));

const IN = 3;
const OUT = 4;
const BATCH = 2;

// ---- the float64 reference -------------------------------------------------------------------

type Vec = number[];
/** Parameter leaves by name ('W.weight/weight', 'bias', 'nu_log', ...), as float64 arrays. */
type Params = Record<string, Float64Array>;
/** One sample's states by name. */
type StateVals = Record<string, Vec>;
/** One step of one sample: params, x, states → new states and output. */
type Reference = (P: Params, x: Vec, s: StateVals) => { s: StateVals; y: Vec };

const sig = (v: number) => 1 / (1 + Math.exp(-v));
const map = (a: Vec, f: (v: number, i: number) => number): Vec => a.map(f);
const mul = (a: Vec, b: Vec) => map(a, (v, i) => v * b[i]);
const add = (a: Vec, b: Vec) => map(a, (v, i) => v + b[i]);
const part = (a: Vec, k: number, n: number) => a.slice(k * n, (k + 1) * n);

/** v [nIn] @ W [nIn, nOut] (+ b), W row-major. */
function lin(P: Params, layer: string, v: Vec): Vec {
  const W = P[`${layer}.weight/weight`];
  const b = P[`${layer}.weight/bias`];
  const nOut = W.length / v.length;
  return Array.from({ length: nOut }, (_, j) => {
    let z = b ? b[j] : 0;
    for (let i = 0; i < v.length; i++) z += v[i] * W[i * nOut + j];
    return z;
  });
}

const REFERENCES: Record<string, Reference> = {
  ValinaRNNCell: (P, x, { h }) => {
    const hn = map(lin(P, 'W', [...x, ...h]), (v) => Math.max(v, 0));
    return { s: { h: hn }, y: hn };
  },
  GRUCell: (P, x, { h }) => {
    const rz = map(lin(P, 'Wrz', [...x, ...h]), sig);
    const [r, z] = [part(rz, 0, OUT), part(rz, 1, OUT)];
    const cand = map(lin(P, 'Wh', [...x, ...mul(r, h)]), Math.tanh);
    const hn = map(h, (v, i) => (1 - z[i]) * v + z[i] * cand[i]);
    return { s: { h: hn }, y: hn };
  },
  MGUCell: (P, x, { h }) => {
    const f = map(lin(P, 'Wf', [...x, ...h]), sig);
    const cand = map(lin(P, 'Wh', [...x, ...mul(f, h)]), Math.tanh);
    const hn = map(h, (v, i) => (1 - f[i]) * v + f[i] * cand[i]);
    return { s: { h: hn }, y: hn };
  },
  LSTMCell: (P, x, { h, c }) => {
    const a = lin(P, 'W', [...x, ...h]);
    const [i, g, f, o] = [0, 1, 2, 3].map((k) => part(a, k, OUT));
    const cn = map(c, (v, k) => sig(f[k] + 1) * v + sig(i[k]) * Math.tanh(g[k]));
    const hn = map(cn, (v, k) => sig(o[k]) * Math.tanh(v));
    return { s: { h: hn, c: cn }, y: hn };
  },
  URLSTMCell: (P, x, { h, c }) => {
    const a = lin(P, 'W', [...x, ...h]);
    const [f, r, u, o] = [0, 1, 2, 3].map((k) => part(a, k, OUT));
    const beta = P['bias'];
    const cn = map(c, (v, k) => {
      const fh = sig(f[k] + beta[k]);
      const rh = sig(r[k] - beta[k]);
      const g = 2 * rh * fh + (1 - 2 * rh) * fh * fh;
      return g * v + (1 - g) * Math.tanh(u[k]);
    });
    const hn = map(cn, (v, k) => sig(o[k]) * Math.tanh(v));
    return { s: { h: hn, c: cn }, y: hn };
  },
  MinimalRNNCell: (P, x, { h }) => {
    const z = lin(P, 'phi', x);
    const u = map(lin(P, 'W_u', [...z, ...h]), sig);
    const hn = map(h, (v, i) => u[i] * v + (1 - u[i]) * z[i]);
    return { s: { h: hn }, y: hn };
  },
  MiniGRUCell: (P, x, { h }) => {
    const z = map(lin(P, 'W_z', [...x, ...h]), sig);
    const wx = lin(P, 'W_x', x);
    const hn = map(h, (v, i) => (1 - z[i]) * v + z[i] * wx[i]);
    return { s: { h: hn }, y: hn };
  },
  MiniLSTMCell: (P, x, { h }) => {
    const f = map(lin(P, 'W_f', [...x, ...h]), sig);
    const i = map(lin(P, 'W_i', [...x, ...h]), sig);
    const hn = add(mul(f, h), mul(i, lin(P, 'W_x', x)));
    return { s: { h: hn }, y: hn };
  },
  LRUCell: (P, x, { h_re, h_im }) => {
    const a = Array.from(P['nu_log'], (v) => Math.exp(-Math.exp(v)));
    const b = Array.from(P['theta_log'], Math.exp);
    const c = Array.from(P['gamma_log'], Math.exp);
    const bre = lin(P, 'B_re', x);
    const bim = lin(P, 'B_im', x);
    // λ·h with the OLD h_re and h_im (the complex product)
    const re = map(
      h_re,
      (v, k) => a[k] * Math.cos(b[k]) * v - a[k] * Math.sin(b[k]) * h_im[k] + c[k] * bre[k],
    );
    const im = map(
      h_re,
      (v, k) => a[k] * Math.sin(b[k]) * v + a[k] * Math.cos(b[k]) * h_im[k] + c[k] * bim[k],
    );
    const D = P['D'];
    const y = map(lin(P, 'C_re', re), (v, j) => v - lin(P, 'C_im', im)[j] + D[j] * x[j]);
    return { s: { h_re: re, h_im: im }, y };
  },
};

/** The cells under test: name, factory, state names, output size. */
const CELLS: [string, () => RNNCell, string[], number][] = [
  ['ValinaRNNCell', () => new ValinaRNNCell(IN, OUT), ['h'], OUT],
  ['GRUCell', () => new GRUCell(IN, OUT), ['h'], OUT],
  ['MGUCell', () => new MGUCell(IN, OUT), ['h'], OUT],
  ['LSTMCell', () => new LSTMCell(IN, OUT), ['h', 'c'], OUT],
  ['URLSTMCell', () => new URLSTMCell(IN, OUT), ['h', 'c'], OUT],
  ['MinimalRNNCell', () => new MinimalRNNCell(IN, OUT), ['h'], OUT],
  ['MiniGRUCell', () => new MiniGRUCell(IN, OUT), ['h'], OUT],
  ['MiniLSTMCell', () => new MiniLSTMCell(IN, OUT), ['h'], OUT],
  ['LRUCell', () => new LRUCell(IN, 5), ['h_re', 'h_im'], IN],
];

// ---- helpers ---------------------------------------------------------------------------------

/** [name, tensor] for every parameter leaf of a (possibly dict-valued) tree keyed by state path. */
function leaves(tree: Record<string, unknown>): [string, tf.Tensor][] {
  const out: [string, tf.Tensor][] = [];
  for (const [key, v] of Object.entries(tree)) {
    if (v instanceof tf.Tensor) out.push([key, v]);
    else
      for (const [sub, t] of Object.entries(v as Record<string, tf.Tensor>))
        out.push([`${key}/${sub}`, t]);
  }
  return out;
}

/** The cell's parameters as float64 arrays by leaf name. */
function readParams(cell: RNNCell): Params {
  const values: Record<string, unknown> = {};
  for (const [k, s] of states(cell, ParamState)) values[k] = s.value;
  return Object.fromEntries(leaves(values).map(([k, t]) => [k, Float64Array.from(t.dataSync())]));
}

/** The named hidden states of a cell as per-sample arrays. */
function readStates(cell: RNNCell, names: string[], batch: number): StateVals[] {
  return Array.from({ length: batch }, (_, b) =>
    Object.fromEntries(
      names.map((n) => {
        const v = Array.from((cell as unknown as Record<string, HiddenState>)[n].value.dataSync());
        const size = v.length / batch;
        return [n, v.slice(b * size, (b + 1) * size)];
      }),
    ),
  );
}

/** Deterministic inputs [T, B, n] as nested arrays. */
function inputs(T: number, B: number, n: number, seedValue: number): number[][][] {
  let s = seedValue;
  const next = () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return (s / 2147483648) * 2 - 1;
  };
  return Array.from({ length: T }, () =>
    Array.from({ length: B }, () => Array.from({ length: n }, next)),
  );
}

/** Σ_t Σ_b Σ_j y² of the float64 reference from states s0. */
function referenceLoss(ref: Reference, P: Params, xs: number[][][], s0: StateVals[]): number {
  let loss = 0;
  const s = s0.map((v) => ({ ...v }));
  for (const xt of xs) {
    xt.forEach((x, b) => {
      const r = ref(P, x, s[b]);
      s[b] = r.s;
      for (const v of r.y) loss += v * v;
    });
  }
  return loss;
}

/** Dispose tensors a test made, except those a state owns (a cell returns its h itself). */
function disposeUnowned(ts: tf.Tensor[]): void {
  for (const t of ts) if (ownerCount(t) === 0) t.dispose();
}

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const err = Math.abs(actual[i] - expected[i]);
    if (!(err <= tol * (1 + Math.abs(expected[i])))) {
      throw new Error(`element ${i}: got ${actual[i]}, expected ${expected[i]} (tol ${tol})`);
    }
  }
}

// ---- tests -----------------------------------------------------------------------------------

describe('RNN cells', () => {
  it.each(CELLS)('%s: shapes with and without a batch axis', (name, make, names, outSize) => {
    const cell = make();
    initAllStates(cell, { batchSize: BATCH });
    for (const n of names) {
      const size = name === 'LRUCell' ? 5 : OUT;
      expect((cell as unknown as Record<string, HiddenState>)[n]).toBeInstanceOf(HiddenState);
      expect((cell as unknown as Record<string, HiddenState>)[n].shape).toEqual([BATCH, size]);
    }
    const x = tf.ones([BATCH, IN]);
    const y = cell.call(x);
    expect(y.shape).toEqual([BATCH, outSize]);
    initAllStates(cell);
    const x1 = tf.ones([IN]);
    const y1 = cell.call(x1);
    expect(y1.shape).toEqual([outSize]);
    for (const n of names) {
      expect((cell as unknown as Record<string, HiddenState>)[n].shape.length).toBe(1);
    }
    expect(cell.inSize).toEqual([IN]);
    disposeUnowned([x, y, x1, y1]);
    disposeGraph(cell);
  });

  it.each(CELLS)(
    '%s: two steps from a non-zero state match the float64 reference',
    (name, make, names) => {
      const ref = REFERENCES[name];
      const cell = make();
      initAllStates(cell, { batchSize: BATCH });
      // a non-zero start, so every weight acting on h matters in the first step
      for (const n of names) {
        const s = (cell as unknown as Record<string, HiddenState>)[n];
        s.value = Uniform(-0.8, 0.8).call(s.shape);
      }
      const P = readParams(cell);
      const xs = inputs(2, BATCH, IN, 7);
      for (const xt of xs) {
        const before = readStates(cell, names, BATCH);
        const x = tf.tensor2d(xt);
        const y = cell.call(x);
        const expected = xt.map((xb, b) => ref(P, xb, before[b]));
        expectClose(
          y.dataSync(),
          expected.flatMap((e) => e.y),
          1e-5,
        );
        const after = readStates(cell, names, BATCH);
        for (const n of names) {
          expectClose(
            after.flatMap((s) => s[n]),
            expected.flatMap((e) => e.s[n]),
            1e-5,
          );
        }
        disposeUnowned([x, y]); // a cell's y is its h state's value, owned by the state
      }
      disposeGraph(cell);
    },
  );

  it.each(CELLS)(
    '%s: BPTT gradients through forLoop are finite, non-zero and match float64 finite differences',
    (name, make, names) => {
      const ref = REFERENCES[name];
      const cell = make();
      initAllStates(cell, { batchSize: BATCH });
      for (const n of names) {
        const s = (cell as unknown as Record<string, HiddenState>)[n];
        s.value = Uniform(-0.5, 0.5).call(s.shape);
      }
      const s0 = readStates(cell, names, BATCH);
      const P = readParams(cell);
      const T = 3;
      const xsArr = inputs(T, BATCH, IN, 11);
      const xs = tf.tensor3d(xsArr);
      const params = states(cell, ParamState);
      const g = grad(
        () => {
          const ys = forLoop((x: tf.Tensor) => cell.call(x), xs);
          return tf.sum(tf.square(ys));
        },
        { gradStates: params },
      )();
      const gLeaves = leaves(g as Record<string, unknown>);
      expect(gLeaves.map(([k]) => k).sort()).toEqual(Object.keys(P).sort());
      for (const [key, t] of gLeaves) {
        const v = Array.from(t.dataSync());
        expect(v.every(Number.isFinite), key).toBe(true);
        expect(
          v.some((d) => d !== 0),
          key,
        ).toBe(true);
        // central differences of the float64 reference, element by element
        const fd = v.map((_, k) => {
          const p = P[key];
          const keep = p[k];
          const eps = 1e-5;
          p[k] = keep + eps;
          const up = referenceLoss(ref, P, xsArr, s0);
          p[k] = keep - eps;
          const down = referenceLoss(ref, P, xsArr, s0);
          p[k] = keep;
          return (up - down) / (2 * eps);
        });
        try {
          expectClose(v, fd, 2e-3);
        } catch (e) {
          throw new Error(`${name} ${key}: ${(e as Error).message}`);
        }
      }
      tf.dispose([xs, ...gLeaves.map(([, t]) => t)]);
      disposeGraph(cell);
    },
  );

  it.each(CELLS)('%s: no tensor leaks over 500 steps in a forLoop', (_name, make) => {
    const cell = make();
    initAllStates(cell, { batchSize: BATCH });
    const xs = tf.randomNormal([500, BATCH, IN]);
    const before = tf.memory().numTensors;
    const ys = forLoop((x: tf.Tensor) => cell.call(x), xs);
    expect(ys.shape[0]).toBe(500);
    expect(Array.from(ys.dataSync()).every(Number.isFinite)).toBe(true);
    ys.dispose();
    expect(tf.memory().numTensors).toBe(before);
    xs.dispose();
    disposeGraph(cell);
  });

  it.each(CELLS)(
    '%s: typed errors for a bad input, a missing state and bad sizes',
    (name, make) => {
      const cell = make();
      const x = tf.ones([BATCH, IN]);
      expect(() => cell.call(x)).toThrow(KeyNotFoundError);
      initAllStates(cell, { batchSize: BATCH });
      const wrong = tf.ones([BATCH, IN + 1]);
      expect(() => cell.call(wrong)).toThrow(ArgumentError);
      expect(() => cell.call(wrong)).toThrow(/must have shape \[2, 3\]/);
      const unbatched = tf.ones([IN]);
      expect(() => cell.call(unbatched)).toThrow(ArgumentError);
      const Ctor = cell.constructor as new (a: number, b: number) => RNNCell;
      expect(() => new Ctor(0, OUT)).toThrow(ArgumentError);
      expect(() => new Ctor(IN, 2.5)).toThrow(ArgumentError);
      tf.dispose([x, wrong, unbatched]);
      disposeGraph(cell);
      void name;
    },
  );
});

describe('cell specifics', () => {
  it('VanillaRNNCell is ValinaRNNCell; activations by name or function; unknown name is an error', () => {
    expect(VanillaRNNCell).toBe(ValinaRNNCell);
    const cell = new VanillaRNNCell(IN, OUT, { activation: (t) => tf.mul(t, 0) });
    initAllStates(cell);
    const x = tf.ones([IN]);
    expect(Array.from(cell.call(x).dataSync()).every((v) => v === 0)).toBe(true);
    expect(() => new GRUCell(IN, OUT, { activation: 'nope' as 'tanh' })).toThrow(
      /unknown activation "nope"/,
    );
    const gelu = new MGUCell(IN, OUT, { activation: 'gelu' });
    initAllStates(gelu);
    expect(gelu.call(x).shape).toEqual([OUT]);
    x.dispose();
    disposeGraph(cell);
    disposeGraph(gelu);
  });

  it('stateInit and bInit: null are honoured; resetState re-initialises in place', () => {
    const cell = new LSTMCell(IN, OUT, { stateInit: 0.5, bInit: null });
    expect(cell.W.weight.value.bias).toBeUndefined();
    initAllStates(cell, { batchSize: 3 });
    expect(Array.from(cell.c.value.dataSync()).every((v) => v === 0.5)).toBe(true);
    const h = cell.h;
    const x = tf.ones([3, IN]);
    disposeUnowned([cell.call(x)]);
    cell.resetState({ batchSize: 3 });
    expect(cell.h).toBe(h);
    expect(Array.from(cell.h.value.dataSync()).every((v) => v === 0.5)).toBe(true);
    x.dispose();
    disposeGraph(cell);
  });

  it('URLSTMCell: forget bias β = −log(1/U − 1) with U in (1/n, 1 − 1/n); 0 for n ≤ 2', () => {
    const n = 50;
    const cell = new URLSTMCell(IN, n);
    expect(cell.W.weight.value.bias).toBeUndefined();
    const u = Array.from(cell.bias.value.dataSync(), (b) => 1 / (1 + Math.exp(-b)));
    expect(u.every((v) => v >= 1 / n - 1e-6 && v <= 1 - 1 / n + 1e-6)).toBe(true);
    expect(Math.max(...u) - Math.min(...u)).toBeGreaterThan(0.5);
    for (const small of [1, 2]) {
      const c = new URLSTMCell(IN, small);
      expect(Array.from(c.bias.value.dataSync())).toEqual(new Array(small).fill(0));
      disposeGraph(c);
    }
    disposeGraph(cell);
  });

  it("LRUCell: h_im uses the old h_re (the complex product λ·h), not brainscale's updated one", () => {
    const cell = new LRUCell(2, 3);
    initAllStates(cell);
    cell.h_re.value = tf.tensor1d([0.5, -0.3, 0.8]);
    cell.h_im.value = tf.tensor1d([0.2, 0.4, -0.6]);
    const P = readParams(cell);
    const hRe = [0.5, -0.3, 0.8];
    const hIm = [0.2, 0.4, -0.6];
    const x = tf.zeros([2]); // no input: the state just rotates and shrinks by λ
    disposeUnowned([cell.call(x)]);
    const re = Array.from(cell.h_re.value.dataSync());
    const im = Array.from(cell.h_im.value.dataSync());
    for (let k = 0; k < 3; k++) {
      const a = Math.exp(-Math.exp(P['nu_log'][k]));
      const b = Math.exp(P['theta_log'][k]);
      expect(re[k]).toBeCloseTo(a * Math.cos(b) * hRe[k] - a * Math.sin(b) * hIm[k], 5);
      expect(im[k]).toBeCloseTo(a * Math.sin(b) * hRe[k] + a * Math.cos(b) * hIm[k], 5);
      // |λh| = a·|h|
      expect(Math.hypot(re[k], im[k])).toBeCloseTo(a * Math.hypot(hRe[k], hIm[k]), 5);
    }
    expect(() => new LRUCell(2, 3, { rMin: 0.9, rMax: 0.5 })).toThrow(ArgumentError);
    const ring = new LRUCell(2, 200, { rMin: 0.4, rMax: 0.9 });
    const mod = Array.from(ring.nu_log.value.dataSync(), (v) => Math.exp(-Math.exp(v)));
    expect(mod.every((m) => m >= 0.4 - 1e-5 && m <= 0.9 + 1e-5)).toBe(true);
    x.dispose();
    disposeGraph(cell);
    disposeGraph(ring);
  });

  it('MinimalRNNCell accepts a function φ and checks its output shape', () => {
    const cell = new MinimalRNNCell(IN, IN, { phi: (x) => tf.tanh(x) });
    initAllStates(cell, { batchSize: BATCH });
    const x = tf.ones([BATCH, IN]);
    const y = cell.call(x);
    expect(y.shape).toEqual([BATCH, IN]);
    const bad = new MinimalRNNCell(IN, OUT, { phi: (v) => v });
    initAllStates(bad, { batchSize: BATCH });
    expect(() => bad.call(x)).toThrow(/phi must map the input to shape \[2, 4\]/);
    disposeUnowned([x, y]);
    disposeGraph(cell);
    disposeGraph(bad);
  });
});
