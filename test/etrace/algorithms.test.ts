/**
 * Online learners against BPTT and float64 references (spec brainscale §6.2–6.3):
 * - element-wise recurrence (a leaky linear layer; an Expon synapse feeding a leaky membrane, a
 *   two-state group; a LIF layer with a hard, stop-gradient reset): accumulated single-step D_RTRL
 *   gradients equal BPTT, and equal a float64 hand-written BPTT;
 * - a recurrent weight inside the op: D_RTRL equals a float64 reference of the documented
 *   diagonal approximation;
 * - multi-step mode with the whole sequence as one window equals BPTT for every algorithm;
 * - ES_D_RTRL with T = 1 equals the instantaneous gradient; the bias correction;
 * - batch invariance (batched == sum of per-sample);
 * - no tensor leaks over many steps.
 */
import { describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf';
import { grad } from '../../src/augment';
import { jit } from '../../src/compile';
import { Module, type InitStateOptions } from '../../src/graph';
import * as random from '../../src/random';
import { HiddenGroupState, HiddenState } from '../../src/state';
import {
  D_RTRL,
  ES_D_RTRL,
  HybridDimVjpAlgorithm,
  MultiStepData,
  type ETraceVjpAlgorithm,
} from '../../src/etrace/algorithms';
import { ETraceParam, ElemWiseParam } from '../../src/etrace/params';
import { ConvOp, MatMulOp } from '../../src/etrace/ops';
import { LIF } from '../../src/nn/neurons';
import { DeltaProj } from '../../src/nn/projections';
import * as environ from '../../src/environ';

type Grads = Record<string, tf.Tensor>;

const f64 = (t: tf.Tensor): Float64Array => Float64Array.from(t.dataSync());

function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num / Math.max(den, 1e-30));
}

/** h ← a ⊙ h + x W + b (one hidden state; element-wise recurrence). */
class LeakyLinear extends Module {
  W: ETraceParam;
  h!: HiddenState;
  constructor(
    readonly nIn: number,
    readonly nH: number,
    readonly a: tf.Tensor,
  ) {
    super();
    this.W = new ETraceParam(
      { weight: random.normal(0, 0.5, [nIn, nH]), bias: random.normal(0, 0.2, [nH]) },
      new MatMulOp(),
    );
  }
  override initState(o: InitStateOptions = {}): void {
    this.h = new HiddenState(tf.zeros(o.batchSize ? [o.batchSize, this.nH] : [this.nH]));
  }
  override update(x: tf.Tensor): tf.Tensor {
    const y = this.W.execute(x);
    this.h.value = tf.add(tf.mul(this.h.value, this.a), y);
    return this.h.value;
  }
}

/** g ← ag·g + x W;  V ← aV·V + bV·g (g read in the same step: a two-state group). */
class ExponMembrane extends Module {
  W: ETraceParam;
  g!: HiddenState;
  V!: HiddenState;
  constructor(
    readonly nIn: number,
    readonly nH: number,
    readonly ag: number,
    readonly aV: tf.Tensor,
    readonly bV: number,
  ) {
    super();
    this.W = new ETraceParam(
      { weight: random.normal(0, 0.5, [nIn, nH]), bias: random.normal(0, 0.2, [nH]) },
      new MatMulOp(),
    );
  }
  override initState(o: InitStateOptions = {}): void {
    const shape = o.batchSize ? [o.batchSize, this.nH] : [this.nH];
    this.g = new HiddenState(tf.zeros(shape));
    this.V = new HiddenState(tf.zeros(shape));
  }
  override update(x: tf.Tensor): tf.Tensor {
    const y = this.W.execute(x);
    this.g.value = tf.add(tf.mul(this.g.value, this.ag), y);
    this.V.value = tf.add(tf.mul(this.V.value, this.aV), tf.mul(this.g.value, this.bV));
    return this.V.value;
  }
}

/** h ← a ⊙ h + [x, σ(h)] W + b: the recurrent weight sits inside the op. */
class RecurrentLeaky extends Module {
  W: ETraceParam;
  h!: HiddenState;
  constructor(
    readonly nIn: number,
    readonly nH: number,
    readonly a: tf.Tensor,
  ) {
    super();
    this.W = new ETraceParam(
      { weight: random.normal(0, 0.4, [nIn + nH, nH]), bias: random.normal(0, 0.2, [nH]) },
      new MatMulOp(),
    );
  }
  override initState(o: InitStateOptions = {}): void {
    this.h = new HiddenState(tf.zeros(o.batchSize ? [o.batchSize, this.nH] : [this.nH]));
  }
  override update(x: tf.Tensor): tf.Tensor {
    const xt = tf.concat([x, tf.sigmoid(this.h.value)], -1);
    const y = this.W.execute(xt);
    this.h.value = tf.add(tf.mul(this.h.value, this.a), y);
    return this.h.value;
  }
}

