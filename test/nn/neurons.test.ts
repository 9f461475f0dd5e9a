/**
 * Neuron models (spec §5.4, §10.36): LIF against its closed forms (subthreshold response and
 * firing period, with τ_ref for LIFRef), soft/hard reset, shapes with and without batch, spikes
 * in {0, 1}, surrogate gradients through time, adaptation (ALIF, GIF), the Izhikevich
 * regular-spiking pattern against a fine-step reference, typed errors for bad parameters, the
 * kernel budget of a step, and no tensor leaks over 2000 steps.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf';
import * as environ from '../../src/environ';
import { ArgumentError, KeyNotFoundError } from '../../src/errors';
import { initAllStates, resetAllStates } from '../../src/graph';
import { grad } from '../../src/augment';
import { forLoop, makeIR } from '../../src/compile';
import * as init from '../../src/init';
import { ReluGrad, InvSquareGrad } from '../../src/surrogate';
import {
  ALIF,
  AdExIF,
  ExpIF,
  ExpLIF,
  GIF,
  IF,
  Izhikevich,
  LIF,
  LIFRef,
  Neuron,
} from '../../src/nn/neurons';
import { checkNoTensorLeaks, disposeGraph } from '../graph/fixtures';

checkNoTensorLeaks();

const DT = 0.1;
beforeAll(() => environ.set({ dt: DT }));
afterAll(() => environ.reset());

/** Step the neuron n times with input `I` (each step in tf.tidy, with t = k·dt); returns spike step indices of neuron 0. */
function spikeSteps(n: Neuron, I: number | tf.Tensor, steps: number): number[] {
  const out: number[] = [];
  for (let k = 0; k < steps; k++) {
    const s = environ.context({ t: k * DT }, () =>
      tf.tidy(() => (n.call(I) as tf.Tensor).dataSync()[0]),
    );
    if (s > 0) out.push(k);
  }
  return out;
}

const diffs = (a: number[]) => a.slice(1).map((x, i) => x - a[i]);

/** One factory per model, with an input that makes it fire within ~100 ms. */
const MODELS: [string, (size: number | number[]) => Neuron, number][] = [
  ['IF', (s) => new IF(s), 2],
  ['LIF', (s) => new LIF(s), 2],
  ['LIFRef', (s) => new LIFRef(s, { tau_ref: 1 }), 2],
  ['ALIF', (s) => new ALIF(s), 2],
  ['ExpIF', (s) => new ExpIF(s, { tau_ref: 1 }), 10],
  ['AdExIF', (s) => new AdExIF(s), 30],
  ['Izhikevich', (s) => new Izhikevich(s), 10],
  ['GIF', (s) => new GIF(s, { a: 0.005, b: 0.05, A2: -0.2 }), 2],
];

