/**
 * Synapse models against their closed forms: Expon decay and jump timing, the Alpha function,
 * DualExpon's unit peak and both-branch delta inputs, AMPA's transmitter window, and the
 * Tsodyks–Markram fixed point of STP/STD under periodic spikes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf';
import * as environ from '../../src/environ';
import { ArgumentError, KeyNotFoundError, StateError } from '../../src/errors';
import { initAllStates } from '../../src/graph';
import {
  AMPA,
  Alpha,
  DualExpon,
  Expon,
  GABAa,
  STD,
  STP,
  Synapse,
  dualExponPeakFactor,
} from '../../src/nn/synapses';
import { checkNoTensorLeaks, disposeGraph } from '../graph/fixtures';

checkNoTensorLeaks();

beforeAll(() => environ.set({ dt: 0.1 }));
afterAll(() => environ.reset());

/** Step `syn` n times (each step in tf.tidy, as a loop transform would) and record fn(syn) after each. */
function run<S extends Synapse, R>(
  syn: S,
  n: number,
  input: (k: number) => tf.Tensor | number | undefined,
  read: (s: S) => R,
): R[] {
  const out: R[] = [];
  for (let k = 0; k < n; k++) {
    tf.tidy(() => {
      (syn as Synapse).call(input(k));
    });
    out.push(read(syn));
  }
  return out;
}

const first = (t: tf.Tensor): number => t.dataSync()[0];

describe('Expon', () => {
  it('decays exactly as g0·exp(−t/τ) (bit-exact float32 chain, closed form to 1e-6 relative)', () => {
    const syn = new Expon(3, { tau: 5 });
    initAllStates(syn);
    const gs = run(
      syn,
      301,
      (k) => (k === 0 ? 1 : undefined),
      (s) => first(s.g.value),
    );
    const e = Math.fround(Math.exp(-0.1 / 5));
    let chain = 1;
    for (let k = 0; k <= 300; k++) {
      expect(gs[k]).toBe(chain); // the float32 product, step by step
      expect(Math.abs(gs[k] - Math.exp((-k * 0.1) / 5)) / Math.exp((-k * 0.1) / 5)).toBeLessThan(
        1e-5,
      );
      chain = Math.fround(chain * e);
    }
    disposeGraph(syn);
  });

  it('adds delta inputs and x after the decay, in the step they are given', () => {
    const syn = new Expon(2, { tau: 8 });
    initAllStates(syn);
    const gs = run(
      syn,
      6,
      (k) => {
        if (k === 3) syn.addDeltaInput('p', tf.tensor([0.5, 2]));
        return k === 3 ? 1 : undefined;
      },
      (s) => Array.from(s.g.value.dataSync()),
    );
    expect(gs.slice(0, 3)).toEqual([
      [0, 0],
      [0, 0],
      [0, 0],
    ]);
    expect(gs[3]).toEqual([1.5, 3]);
    const e = Math.exp(-0.1 / 8);
    expect(gs[4][0]).toBeCloseTo(1.5 * e, 6);
    expect(gs[5][1]).toBeCloseTo(3 * e * e, 6);
    disposeGraph(syn);
  });

  it('integrates current inputs exactly: g → I(1 − e^{−t/τ}); batch axis first', () => {
    const syn = new Expon(3, { tau: 2 });
    initAllStates(syn, { batchSize: 4 });
    expect(syn.g.shape).toEqual([4, 3]);
    syn.addCurrentInput('drive', () => 2);
    const gs = run(
      syn,
      50,
      () => undefined,
      (s) => s.g.value.dataSync()[5],
    );
    for (let k = 0; k < 50; k++)
      expect(gs[k]).toBeCloseTo(2 * (1 - Math.exp((-(k + 1) * 0.1) / 2)), 5);
    disposeGraph(syn);
  });

  it('rises under constant spike input and keeps its shape (spec §10 item 37)', () => {
    const syn = new Expon(5);
    initAllStates(syn, { batchSize: 2 });
    const gs = run(
      syn,
      10,
      () => 0.1,
      (s) => first(s.g.value),
    );
    for (let k = 1; k < 10; k++) expect(gs[k]).toBeGreaterThan(gs[k - 1]);
    expect(syn.g.shape).toEqual([2, 5]);
    expect(syn.g.dtype).toBe('float32');
    disposeGraph(syn);
  });

  it('says to initialise first, and rejects bad time constants', () => {
    expect(() => new Expon(3).update()).toThrow(StateError);
    expect(() => new Expon(3).update()).toThrow(/initAllStates/);
    expect(() => new Expon(3, { tau: 0 })).toThrow(ArgumentError);
    expect(() => new Expon(3, { tau: -1 })).toThrow(/tau must be a positive number \(ms\)/);
  });

  it('initialising again keeps the state objects (new batch size) and frees the old tensors', () => {
    const syn = new AMPA(3);
    initAllStates(syn);
    const [g, arrival] = [syn.g, syn.spikeArrival];
    const n = tf.memory().numTensors;
    initAllStates(syn, { batchSize: 5 });
    expect(syn.g).toBe(g);
    expect(syn.spikeArrival).toBe(arrival);
    expect(syn.g.shape).toEqual([5, 3]);
    expect(tf.memory().numTensors).toBe(n);
    disposeGraph(syn);
  });

  it('resetState restores the initial value, with a new batch size', () => {
    const syn = new Expon(3, { gInitializer: 0.5 });
    initAllStates(syn);
    syn.call(1);
    expect(first(syn.g.value)).toBeCloseTo(0.5 * Math.exp(-0.1 / 8) + 1, 6);
    syn.resetState({ batchSize: 2 });
    expect(syn.g.shape).toEqual([2, 3]);
    expect(Array.from(syn.g.value.dataSync())).toEqual([0.5, 0.5, 0.5, 0.5, 0.5, 0.5]);
    disposeGraph(syn);
    const arr = new Expon(3, { gInitializer: [1, 2, 3] });
    initAllStates(arr, { batchSize: 2 });
    expect(Array.from(arr.g.value.dataSync())).toEqual([1, 2, 3, 1, 2, 3]);
    disposeGraph(arr);
    expect(() => initAllStates(new Expon(3, { gInitializer: 'zero' as never }))).toThrow(
      /Expon\.g: the initializer must be a number, a tensor, a number array/,
    );
  });
});