class EtLinear extends Module {
  W: ETraceParam;
  constructor(nIn: number, nOut: number, scale: number) {
    super();
    this.W = new ETraceParam(
      { weight: random.normal(0, scale, [nIn, nOut]), bias: random.normal(0.1, 0.1, [nOut]) },
      new MatMulOp(),
    );
  }
  override update(x: tf.Tensor): tf.Tensor {
    return this.W.execute(x);
  }
}

/** A LIF layer with a hard (stop-gradient) reset driven through a DeltaProj. */
class LifLayer extends Module {
  neu: LIF;
  syn: DeltaProj;
  constructor(nIn: number, nH: number) {
    super();
    this.neu = new LIF(nH, { tau: 10, V_th: 1, spkReset: 'hard' });
    this.syn = new DeltaProj({ comm: new EtLinear(nIn, nH, 0.6), post: this.neu });
  }
  override update(x: tf.Tensor): tf.Tensor {
    this.syn.update(x);
    return this.neu.update() as tf.Tensor;
  }
}

function* iterModules(m: Module): Generator<[string, Module]> {
  for (const v of Object.values(m)) if (v instanceof Module) yield* iterModules(v);
  yield ['', m];
}

/** Σ_t Σ c_t ⊙ out_t through the whole sequence (BPTT). */
function bpttGrads(net: Module, param: ETraceParam, xs: tf.Tensor[], cs: tf.Tensor[]): Grads {
  const [g] = grad(
    () => {
      let L: tf.Tensor = tf.scalar(0);
      for (let t = 0; t < xs.length; t++) {
        const out = net.update(xs[t]) as tf.Tensor;
        L = tf.add(L, tf.sum(tf.mul(out, cs[t])));
      }
      return L;
    },
    { gradStates: { W: param }, returnValue: true },
  )() as unknown as [{ W: Grads }, tf.Tensor];
  return g.W;
}

/** The gradient of Σ c ⊙ update(x) through the learner, for one step. */
function onlineStep(alg: ETraceVjpAlgorithm, param: ETraceParam) {
  return (x: tf.Tensor, c: tf.Tensor) =>
    grad(() => tf.sum(tf.mul(alg.update(x), c)), {
      gradStates: { W: param },
      returnValue: true,
    })() as unknown as [{ W: Grads }, tf.Tensor];
}

/** The per-step gradients over the sequence, accumulated. */
function sumSteps(step: ReturnType<typeof onlineStep>, xs: tf.Tensor[], cs: tf.Tensor[]): Grads {
  let acc: Grads | null = null;
  for (let t = 0; t < xs.length; t++) {
    const [g, v] = step(xs[t], cs[t]);
    v.dispose();
    if (acc === null) acc = g.W;
    else {
      const next: Grads = {};
      for (const k of Object.keys(acc)) next[k] = tf.add(acc[k], g.W[k]);
      tf.dispose([acc, g.W] as unknown as tf.Tensor[]);
      acc = next;
    }
  }
  return acc!;
}

/** One gradient per step through the learner, accumulated. */
function onlineGrads(
  alg: ETraceVjpAlgorithm,
  param: ETraceParam,
  xs: tf.Tensor[],
  cs: tf.Tensor[],
): Grads {
  return sumSteps(onlineStep(alg, param), xs, cs);
}

function snapshot(net: Module): Map<HiddenState, tf.Tensor> {
  const m = new Map<HiddenState, tf.Tensor>();
  for (const [, mod] of iterModules(net))
    for (const v of Object.values(mod)) if (v instanceof HiddenState) m.set(v, tf.clone(v.value));
  return m;
}

function restore(snap: Map<HiddenState, tf.Tensor>): void {
  for (const [s, v] of snap) s.value = tf.clone(v);
}

function expectClose(a: Grads, b: Grads, tol: number): void {
  for (const k of Object.keys(b)) {
    expect(a[k].shape).toEqual(b[k].shape);
    expect(relErr(f64(a[k]), f64(b[k]))).toBeLessThan(tol);
  }
}

const T = 12;
const B = 3;
const NI = 4;
const NH = 5;

function data(seed: number, nIn = NI, nOut = NH, batch: number | null = B) {
  random.seed(seed);
  const lead = batch === null ? [] : [batch];
  const xs = Array.from({ length: T }, () => random.normal(0, 1, [...lead, nIn]));
  const cs = Array.from({ length: T }, () => random.normal(0, 1, [...lead, nOut]));
  return { xs, cs };
}

