/** No tensor leaks over many calls of the transforms, including calls that throw. */
import { describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf';
import { grad, hessian, jacfwd, vmap } from '../../src/augment';
import * as random from '../../src/random';
import { HiddenState, ParamState } from '../../src/state';
import { disposeTree } from './helpers';

describe('memory', () => {
  it('10 000 grad calls of a tiny function leak nothing', () => {
    const w = new ParamState(tf.tensor([0.5, -0.5]));
    const h = new HiddenState(tf.zeros([2]));
    const x = tf.tensor([1, 2]);
    const f = (v: tf.Tensor) => {
      h.value = tf.tanh(tf.mul(w.value, v));
      return [tf.sum(h.value), h.value] as const;
    };
    const g = grad(f, { gradStates: { w }, argnums: 0, hasAux: true, returnValue: true });
    const before = tf.memory().numTensors;
    for (let i = 0; i < 10_000; i++) {
      const r = g(x);
      disposeTree(r);
    }
    expect(tf.memory().numTensors).toBe(before);
    // failing calls (a check inside the taped forward pass) leak nothing either
    const bad = grad((v: tf.Tensor) => tf.mul(tf.tanh(v), w.value));
    for (let i = 0; i < 100; i++) expect(() => bad(x)).toThrow(/scalar/);
    const throwing = grad(
      () => {
        h.value = tf.exp(w.value);
        throw new Error('user error');
      },
      { gradStates: w },
    );
    for (let i = 0; i < 100; i++) expect(() => throwing()).toThrow('user error');
    expect(tf.memory().numTensors).toBe(before);
    // the Jacobian and Hessian paths
    for (let i = 0; i < 100; i++) {
      disposeTree(jacfwd((v: tf.Tensor) => tf.tanh(tf.mul(v, w.value)))(x));
      disposeTree(hessian((v: tf.Tensor) => tf.sum(tf.exp(tf.mul(v, w.value))))(x));
    }
    expect(tf.memory().numTensors).toBe(before);
    disposeTree([x]);
    w.dispose();
    h.dispose();
  });

  it('1000 vmap calls leak nothing (with in/out states, broadcast states and random draws)', () => {
    const h = new HiddenState(tf.zeros([4, 3]));
    const w = new ParamState(tf.ones([3]));
    const x = tf.ones([4, 3]);
    const f = vmap(
      (xi: tf.Tensor) => {
        h.value = tf.add(tf.mul(h.value, 0.5), tf.mul(xi, w.value));
        return [tf.sum(h.value), random.rand(2)];
      },
      { inStates: h },
    );
    const before = tf.memory().numTensors;
    for (let i = 0; i < 1000; i++) disposeTree(f(x));
    expect(tf.memory().numTensors).toBe(before);
    const bad = vmap((xi: tf.Tensor) => {
      w.value = tf.add(w.value, xi);
    });
    const rows = tf.reshape(tf.range(0, 12), [4, 3]);
    const countBefore = tf.memory().numTensors;
    for (let i = 0; i < 50; i++) expect(() => bad(rows)).toThrow(/batched/);
    expect(tf.memory().numTensors).toBe(countBefore);
    disposeTree([x, rows]);
    h.dispose();
    w.dispose();
  });
});
