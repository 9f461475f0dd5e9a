import { describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf';
import { State, flushDisposals } from '../../src/state';
import { boundedWhileLoop, whileLoop } from '../../src/compile';
import { TransformError } from '../../src/errors';

describe('whileLoop (spec §3.3, §10.26)', () => {
  it('applies the body while the condition holds (tensor or JS predicates)', () => {
    const [i, x] = whileLoop(
      ([i]) => tf.less(i, 5),
      ([i, x]) => [tf.add(i, tf.scalar(1, 'int32')), tf.mul(x, 2)],
      [tf.scalar(0, 'int32'), tf.scalar(1)],
    );
    expect(i.dataSync()[0]).toBe(5);
    expect(x.dataSync()[0]).toBe(32);
    const n = whileLoop(
      (c: { k: number }) => c.k < 3,
      (c) => ({ k: c.k + 1 }),
      { k: 0 },
    );
    expect(n).toEqual({ k: 3 });
    tf.dispose([i, x]);
  });

  it('states read in the condition and written in the body', () => {
    const count = new State(tf.scalar(0), { name: 'count' });
    const out = whileLoop(
      (_x: tf.Tensor) => tf.less(count.value, 4),
      (x) => {
        count.value = tf.add(count.value, 1);
        return tf.add(x, count.value);
      },
      tf.scalar(0),
    );
    expect(count.value.dataSync()[0]).toBe(4);
    expect(out.dataSync()[0]).toBe(1 + 2 + 3 + 4);
    out.dispose();
    count.dispose();
  });

  it('a condition that writes a state is an error naming it, and the states are restored', () => {
    const st = new State(tf.scalar(0), { name: 'sneaky' });
    const f = () =>
      whileLoop(
        (x: tf.Tensor) => {
          st.value = tf.add(st.value, 1);
          return tf.less(x, 3);
        },
        (x) => tf.add(x, 1),
        tf.scalar(0),
      );
    expect(f).toThrow(TransformError);
    expect(f).toThrow(/condFn should not write any states, but it wrote State\(name='sneaky'\)/);
    expect(st.value.dataSync()[0]).toBe(0);
    st.dispose();
  });

  it('validates the functions, the predicate and the carry', () => {
    const x = tf.scalar(0);
    expect(() => whileLoop(1 as unknown as () => boolean, (c) => c, x)).toThrow(
      /condFn must be a function/,
    );
    expect(() => whileLoop(() => true, null as unknown as (c: tf.Tensor) => tf.Tensor, x)).toThrow(
      /bodyFn must be a function/,
    );
    expect(() =>
      whileLoop(
        () => tf.ones([2]),
        (c) => c,
        x,
      ),
    ).toThrow(/predicate must be a scalar.*shape \[2\]/);
    expect(() =>
      whileLoop(
        () => null as unknown as boolean,
        (c) => c,
        x,
      ),
    ).toThrow(/predicate is null/);
    expect(() =>
      whileLoop(
        (c: tf.Tensor) => tf.less(tf.sum(c), 10),
        (c) => tf.concat([c, c]),
        tf.ones([1]),
      ),
    ).toThrow(/carry must keep.*expected float32\[1\], got float32\[2\]/);
    x.dispose();
  });

  it('does not leak over many iterations and many calls', () => {
    const st = new State(tf.zeros([3]));
    const before = tf.memory().numTensors;
    for (let r = 0; r < 20; r++) {
      const out = whileLoop(
        ([i]: [tf.Tensor, tf.Tensor]) => tf.less(i, 200),
        ([i, x]) => {
          st.value = tf.add(st.value, 1);
          return [tf.add(i, 1), tf.add(x, st.value)] as [tf.Tensor, tf.Tensor];
        },
        [tf.scalar(0), tf.zeros([3])],
      );
      tf.dispose(out);
    }
    // the init tensors passed inline are the caller's: 2 per call
    expect(tf.memory().numTensors).toBe(before + 40);
    expect(st.value.dataSync()[0]).toBe(4000);
    st.dispose();
  });

  it('is differentiable (the tape records the iterations that ran)', () => {
    // x doubles until it exceeds 10: from 1.5 that is 3 doublings → dy/dx = 8
    const g = tf.grad((x: tf.Tensor) =>
      whileLoop(
        (v: tf.Tensor) => tf.lessEqual(v, 10),
        (v) => tf.mul(v, 2),
        x,
      ),
    )(tf.scalar(1.5));
    expect(g.dataSync()[0]).toBe(8);
    g.dispose();
  });
});

describe('boundedWhileLoop', () => {
  const count = (maxSteps: number, limit = 100) =>
    boundedWhileLoop<number>(
      (c) => c < limit,
      (c) => c + 1,
      0,
      { maxSteps },
    );

  it('maxSteps caps the iterations, 0 returns init, an early exit stops before', () => {
    expect(count(7)).toBe(7);
    expect(count(0)).toBe(0);
    expect(count(50, 4)).toBe(4);
    const init = tf.scalar(3);
    const out = boundedWhileLoop(
      () => true,
      (x: tf.Tensor) => tf.add(x, 1),
      init,
      { maxSteps: 0 },
    );
    expect(out).toBe(init);
    init.dispose();
  });

  it('validates maxSteps', () => {
    expect(() => count(-1)).toThrow(/maxSteps must be an integer ≥ 0, got -1/);
    expect(() => count(1.5)).toThrow(/maxSteps must be an integer/);
    expect(() =>
      boundedWhileLoop(
        () => true,
        (c: number) => c,
        0,
        {} as { maxSteps: number },
      ),
    ).toThrow(/maxSteps must be an integer ≥ 0, got undefined/);
  });

  it('grad through an early exit', () => {
    const g = tf.grad((x: tf.Tensor) =>
      boundedWhileLoop(
        (v: tf.Tensor) => tf.less(v, 5),
        (v) => tf.mul(v, 3),
        x,
        { maxSteps: 10 },
      ),
    )(tf.scalar(1)); // 1 → 3 → 9: two steps, dy/dx = 9
    expect(g.dataSync()[0]).toBe(9);
    g.dispose();
    flushDisposals();
  });
});
