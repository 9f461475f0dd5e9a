/**
 * jit replay fast path and in place by default (issue 7): a replay that is one fused wasm kernel
 * writes the states' buffers in place when the jit owns them (it created the tensor and nothing
 * outside the jit has obtained it since). Checked against an eager reference: values equal,
 * nothing a caller holds ever changes, fallbacks (exposed value, copies, clones, tapes, enclosing
 * transforms, `inPlace: false`) allocate as before, no tensor leaks, cache semantics unchanged.
 */
import { describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf';
import { forLoop, jit } from '../../src/compile';
import * as random from '../../src/random';
import { HiddenState, ParamState } from '../../src/state';

const arr = (t: tf.Tensor) => Array.from(t.dataSync());
const onWasm = () => tf.getBackend() === 'wasm';

function lif(n: number, seed = 0) {
  const V = new HiddenState(tf.linspace(-60 + seed, -45, n));
  const S = new HiddenState(tf.zeros([n]));
  /** One LIF step (fuses into one kernel); spikes kept in S, returned when `ret`. */
  const body = (inp: tf.Tensor): tf.Tensor => {
    const v = tf.add(V.value, tf.mul(0.1 / 20, tf.sub(tf.add(-60, inp), V.value)));
    const spike = tf.cast(tf.greaterEqual(v, -50), 'float32');
    V.value = tf.where(tf.cast(spike, 'bool'), tf.fill([n], -60), v);
    S.value = spike;
    return spike;
  };
  return { V, S, body };
}

describe('jit in place by default', () => {
  it('writes jit-owned state buffers in place (wasm) and equals eager over many steps', () => {
    const n = 100;
    const a = lif(n);
    const b = lif(n);
    const step = jit((x: tf.Tensor): void => void a.body(x));
    const I = tf.linspace(0, 30, n);
    step(I); // trace
    step(I); // replay: new tensors, now owned by the jit
    tf.tidy(() => void b.body(I));
    tf.tidy(() => void b.body(I));
    const v0 = a.V.peekValue();
    const s0 = a.S.peekValue();
    const before = tf.memory().numTensors;
    for (let t = 0; t < 200; t++) {
      step(I);
      tf.tidy(() => void b.body(I));
    }
    expect(tf.memory().numTensors).toBe(before);
    // in place on wasm: same tensor objects, new contents; elsewhere new tensors each call
    expect(a.V.peekValue() === v0).toBe(onWasm());
    expect(a.S.peekValue() === s0).toBe(onWasm());
    expect(arr(a.V.value)).toEqual(arr(b.V.value));
    expect(arr(a.S.value)).toEqual(arr(b.S.value));
    expect(step.replayCount).toBe(201);
    expect(step.compileCount).toBe(1);
    I.dispose();
  });

  it('is unobservable: a value obtained by the caller is never overwritten', () => {
    const n = 64;
    const a = lif(n);
    const step = jit((x: tf.Tensor): void => void a.body(x));
    const I = tf.fill([n], 40);
    for (let t = 0; t < 3; t++) step(I);
    // .value exposes the tensor: the next call allocates (as eager would) instead of writing it
    const held = a.V.value;
    const heldVals = arr(held);
    step(I);
    expect(a.V.peekValue()).not.toBe(held);
    expect(held.isDisposed || arr(held).every((x, i) => x === heldVals[i])).toBe(true);
    // a clone of an exposed value keeps its numbers over many calls
    const c = tf.clone(a.S.value);
    const cVals = arr(c);
    for (let t = 0; t < 5; t++) step(I);
    expect(arr(c)).toEqual(cVals);
    // a copied state shares the tensor: it keeps the old numbers
    for (let t = 0; t < 2; t++) step(I);
    const copy = a.V.copy();
    const copyVals = arr(copy.value);
    for (let t = 0; t < 3; t++) step(I);
    expect(arr(copy.value)).toEqual(copyVals);
    expect(arr(a.V.value)).not.toEqual(copyVals);
    // rawValue (framework bookkeeping, snapshots) also counts as exposure
    for (let t = 0; t < 2; t++) step(I);
    const raw = a.V.rawValue;
    const rawVals = arr(raw);
    step(I);
    expect(raw.isDisposed || arr(raw).every((x, i) => x === rawVals[i])).toBe(true);
    copy.dispose();
    tf.dispose([c, I]);
  });

  it('returns fresh result tensors equal to eager; a result that is also a state is a copy', () => {
    const n = 50;
    const a = lif(n);
    const b = lif(n);
    const step = jit((x: tf.Tensor) => a.body(x));
    const both = jit((x: tf.Tensor) => {
      a.body(x);
      return { V: a.V.value, S: a.S.value };
    });
    const I = tf.linspace(5, 40, n);
    const got: tf.Tensor[] = [];
    const want: tf.Tensor[] = [];
    const before = tf.memory().numTensors;
    for (let t = 0; t < 30; t++) {
      got.push(step(I));
      want.push(tf.tidy(() => tf.clone(b.body(I))));
    }
    // earlier results are not changed by later calls
    got.forEach((g, t) => expect(arr(g)).toEqual(arr(want[t])));
    tf.dispose([...got, ...want]);
    expect(tf.memory().numTensors).toBe(before);
    const held: { V: tf.Tensor; S: tf.Tensor }[] = [];
    const ref: number[][] = [];
    for (let t = 0; t < 10; t++) {
      held.push(both(I));
      tf.tidy(() => void b.body(I));
      ref.push(arr(b.V.value));
    }
    held.forEach((h, t) => expect(arr(h.V)).toEqual(ref[t]));
    expect(arr(a.V.value)).toEqual(arr(b.V.value));
    held.forEach((h) => tf.dispose([h.V, h.S]));
    expect(tf.memory().numTensors).toBe(before);
    I.dispose();
  });

  it('{ inPlace: false } never writes in place; values equal the default', () => {
    const n = 32;
    const a = lif(n);
    const b = lif(n);
    const off = jit((x: tf.Tensor): void => void a.body(x), { inPlace: false });
    const on = jit((x: tf.Tensor): void => void b.body(x));
    const I = tf.fill([n], 35);
    const seen = new Set<tf.Tensor>();
    const before = tf.memory().numTensors;
    for (let t = 0; t < 20; t++) {
      off(I);
      on(I);
      seen.add(a.V.peekValue());
    }
    expect(seen.size).toBe(20);
    expect(tf.memory().numTensors).toBe(before);
    expect(arr(a.V.value)).toEqual(arr(b.V.value));
    expect(arr(a.S.value)).toEqual(arr(b.S.value));
    I.dispose();
  });

  it('falls back under a gradient tape and inside other transforms, with equal values', () => {
    const n = 16;
    const a = lif(n);
    const b = lif(n);
    const step = jit((x: tf.Tensor) => a.body(x));
    const I = tf.fill([n], 45);
    for (let t = 0; t < 3; t++) {
      tf.dispose(step(I));
      tf.tidy(() => void b.body(I));
    }
    // under a tape: the replay allocates (the tape may hold the old values)
    const v0 = a.V.peekValue();
    const g = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(step(I), x)))(tf.ones([n]));
    tf.tidy(() => void b.body(I));
    expect(a.V.peekValue()).not.toBe(v0);
    expect(arr(g)).toEqual(arr(b.S.value));
    g.dispose();
    // inside forLoop (a transform): replays through the trace frame; equal to eager steps
    const xs = tf.stack([I, I, I, I]);
    const ys = forLoop((x: tf.Tensor) => step(x), xs);
    const ref = tf.tidy(() => tf.stack([0, 1, 2, 3].map(() => tf.clone(b.body(I)))));
    expect(arr(ys)).toEqual(arr(ref));
    expect(arr(a.V.value)).toEqual(arr(b.V.value));
    // and back at top level: in place again after one allocating call
    for (let t = 0; t < 3; t++) {
      tf.dispose(step(I));
      tf.tidy(() => void b.body(I));
    }
    const v1 = a.V.peekValue();
    tf.dispose(step(I));
    tf.tidy(() => void b.body(I));
    expect(a.V.peekValue() === v1).toBe(onWasm());
    expect(arr(a.V.value)).toEqual(arr(b.V.value));
    tf.dispose([xs, ys, ref, I]);
  });

  it('keeps cache semantics on the fast path: new shapes retrace, reshaped states recompile', () => {
    const n = 8;
    const V = new HiddenState(tf.zeros([n]));
    const step = jit((x: tf.Tensor) => {
      V.value = tf.add(tf.mul(V.value, 0.5), x);
    });
    const x8 = tf.ones([n]);
    for (let t = 0; t < 4; t++) step(x8);
    expect(step.compileCount).toBe(1);
    expect(arr(V.value)).toEqual(new Array(n).fill(1.875));
    V.reinitialize(tf.zeros([2 * n]));
    const x16 = tf.ones([2 * n]);
    step(x16);
    step(x16);
    expect(step.compileCount).toBe(2);
    expect(arr(V.value)).toEqual(new Array(2 * n).fill(1.5));
    expect(() => step(x8)).toThrow(); // stale shape: traced anew, and the add fails as eager would
    step.clearCache();
    step(x16);
    expect(step.compileCount).toBeGreaterThanOrEqual(3);
    expect(arr(V.value)).toEqual(new Array(2 * n).fill(1.75));
    tf.dispose([x8, x16]);
  });

  it('no leaks over many calls mixing in place, exposure and random draws', () => {
    const n = 40;
    const a = lif(n);
    const step = jit((x: tf.Tensor) => a.body(x));
    const noisy = jit((x: tf.Tensor): void => void a.body(tf.add(x, random.normal(0, 5, [n]))));
    const I = tf.fill([n], 30);
    tf.dispose(step(I));
    tf.dispose(step(I));
    noisy(I);
    noisy(I);
    const before = tf.memory().numTensors;
    let spikes = 0;
    for (let t = 0; t < 500; t++) {
      tf.dispose(step(I));
      noisy(I);
      if (t % 7 === 0) {
        const sum = tf.sum(a.S.value); // exposes S
        spikes += sum.dataSync()[0];
        sum.dispose();
      }
      if (t % 11 === 0) void a.V.rawValue;
    }
    expect(tf.memory().numTensors).toBe(before);
    expect(spikes).toBeGreaterThan(0);
    expect(step.compileCount + noisy.compileCount).toBe(2);
    expect(step.replayCount + noisy.replayCount).toBe(1002);
    I.dispose();
  });

  it('a program with a matMul (no single fused kernel) replays on the fast path equal to eager', () => {
    const W = new ParamState(tf.tensor2d([0.5, -1, 2, 0.25, 1, -0.5], [3, 2]));
    const mk = () => new HiddenState(tf.zeros([4, 2]));
    const A = mk();
    const B = mk();
    const body = (h: HiddenState, x: tf.Tensor) => {
      h.value = tf.relu(tf.add(tf.mul(h.value, 0.9), tf.matMul(x, W.value)));
      return tf.sum(h.value);
    };
    const step = jit((x: tf.Tensor) => body(A, x));
    const x = tf.tensor2d([1, 2, 3, -1, 0, 1, 2, 2, 2, -3, 1, 0], [4, 3]);
    const before = tf.memory().numTensors;
    for (let t = 0; t < 10; t++) {
      const r = step(x);
      const e = tf.tidy(() => body(B, x));
      expect(arr(r)).toEqual(arr(e));
      tf.dispose([r, e]);
    }
    expect(arr(A.value)).toEqual(arr(B.value));
    expect(tf.memory().numTensors).toBe(before);
    expect(step.replayCount).toBe(9);
    x.dispose();
  });
});