describe('Alpha', () => {
  it('a unit jump gives g(t) = (t/τ)·e^{−t/τ}, peak 1/e at t = τ', () => {
    const tau = 8;
    const syn = new Alpha(2, { tau });
    initAllStates(syn);
    const gs = run(
      syn,
      400,
      (k) => (k === 0 ? 1 : undefined),
      (s) => first(s.g.value),
    );
    for (let k = 0; k < 400; k++) {
      const t = k * 0.1;
      expect(gs[k]).toBeCloseTo((t / tau) * Math.exp(-t / tau), 6);
    }
    const peak = gs.indexOf(Math.max(...gs));
    expect(peak).toBe(80); // t = τ
    expect(gs[peak]).toBeCloseTo(1 / Math.E, 6);
    disposeGraph(syn);
  });

  it('delta inputs jump h, not g', () => {
    const syn = new Alpha(1);
    initAllStates(syn);
    syn.addDeltaInput('p', 2);
    syn.call();
    expect(first(syn.h.value)).toBe(2);
    expect(first(syn.g.value)).toBe(0);
    disposeGraph(syn);
  });
});

describe('DualExpon', () => {
  it('the default A gives a unit peak; the response is A(e^{−t/τd} − e^{−t/τr})', () => {
    environ.context({ dt: 0.01 }, () => {
      const syn = new DualExpon(2, { tau_decay: 10, tau_rise: 1 });
      initAllStates(syn);
      expect(syn.A).toBeCloseTo(dualExponPeakFactor(10, 1), 12);
      const outs: number[] = [];
      for (let k = 0; k < 600; k++) {
        tf.tidy(() => {
          outs.push(first(syn.call(k === 0 ? 1 : undefined)));
        });
      }
      for (let k = 0; k < 600; k++) {
        const t = k * 0.01;
        // float32: each branch is a chain of k products, so allow a few 1e-6
        expect(Math.abs(outs[k] - syn.A * (Math.exp(-t / 10) - Math.exp(-t / 1)))).toBeLessThan(
          2e-5,
        );
      }
      const tPeak = ((1 * 10) / (10 - 1)) * Math.log(10);
      const kPeak = outs.indexOf(Math.max(...outs));
      expect(Math.abs(kPeak * 0.01 - tPeak)).toBeLessThanOrEqual(0.01);
      expect(Math.max(...outs)).toBeCloseTo(1, 4);
      expect(Math.max(...outs)).toBeLessThanOrEqual(1 + 1e-6);
      disposeGraph(syn);
    });
  });

  it('delta inputs reach BOTH g_rise and g_decay (the upstream bug fixed), so a spike gives a positive response', () => {
    const syn = new DualExpon(3);
    initAllStates(syn);
    const jump = tf.tensor([1, 2, 3]);
    syn.addDeltaInput('p', jump);
    tf.dispose(syn.call()); // the output is a new tensor the caller owns
    jump.dispose(); // consumed inputs belong to whoever made them (a step's tf.tidy in a simulation)
    expect(Array.from(syn.g_rise.value.dataSync())).toEqual([1, 2, 3]);
    expect(Array.from(syn.g_decay.value.dataSync())).toEqual([1, 2, 3]);
    const out = tf.tidy(() => syn.call().dataSync());
    expect(Array.from(out).every((v) => v > 0)).toBe(true);
    disposeGraph(syn);
  });

  it('rejects tau_rise ≥ tau_decay', () => {
    expect(() => new DualExpon(1, { tau_rise: 5, tau_decay: 5 })).toThrow(/smaller than tau_decay/);
  });
});

