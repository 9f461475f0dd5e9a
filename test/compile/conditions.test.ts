import { describe, expect, it, vi } from 'vitest';
import { tf } from '../../src/backend/tf';
import { State } from '../../src/state';
import { cond, ifElse, jit, switch_, switchCase } from '../../src/compile';
import { TransformError } from '../../src/errors';

const untypedCond = cond as (...args: unknown[]) => unknown;

describe('cond (spec §3.4, §10.27)', () => {
  it('runs only the chosen branch; numbers and integer tensors are truthy when non-zero', () => {
    const calls: string[] = [];
    const t = (x: number) => (calls.push('t'), x + 1);
    const f = (x: number) => (calls.push('f'), x - 1);
    expect(cond(true, t, f, 10)).toBe(11);
    expect(cond(0, t, f, 10)).toBe(9);
    expect(cond(2, t, f, 10)).toBe(11);
    expect(cond(tf.scalar(3, 'int32'), t, f, 10)).toBe(11);
    expect(cond(tf.scalar(0, 'int32'), t, f, 10)).toBe(9);
    expect(cond(tf.scalar(true, 'bool'), t, f, 10)).toBe(11);
    expect(cond(tf.scalar(0.5), t, f, 10)).toBe(11);
    expect(calls).toEqual(['t', 'f', 't', 't', 'f', 't', 't']);
  });

  it('rejects non-scalar, null, sequence, complex and State predicates', () => {
    const id = (x: number) => x;
    const err = (pred: unknown, pattern: RegExp) => {
      expect(() => untypedCond(pred, id, id, 1)).toThrow(TransformError);
      expect(() => untypedCond(pred, id, id, 1)).toThrow(pattern);
    };
    const v = tf.tensor1d([1, 0]);
    const st = new State(tf.scalar(1));
    err(v, /predicate must be a scalar, got a tensor of shape \[2\]/);
    err(null, /predicate is null/);
    err(undefined, /predicate is undefined/);
    err([true], /predicate must be a scalar, got a sequence/);
    if (tf.getBackend() === 'cpu') {
      const c = tf.complex([1], [0]).reshape([]); // no Complex kernel on wasm
      err(c, /boolean or numeric, got a complex64 tensor/);
      c.dispose();
    }
    err('yes', /must be a boolean, a number or a scalar tensor, got "yes"/);
    err(st, /predicate is a State/);
    expect(() => untypedCond(true, id, 3, 1)).toThrow(/falseFn must be a function/);
    v.dispose();
    st.dispose();
  });

  it('a state written only in the branch not taken is untouched; the taken branch writes persist', () => {
    const a = new State(tf.scalar(0), { name: 'a' });
    const b = new State(tf.scalar(0), { name: 'b' });
    const r = cond(
      tf.scalar(1),
      (x: tf.Tensor) => {
        a.value = tf.add(a.value, x);
        return b.value; // read in one branch, written in the other
      },
      (x: tf.Tensor) => {
        b.value = tf.add(b.value, x);
        return b.value;
      },
      tf.scalar(5),
    );
    expect(a.value.dataSync()[0]).toBe(5);
    expect(b.value.dataSync()[0]).toBe(0);
    expect(b.beenWritten).toBe(false);
    expect(r).not.toBe(b.rawValue); // results that are state values are copied for the caller
    r.dispose();
    a.dispose();
    b.dispose();
  });

  it('cross-branch writes under jit and the state list of the jitted function', () => {
    const a = new State(tf.scalar(1), { name: 'a' });
    const b = new State(tf.scalar(1), { name: 'b' });
    // cond reads the predicate's data, so jit runs this function eagerly and says so once
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const f = jit((p: tf.Tensor) =>
      cond(
        p,
        () => {
          a.value = tf.mul(a.value, 2);
        },
        () => {
          b.value = tf.mul(b.value, 3);
        },
      ),
    );
    f(tf.scalar(true, 'bool'));
    f(tf.scalar(false, 'bool'));
    f(tf.scalar(true, 'bool'));
    expect(a.value.dataSync()[0]).toBe(4);
    expect(b.value.dataSync()[0]).toBe(3);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0][0])).toMatch(/reads traced tensor data/);
    warn.mockRestore();
    a.dispose();
    b.dispose();
  });

  it('grad through cond follows the branch that ran', () => {
    const f = (x: tf.Tensor) =>
      cond(
        tf.greater(x, 0),
        (v: tf.Tensor) => tf.mul(v, v),
        (v: tf.Tensor) => tf.mul(v, -3),
        x,
      );
    const gp = tf.grad(f)(tf.scalar(2));
    const gn = tf.grad(f)(tf.scalar(-2));
    expect(gp.dataSync()[0]).toBe(4);
    expect(gn.dataSync()[0]).toBe(-3);
    tf.dispose([gp, gn]);
  });

  it('an error in a branch restores the states it touched', () => {
    const a = new State(tf.scalar(1));
    expect(() =>
      cond(
        true,
        () => {
          a.value = tf.scalar(9);
          throw new Error('inner');
        },
        () => undefined,
      ),
    ).toThrow('inner');
    expect(a.value.dataSync()[0]).toBe(1);
    a.dispose();
  });

  it('does not leak', () => {
    const a = new State(tf.zeros([4]));
    const before = tf.memory().numTensors;
    for (let i = 0; i < 500; i++) {
      const out = cond(
        i % 3 === 0,
        () => {
          a.value = tf.add(a.value, 1);
          return a.value;
        },
        () => tf.sub(a.value, 1),
      );
      out.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
    expect(a.value.dataSync()[0]).toBe(167);
    a.dispose();
  });
});

