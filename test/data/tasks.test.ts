/**
 * The synthetic tasks: determinism per seed, independent test stream, shapes and dtypes,
 * balanced labels, the evidence label = the majority of the generated cues, match-to-sample
 * labels and tuning, copying targets, option errors, and no tensor leaks.
 */
import { describe, expect, test } from 'vitest';
import { tf } from '../../src/backend/tf';
import {
  CopyingTask,
  DelayedMatchToSample,
  EvidenceAccumulation,
  type EvidenceAccumulationOptions,
} from '../../src/data';
import { ArgumentError } from '../../src/errors';
import { checkNoTensorLeaks } from '../graph/fixtures';
import { at, count, hostBatch, type HostBatch } from './helpers';

checkNoTensorLeaks();

/** A short evidence task: 7 cues of 5 steps after gaps of 3, delay 20, recall 10 (T = 86). */
const SHORT: EvidenceAccumulationOptions = {
  cueSteps: 5,
  gapSteps: 3,
  delaySteps: 20,
  recallSteps: 10,
  cuePopulation: 4,
  recallPopulation: 3,
  noisePopulation: 2,
};

const sum = (a: ArrayLike<number>): number => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i];
  return s;
};

describe('all tasks', () => {
  const tasks = {
    evidence: (seed: number) => new EvidenceAccumulation({ ...SHORT, seed }),
    dmts: (seed: number) =>
      new DelayedMatchToSample({
        seed,
        nInputs: 16,
        fixationSteps: 2,
        sampleSteps: 8,
        delaySteps: 10,
        testSteps: 8,
      }),
    copying: (seed: number) => new CopyingTask({ seed, copyLength: 4, delaySteps: 6 }),
  };

  for (const [name, make] of Object.entries(tasks)) {
    test(`${name}: shapes and dtypes, the same data for a seed, other data for another seed`, () => {
      const task = make(1);
      const b = task.batch(5);
      expect(b.x.shape).toEqual([task.T, 5, task.nIn]);
      expect(b.x.dtype).toBe('float32');
      expect(b.y.dtype).toBe('int32');
      if (name === 'copying') expect(b.y.shape).toEqual([4, 5]);
      else expect(b.y.shape).toEqual([5]);
      const first = hostBatch(b);
      const second = hostBatch(task.batch(5));
      expect(second.x).not.toEqual(first.x); // the stream advances
      const again = make(1);
      expect(hostBatch(again.batch(5))).toEqual(first);
      expect(hostBatch(again.batch(5))).toEqual(second);
      expect(hostBatch(make(2).batch(5)).x).not.toEqual(first.x);
      for (const v of first.x) expect(v === 0 || v === 1).toBe(true);
    });

    test(`${name}: the test set is fixed, prefix-stable and apart from the training stream`, () => {
      const task = make(3);
      const t1 = hostBatch(task.testSet(6));
      hostBatch(task.batch(6));
      const t2 = hostBatch(task.testSet(6));
      expect(t2).toEqual(t1);
      expect(hostBatch(make(3).testSet(6))).toEqual(t1);
      const t3 = hostBatch(task.testSet(3));
      const trials = (h: HostBatch, n: number): number[] => {
        const out: number[] = [];
        for (let t = 0; t < task.T; t++)
          for (let b = 0; b < n; b++) for (let i = 0; i < task.nIn; i++) out.push(at(h, t, b, i));
        return out;
      };
      expect(trials(t3, 3)).toEqual(trials(t1, 3));
      expect(hostBatch(make(3).batch(6)).x).not.toEqual(t1.x);
    });

    test(`${name}: batches() yields the asked number of batches lazily`, () => {
      const task = make(4);
      let n = 0;
      for (const b of task.batches(2, 3)) {
        expect(b.x.shape[1]).toBe(2);
        hostBatch(b);
        n++;
      }
      expect(n).toBe(3);
      expect([...task.batches(2, 0)]).toEqual([]);
      const endless = task.batches(1);
      for (let i = 0; i < 5; i++) hostBatch(endless.next().value as never);
      expect(() => task.batch(0)).toThrow(ArgumentError);
      expect(() => task.batch(1.5)).toThrow(/batchSize must be an integer ≥ 1, got 1.5/);
      expect(() => task.testSet(-1)).toThrow(ArgumentError);
      expect(() => [...task.batches(2, -1)]).toThrow(/nBatches/);
    });
  }
});