describe('LIF closed forms', () => {
  it('subthreshold response to a constant current: V(t) = V_rest + R·I·(1 − e^{−t/τ}) over 200 steps', () => {
    const n = new LIF(4, {
      tau: 10,
      R: 2,
      V_rest: -65,
      V_reset: -65,
      V_th: -50,
      V_initializer: -65,
    });
    initAllStates(n, { batchSize: 2 });
    const I = 5; // R·I = 10 mV < 15 mV to threshold
    let maxErr = 0;
    for (let k = 1; k <= 200; k++) {
      tf.tidy(() => void n.call(I));
      const expected = -65 + 2 * I * (1 - Math.exp((-k * DT) / 10));
      const V = n.V.value.dataSync();
      for (const v of V) maxErr = Math.max(maxErr, Math.abs(v - expected));
    }
    expect(maxErr).toBeLessThan(3e-4); // float32 rounding (ulp 4e-6 at 60 mV) accumulated over ~1/(1 − e) steps
    expect(tf.tidy(() => tf.max(n.spike.value).dataSync()[0])).toBe(0);
    disposeGraph(n);
  });

  it('the same with the current given as a callable current input that receives V', () => {
    const n = new LIF(3, { tau: 5, V_initializer: 0 });
    const seen: number[][] = [];
    n.addCurrentInput('ext', (V: tf.Tensor) => {
      seen.push(V.shape);
      return tf.fill(V.shape, 0.5);
    });
    initAllStates(n);
    for (let k = 0; k < 50; k++) tf.tidy(() => void n.call());
    expect(n.V.value.dataSync()[0]).toBeCloseTo(0.5 * (1 - Math.exp((-50 * DT) / 5)), 5);
    expect(seen[0]).toEqual([3]);
    disposeGraph(n);
  });

  it('firing period under a suprathreshold current equals ⌈τ·ln(RI/(RI − (V_th − V_reset)))/dt⌉ steps', () => {
    const tau = 10;
    const RI = 20;
    const gap = 15; // V_th − V_reset
    const T = tau * Math.log(RI / (RI - gap)); // 13.86 ms
    const K = Math.ceil(T / DT);
    const n = new LIF(1, {
      tau,
      V_rest: -65,
      V_reset: -65,
      V_th: -50,
      V_initializer: -65,
      spkReset: 'hard',
    });
    initAllStates(n);
    const s = spikeSteps(n, RI, 800);
    expect(s[0]).toBe(K - 1); // the first step (k = 0) integrates from V_reset
    expect(new Set(diffs(s))).toEqual(new Set([K]));
    disposeGraph(n);
  });

  it('LIFRef: period = ⌊τ_ref/dt⌋ − 1 + K steps (Brian2 semantics: integration resumes at t_spike + τ_ref)', () => {
    const tau = 10;
    const RI = 20;
    const K = Math.ceil((tau * Math.log(RI / (RI - 15))) / DT);
    for (const [tau_ref, reset] of [
      [5, 'hard'],
      [2, 'soft'],
      [0, 'hard'],
    ] as const) {
      const n = new LIFRef(2, {
        tau,
        tau_ref,
        V_rest: -65,
        V_reset: -65,
        V_th: -50,
        V_initializer: -65,
        spkReset: reset,
      });
      initAllStates(n);
      const s = spikeSteps(n, RI, 1000);
      const held = Math.max(0, Math.round(tau_ref / DT) - 1);
      expect(new Set(diffs(s))).toEqual(new Set([held + K]));
      disposeGraph(n);
    }
  });

  it('LIFRef holds V at the reset value during the refractory period and records lastSpikeTime', () => {
    const n = new LIFRef(1, {
      tau: 10,
      tau_ref: 2,
      V_rest: 0,
      V_reset: -5,
      V_th: 1,
      spkReset: 'hard',
    });
    initAllStates(n);
    const Vs: number[] = [];
    let spikeAt = -1;
    for (let k = 0; k < 80; k++) {
      environ.context({ t: k * DT }, () =>
        tf.tidy(() => {
          const s = n.call(20).dataSync()[0];
          if (s > 0 && spikeAt < 0) spikeAt = k;
        }),
      );
      Vs.push(n.V.value.dataSync()[0]);
    }
    expect(spikeAt).toBeGreaterThanOrEqual(0);
    expect(n.lastSpikeTime.value.dataSync()[0]).toBeGreaterThanOrEqual(spikeAt * DT - 1e-4);
    for (let k = spikeAt; k < spikeAt + 20; k++) expect(Vs[k]).toBeCloseTo(-5, 4);
    expect(Vs[spikeAt + 20]).toBeGreaterThan(-5); // integrates again at t_spike + τ_ref
    disposeGraph(n);
  });

  it('LIFRef needs the current time: a typed error naming the class', () => {
    const n = new LIFRef(1);
    initAllStates(n);
    expect(() => tf.tidy(() => n.call(1))).toThrow(KeyNotFoundError);
    expect(() => tf.tidy(() => n.call(1))).toThrow(/LIFRef.*current time/);
    disposeGraph(n);
  });
});

