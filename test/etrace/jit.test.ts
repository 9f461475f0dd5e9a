/**
 * A compiled online step: `jit` of a function that takes `grad` of a loss of `alg.update(x)`
 * replays the recorded forward, Jacobian, trace and backward kernels (fused) without running the
 * algorithm's JS, and gives the eager step's gradients, traces and running index. The traces, the
 * running index and the start-up correction live in states, and the in-place trace kernels step
 * aside while the recorder is on (traceKernels.ts), so the replay sees every write. Eager steps
 * that leave a deferred D-RTRL trace step are applied before the next compiled call.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf';
import { grad } from '../../src/augment';
import { jit } from '../../src/compile';
import * as random from '../../src/random';
import { HiddenState } from '../../src/state';
import {
  D_RTRL,
  ES_D_RTRL,
  HybridDimVjpAlgorithm,
  MultiStepData,
  type ETraceVjpAlgorithm,
} from '../../src/etrace/algorithms';
import { setFusedTraceKernels } from '../../src/etrace/traceKernels';
import { B, Net, NH, NI, maxRel, snapshotTraces } from './smallNet';

afterEach(() => {
  setFusedTraceKernels(true);
});

type Make = (net: Net) => ETraceVjpAlgorithm;
type Grads = Record<string, Record<string, tf.Tensor>>;

interface Setup {
  net: Net;
  alg: ETraceVjpAlgorithm;
  xs: tf.Tensor[];
  c: tf.Tensor;
  /** The online step: the gradient of Σ c ⊙ update(x), and the loss. */
  step: (x: tf.Tensor) => [Grads, tf.Tensor];
  free(): void;
}

function setup(make: Make, T: number): Setup {
  random.seed(5);
  const net = new Net();
  net.initState({ batchSize: B });
  const xs = Array.from({ length: T }, () =>
    tf.cast(tf.greater(random.uniform(0, 1, [B, NI]), 0.5), 'float32'),
  );
  const c = random.normal(0, 1, [B, 2]);
  const alg = make(net);
  alg.compileGraph(xs[0]);
  const step = (x: tf.Tensor) =>
    grad(() => tf.sum(tf.mul(alg.update(x), c)), {
      gradStates: { W: net.W, V: net.V },
      returnValue: true,
    })() as unknown as [Grads, tf.Tensor];
  return {
    net,
    alg,
    xs,
    c,
    step,
    free() {
      alg.dispose();
      tf.dispose([...xs, c]);
      for (const [, s] of net.states()) s.dispose();
    },
  };
}

/** The gradient leaves in a fixed order, copied out (the tensors are freed). */
function take(g: Grads, loss: tf.Tensor): Float32Array[] {
  const out: Float32Array[] = [];
  for (const k of ['W', 'V']) {
    for (const kk of Object.keys(g[k]).sort()) out.push(Float32Array.from(g[k][kk].dataSync()));
  }
  out.push(Float32Array.from(loss.dataSync()));
  tf.dispose([g as unknown as tf.TensorContainer, loss]);
  return out;
}

function expectClose(a: Float32Array[], b: Float32Array[]): void {
  expect(a.length).toBe(b.length);
  a.forEach((x, i) => {
    expect(x.length).toBe(b[i].length);
    expect(maxRel(x, b[i])).toBeLessThan(1e-4);
  });
}

const algorithms: [string, Make][] = [
  ['D_RTRL', (net) => new D_RTRL(net)],
  ['ES_D_RTRL', (net) => new ES_D_RTRL(net, { decay: 0.8 })],
  [
    'ES_D_RTRL without the correction',
    (net) => new ES_D_RTRL(net, { decay: 0.8, biasCorrection: false } as never),
  ],
  ['HybridDimVjpAlgorithm', (net) => new HybridDimVjpAlgorithm(net, { decay: 0.8 } as never)],
];