describe('EvidenceAccumulation', () => {
  test('defaults: the reference task (2200 steps, 100 inputs), the response window is the recall', () => {
    const task = new EvidenceAccumulation();
    expect([task.T, task.nIn, task.nOut]).toEqual([2200, 100, 2]);
    expect(task.responseWindow).toEqual([2050, 2200]);
    expect(task.cueStart(0)).toBe(50);
    expect(task.cueStart(6)).toBe(950);
    const short = new EvidenceAccumulation({
      cueSteps: 10,
      gapSteps: 5,
      delaySteps: 50,
      recallSteps: 20,
    });
    expect(short.T).toBe(175);
  });

  test('the label is the majority side of the generated cues; spikes follow the cue windows', () => {
    const task = new EvidenceAccumulation({ ...SHORT, seed: 7, cueRate: 400, recallRate: 300 });
    const B = 64;
    const batch = task.testSet(B);
    const sides = batch.cues;
    const h = hostBatch(batch);
    const one = task.testSet(1);
    expect(one.cues).toEqual(sides.slice(0, 7)); // the test set is prefix-stable
    hostBatch(one);
    const [recallStart, T] = task.responseWindow;
    const nc = 4;
    let minority = 0;
    for (let b = 0; b < B; b++) {
      const right = sum(sides.slice(b * 7, b * 7 + 7));
      expect(h.y[b]).toBe(right > 3.5 ? 1 : 0);
      minority += Math.min(right, 7 - right);
      for (let k = 0; k < 7; k++) {
        const t0 = task.cueStart(k);
        const side = sides[b * 7 + k];
        const active = count(h, b, t0, t0 + 5, side * nc, side * nc + nc);
        const silent = count(h, b, t0, t0 + 5, (1 - side) * nc, (1 - side) * nc + nc);
        expect(active).toBeGreaterThan(0);
        expect(silent).toBe(0);
        expect(count(h, b, t0 - 3, t0, 0, 2 * nc)).toBe(0); // gaps are silent
      }
      expect(count(h, b, task.cueStart(6) + 5, T, 0, 2 * nc)).toBe(0); // no cue after the last
      expect(count(h, b, 0, recallStart, 2 * nc, 2 * nc + 3)).toBe(0); // recall only at recall
      expect(count(h, b, recallStart, T, 2 * nc, 2 * nc + 3)).toBeGreaterThan(0);
    }
    // Minority cues: a 0.3 chance per cue (about 2.1 of 7), counted as the smaller side.
    expect(minority / B).toBeGreaterThan(1.3);
    expect(minority / B).toBeLessThan(2.4);
  });

  test('labels are balanced, and spike rates match rate·dt', () => {
    const task = new EvidenceAccumulation({
      ...SHORT,
      seed: 11,
      cueRate: 100,
      noiseRate: 50,
      dt: 2,
    });
    const n = 1000;
    const batch = task.testSet(n);
    const h = hostBatch(batch);
    const ones = sum(h.y) / n;
    expect(ones).toBeGreaterThan(0.45);
    expect(ones).toBeLessThan(0.55);
    // noise: p = 50 Hz · 2 ms = 0.1 per step, over all T steps of 2 neurons.
    let noise = 0;
    for (let b = 0; b < n; b++) noise += count(h, b, 0, task.T, 11, 13);
    expect(noise / (n * task.T * 2)).toBeCloseTo(0.1, 2);
    // cue: p = 0.2 on the active side during 7 × 5 steps × 4 neurons.
    let cue = 0;
    for (let b = 0; b < n; b++) cue += count(h, b, 0, task.cueStart(6) + 5, 0, 8);
    expect(cue / (n * 7 * 5 * 4)).toBeCloseTo(0.2, 2);
  });

  test('the same data on every backend (a golden checksum)', () => {
    const h = hostBatch(new EvidenceAccumulation({ ...SHORT, seed: 5 }).testSet(8));
    expect(Array.from(h.y)).toEqual(GOLDEN_EVIDENCE.y);
    let positions = 0; // the sum of the flat indices of the spikes
    h.x.forEach((v, i) => (positions += v * i));
    expect([sum(h.x), positions]).toEqual(GOLDEN_EVIDENCE.spikes);
  });

  test('bad options are ArgumentErrors that name the option', () => {
    const bad: [EvidenceAccumulationOptions, RegExp][] = [
      [{ nCues: 6 }, /nCues must be odd/],
      [{ nCues: 0 }, /nCues must be an integer ≥ 1, got 0/],
      [{ cueSteps: 2.5 }, /cueSteps must be an integer ≥ 1/],
      [{ delaySteps: -1 }, /delaySteps must be an integer ≥ 0/],
      [{ cueRate: -5 }, /cueRate must be a finite number ≥ 0, got -5/],
      [{ noiseRate: 2000 }, /noiseRate · dt = 2000 Hz × 1 ms = 2 spikes per step is more than 1/],
      [{ minorityCueProb: 1.5 }, /minorityCueProb must be a probability in \[0, 1\]/],
      [{ dt: 0 }, /dt must be a finite number > 0/],
      [{ seed: 0.5 }, /seed/],
    ];
    for (const [options, message] of bad) {
      expect(() => new EvidenceAccumulation(options)).toThrow(ArgumentError);
      expect(() => new EvidenceAccumulation(options)).toThrow(message);
    }
  });
});