describe('reset semantics', () => {
  /** One step from V0 with input I: the integrated value, before the reset. */
  const integrated = (V0: number, I: number, tau: number) =>
    V0 * Math.exp(-DT / tau) + (1 - Math.exp(-DT / tau)) * I;

  it('soft subtracts V_th − V_reset and keeps the overshoot; hard lands on V_reset', () => {
    for (const reset of ['soft', 'hard'] as const) {
      const n = new LIF(2, { tau: 5, V_th: 1, V_reset: -0.5, spkReset: reset });
      initAllStates(n);
      n.V.value = tf.tensor([0.99, 0.995]);
      const spike = tf.tidy(() => Array.from(n.call(20).dataSync()));
      const Vn = integrated(0.99, 20, 5);
      expect(Vn).toBeGreaterThan(1);
      expect(spike).toEqual([1, 1]);
      const V = n.V.value.dataSync();
      if (reset === 'soft') expect(V[0]).toBeCloseTo(Vn - 1.5, 5);
      else expect(V[0]).toBeCloseTo(-0.5, 5);
      disposeGraph(n);
    }
  });

  it('over a noisy run: soft keeps V ≤ V_th; hard gives V < V_th or V == V_reset (spec §10.36)', () => {
    for (const reset of ['soft', 'hard'] as const) {
      const n = new LIF(16, { tau: 5, V_th: 1, V_reset: 0, spkReset: reset });
      initAllStates(n, { batchSize: 2 });
      let fired = 0;
      for (let k = 0; k < 100; k++) {
        tf.tidy(() => {
          const x = tf.randomUniform([2, 16], 0, 3, 'float32', k);
          fired += tf.sum(n.call(x)).dataSync()[0];
          const V = n.V.value.dataSync();
          for (const v of V) {
            if (reset === 'soft') expect(v).toBeLessThanOrEqual(1 + 1e-6);
            else expect(v < 1 || Math.abs(v) < 1e-6).toBe(true);
          }
        });
      }
      expect(fired).toBeGreaterThan(0);
      disposeGraph(n);
    }
  });

  it('hard reset stops the gradient through the reset amount; both pass it through the surrogate', () => {
    // One step from V0 = 0.99 with I = 20 crosses V_th = 1: spike = 1, surrogate slope g.
    const tau = 5;
    const e = Math.exp(-DT / tau);
    const w = 1 - e;
    const Vn = 0.99 * e + w * 20;
    const g = 0.3 * Math.max(1 - Math.abs(Vn - 1), 0); // ReluGrad(α = 0.3, width 1) at (Vn − V_th)/(V_th − V_reset)
    const expected = {
      // V' = Vn − (V_th − V_reset)·spk: ∂V'/∂I = w − 1·g·w
      soft: w * (1 - g),
      // V' = Vn − (sg(Vn) − V_reset)·spk: ∂V'/∂I = w − (Vn − V_reset)·g·w (no −spk·w term)
      hard: w * (1 - Vn * g),
    };
    for (const reset of ['soft', 'hard'] as const) {
      const n = new LIF(1, { tau, V_th: 1, V_reset: 0, spkReset: reset });
      initAllStates(n);
      n.V.value = tf.tensor([0.99]);
      const x = tf.tensor([20]);
      const dV = grad((I: tf.Tensor) => {
        n.call(I);
        return tf.sum(n.V.value);
      })(x);
      expect(dV.dataSync()[0]).toBeCloseTo(expected[reset], 5);
      tf.dispose([x, dV]);
      disposeGraph(n);
    }
  });
});

