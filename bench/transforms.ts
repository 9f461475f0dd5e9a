/**
 * bench/transforms: the cost of the transforms on the two workloads of issue "Transforms".
 * 1. A LIF step (N = 4000): eager per-call time vs jit per-call time. The jit replays the step
 *    as one fused wasm kernel called directly; by default it writes V in place (the jit owns the
 *    buffer) and returns the spikes as a new tensor; `{ inPlace: false }` allocates new state
 *    tensors every call; the third jit variant keeps the spikes in a state and returns nothing.
 * 2. One BPTT training step of a recurrent LIF SNN (batch 64, input 100, hidden 256, 10 outputs,
 *    T = 100): forward + backward through forLoop with surrogate spikes, time and peak tensor
 *    bytes; and the same with checkpointed chunks (checkpointedForLoop) to show the memory cut.
 * Usage: npx tsx bench/transforms.ts [--n 4000] [--batch 64] [--hidden 256] [--T 100] [--reps 5]
 */
import { tf } from '../src/backend/tf';
import { getPlatform } from '../src/backend/platform';
import { HiddenState, ParamState } from '../src/state';
import { checkpointedForLoop, forLoop, jit } from '../src/compile';
import { grad } from '../src/augment';
import { ReluGrad } from '../src/surrogate';
import * as random from '../src/random';
import { interleave, isMain, parseArgs, peakBytes, printTable, writeResults } from './common';

export interface TransformsBenchOptions {
  n: number;
  batch: number;
  input: number;
  hidden: number;
  output: number;
  T: number;
  reps: number;
  lifCalls: number;
}

export const FULL: TransformsBenchOptions = {
  n: 4000,
  batch: 64,
  input: 100,
  hidden: 256,
  output: 10,
  T: 100,
  reps: 5,
  lifCalls: 2000,
};

/** Eager vs jit per-call time of a LIF step. */
export function lifStepBench(o: TransformsBenchOptions) {
  const V = new HiddenState(random.normal(-55, 2, [o.n]), { name: 'V' });
  const I = tf.fill([o.n], 20);
  const step = (inp: tf.Tensor) => {
    const v = tf.add(V.value, tf.mul(0.1 / 20, tf.sub(tf.add(-60, inp), V.value)));
    const spike = tf.cast(tf.greaterEqual(v, -50), 'float32');
    V.value = tf.where(tf.cast(spike, 'bool'), tf.fill([o.n], -60), v);
    return spike;
  };
  const eager = () => {
    for (let i = 0; i < o.lifCalls; i++) tf.tidy(() => void step(I));
  };
  const jitted = jit(step, { name: 'lif_step' });
  const viaJit = () => {
    for (let i = 0; i < o.lifCalls; i++) jitted(I).dispose();
  };
  const noInPlace = jit(step, { name: 'lif_step_no_in_place', inPlace: false });
  const viaNoInPlace = () => {
    for (let i = 0; i < o.lifCalls; i++) noInPlace(I).dispose();
  };
  // the same step keeping its spikes in a state and returning nothing: the jit runs it as one
  // fused kernel on the states' own buffers (in place is the default)
  const V2 = new HiddenState(random.normal(-55, 2, [o.n]), { name: 'V2' });
  const S2 = new HiddenState(tf.zeros([o.n]), { name: 'S2' });
  const stepState = (inp: tf.Tensor): void => {
    const v = tf.add(V2.value, tf.mul(0.1 / 20, tf.sub(tf.add(-60, inp), V2.value)));
    const spike = tf.cast(tf.greaterEqual(v, -50), 'float32');
    V2.value = tf.where(tf.cast(spike, 'bool'), tf.fill([o.n], -60), v);
    S2.value = spike;
  };
  const inPlace = jit(stepState, { name: 'lif_step_in_place' });
  const viaInPlace = () => {
    for (let i = 0; i < o.lifCalls; i++) inPlace(I);
  };
  const {
    eager: tEager,
    jit: tJit,
    noInPlace: tNo,
    inPlace: tIn,
  } = interleave({ eager, jit: viaJit, noInPlace: viaNoInPlace, inPlace: viaInPlace }, o.reps);
  const kernels = jitted.program(I).numKernels;
  V.dispose();
  V2.dispose();
  S2.dispose();
  I.dispose();
  return {
    n: o.n,
    eager_us_per_call: (tEager.min_ms * 1000) / o.lifCalls,
    jit_us_per_call: (tJit.min_ms * 1000) / o.lifCalls,
    jit_no_in_place_us_per_call: (tNo.min_ms * 1000) / o.lifCalls,
    jit_in_place_us_per_call: (tIn.min_ms * 1000) / o.lifCalls,
    jit_speedup: tEager.min_ms / tJit.min_ms,
    jit_in_place_speedup: tEager.min_ms / tIn.min_ms,
    kernels_per_step: kernels,
  };
}

