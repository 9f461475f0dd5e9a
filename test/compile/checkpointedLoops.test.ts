import { describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf';
import { HiddenState, ParamState, State } from '../../src/state';
import { checkpointedForLoop, checkpointedScan, forLoop } from '../../src/compile';
import { TransformError } from '../../src/errors';

const values = (t: tf.Tensor): number[] => Array.from(t.dataSync());

describe('checkpointedScan / checkpointedForLoop (spec §3.2, §10.25)', () => {
  it('base=2: carry = Σx, ys = [0, 0, 2, 6, 12] for xs = 0..4, and a state counts 5 steps', () => {
    const st = new State(tf.scalar(0));
    const body = (carry: tf.Tensor, x: tf.Tensor) => {
      st.value = tf.add(st.value, 1);
      return [tf.add(carry, x), tf.mul(carry, 2)] as const;
    };
    const xs = tf.range(0, 5);
    const [c, ys] = checkpointedScan(body, tf.scalar(0), xs, { base: 2 });
    expect(c.dataSync()[0]).toBe(10);
    expect(values(ys)).toEqual([0, 0, 2, 6, 12]);
    expect(st.value.dataSync()[0]).toBe(5);
    // the same under a tape, where the nested checkpoints are built
    st.value = tf.scalar(0);
    const g = tf.grad((x0: tf.Tensor) => {
      const [carry, out] = checkpointedScan(body, x0, xs, { base: 2 });
      expect(values(out)).toEqual([0, 0, 2, 6, 12]);
      return tf.add(carry, tf.sum(out));
    })(tf.scalar(0));
    // d/dx0 of carry (x0 + Σx) + Σ 2·(x0 + prefix sums) = 1 + 2·5
    expect(g.dataSync()[0]).toBe(11);
    expect(st.value.dataSync()[0]).toBe(5);
    tf.dispose([xs, c, ys, g]);
    st.dispose();
  });

  it('checkpointedForLoop gives the gradients of forLoop (RNN, T=37, base 4: three levels)', () => {
    const h = new HiddenState(tf.zeros([2, 3]));
    const W = new ParamState<tf.Tensor>(tf.zeros([3, 3]));
    const xs = tf.randomNormal([37, 2, 3], 0, 1, 'float32', 5);
    const w0 = tf.randomNormal([3, 3], 0, 0.5, 'float32', 6);
    // the weight lives in a ParamState whose value is substituted, as augment's grad does
    const lossWith = (loop: typeof forLoop) => (w: tf.Tensor) => {
      W.value = tf.clone(w);
      h.value = tf.zeros([2, 3]);
      const hs = loop((x: tf.Tensor) => {
        h.value = tf.tanh(tf.add(tf.matMul(h.value, W.value), x));
        return h.value;
      }, xs);
      return tf.mean(tf.square(hs));
    };
    const gPlain = tf.grad(lossWith(forLoop))(w0);
    const gCk = tf.grad(
      lossWith(((f: (x: tf.Tensor) => tf.Tensor, x: tf.Tensor) =>
        checkpointedForLoop(f, x, { base: 4 })) as typeof forLoop),
    )(w0);
    const a = values(gPlain);
    const b = values(gCk);
    const scale = Math.max(...a.map(Math.abs));
    b.forEach((v, i) => expect(Math.abs(v - a[i])).toBeLessThanOrEqual(1e-5 * scale));
    tf.dispose([gPlain, gCk, xs, w0]);
    h.dispose();
    W.dispose();
  });

  it('validates base and length', () => {
    const xs = tf.ones([3]);
    const body = (c: number, x: tf.Tensor | undefined) => [c, x] as const;
    const err = (f: () => unknown, pattern: RegExp) => {
      expect(f).toThrow(TransformError);
      expect(f).toThrow(pattern);
    };
    err(() => checkpointedScan(body, 0, xs, { base: 1 }), /base must be an integer ≥ 2, got 1/);
    err(() => checkpointedScan(body, 0, xs, { base: 2.5 }), /base must be an integer ≥ 2/);
    err(
      () => checkpointedScan(body, 0, xs, { base: true as unknown as number }),
      /base must be an integer ≥ 2, got true/,
    );
    err(
      () => checkpointedScan(body, 0, undefined, { length: 0 }),
      /length must be an integer ≥ 1, got 0/,
    );
    err(() => checkpointedScan(body, 0, tf.zeros([0])), /at least one iteration/);
    err(
      () => checkpointedScan((c: number) => c as unknown as readonly [number, number], 0, xs),
      /must return \[carry, y\]/,
    );
    err(() => checkpointedForLoop(() => 1, {}), /give xs to loop over or a length/);
    xs.dispose();
  });
});