describe('every model', () => {
  it.each(MODELS)(
    '%s: sizes, shapes with and without batch, spikes ∈ {0, 1} float32, resetState',
    (name, make, I) => {
      const n = make([2, 3]);
      expect(n.varshape).toEqual([2, 3]);
      expect(n.inSize).toEqual([2, 3]);
      expect(n.outSize).toEqual([2, 3]);
      expect(n.size).toBe(6);
      initAllStates(n);
      expect(n.spike.shape).toEqual([2, 3]);
      const V = (n as unknown as { V: { shape: number[] } }).V;
      expect(V.shape).toEqual([2, 3]);
      initAllStates(n, { batchSize: 4 });
      expect(V.shape).toEqual([4, 2, 3]);
      let total = 0;
      for (let k = 0; k < 1000; k++) {
        environ.context({ t: k * DT }, () =>
          tf.tidy(() => {
            const s = n.call(I);
            expect(s.shape).toEqual([4, 2, 3]);
            expect(s.dtype).toBe('float32');
            const v = s.dataSync();
            for (const x of v) expect(x === 0 || x === 1).toBe(true);
            total += tf.sum(s).dataSync()[0];
            expect(n.getSpike()).toBe(n.spike.value);
          }),
        );
      }
      expect(total).toBeGreaterThan(0);
      const g = tf.tidy(() => Array.from(n.getSpike(tf.fill([4, 2, 3], 1e4)).dataSync()));
      expect(new Set(g)).toEqual(new Set([1]));
      const before = V;
      resetAllStates(n, { batchSize: 4 });
      expect((n as unknown as { V: unknown }).V).toBe(before); // same State object, fresh value
      expect(tf.tidy(() => tf.sum(n.spike.value).dataSync()[0])).toBe(0);
      disposeGraph(n);
      void name;
    },
  );

  it.each(MODELS)(
    '%s: the gradient of the spike count over 200 steps w.r.t. the input is finite and non-zero',
    (name, make, I) => {
      const n = make(3);
      initAllStates(n, { batchSize: 2 });
      const x = tf.fill([2, 3], I);
      const g = grad((inp: tf.Tensor) => {
        let total: tf.Tensor = tf.scalar(0);
        for (let k = 0; k < 200; k++) {
          const s = environ.context({ t: k * DT }, () => n.call(inp));
          total = tf.add(total, tf.sum(s));
        }
        return total;
      })(x);
      const v = Array.from(g.dataSync());
      expect(v.every(Number.isFinite)).toBe(true);
      expect(v.some((d) => d !== 0)).toBe(true);
      tf.dispose([x, g]);
      disposeGraph(n);
      void name;
    },
  );

  it.each(MODELS)(
    '%s: no tensor leaks over 2000 steps in tf.tidy and 200 steps in forLoop',
    (name, make, I) => {
      const n = make(5);
      initAllStates(n, { batchSize: 2 });
      const before = tf.memory().numTensors;
      for (let k = 0; k < 2000; k++) {
        environ.context({ t: k * DT }, () => tf.tidy(() => void n.call(I)));
      }
      expect(tf.memory().numTensors).toBe(before);
      let k = 0;
      const ys = forLoop(() => environ.context({ t: (2000 + k++) * DT }, () => n.call(I)), {
        length: 200,
      });
      expect(ys.shape).toEqual([200, 2, 5]);
      ys.dispose();
      expect(tf.memory().numTensors).toBe(before);
      disposeGraph(n);
      void name;
    },
  );
});