describe('D_RTRL equals BPTT for element-wise recurrence', () => {
  it('leaky linear layer: equals tf BPTT and a float64 BPTT', () => {
    const { xs, cs } = data(1);
    const a = tf.tensor1d([0.9, 0.5, 0.99, 0.2, 0.7]);
    const net = new LeakyLinear(NI, NH, a);
    net.initState({ batchSize: B });
    const snap = snapshot(net);
    const ref = bpttGrads(net, net.W, xs, cs);
    restore(snap);
    const alg = new D_RTRL(net);
    alg.compileGraph(xs[0]);
    const on = onlineGrads(alg, net.W, xs, cs);
    expectClose(on, ref, 1e-5);

    // float64 BPTT: dL/dW[i,o] = Σ_t Σ_b Σ_{k≤t} a^{t−k} x_k[b,i] c_t[b,o]
    const av = f64(a);
    const X = xs.map(f64);
    const C = cs.map(f64);
    const gW = new Float64Array(NI * NH);
    const gb = new Float64Array(NH);
    for (let b = 0; b < B; b++)
      for (let o = 0; o < NH; o++) {
        let lam = 0; // backward: λ_t = c_t + a λ_{t+1}
        for (let t = T - 1; t >= 0; t--) {
          lam = C[t][b * NH + o] + av[o] * lam;
          gb[o] += lam;
          for (let i = 0; i < NI; i++) gW[i * NH + o] += lam * X[t][b * NI + i];
        }
      }
    expect(relErr(f64(on.weight), gW)).toBeLessThan(1e-5);
    expect(relErr(f64(on.bias), gb)).toBeLessThan(1e-5);
    alg.dispose();
  });

  it('Expon synapse feeding a leaky membrane (two-state group): equals BPTT and float64', () => {
    const { xs, cs } = data(2);
    const aV = tf.tensor1d([0.95, 0.8, 0.6, 0.9, 0.3]);
    const net = new ExponMembrane(NI, NH, 0.7, aV, 0.5);
    net.initState({ batchSize: B });
    const snap = snapshot(net);
    const ref = bpttGrads(net, net.W, xs, cs);
    restore(snap);
    const alg = new D_RTRL(net);
    alg.compileGraph(xs[0]);
    expect(alg.graph!.groups.length).toBe(1);
    expect(alg.graph!.groups[0].numState).toBe(2);
    const on = onlineGrads(alg, net.W, xs, cs);
    expectClose(on, ref, 1e-5);

    // float64: g_t = ag g + y_t, V_t = aV V + bV g_t; backprop by hand.
    const av = f64(aV);
    const X = xs.map(f64);
    const C = cs.map(f64);
    const gW = new Float64Array(NI * NH);
    for (let b = 0; b < B; b++)
      for (let o = 0; o < NH; o++) {
        let lV = 0;
        let lg = 0;
        for (let t = T - 1; t >= 0; t--) {
          lV = C[t][b * NH + o] + av[o] * lV; // dL/dV_t
          lg = 0.5 * lV + 0.7 * lg; // dL/dg_t
          for (let i = 0; i < NI; i++) gW[i * NH + o] += lg * X[t][b * NI + i];
        }
      }
    expect(relErr(f64(on.weight), gW)).toBeLessThan(1e-5);
    alg.dispose();
  });

  it('LIF layer with a hard (stop-gradient) reset: equals BPTT', () => {
    environ.set({ dt: 1 });
    const { xs, cs } = data(3);
    const net = new LifLayer(NI, NH);
    net.neu.initState({ batchSize: B });
    const snap = snapshot(net);
    const ref = bpttGrads(net, (net.syn.comm as EtLinear).W, xs, cs);
    restore(snap);
    const alg = new D_RTRL(net);
    alg.compileGraph(xs[0]);
    const on = onlineGrads(alg, (net.syn.comm as EtLinear).W, xs, cs);
    expect(f64(ref.weight).some((v) => v !== 0)).toBe(true);
    expectClose(on, ref, 1e-5);
    alg.dispose();
  });
});