describe.each(algorithms)('%s: jit of the online step', (_, make) => {
  it('replays, with the eager gradients, traces and running index; no leaks', () => {
    const T = 12;
    const eager = setup(make, T);
    const ref = eager.xs.map((x) => take(...eager.step(x)));
    const refTraces = snapshotTraces(eager.alg, eager.net);
    expect(eager.alg.runningIndex).toBe(T);
    eager.free();

    const s = setup(make, T);
    const step = jit(s.step);
    const got: Float32Array[][] = [];
    let before = -1;
    s.xs.forEach((x, t) => {
      got.push(take(...step(x)));
      if (t === 1) before = tf.memory().numTensors;
    });
    expect(step.replayCount).toBe(T - 1);
    expect(tf.memory().numTensors).toBe(before);
    got.forEach((g, t) => expectClose(g, ref[t]));
    // the gradients change from step to step: the traces carry over
    expect(maxRel(got[T - 1][0], got[T - 2][0])).toBeGreaterThan(1e-3);
    expectClose(snapshotTraces(s.alg, s.net), refTraces);
    expect(s.alg.runningIndex).toBe(T);
    s.free();
  });
});

describe('mixing eager and compiled online steps', () => {
  it.each(algorithms)('%s: the same gradients as all-eager steps', (_, make) => {
    const T = 10;
    const eager = setup(make, T);
    const ref: Float32Array[][] = [];
    const refRun = (t: number) => ref.push(take(...eager.step(eager.xs[t])));
    for (let t = 0; t < 3; t++) refRun(t);
    tf.dispose(eager.alg.update(eager.xs[3])); // a step without a gradient
    for (let t = 4; t < T; t++) refRun(t);
    const refTraces = snapshotTraces(eager.alg, eager.net);
    eager.free();

    const s = setup(make, T);
    const step = jit(s.step);
    const got: Float32Array[][] = [];
    // eager steps leave D-RTRL's deferred trace step pending; compiled calls apply it first
    got.push(take(...s.step(s.xs[0])));
    got.push(take(...step(s.xs[1])));
    got.push(take(...s.step(s.xs[2])));
    tf.dispose(s.alg.update(s.xs[3]));
    got.push(take(...step(s.xs[4])));
    got.push(take(...step(s.xs[5])));
    got.push(take(...s.step(s.xs[6])));
    for (let t = 7; t < T; t++) got.push(take(...step(s.xs[t])));
    expect(step.replayCount).toBeGreaterThan(3);
    got.forEach((g, t) => expectClose(g, ref[t]));
    expectClose(snapshotTraces(s.alg, s.net), refTraces);
    expect(s.alg.runningIndex).toBe(T);
    s.free();
  });

  it('resetState between compiled calls restarts the traces and the count', () => {
    const make: Make = (net) => new ES_D_RTRL(net, { decay: 0.8 });
    const eager = setup(make, 6);
    const ref: Float32Array[][] = [];
    for (let t = 0; t < 3; t++) ref.push(take(...eager.step(eager.xs[t])));
    eager.alg.resetState();
    for (let t = 3; t < 6; t++) ref.push(take(...eager.step(eager.xs[t])));
    eager.free();

    const s = setup(make, 6);
    const step = jit(s.step);
    const got: Float32Array[][] = [];
    for (let t = 0; t < 3; t++) got.push(take(...step(s.xs[t])));
    s.alg.resetState();
    expect(s.alg.runningIndex).toBe(0);
    for (let t = 3; t < 6; t++) got.push(take(...step(s.xs[t])));
    expect(step.replayCount).toBe(5);
    got.forEach((g, t) => expectClose(g, ref[t]));
    expect(s.alg.runningIndex).toBe(3);
    s.free();
  });
});

describe('jit of the online step with the trace kernels off', () => {
  it('ES_D_RTRL: the same gradients', () => {
    const make: Make = (net) => new ES_D_RTRL(net, { decay: 0.8 });
    const a = setup(make, 6);
    const ref = a.xs.map((x) => take(...a.step(x)));
    a.free();
    setFusedTraceKernels(false);
    const s = setup(make, 6);
    const step = jit(s.step);
    const got = s.xs.map((x) => take(...step(x)));
    got.forEach((g, t) => expectClose(g, ref[t]));
    s.free();
  });
});