describe('adaptation and firing patterns', () => {
  it('ALIF: adaptation lowers the rate relative to LIF with the same membrane', () => {
    const pars = { tau: 10, V_th: 1, V_reset: 0 };
    const lif = new LIF(1, pars);
    const alif = new ALIF(1, { ...pars, beta: 0.5, tau_a: 200 });
    initAllStates(lif);
    initAllStates(alif);
    const a = spikeSteps(lif, 2, 3000).length;
    const b = spikeSteps(alif, 2, 3000).length;
    expect(a).toBeGreaterThan(10);
    expect(b).toBeLessThan(0.6 * a);
    const isi = diffs(spikeSteps(alif, 2, 3000));
    expect(isi[isi.length - 1]).toBeGreaterThanOrEqual(isi[0]);
    disposeGraph(lif);
    disposeGraph(alif);
  });

  it('Izhikevich regular spiking (I = 10): first ISI ≈ 23.1 ms then ≈ 44.8 ms, as a dt = 1 µs Euler reference', () => {
    const n = new Izhikevich(1);
    initAllStates(n);
    const s = spikeSteps(n, 10, 2000);
    const isi = diffs(s).map((d) => d * DT);
    expect(s[0] * DT).toBeCloseTo(3.1, 0);
    expect(Math.abs(isi[0] - 23.1)).toBeLessThan(0.5);
    for (const d of isi.slice(1)) expect(Math.abs(d - 44.8)).toBeLessThan(0.5);
    // reset to c and u += d
    expect(n.V.value.dataSync()[0]).toBeLessThan(30);
    disposeGraph(n);
  });

  it('ExpIF (ExpLIF) period against a fine-step reference; V never exceeds the cut-off', () => {
    expect(ExpLIF).toBe(ExpIF);
    const n = new ExpLIF(1);
    initAllStates(n);
    let maxV = -Infinity;
    const s: number[] = [];
    for (let k = 0; k < 1000; k++) {
      tf.tidy(() => {
        if (n.call(10).dataSync()[0] > 0) s.push(k);
      });
      maxV = Math.max(maxV, n.V.value.dataSync()[0]);
    }
    expect(maxV).toBeLessThanOrEqual(-30);
    for (const d of diffs(s)) expect(Math.abs(d * DT - 15.63)).toBeLessThan(0.2);
    disposeGraph(n);
  });

  it('ExpLIF with seed 001 parameters and V_T below threshold is quiet at rest and fires with input', () => {
    const n = new ExpLIF(10, {
      V_initializer: -55,
      V_rest: -60,
      V_th: -50,
      V_reset: -60,
      tau: 20,
      V_T: -54,
      delta_T: 2,
      I_e: 0,
    });
    initAllStates(n);
    expect(spikeSteps(n, 0, 500)).toEqual([]);
    expect(spikeSteps(n, 20, 500).length).toBeGreaterThan(0);
    disposeGraph(n);
  });

  it('AdExIF: spike-triggered adaptation lengthens the ISIs', () => {
    const n = new AdExIF(1, { a: 0, b: 2 });
    initAllStates(n);
    const isi = diffs(spikeSteps(n, 30, 3000));
    expect(isi.length).toBeGreaterThan(3);
    expect(isi[isi.length - 1]).toBeGreaterThan(isi[0]);
    disposeGraph(n);
  });

  it('GIF: seed 004 defaults fire regularly; A2 < 0 adapts; the threshold follows V and relaxes back', () => {
    const plain = new GIF(1);
    initAllStates(plain);
    const isi0 = diffs(spikeSteps(plain, 2, 2000));
    expect(isi0.length).toBeGreaterThan(3);
    expect(new Set(isi0).size).toBe(1);
    const adapt = new GIF(1, { A2: -0.3 });
    initAllStates(adapt);
    const isi1 = diffs(spikeSteps(adapt, 2, 4000));
    expect(isi1[isi1.length - 1]).toBeGreaterThan(isi1[0]);
    const dyn = new GIF(1, { a: 0.05, b: 0.1 });
    initAllStates(dyn);
    spikeSteps(dyn, 0.5, 1500); // subthreshold: V → 0.5, V_th → 1 + a·0.5/b = 1.25
    expect(dyn.V_th.value.dataSync()[0]).toBeGreaterThan(1.2);
    spikeSteps(dyn, 0, 2000);
    expect(dyn.V_th.value.dataSync()[0]).toBeCloseTo(1, 2);
    disposeGraph(plain);
    disposeGraph(adapt);
    disposeGraph(dyn);
  });
});

