import { describe, expect, it, vi } from 'vitest';
import { tf } from '../../src/backend/tf';
import { HiddenState, ParamState, State } from '../../src/state';
import { StatefulFunction, jit, makeIR } from '../../src/compile';
import { TransformError } from '../../src/errors';
import { grad } from '../../src/augment';

describe('jit (spec §3.1, §10.22–23)', () => {
  it('writes persist after the call', () => {
    const st = new State(tf.scalar(0));
    const f = jit((x: tf.Tensor) => {
      st.value = tf.add(st.value, x);
    });
    const one = tf.scalar(1);
    f(one);
    expect(st.value.dataSync()[0]).toBe(1);
    f(one);
    expect(st.value.dataSync()[0]).toBe(2);
    expect(f.compileCount).toBe(1);
    one.dispose();
    st.dispose();
  });

  it('discovers read and written states in first-access order; states created inside are not caught', () => {
    const a = new State(tf.scalar(1), { name: 'a' });
    const b = new ParamState(tf.scalar(2), { name: 'b' });
    const inner: State[] = [];
    const f = jit((x: tf.Tensor) => {
      const c = new State(tf.scalar(3));
      inner.push(c);
      c.value = tf.add(c.value, b.value);
      a.value = tf.add(a.value, tf.mul(x, c.value));
      return a.value;
    });
    const x = tf.scalar(2);
    const sf = f.statefulFun;
    expect(sf.getStates(x)).toEqual([b, a]);
    expect(sf.getReadStates(x)).toEqual([b]);
    expect(sf.getWriteStates(x)).toEqual([a]);
    // inspection did not change or mark anything
    expect(a.value.dataSync()[0]).toBe(1);
    expect(a.beenWritten).toBe(false);
    const y = f(x);
    expect(y.dataSync()[0]).toBe(11);
    expect(y).not.toBe(a.rawValue); // results belong to the caller
    y.dispose();
    [a, b, ...inner].forEach((s) => s.dispose());
    x.dispose();
  });

  it('recompiles on argument shape/dtype change and on state shape change, not on value change', () => {
    const s = new State(tf.zeros([3]));
    const f = jit((x: tf.Tensor) => {
      s.value = tf.add(s.value, tf.sum(x));
      return tf.mul(x, 2);
    });
    const run = (x: tf.Tensor) => {
      f(x).dispose();
      x.dispose();
    };
    run(tf.ones([2]));
    run(tf.fill([2], 5));
    expect(f.compileCount).toBe(1);
    run(tf.ones([3]));
    expect(f.compileCount).toBe(2);
    run(tf.ones([3], 'int32'));
    expect(f.compileCount).toBe(3);
    s.reinitialize(tf.zeros([4]));
    run(tf.ones([3]));
    expect(f.compileCount).toBe(4);
    run(tf.ones([3]));
    expect(f.compileCount).toBe(4);
    f.clearCache();
    run(tf.ones([3]));
    expect(f.compileCount).toBe(5);
    s.dispose();
  });

  it('static args are part of the key by value', () => {
    const f = jit((x: tf.Tensor, k: number) => tf.mul(x, k), { staticArgnums: [1] });
    const x = tf.ones([2]);
    f(x, 2).dispose();
    f(x, 2).dispose();
    f(x, 3).dispose();
    expect(f.compileCount).toBe(2);
    expect(() => jit((x: tf.Tensor) => x, { staticArgnums: [-1] })).toThrow(
      /non-negative integers, got -1/,
    );
    const g = jit((x: tf.Tensor) => x, { staticArgnums: [3] });
    expect(() => g(x)).toThrow(/staticArgnums includes 3, but only 1 arguments/);
    const h = jit((x: tf.Tensor) => x, { staticArgnums: [0] });
    expect(() => h(x)).toThrow(/a tensor cannot be a static argument/);
    x.dispose();
  });

  it('States may not be passed in or returned', () => {
    const s = new State(tf.scalar(1), { name: 'w' });
    const f = jit((x: unknown) => x);
    expect(() => f(s)).toThrow(TransformError);
    expect(() => f(s)).toThrow(/cannot be States \(got State\(name='w'\)\); pass state.value/);
    const g = jit(() => s);
    expect(() => g()).toThrow(/outputs of a transformed function cannot be States/);
    s.dispose();
  });

  it('a failing function leaves no cache entry and restores every state', () => {
    const s = new State(tf.scalar(1));
    const original = s.rawValue;
    const f = jit((x: tf.Tensor) => {
      s.value = tf.add(s.value, x);
      throw new Error('boom');
    });
    const x = tf.scalar(1);
    expect(() => f(x)).toThrow('boom');
    expect(s.rawValue).toBe(original);
    expect(original.isDisposed).toBe(false);
    expect(f.compileCount).toBe(0);
    x.dispose();
    s.dispose();
  });

  it('warns once when the traced function reads data back (falls back to eager), or throws by option', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const f = jit((x: tf.Tensor) => (x.dataSync()[0] > 0 ? tf.neg(x) : tf.abs(x)), {
      name: 'branchy',
    });
    const pos = tf.scalar(1);
    const neg = tf.scalar(-1);
    expect(f(pos).dataSync()[0]).toBe(-1);
    expect(f(neg).dataSync()[0]).toBe(1); // eager every call: the branch is not frozen
    f(pos);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0][0])).toContain('branchy reads traced tensor data');
    warn.mockRestore();
    const g = jit((x: tf.Tensor) => (x.dataSync()[0] > 0 ? x : tf.abs(x)), { onHostRead: 'throw' });
    expect(() => g(pos)).toThrow(TransformError);
    tf.dispose([pos, neg]);
  });

  it('makeIR returns the program and has no side effects', () => {
    const h = new HiddenState(tf.zeros([2]), { name: 'h' });
    const step = (x: tf.Tensor) => {
      h.value = tf.tanh(tf.add(h.value, x));
      return h.value;
    };
    const x = tf.ones([2]);
    const p = makeIR(step)(x);
    expect(p.equations.map((e) => e.kernel)).toEqual(['Add', 'Tanh']);
    expect(Array.from(h.value.dataSync())).toEqual([0, 0]);
    expect(h.beenWritten).toBe(false);
    x.dispose();
    h.dispose();
  });

  it('zero tensor leaks over 10 000 jit calls', () => {
    const V = new HiddenState(tf.zeros([64]));
    const I = tf.fill([64], 1.5);
    const f = jit((inp: tf.Tensor) => {
      const v = tf.add(V.value, tf.mul(0.1, tf.sub(inp, V.value)));
      const spike = tf.cast(tf.greater(v, 1), 'float32');
      V.value = tf.sub(v, spike);
      return tf.sum(spike);
    });
    f(I).dispose();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 10_000; i++) f(I).dispose();
    expect(tf.memory().numTensors).toBe(before);
    expect(f.compileCount).toBe(1);
    I.dispose();
    V.dispose();
  });

  it('StatefulFunction rejects non-functions', () => {
    expect(() => new StatefulFunction(3 as unknown as () => void)).toThrow(/expected a function/);
  });
});