describe('recurrent weight inside the op: the documented diagonal approximation', () => {
  it('D_RTRL equals a float64 reference of ν(h^{t−1})·ε^{t−1} + ∂L_t/∂θ', () => {
    const { xs, cs } = data(4);
    const a = tf.tensor1d([0.9, 0.5, 0.8, 0.2, 0.7]);
    const net = new RecurrentLeaky(NI, NH, a);
    net.initState({ batchSize: B });
    const alg = new D_RTRL(net);
    alg.compileGraph(xs[0]);
    const W = f64((net.W.value as Grads).weight);
    const bias = f64((net.W.value as Grads).bias);
    const on = onlineGrads(alg, net.W, xs, cs);
    const av = f64(a);
    const X = xs.map(f64);
    const C = cs.map(f64);
    const NX = NI + NH;
    const gW = new Float64Array(NX * NH);
    const gb = new Float64Array(NH);
    const sig = (v: number) => 1 / (1 + Math.exp(-v));
    for (let b = 0; b < B; b++) {
      const h = new Float64Array(NH);
      const eW = new Float64Array(NX * NH); // ε[i,o] = dh_o/dW_io (diagonal approximation)
      const eb = new Float64Array(NH);
      for (let t = 0; t < T; t++) {
        const xt = new Float64Array(NX);
        for (let i = 0; i < NI; i++) xt[i] = X[t][b * NI + i];
        for (let j = 0; j < NH; j++) xt[NI + j] = sig(h[j]);
        const c = C[t].subarray(b * NH, b * NH + NH);
        // ν = ∂L_t/∂h^{t−1} through every path of the step: c⊙a + (W_rec c)⊙σ'(h)
        const nu = new Float64Array(NH);
        for (let j = 0; j < NH; j++) {
          let s = 0;
          for (let o = 0; o < NH; o++) s += W[(NI + j) * NH + o] * c[o];
          nu[j] = c[j] * av[j] + s * sig(h[j]) * (1 - sig(h[j]));
        }
        for (let o = 0; o < NH; o++) {
          gb[o] += nu[o] * eb[o] + c[o];
          for (let i = 0; i < NX; i++) gW[i * NH + o] += nu[o] * eW[i * NH + o] + xt[i] * c[o];
        }
        // step and trace update: ε ← a ε + x̃ ⊗ 1
        const hn = new Float64Array(NH);
        for (let o = 0; o < NH; o++) {
          let y = bias[o];
          for (let i = 0; i < NX; i++) y += xt[i] * W[i * NH + o];
          hn[o] = av[o] * h[o] + y;
          eb[o] = av[o] * eb[o] + 1;
          for (let i = 0; i < NX; i++) eW[i * NH + o] = av[o] * eW[i * NH + o] + xt[i];
        }
        h.set(hn);
      }
    }
    expect(relErr(f64(on.weight), gW)).toBeLessThan(1e-5);
    expect(relErr(f64(on.bias), gb)).toBeLessThan(1e-5);
    alg.dispose();
  });
});

describe('multi-step mode over the whole sequence equals BPTT', () => {
  const algs: [string, (net: Module) => ETraceVjpAlgorithm][] = [
    ['D_RTRL', (n) => new D_RTRL(n, { vjpMethod: 'multi-step' })],
    ['ES_D_RTRL', (n) => new ES_D_RTRL(n, { decay: 0.9, vjpMethod: 'multi-step' })],
    ['Hybrid', (n) => new HybridDimVjpAlgorithm(n, { decay: 0.5, vjpMethod: 'multi-step' })],
  ];
  for (const [name, make] of algs) {
    it(name, () => {
      const { xs, cs } = data(5);
      const net = new RecurrentLeaky(NI, NH, tf.tensor1d([0.9, 0.5, 0.8, 0.2, 0.7]));
      net.initState({ batchSize: B });
      const snap = snapshot(net);
      const ref = bpttGrads(net, net.W, xs, cs);
      restore(snap);
      const alg = make(net);
      const X = tf.stack(xs);
      const Cs = tf.stack(cs);
      const [g] = grad(() => tf.sum(tf.mul(alg.update(new MultiStepData(X)), Cs)), {
        gradStates: { W: net.W },
        returnValue: true,
      })() as unknown as [{ W: Grads }, tf.Tensor];
      expectClose(g.W, ref, 1e-5);
      alg.dispose();
    });
  }
});

describe('ES_D_RTRL', () => {
  it('T = 1 gives the instantaneous gradient; decay and rank are validated', () => {
    const { xs, cs } = data(6);
    const net = new LeakyLinear(NI, NH, tf.tensor1d([0.9, 0.5, 0.99, 0.2, 0.7]));
    net.initState({ batchSize: B });
    const snap = snapshot(net);
    const ref = bpttGrads(net, net.W, xs.slice(0, 1), cs.slice(0, 1));
    restore(snap);
    const alg = new ES_D_RTRL(net, { decay: 0.9 });
    const on = onlineGrads(alg, net.W, xs.slice(0, 1), cs.slice(0, 1));
    expectClose(on, ref, 1e-6);
    expect(() => new ES_D_RTRL(net, { decay: 1 })).toThrow(/decay must be a number in \(0, 1\)/);
    expect(() => new ES_D_RTRL(net, { rank: 0 })).toThrow(/rank must be an integer/);
    expect(new ES_D_RTRL(net, { rank: 19 }).alpha).toBeCloseTo(0.9, 12);
    expect(new ES_D_RTRL(net, { rank: 1 }).alpha).toBe(0);
    alg.dispose();
  });

  it('rank 1 (α = 0) gives finite gradients; on a constant input the trace is exact', () => {
    random.seed(7);
    const net = new LeakyLinear(NI, NH, tf.fill([NH], 0.5));
    net.initState({ batchSize: B });
    const x = random.normal(0, 1, [B, NI]);
    const xs = Array.from({ length: 30 }, () => x);
    const c = random.normal(0, 1, [B, NH]);
    const cs = Array.from({ length: 30 }, () => c);
    const alg = new ES_D_RTRL(net, { rank: 1 });
    const on = onlineGrads(alg, net.W, xs, cs);
    for (const t of Object.values(on)) expect(f64(t).every(Number.isFinite)).toBe(true);
    alg.dispose();
  });
});

