/**
 * examples/rsnn.ts: `forward` (input projection hoisted out of the loop, event-driven recurrent
 * product, optionally checkpointed) computes the same readout and the same gradients as the
 * plain step-by-step `update` loop (the Linear over [x, spikes]); nothing leaks.
 */
import { describe, expect, it } from 'vitest';
import { environ, forLoop, grad, initAllStates, losses, ParamState, random, tf } from '../../src';
import { RSNN } from '../../examples/rsnn';

function setup() {
  random.seed(3);
  environ.set({ dt: 1 });
  // a strong input gain so that the hidden layer spikes and the reset and surrogate paths matter
  const net = new RSNN({ nIn: 6, nHidden: 12, nOut: 3, gain: 30 });
  const weights = net.states(ParamState);
  const xs = tf.tidy(() => tf.cast(random.bernoulli(0.3, [9, 4, 6]), 'float32'));
  const labels = random.randint(0, 3, [4]);
  return { net, weights, xs, labels };
}

type Forward = (net: RSNN, xs: tf.Tensor) => tf.Tensor;
const reference: Forward = (net, xs) => forLoop((x: tf.Tensor) => net.update(x), xs) as tf.Tensor;

function lossAndGrads(f: Forward) {
  const { net, weights, xs, labels } = setup();
  initAllStates(net, { batchSize: 4 });
  const [grads, loss] = grad(() => losses.softmaxCrossEntropy(tf.mean(f(net, xs), 0), labels), {
    gradStates: weights,
    returnValue: true,
  })();
  const flat = Object.fromEntries(
    Object.entries(grads as Record<string, unknown>).flatMap(([k, v]) =>
      v instanceof tf.Tensor
        ? [[k, Array.from(v.dataSync())]]
        : Object.entries(v as Record<string, tf.Tensor>).map(([kk, t]) => [
            `${k}.${kk}`,
            Array.from(t.dataSync()),
          ]),
    ),
  );
  const spikes = net.neu.spike.value.sum().dataSync()[0];
  const out = { loss: loss.dataSync()[0], grads: flat, spikes };
  tf.dispose([xs, labels, loss]);
  tf.dispose(grads as tf.TensorContainer);
  for (const [, s] of net.states()) s.dispose();
  return out;
}

function expectSameGrads(a: Record<string, number[]>, b: Record<string, number[]>): void {
  expect(Object.keys(a).sort()).toEqual(Object.keys(b).sort());
  for (const k of Object.keys(a)) {
    const scale = Math.max(1e-3, ...b[k].map(Math.abs));
    a[k].forEach((v, i) => expect(Math.abs(v - b[k][i]) / scale).toBeLessThan(1e-4));
  }
}

describe('RSNN.forward', () => {
  it('equals the step-by-step update loop: loss and every gradient', () => {
    const ref = lossAndGrads(reference);
    const ours = lossAndGrads((net, xs) => net.forward(xs));
    expect(ref.spikes).toBeGreaterThan(0);
    expect(ours.loss).toBeCloseTo(ref.loss, 5);
    expectSameGrads(ours.grads, ref.grads);
  });

  it('checkpointed: the same loss and gradients', () => {
    const ref = lossAndGrads(reference);
    const ours = lossAndGrads((net, xs) => net.forward(xs, { checkpoint: 2 }));
    expect(ours.loss).toBeCloseTo(ref.loss, 5);
    expectSameGrads(ours.grads, ref.grads);
  });

  it('leaks nothing over repeated training steps', () => {
    const { net, weights, xs, labels } = setup();
    const step = () => {
      initAllStates(net, { batchSize: 4 });
      const [g, loss] = grad(
        () => losses.softmaxCrossEntropy(tf.mean(net.forward(xs), 0), labels),
        { gradStates: weights, returnValue: true },
      )();
      tf.dispose([loss, g as tf.TensorContainer]);
    };
    step();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) step();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([xs, labels]);
    for (const [, s] of net.states()) s.dispose();
  });
});