describe('DelayedMatchToSample', () => {
  const make = (seed: number) =>
    new DelayedMatchToSample({
      seed,
      nInputs: 32,
      fixationSteps: 3,
      sampleSteps: 30,
      delaySteps: 10,
      testSteps: 30,
      stimulusRate: 500,
      backgroundRate: 5,
      kappa: 5,
    });

  test('defaults: the reference task (2010 steps), the response window is the test period', () => {
    const task = new DelayedMatchToSample();
    expect([task.T, task.nIn, task.nOut]).toEqual([2010, 100, 2]);
    expect(task.responseWindow).toEqual([1510, 2010]);
  });

  test('label = match; sample and test inputs peak at the preferred neurons of their directions', () => {
    const task = make(2);
    const B = 200;
    const batch = task.testSet(B);
    const { sample, test: probe } = batch;
    const h = hostBatch(batch);
    const circular = (i: number, j: number): number =>
      Math.min(Math.abs(i - j), 32 - Math.abs(i - j));
    const peak = (b: number, t0: number, t1: number): number => {
      // The circular mean of the spikes' preferred angles.
      let sx = 0;
      let sy = 0;
      for (let i = 0; i < 32; i++) {
        const c = count(h, b, t0, t1, i, i + 1);
        sx += c * Math.cos((2 * Math.PI * i) / 32);
        sy += c * Math.sin((2 * Math.PI * i) / 32);
      }
      return ((Math.round((Math.atan2(sy, sx) / (2 * Math.PI)) * 32) % 32) + 32) % 32;
    };
    for (let b = 0; b < B; b++) {
      expect(h.y[b]).toBe(sample[b] === probe[b] ? 1 : 0);
      expect(sample[b]).toBeGreaterThanOrEqual(0);
      expect(sample[b]).toBeLessThan(8);
      expect(circular(peak(b, 3, 33), sample[b] * 4)).toBeLessThanOrEqual(1);
      expect(circular(peak(b, 43, 73), probe[b] * 4)).toBeLessThanOrEqual(1);
    }
    const ones = sum(h.y) / B;
    expect(ones).toBeGreaterThan(0.38);
    expect(ones).toBeLessThan(0.62);
    // the delay carries background only: 5 Hz → 0.005 per step.
    let delay = 0;
    for (let b = 0; b < B; b++) delay += count(h, b, 33, 43, 0, 32);
    expect(delay / (B * 10 * 32)).toBeLessThan(0.01);
  });

  test('labels are balanced over many trials, every direction appears', () => {
    const task = new DelayedMatchToSample({
      seed: 9,
      nInputs: 4,
      fixationSteps: 0,
      sampleSteps: 1,
      delaySteps: 0,
      testSteps: 1,
    });
    const batch = task.testSet(4000);
    const seen = new Set(batch.sample);
    const h = hostBatch(batch);
    expect(seen.size).toBe(8);
    expect(sum(h.y) / 4000).toBeCloseTo(0.5, 1);
  });

  test('bad options are ArgumentErrors', () => {
    expect(() => new DelayedMatchToSample({ nDirections: 1 })).toThrow(
      /nDirections must be an integer ≥ 2/,
    );
    expect(() => new DelayedMatchToSample({ kappa: -1 })).toThrow(ArgumentError);
    expect(() => new DelayedMatchToSample({ stimulusRate: 1000, backgroundRate: 10 })).toThrow(
      /stimulusRate \+ backgroundRate · dt = 1010 Hz × 1 ms/,
    );
    expect(() => new DelayedMatchToSample({ testSteps: 0 })).toThrow(/testSteps/);
  });
});