describe('batching', () => {
  it('a batched run equals the sum of per-sample runs (D_RTRL and ES_D_RTRL)', () => {
    for (const make of [
      (n: Module) => new D_RTRL(n),
      (n: Module) => new ES_D_RTRL(n, { decay: 0.8 }),
    ]) {
      const { xs, cs } = data(8);
      random.seed(9);
      const net = new ExponMembrane(NI, NH, 0.7, tf.fill([NH], 0.9), 0.5);
      net.initState({ batchSize: B });
      const batched = onlineGrads(make(net), net.W, xs, cs);
      const sum: Grads = {};
      for (let b = 0; b < B; b++) {
        net.initState({ batchSize: 1 });
        const xb = xs.map((x) => x.slice([b, 0], [1, NI]));
        const cb = cs.map((c) => c.slice([b, 0], [1, NH]));
        const g = onlineGrads(make(net), net.W, xb, cb);
        for (const k of Object.keys(g)) sum[k] = sum[k] ? tf.add(sum[k], g[k]) : g[k];
      }
      expectClose(batched, sum, 1e-5);
    }
  });
});

describe('memory', () => {
  it('no tensor leaks over many steps, with and without gradients', () => {
    environ.set({ dt: 1 });
    const { xs, cs } = data(10);
    const net = new LifLayer(NI, NH);
    net.neu.initState({ batchSize: B });
    for (const alg of [new D_RTRL(net), new ES_D_RTRL(net, { decay: 0.9 })]) {
      alg.compileGraph(xs[0]);
      const run = (n: number) => {
        for (let i = 0; i < n; i++) {
          const t = i % T;
          const [g, v] = grad(() => tf.sum(tf.mul(alg.update(xs[t]), cs[t])), {
            gradStates: { W: (net.syn.comm as EtLinear).W },
            returnValue: true,
          })() as unknown as [{ W: Grads }, tf.Tensor];
          tf.dispose([v, g.W.weight, g.W.bias]);
          tf.dispose(alg.update(xs[t]));
        }
      };
      run(3);
      const before = tf.memory().numTensors;
      run(40);
      expect(tf.memory().numTensors).toBe(before);
      alg.dispose();
    }
  });
});

describe('vmap batching', () => {
  it('equals manual batching (D_RTRL and ES_D_RTRL)', () => {
    for (const make of [
      (n: Module) => new D_RTRL(n),
      (n: Module) => new ES_D_RTRL(n, { decay: 0.8 }),
    ]) {
      const { xs, cs } = data(11);
      random.seed(12);
      const net = new ExponMembrane(NI, NH, 0.7, tf.fill([NH], 0.9), 0.5);
      net.initState({ batchSize: B });
      const manual = onlineGrads(make(net), net.W, xs, cs);
      net.initState({});
      const alg = make(net);
      alg.compileGraph(xs[0].slice([0, 0], [1, NI]).reshape([NI]));
      const step = alg.vmapUpdate(B);
      expect(net.g.value.shape).toEqual([B, NH]);
      let acc: Grads | null = null;
      for (let t = 0; t < T; t++) {
        const [g] = grad(() => tf.sum(tf.mul(step(xs[t]), cs[t])), {
          gradStates: { W: net.W },
          returnValue: true,
        })() as unknown as [{ W: Grads }, tf.Tensor];
        acc =
          acc === null
            ? g.W
            : { weight: tf.add(acc.weight, g.W.weight), bias: tf.add(acc.bias, g.W.bias) };
      }
      expect(alg.runningIndex).toBe(T);
      expectClose(acc!, manual, 1e-5);
    }
  });
});

/** A conv feeding a leaky hidden map: element-wise recurrence through a ConvOp. */
class ConvLeaky extends Module {
  W: ETraceParam;
  h!: HiddenState;
  constructor(readonly L: number) {
    super();
    this.W = new ETraceParam(
      { weight: random.normal(0, 0.5, [3, 2, 3]), bias: random.normal(0, 0.1, [3]) },
      new ConvOp({ spatialDims: 1, padding: 'same' }),
    );
  }
  override initState(o: InitStateOptions = {}): void {
    this.h = new HiddenState(tf.zeros(o.batchSize ? [o.batchSize, this.L, 3] : [this.L, 3]));
  }
  override update(x: tf.Tensor): tf.Tensor {
    this.h.value = tf.add(tf.mul(this.h.value, 0.8), this.W.execute(x));
    return this.h.value;
  }
}

