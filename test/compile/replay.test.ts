/**
 * jit replay: later calls run the recorded program, not the user function; results and state
 * writes equal eager execution; random draws take fresh keys; calls that cannot be replayed
 * (host reads, changed environ values, non-tensor state writes) run eagerly; gradients through a
 * replayed call equal eager gradients; no tensor leaks.
 */
import { describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf';
import { jit } from '../../src/compile';
import { grad } from '../../src/augment';
import * as environ from '../../src/environ';
import * as random from '../../src/random';
import { HiddenState, ParamState, ShortTermState } from '../../src/state';
import { LIF } from '../../src/nn/neurons';

const arr = (t: tf.Tensor) => Array.from(t.dataSync());

describe('jit replay', () => {
  it('does not run the user function again; results and writes equal eager', () => {
    const V = new HiddenState(tf.zeros([5]));
    let calls = 0;
    const step = (x: tf.Tensor) => {
      calls++;
      V.value = tf.add(tf.mul(V.value, 0.9), tf.relu(tf.sub(x, 0.5)));
      return { sum: tf.sum(V.value), twice: tf.mul(V.value, 2) };
    };
    const j = jit(step);
    const W = new HiddenState(tf.zeros([5]));
    const eager = (x: tf.Tensor) => {
      W.value = tf.add(tf.mul(W.value, 0.9), tf.relu(tf.sub(x, 0.5)));
      return { sum: tf.sum(W.value), twice: tf.mul(W.value, 2) };
    };
    const before = tf.memory().numTensors;
    for (let i = 0; i < 20; i++) {
      const x = tf.tensor1d([0, 0.4, 0.6, 1, 2 + i]);
      const r = j(x);
      const e = tf.tidy(() => eager(x));
      expect(arr(r.sum)).toEqual(arr(e.sum));
      expect(arr(r.twice)).toEqual(arr(e.twice));
      expect(arr(V.value)).toEqual(arr(W.value));
      tf.dispose([x, r.sum, r.twice, e.sum, e.twice]);
    }
    expect(calls).toBe(1);
    expect(j.replayCount).toBe(19);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('random draws take fresh keys on every replay', () => {
    random.seed(1);
    const j = jit((x: tf.Tensor) => tf.add(x, random.normal(0, 1, [1000])));
    const x = tf.zeros([1000]);
    const a = j(x);
    const b = j(x);
    const c = j(x);
    expect(j.replayCount).toBe(2);
    expect(arr(b)).not.toEqual(arr(a));
    expect(arr(c)).not.toEqual(arr(b));
    const m = arr(c).reduce((s, v) => s + v, 0) / 1000;
    expect(Math.abs(m)).toBeLessThan(0.15);
    tf.dispose([a, b, c, x]);
  });

  it('a changed environ value (the time t) makes the call eager; a host read never replays', () => {
    const acc = new ShortTermState(tf.zeros([1]));
    const j = jit(() => {
      acc.value = tf.add(acc.value, environ.get<number>('t'));
      return tf.clone(acc.value);
    });
    for (let t = 1; t <= 4; t++) environ.context({ t }, () => tf.dispose(j()));
    expect(arr(acc.value)).toEqual([10]);
    environ.context({ t: 4 }, () => tf.dispose(j())); // same t as the trace before: replayable
    expect(arr(acc.value)).toEqual([14]);

    const h = jit((x: tf.Tensor) => (x.dataSync()[0] > 0 ? tf.add(x, 1) : tf.sub(x, 1)));
    tf.dispose(h(tf.scalar(1)));
    const r = h(tf.scalar(-1));
    expect(arr(r)).toEqual([-2]);
    expect(h.replayCount).toBe(0);
    expect(h.replayBlocker(tf.scalar(1))).toMatch(/reads tensor data back/);
    tf.dispose(r);
  });

  it('environ.scalar values are program inputs: a replay uses the current value', () => {
    const acc = new ShortTermState(tf.zeros([1]));
    const j = jit(() => {
      acc.value = tf.add(acc.value, environ.scalar('t'));
      return tf.clone(acc.value);
    });
    for (let t = 1; t <= 5; t++) environ.context({ t }, () => tf.dispose(j()));
    expect(arr(acc.value)).toEqual([15]);
    expect(j.replayCount).toBe(4);
  });

  it('gradients through a replayed call equal eager gradients (LIF with a surrogate spike)', () => {
    environ.set({ dt: 1 });
    const w = new ParamState(tf.tensor1d([0.5, 1.5, 2.5]));
    const lif = new LIF(3, { tau: 5 });
    lif.initState({});
    const step = jit((x: tf.Tensor) => lif.update(tf.mul(x, w.value)));
    const run = (useJit: boolean) => {
      lif.initState({});
      const [g] = grad(
        () => {
          let L: tf.Tensor = tf.scalar(0);
          for (let t = 0; t < 6; t++) {
            const x = tf.fill([3], 0.4 + 0.1 * t);
            const s = useJit ? step(x) : lif.update(tf.mul(x, w.value));
            L = tf.add(L, tf.sum(tf.mul(s, t + 1)));
          }
          return L;
        },
        { gradStates: { w }, returnValue: true },
      )() as unknown as [{ w: tf.Tensor }, tf.Tensor];
      return arr(g.w);
    };
    const eager = run(false);
    const replayed = run(true);
    expect(step.replayCount).toBeGreaterThan(0);
    expect(replayed).toEqual(eager);
    expect(eager.some((v) => v !== 0)).toBe(true);
  });
});

describe('jit replay of list-input kernels', () => {
  it('Concat, Pack and AddN replay like eager', () => {
    const h = new HiddenState(tf.zeros([2, 3]));
    const j = jit((x: tf.Tensor) => {
      const c = tf.concat([h.value, x], -1);
      const s = tf.stack([x, x]);
      h.value = tf.addN([h.value, x, x]);
      return [tf.sum(c), tf.sum(s)];
    });
    const x = tf.ones([2, 3]);
    const outs = [0, 1, 2].map(() => j(x).map((t) => t.dataSync()[0]));
    expect(outs).toEqual([
      [6, 12],
      [18, 12],
      [30, 12],
    ]);
    expect(j.replayCount).toBe(2);
  });
});

describe('fused replay', () => {
  it('a LIF step replays as one fused kernel, bit-identical to eager over 300 steps', () => {
    environ.set({ dt: 0.1 });
    random.seed(3);
    const a = new LIF(64, { tau: 10, V_th: 1, spkReset: 'hard' });
    const b = new LIF(64, { tau: 10, V_th: 1, spkReset: 'hard' });
    a.initState({});
    b.initState({});
    const step = jit((x: tf.Tensor) => a.update(x));
    const before = tf.memory().numTensors;
    for (let t = 0; t < 300; t++) {
      const x = random.uniform(0, 3, [64]);
      tf.dispose(step(x));
      tf.dispose(tf.tidy(() => tf.clone(b.update(x))));
      x.dispose();
    }
    expect(arr(a.V.value)).toEqual(arr(b.V.value));
    expect(arr(a.spike.value)).toEqual(arr(b.spike.value));
    expect(tf.memory().numTensors).toBe(before);
    const z = tf.zeros([64]);
    const e = step.statefulFun.entryFor(z);
    z.dispose();
    const plan = e!.replay as { fusedRunner: { numFused: number; numKernels: number } | null };
    expect(plan.fusedRunner!.numFused).toBeGreaterThanOrEqual(1);
    expect(plan.fusedRunner!.numKernels).toBeLessThanOrEqual(2);
  });
});

describe('replay edge cases', () => {
  it('a constant result and a result that is an argument', () => {
    const h = new HiddenState(tf.zeros([3]));
    const j = jit((x: tf.Tensor) => {
      h.value = tf.add(tf.mul(h.value, 2), x);
      return { c: tf.tensor1d([1, 2, 3]), x, s: tf.sum(h.value) };
    });
    const x = tf.ones([3]);
    for (let i = 0; i < 3; i++) {
      const r = j(x);
      expect(arr(r.c)).toEqual([1, 2, 3]);
      expect(arr(r.x)).toEqual([1, 1, 1]);
      tf.dispose([r.c, r.s]);
    }
    expect(arr(h.value)).toEqual([7, 7, 7]);
    expect(j.replayCount).toBe(2);
  });
});

describe('in-place replay (opt-in)', () => {
  it('updates state buffers in place, equals eager, copies results, and falls back when a buffer is shared', () => {
    environ.set({ dt: 0.1 });
    const a = new LIF(40, { tau: 10 });
    const b = new LIF(40, { tau: 10 });
    a.initState({});
    b.initState({});
    const step = jit((x: tf.Tensor) => a.update(x), { inPlace: true });
    const x = tf.fill([40], 20);
    tf.dispose(step(x)); // trace
    tf.dispose(tf.tidy(() => tf.clone(b.update(x))));
    const V = a.V.value;
    const before = tf.memory().numTensors;
    const spikes: tf.Tensor[] = [];
    for (let t = 0; t < 30; t++) {
      spikes.push(step(x));
      tf.dispose(tf.tidy(() => tf.clone(b.update(x))));
    }
    const same = tf.getBackend() === 'wasm';
    // on wasm the state keeps its tensor object (new contents); elsewhere the normal replay runs
    expect(a.V.value === V).toBe(same);
    expect(arr(a.V.value)).toEqual(arr(b.V.value));
    // results are copies: an earlier spike tensor is not overwritten by later steps
    const fired = spikes.map((s) => arr(s).reduce((p, q) => p + q, 0));
    expect(new Set(fired).size).toBeGreaterThan(1);
    tf.dispose(spikes);
    expect(tf.memory().numTensors).toBe(before);
    // a clone shares V's buffer: the in-place path must not run; values stay right
    const held = tf.clone(a.V.value);
    const snapshot = arr(held);
    tf.dispose(step(x));
    tf.dispose(tf.tidy(() => tf.clone(b.update(x))));
    expect(arr(held)).toEqual(snapshot);
    expect(arr(a.V.value)).toEqual(arr(b.V.value));
    held.dispose();
    x.dispose();
  });
});

describe('fusing Fill', () => {
  it('a step with tf.fill and tf.where is one fused kernel and runs in place, equal to eager', () => {
    const n = 64;
    const mk = () => ({
      V: new HiddenState(tf.linspace(-60, -45, n)),
      S: new HiddenState(tf.zeros([n])),
    });
    const a = mk();
    const b = mk();
    const body = (s: ReturnType<typeof mk>, inp: tf.Tensor): void => {
      const v = tf.add(s.V.value, tf.mul(0.1 / 20, tf.sub(tf.add(-60, inp), s.V.value)));
      const spike = tf.cast(tf.greaterEqual(v, -50), 'float32');
      s.V.value = tf.where(tf.cast(spike, 'bool'), tf.fill([n], -60), v);
      s.S.value = spike;
    };
    const step = jit((inp: tf.Tensor) => body(a, inp), { inPlace: true });
    const I = tf.fill([n], 20);
    for (let t = 0; t < 50; t++) {
      step(I);
      tf.tidy(() => body(b, I));
    }
    expect(arr(a.V.value)).toEqual(arr(b.V.value));
    expect(arr(a.S.value)).toEqual(arr(b.S.value));
    const e = step.statefulFun.entryFor(I)!.replay as {
      fusedRunner: { numKernels: number; numFused: number };
    };
    expect(e.fusedRunner.numKernels).toBe(1);
    expect(e.fusedRunner.numFused).toBe(1);
    I.dispose();
  });
});
