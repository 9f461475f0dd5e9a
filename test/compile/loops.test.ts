import { describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf';
import { HiddenState, State } from '../../src/state';
import { forLoop, jit, ProgressBar, scan, type ProgressWriter } from '../../src/compile';
import { TransformError } from '../../src/errors';

const values = (t: tf.Tensor): number[] => Array.from(t.dataSync());
/** forLoop without its types, for calls that are wrong on purpose. */
const untypedForLoop = forLoop as (...args: unknown[]) => unknown;

/** A writer that records what a bar would draw. */
function recordingWriter(): ProgressWriter & { log: string[] } {
  const log: string[] = [];
  return {
    log,
    start: (total, desc) => log.push(`start ${total} ${desc}`),
    update: (value, desc) => log.push(`update ${value} ${desc}`),
    stop: () => log.push('stop'),
  };
}

describe('forLoop and scan (spec §3.2, §10.25)', () => {
  it('forLoop stacks the outputs along axis 0 and passes one slice per xs', () => {
    const a = tf.tensor2d([
      [1, 2],
      [3, 4],
      [5, 6],
    ]);
    const b = tf.tensor1d([10, 20, 30]);
    const ys = forLoop((x, s) => ({ sum: tf.add(x, s), n: 7, nothing: undefined }), a, b);
    expect(ys.sum.shape).toEqual([3, 2]);
    expect(values(ys.sum)).toEqual([11, 12, 23, 24, 35, 36]);
    expect(ys.n.shape).toEqual([3]);
    expect(values(ys.n)).toEqual([7, 7, 7]);
    expect(ys.nothing).toBeUndefined();
    tf.dispose([a, b, ys.sum, ys.n]);
  });

  it('forLoop with only a length calls fn with no slices; a body without output gives undefined', () => {
    const st = new State(tf.scalar(0));
    const out = forLoop(
      (...slices: unknown[]) => {
        expect(slices).toEqual([]);
        st.value = tf.add(st.value, 1);
      },
      { length: 4 },
    );
    expect(out).toBeUndefined();
    expect(st.value.dataSync()[0]).toBe(4);
    st.dispose();
  });

  it('xs may be trees; slices keep the structure', () => {
    const xs = { v: tf.ones([4, 3]), pair: [tf.range(0, 4), null] as const };
    const ys = forLoop((x) => {
      expect(x.v.shape).toEqual([3]);
      expect(x.pair[0].shape).toEqual([]);
      expect(x.pair[1]).toBeNull();
      return tf.mul(x.v, x.pair[0]);
    }, xs);
    expect(values(ys)).toEqual([0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3]);
    tf.dispose([xs.v, xs.pair[0], ys]);
  });

  it('scan threads the carry; with reverse it walks from the end but stores ys in index order', () => {
    const xs = tf.tensor1d([1, 2, 3, 4]);
    const cumsum = (c: tf.Tensor, x: tf.Tensor) => {
      const n = tf.add(c, x);
      return [n, n] as const;
    };
    const [c, ys] = scan(cumsum, tf.scalar(0), xs);
    expect(c.dataSync()[0]).toBe(10);
    expect(values(ys)).toEqual([1, 3, 6, 10]);
    const [cr, ysr] = scan(cumsum, tf.scalar(0), xs, { reverse: true });
    expect(cr.dataSync()[0]).toBe(10);
    expect(values(ysr)).toEqual([10, 9, 7, 4]); // ys[i] belongs to xs[i]
    // reverse gives the same numbers as the forward scan over the flipped xs, flipped back
    const flipped = tf.reverse(xs);
    const [, ysf] = scan(cumsum, tf.scalar(0), flipped);
    expect(values(ysr)).toEqual(values(ysf).reverse());
    // unroll is accepted and changes nothing
    const [, ysu] = scan(cumsum, tf.scalar(0), xs, { reverse: true, unroll: 2 });
    expect(values(ysu)).toEqual(values(ysr));
    tf.dispose([xs, c, ys, cr, ysr, flipped, ysf, ysu]);
  });

  it('a state incremented in the body accumulates (st = 5 after 5 iterations)', () => {
    const st = new State(tf.scalar(0));
    const xs = tf.range(0, 5);
    const ys = forLoop(() => {
      st.value = tf.add(st.value, 1);
      return st.value;
    }, xs);
    expect(st.value.dataSync()[0]).toBe(5);
    expect(values(ys)).toEqual([1, 2, 3, 4, 5]); // outputs that are state values were copied
    const [carry] = scan(
      (c: tf.Tensor) => {
        st.value = tf.add(st.value, 1);
        return [tf.add(c, st.value), undefined] as const;
      },
      tf.scalar(0),
      undefined,
      { length: 5 },
    );
    expect(st.value.dataSync()[0]).toBe(10);
    expect(carry.dataSync()[0]).toBe(6 + 7 + 8 + 9 + 10);
    tf.dispose([xs, ys, carry]);
    st.dispose();
  });

  it('a pytree carry keeps its structure (numbers and tensors)', () => {
    const init = { h: tf.zeros([2]), stats: [tf.scalar(1), 0] as [tf.Tensor, number] };
    const [carry, ys] = scan(
      (c: typeof init, x: tf.Tensor) => {
        const h = tf.add(c.h, x);
        const next = { h, stats: [tf.mul(c.stats[0], 2), c.stats[1] + 1] as [tf.Tensor, number] };
        return [next, { h, total: tf.sum(h) }] as const;
      },
      init,
      tf.ones([3, 2]),
    );
    expect(values(carry.h)).toEqual([3, 3]);
    expect(carry.stats[0].dataSync()[0]).toBe(8);
    expect(carry.stats[1]).toBe(3);
    expect(ys.h.shape).toEqual([3, 2]);
    expect(values(ys.total)).toEqual([2, 4, 6]);
    tf.dispose([init.h, init.stats[0], carry.h, carry.stats[0], ys.h, ys.total]);
  });

  it('validates its arguments with clear messages', () => {
    const body = (x: tf.Tensor) => x;
    const x5 = tf.zeros([5, 2]);
    const x3 = tf.zeros([3]);
    const s = tf.scalar(1);
    const err = (f: () => unknown, pattern: RegExp) => {
      expect(f).toThrow(TransformError);
      expect(f).toThrow(pattern);
    };
    err(() => forLoop(body, s), /no leading axis.*xs\[0\] is float32\[\]/);
    err(
      () => untypedForLoop(body, { a: x5, b: [3] }),
      /no leading axis.*xs\[0\]\.b\[0\] is number/,
    );
    err(
      () => forLoop((a: tf.Tensor, b: tf.Tensor) => tf.add(a, b), x5, x3),
      /xs\[0\] has 5, xs\[1\] has 3/,
    );
    err(() => scan((c, x) => [c, x] as const, 0, { u: x5, v: x3 }), /xs\.u has 5, xs\.v has 3/);
    err(
      () => forLoop(body, x5, { length: 4 }),
      /length=4 disagrees with the leading length 5 of xs\[0\]/,
    );
    err(() => forLoop(() => 1, {}), /give xs to loop over or a length/);
    err(() => scan((c) => [c, 1] as const, 0, undefined), /give xs to loop over or a length/);
    err(() => forLoop(42 as unknown as () => number, x5), /fn must be a function, got 42/);
    err(() => scan(null as unknown as () => [number, number], 0, x5), /fn must be a function/);
    err(() => forLoop(body, x5, { length: -1 }), /length must be a non-negative integer/);
    err(() => forLoop(() => 1, { length: 2.5 }), /length must be a non-negative integer/);
    err(
      () => scan((c) => c as unknown as readonly [number, number], 0, x5),
      /must return \[carry, y\]/,
    );
    err(
      () => forLoop(body, x5, { progressBar: 'yes' as unknown as boolean }),
      /unknown option|progressBar/,
    );
    err(() => forLoop(() => new State(tf.scalar(1)), { length: 2 }), /cannot be States/);
    tf.dispose([x5, x3, s]);
  });

  it('a carry that changes structure, shape or dtype is an error naming the carry path', () => {
    const xs = tf.ones([3, 2]);
    const grow = (c: { h: tf.Tensor }, x: tf.Tensor) =>
      [{ h: tf.concat([c.h, x]) }, undefined] as const;
    expect(() => scan(grow, { h: tf.zeros([2]) }, xs)).toThrow(
      /carry must keep its structure.*carry\.h: expected float32\[2\], got float32\[4\]/,
    );
    const toInt = (c: tf.Tensor) => [tf.cast(c, 'int32'), undefined] as const;
    expect(() => scan(toInt, tf.zeros([2]), xs)).toThrow(
      /carry: expected float32\[2\], got int32\[2\]/,
    );
    const reshape = (c: [tf.Tensor, number]) =>
      [[c[0], c[0]], undefined] as unknown as readonly [[tf.Tensor, number], undefined];
    expect(() => scan(reshape, [tf.zeros([2]), 1], xs)).toThrow(
      /carry\[1\]: expected number, got float32\[2\]/,
    );
    const ys = (c: number, x: tf.Tensor) => [c + 1, c === 0 ? x : tf.concat([x, x])] as const;
    expect(() => scan(ys, 0, xs)).toThrow(
      /per-step outputs must keep.*y: expected float32\[2\], got float32\[4\]/,
    );
    xs.dispose();
  });

  it('a state re-initialised to another shape inside the loop is an error naming it (spec §1.7)', () => {
    const st = new State(tf.zeros([2]), { name: 'grows' });
    expect(() =>
      forLoop(
        () => {
          st.reinitialize(tf.zeros([st.value.shape[0] + 1]));
        },
        { length: 3 },
      ),
    ).toThrow(
      /states written in a loop must keep.*State\(name='grows'\) changed from float32\[2\] to float32\[3\]/,
    );
    expect(st.value.shape).toEqual([2]); // restored
    st.dispose();
  });

  it('length 0 returns the init carry and empty stacks of the right shape, or says why it cannot', () => {
    const st = new State(tf.scalar(3));
    const init = tf.zeros([2]);
    const [c, ys] = scan(
      (carry: tf.Tensor, x: tf.Tensor) => {
        st.value = tf.add(st.value, 1);
        return [carry, { a: tf.add(carry, x), k: 1 }] as const;
      },
      init,
      tf.zeros([0, 2]),
    );
    expect(c).toBe(init);
    expect(ys.a.shape).toEqual([0, 2]);
    expect(ys.k.shape).toEqual([0]);
    expect(st.value.dataSync()[0]).toBe(3); // the shape probe left the state alone
    expect(() =>
      forLoop(
        () => {
          throw new Error('boom');
        },
        { length: 0 },
      ),
    ).toThrow(/length 0.*unknown shape.*boom/);
    tf.dispose([init, ys.a, ys.k]);
    st.dispose();
  });

  it('an error in the body restores the states the loop touched', () => {
    const st = new State(tf.scalar(0));
    expect(() =>
      forLoop(
        (x: tf.Tensor) => {
          st.value = tf.add(st.value, x);
          if (st.value.dataSync()[0] > 2) throw new Error('stop');
        },
        tf.ones([5]),
      ),
    ).toThrow('stop');
    expect(st.value.dataSync()[0]).toBe(0);
    st.dispose();
  });

  it('runs inside a trace frame: enclosing jit sees the states; states created inside jit stay invisible to it', () => {
    const a = new State(tf.scalar(1), { name: 'a' });
    const f = jit((xs: tf.Tensor) => {
      const b = new State(tf.scalar(0), { name: 'b' });
      forLoop((x) => {
        b.value = tf.add(b.value, x);
        a.value = tf.add(a.value, b.value);
      }, xs);
      b.dispose();
      return a.value;
    });
    const xs = tf.ones([3]);
    expect(f.statefulFun.getStates(xs)).toEqual([a]);
    expect(f.statefulFun.getWriteStates(xs)).toEqual([a]);
    const y = f(xs);
    expect(y.dataSync()[0]).toBe(1 + 1 + 2 + 3);
    tf.dispose([xs, y]);
    a.dispose();
  });

  it('drives a progress bar: true, a number, or a ProgressBar with a writer', () => {
    const writer = recordingWriter();
    const xs = tf.ones([10]);
    forLoop((x: tf.Tensor) => x, xs, {
      progressBar: new ProgressBar({ freq: 3, writer }),
    }).dispose();
    expect(writer.log).toEqual([
      'start 10 Running for 10 iterations',
      'update 3 Running for 10 iterations',
      'update 6 Running for 10 iterations',
      'update 9 Running for 10 iterations',
      'update 10 Running for 10 iterations',
      'stop',
    ]);
    const w2 = recordingWriter();
    const bar = new ProgressBar({
      count: 2,
      desc: ['i={i} c={c:.1f}', ({ i, carry }) => ({ i, c: carry })],
      writer: w2,
    });
    const [c] = scan(
      (c: tf.Tensor, x: tf.Tensor) => [tf.add(c, x), undefined] as const,
      tf.scalar(0),
      xs,
      {
        progressBar: bar,
        reverse: true,
      },
    );
    expect(w2.log).toEqual([
      'start 10 i= c=',
      'update 5 i=5 c=5.0',
      'update 10 i=0 c=10.0',
      'stop',
    ]);
    // true and numbers build default bars (silent when stdout is not a TTY)
    forLoop((x: tf.Tensor) => x, xs, { progressBar: true }).dispose();
    forLoop((x: tf.Tensor) => x, xs, { progressBar: 5 }).dispose();
    expect(() => forLoop((x: tf.Tensor) => x, xs, { progressBar: 11 })).toThrow(
      /freq=11 is larger than/,
    );
    tf.dispose([xs, c]);
  });

  it('memory stays flat over 10 000 iterations with a state update', () => {
    const v = new HiddenState(tf.zeros([4]));
    const xs = tf.ones([10_000, 4]);
    const before = tf.memory().numTensors;
    const during: number[] = [];
    let k = 0;
    const ys = forLoop((x: tf.Tensor) => {
      v.value = tf.add(tf.mul(v.value, 0.5), x);
      if (k++ % 2500 === 1) during.push(tf.memory().numTensors);
      return tf.sum(v.value);
    }, xs);
    expect(ys.shape).toEqual([10_000]);
    expect(during.length).toBe(4);
    // live tensors grow by exactly the one kept output per step (stacked at the end)
    expect(new Set(during.map((n, j) => n - j * 2500)).size).toBe(1);
    ys.dispose();
    expect(tf.memory().numTensors).toBe(before);
    // without outputs the count does not move at all
    const flat: number[] = [];
    forLoop((x: tf.Tensor) => {
      v.value = tf.add(tf.mul(v.value, 0.5), x);
      if (k++ % 2500 === 1) flat.push(tf.memory().numTensors);
    }, xs);
    expect(new Set(flat).size).toBe(1);
    expect(tf.memory().numTensors).toBe(before);
    expect(values(v.value)[0]).toBeCloseTo(2, 5);
    xs.dispose();
    v.dispose();
  });

  it('scan with a pass-through carry and outputs that alias inputs does not leak or double-free', () => {
    const w = tf.ones([2]);
    const before = tf.memory().numTensors;
    for (let r = 0; r < 20; r++) {
      const init = tf.zeros([2]);
      const xs = tf.ones([5, 2]);
      const [c, ys] = scan((c: tf.Tensor, x: tf.Tensor) => [c, [c, x, w]] as const, init, xs);
      expect(c).not.toBe(init);
      expect(values(ys[2])).toEqual(Array(10).fill(1));
      tf.dispose([init, xs, c, ...ys]);
    }
    expect(tf.memory().numTensors).toBe(before);
    expect(w.isDisposed).toBe(false);
    w.dispose();
  });
});

// ---------------------------------------------------------------------------------------------
// BPTT through forLoop: a 2-layer tanh RNN against central finite differences in float64.

const T = 20;
const B = 2;
const I = 3;
const H1 = 4;
const H2 = 3;

type Mat = number[][];
interface Params {
  W1: Mat;
  R1: Mat;
  W2: Mat;
  R2: Mat;
}

function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
}
const matrix = (rows: number, cols: number, rnd: () => number, scale: number): Mat =>
  Array.from({ length: rows }, () => Array.from({ length: cols }, () => rnd() * scale));

