/** Variance scaling and its presets: empirical std vs scale / fan, supports, fan rules, argument errors. */
import { beforeEach, describe, expect, test } from 'vitest';
import { ArgumentError } from '../../src/errors';
import * as init from '../../src/init';
import * as random from '../../src/random';
import { max, mean, min, std, take } from '../random/stats';

beforeEach(() => random.seed(11));

const SHAPE = [256, 512];
const FAN_IN = 256;
const FAN_OUT = 512;
const FAN_AVG = (FAN_IN + FAN_OUT) / 2;
const TRUNCATED_STD = 0.87962566103423978;

describe('presets on a [256, 512] weight', () => {
  test.each([
    ['KaimingNormal', () => init.KaimingNormal(), 2 / FAN_IN, 'truncated_normal'],
    ['KaimingUniform', () => init.KaimingUniform(), 2 / FAN_IN, 'uniform'],
    ['XavierNormal', () => init.XavierNormal(), 1 / FAN_AVG, 'truncated_normal'],
    ['XavierUniform', () => init.XavierUniform(), 1 / FAN_AVG, 'uniform'],
    ['LecunNormal', () => init.LecunNormal(), 1 / FAN_IN, 'truncated_normal'],
    ['LecunUniform', () => init.LecunUniform(), 1 / FAN_IN, 'uniform'],
    [
      'VarianceScaling normal fan_out',
      () => init.VarianceScaling(3, 'fan_out', 'normal'),
      3 / FAN_OUT,
      'normal',
    ],
    [
      'KaimingNormal fan_out',
      () => init.KaimingNormal(2, 'fan_out'),
      2 / FAN_OUT,
      'truncated_normal',
    ],
  ] as const)('%s: std = √(scale / fan)', (_, make, variance, distribution) => {
    const w = make().call(SHAPE);
    expect(w.shape).toEqual(SHAPE);
    expect(w.dtype).toBe('float32');
    const x = take(w);
    const sd = Math.sqrt(variance);
    // 131072 values: the std's relative standard error is ≤ 0.3 %.
    expect(Math.abs(std(x) / sd - 1)).toBeLessThan(0.015);
    expect(Math.abs(mean(x))).toBeLessThan((5 * sd) / Math.sqrt(x.length));
    if (distribution === 'truncated_normal') {
      expect(max(x.map(Math.abs))).toBeLessThanOrEqual((2 * sd) / TRUNCATED_STD + 1e-7);
    } else if (distribution === 'uniform') {
      expect(max(x.map(Math.abs))).toBeLessThanOrEqual(Math.sqrt(3 * variance) + 1e-7);
    }
  });
});

describe('fans', () => {
  test('dense and conv-shaped weights', () => {
    expect(init.computeFans([256, 512])).toEqual({ fanIn: 256, fanOut: 512 });
    expect(init.computeFans([3, 3, 16, 32])).toEqual({ fanIn: 144, fanOut: 288 });
    expect(init.computeFans([16, 3, 3, 32], 0, -1)).toEqual({ fanIn: 144, fanOut: 288 });
    expect(() => init.computeFans([5])).toThrow(/rank ≥ 2/);
    expect(() => init.computeFans([2, 3], 5)).toThrow(ArgumentError);
  });

  test('a conv kernel [3, 3, 16, 32] is scaled by its receptive field', () => {
    const x = take(init.KaimingNormal().call([3, 3, 16, 32]));
    // 4608 values: relative standard error of the std ≈ 1 %.
    expect(Math.abs(std(x) / Math.sqrt(2 / 144) - 1)).toBeLessThan(0.06);
    const y = take(init.XavierUniform().call([3, 3, 16, 32]));
    expect(Math.abs(std(y) / Math.sqrt(1 / 216) - 1)).toBeLessThan(0.06);
    expect(init.VarianceScaling(1, 'fan_avg', 'normal').variance([3, 3, 16, 32])).toBeCloseTo(
      1 / 216,
      15,
    );
  });

  test('zero-size shapes give empty tensors', () => {
    const w = init.KaimingNormal().call([0, 4]);
    expect(w.shape).toEqual([0, 4]);
    w.dispose();
  });
});

describe('arguments', () => {
  test('bad scale, mode, distribution or shape are ArgumentErrors naming the accepted values', () => {
    expect(() => init.VarianceScaling(-1, 'fan_in', 'normal')).toThrow(
      /VarianceScaling: scale must be a finite number > 0/,
    );
    expect(() => init.KaimingNormal(-2)).toThrow(/KaimingNormal: scale/);
    expect(() => init.VarianceScaling(1, 'fan_x' as 'fan_in', 'normal')).toThrow(
      /mode must be one of 'fan_in', 'fan_out', 'fan_avg', got "fan_x"/,
    );
    expect(() => init.VarianceScaling(1, 'fan_in', 'cauchy' as 'normal')).toThrow(
      /distribution must be one of 'truncated_normal', 'normal', 'uniform'/,
    );
    expect(() => init.LecunNormal().call([10])).toThrow(ArgumentError);
    expect(() => init.LecunNormal().call([2, -3])).toThrow(/shape must be/);
    expect(() => init.LecunNormal().call([2, 3], { dtype: 'int32' })).toThrow(/float32/);
  });

  test('callable classes: with or without new, instanceof, toString', () => {
    const a = init.KaimingNormal();
    const b = new init.KaimingNormal();
    expect(a).toBeInstanceOf(init.KaimingNormal);
    expect(b).toBeInstanceOf(init.VarianceScaling);
    expect(a.constructor).toBe(b.constructor);
    expect(String(a)).toBe(
      "KaimingNormal(scale=2, mode='fan_in', distribution='truncated_normal')",
    );
    expect(String(init.XavierUniform(1, 'fan_avg', { inAxis: 0 }))).toBe(
      "XavierUniform(scale=1, mode='fan_avg', distribution='uniform', inAxis=0)",
    );
  });

  test('rng option: the same seed gives the same weights; the default state is untouched', () => {
    const key = random.getKey();
    const w1 = take(init.KaimingUniform().call([4, 4], { rng: new random.RandomState(3) }));
    const w2 = take(init.KaimingUniform().call([4, 4], { rng: new random.RandomState(3) }));
    expect(Array.from(w1)).toEqual(Array.from(w2));
    expect(random.getKey()).toEqual(key);
    expect(min(w1)).toBeGreaterThanOrEqual(-Math.sqrt(3 * (2 / 4)));
  });
});