describe('other ops and algorithms', () => {
  it('D_RTRL through a ConvOp (exact per-position trace) equals BPTT', () => {
    random.seed(13);
    const xs = Array.from({ length: 8 }, () => random.normal(0, 1, [2, 6, 2]));
    const cs = Array.from({ length: 8 }, () => random.normal(0, 1, [2, 6, 3]));
    const net = new ConvLeaky(6);
    net.initState({ batchSize: 2 });
    const snap = snapshot(net);
    const ref = bpttGrads(net, net.W, xs, cs);
    restore(snap);
    const on = onlineGrads(new D_RTRL(net), net.W, xs, cs);
    expectClose(on, ref, 1e-5);
  });

  it('Hybrid mixes both kinds: each weight gets its own algorithm’s gradient', () => {
    class TwoWeights extends Module {
      A = new ETraceParam({ weight: random.normal(0, 0.5, [NI, NH]) }, new MatMulOp(), {
        grad: 'full',
      });
      Bw = new ETraceParam({ weight: random.normal(0, 0.5, [NI, NH]) }, new MatMulOp(), {
        grad: 'approx',
      });
      h!: HiddenState;
      override initState(o: InitStateOptions = {}): void {
        this.h = new HiddenState(tf.zeros([o.batchSize ?? 1, NH]));
      }
      override update(x: tf.Tensor): tf.Tensor {
        this.h.value = tf.add(
          tf.mul(this.h.value, 0.7),
          tf.add(this.A.execute(x), this.Bw.execute(tf.tanh(x))),
        );
        return this.h.value;
      }
    }
    const { xs, cs } = data(14);
    random.seed(15);
    const net = new TwoWeights();
    const run = (alg: ETraceVjpAlgorithm) => {
      net.initState({ batchSize: B });
      let acc: Record<'A' | 'Bw', tf.Tensor> | null = null;
      for (let t = 0; t < T; t++) {
        const [g] = grad(() => tf.sum(tf.mul(alg.update(xs[t]), cs[t])), {
          gradStates: { A: net.A, Bw: net.Bw },
          returnValue: true,
        })() as unknown as [Record<'A' | 'Bw', Grads>, tf.Tensor];
        const cur = { A: g.A.weight, Bw: g.Bw.weight };
        acc = acc === null ? cur : { A: tf.add(acc.A, cur.A), Bw: tf.add(acc.Bw, cur.Bw) };
      }
      return acc!;
    };
    const hybrid = new HybridDimVjpAlgorithm(net, { decay: 0.9 });
    const h = run(hybrid);
    expect(hybrid.modes()).toEqual([
      { param: 'A', mode: 'D_RTRL' },
      { param: 'Bw', mode: 'ES_D_RTRL' },
    ]);
    const d = run(new D_RTRL(net));
    const e = run(new ES_D_RTRL(net, { decay: 0.9 }));
    expect(relErr(f64(h.A), f64(d.A))).toBeLessThan(1e-5);
    expect(relErr(f64(h.Bw), f64(e.Bw))).toBeLessThan(1e-5);
    // and the two kinds differ here, so the check above is not vacuous
    expect(relErr(f64(d.Bw), f64(e.Bw))).toBeGreaterThan(1e-3);
  });

  it('trace shapes (spec §6.3.9) and getEtraceOf', () => {
    random.seed(16);
    const net = new RecurrentLeaky(10, 10, tf.fill([10], 0.5));
    net.initState({});
    const x = random.normal(0, 1, [10]);
    const es = new ES_D_RTRL(net, { decay: 0.9 });
    es.compileGraph(x);
    const [t] = es.getEtraceOf(net.W);
    expect(t.x!.shape).toEqual([20]);
    expect(t.f!.shape).toEqual([10, 1]);
    net.initState({ batchSize: B });
    const d = new D_RTRL(net);
    d.compileGraph(random.normal(0, 1, [B, 10]));
    const [u] = d.getEtraceOf('W');
    expect(u.trace!.length).toBe(1);
    expect(u.trace![0].weight.shape).toEqual([B, 20, 10]);
    expect(u.trace![0].bias.shape).toEqual([B, 10]);
  });

  it('the ES start-up correction 1 − α^k can be switched off', () => {
    const { xs, cs } = data(17);
    const run = (biasCorrection: boolean) => {
      random.seed(18);
      const net = new LeakyLinear(NI, NH, tf.fill([NH], 0.5));
      net.initState({ batchSize: B });
      return onlineGrads(
        new ES_D_RTRL(net, { decay: 0.9, biasCorrection }),
        net.W,
        xs.slice(0, 2),
        cs.slice(0, 2),
      );
    };
    const on = run(true);
    const off = run(false);
    // step 2 uses the trace after one update: with the correction f̄/(1−α) = df exactly
    expect(relErr(f64(on.weight), f64(off.weight))).toBeGreaterThan(1e-2);
  });
});

/** h ← σ(w) ⊙ h + x W: a learnable per-neuron decay (ElemWiseParam) next to a MatMul weight. */
class LearnedDecay extends Module {
  W: ETraceParam;
  w: ElemWiseParam;
  h!: HiddenState;
  constructor() {
    super();
    this.W = new ETraceParam({ weight: random.normal(0, 0.5, [NI, NH]) }, new MatMulOp());
    this.w = new ElemWiseParam(random.normal(1, 0.5, [NH]), (v) => tf.sigmoid(v as tf.Tensor));
  }
  override initState(o: InitStateOptions = {}): void {
    this.h = new HiddenState(tf.zeros(o.batchSize ? [o.batchSize, NH] : [NH]));
  }
  override update(x: tf.Tensor): tf.Tensor {
    this.h.value = tf.add(tf.mul(this.w.execute(), this.h.value), this.W.execute(x));
    return this.h.value;
  }
}

