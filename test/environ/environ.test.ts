import { afterEach, describe, expect, it } from 'vitest';
import * as environ from '../../src/environ';
import { ArgumentError, KeyNotFoundError, NotSupportedError } from '../../src/errors';

afterEach(() => environ.reset());

describe('environ (spec §9.1, §10.39)', () => {
  it('get/set/context precedence; nested contexts restore, even after an exception', () => {
    environ.set({ dt: 0.1 });
    expect(environ.getDt()).toBe(0.1);
    const seen = environ.context({ dt: 0.2 }, () => {
      const inner = environ.context({ dt: 0.05, fit: true }, () => [
        environ.getDt(),
        environ.isFit(),
      ]);
      return [...inner, environ.getDt(), environ.isFit()];
    });
    expect(seen).toEqual([0.05, true, 0.2, false]);
    expect(() =>
      environ.context({ dt: 1 }, () => {
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(environ.getDt()).toBe(0.1);
    expect(environ.all()).toMatchObject({ dt: 0.1, precision: 32 });
  });

  it('a missing key is a KeyNotFoundError with a hint', () => {
    expect(() => environ.getDt()).toThrow(KeyNotFoundError);
    expect(() => environ.getDt()).toThrow(/environ.set\(\{ dt: 0.1 \}\)/);
    expect(environ.get('t', 0)).toBe(0);
    expect(environ.has('t')).toBe(false);
  });

  it('validates values and names what was expected', () => {
    expect(() => environ.set({ dt: -1 })).toThrow(
      /dt must be a positive finite number of ms, got -1/,
    );
    expect(() => environ.context({ i: 1.5 }, () => 0)).toThrow(ArgumentError);
    expect(() => environ.set({ fit: 1 as unknown as boolean })).toThrow(/fit must be a boolean/);
    expect(() => environ.set({ precision: 12 as unknown as 32 })).toThrow(
      /precision must be one of/,
    );
    expect(() => environ.set({ precision: 64 })).toThrow(NotSupportedError);
    expect(() => environ.set({ platform: 'cpu' })).toThrow(/setPlatform/);
  });

  it('pop: not while in a context; missing → KeyNotFoundError', () => {
    environ.set({ t: 5 });
    environ.context({ t: 6 }, () => {
      expect(() => environ.pop('t')).toThrow(/active context/);
    });
    expect(environ.pop('t')).toBe(5);
    expect(() => environ.pop('t')).toThrow(KeyNotFoundError);
    expect(environ.pop('t', 3)).toBe(3);
  });

  it('dtype helpers', () => {
    expect(environ.dftype()).toBe('float32');
    expect(environ.ditype()).toBe('int32');
    expect(environ.tolerance()).toBe(1e-5);
  });
});