describe('switchCase / switch_', () => {
  const branches = [(x: number) => x, (x: number) => x * 10, (x: number) => x * 100];
  const untypedSwitch = switchCase as (...args: unknown[]) => unknown;

  it('selects by index and clamps it to the branches', () => {
    expect(switchCase(1, branches, 2)).toBe(20);
    expect(switchCase(tf.scalar(2, 'int32'), branches, 2)).toBe(200);
    expect(switchCase(-4, branches, 2)).toBe(2);
    expect(switchCase(17, branches, 2)).toBe(200);
    expect(switch_(tf.scalar(9, 'int32'), branches, 3)).toBe(300);
  });

  it('a single branch is called directly, whatever the index', () => {
    expect(switchCase(5, [(x: number) => x + 1], 1)).toBe(2);
  });

  it('rejects non-integer and non-scalar indices and empty branch lists', () => {
    const f = tf.scalar(1.0);
    const v = tf.tensor1d([1], 'int32');
    expect(() => untypedSwitch(1.5, branches, 0)).toThrow(/index must be an integer, got 1.5/);
    expect(() => untypedSwitch(f, branches, 0)).toThrow(
      /index must be an integer, got a float32 tensor/,
    );
    expect(() => untypedSwitch(v, branches, 0)).toThrow(
      /index must be a scalar, got a tensor of shape \[1\]/,
    );
    expect(() => untypedSwitch(true, branches, 0)).toThrow(
      /index must be an integer or a scalar int32 tensor/,
    );
    expect(() => untypedSwitch(0, [], 0)).toThrow(/branches is empty/);
    expect(() => untypedSwitch(0, [branches[0], 'x'], 0)).toThrow(
      /branches\[1\] must be a function/,
    );
    tf.dispose([f, v]);
  });
});

describe('ifElse', () => {
  const branches = [() => 'a', () => 'b', () => 'c'];
  const untypedIfElse = ifElse as (...args: unknown[]) => unknown;

  it('runs the branch of the single true condition', () => {
    expect(ifElse([false, true, false], branches)).toBe('b');
    expect(ifElse(tf.tensor1d([0, 0, 1], 'bool'), branches)).toBe('c');
    expect(ifElse([tf.scalar(0), tf.scalar(1), 0], branches)).toBe('b');
    const add = [(x: number, y: number) => x + y, (x: number, y: number) => x - y];
    expect(ifElse([false, true], add, 5, 3)).toBe(2);
    expect(ifElse([true, false], add, 5, 3, { checkCond: true })).toBe(8);
  });

  it('checkCond requires exactly one true condition', () => {
    expect(() => ifElse([true, true, false], branches)).toThrow(
      /Only one condition can be True\. But got \[true, true, false\]\./,
    );
    expect(() => ifElse([false, false, false], branches)).toThrow(TransformError);
  });

  it('with checkCond false the first true condition wins, and the last branch runs if none is true', () => {
    expect(ifElse([true, true, false], branches, { checkCond: false })).toBe('a');
    expect(ifElse([false, true, true], branches, { checkCond: false })).toBe('b');
    expect(ifElse([false, false, false], branches, { checkCond: false })).toBe('c');
  });

  it('validates lengths (also with one branch) and the single-branch short cut', () => {
    expect(() => ifElse([true, false], branches)).toThrow(/got 2 conditions for 3 branches/);
    expect(() => ifElse([true, false], [branches[0]])).toThrow(/got 2 conditions for 1 branches/);
    expect(() => ifElse([], [])).toThrow(/branches is empty/);
    expect(ifElse([false], [() => 'only'])).toBe('only');
    expect(() => untypedIfElse(true, branches)).toThrow(
      /conditions must be an array of predicates/,
    );
    expect(() => untypedIfElse([true, null, false], branches)).toThrow(
      /conditions\[1\].*predicate is null/,
    );
  });
});
