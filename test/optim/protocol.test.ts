/**
 * The optimizer protocol (spec §8.1): registration from a FlatDict, Map, object or array;
 * gradients keyed exactly like the weights; tree-valued weights; the optimizer's own states
 * reachable by graph traversal and restorable; and the bad inputs (unregistered weights,
 * missing/extra keys, shape mismatches, NaN/Inf gradients in both modes, bad hyperparameters).
 */
import { describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf';
import { grad } from '../../src/augment';
import { ArgumentError, KeyNotFoundError, StateError } from '../../src/errors';
import { Module } from '../../src/graph';
import {
  Adam,
  AdamW,
  Adadelta,
  Adagrad,
  Adamax,
  Lion,
  Momentum,
  NonFiniteGradientError,
  RMSProp,
  SGD,
  StepLR,
  clipGradNorm,
  globalNorm,
} from '../../src/optim';
import {
  HiddenState,
  ParamState,
  State,
  disposeStateDict,
  loadStateDict,
  stateDict,
  type StateValue,
} from '../../src/state';
import { disposeTree, expectClose, values } from './helpers';

class Net extends Module {
  layer = {
    weight: new ParamState(tf.tensor2d([0.5, -0.2, 0.1, 0.3], [2, 2])),
    bias: new ParamState(tf.tensor1d([0.1, -0.1])),
  };
  h = new HiddenState(tf.zeros([2]));
  override update(x: tf.Tensor): tf.Tensor {
    return tf.add(tf.matMul(x, this.layer.weight.value), this.layer.bias.value);
  }
}

const x = () => tf.tensor2d([1, 2, -1, 0.5], [2, 2]);
const lossOf = (net: Net, xs: tf.Tensor) => () => tf.mean(tf.square(net.update(xs)));

describe('registration and update', () => {
  it('takes net.states(ParamState) and gradients from grad(…, { gradStates: opt.weights })', () => {
    const net = new Net();
    const opt = new Adam({ lr: 0.01 });
    opt.registerTrainableWeights(net.states(ParamState));
    expect(opt.weights.keys()).toEqual(['layer.weight', 'layer.bias']);
    expect(opt.weights.paths()).toEqual([
      ['layer', 'weight'],
      ['layer', 'bias'],
    ]);
    const xs = x();
    const before = tf.memory().numTensors;
    const grads = grad(lossOf(net, xs), { gradStates: opt.weights })();
    expect(Object.keys(grads).sort()).toEqual(['layer.bias', 'layer.weight']);
    const w0 = values(net.layer.weight.value);
    opt.update(grads);
    disposeTree(grads);
    expect(values(net.layer.weight.value)).not.toEqual(w0);
    expect(opt.counts()).toEqual({ steps: 1, skipped: 0 });
    expect(tf.memory().numTensors).toBe(before);
    xs.dispose();
  });

  it('takes a Map, a plain object or an array; gradients keyed alike (or by State in a Map)', () => {
    const a = new ParamState(tf.tensor1d([1, 2]));
    const b = new ParamState(tf.tensor1d([3]));
    const fromMap = new SGD({ lr: 1 });
    fromMap.registerTrainableWeights(new Map([['a', a]]));
    fromMap.update(new Map([[a, tf.tensor1d([1, 1])]]));
    expect(values(a.value)).toEqual([0, 1]);

    const fromArray = new SGD({ lr: 1 });
    fromArray.registerTrainableWeights([a, b]);
    expect(fromArray.weights.keys()).toEqual(['0', '1']);
    fromArray.update([tf.tensor1d([1, 1]), tf.tensor1d([1])]);
    expect(values(a.value)).toEqual([-1, 0]);
    expect(values(b.value)).toEqual([2]);
    fromArray.update({ 0: tf.tensor1d([1, 1]), 1: tf.tensor1d([1]) });
    expect(values(b.value)).toEqual([1]);
  });

  it('adds each State once (by identity); a key taken by another State is an error', () => {
    const a = new ParamState(tf.tensor1d([1]));
    const opt = new Adam();
    opt.registerTrainableWeights({ a });
    const n = tf.memory().numTensors;
    opt.registerTrainableWeights({ a, again: a });
    expect(opt.weights.keys()).toEqual(['a']);
    expect(tf.memory().numTensors).toBe(n); // no new slots
    const other = new ParamState(tf.tensor1d([2]));
    expect(() => opt.registerTrainableWeights({ a: other })).toThrow(ArgumentError);
    expect(() => opt.registerTrainableWeights({ a: other })).toThrow(
      /key 'a' is already registered for another state/,
    );
    opt.registerTrainableWeights({ b: other });
    expect(opt.weights.keys()).toEqual(['a', 'b']);
  });

  it('rejects what cannot be trained, naming the key', () => {
    const opt = new SGD({ lr: 0.1 });
    const cases: [unknown, RegExp][] = [
      [new ParamState(tf.zeros([2])), /wrap a single State: \[state\] or \{ name: state \}/],
      [{ w: tf.zeros([2]) }, /every weight must be a State; 'w' is Tensor/],
      [{ n: new ParamState(3) }, /'n' .* cannot be trained: .* it holds 3/],
      [{ i: new ParamState(tf.tensor1d([1], 'int32')) }, /'i' .* cannot be trained: .*int32/],
      [{ e: new ParamState({}) }, /'e' .* it has no tensors/],
      [42, /expected the weights as a FlatDict/],
    ];
    for (const [weights, message] of cases) {
      expect(() => opt.registerTrainableWeights(weights as never)).toThrow(ArgumentError);
      expect(() => opt.registerTrainableWeights(weights as never)).toThrow(message);
    }
    expect(opt.weights.size).toBe(0);
  });

  it('updates dict-valued (tree) states leaf-wise, exactly like separate states', () => {
    const w0 = [0.5, -1, 2];
    const b0 = [0.1];
    const tree = new ParamState({ weight: tf.tensor1d(w0), bias: tf.tensor1d(b0) });
    const sw = new ParamState(tf.tensor1d(w0));
    const sb = new ParamState(tf.tensor1d(b0));
    const treeOpt = new AdamW({ lr: 0.1, amsgrad: true });
    const flatOpt = new AdamW({ lr: 0.1, amsgrad: true });
    treeOpt.registerTrainableWeights({ layer: tree });
    flatOpt.registerTrainableWeights({ w: sw, b: sb });
    expect(treeOpt.slot('m', 'layer').value).toHaveProperty('weight');
    for (const k of [1, 2, 3]) {
      const gw = tf.tensor1d([k, -k * 0.5, 0.25]);
      const gb = tf.tensor1d([-k]);
      // keys in another order than the value's: matched by name
      treeOpt.update({ layer: { bias: gb, weight: gw } });
      flatOpt.update({ w: gw, b: gb });
      tf.dispose([gw, gb]);
    }
    const v = tree.value as unknown as { weight: tf.Tensor; bias: tf.Tensor };
    expect(values(v.weight)).toEqual(values(sw.value));
    expect(values(v.bias)).toEqual(values(sb.value));
    const slot = treeOpt.slot('vHat', 'layer').value as unknown as { weight: tf.Tensor };
    expect(values(slot.weight)).toEqual(values(flatOpt.slot('vHat', 'w').value as tf.Tensor));
  });

  it('accepts the tree gradients grad() returns for a tree-valued state', () => {
    const p = new ParamState({ a: tf.tensor1d([1, 2]), b: [tf.scalar(3)] });
    const opt = new SGD({ lr: 0.5 });
    opt.registerTrainableWeights({ p });
    const loss = () => {
      const v = p.value as unknown as { a: tf.Tensor; b: tf.Tensor[] };
      return tf.add(tf.sum(tf.square(v.a)), tf.square(v.b[0]));
    };
    const g = grad(loss, { gradStates: opt.weights })();
    opt.update(g);
    disposeTree(g);
    const v = p.value as unknown as { a: tf.Tensor; b: tf.Tensor[] };
    expect(values(v.a)).toEqual([0, 0]); // θ − 0.5·2θ
    expect(values(v.b[0])).toEqual([0]);
  });
});

describe('bad gradients: clear errors, nothing updated, nothing leaked', () => {
  function setup() {
    const a = new ParamState(tf.tensor1d([1, 2]), { name: 'a' });
    const b = new ParamState(tf.tensor2d([1, 2, 3, 4], [2, 2]));
    const opt = new Adam({ lr: 0.1 });
    opt.registerTrainableWeights({ a, b });
    const snapshot = () =>
      [a, b, opt.slot('m', 'a'), opt.slot('v', 'b'), opt.stepCount].map((s) =>
        values(s.value as tf.Tensor),
      );
    return { a, b, opt, snapshot };
  }

  function expectRejected(
    update: () => void,
    type: new (...args: never[]) => Error,
    message: RegExp,
    snapshot: () => number[][],
  ) {
    const before = snapshot();
    const n = tf.memory().numTensors;
    expect(update).toThrow(type);
    expect(update).toThrow(message);
    expect(tf.memory().numTensors).toBe(n);
    expect(snapshot()).toEqual(before);
  }

  it('update before registration', () => {
    const g = tf.zeros([2]);
    expect(() => new SGD({ lr: 1 }).update({ a: g })).toThrow(
      /no weights registered; call registerTrainableWeights/,
    );
    g.dispose();
  });

  it('gradients for unregistered weights, missing keys', () => {
    const { a, opt, snapshot } = setup();
    const ga = tf.zeros([2]);
    const gb = tf.zeros([2, 2]);
    const stranger = new ParamState(tf.zeros([3]), { name: 'stranger' });
    expectRejected(
      () => opt.update({ a: ga, b: gb, c: ga }),
      KeyNotFoundError,
      /gradients given for 'c', which are not registered weights.*registered keys \('a', 'b'\)/,
      snapshot,
    );
    expectRejected(
      () => opt.update({ a: ga }),
      KeyNotFoundError,
      /no gradient for the registered weights 'b'/,
      snapshot,
    );
    expectRejected(
      () =>
        opt.update(
          new Map<State<StateValue>, tf.Tensor>([
            [a, ga],
            [stranger, ga],
          ]),
        ),
      KeyNotFoundError,
      /gradients given for unregistered weights ParamState\(name='stranger'\).*no gradient for the registered weights 'b'/,
      snapshot,
    );
    tf.dispose([ga, gb]);
  });

  it('shape, dtype and structure mismatches name the weight', () => {
    const { opt, snapshot } = setup();
    const ga = tf.zeros([2]);
    const wrong = tf.zeros([4]);
    const ints = tf.zeros([2, 2], 'int32');
    expectRejected(
      () => opt.update({ a: ga, b: wrong }),
      StateError,
      /gradient of 'b' has shape \[4\], expected \[2,2\]/,
      snapshot,
    );
    expectRejected(
      () => opt.update({ a: ga, b: ints }),
      StateError,
      /gradient of 'b' has dtype int32/,
      snapshot,
    );
    expectRejected(
      () => opt.update({ a: ga, b: { w: wrong } as never }),
      StateError,
      /gradient of 'b' is object, expected a tensor of shape \[2,2\]/,
      snapshot,
    );
    expectRejected(
      () => opt.update({ a: 'x' as never, b: wrong }),
      StateError,
      /gradient of 'a' is "x"/,
      snapshot,
    );
    tf.dispose([ga, wrong, ints]);
  });

  it("NaN / Inf, nonFinite: 'error' (default): a NonFiniteGradientError naming the first weight", () => {
    const { opt, snapshot } = setup();
    const ga = tf.tensor1d([0.1, 0.2]);
    const nan = tf.tensor2d([1, NaN, NaN, Infinity], [2, 2]);
    const inf = tf.tensor1d([-Infinity, 0]);
    expectRejected(
      () => opt.update({ a: ga, b: nan }),
      NonFiniteGradientError,
      /gradient of 'b' .* has 2 NaN and 1 infinite value\(s\) at step 1.*Nothing was updated/,
      snapshot,
    );
    expectRejected(
      () => opt.update({ a: inf, b: nan }),
      NonFiniteGradientError,
      /gradient of 'a' .* has 0 NaN and 1 infinite .*; also non-finite: 'b'/,
      snapshot,
    );
    try {
      opt.update({ a: inf, b: nan });
    } catch (e) {
      expect(e).toBeInstanceOf(ArgumentError);
      expect((e as NonFiniteGradientError).key).toBe('a');
      expect((e as NonFiniteGradientError).infCount).toBe(1);
    }
    expect(opt.counts()).toEqual({ steps: 0, skipped: 0 });
    tf.dispose([ga, nan, inf]);
  });

  it("NaN / Inf, nonFinite: 'skip': weights, moments, counter and schedule unchanged; the step is counted as skipped", () => {
    const run = (withBad: boolean) => {
      const w = new ParamState(tf.tensor1d([1, -1, 0.5]));
      const lr = new StepLR({ lr: 0.1, stepSize: 1, gamma: 0.5, countBy: 'call' });
      const opt = new Adam({ lr, nonFinite: 'skip', clipNorm: 10 });
      opt.registerTrainableWeights({ w });
      const gs = [
        [0.1, 0.2, -0.3],
        [NaN, 0, 0],
        [0.5, -0.1, 0.2],
        [0, Infinity, 0],
        [-0.2, 0.3, 0.1],
      ].filter((g) => withBad || g.every(Number.isFinite));
      const trace: number[][] = [];
      for (const g of gs) {
        const t = tf.tensor1d(g);
        opt.update({ w: t });
        t.dispose();
        if (g.every(Number.isFinite))
          trace.push([...values(w.value), ...values(opt.slot('v', 'w').value as tf.Tensor)]);
      }
      return { trace, counts: opt.counts(), lastCall: values(lr.lastCall!.value)[0] };
    };
    const n = tf.memory().numTensors;
    const skipped = run(true);
    const clean = run(false);
    expect(skipped.trace).toEqual(clean.trace); // bit-identical: the bad steps never happened
    expect(skipped.counts).toEqual({ steps: 3, skipped: 2 });
    expect(clean.counts).toEqual({ steps: 3, skipped: 0 });
    expect(skipped.lastCall).toBe(2);
    // only the two optimizers' own states and the two weights remain
    expect(tf.memory().numTensors - n).toBe(2 * (1 + 2 + 2 + 2));
  });
});

describe('optimizer state as States', () => {
  it('is reachable by graph traversal, named <slot>.<key>, and holds no model weights', () => {
    const net = new Net();
    const opt = new AdamW({ lr: 0.01, amsgrad: true });
    opt.registerTrainableWeights(net.states(ParamState));
    expect(opt.states().keys().sort()).toEqual(
      [
        'lr.lastEpoch',
        'm.layer.bias',
        'm.layer.weight',
        'skippedSteps',
        'stepCount',
        'v.layer.bias',
        'v.layer.weight',
        'vHat.layer.bias',
        'vHat.layer.weight',
      ].sort(),
    );
    expect(opt.slot('m', 'layer.weight').name).toBe('m.layer.weight');
    class Trainer extends Module {
      net = net;
      opt = opt;
    }
    const keys = new Trainer().states().keys();
    expect(keys).toContain('net.layer.weight');
    expect(keys).toContain('opt.m.layer.weight');
    expect(keys.filter((k) => k.endsWith('layer.weight'))).toHaveLength(4); // weight, m, v, vHat
  });

  it('a saved optimizer state dict restores training bit-exactly', () => {
    const theta0 = [0.3, -0.7, 1.1];
    const gs = [
      [0.2, -0.5, 0.9],
      [-0.4, 0.1, 0.3],
      [0.6, 0.6, -0.2],
    ];
    const w = new ParamState(tf.tensor1d(theta0));
    const make = () =>
      new AdamW({
        lr: new StepLR({ lr: 0.05, stepSize: 1, gamma: 0.9, countBy: 'call' }),
        amsgrad: true,
      });
    const opt = make();
    opt.registerTrainableWeights({ w });
    const step = (o: typeof opt, g: number[]) => {
      const t = tf.tensor1d(g);
      o.update({ w: t });
      t.dispose();
    };
    step(opt, gs[0]);
    step(opt, gs[1]);
    const savedW = stateDict({ w });
    const savedOpt = stateDict(opt.states());
    step(opt, gs[2]);
    const expected = values(w.value);

    loadStateDict({ w }, savedW);
    const restored = make();
    restored.registerTrainableWeights({ w });
    loadStateDict(restored.states(), savedOpt);
    expect(restored.counts()).toEqual({ steps: 2, skipped: 0 });
    step(restored, gs[2]);
    expect(values(w.value)).toEqual(expected);
    disposeStateDict(savedW);
    disposeStateDict(savedOpt);
  });
});

describe('clipping by global norm', () => {
  it('clipGradNorm scales every gradient by maxNorm/‖g‖ when ‖g‖ > maxNorm, and returns the norm', () => {
    const grads = { a: tf.tensor1d([3, 0]), b: [tf.tensor2d([[4]])] };
    const n = tf.memory().numTensors;
    const { grads: clipped, norm } = clipGradNorm(grads, 1);
    expect(values(norm)).toEqual([5]);
    expectClose(values(clipped.a), [0.6, 0], 'a');
    expectClose(values(clipped.b[0]), [0.8], 'b');
    expect(values(grads.a)).toEqual([3, 0]); // the input is left alone
    const loose = clipGradNorm(grads, 10);
    expect(values(loose.grads.a)).toEqual([3, 0]);
    const total = globalNorm(grads);
    expect(values(total)).toEqual([5]);
    const zero = clipGradNorm({ z: tf.zeros([2]) }, 1);
    expect(values(zero.grads.z)).toEqual([0, 0]); // no 0/0
    expect(() => clipGradNorm(grads, 0)).toThrow(/maxNorm must be a finite number > 0/);
    expect(() => clipGradNorm({ a: 'x' } as never, 1)).toThrow(/grads\.a is "x"/);
    disposeTree([clipped, norm, loose, total, zero]);
    // zero's input tensor was made here too
    expect(tf.memory().numTensors).toBe(n + 1);
    disposeTree(grads);
  });

  it('the clipNorm option clips before the rule', () => {
    const w = new ParamState(tf.tensor1d([0, 0]));
    const opt = new SGD({ lr: 1, clipNorm: 1 });
    opt.registerTrainableWeights({ w });
    const g = tf.tensor1d([3, 4]);
    opt.update({ w: g });
    expectClose(values(w.value), [-0.6, -0.8], 'θ');
    g.dispose();
  });
});

describe('hyperparameter checks', () => {
  const cases: [string, () => unknown, RegExp][] = [
    ['SGD without lr', () => new SGD({} as never), /SGD: lr is required/],
    ['negative lr', () => new SGD({ lr: -0.1 }), /SGD: lr must be a finite number ≥ 0, got -0\.1/],
    ['NaN lr', () => new Adam({ lr: NaN }), /Adam: lr must be a finite number/],
    ['momentum 1', () => new Momentum({ lr: 0.1, momentum: 1 }), /momentum must be .* \[0, 1\)/],
    ['beta1 1', () => new Adam({ beta1: 1 }), /Adam: beta1 must be a finite number in \[0, 1\)/],
    ['beta2 −0.1', () => new Adamax({ beta2: -0.1 }), /Adamax: beta2 must be/],
    ['eps 0', () => new AdamW({ eps: 0 }), /AdamW: eps must be a finite number > 0/],
    ['eps negative', () => new Adagrad({ lr: 0.1, eps: -1 }), /Adagrad: eps must be/],
    ['rho 1', () => new RMSProp({ lr: 0.1, rho: 1 }), /RMSProp: rho must be/],
    ['rho 2', () => new Adadelta({ rho: 2 }), /Adadelta: rho must be/],
    [
      'weightDecay 2',
      () => new SGD({ lr: 0.1, weightDecay: 2 }),
      /weightDecay must be .* \[0, 1\]/,
    ],
    [
      'AdamW weightDecay −1',
      () => new AdamW({ weightDecay: -1 }),
      /AdamW: weightDecay must be .* ≥ 0/,
    ],
    ['Lion beta2 1', () => new Lion({ beta2: 1 }), /Lion: beta2 must be/],
    ['clipNorm 0', () => new Adam({ clipNorm: 0 }), /clipNorm must be a finite number > 0/],
    [
      'nonFinite',
      () => new Adam({ nonFinite: 'ignore' as never }),
      /nonFinite must be one of 'error', 'skip'/,
    ],
    [
      'unknown option',
      () => new Adam({ learningRate: 0.1 } as never),
      /unknown option 'learningRate'/,
    ],
    ['options not an object', () => new Adam(0.1 as never), /expected an options object, got 0\.1/],
  ];
  for (const [what, make, message] of cases) {
    it(`${what} → ArgumentError naming the argument, no tensor leaked`, () => {
      const n = tf.memory().numTensors;
      expect(make).toThrow(ArgumentError);
      expect(make).toThrow(message);
      expect(tf.memory().numTensors).toBe(n);
    });
  }
});
