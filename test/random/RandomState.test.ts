/**
 * RandomState and the default-state functions: reproducibility, key discipline (every draw is a
 * recorded read + write of the key), seedContext, backup/restore, explicit keys, independence.
 */
import { describe, expect, test } from 'vitest';
import { tf } from '../../src/backend/tf';
import { ArgumentError, StateError } from '../../src/errors';
import * as random from '../../src/random';
import { RandomState } from '../../src/random';
import { StateTraceStack } from '../../src/state';
import { correlation, take } from './stats';

const values = (t: tf.Tensor): number[] => Array.from(take(t));

describe('seeding', () => {
  test('the same seed gives the same numbers, another seed others', () => {
    random.seed(42);
    const a = values(random.normal(0, 1, [50]));
    const a2 = values(random.uniform(0, 1, [5]));
    random.seed(42);
    expect(values(random.normal(0, 1, [50]))).toEqual(a);
    expect(values(random.uniform(0, 1, [5]))).toEqual(a2);
    random.seed(43);
    expect(values(random.normal(0, 1, [50]))).not.toEqual(a);
    expect(values(new RandomState(42).normal(0, 1, [50]))).toEqual(a);
  });

  test('seed() without argument and new RandomState() pick random keys', () => {
    random.seed();
    const k1 = random.getKey();
    random.seed();
    expect(random.getKey()).not.toEqual(k1);
    expect(new RandomState().value).not.toEqual(new RandomState().value);
  });

  test('setKey / getKey / seed with a key', () => {
    random.setKey([7, 8]);
    expect(random.getKey()).toEqual([7, 8]);
    const x = values(random.rand(4));
    random.seed([7, 8]);
    expect(values(random.rand(4))).toEqual(x);
    expect(() => random.setKey([7, -8] as unknown as random.Key)).toThrow(ArgumentError);
  });

  test('seedContext runs with a temporary seed and restores the previous stream, even on error', () => {
    random.seed(1);
    const first = values(random.rand(3));
    const second = values(random.rand(3));

    random.seed(1);
    expect(values(random.rand(3))).toEqual(first);
    const inner = random.seedContext(99, () => values(random.rand(3)));
    expect(random.seedContext(99, () => values(random.rand(3)))).toEqual(inner);
    expect(() =>
      random.seedContext(5, () => {
        random.rand(2).dispose();
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(values(random.rand(3))).toEqual(second);
  });

  test('defaultRng returns DEFAULT, or a new seeded state', () => {
    expect(random.defaultRng()).toBe(random.DEFAULT);
    const r = random.defaultRng(3);
    expect(r).toBeInstanceOf(RandomState);
    expect(r.value).toEqual(random.keyFromSeed(3));
  });
});

describe('key discipline', () => {
  test('splitKey advances the state and returns a key different from it', () => {
    const rng = new RandomState(0);
    const k0 = rng.value;
    const sub = rng.splitKey();
    expect(rng.value).not.toEqual(k0);
    expect(sub).not.toEqual(rng.value);
    expect(random.threefrySplit(k0, 2)).toEqual([rng.value, sub]);
  });

  test('splitKey and every draw are recorded as a read and a write on the trace stack', () => {
    const rng = new RandomState(0);
    const t1 = new StateTraceStack({ name: 'split' });
    t1.run(() => rng.splitKey());
    expect(t1.wasWritten(rng)).toBe(true);
    const t2 = new StateTraceStack({ name: 'draw' });
    t2.run(() => rng.normal(0, 1, [2]).dispose());
    expect(t2.getWriteStates()).toContain(rng);
    const t3 = new StateTraceStack({ name: 'default' });
    t3.run(() => random.randn(2).dispose());
    expect(t3.wasWritten(random.DEFAULT)).toBe(true);
  });

  test('an explicit key bypasses the state: nothing read or written, same key → same numbers', () => {
    const rng = new RandomState(0);
    const before = rng.value;
    const trace = new StateTraceStack();
    const a = trace.run(() => values(rng.normal(0, 1, [5], { key: [1, 2] })));
    expect(trace.has(rng)).toBe(false);
    expect(rng.value).toBe(before);
    expect(values(random.normal(0, 1, [5], { key: [1, 2] }))).toEqual(a);
    expect(values(random.rand(5, { key: [1, 2] }))).toEqual(
      values(random.rand(5, { key: [1, 2] })),
    );
    expect(() => random.normal(0, 1, [5], { key: [1, 2.5] as unknown as random.Key })).toThrow(
      ArgumentError,
    );
  });

  test('splitKeys(n) returns n distinct keys and advances once; n must be a positive integer', () => {
    const rng = new RandomState(3);
    const k0 = rng.value;
    const keys = rng.splitKeys(4);
    expect(keys).toHaveLength(4);
    expect(new Set(keys.map(String)).size).toBe(4);
    expect(random.threefrySplit(k0, 5)).toEqual([rng.value, ...keys]);
    expect(() => rng.splitKeys(0)).toThrow(ArgumentError);
    expect(() => random.splitKeys(0)).toThrow(/positive integer/);
    expect(() => rng.splitKeys(2.5)).toThrow(ArgumentError);
    expect(() => rng.splitKeys(-1)).toThrow(ArgumentError);
    expect(random.splitKey()).toHaveLength(2);
  });

  test('invalid arguments are rejected before any key is consumed', () => {
    const rng = new RandomState(0);
    const before = rng.value;
    expect(() => rng.normal(0, -1, [3])).toThrow(ArgumentError);
    expect(() => rng.bernoulli(2, [3])).toThrow(ArgumentError);
    expect(rng.value).toBe(before);
  });

  test('a RandomState only holds keys', () => {
    const rng = new RandomState(0);
    expect(() => (rng.value = [1, 2, 3] as unknown as random.Key)).toThrow(StateError);
    expect(() => new RandomState([1, 2 ** 33] as unknown as random.Key)).toThrow(ArgumentError);
    rng.value = [4, 5];
    expect(rng.value).toEqual([4, 5]);
  });
});

describe('backup, restore and clone', () => {
  test('restoreKey goes back to the backed-up key', () => {
    const rng = new RandomState(11);
    rng.backupKey();
    const a = values(rng.rand(4));
    rng.restoreKey();
    expect(values(rng.rand(4))).toEqual(a);
  });

  test('backing up twice, or restoring without a backup, is a StateError', () => {
    const rng = new RandomState(11);
    expect(() => rng.restoreKey()).toThrow(StateError);
    rng.backupKey();
    expect(() => rng.backupKey()).toThrow(/already backed up/);
    rng.restoreKey();
    expect(() => rng.restoreKey()).toThrow(/no key backed up/);
  });

  test('clone() gives an independent stream and advances the original; copy() the same key', () => {
    const rng = new RandomState(5);
    const k0 = rng.value;
    const c = rng.clone();
    expect(rng.value).not.toEqual(k0);
    expect(c.value).not.toEqual(rng.value);
    const copy = rng.copy();
    expect(copy).toBeInstanceOf(RandomState);
    expect(values(copy.rand(5))).toEqual(values(rng.rand(5)));
  });
});

describe('independence', () => {
  const n = 20_000;
  const tol = 5 / Math.sqrt(n);

  test('draws with split keys are uncorrelated', () => {
    const [k1, k2] = random.threefrySplit([0, 0], 2);
    const a = take(random.normal(0, 1, [n], { key: k1 }));
    const b = take(random.normal(0, 1, [n], { key: k2 }));
    expect(Math.abs(correlation(a, b))).toBeLessThan(tol);
  });

  test('successive draws of one state, and a state and its clone, are uncorrelated', () => {
    const rng = new RandomState(0);
    const a = take(rng.uniform(0, 1, [n]));
    const b = take(rng.uniform(0, 1, [n]));
    expect(Math.abs(correlation(a, b))).toBeLessThan(tol);
    const c = take(rng.clone().uniform(0, 1, [n]));
    const d = take(rng.uniform(0, 1, [n]));
    expect(Math.abs(correlation(c, d))).toBeLessThan(tol);
    // Neighbouring values within one draw are uncorrelated too (lag-1).
    expect(Math.abs(correlation(a.subarray(0, n - 1), a.subarray(1)))).toBeLessThan(tol);
  });

  test('keys split from neighbouring seeds give uncorrelated streams', () => {
    const a = take(new RandomState(0).normal(0, 1, [n]));
    const b = take(new RandomState(1).normal(0, 1, [n]));
    expect(Math.abs(correlation(a, b))).toBeLessThan(tol);
  });
});
