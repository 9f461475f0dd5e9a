/** Input generators (spec §5.12): Poisson rates, PoissonInput vs Binomial, DC timing, sections. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf';
import * as environ from '../../src/environ';
import { ArgumentError } from '../../src/errors';
import {
  DCGenerator,
  PoissonEncoder,
  PoissonInput,
  PoissonSpike,
  binomialCounts,
  constantInput,
  sectionInput,
} from '../../src/nn/inputs';
import * as random from '../../src/random';
import { HiddenState, State } from '../../src/state';
import { ToyLIF } from './runnerFixtures';

function mean(x: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i];
  return s / x.length;
}
function variance(x: ArrayLike<number>): number {
  const m = mean(x);
  let s = 0;
  for (let i = 0; i < x.length; i++) s += (x[i] - m) ** 2;
  return s / (x.length - 1);
}

/** Sum the spikes of `steps` calls (host side), disposing each step. */
function countSpikes(step: () => tf.Tensor, steps: number, size: number): Float64Array {
  const counts = new Float64Array(size);
  for (let k = 0; k < steps; k++) {
    const s = tf.tidy(() => tf.clone(step())); // the spikes may be a state's own tensor
    const d = s.dataSync();
    for (let j = 0; j < size; j++) counts[j] += Number(d[j]);
    s.dispose();
  }
  return counts;
}

beforeEach(() => {
  environ.set({ dt: 0.1 });
  random.seed(1234);
});
afterEach(() => environ.set({ dt: 0.1 }));

describe('PoissonSpike', () => {
  it('fires at freq·dt per step (within 5 σ), per neuron rates, 0 Hz never fires', () => {
    const n = 3000;
    const freqs = Array.from({ length: n }, (_, j) => (j < 1000 ? 0 : j < 2000 ? 20 : 200));
    const gen = new PoissonSpike(n, freqs);
    const steps = 1000; // 100 ms
    const before = tf.memory().numTensors;
    const counts = countSpikes(() => gen.call(), steps, n);
    expect(tf.memory().numTensors).toBe(before);
    const sum = (a: number, b: number) => counts.slice(a, b).reduce((x, y) => x + y, 0);
    expect(sum(0, 1000)).toBe(0);
    for (const [lo, hi, f] of [
      [1000, 2000, 20],
      [2000, 3000, 200],
    ] as const) {
      const p = (f * 0.1) / 1000;
      const expected = 1000 * steps * p;
      const sd = Math.sqrt(1000 * steps * p * (1 - p));
      expect(Math.abs(sum(lo, hi) - expected)).toBeLessThan(5 * sd);
    }
    expect(gen.spike.value.dtype).toBe('float32');
  });

  it('bool spikes, batch states, and validation naming the module', () => {
    const gen = new PoissonSpike([2, 3], 10_000, { spkType: 'bool', name: 'noise' });
    gen.initState({ batchSize: 4 });
    const s = gen.call();
    expect(s.dtype).toBe('bool');
    expect(s.shape).toEqual([4, 2, 3]);
    expect(Array.from(s.dataSync())).toEqual(new Array(24).fill(1)); // p = 10 kHz × 0.1 ms = 1
  });

  it('rejects negative rates and rates above one spike per step', () => {
    expect(() => new PoissonSpike(3, -1, { name: 'p' })).toThrow(ArgumentError);
    expect(() => new PoissonSpike(3, [1, -2, 3], { name: 'p' })).toThrow(
      /PoissonSpike\(name='p'\): freqs must be finite and ≥ 0 Hz, got -2/,
    );
    const fast = new PoissonSpike(3, 20_000, { name: 'fast' });
    expect(() => tf.tidy(() => fast.call())).toThrow(/PoissonSpike\(name='fast'\).*more than 1/);
  });
});

describe('PoissonEncoder', () => {
  it('encodes rates given per call, with a batch axis', () => {
    const enc = new PoissonEncoder(500);
    const rates = tf.tensor2d([new Array(500).fill(100), new Array(500).fill(0)]);
    let total0 = 0;
    let total1 = 0;
    for (let k = 0; k < 200; k++) {
      const s = enc.call(rates);
      expect(s.shape).toEqual([2, 500]);
      const d = s.dataSync();
      for (let j = 0; j < 500; j++) {
        total0 += d[j];
        total1 += d[500 + j];
      }
      s.dispose();
    }
    rates.dispose();
    const p = 0.01;
    const expected = 500 * 200 * p;
    expect(Math.abs(total0 - expected)).toBeLessThan(5 * Math.sqrt(expected * (1 - p)));
    expect(total1).toBe(0);
    expect(() => enc.call(-5)).toThrow(/PoissonEncoder: freqs must be finite and ≥ 0 Hz/);
  });
});