describe('element-wise parameters and options', () => {
  it('an ElemWiseParam (learnable decay) under D_RTRL equals BPTT, batched and unbatched', () => {
    for (const batch of [B, null]) {
      const { xs, cs } = data(19, NI, NH, batch);
      random.seed(20);
      const net = new LearnedDecay();
      net.initState({ batchSize: batch ?? undefined });
      const snap = snapshot(net);
      const [ref] = grad(
        () => {
          let L: tf.Tensor = tf.scalar(0);
          for (let t = 0; t < T; t++) L = tf.add(L, tf.sum(tf.mul(net.update(xs[t]), cs[t])));
          return L;
        },
        { gradStates: { w: net.w, W: net.W }, returnValue: true },
      )() as unknown as [{ w: tf.Tensor; W: Grads }, tf.Tensor];
      restore(snap);
      const alg = new D_RTRL(net);
      let gw: tf.Tensor | null = null;
      let gW: tf.Tensor | null = null;
      for (let t = 0; t < T; t++) {
        const [g] = grad(() => tf.sum(tf.mul(alg.update(xs[t]), cs[t])), {
          gradStates: { w: net.w, W: net.W },
          returnValue: true,
        })() as unknown as [{ w: tf.Tensor; W: Grads }, tf.Tensor];
        gw = gw === null ? g.w : tf.add(gw, g.w);
        gW = gW === null ? g.W.weight : tf.add(gW, g.W.weight);
      }
      expect(relErr(f64(gw!), f64(ref.w))).toBeLessThan(1e-5);
      expect(relErr(f64(gW!), f64(ref.W.weight))).toBeLessThan(1e-5);
      alg.dispose();
    }
  });

  it("D_RTRL's upstream max-abs normalisation is off by default and changes the gradient when on", () => {
    const { xs, cs } = data(21);
    const run = (normalize: boolean) => {
      random.seed(22);
      const net = new LeakyLinear(NI, NH, tf.fill([NH], 0.95));
      net.initState({ batchSize: B });
      return onlineGrads(new D_RTRL(net, { normalize }), net.W, xs, cs);
    };
    random.seed(22);
    const net = new LeakyLinear(NI, NH, tf.fill([NH], 0.95));
    net.initState({ batchSize: B });
    const ref = bpttGrads(net, net.W, xs, cs);
    expectClose(run(false), ref, 1e-5);
    // bias traces Σ a^k exceed 1 after two steps: the normalised gradient is no longer BPTT's
    expect(relErr(f64(run(true).bias), f64(ref.bias))).toBeGreaterThan(1e-2);
  });
});

/** One HiddenGroupState [B, H, 2] holding g and V: the group is one member with two slots. */
class GroupStateModel extends Module {
  W: ETraceParam;
  s!: HiddenGroupState;
  constructor() {
    super();
    this.W = new ETraceParam({ weight: random.normal(0, 0.5, [NI, NH]) }, new MatMulOp());
  }
  override initState(o: InitStateOptions = {}): void {
    this.s = new HiddenGroupState(tf.zeros([o.batchSize ?? 1, NH, 2]));
  }
  override update(x: tf.Tensor): tf.Tensor {
    const [g, V] = tf.split(this.s.value, 2, -1).map((t) => tf.squeeze(t, [-1]));
    const gn = tf.add(tf.mul(g, 0.7), this.W.execute(x));
    const Vn = tf.add(tf.mul(V, 0.9), tf.mul(gn, 0.5));
    this.s.value = tf.stack([gn, Vn], -1);
    return Vn;
  }
}

describe('HiddenGroupState', () => {
  it('a single two-slot group state under D_RTRL equals BPTT', () => {
    const { xs, cs } = data(23);
    random.seed(24);
    const net = new GroupStateModel();
    net.initState({ batchSize: B });
    const s0 = tf.clone(net.s.value);
    const ref = bpttGrads(net, net.W, xs, cs);
    net.s.value = s0;
    const alg = new D_RTRL(net);
    alg.compileGraph(xs[0]);
    expect(alg.graph!.groups[0].numState).toBe(2);
    expectClose(onlineGrads(alg, net.W, xs, cs), ref, 1e-5);
  });
});

/** h ← α_t·h + x W + b with a scalar α_t (a JS number) that the model may change per step. */
class ScalarLeaky extends Module {
  W: ETraceParam;
  h!: HiddenState;
  step = 0;
  constructor(
    readonly nIn: number,
    readonly nH: number,
    readonly alphaAt: (t: number) => number,
  ) {
    super();
    this.W = new ETraceParam(
      { weight: random.normal(0, 0.5, [nIn, nH]), bias: random.normal(0, 0.2, [nH]) },
      new MatMulOp(),
    );
  }
  override initState(o: InitStateOptions = {}): void {
    this.h = new HiddenState(tf.zeros(o.batchSize ? [o.batchSize, this.nH] : [this.nH]));
    this.step = 0;
  }
  override update(x: tf.Tensor): tf.Tensor {
    const y = this.W.execute(x);
    this.h.value = tf.add(tf.mul(this.h.value, this.alphaAt(this.step++)), y);
    return this.h.value;
  }
}