describe('CopyingTask', () => {
  test('defaults: the reference task (220 steps, 10 symbols)', () => {
    const task = new CopyingTask();
    expect([task.T, task.nIn, task.nOut, task.cueSymbol]).toEqual([220, 10, 10, 9]);
    expect(task.responseWindow).toEqual([210, 220]);
  });

  for (const cue of ['hold', 'once'] as const) {
    test(`inputs are one-hot data | blanks | cue (${cue}); targets are blank, then the data`, () => {
      const task = new CopyingTask({ seed: 4, copyLength: 5, delaySteps: 7, nSymbols: 6, cue });
      const B = 50;
      const batch = task.batch(B);
      expect(batch.targets.shape).toEqual([task.T, B]);
      expect(batch.targets.dtype).toBe('int32');
      const targets = batch.targets.dataSync() as Int32Array;
      const h = hostBatch(batch);
      const symbols = new Set<number>();
      for (let b = 0; b < B; b++) {
        for (let t = 0; t < task.T; t++) {
          expect(count(h, b, t, t + 1, 0, task.nIn)).toBe(1);
          const input = [...Array(task.nIn).keys()].find((i) => at(h, t, b, i) === 1)!;
          if (t < 5) {
            expect(input).toBe(h.y[t * B + b]);
            expect(input).toBeGreaterThanOrEqual(1);
            expect(input).toBeLessThanOrEqual(6);
            symbols.add(input);
          } else if (t < 12) expect(input).toBe(0);
          else expect(input).toBe(cue === 'hold' || t === 12 ? 7 : 0);
          expect(targets[t * B + b]).toBe(t < 12 ? 0 : h.y[(t - 12) * B + b]);
        }
      }
      expect(symbols.size).toBe(6);
    });
  }

  test('bad options are ArgumentErrors', () => {
    expect(() => new CopyingTask({ copyLength: 0 })).toThrow(/copyLength must be an integer ≥ 1/);
    expect(() => new CopyingTask({ nSymbols: 1 })).toThrow(/nSymbols must be an integer ≥ 2/);
    expect(() => new CopyingTask({ cue: 'always' as never })).toThrow(
      /cue must be 'hold' or 'once'/,
    );
  });
});

test('generating and disposing many batches leaks no tensors', () => {
  const before = tf.memory().numTensors;
  const task = new EvidenceAccumulation({ ...SHORT });
  const copy = new CopyingTask({ delaySteps: 3, copyLength: 2 });
  for (let i = 0; i < 50; i++) {
    const b = task.batch(2);
    const c = copy.batch(2);
    tf.dispose([b.x, b.y, c.x, c.y, c.targets]);
  }
  expect(tf.memory().numTensors).toBe(before);
});

const GOLDEN_EVIDENCE = { y: [1, 1, 1, 0, 0, 0, 1, 1], spikes: [63, 261441] };