describe('PoissonInput', () => {
  /** One step of PoissonInput on a zero target of n elements: the increments. */
  function increments(numInput: number, freq: number, weight: number, n = 20_000): Float32Array {
    const target = new HiddenState(tf.zeros([n]));
    const inp = new PoissonInput({ target, numInput, freq, weight });
    inp.call();
    const out = Float32Array.from(target.value.dataSync() as Float32Array);
    target.dispose();
    return out;
  }

  it.each([
    ['exact, small n·p', 10, 100, 0.5], // p = 0.01, n·p = 0.1
    ['exact, large p', 20, 9000, 1], // p = 0.9, n·(1−p) = 2
    ['normal approximation', 10_000, 50, 0.25], // p = 0.005, n·p = 50
  ])('%s: mean and variance match weight·Binomial(n, p)', (_label, n, freq, w) => {
    const p = (freq * 0.1) / 1000;
    const x = increments(n, freq, w);
    const m = w * n * p;
    const v = w * w * n * p * (1 - p);
    expect(Math.abs(mean(x) - m)).toBeLessThan(5 * Math.sqrt(v / x.length));
    // the sample variance of 20 000 draws is within ~5 % (the upstream bug gives n·p·(1−p) times more)
    expect(variance(x) / v).toBeGreaterThan(0.93);
    expect(variance(x) / v).toBeLessThan(1.07);
  });

  it('exact branch: P(k = 0) = (1 − p)^n and counts are integers in [0, n]', () => {
    const n = 50;
    const p = 0.02;
    const k = binomialCounts(n, p, [50_000]);
    const d = k.dataSync();
    k.dispose();
    let zeros = 0;
    let bad = 0;
    for (const v of d) {
      if (!(Number.isInteger(v) && v >= 0 && v <= n)) bad++;
      if (v === 0) zeros++;
    }
    expect(bad).toBe(0);
    const p0 = (1 - p) ** n;
    expect(Math.abs(zeros / d.length - p0)).toBeLessThan(5 * Math.sqrt((p0 * (1 - p0)) / d.length));
  });

  it('targets [module, attribute] resolved after init, indices and refractory', () => {
    const neu = new ToyLIF(6);
    const inp = new PoissonInput({
      target: [neu, 'V'],
      numInput: 100,
      freq: 10_000,
      weight: 2,
      indices: [1, 4],
    });
    expect(() => inp.call()).toThrow(/ToyLIF\.V is null.*initAllStates/);
    neu.initState();
    const refr = new State(tf.tensor([false, false, false, false, true, false]));
    const inp2 = new PoissonInput({
      target: [neu, 'V'],
      numInput: 100,
      freq: 10_000,
      weight: 2,
      refractory: refr,
    });
    inp.call(); // p = 1: exactly 100 inputs to elements 1 and 4
    expect(Array.from(neu.V!.value.dataSync())).toEqual([0, 200, 0, 0, 200, 0]);
    inp2.call(); // everyone but the refractory element 4 gets 200
    expect(Array.from(neu.V!.value.dataSync())).toEqual([200, 400, 200, 200, 200, 200]);
    refr.dispose();
  });

  it('is not a parent of its target in the module graph', () => {
    const neu = new ToyLIF(3);
    neu.initState();
    const inp = new PoissonInput({ target: [neu, 'V'], numInput: 1, freq: 1, weight: 1 });
    expect(inp.states().size).toBe(0);
  });

  it('bad arguments are ArgumentErrors naming the module', () => {
    const target = new HiddenState(tf.zeros([2]));
    expect(
      () => new PoissonInput({ target, numInput: 10, freq: -1, weight: 1, name: 'bg' }),
    ).toThrow(/PoissonInput\(name='bg'\): freq must be finite and ≥ 0 Hz/);
    expect(() => new PoissonInput({ target, numInput: 2.5, freq: 1, weight: 1 })).toThrow(
      ArgumentError,
    );
    expect(
      () => new PoissonInput({ target: 'V' as never, numInput: 2, freq: 1, weight: 1 }),
    ).toThrow(/target must be a State or a \[module, 'attribute'\] pair/);
    const tooFast = new PoissonInput({ target, numInput: 2, freq: 20_000, weight: 1 });
    expect(() => tooFast.call()).toThrow(/more than 1/);
    target.dispose();
  });
});

