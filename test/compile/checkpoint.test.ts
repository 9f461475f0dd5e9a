import { describe, expect, it, vi } from 'vitest';
import { tf } from '../../src/backend/tf';
import { HiddenState, ParamState, State } from '../../src/state';
import { grad } from '../../src/augment';
import { checkpoint, forLoop, remat } from '../../src/compile';
import { TransformError } from '../../src/errors';

const values = (t: tf.Tensor): number[] => Array.from(t.dataSync());

function expectClose(a: tf.Tensor, b: tf.Tensor, rel: number): void {
  const x = values(a);
  const y = values(b);
  expect(x.length).toBe(y.length);
  const scale = Math.max(...y.map(Math.abs), 1e-12);
  x.forEach((v, i) => expect(Math.abs(v - y[i])).toBeLessThanOrEqual(rel * scale));
}

describe('checkpoint / remat (spec §3.5)', () => {
  it('without a tape it is a plain call with the same state write-back', () => {
    const st = new State(tf.scalar(1));
    const f = checkpoint((x: tf.Tensor) => {
      st.value = tf.add(st.value, x);
      return { y: tf.mul(st.value, 2), k: 3 };
    });
    const out = f(tf.scalar(4));
    expect(out.y.dataSync()[0]).toBe(10);
    expect(out.k).toBe(3);
    expect(st.value.dataSync()[0]).toBe(5);
    expect(f.traceCount).toBe(0);
    expect(remat).toBe(checkpoint);
    out.y.dispose();
    st.dispose();
  });

  it('under tf.grad: same values, same gradients (args and states), written states get their new values', () => {
    const w = new ParamState<tf.Tensor>(tf.tensor1d([0.5, -1, 2]), { name: 'w' });
    const h = new HiddenState(tf.tensor1d([0.1, 0.2, 0.3]), { name: 'h' });
    const count = new State(tf.scalar(0, 'int32'), { name: 'count' });
    const step = (x: tf.Tensor, scale: number) => {
      h.value = tf.tanh(tf.add(tf.mul(h.value, w.value), x));
      count.value = tf.add(count.value, tf.scalar(1, 'int32'));
      return {
        out: tf.mul(tf.sum(h.value), scale),
        spikes: tf.greater(h.value, 0),
        n: count.value,
      };
    };
    const ck = checkpoint(step);
    const hInit = tf.tensor1d([0.1, 0.2, 0.3]);
    const wInit = tf.tensor1d([0.5, -1, 2]);
    const x0 = tf.tensor1d([0.3, -0.2, 0.1]);
    const run = (f: typeof step) =>
      // d/dx and d/dw of a loss through two calls, with w substituted as augment's grad does
      tf.grads((x: tf.Tensor, wv: tf.Tensor) => {
        w.value = wv;
        h.value = tf.clone(hInit);
        const a = f(x, 2);
        const b = f(tf.mul(x, 0.5), 3);
        expect(a.spikes.dtype).toBe('bool');
        expect(a.n.dtype).toBe('int32');
        return tf.add(tf.add(a.out, b.out), tf.sum(tf.square(h.value)));
      })([x0, tf.clone(wInit)]);
    const [gxPlain, gwPlain] = run(step);
    const hPlain = values(h.value);
    const [gxCk, gwCk] = run(ck);
    expect(values(h.value)).toEqual(hPlain);
    expect(count.value.dataSync()[0]).toBe(4);
    expectClose(gxCk, gxPlain, 1e-5);
    expectClose(gwCk, gwPlain, 1e-5);
    expect(ck.traceCount).toBe(2); // states discovered once per signature (scale 2 and 3 are static)
    tf.dispose([gxPlain, gwPlain, gxCk, gwCk, hInit, wInit, x0]);
    [w, h, count].forEach((s) => s.dispose());
  });

  it('rejects States as arguments and results, and non-functions', () => {
    const st = new State(tf.scalar(1));
    expect(() => checkpoint(3 as unknown as () => void)).toThrow(/fn must be a function/);
    expect(() => checkpoint((s: unknown) => s)(st)).toThrow(TransformError);
    expect(() => checkpoint(() => st)()).toThrow(/cannot be States/);
    st.dispose();
  });

  it('warns once that tensors captured by closure get no gradient through the checkpoint', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const captured = tf.tensor1d([1, 2]);
    const f = checkpoint((x: tf.Tensor) => tf.mul(x, captured), { name: 'scaled' });
    for (let i = 0; i < 3; i++) tf.grad((x: tf.Tensor) => tf.sum(f(x)))(tf.ones([2])).dispose();
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0][0])).toMatch(
      /checkpoint\(scaled\) uses 1 float tensor\(s\) captured by closure \(float32\[2\]\)/,
    );
    warn.mockRestore();
    captured.dispose();
  });

  it('a state touched only on some calls is picked up (re-discovered) and gets its gradient', () => {
    const a = new State(tf.scalar(2), { name: 'a' });
    const b = new State(tf.scalar(5), { name: 'b' });
    let useB = false;
    const f = checkpoint((x: tf.Tensor) => (useB ? tf.mul(x, b.value) : tf.mul(x, a.value)));
    const g1 = tf.grad((x: tf.Tensor) => f(x))(tf.scalar(1));
    useB = true;
    const g2 = tf.grad((x: tf.Tensor) => f(x))(tf.scalar(1));
    expect(g1.dataSync()[0]).toBe(2);
    expect(g2.dataSync()[0]).toBe(5);
    expect(f.traceCount).toBe(2);
    tf.dispose([g1, g2]);
    a.dispose();
    b.dispose();
  });

  it('cuts BPTT memory: tf.grad through 200 RNN steps, checkpointed in chunks of 20', async () => {
    const Bsz = 4;
    const H = 16;
    const T = 200;
    const C = 20;
    const W = tf.randomNormal([H, H], 0, 0.3, 'float32', 1);
    const U = tf.randomNormal([H, H], 0, 0.3, 'float32', 2);
    const xs = tf.randomNormal([T, Bsz, H], 0, 1, 'float32', 3);
    const xsChunks = tf.reshape(xs, [T / C, C, Bsz, H]);
    const h = new HiddenState(tf.zeros([Bsz, H]));
    const step = (x: tf.Tensor, w: tf.Tensor, u: tf.Tensor) => {
      h.value = tf.tanh(tf.add(tf.matMul(h.value, w), tf.matMul(x, u)));
    };
    const lossPlain = (w: tf.Tensor, u: tf.Tensor) => {
      h.value = tf.zeros([Bsz, H]);
      forLoop((x: tf.Tensor) => step(x, w, u), xs);
      return tf.mean(tf.square(h.value));
    };
    const chunk = checkpoint((xc: tf.Tensor, w: tf.Tensor, u: tf.Tensor) => {
      forLoop((x: tf.Tensor) => step(x, w, u), xc);
    });
    const lossCk = (w: tf.Tensor, u: tf.Tensor) => {
      h.value = tf.zeros([Bsz, H]);
      forLoop((xc: tf.Tensor) => chunk(xc, w, u), xsChunks);
      return tf.mean(tf.square(h.value));
    };
    const measure = async (loss: typeof lossPlain) => {
      const base = tf.memory().numBytes;
      let grads: tf.Tensor[] = [];
      const info = await tf.profile(() => {
        grads = tf.grads(loss)([W, U]);
      });
      const peak = info.peakBytes - base; // tf.profile returns one shared object: read it now
      h.value = tf.zeros([Bsz, H]); // a top-level write frees what the tape kept
      return { peak, grads };
    };
    const before = tf.memory().numTensors;
    const plain = await measure(lossPlain);
    const ck = await measure(lossCk);
    console.log(
      `BPTT peak above baseline, T=${T} B=${Bsz} H=${H}: plain ${plain.peak} B, checkpointed (chunks of ${C}) ${ck.peak} B`,
    );
    expect(ck.peak).toBeLessThan(0.5 * plain.peak);
    expectClose(ck.grads[0], plain.grads[0], 1e-5);
    expectClose(ck.grads[1], plain.grads[1], 1e-5);
    tf.dispose([...plain.grads, ...ck.grads]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([W, U, xs, xsChunks]);
    h.dispose();
  });

  it("works with augment's grad over ParamStates (the states are the node's inputs)", () => {
    const W = new ParamState<tf.Tensor>(
      tf.tensor2d([
        [0.5, -0.3],
        [0.2, 0.8],
      ]),
      { name: 'W' },
    );
    const h = new HiddenState(tf.zeros([1, 2]), { name: 'h' });
    const xs = tf.randomNormal([8, 4, 1, 2], 0, 1, 'float32', 9);
    const step = (x: tf.Tensor) => {
      h.value = tf.tanh(tf.add(tf.matMul(h.value, W.value), x));
      return h.value;
    };
    const chunk = checkpoint((xc: tf.Tensor) => forLoop(step, xc));
    const lossOf = (inner: (xc: tf.Tensor) => tf.Tensor) => () => {
      h.value = tf.zeros([1, 2]);
      return tf.mean(tf.square(forLoop(inner, xs)));
    };
    const gPlain = grad(
      lossOf((xc) => forLoop(step, xc)),
      { gradStates: W },
    )();
    const gCk = grad(lossOf(chunk), { gradStates: W })();
    expectClose(gCk, gPlain, 1e-5);
    tf.dispose([gPlain, gCk, xs]);
    W.dispose();
    h.dispose();
  });

  it('no tensors leak over repeated checkpoint + grad loops', () => {
    const w = tf.tensor2d([
      [0.5, -0.2],
      [0.1, 0.4],
    ]);
    const xs = tf.randomNormal([6, 3, 1, 2], 0, 1, 'float32', 4);
    const h = new HiddenState(tf.zeros([1, 2]));
    const chunk = checkpoint((xc: tf.Tensor, wv: tf.Tensor) =>
      forLoop((x: tf.Tensor) => {
        h.value = tf.tanh(tf.add(tf.matMul(h.value, wv), x));
        return h.value;
      }, xc),
    );
    const loss = (wv: tf.Tensor) => {
      h.value = tf.zeros([1, 2]);
      const hs = forLoop((xc: tf.Tensor) => chunk(xc, wv), xs);
      return tf.mean(hs);
    };
    tf.grad(loss)(w).dispose(); // warm-up: the first call discovers the states
    h.value = tf.zeros([1, 2]);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 20; i++) {
      tf.grad(loss)(w).dispose();
      h.value = tf.zeros([1, 2]);
    }
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([w, xs]);
    h.dispose();
  });
});