function matmul(a: Mat, b: Mat): Mat {
  return a.map((row) => b[0].map((_, j) => row.reduce((s, v, k) => s + v * b[k][j], 0)));
}

/** The float64 reference: loss = mean over t, b, j of h2[t]². */
function referenceLoss(p: Params, xs: Mat[]): number {
  let h1: Mat = matrix(B, H1, () => 0, 0);
  let h2: Mat = matrix(B, H2, () => 0, 0);
  let loss = 0;
  for (let t = 0; t < T; t++) {
    const a1 = matmul(xs[t], p.W1);
    const r1 = matmul(h1, p.R1);
    h1 = a1.map((row, b) => row.map((v, j) => Math.tanh(v + r1[b][j])));
    const a2 = matmul(h1, p.W2);
    const r2 = matmul(h2, p.R2);
    h2 = a2.map((row, b) => row.map((v, j) => Math.tanh(v + r2[b][j])));
    for (const row of h2) for (const v of row) loss += (v * v) / (T * B * H2);
  }
  return loss;
}

function finiteDifferences(p: Params, xs: Mat[]): Record<keyof Params, number[]> {
  const eps = 1e-6;
  const out = {} as Record<keyof Params, number[]>;
  for (const name of ['W1', 'R1', 'W2', 'R2'] as const) {
    out[name] = [];
    p[name].forEach((row, i) =>
      row.forEach((_, j) => {
        const orig = p[name][i][j];
        p[name][i][j] = orig + eps;
        const up = referenceLoss(p, xs);
        p[name][i][j] = orig - eps;
        const down = referenceLoss(p, xs);
        p[name][i][j] = orig;
        out[name].push((up - down) / (2 * eps));
      }),
    );
  }
  return out;
}