describe('DCGenerator', () => {
  it('is on exactly for start ≤ t < stop (seed 001: 50, 0.5–1.5 ms at dt 0.1)', () => {
    const dc = new DCGenerator(3, { amplitude: 50, start: 0.5, stop: 1.5 });
    const on: number[] = [];
    for (let i = 0; i < 25; i++) {
      const t = i * 0.1;
      const v = environ.context({ t, i }, () => dc.call());
      const d = Array.from(v.dataSync());
      v.dispose();
      expect(d[0] === d[1] && d[1] === d[2]).toBe(true);
      if (d[0] !== 0) {
        expect(d[0]).toBe(50);
        on.push(i);
      }
    }
    expect(on).toEqual([5, 6, 7, 8, 9, 10, 11, 12, 13, 14]);
  });

  it('per-neuron amplitudes, default window, and errors naming the module', () => {
    const dc = new DCGenerator(2, { amplitude: [1, -2] });
    const v = environ.context({ t: 1e6 }, () => dc.call());
    expect(Array.from(v.dataSync())).toEqual([1, -2]);
    v.dispose();
    expect(() => new DCGenerator(2, { amplitude: 1, start: 2, stop: 1, name: 'dc' })).toThrow(
      /DCGenerator\(name='dc'\): stop \(1 ms\) must not be before start \(2 ms\)/,
    );
    expect(() => new DCGenerator(2, { amplitude: NaN })).toThrow(ArgumentError);
    expect(() => new DCGenerator(2, { amplitude: [1, 2, 3] })).toThrow();
  });
});

describe('sectionInput / constantInput', () => {
  it('concatenates constant segments of round(duration/dt) steps', () => {
    const I = sectionInput([0, 1, 2], [1, 2, 0.5]);
    expect(I.shape).toEqual([35]);
    const d = Array.from(I.dataSync());
    expect(d.slice(0, 10).every((x) => x === 0)).toBe(true);
    expect(d.slice(10, 30).every((x) => x === 1)).toBe(true);
    expect(d.slice(30).every((x) => x === 2)).toBe(true);
    I.dispose();
    const V = sectionInput([[0, 1, 2], 5], [0.2, 0.3], { dt: 0.1 });
    expect(V.shape).toEqual([5, 3]);
    expect(Array.from(V.dataSync())).toEqual([0, 1, 2, 0, 1, 2, 5, 5, 5, 5, 5, 5, 5, 5, 5]);
    V.dispose();
  });

  it('constantInput returns the current and the total duration', () => {
    const [I, total] = constantInput([
      [0, 5],
      [10, 20],
      [0, 5],
    ]);
    expect(total).toBe(30);
    expect(I.shape).toEqual([300]);
    expect(I.dataSync()[100]).toBe(10);
    I.dispose();
  });

  it('rejects mismatched lengths and negative durations', () => {
    const before = tf.memory().numTensors;
    expect(() => sectionInput([1, 2], [1])).toThrow(/2 values and 1 durations/);
    expect(() => sectionInput([1], [-1])).toThrow(/duration 0 must be a finite number of ms ≥ 0/);
    expect(() => constantInput([[1, 1, 1] as never])).toThrow(ArgumentError);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('DCGenerator on a program-input time', () => {
  it('switches on exactly the steps isOn says, for start/stop on and off the grid and large t', () => {
    for (const [start, stop, dt] of [
      [0.5, 1.5, 0.1],
      [0.46, 1.04, 0.1],
      [500, 500.3, 0.1],
      [0.25, 0.25, 0.05],
      [12.3, Infinity, 0.01],
    ] as const) {
      environ.set({ dt });
      const dc = new DCGenerator(2, { amplitude: [3, -4], start, stop });
      const from = Math.max(0, Math.floor(start / dt) - 3);
      for (let k = from; k < from + 40; k++) {
        const t = k * dt;
        const y = environ.context({ t }, () => dc.update());
        const on = dc.isOn(t, dt);
        expect(Array.from(y.dataSync())).toEqual(on ? [3, -4] : [0, 0]);
        y.dispose();
      }
      dc.amplitude.dispose();
    }
  });
});