describe('inputs, parameters and errors', () => {
  it('a delta input is added after integration and can fire in the same step', () => {
    const n = new LIF(2, { tau: 5, V_th: 1 });
    initAllStates(n);
    n.addDeltaInput('kick', tf.tensor([2, 0.1]));
    const s = tf.tidy(() => Array.from(n.call(0).dataSync()));
    expect(s).toEqual([1, 0]);
    expect(n.V.value.dataSync()[1]).toBeCloseTo(0.1, 6);
    disposeGraph(n);
  });

  it('per-neuron parameters as tensors, initializers for the initial V', () => {
    const tau = tf.tensor([5, 10, 20]);
    const n = new LIF(3, { tau, V_initializer: new init.Constant(0.5) });
    initAllStates(n, { batchSize: 2 });
    tf.tidy(() => void n.call(0));
    const V = n.V.value.dataSync();
    expect(V[0]).toBeCloseTo(0.5 * Math.exp(-DT / 5), 6);
    expect(V[2]).toBeCloseTo(0.5 * Math.exp(-DT / 20), 6);
    expect(V[5]).toBeCloseTo(0.5 * Math.exp(-DT / 20), 6);
    const Vinit = tf.tensor([1, 2, 3]);
    const m = new LIF(3, { V_initializer: Vinit, V_th: 10 });
    initAllStates(m, { batchSize: 2 });
    expect(Array.from(m.V.value.dataSync())).toEqual([1, 2, 3, 1, 2, 3]);
    disposeGraph(m);
    expect(Vinit.isDisposed).toBe(false); // the state got its own copy
    tf.dispose([tau, Vinit]);
    disposeGraph(n);
  });

  it('default spike functions: ReluGrad for IF/LIF/LIFRef/ALIF/GIF, InvSquareGrad for the others', () => {
    expect(new LIF(1).spkFun).toBeInstanceOf(ReluGrad);
    expect(new IF(1).spkFun).toBeInstanceOf(ReluGrad);
    expect(new GIF(1).spkFun).toBeInstanceOf(ReluGrad);
    expect(new Izhikevich(1).spkFun).toBeInstanceOf(InvSquareGrad);
    expect(new ExpIF(1).spkFun).toBeInstanceOf(InvSquareGrad);
    expect(new LIF(1, { spkFun: new InvSquareGrad() }).spkFun).toBeInstanceOf(InvSquareGrad);
  });

  it('bad parameters are typed ArgumentErrors naming the class and the parameter', () => {
    expect(() => new LIF(3, { tau: -1 })).toThrow(ArgumentError);
    expect(() => new LIF(3, { tau: -1 })).toThrow(/LIF: parameter tau must be > 0, got -1/);
    expect(() => new LIFRef(3, { tau_ref: -2 })).toThrow(
      /LIFRef: parameter tau_ref must be ≥ 0, got -2/,
    );
    expect(() => new LIF(3, { spkReset: 'medium' as 'soft' })).toThrow(
      /LIF: spkReset must be 'soft' or 'hard', got "medium"/,
    );
    expect(() => new LIF(3, { V_th: 0, V_reset: 1 })).toThrow(
      /LIF: parameter V_th must be greater than V_reset/,
    );
    expect(() => new ALIF(3, { tau_a: 0 })).toThrow(/ALIF: parameter tau_a must be > 0/);
    expect(() => new IF(3, { V_th: -1 })).toThrow(/IF: parameter V_th must be > 0/);
    expect(() => new GIF(3, { tau_I2: Number.NaN })).toThrow(/GIF: parameter tau_I2/);
    expect(() => new Izhikevich(3, { V_th: -70 })).toThrow(
      /Izhikevich: parameter V_th must be greater than c/,
    );
    expect(() => new ExpIF(3, { delta_T: 0 })).toThrow(/ExpIF: parameter delta_T must be > 0/);
    const bad = tf.tensor([1, -1, 2]);
    expect(() => new LIF(3, { tau: bad })).toThrow(
      /LIF: parameter tau must be > 0 everywhere, got -1/,
    );
    bad.dispose();
    expect(() => new LIF(3, { spkFun: 3 as unknown as ReluGrad })).toThrow(
      /LIF: spkFun must be a surrogate/,
    );
    expect(() => new LIF(0)).toThrow(ArgumentError);
    const n = new LIF(3);
    initAllStates(n);
    expect(() => tf.tidy(() => n.call('x' as unknown as number))).toThrow(
      /LIF.update: the input must be a tensor or a number/,
    );
    disposeGraph(n);
  });

  it('a step stays a handful of kernels: LIF ≤ 11, LIFRef ≤ 18 (hard reset, tensor input)', () => {
    const lif = new LIF(100, { V_rest: -60, V_th: -50, V_reset: -60, tau: 20, spkReset: 'hard' });
    const ref = new LIFRef(100, {
      V_rest: -60,
      V_th: -50,
      V_reset: -60,
      tau: 20,
      tau_ref: 5,
      spkReset: 'hard',
    });
    initAllStates(lif);
    initAllStates(ref);
    const x = tf.fill([100], 20);
    const p1 = makeIR((I: tf.Tensor) => lif.call(I))(x);
    const p2 = environ.context({ t: 1 }, () => makeIR((I: tf.Tensor) => ref.call(I))(x));
    expect(p1.equations.length).toBeLessThanOrEqual(11);
    // the time t is a program input (environ.scalar), so a jitted step replays at every t: two
    // more kernels (t − window, broadcast of t) than with t baked in as a number
    expect(p2.equations.length).toBeLessThanOrEqual(18);
    expect(p2.annotationsOf('environInput').map((a) => a.data.key)).toEqual(['t']);
    x.dispose();
    disposeGraph(lif);
    disposeGraph(ref);
  });
});
