/**
 * Learning-rate schedules (spec §8.3): values at several indices against the closed forms,
 * epoch- vs call-based counting, the schedule inside an optimizer, and argument checks.
 */
import { describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf';
import { ArgumentError } from '../../src/errors';
import {
  ConstantLR,
  CosineAnnealingLR,
  CosineAnnealingWarmRestarts,
  ExponentialDecayLR,
  ExponentialLR,
  InverseTimeDecayLR,
  MultiStepLR,
  PiecewiseConstantLR,
  PolynomialDecayLR,
  SGD,
  StepLR,
  WarmupLR,
  type LRScheduler,
} from '../../src/optim';
import { State } from '../../src/state';
import { expectClose, runSteps } from './helpers';

function valuesAt(s: LRScheduler, indices: readonly number[]): number[] {
  return indices.map((i) => s.at(i));
}

const cosine = (lr: number, etaMin: number, x: number) =>
  etaMin + ((lr - etaMin) * (1 + Math.cos(Math.PI * x))) / 2;

describe('schedule values', () => {
  it('ConstantLR, StepLR, MultiStepLR, ExponentialLR', () => {
    expectClose(valuesAt(new ConstantLR({ lr: 0.1 }), [0, 7, 1000]), [0.1, 0.1, 0.1], 'const');
    const step = new StepLR({ lr: 1, stepSize: 3, gamma: 0.5 });
    expectClose(
      valuesAt(step, [0, 1, 2, 3, 5, 6, 7, 30]),
      [1, 1, 1, 0.5, 0.5, 0.25, 0.25, 2 ** -10],
      'StepLR',
    );
    expect(new StepLR({ lr: 2, stepSize: 1 }).at(2)).toBeCloseTo(0.02, 7); // default γ = 0.1
    const multi = new MultiStepLR({ lr: 1, milestones: [2, 5], gamma: 0.1 });
    expectClose(valuesAt(multi, [0, 1, 2, 4, 5, 9]), [1, 1, 0.1, 0.1, 0.01, 0.01], 'MultiStepLR');
    const zeroGamma = new MultiStepLR({ lr: 1, milestones: [1], gamma: 0 });
    expectClose(valuesAt(zeroGamma, [0, 1]), [1, 0], 'γ = 0 (0^0 = 1)');
    const expo = new ExponentialLR({ lr: 2, gamma: 0.9 });
    expectClose(valuesAt(expo, [0, 1, 5, 20]), [2, 1.8, 2 * 0.9 ** 5, 2 * 0.9 ** 20], 'Expo');
  });

  it('CosineAnnealingLR: η_min + (lr − η_min)(1 + cos(π i/T_max))/2', () => {
    const s = new CosineAnnealingLR({ lr: 1, tMax: 10, etaMin: 0.1 });
    const idx = [0, 2, 5, 7, 10, 15];
    expectClose(
      valuesAt(s, idx),
      idx.map((i) => cosine(1, 0.1, i / 10)),
      'cosine',
    );
    expectClose(valuesAt(s, [0, 5, 10]), [1, 0.55, 0.1], 'cosine by hand');
  });

  it('CosineAnnealingWarmRestarts: periods T_0, T_0·T_mult, … (call-based, per-epoch calls)', () => {
    const grow = new CosineAnnealingWarmRestarts({ lr: 1, numCallPerEpoch: 1, t0: 2, tMult: 2 });
    expect(grow.countBy).toBe('call');
    // periods of 2, 4, 8 epochs start at epochs 0, 2, 6, 14
    const starts = [0, 2, 6, 14];
    const periods = [2, 4, 8, 16];
    const expected = Array.from({ length: 20 }, (_, e) => {
      const n = starts.filter((s) => s <= e).length - 1;
      return cosine(1, 0, (e - starts[n]) / periods[n]);
    });
    expectClose(valuesAt(grow, [...expected.keys()]), expected, 'T_mult = 2', 1e-5);
    const flat = new CosineAnnealingWarmRestarts({
      lr: 0.5,
      numCallPerEpoch: 2,
      t0: 3,
      etaMin: 0.1,
    });
    // epoch = ⌊i/2⌋, T_cur = epoch mod 3
    const idx = [0, 1, 2, 3, 4, 5, 6, 7, 13];
    expectClose(
      valuesAt(flat, idx),
      idx.map((i) => cosine(0.5, 0.1, (Math.floor(i / 2) % 3) / 3)),
      'T_mult = 1',
    );
  });

  it('ExponentialDecayLR, InverseTimeDecayLR, PolynomialDecayLR, PiecewiseConstantLR', () => {
    const ed = new ExponentialDecayLR({ lr: 1, decaySteps: 2, decayRate: 0.5 });
    expect(ed.countBy).toBe('call');
    expectClose(valuesAt(ed, [0, 1, 2, 5]), [1, 0.5 ** 0.5, 0.5, 0.5 ** 2.5], 'ExponentialDecay');
    const inv = new InverseTimeDecayLR({ lr: 1, decaySteps: 2, decayRate: 1 });
    expectClose(valuesAt(inv, [0, 3, 4]), [1, 0.4, 1 / 3], 'InverseTime');
    const stair = new InverseTimeDecayLR({ lr: 1, decaySteps: 2, decayRate: 1, staircase: true });
    expectClose(valuesAt(stair, [0, 1, 3, 4]), [1, 1, 0.5, 1 / 3], 'InverseTime staircase');
    const poly = new PolynomialDecayLR({ lr: 1, decaySteps: 4, finalLr: 0.2, power: 2 });
    expectClose(valuesAt(poly, [0, 2, 4, 10]), [1, 0.4, 0.2, 0.2], 'Polynomial');
    const pw = new PiecewiseConstantLR({ boundaries: [2, 5], values: [1, 0.5, 0.1] });
    expectClose(valuesAt(pw, [0, 2, 3, 5, 6, 100]), [1, 1, 0.5, 0.5, 0.1, 0.1], 'Piecewise');
    expect(pw.baseLr).toBeNull();
  });

  it('WarmupLR: a linear ramp to the first value, then the wrapped schedule shifted', () => {
    const inner = new CosineAnnealingLR({ lr: 1, tMax: 10 });
    const w = new WarmupLR({ warmupSteps: 4, schedule: inner });
    expectClose(
      valuesAt(w, [0, 1, 2, 4, 9, 14]),
      [0, 0.25, 0.5, 1, cosine(1, 0, 0.5), 0],
      'warmup to cosine',
    );
    const fromHalf = new WarmupLR({ warmupSteps: 2, schedule: 0.1, startFactor: 0.5 });
    expectClose(valuesAt(fromHalf, [0, 1, 2, 50]), [0.05, 0.075, 0.1, 0.1], 'warmup to constant');
    expect(fromHalf.countBy).toBe('epoch');
    const perCall = new WarmupLR({ warmupSteps: 2, schedule: inner, countBy: 'call' });
    expect(perCall.countBy).toBe('call');
  });

  it('evaluating a schedule leaks nothing', () => {
    const s = new WarmupLR({
      warmupSteps: 3,
      schedule: new CosineAnnealingWarmRestarts({ lr: 1, numCallPerEpoch: 2, t0: 2, tMult: 3 }),
    });
    const before = tf.memory().numTensors;
    for (let i = 0; i < 50; i++) s.at(i);
    tf.dispose(s.call());
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('counting', () => {
  it('epoch-based: the index is lastEpoch + 1, advanced by stepEpoch() (not by updates)', () => {
    const s = new StepLR({ lr: 1, stepSize: 1, gamma: 0.5 });
    expect(s.lastCall).toBeNull();
    expect(s.at()).toBe(1);
    s.stepCall(); // a no-op for epoch-based schedules
    expect(s.at()).toBe(1);
    s.stepEpoch();
    s.stepEpoch();
    expect(s.at()).toBe(0.25);
    expect(s.lastEpoch.value.dataSync()[0]).toBe(1);
    const opt = new SGD({ lr: s });
    runSteps(opt, [0], [[1], [1]]);
    expect(s.at()).toBe(0.25);
  });

  it('call-based: every applied update advances the schedule', () => {
    const s = new StepLR({ lr: 1, stepSize: 1, gamma: 0.5, countBy: 'call' });
    // steps of 1, 0.5, 0.25 with g = 1
    const { thetas } = runSteps(new SGD({ lr: s }), [0], [[1], [1], [1]]);
    expectClose(thetas.flat(), [-1, -1.5, -1.75], 'θ');
    expect(s.lastCall!.value.dataSync()[0]).toBe(2);
    expect(s.at()).toBe(0.125);
  });

  it('a State as learning rate can be changed while training', () => {
    const lr = new State<number>(0.5);
    const opt = new SGD({ lr });
    expect(opt.states().keys()).toContain('lr.baseLr');
    const first = runSteps(opt, [0], [[1]]);
    expectClose(first.thetas.flat(), [-0.5], 'θ');
    lr.value = 0.25;
    expect(opt.lr.at()).toBe(0.25);
    const tensorLr = new State(tf.scalar(0.125));
    expect(new SGD({ lr: tensorLr }).lr.at()).toBe(0.125);
  });
});

describe('argument checks', () => {
  const vectorLr = new State(tf.zeros([2]));
  const constant = new ConstantLR({ lr: 1 });
  const cases: [string, () => unknown, RegExp][] = [
    ['negative lr', () => new ConstantLR({ lr: -1 }), /lr must be a finite number ≥ 0/],
    [
      'lr State of a vector',
      () => new ConstantLR({ lr: vectorLr as State<tf.Tensor> }),
      /one-element/,
    ],
    ['stepSize 0', () => new StepLR({ lr: 1, stepSize: 0 }), /stepSize must be an integer ≥ 1/],
    ['gamma > 1', () => new StepLR({ lr: 1, stepSize: 2, gamma: 2 }), /gamma must be .* \[0, 1\]/],
    [
      'unsorted milestones',
      () => new MultiStepLR({ lr: 1, milestones: [3, 2] }),
      /milestones must be strictly increasing/,
    ],
    ['tMax 0', () => new CosineAnnealingLR({ lr: 1, tMax: 0 }), /tMax must be a finite number > 0/],
    [
      'tMult 1.5',
      () => new CosineAnnealingWarmRestarts({ lr: 1, numCallPerEpoch: 1, t0: 2, tMult: 1.5 }),
      /tMult must be an integer ≥ 1/,
    ],
    [
      'values length',
      () => new PiecewiseConstantLR({ boundaries: [1], values: [1] }),
      /values must have one more entry than boundaries \(2\)/,
    ],
    [
      'warmupSteps 0',
      () => new WarmupLR({ warmupSteps: 0, schedule: 0.1 }),
      /warmupSteps must be an integer ≥ 1/,
    ],
    [
      'countBy',
      () => new ExponentialLR({ lr: 1, gamma: 0.5, countBy: 'batch' as 'call' }),
      /countBy must be one of 'epoch', 'call'/,
    ],
    ['negative index', () => constant.at(-1), /index must be a finite number ≥ 0/],
  ];
  for (const [what, make, message] of cases) {
    it(`${what} → ArgumentError naming the argument, no tensor leaked`, () => {
      const before = tf.memory().numTensors;
      expect(make).toThrow(ArgumentError);
      expect(make).toThrow(message);
      expect(tf.memory().numTensors).toBe(before);
    });
  }
});
