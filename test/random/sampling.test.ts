/** permutation and choice: permutations, no repeats without replacement, weighted frequencies, errors. */
import { beforeEach, describe, expect, test } from 'vitest';
import { tf } from '../../src/backend/tf';
import { ArgumentError } from '../../src/errors';
import * as random from '../../src/random';
import { counts, take } from './stats';

beforeEach(() => random.seed(7));

describe('permutation', () => {
  test('permutation(n) is a permutation of 0 … n−1, and not the identity', () => {
    const p = Array.from(take(random.permutation(1000)));
    expect([...p].sort((a, b) => a - b)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect(p).not.toEqual(Array.from({ length: 1000 }, (_, i) => i));
  });

  test('every position is uniform over the values', () => {
    const n = 4;
    const trials = 5000;
    const first = new Array<number>(trials);
    for (let i = 0; i < trials; i++) first[i] = take(random.permutation(n, { key: [i, 1] }))[0];
    for (const c of counts(first, n))
      expect(Math.abs(c / trials - 0.25)).toBeLessThan(5 * Math.sqrt(0.1875 / trials));
  });

  test('permuting a tensor shuffles its rows', () => {
    const x = tf.tensor2d([
      [0, 0],
      [1, 10],
      [2, 20],
      [3, 30],
    ]);
    const y = random.permutation(x);
    expect(y.shape).toEqual([4, 2]);
    const rows = y.arraySync() as number[][];
    y.dispose();
    x.dispose();
    expect(rows.map((r) => r[0]).sort()).toEqual([0, 1, 2, 3]);
    for (const r of rows) expect(r[1]).toBe(r[0] * 10);
    expect(() => random.permutation(-1)).toThrow(ArgumentError);
  });
});

describe('choice', () => {
  test('with replacement: uniform over 0 … n−1', () => {
    const n = 100_000;
    const c = counts(take(random.choice(5, [n])), 5);
    for (const k of c) expect(Math.abs(k / n - 0.2)).toBeLessThan(5 * Math.sqrt(0.16 / n));
  });

  test('without replacement: no duplicates, all from the candidates', () => {
    for (let i = 0; i < 20; i++) {
      const x = Array.from(take(random.choice(50, [7, 7], { replace: false })));
      expect(new Set(x).size).toBe(49);
      expect(x.every((v) => v >= 0 && v < 50)).toBe(true);
    }
    const all = Array.from(take(random.choice(10, [10], { replace: false })));
    expect([...all].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  test('with p: frequencies follow p; zero-probability candidates never appear', () => {
    const p = [0.1, 0, 0.6, 0.3];
    const n = 100_000;
    const c = counts(take(random.choice(4, [n], { p })), 4);
    p.forEach((pi, i) =>
      expect(Math.abs(c[i] / n - pi)).toBeLessThan(5 * Math.sqrt((pi * (1 - pi)) / n) + 1e-9),
    );
    const pt = tf.tensor1d(p);
    const c2 = counts(take(random.choice(4, [n], { p: pt })), 4);
    pt.dispose();
    expect(c2[1]).toBe(0);
  });

  test('without replacement and with p: no duplicates; the first pick follows p', () => {
    const p = [0.5, 0.25, 0.125, 0.125, 0];
    const trials = 5000;
    const first: number[] = [];
    for (let i = 0; i < trials; i++) {
      const x = Array.from(take(random.choice(5, [4], { replace: false, p, key: [i, 9] })));
      expect(new Set(x).size).toBe(4);
      expect(x).not.toContain(4);
      first.push(x[0]);
    }
    const c = counts(first, 5);
    p.forEach((pi, i) =>
      expect(Math.abs(c[i] / trials - pi)).toBeLessThan(
        5 * Math.sqrt((pi * (1 - pi)) / trials) + 1e-9,
      ),
    );
  });

  test('choosing rows of a tensor', () => {
    const a = tf.tensor2d([
      [1, 1],
      [2, 2],
      [3, 3],
    ]);
    const y = random.choice(a, [5]);
    expect(y.shape).toEqual([5, 2]);
    const rows = y.arraySync() as number[][];
    y.dispose();
    a.dispose();
    for (const r of rows) expect([1, 2, 3]).toContain(r[0]);
  });

  test('typed errors for bad p, sizes and candidates', () => {
    expect(() => random.choice(3, [2], { p: [0.5, 0.5] })).toThrow(
      /p has 2 entries for 3 candidates/,
    );
    expect(() => random.choice(3, [2], { p: [0.5, 0.4, 0.2] })).toThrow(/p must sum to 1/);
    expect(() => random.choice(3, [2], { p: [0.5, 0.5 + 1e-7, 0] })).not.toThrow();
    expect(() => random.choice(3, [2], { p: [1.5, -0.5, 0] })).toThrow(/probabilities ≥ 0/);
    expect(() => random.choice(3, [4], { replace: false })).toThrow(
      /cannot take 4 samples without replacement from 3/,
    );
    expect(() => random.choice(3, [3], { replace: false, p: [0.5, 0.5, 0] })).toThrow(
      ArgumentError,
    );
    expect(() => random.choice(2.5, [1])).toThrow(ArgumentError);
    expect(() => random.choice(3, [-1])).toThrow(ArgumentError);
  });
});
