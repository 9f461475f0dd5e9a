/** param(): none / scalar / initializer / function / tensor / State, broadcasting, batch rules, errors. */
import { describe, expect, test } from 'vitest';
import { tf } from '../../src/backend/tf';
import { ArgumentError } from '../../src/errors';
import * as init from '../../src/init';
import { param } from '../../src/init';
import { ParamState, State } from '../../src/state';

describe('param', () => {
  test('null and undefined', () => {
    expect(param(null, [3])).toBeNull();
    expect(param(undefined, [3])).toBeNull();
    expect(() => param(null, [3], { allowNone: false })).toThrow(/a value is required/);
  });

  test('scalars are returned unchanged', () => {
    expect(param(2.5, [3, 4])).toBe(2.5);
    const s = tf.scalar(1);
    expect(param(s, [3], { batchSize: 2 })).toBe(s);
    expect(() => param(2.5, [3], { allowScalar: false })).toThrow(/scalar \(2.5\) is not accepted/);
    const full = param(s, [3], { allowScalar: false, batchSize: 2 });
    expect(full.shape).toEqual([2, 1]);
    tf.dispose([s, full]);
  });

  test('initializers and functions are called with [batchSize?, ...sizes]', () => {
    const w = param(init.ZeroInit(), [3, 4]);
    expect(w.shape).toEqual([3, 4]);
    const wb = param(init.Constant(2), [3], { batchSize: 5 });
    expect(wb.shape).toEqual([5, 3]);
    const seen: number[][] = [];
    const f = param(
      (shape: number[]) => {
        seen.push(shape);
        return tf.ones(shape);
      },
      4,
      { batchSize: 2 },
    );
    expect(seen).toEqual([[2, 4]]);
    tf.dispose([w, wb, f]);
    expect(() => param((() => 3) as unknown as () => tf.Tensor, [2])).toThrow(/not a tensor/);
  });

  test('tensors must broadcast to sizes; the error names both shapes', () => {
    const t = tf.ones([1, 4]);
    expect(param(t, [3, 4])).toBe(t);
    const bad = tf.ones([3]);
    expect(() => param(bad, [3, 4])).toThrow(
      /shape \[3\] does not broadcast to the parameter shape \[3, 4\]/,
    );
    expect(() => param(bad, [3, 4])).toThrow(ArgumentError);
    tf.dispose([t, bad]);
  });

  test('with batchSize, a low-rank tensor is expanded to full rank and repeated along axis 0', () => {
    const v = tf.tensor1d([1, 2, 3]);
    const b = param(v, [2, 3], { batchSize: 4 });
    expect(b.shape).toEqual([4, 1, 3]);
    expect(b.arraySync()).toEqual(Array.from({ length: 4 }, () => [[1, 2, 3]]));
    const full = tf.ones([4, 2, 3]);
    expect(param(full, [2, 3], { batchSize: 4 })).toBe(full);
    expect(() => param(full, [2, 3], { batchSize: 5 })).toThrow(
      /batch size 4 on axis 0, expected 5/,
    );
    expect(() => param(v, [3], { batchSize: 0 })).toThrow(/batchSize must be a positive integer/);
    tf.dispose([v, b, full]);
  });

  test('number arrays are converted; States give a new State of the same class', () => {
    const a = param([1, 2, 3], [2, 3]);
    expect(Array.from(a.dataSync())).toEqual([1, 2, 3]);
    a.dispose();
    const s = new ParamState(tf.tensor1d([1, 2]));
    const out = param(s, [2], { batchSize: 3 });
    expect(out).toBeInstanceOf(ParamState);
    expect(out).not.toBe(s);
    expect(out.value.shape).toEqual([3, 2]);
    const same = param(new State(tf.ones([2])), [2]);
    expect(same.value.shape).toEqual([2]);
    tf.dispose([s.value, out.value, same.value]);
    expect(() => param('x' as unknown as number, [2])).toThrow(ArgumentError);
  });

  test('no tensors leak', () => {
    const v = tf.tensor1d([1, 2, 3]);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 200; i++) {
      tf.dispose([
        param(v, [2, 3], { batchSize: 2 }),
        param([1, 2, 3], [3]),
        param(init.KaimingNormal(), [3, 3]),
        param(init.Orthogonal(), [4, 3]),
        param(init.Identity(), [3, 3]),
        param(init.Constant(v), [2, 3]),
      ]);
    }
    expect(tf.memory().numTensors).toBe(before);
    v.dispose();
  });
});
