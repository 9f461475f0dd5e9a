/** Threefry-2x32 against the Random123 / JAX known answers, key conversions, and the bulk generator. */
import { describe, expect, test } from 'vitest';
import { ArgumentError } from '../../src/errors';
import {
  Xoshiro128,
  checkKey,
  foldIn,
  keyFromSeed,
  threefry2x32,
  threefrySplit,
  toKey,
} from '../../src/random';
import { counts, mean } from './stats';

describe('threefry2x32', () => {
  test('matches the Random123 known-answer vectors (20 rounds)', () => {
    expect(threefry2x32([0, 0], 0, 0)).toEqual([0x6b200159, 0x99ba4efe]);
    expect(threefry2x32([0xffffffff, 0xffffffff], 0xffffffff, 0xffffffff)).toEqual([
      0x1cb996fc, 0xbb002be7,
    ]);
    expect(threefry2x32([0x13198a2e, 0x03707344], 0x243f6a88, 0x85a308d3)).toEqual([
      0xc4923a9c, 0x483df7a0,
    ]);
  });

  test('splitting PRNGKey(0) gives the keys jax.random.split gives', () => {
    expect(threefrySplit(keyFromSeed(0), 2)).toEqual([
      [4146024105, 967050713],
      [2718843009, 1272950319],
    ]);
  });

  test('split keys are distinct, frozen, and deterministic', () => {
    const keys = threefrySplit([1, 2], 100);
    expect(new Set(keys.map((k) => k.join(','))).size).toBe(100);
    expect(Object.isFrozen(keys[0])).toBe(true);
    expect(threefrySplit([1, 2], 100)).toEqual(keys);
    expect(foldIn([1, 2], 7)).toEqual(foldIn([1, 2], 7));
    expect(foldIn([1, 2], 7)).not.toEqual(foldIn([1, 2], 8));
  });
});

describe('keys', () => {
  test('seeds convert like jax.random.PRNGKey (64-bit two’s complement)', () => {
    expect(keyFromSeed(0)).toEqual([0, 0]);
    expect(keyFromSeed(42)).toEqual([0, 42]);
    expect(keyFromSeed(2 ** 32 + 5)).toEqual([1, 5]);
    expect(keyFromSeed(-1)).toEqual([0xffffffff, 0xffffffff]);
    expect(toKey(new Uint32Array([3, 4]))).toEqual([3, 4]);
  });

  test('bad seeds and keys are ArgumentErrors', () => {
    expect(() => keyFromSeed(1.5)).toThrow(ArgumentError);
    expect(() => keyFromSeed(NaN)).toThrow(/safe integer/);
    expect(() => checkKey([1], 'k')).toThrow(ArgumentError);
    expect(() => checkKey([1, -2], 'k')).toThrow(/two uint32/);
    expect(() => checkKey([1, 2 ** 32], 'k')).toThrow(ArgumentError);
  });
});

describe('Xoshiro128', () => {
  test('is deterministic per key and differs across keys', () => {
    const a = new Xoshiro128([1, 2]);
    const b = new Xoshiro128([1, 2]);
    const c = new Xoshiro128([1, 3]);
    const xs = Array.from({ length: 8 }, () => a.nextUint32());
    expect(Array.from({ length: 8 }, () => b.nextUint32())).toEqual(xs);
    expect(Array.from({ length: 8 }, () => c.nextUint32())).not.toEqual(xs);
    expect(xs.every((x) => Number.isInteger(x) && x >= 0 && x < 2 ** 32)).toBe(true);
  });

  test('floats lie in their intervals and nextBelow is unbiased', () => {
    const g = new Xoshiro128([5, 6]);
    const n = 60_000;
    const u32: number[] = [];
    const open: number[] = [];
    const below: number[] = [];
    for (let i = 0; i < n; i++) {
      u32.push(g.nextFloat32());
      open.push(g.nextOpenFloat64());
      below.push(g.nextBelow(6));
    }
    expect(Math.min(...u32)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...u32)).toBeLessThan(1);
    expect(u32.every((x) => Math.fround(x) === x)).toBe(true);
    expect(Math.min(...open)).toBeGreaterThan(0);
    expect(Math.max(...open)).toBeLessThan(1);
    expect(Math.abs(mean(open) - 0.5)).toBeLessThan(0.01);
    const c = counts(below, 6);
    for (const k of c)
      expect(Math.abs(k / n - 1 / 6)).toBeLessThan(5 * Math.sqrt(((1 / 6) * (5 / 6)) / n));
    expect(g.nextBelow(1)).toBe(0);
    expect(g.nextBelow(2 ** 32)).toBeLessThan(2 ** 32);
  });
});
