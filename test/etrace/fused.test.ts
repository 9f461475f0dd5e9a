/**
 * The fused trace paths of the learners (in-place kernels on pooled buffers, D_RTRL's deferred
 * trace step applied inside the gradient pass) against the same learners with the kernels
 * switched off (the tfjs ops): over a sequence that mixes gradient steps, steps without a
 * gradient, reads of the traces, two updates inside one gradient, a multi-step window and a
 * reset, the traces are bit-identical and the gradients agree; no tensor leaks.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf';
import { grad } from '../../src/augment';
import * as random from '../../src/random';
import {
  D_RTRL,
  ES_D_RTRL,
  MultiStepData,
  type ETraceVjpAlgorithm,
} from '../../src/etrace/algorithms';
import { setFusedTraceKernels } from '../../src/etrace/traceKernels';
import { B, Net, NI, maxRel, snapshotTraces } from './smallNet';

afterEach(() => {
  setFusedTraceKernels(true);
});

interface Run {
  grads: Float32Array[];
  traces: Float32Array[];
}

function run(make: (net: Net) => ETraceVjpAlgorithm, fused: boolean): Run {
  setFusedTraceKernels(fused);
  random.seed(3);
  const net = new Net();
  net.initState({ batchSize: B });
  const xs = Array.from({ length: 16 }, () =>
    tf.cast(tf.greater(random.uniform(0, 1, [B, NI]), 0.5), 'float32'),
  );
  const c = random.normal(0, 1, [B, 2]);
  const alg = make(net);
  alg.compileGraph(xs[0]);
  const out: Run = { grads: [], traces: [] };
  const gradOf = (f: () => tf.Tensor) => {
    const g = grad(() => tf.sum(tf.mul(f(), c)), {
      gradStates: { W: net.W, V: net.V },
    })() as unknown as Record<string, Record<string, tf.Tensor>>;
    for (const k of ['W', 'V']) {
      for (const kk of Object.keys(g[k]).sort()) {
        out.grads.push(Float32Array.from(g[k][kk].dataSync()));
      }
    }
    tf.dispose(g as unknown as tf.TensorContainer);
  };
  const step = (t: number) => gradOf(() => alg.update(xs[t]));
  let t = 0;
  for (; t < 4; t++) step(t);
  tf.dispose(alg.update(xs[t++])); // no gradient
  step(t++);
  out.traces.push(...snapshotTraces(alg, net)); // a read between steps
  step(t++);
  // two updates inside one gradient
  gradOf(() => tf.add(alg.update(xs[t]), alg.update(xs[t + 1])));
  t += 2;
  // a window of two steps
  const win = tf.stack([xs[t], xs[t + 1]]);
  gradOf(() => tf.sum(alg.update(new MultiStepData(win)), 0));
  win.dispose();
  t += 2;
  step(t++);
  out.traces.push(...snapshotTraces(alg, net));
  alg.resetState();
  step(t++);
  step(t++);
  out.traces.push(...snapshotTraces(alg, net));
  // leaks: the count is flat over further steps
  let before = -1;
  for (let i = 0; i < 6; i++) {
    step(i);
    tf.dispose(alg.update(xs[i + 1]));
    if (i === 0) before = tf.memory().numTensors;
  }
  expect(tf.memory().numTensors).toBe(before);
  out.grads.length = Math.min(out.grads.length, 1000);
  alg.dispose();
  tf.dispose([...xs, c]);
  for (const [, s] of net.states()) s.dispose();
  return out;
}

describe.each([
  ['D_RTRL', (net: Net) => new D_RTRL(net)],
  ['ES_D_RTRL', (net: Net) => new ES_D_RTRL(net, { decay: 0.8 })],
] as const)('%s: fused kernels vs the tfjs ops', (_, make) => {
  it('bit-identical traces, equal gradients, no leaks', () => {
    const ops = run(make, false);
    const fused = run(make, true);
    expect(fused.traces.length).toBe(ops.traces.length);
    fused.traces.forEach((tr, i) => expect(Array.from(tr)).toEqual(Array.from(ops.traces[i])));
    expect(fused.grads.length).toBe(ops.grads.length);
    fused.grads.forEach((g, i) => expect(maxRel(g, ops.grads[i])).toBeLessThan(1e-4));
    // the traces are not trivial
    expect(ops.traces.some((tr) => tr.some((v) => v !== 0))).toBe(true);
  });
});