describe('affine transitions: Jacobians reused while the scalar coefficients are unchanged', () => {
  const cases: [string, (t: number) => number][] = [
    ['a fixed α (reused)', () => 0.8],
    ['an α that changes at some steps (recomputed)', (t) => (t < 4 ? 0.9 : t < 8 ? 0.3 : 0.6)],
  ];
  for (const [label, alphaAt] of cases) {
    it(`D_RTRL equals BPTT with ${label}`, () => {
      const { xs, cs } = data(21);
      random.seed(22);
      const net = new ScalarLeaky(NI, NH, alphaAt);
      net.initState({ batchSize: B });
      const snap = snapshot(net);
      const ref = bpttGrads(net, net.W, xs, cs);
      restore(snap);
      net.step = 0;
      const alg = new D_RTRL(net);
      alg.compileGraph(xs[0]);
      net.step = 0; // compileGraph ran one step of the model
      const on = onlineGrads(alg, net.W, xs, cs);
      expectClose(on, ref, 1e-5);
      // the group's Jacobians are cached (one entry), and the cache is freed with the learner
      const cache = (alg as unknown as { constJac: Map<unknown, unknown> }).constJac;
      expect(cache.size).toBe(1);
      const before = tf.memory().numTensors;
      alg.dispose();
      expect(cache.size).toBe(0);
      expect(tf.memory().numTensors).toBeLessThan(before);
      tf.dispose([...xs, ...cs, ...snap.values()]);
    });
  }
});

/** onlineGrads with the per-step gradient compiled (jit): the step replays after its first call. */
function compiledOnlineGrads(
  alg: ETraceVjpAlgorithm,
  param: ETraceParam,
  xs: tf.Tensor[],
  cs: tf.Tensor[],
): { grads: Grads; replays: number } {
  const step = jit(onlineStep(alg, param));
  return { grads: sumSteps(step, xs, cs), replays: step.replayCount };
}

describe('compiled (jit) online steps', () => {
  it('D_RTRL still equals BPTT: two-state group (Expon → membrane) and a LIF layer with a hard reset', () => {
    environ.set({ dt: 1 });
    const cases: [Module, ETraceParam, number][] = [];
    {
      random.seed(21);
      const net = new ExponMembrane(NI, NH, 0.7, tf.tensor1d([0.95, 0.8, 0.6, 0.9, 0.3]), 0.5);
      net.initState({ batchSize: B });
      cases.push([net, net.W, 2]);
    }
    {
      random.seed(22);
      const net = new LifLayer(NI, NH);
      net.neu.initState({ batchSize: B });
      cases.push([net, (net.syn.comm as EtLinear).W, 1]);
    }
    cases.forEach(([net, W, numState], i) => {
      const { xs, cs } = data(30 + i);
      const snap = snapshot(net);
      const ref = bpttGrads(net, W, xs, cs);
      restore(snap);
      const alg = new D_RTRL(net);
      alg.compileGraph(xs[0]);
      expect(alg.graph!.groups[0].numState).toBe(numState);
      const { grads, replays } = compiledOnlineGrads(alg, W, xs, cs);
      expect(replays).toBe(T - 1);
      expect(f64(ref.weight).some((v) => v !== 0)).toBe(true);
      expectClose(grads, ref, 1e-5);
      alg.dispose();
      tf.dispose([...xs, ...cs, ...snap.values()]);
    });
  });

  it.each([
    ['ES_D_RTRL', (n: Module) => new ES_D_RTRL(n, { decay: 0.9 })],
    ['Hybrid', (n: Module) => new HybridDimVjpAlgorithm(n, { decay: 0.5 })],
  ] as const)('%s on a two-state group: the eager learner’s gradient', (_, make) => {
    const { xs, cs } = data(40);
    random.seed(41);
    const net = new ExponMembrane(NI, NH, 0.7, tf.tensor1d([0.95, 0.8, 0.6, 0.9, 0.3]), 0.5);
    net.initState({ batchSize: B });
    const snap = snapshot(net);
    const eager = make(net);
    eager.compileGraph(xs[0]);
    const ref = onlineGrads(eager, net.W, xs, cs);
    eager.dispose();
    restore(snap);
    const alg = make(net);
    alg.compileGraph(xs[0]);
    const { grads, replays } = compiledOnlineGrads(alg, net.W, xs, cs);
    expect(replays).toBe(T - 1);
    expectClose(grads, ref, 1e-5);
    alg.dispose();
    tf.dispose([...xs, ...cs, ...snap.values()]);
  });
});