describe('compiled steps of windows and vmap lanes', () => {
  const learners: [string, Make][] = [
    ['D_RTRL', (net) => new D_RTRL(net)],
    ['ES_D_RTRL', (net) => new ES_D_RTRL(net, { decay: 0.8 })],
  ];

  it.each(learners)('%s: multi-step windows of 3 under jit equal the eager windows', (_, make) => {
    const run = (compiled: boolean) => {
      const s = setup(make, 12);
      const win = (t: number) => tf.stack([s.xs[t], s.xs[t + 1], s.xs[t + 2]]);
      const f = (w: tf.Tensor) =>
        grad(() => tf.sum(tf.mul(tf.sum(s.alg.update(new MultiStepData(w)), 0), s.c)), {
          gradStates: { W: s.net.W, V: s.net.V },
          returnValue: true,
        })() as unknown as [Grads, tf.Tensor];
      const step = compiled ? jit(f) : f;
      const out: Float32Array[][] = [];
      for (let t = 0; t < 12; t += 3) {
        const w = win(t);
        out.push(take(...step(w)));
        w.dispose();
      }
      const tr = snapshotTraces(s.alg, s.net);
      const idx = s.alg.runningIndex;
      const replays = compiled ? (step as ReturnType<typeof jit>).replayCount : 0;
      s.free();
      return { out, tr, idx, replays };
    };
    const a = run(false);
    const b = run(true);
    expect(b.replays).toBe(3);
    expect(b.idx).toBe(12);
    expect(a.idx).toBe(12);
    b.out.forEach((g, i) => expectClose(g, a.out[i]));
    expectClose(b.tr, a.tr);
  });

  it.each(learners)('%s: vmapUpdate lanes under jit equal the eager lanes', (_, make) => {
    class Unbatched extends Net {
      override initState(): void {
        this.h = new HiddenState(tf.zeros([NH]));
        this.r = new HiddenState(tf.zeros([2]));
      }
    }
    const run = (compiled: boolean) => {
      random.seed(9);
      const net = new Unbatched();
      net.initState();
      const xs = Array.from({ length: 6 }, () =>
        tf.cast(tf.greater(random.uniform(0, 1, [B, NI]), 0.5), 'float32'),
      );
      const c = random.normal(0, 1, [B, 2]);
      const alg = make(net as Net);
      const x0 = tf.reshape(tf.slice(xs[0], [0, 0], [1, NI]), [NI]);
      alg.compileGraph(x0);
      x0.dispose();
      const lanes = alg.vmapUpdate(B);
      const f = (x: tf.Tensor) =>
        grad(() => tf.sum(tf.mul(lanes(x), c)), {
          gradStates: { W: net.W, V: net.V },
          returnValue: true,
        })() as unknown as [Grads, tf.Tensor];
      const step = compiled ? jit(f) : f;
      const out = xs.map((x) => take(...step(x)));
      const idx = alg.runningIndex;
      const replays = compiled ? (step as ReturnType<typeof jit>).replayCount : 0;
      alg.dispose();
      tf.dispose([...xs, c]);
      for (const [, st] of net.states()) st.dispose();
      return { out, idx, replays };
    };
    const a = run(false);
    const b = run(true);
    expect(b.replays).toBe(5);
    expect([a.idx, b.idx]).toEqual([6, 6]);
    b.out.forEach((g, i) => expectClose(g, a.out[i]));
  });
});