describe('jit of a function that takes a gradient', () => {
  it('replays the forward and backward kernels: an SGD step on Σ (w·x)² matches the closed form', () => {
    const w = new ParamState(tf.tensor1d([1, 2, 3]));
    const x = tf.tensor1d([1, -1, 0.5]);
    const step = jit((xx: tf.Tensor) => {
      const [g, loss] = grad(() => tf.sum(tf.square(tf.mul(w.value, xx))), {
        gradStates: [w],
        returnValue: true,
      })() as unknown as [tf.Tensor[], tf.Tensor];
      w.value = tf.sub(w.value, tf.mul(0.1, g[0]));
      return loss;
    });
    const ref = [1, 2, 3];
    const xs = [1, -1, 0.5];
    const before: number[] = [];
    for (let i = 0; i < 5; i++) {
      const loss = step(x);
      const l = ref.reduce((s, wi, j) => s + (wi * xs[j]) ** 2, 0);
      expect(loss.dataSync()[0]).toBeCloseTo(l, 4);
      loss.dispose();
      // dL/dw = 2·w·x²
      for (let j = 0; j < 3; j++) ref[j] -= 0.1 * 2 * ref[j] * xs[j] ** 2;
      const got = Array.from(w.value.dataSync());
      got.forEach((v, j) => expect(v).toBeCloseTo(ref[j], 5));
      before.push(tf.memory().numTensors);
    }
    expect(step.replayCount).toBe(4);
    expect(before[4]).toBe(before[1]);
    x.dispose();
    w.dispose();
  });

  it('fuses the forward body of a custom gradient in the replay', () => {
    const h = new HiddenState(tf.tensor1d([0.5, -1, 2, 0]));
    const f = tf.customGrad(((a: tf.Tensor, save: (t: tf.Tensor[]) => void) => {
      save([a]);
      return {
        value: tf.mul(tf.exp(a), tf.add(a, 1)),
        gradFunc: (dy: tf.Tensor, [s]: tf.Tensor[]) => tf.mul(dy, s),
      };
    }) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (a: tf.Tensor) => tf.Tensor;
    const body = (x: tf.Tensor) => {
      h.value = tf.mul(f(tf.add(h.value, x)), 0.5);
      return tf.sum(h.value);
    };
    const ref = new HiddenState(tf.tensor1d([0.5, -1, 2, 0]));
    const eager = (x: tf.Tensor) => {
      const a = tf.add(ref.value, x);
      ref.value = tf.mul(tf.mul(tf.exp(a), tf.add(a, 1)), 0.5);
    };
    const step = jit(body);
    const x = tf.tensor1d([0.1, 0.2, -0.3, 0.05]);
    for (let i = 0; i < 4; i++) {
      step(x).dispose();
      tf.tidy(() => eager(x));
      const a = h.value.dataSync();
      const b = ref.value.dataSync();
      for (let j = 0; j < 4; j++) expect(a[j]).toBeCloseTo(b[j], 5);
    }
    expect(step.replayCount).toBe(3);
    const r = step.statefulFun.replayEntry(x);
    expect(typeof r).not.toBe('string');
    const plan = (r as { plan: { fusedRunner?: { numFused: number } } }).plan;
    expect(plan.fusedRunner?.numFused ?? 0).toBeGreaterThan(0);
    x.dispose();
    h.dispose();
    ref.dispose();
  });
});