/** One BPTT training step of a recurrent LIF SNN: time and peak bytes, plain and checkpointed. */
export function bpttBench(o: TransformsBenchOptions) {
  random.seed(0);
  const win = new ParamState(random.normal(0, 1 / Math.sqrt(o.input), [o.input, o.hidden]));
  const wrec = new ParamState(random.normal(0, 1 / Math.sqrt(o.hidden), [o.hidden, o.hidden]));
  const wout = new ParamState(random.normal(0, 1 / Math.sqrt(o.hidden), [o.hidden, o.output]));
  const V = new HiddenState(tf.zeros([o.batch, o.hidden]));
  const S = new HiddenState(tf.zeros([o.batch, o.hidden]));
  const Y = new HiddenState(tf.zeros([o.batch, o.output]));
  const xs = tf.tidy(() => tf.cast(random.bernoulli(0.05, [o.T, o.batch, o.input]), 'float32'));
  const labels = tf.tidy(() =>
    tf.oneHot(random.randint(0, o.output, [o.batch]), o.output).cast('float32'),
  );
  const spike = new ReluGrad();
  const step = (x: tf.Tensor) => {
    const u = tf.add(
      tf.mul(0.9, V.value),
      tf.add(tf.matMul(x, win.value), tf.matMul(S.value, wrec.value)),
    );
    const s = spike.call(tf.sub(u, 1));
    V.value = tf.sub(u, s);
    S.value = s;
    Y.value = tf.add(tf.mul(0.9, Y.value), tf.matMul(s, wout.value));
    return Y.value;
  };
  const reset = () => {
    V.value = tf.zeros([o.batch, o.hidden]);
    S.value = tf.zeros([o.batch, o.hidden]);
    Y.value = tf.zeros([o.batch, o.output]);
  };
  const lossOf = (ys: tf.Tensor) => tf.losses.softmaxCrossEntropy(labels, tf.mean(ys, 0));
  const plainLoss = () => lossOf(forLoop(step, xs));
  const ckptLoss = () => lossOf(checkpointedForLoop(step, xs, { base: 10 }) as tf.Tensor);
  const gradStates = { win, wrec, wout };
  const trainStep = (lossFn: () => tf.Tensor) => () => {
    reset();
    const g = grad(lossFn, { gradStates }) as unknown as () => Record<string, tf.Tensor>;
    tf.dispose(Object.values(g()));
  };
  const { plain: tPlain, ckpt: tCkpt } = interleave(
    { plain: trainStep(plainLoss), ckpt: trainStep(ckptLoss) },
    o.reps,
  );
  const pPlain = peakBytes(trainStep(plainLoss)).peak;
  const pCkpt = peakBytes(trainStep(ckptLoss)).peak;
  [win, wrec, wout, V, S, Y].forEach((s) => s.dispose());
  tf.dispose([xs, labels]);
  return {
    batch: o.batch,
    input: o.input,
    hidden: o.hidden,
    output: o.output,
    T: o.T,
    step_s: tPlain.min_ms / 1000,
    step_median_s: tPlain.median_ms / 1000,
    peak_bytes: pPlain,
    checkpointed_step_s: tCkpt.min_ms / 1000,
    checkpointed_peak_bytes: pCkpt,
  };
}

export function runTransformsBench(o: TransformsBenchOptions) {
  const lif = lifStepBench(o);
  const bptt = bpttBench(o);
  return { platform: getPlatform(), lif, bptt };
}

if (isMain(import.meta.url)) {
  const a = parseArgs(process.argv.slice(2));
  const num = (k: keyof TransformsBenchOptions) =>
    typeof a[k] === 'string' ? Number(a[k]) : FULL[k];
  const o: TransformsBenchOptions = {
    n: num('n'),
    batch: num('batch'),
    input: num('input'),
    hidden: num('hidden'),
    output: num('output'),
    T: num('T'),
    reps: num('reps'),
    lifCalls: num('lifCalls'),
  };
  const r = runTransformsBench(o);
  printTable(
    `LIF step, N=${o.n} (${r.platform}), µs per call (min over ${o.reps} reps of ${o.lifCalls} calls)`,
    [
      { variant: 'eager', us_per_call: r.lif.eager_us_per_call },
      {
        variant: 'jit (one fused kernel, V in place, spikes returned)',
        us_per_call: r.lif.jit_us_per_call,
      },
      {
        variant: 'jit { inPlace: false } (new tensors every call)',
        us_per_call: r.lif.jit_no_in_place_us_per_call,
      },
      {
        variant: 'jit (spikes in a state, no result: all in place)',
        us_per_call: r.lif.jit_in_place_us_per_call,
      },
    ],
  );
  printTable(
    `BPTT train step, recurrent LIF B${o.batch} I${o.input} H${o.hidden} O${o.output} T${o.T} (${r.platform})`,
    [
      { variant: 'forLoop + grad', step_s: r.bptt.step_s, peak_MiB: r.bptt.peak_bytes / 2 ** 20 },
      {
        variant: 'checkpointedForLoop + grad',
        step_s: r.bptt.checkpointed_step_s,
        peak_MiB: r.bptt.checkpointed_peak_bytes / 2 ** 20,
      },
      { variant: 'PyTorch 1.13 CPU (reference, same machine)', step_s: 0.13, peak_MiB: NaN },
      { variant: 'jax-js (reference)', step_s: 0.72, peak_MiB: NaN },
    ],
  );
  const file = writeResults('transforms', r);
  console.log(`\nwrote ${file}`);
  console.log(`RESULT ${JSON.stringify(r)}`);
}