describe('subnormal trace values', () => {
  it.each([false, true])(
    'ES_D_RTRL (jit %s): x̄ of an input that spiked once decays to exact zeros, never subnormal',
    (compiled) => {
      const s = setup((net) => new ES_D_RTRL(net, { decay: 0.5 }), 1);
      const spike = tf.tensor2d([
        [1, 0, 1, 0, 0],
        [0, 0, 0, 0, 1],
        [1, 1, 0, 0, 0],
      ]);
      const quiet = tf.zeros([B, NI]);
      const step = compiled ? jit(s.step) : s.step;
      take(...step(spike));
      let sawTiny = false;
      let zeroAt = -1;
      for (let t = 1; t < 140; t++) {
        take(...step(quiet));
        const xbar = s.alg.getEtraceOf(s.net.W)[0].x!.dataSync();
        const inputs = Array.from({ length: B }, (_, b) =>
          Array.from(xbar.slice(b * (NI + NH), b * (NI + NH) + NI)),
        ).flat();
        if (inputs.some((v) => v !== 0 && Math.abs(v) < 2 ** -126)) sawTiny = true;
        if (zeroAt < 0 && inputs.every((v) => v === 0)) zeroAt = t;
      }
      expect(sawTiny).toBe(false);
      // 0.5^t·1 reaches 2⁻¹²⁶ at t = 126 and is flushed below it
      expect(zeroAt).toBe(127);
      tf.dispose([spike, quiet]);
      s.free();
    },
  );
});

describe('compiled steps and the compiled graph', () => {
  it('an uncompiled graph inside jit is an error that says what to do', () => {
    random.seed(5);
    const net = new Net();
    net.initState({ batchSize: B });
    const alg = new ES_D_RTRL(net, { decay: 0.8 });
    const x = tf.zeros([B, NI]);
    const step = jit((xx: tf.Tensor) => alg.update(xx));
    expect(() => step(x)).toThrow(
      /ES_D_RTRL\.update: the graph is not compiled; inside a compiled \(jit\) function it cannot be compiled\. Call ES_D_RTRL\.compileGraph\(x\)/,
    );
    alg.compileGraph(x);
    step(x).dispose();
    // a new batch size needs a new graph too
    net.initState({ batchSize: 5 });
    alg.resetState(5);
    const x5 = tf.zeros([5, NI]);
    expect(() => step(x5)).toThrow(/not compiled for the new batch size/);
    alg.dispose();
    tf.dispose([x, x5]);
    for (const [, s] of net.states()) s.dispose();
  });

  it.each([
    ['D_RTRL', (net: Net) => new D_RTRL(net)],
    ['ES_D_RTRL', (net: Net) => new ES_D_RTRL(net, { decay: 0.8 })],
  ] as const)('%s: batch 3 → 5 → 3 with compileGraph between: the eager gradients', (_, make) => {
    const run = (compiled: boolean) => {
      const s = setup(make as Make, 4);
      const xs5 = Array.from({ length: 3 }, () =>
        tf.cast(tf.greater(random.uniform(0, 1, [5, NI]), 0.5), 'float32'),
      );
      const c5 = random.normal(0, 1, [5, 2]);
      const f = (x: tf.Tensor, c: tf.Tensor) =>
        grad(() => tf.sum(tf.mul(s.alg.update(x), c)), {
          gradStates: { W: s.net.W, V: s.net.V },
          returnValue: true,
        })() as unknown as [Grads, tf.Tensor];
      const step = compiled ? jit(f) : f;
      const out: Float32Array[][] = [];
      for (const x of s.xs.slice(0, 2)) out.push(take(...step(x, s.c)));
      s.net.initState({ batchSize: 5 });
      s.alg.resetState(5);
      s.alg.compileGraph(xs5[0]);
      for (const x of xs5) out.push(take(...step(x, c5)));
      s.net.initState({ batchSize: B });
      s.alg.resetState(B);
      s.alg.compileGraph(s.xs[0]);
      for (const x of s.xs.slice(2)) out.push(take(...step(x, s.c)));
      const replays = compiled ? (step as ReturnType<typeof jit>).replayCount : 0;
      tf.dispose([...xs5, c5]);
      s.free();
      return { out, replays };
    };
    const a = run(false);
    const b = run(true);
    expect(b.replays).toBe(5); // one trace per batch size; back at 3 the first trace replays
    b.out.forEach((g, i) => expectClose(g, a.out[i]));
  });
});
