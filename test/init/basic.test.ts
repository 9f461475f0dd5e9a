/** Zero, Constant, Identity (exact), Normal / Uniform / TruncatedNormal, and calculateInitGain. */
import { beforeEach, describe, expect, test } from 'vitest';
import { tf } from '../../src/backend/tf';
import { ArgumentError } from '../../src/errors';
import * as init from '../../src/init';
import * as random from '../../src/random';
import { max, mean, min, std, take } from '../random/stats';

beforeEach(() => random.seed(5));

describe('deterministic initializers', () => {
  test('ZeroInit and Constant are exact, in the requested dtype', () => {
    const z = init.ZeroInit().call([2, 3]);
    expect(z.dtype).toBe('float32');
    expect(z.arraySync()).toEqual([
      [0, 0, 0],
      [0, 0, 0],
    ]);
    const zi = init.ZeroInit().call(4, { dtype: 'int32' });
    expect(zi.dtype).toBe('int32');
    const c = init.Constant(2.5).call([3]);
    expect(Array.from(c.dataSync())).toEqual([2.5, 2.5, 2.5]);
    expect(Array.from(take(init.Constant().call([2])))).toEqual([1, 1]);
    tf.dispose([z, zi, c]);
  });

  test('Constant with a tensor broadcasts it, or says why not', () => {
    const v = tf.tensor1d([1, 2, 3]);
    const c = init.Constant(v).call([2, 3]);
    expect(c.arraySync()).toEqual([
      [1, 2, 3],
      [1, 2, 3],
    ]);
    expect(() => init.Constant(v).call([2, 4])).toThrow(/does not broadcast to shape \[2, 4\]/);
    tf.dispose([v, c]);
    expect(() => init.Constant('a' as unknown as number)).toThrow(ArgumentError);
  });

  test('Identity puts the value on the diagonal of a 2-D weight', () => {
    const e = init.Identity().call([3, 3]);
    expect(e.arraySync()).toEqual([
      [1, 0, 0],
      [0, 1, 0],
      [0, 0, 1],
    ]);
    const r = init.Identity(2).call([2, 3]);
    expect(r.arraySync()).toEqual([
      [2, 0, 0],
      [0, 2, 0],
    ]);
    tf.dispose([e, r]);
    expect(() => init.Identity().call([2, 2, 2])).toThrow(/needs a 2-D shape/);
    expect(String(init.Identity(2))).toBe('Identity(value=2)');
  });
});

describe('random initializers', () => {
  test('Normal(-55, 2) (the E/I network V initializer)', () => {
    const x = take(init.Normal(-55, 2).call([20_000]));
    expect(Math.abs(mean(x) + 55)).toBeLessThan((5 * 2) / Math.sqrt(20_000));
    expect(Math.abs(std(x) / 2 - 1)).toBeLessThan(0.03);
    expect(String(init.Normal(-55, 2))).toBe('Normal(mean=-55, scale=2)');
    expect(() => init.Normal(0, -1)).toThrow(/Normal: scale must be a finite number ≥ 0, got -1/);
  });

  test('Uniform stays in [minVal, maxVal)', () => {
    const x = take(init.Uniform(-0.1, 0.1).call([10_000]));
    expect(min(x)).toBeGreaterThanOrEqual(-0.1);
    expect(max(x)).toBeLessThan(0.1);
    expect(Math.abs(std(x) - 0.2 / Math.sqrt(12))).toBeLessThan(0.003);
    expect(() => init.Uniform(1, 0)).toThrow(/maxVal/);
  });

  test('TruncatedNormal has absolute bounds, whatever loc and scale are', () => {
    const x = take(init.TruncatedNormal(5, 1, -1, 1).call([5000]));
    expect(min(x)).toBeGreaterThanOrEqual(-1);
    expect(max(x)).toBeLessThanOrEqual(1);
    expect(mean(x)).toBeGreaterThan(0.5); // piled up against the upper bound, towards loc
    const y = take(init.TruncatedNormal(0, 0.1).call([5000]));
    expect(Math.abs(std(y) / 0.1 - 1)).toBeLessThan(0.05);
    expect(() => init.TruncatedNormal(0, 0)).toThrow(/scale must be a finite number > 0/);
    expect(() => init.TruncatedNormal(0, 1, 1, -1)).toThrow(/upper/);
  });
});

describe('calculateInitGain', () => {
  test('gains of the known nonlinearities', () => {
    expect(init.calculateInitGain('linear')).toBe(1);
    expect(init.calculateInitGain('conv2d')).toBe(1);
    expect(init.calculateInitGain('sigmoid')).toBe(1);
    expect(init.calculateInitGain('tanh')).toBeCloseTo(5 / 3, 15);
    expect(init.calculateInitGain('relu')).toBeCloseTo(Math.SQRT2, 15);
    expect(init.calculateInitGain('leaky_relu')).toBeCloseTo(Math.sqrt(2 / (1 + 0.01 ** 2)), 15);
    expect(init.calculateInitGain('leaky_relu', 0.2)).toBeCloseTo(Math.sqrt(2 / 1.04), 15);
    expect(init.calculateInitGain('selu')).toBe(0.75);
  });

  test('unknown nonlinearities and bad slopes are ArgumentErrors listing the accepted values', () => {
    expect(() => init.calculateInitGain('swish' as 'relu')).toThrow(
      /unknown nonlinearity "swish"; accepted: 'linear'/,
    );
    expect(() => init.calculateInitGain('leaky_relu', NaN)).toThrow(ArgumentError);
  });
});
