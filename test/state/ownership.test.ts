import { describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf';
import {
  State,
  ParamState,
  StateTraceStack,
  ownerCount,
  pendingDisposals,
  stateDict,
  updateStateDict,
  loadStateDict,
  disposeStateDict,
  TreefyState,
} from '../../src/state';
import { KeyNotFoundError } from '../../src/errors';

describe('tensor ownership', () => {
  it('a state keeps its tensor alive across tf.tidy and frees the old one on write', () => {
    const before = tf.memory().numTensors;
    let s!: State;
    tf.tidy(() => {
      s = new State(tf.add(tf.ones([3]), 1));
    });
    expect(tf.memory().numTensors).toBe(before + 1);
    for (let i = 0; i < 1000; i++) {
      tf.tidy(() => {
        s.value = tf.add(s.value, 1);
      });
    }
    expect(s.value.dataSync()[0]).toBe(1002);
    expect(tf.memory().numTensors).toBe(before + 1);
    s.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('states sharing a tensor count owners; the tensor lives until the last one lets go', () => {
    const a = new State(tf.ones([2]));
    const b = new State(tf.zeros([2]));
    b.value = a.value;
    expect(ownerCount(a.rawValue)).toBe(2);
    const shared = a.rawValue;
    a.value = tf.zeros([2]);
    expect(shared.isDisposed).toBe(false);
    expect(Array.from(b.value.dataSync())).toEqual([1, 1]);
    b.value = tf.zeros([2]);
    expect(shared.isDisposed).toBe(true);
    a.dispose();
    b.dispose();
  });

  it('inside a trace frame old values are kept until the outermost frame ends', () => {
    const s = new State(tf.scalar(1));
    const original = s.rawValue;
    const outer = new StateTraceStack({ name: 'outer' });
    outer.run(() => {
      new StateTraceStack({ name: 'inner' }).run(() => {
        s.value = tf.scalar(2);
        s.value = tf.scalar(3);
      });
      expect(original.isDisposed).toBe(false);
      expect(pendingDisposals()).toBe(2);
      outer.recoveryOriginalValues();
    });
    // the original was restored (re-owned) and survives; the intermediate value is freed
    expect(original.isDisposed).toBe(false);
    expect(s.rawValue).toBe(original);
    expect(pendingDisposals()).toBe(0);
    s.dispose();
  });

  it('writes inside tf.grad do not free tensors the tape still needs', () => {
    const s = new State(tf.tensor([1, 2, 3]));
    const before = tf.memory().numTensors;
    const one = tf.scalar(1);
    const before2 = tf.memory().numTensors;
    for (let k = 0; k < 50; k++) {
      const g = tf.grad((x: tf.Tensor) => {
        const v0 = s.value;
        s.value = tf.mul(v0, x);
        const v1 = s.value;
        s.value = tf.mul(v1, v1); // the old value v1 is needed by the backward pass of this mul
        return tf.sum(s.value);
      })(one);
      // d/dx sum((v0 x)^2) = 2 x sum(v0^2)
      expect(g.dataSync()[0]).toBeCloseTo(28, 4);
      g.dispose();
      s.value = tf.tensor([1, 2, 3]);
    }
    expect(tf.memory().numTensors).toBe(before2);
    one.dispose();
    s.dispose();
    expect(tf.memory().numTensors).toBe(before - 1);
  });

  it('gradient through state writes is correct', () => {
    const s = new State(tf.tensor([1, 2, 3]));
    const g = tf.grad((x: tf.Tensor) => {
      s.value = tf.mul(s.value, x);
      s.value = tf.mul(s.value, s.value);
      return tf.sum(s.value);
    })(tf.scalar(2));
    expect(g.dataSync()[0]).toBeCloseTo(2 * 2 * 14, 4);
    g.dispose();
    s.dispose();
  });
});

describe('snapshots (immer)', () => {
  it('stateDict is frozen, co-owns tensors, updates functionally and loads back', () => {
    const before = tf.memory().numTensors;
    const w = new ParamState(tf.ones([2, 2]));
    const b = new ParamState(tf.zeros([2]));
    const dict = stateDict({ w, b });
    expect(Object.isFrozen(dict)).toBe(true);
    const oldW = w.rawValue;
    w.value = tf.zeros([2, 2]);
    expect(oldW.isDisposed).toBe(false); // the snapshot still owns it
    const replacement = tf.fill([2], 7);
    const next = updateStateDict(dict, (d) => {
      d.b = replacement;
    });
    expect(next).not.toBe(dict);
    expect(dict.b).not.toBe(replacement);
    expect(Object.isFrozen(next)).toBe(true);
    loadStateDict({ w, b }, next);
    expect(Array.from(b.value.dataSync())).toEqual([7, 7]);
    expect(Array.from(w.value.dataSync())).toEqual([1, 1, 1, 1]);
    expect(() => loadStateDict({ w }, next)).toThrow(KeyNotFoundError);
    expect(() => loadStateDict({ w, b, c: new ParamState(tf.zeros([1])) }, next)).toThrow(
      /no value for 'c'/,
    );
    disposeStateDict(dict);
    w.dispose();
    b.dispose();
    expect(tf.memory().numTensors).toBe(before + 1); // the stray ParamState 'c' above
  });

  it('TreefyState round-trips a state', () => {
    const s = new ParamState(tf.tensor([1, 2]), { name: 'p', tag: 't' });
    const ref = TreefyState.of(s);
    expect(Object.isFrozen(ref)).toBe(true);
    const s2 = ref.toState();
    expect(s2).toBeInstanceOf(ParamState);
    expect(s2.name).toBe('p');
    expect(s2.hasTag('t')).toBe(true);
    expect(Array.from(s2.value.dataSync())).toEqual([1, 2]);
    ref.dispose();
    s.dispose();
    expect(s2.rawValue.isDisposed).toBe(false);
    s2.dispose();
  });
});