describe('BPTT through forLoop', () => {
  it('the gradient of a 2-layer tanh RNN (T=20) matches float64 finite differences', () => {
    const rnd = seeded(7);
    const p: Params = {
      W1: matrix(I, H1, rnd, 1.2),
      R1: matrix(H1, H1, rnd, 1.0),
      W2: matrix(H1, H2, rnd, 1.2),
      R2: matrix(H2, H2, rnd, 1.0),
    };
    const xsJs = Array.from({ length: T }, () => matrix(B, I, rnd, 2));
    const expected = finiteDifferences(p, xsJs);

    const xs = tf.tensor3d(xsJs);
    const h1 = new HiddenState(tf.zeros([B, H1]));
    const h2 = new HiddenState(tf.zeros([B, H2]));
    const before = tf.memory().numTensors;
    const loss = (W1: tf.Tensor, R1: tf.Tensor, W2: tf.Tensor, R2: tf.Tensor) => {
      h1.value = tf.zeros([B, H1]);
      h2.value = tf.zeros([B, H2]);
      const hs = forLoop((x: tf.Tensor) => {
        h1.value = tf.tanh(tf.add(tf.matMul(x, W1), tf.matMul(h1.value, R1)));
        h2.value = tf.tanh(tf.add(tf.matMul(h1.value, W2), tf.matMul(h2.value, R2)));
        return h2.value;
      }, xs);
      return tf.mean(tf.square(hs));
    };
    const params = [p.W1, p.R1, p.W2, p.R2].map((m) => tf.tensor2d(m));
    const grads = tf.grads(loss)(params);
    (['W1', 'R1', 'W2', 'R2'] as const).forEach((name, k) => {
      const got = values(grads[k]);
      const want = expected[name];
      const scale = Math.max(...want.map(Math.abs));
      got.forEach((g, i) => expect(Math.abs(g - want[i])).toBeLessThan(1e-3 * scale + 1e-6));
      const rel = Math.hypot(...got.map((g, i) => g - want[i])) / Math.hypot(...want);
      expect(rel).toBeLessThan(1e-3);
    });
    tf.dispose([...grads, ...params]);
    h1.value = tf.zeros([B, H1]); // a top-level write frees what the tape kept alive
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose(xs);
    h1.dispose();
    h2.dispose();
  });

  it('grad through scan with the weights in the carry', () => {
    const xs = tf.tensor1d([0.5, -1, 2]);
    // carry c_t = c_{t-1} * w + x_t, c_0 = 0 → c_3 = 0.5 w² - w + 2; dc/dw = w - 1
    const g = tf.grad((w: tf.Tensor) => {
      const [c] = scan(
        (c: tf.Tensor, x: tf.Tensor) => [tf.add(tf.mul(c, w), x), undefined] as const,
        tf.scalar(0),
        xs,
      );
      return c;
    })(tf.scalar(3));
    expect(g.dataSync()[0]).toBeCloseTo(2, 5);
    tf.dispose([xs, g]);
  });
});
