/**
 * Training a small model with grad + every optimizer: the loss goes down and 100 steps leave
 * `tf.memory().numTensors` where it was (eagerly and inside jit, the canonical training step of
 * spec §8.3). In `nonFinite: 'skip'` mode the jitted step reads no tensor data back.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { tf } from '../../src/backend/tf';
import { grad } from '../../src/augment';
import { jit } from '../../src/compile';
import { Module } from '../../src/graph';
import {
  Adadelta,
  Adagrad,
  Adam,
  AdamW,
  Adamax,
  CosineAnnealingLR,
  Lion,
  Momentum,
  MomentumNesterov,
  RMSProp,
  SGD,
  WarmupLR,
  type Optimizer,
} from '../../src/optim';
import { ParamState } from '../../src/state';
import { values } from './helpers';

/** A 4 → 8 → 2 tanh MLP with deterministic weights. */
class MLP extends Module {
  w1 = new ParamState(tf.tidy(() => tf.mul(tf.sin(tf.range(0, 32).reshape([4, 8])), 0.5)));
  b1 = new ParamState(tf.zeros([8]));
  out = {
    w: new ParamState(tf.tidy(() => tf.mul(tf.cos(tf.range(0, 16).reshape([8, 2])), 0.5))),
    b: new ParamState(tf.zeros([2])),
  };
  override update(x: tf.Tensor): tf.Tensor {
    const h = tf.tanh(tf.add(tf.matMul(x, this.w1.value), this.b1.value));
    return tf.add(tf.matMul(h, this.out.w.value), this.out.b.value);
  }
}

function data() {
  const x = tf.tidy(() => tf.cos(tf.range(0, 64).reshape([16, 4])));
  const y = tf.tidy(() =>
    tf.stack([tf.sum(x, 1), tf.sub(x.slice([0, 0], [16, 1]).squeeze(), 0.5)], 1),
  );
  return { x, y };
}

function trainer(opt: Optimizer) {
  const net = new MLP();
  const { x, y } = data();
  opt.registerTrainableWeights(net.states(ParamState));
  const loss = () => tf.mean(tf.square(tf.sub(net.update(x), y)));
  const step = () => {
    const [grads, value] = grad(loss, { gradStates: opt.weights, returnValue: true })();
    opt.update(grads);
    tf.dispose(Object.values(grads));
    return value;
  };
  const dispose = () => {
    for (const s of net.states().values()) s.dispose();
    tf.dispose([x, y]);
  };
  return { net, step, dispose };
}

const optimizers: [string, () => Optimizer][] = [
  ['SGD', () => new SGD({ lr: 0.05, weightDecay: 1e-4 })],
  ['Momentum', () => new Momentum({ lr: 0.02 })],
  ['MomentumNesterov', () => new MomentumNesterov({ lr: 0.02 })],
  ['Adagrad', () => new Adagrad({ lr: 0.05 })],
  ['RMSProp', () => new RMSProp({ lr: 0.005 })],
  ['Adadelta', () => new Adadelta()],
  ['Adam', () => new Adam({ lr: 0.01 })],
  ['AdamW (amsgrad)', () => new AdamW({ lr: 0.01, amsgrad: true })],
  ['Adamax', () => new Adamax({ lr: 0.01 })],
  ['Lion', () => new Lion({ lr: 0.002, weightDecay: 0.1 })],
  [
    'Adam + warmup/cosine + clipNorm + skip',
    () =>
      new Adam({
        lr: new WarmupLR({
          warmupSteps: 10,
          schedule: new CosineAnnealingLR({ lr: 0.01, tMax: 200 }),
          countBy: 'call',
        }),
        clipNorm: 1,
        nonFinite: 'skip',
      }),
  ],
];

afterEach(() => vi.restoreAllMocks());

describe('100 training steps', () => {
  for (const [name, make] of optimizers) {
    it(`${name}: the loss decreases and no tensor leaks`, () => {
      const opt = make();
      const t = trainer(opt);
      const first = t.step();
      const loss0 = values(first)[0];
      first.dispose();
      const before = tf.memory().numTensors;
      let last = 0;
      for (let i = 0; i < 100; i++) {
        const l = t.step();
        last = values(l)[0];
        l.dispose();
      }
      expect(tf.memory().numTensors).toBe(before);
      expect(last).toBeLessThan(loss0);
      expect(opt.counts()).toEqual({ steps: 101, skipped: 0 });
      t.dispose();
    });
  }
});

describe('inside jit (the canonical training step)', () => {
  it("nonFinite: 'skip' reads no data back, replays, matches eager training and leaks nothing", () => {
    const warn = vi.spyOn(console, 'warn');
    const make = () => new AdamW({ lr: 0.01, clipNorm: 5, nonFinite: 'skip' });
    const eager = trainer(make());
    const jitOpt = make();
    const jitted = trainer(jitOpt);
    const trainStep = jit(() => jitted.step());
    tf.dispose([trainStep(), eager.step()]);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 100; i++) tf.dispose([trainStep(), eager.step()]);
    expect(tf.memory().numTensors).toBe(before);
    expect(warn).not.toHaveBeenCalled();
    expect(jitOpt.counts()).toEqual({ steps: 101, skipped: 0 });
    // compiled: the forward, backward and update kernels replay fused (float32 rounding differs
    // from the op-by-op run in the last bits)
    expect(trainStep.replayCount).toBe(100);
    const w = values(jitted.net.w1.value);
    const ref = values(eager.net.w1.value);
    expect(w.length).toBe(ref.length);
    w.forEach((v, i) => expect(Math.abs(v - ref[i])).toBeLessThan(1e-5 * (1 + Math.abs(ref[i]))));
    eager.dispose();
    jitted.dispose();
  });

  it("nonFinite: 'error' works under jit too (one scalar read per step; jit says so once)", () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const t = trainer(new Adam({ lr: 0.01 }));
    const trainStep = jit(() => t.step());
    tf.dispose(trainStep());
    const before = tf.memory().numTensors;
    for (let i = 0; i < 100; i++) tf.dispose(trainStep());
    expect(tf.memory().numTensors).toBe(before);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0][0])).toMatch(/reads traced tensor data back/);
    t.dispose();
  });
});
