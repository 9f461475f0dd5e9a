import { describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf';
import { GraphError } from '../../src/errors';
import {
  All,
  Any,
  Everything,
  Not,
  Nothing,
  OfType,
  PathContains,
  WithTag,
  states,
  toGraphFilter,
  toPredicate,
  type Filter,
} from '../../src/graph';
import { HiddenState, LongTermState, ParamState, State, TreefyState } from '../../src/state';
import { checkNoTensorLeaks } from './fixtures';

checkNoTensorLeaks();

describe('filters (spec §10.21)', () => {
  it('have exact reprs', () => {
    expect(String(new WithTag('x'))).toBe("WithTag('x')");
    expect(String(new Not(new WithTag('test')))).toBe("Not(WithTag('test'))");
    expect(String(new Everything())).toBe('Everything()');
    expect(String(new Nothing())).toBe('Nothing()');
    expect(String(new PathContains('layer2'))).toBe("PathContains('layer2')");
    expect(String(new OfType(ParamState))).toBe('OfType(ParamState)');
    expect(String(new All('a', ParamState))).toBe("All(WithTag('a'), OfType(ParamState))");
    expect(String(toGraphFilter(['a', true]))).toBe("Any(WithTag('a'), Everything())");
    expect(String(toGraphFilter(null))).toBe('Nothing()');
    expect(String(toGraphFilter(false))).toBe('Nothing()');
  });

  it('WithTag matches state tags, TreefyState tags, and tag strings or sets', () => {
    const s = new State(tf.zeros([1]), { tag: ['fast', 'x'] });
    const ref = TreefyState.of(s);
    const f = toPredicate('fast');
    expect(f([], s)).toBe(true);
    expect(f([], ref)).toBe(true);
    expect(f([], { tag: 'fast' })).toBe(true);
    expect(f([], { tag: new Set(['slow', 'fast']) })).toBe(true);
    expect(f([], { tag: 'slow' })).toBe(false);
    const untagged = new State(tf.zeros([1]));
    expect(f([], untagged)).toBe(false);
    ref.dispose();
    s.dispose();
    untagged.dispose();
  });

  it('OfType matches instances and TreefyState types (subclasses included)', () => {
    const p = new ParamState(tf.zeros([1]));
    const h = new HiddenState(tf.zeros([1]));
    const ref = TreefyState.of(p);
    const isLong = toPredicate(LongTermState);
    expect(isLong([], p)).toBe(true);
    expect(isLong([], ref)).toBe(true); // ParamState extends LongTermState
    expect(isLong([], h)).toBe(false);
    const hRef = TreefyState.of(h);
    expect(toPredicate(ParamState)([], hRef)).toBe(false);
    hRef.dispose();
    ref.dispose();
    p.dispose();
    h.dispose();
  });

  it('Any / All / Not / PathContains logic', () => {
    const p = new ParamState(tf.zeros([1]), { tag: 't' });
    const path = ['layer2', 0, 'w'];
    expect(new Any('nope', ParamState).test(path, p)).toBe(true);
    expect(new All('nope', ParamState).test(path, p)).toBe(false);
    expect(new All('t', ParamState).test(path, p)).toBe(true);
    expect(new Not('t').test(path, p)).toBe(false);
    expect(new PathContains('layer2').test(path, p)).toBe(true);
    expect(new PathContains(0).test(path, p)).toBe(true);
    expect(new PathContains('layer1').test(path, p)).toBe(false);
    expect(toPredicate((pth: readonly unknown[]) => pth.length === 3)(path, p)).toBe(true);
    p.dispose();
  });

  it('an unknown filter value is a GraphError naming it and listing the accepted kinds', () => {
    for (const bad of [42, { foo: 1 }, new Date(0)]) {
      let err: unknown;
      try {
        toPredicate(bad as unknown as Filter);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(GraphError);
      expect((err as Error).message).toMatch(
        /unknown filter (42|object \{"foo":1\}|Date instance)/,
      );
      expect((err as Error).message).toContain('a tag string, a State or Node class, true');
    }
    expect(() => states({}, 42 as unknown as Filter)).toThrow(/states: unknown filter 42/);
  });

  it('true / Everything may only be the last filter', () => {
    expect(() => states({}, true, ParamState)).toThrow(GraphError);
    expect(() => states({}, new Everything(), ParamState)).toThrow(/only be the last filter/);
    expect(() => states({}, ParamState, true)).not.toThrow();
    expect(() => states({}, true, true)).not.toThrow();
  });
});
