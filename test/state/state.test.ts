import { describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf';
import { StateError, TraceContextError, ArgumentError } from '../../src/errors';
import {
  State,
  ShortTermState,
  LongTermState,
  ParamState,
  BatchState,
  HiddenState,
  HiddenGroupState,
  StateTraceStack,
  catchNewStates,
  traceLevel,
  maybeState,
} from '../../src/state';

const arr = (t: tf.Tensor) => Array.from(t.dataSync());

describe('State basics (spec §10.1–5)', () => {
  it('keeps its value, name (null by default) and tags', () => {
    const s = new State(tf.tensor([1, 2, 3]));
    expect(s.name).toBeNull();
    expect(arr(s.value)).toEqual([1, 2, 3]);
    const n = new ParamState(tf.zeros([2]), { name: 'w', tag: ['a', 'b', 'a'] });
    expect(n.name).toBe('w');
    expect([...n.tags]).toEqual(['a', 'b']);
    n.addTag('c');
    expect(n.hasTag('c')).toBe(true);
    s.dispose();
    n.dispose();
  });

  it('rejects a State as value and values that are not tensors/numbers', () => {
    const s = new State(tf.zeros([2]));
    const t = new State(tf.zeros([2]));
    expect(() => {
      s.value = t as unknown as tf.Tensor;
    }).toThrow(/cannot take a State as value; use copyFrom/);
    expect(() => new State('x' as unknown as tf.Tensor)).toThrow(StateError);
    s.dispose();
    t.dispose();
  });

  it('checks shape and dtype on write with an error naming the state', () => {
    const s = new ParamState(tf.zeros([3, 4]), { name: 'weight' });
    const bad = tf.zeros([4, 3]);
    expect(() => {
      s.value = bad;
    }).toThrow(StateError);
    try {
      s.value = bad;
    } catch (e) {
      expect((e as Error).message).toContain("ParamState(name='weight')");
      expect((e as Error).message).toContain('expected float32[3,4], got float32[4,3]');
    }
    const badType = tf.zeros([3, 4], 'int32');
    expect(() => {
      s.value = badType;
    }).toThrow(/expected float32\[3,4\], got int32\[3,4\]/);
    // structure mismatch: a tuple written into a tensor state
    expect(() => {
      s.value = [tf.zeros([3, 4])] as unknown as tf.Tensor;
    }).toThrow(/structure mismatch/);
    // the value is untouched after failed writes
    expect(s.shape).toEqual([3, 4]);
    // reinitialize changes the shape on purpose
    s.reinitialize(tf.ones([5]));
    expect(s.shape).toEqual([5]);
    tf.dispose([bad, badType]);
    s.dispose();
  });

  it('numel counts 1 for a number and sums tree leaves', () => {
    const a = new State<number>(3);
    expect(a.numel()).toBe(1);
    const b = new State({ x: tf.zeros([2, 3]), y: [tf.zeros([4]), 1] });
    expect(b.numel()).toBe(6 + 4 + 1);
    b.dispose();
  });

  it('copy / copyFrom / replace', () => {
    const a = new ParamState(tf.tensor([1, 2]), { name: 'a' });
    const c = a.copy();
    expect(c).not.toBe(a);
    expect(c).toBeInstanceOf(ParamState);
    expect(c.name).toBe('a');
    expect(arr(c.value)).toEqual([1, 2]);
    const other = new ParamState(tf.tensor([5, 6]), { name: 'o' });
    a.copyFrom(other);
    expect(arr(a.value)).toEqual([5, 6]);
    expect(a.name).toBe('o');
    a.copyFrom(a);
    expect(() => a.copyFrom(new State(tf.tensor([0, 0])) as ParamState)).toThrow(
      /expected a ParamState, got a State/,
    );
    const r = a.replace(tf.tensor([7, 8]));
    expect(r).toBeInstanceOf(ParamState);
    expect(r).not.toBe(a);
    expect(a.replace(other)).toBe(other);
    expect(() => a.replace(new State(tf.tensor([0, 0])))).toThrow(StateError);
    tf.dispose([a, c, other, r].map((s) => s.rawValue));
  });

  it('restoreValue replaces the value without marking it written; structure is checked', () => {
    const s = new State(tf.tensor([1]));
    s.restoreValue(tf.tensor([2]));
    expect(s.beenWritten).toBe(false);
    expect(arr(s.value)).toEqual([2]);
    expect(() => s.restoreValue([tf.tensor([1])] as unknown as tf.Tensor)).toThrow(StateError);
    s.value = tf.tensor([3]);
    expect(s.beenWritten).toBe(true);
    s.dispose();
  });

  it('maybeState unwraps', () => {
    const s = new State(tf.scalar(1));
    expect(maybeState(s)).toBe(s.rawValue);
    const x = tf.scalar(2);
    expect(maybeState(x)).toBe(x);
    s.dispose();
    x.dispose();
  });

  it('the class is a label for filtering', () => {
    expect(new ParamState(0 as unknown as tf.Tensor)).toBeInstanceOf(LongTermState);
    expect(new BatchState(0 as unknown as tf.Tensor)).toBeInstanceOf(LongTermState);
    const h = new HiddenState(tf.zeros([2]));
    expect(h).toBeInstanceOf(ShortTermState);
    h.dispose();
  });
});

describe('HiddenState / HiddenGroupState (spec §10.7–8)', () => {
  it('HiddenState holds one float32 tensor', () => {
    expect(() => new HiddenState(1 as unknown as tf.Tensor)).toThrow(/holds one tensor/);
    expect(() => new HiddenState([tf.zeros([1])] as unknown as tf.Tensor)).toThrow(StateError);
    const i = tf.zeros([2], 'int32');
    expect(() => new HiddenState(i)).toThrow(/must be float32/);
    i.dispose();
    const h = new HiddenState(tf.zeros([4, 3]));
    expect(h.varshape).toEqual([4, 3]);
    expect(h.numState).toBe(1);
    h.dispose();
  });

  it('HiddenGroupState: rank ≥ 2, get/set by index or name, checked', () => {
    expect(() => new HiddenGroupState(tf.zeros([3]))).toThrow(/rank ≥ 2/);
    const g = new HiddenGroupState(tf.stack([tf.fill([2, 3], 1), tf.fill([2, 3], 2)], -1), {
      names: ['V', 'a'],
    });
    expect(g.varshape).toEqual([2, 3]);
    expect(g.numState).toBe(2);
    const v = g.getValue('V');
    const a = g.getValue(1);
    const a2 = g.getValue('1');
    expect(arr(v)).toEqual(Array(6).fill(1));
    expect(arr(a)).toEqual(Array(6).fill(2));
    expect(arr(a2)).toEqual(Array(6).fill(2));
    g.setValue({ a: tf.fill([2, 3], 5) });
    const a3 = g.getValue('a');
    expect(arr(a3)).toEqual(Array(6).fill(5));
    expect(() => g.getValue(2)).toThrow(ArgumentError);
    expect(() => g.getValue('b')).toThrow(/unknown variable 'b'/);
    const wrong = tf.zeros([3, 2]);
    expect(() => g.setValue({ V: wrong })).toThrow(/expects float32\[2,3\]/);
    tf.dispose([v, a, a2, a3, wrong]);
    g.dispose();
  });
});

describe('StateTraceStack (spec §10.9)', () => {
  it('records reads and writes in first-access order; a write of an unseen state is also a read', () => {
    const a = new State(tf.scalar(1));
    const b = new State(tf.scalar(2));
    const c = new ParamState(tf.scalar(3));
    const trace = new StateTraceStack({ name: 't' });
    trace.run(() => {
      void b.value;
      c.value = tf.scalar(4);
      void a.value;
      void b.value;
      trace.recoveryOriginalValues();
    });
    expect(trace.states).toEqual([b, c, a]);
    expect(trace.beenWritten).toEqual([false, true, false]);
    expect(trace.getReadStates()).toEqual([b, a]);
    expect(trace.getWriteStates()).toEqual([c]);
    expect(trace.getWriteStates(true)).toEqual([null, c, null]);
    expect(trace.stateSubset(ParamState)).toEqual([c]);
    expect(c.value.dataSync()[0]).toBe(3);
    expect(() => trace.recoveryOriginalValues()).toThrow(TraceContextError);
    expect(() => trace.assignStateVals([tf.scalar(0)])).toThrow(/got 1 values for 3 states/);
    [a, b, c].forEach((s) => s.dispose());
  });

  it('merge takes the union; written if written in any', () => {
    const a = new State(tf.scalar(1));
    const b = new State(tf.scalar(2));
    const t1 = new StateTraceStack().run(function (this: void) {
      return undefined;
    });
    void t1;
    const f1 = new StateTraceStack();
    f1.run(() => void a.value);
    const f2 = new StateTraceStack();
    f2.run(() => {
      b.value = tf.scalar(3);
      a.value = tf.scalar(4);
    });
    const m = f1.merge(f2);
    expect(m.states).toEqual([a, b]);
    expect(m.beenWritten).toEqual([true, true]);
    a.dispose();
    b.dispose();
  });

  it('a state created inside a frame is invisible to that frame but seen by nested ones', () => {
    const outer = new StateTraceStack({ name: 'outer' });
    const a = new State(tf.scalar(0));
    let inner!: StateTraceStack;
    let created!: State;
    outer.run(() => {
      void a.value;
      created = new State(tf.scalar(1));
      expect(created.level).toBe(1);
      inner = new StateTraceStack({ name: 'inner' });
      inner.run(() => {
        created.value = tf.scalar(2);
      });
    });
    expect(outer.states).toEqual([a]);
    expect(inner.states).toEqual([created]);
    expect(traceLevel()).toBe(0);
    a.dispose();
    created.dispose();
  });

  it('exiting out of order is an error', () => {
    const t1 = new StateTraceStack({ name: 'one' }).enter();
    const t2 = new StateTraceStack({ name: 'two' }).enter();
    expect(() => t1.exit()).toThrow(/exited out of order: the innermost frame is 'two'/);
    t2.exit();
    t1.exit();
  });

  it('checkRead can veto a state', () => {
    const p = new ParamState(tf.scalar(1), { name: 'p' });
    const t = new StateTraceStack({
      checkRead: (s) => {
        if (s instanceof ParamState) throw new StateError(`${s.describe()} may not be read here`);
      },
    });
    expect(() => t.run(() => p.value)).toThrow(/ParamState\(name='p'\) may not be read here/);
    p.dispose();
  });
});

describe('catchNewStates (spec §10.10)', () => {
  it('collects new states once, tags them, nests', () => {
    let innerCatch!: ReturnType<typeof catchNewStates<State>>;
    const outer = catchNewStates(
      () => {
        const a = new State(tf.scalar(1));
        innerCatch = catchNewStates(() => new ParamState(tf.scalar(2)), { tag: 'inner' });
        return a;
      },
      { tag: 'outer' },
    );
    expect(outer.length).toBe(2);
    expect(innerCatch.length).toBe(1);
    expect(outer.contains(innerCatch.result)).toBe(true);
    expect(outer.getByTag('inner')).toEqual([innerCatch.result]);
    expect([...outer].every((s) => s.hasTag('outer'))).toBe(true);
    expect(outer.at(0)).toBe(outer.result);
    const excluded = catchNewStates(() => [new ParamState(tf.scalar(0)), new State(tf.scalar(0))], {
      exclude: (s) => s instanceof ParamState,
    });
    expect(excluded.length).toBe(1);
    [...outer, ...excluded.result].forEach((s) => s.dispose());
  });
});

describe('recovery after re-initialisation', () => {
  it('recoveryOriginalValues puts back a value even after reinitialize changed the shape', () => {
    const s = new State(tf.zeros([2]));
    const original = s.rawValue;
    const t = new StateTraceStack({ name: 'reinit' });
    t.run(() => {
      s.reinitialize(tf.zeros([5]));
      t.recoveryOriginalValues();
    });
    expect(s.rawValue).toBe(original);
    expect(s.shape).toEqual([2]);
    expect(s.beenWritten).toBe(false);
    s.dispose();
  });
});