describe('AMPA and GABAa', () => {
  it('the transmitter is present for round(T_dur/dt) steps after a spike; each step is exact', () => {
    const syn = new AMPA(2); // α 0.98, β 0.18, T 0.5, T_dur 0.5 ms
    initAllStates(syn);
    const dt = 0.1;
    const spikeAt = 3;
    const gs: number[] = [];
    for (let k = 0; k < 40; k++) {
      environ.context({ t: k * dt }, () =>
        tf.tidy(() => {
          syn.call(tf.tensor([k === spikeAt ? 1 : 0, 0]));
        }),
      );
      gs.push(first(syn.g.value));
    }
    const rate = 0.98 * 0.5 + 0.18;
    const gInf = (0.98 * 0.5) / rate;
    let g = 0;
    const expected: number[] = [];
    for (let k = 0; k < 40; k++) {
      const on = k >= spikeAt && k < spikeAt + 5;
      g = on ? gInf + (g - gInf) * Math.exp(-rate * dt) : g * Math.exp(-0.18 * dt);
      expected.push(g);
    }
    for (let k = 0; k < 40; k++) expect(gs[k]).toBeCloseTo(expected[k], 6);
    expect(gs[spikeAt - 1]).toBe(0);
    expect(gs[spikeAt]).toBeGreaterThan(0);
    disposeGraph(syn);
  });

  it('works at large t (float32 spike times) and GABAa has its own defaults', () => {
    const syn = new GABAa(1); // T_dur 1 ms → 10 steps
    expect([syn.alpha, syn.beta, syn.T, syn.T_dur]).toEqual([0.53, 0.18, 1, 1]);
    initAllStates(syn);
    const t0 = 98765.4;
    let rising = 0;
    let prev = 0;
    for (let k = 0; k < 20; k++) {
      environ.context({ t: t0 + k * 0.1 }, () => tf.tidy(() => void syn.call(k === 0 ? 1 : 0)));
      const g = first(syn.g.value);
      if (g > prev) rising++;
      prev = g;
    }
    expect(rising).toBe(10);
    disposeGraph(syn);
  });

  it('needs environ t and the spikes', () => {
    const syn = new AMPA(1);
    initAllStates(syn);
    expect(() => syn.call(1)).toThrow(KeyNotFoundError);
    expect(() => syn.call(1)).toThrow(/AMPA.*environ 't'/);
    expect(() => environ.context({ t: 0 }, () => syn.call())).toThrow(
      /presynaptic spikes are required/,
    );
    disposeGraph(syn);
  });
});

describe('STP and STD', () => {
  // three synapses with inter-spike intervals of 10, 25 and 40 ms (dt = 1 ms)
  const isi = [10, 25, 40];
  const steps = 4000;
  function periodic(k: number): tf.Tensor {
    return tf.tensor(isi.map((p) => (k % p === 0 ? 1 : 0)));
  }
  /** The efficacy of the last spike of each synapse. */
  function lastEfficacy(syn: STP | STD): number[] {
    const last = [0, 0, 0];
    environ.context({ dt: 1 }, () => {
      for (let k = 0; k < steps; k++) {
        tf.tidy(() => {
          const out = syn.call(periodic(k)).dataSync();
          isi.forEach((p, i) => {
            if (k % p === 0) last[i] = out[i];
          });
        });
      }
    });
    return last;
  }

  it('STP converges to the Tsodyks–Markram fixed point u⁺*·x⁻*', () => {
    const U = 0.15;
    const tau_f = 1500;
    const tau_d = 200;
    const syn = new STP(3, { U, tau_f, tau_d });
    initAllStates(syn);
    const got = lastEfficacy(syn);
    isi.forEach((d, i) => {
      const uStar = U / (1 - (1 - U) * Math.exp(-d / tau_f));
      const xStar = (1 - Math.exp(-d / tau_d)) / (1 - (1 - uStar) * Math.exp(-d / tau_d));
      expect(Math.abs(got[i] - uStar * xStar) / (uStar * xStar)).toBeLessThan(2e-5);
    });
    // facilitation dominates at short intervals with these parameters
    expect(got[0]).toBeGreaterThan(U * 0.1);
    disposeGraph(syn);
  });

  it('STD converges to x⁻* = (1 − e^{−Δ/τ}) / (1 − (1 − U)e^{−Δ/τ})', () => {
    const U = 0.07;
    const tau = 200;
    const syn = new STD(3, { U, tau });
    initAllStates(syn);
    const got = lastEfficacy(syn);
    isi.forEach((d, i) => {
      const e = Math.exp(-d / tau);
      const xStar = (1 - e) / (1 - (1 - U) * e);
      expect(Math.abs(got[i] - xStar) / xStar).toBeLessThan(2e-5);
    });
    disposeGraph(syn);
  });

  it('the first spike has efficacy U (STP from rest) and 1 (STD); no spike → 0', () => {
    const stp = new STP(2, { U: 0.2 });
    const std = new STD(2);
    initAllStates(stp);
    initAllStates(std);
    const a = tf.tidy(() => Array.from(stp.call(tf.tensor([true, false])).dataSync()));
    // u starts at U (spec), decays one step, then jumps: u⁺ = U e + U(1 − U e)
    const e = Math.exp(-0.1 / 1500);
    expect(a[0]).toBeCloseTo(0.2 * e + 0.2 * (1 - 0.2 * e), 6);
    expect(a[1]).toBe(0);
    const b = tf.tidy(() => Array.from(std.call(tf.tensor([1, 0])).dataSync()));
    expect(b).toEqual([1, 0]);
    expect(Array.from(std.x.value.dataSync())[0]).toBeCloseTo(0.93, 6);
    expect(() => stp.call()).toThrow(/presynaptic spikes are required/);
    expect(() => new STP(1, { U: 1.5 })).toThrow(/U must be in \(0, 1\]/);
    disposeGraph([stp, std]);
  });
});
