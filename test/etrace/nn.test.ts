/**
 * brainscale.nn layers (spec §4): every layer holds its parameter in `weight` (an ETraceParam by
 * default, NonTempParam / FakeETraceParam by paramType) bound to the right op; outputs equal the
 * plain src/nn layers with the same weights (batched and unbatched); gradients through the
 * parameter equal the plain layer's; SignedWLinear keeps the sign; Conv1d sizes of spec §4;
 * typed errors naming the layer; no tensor leaks over repeated calls.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf';
import { grad } from '../../src/augment';
import * as environ from '../../src/environ';
import { ArgumentError } from '../../src/errors';
import { initAllStates, states } from '../../src/graph';
import { seed } from '../../src/random';
import { BatchState, HiddenState, ParamState, type StateValue } from '../../src/state';
import * as plain from '../../src/nn';
import { CSR } from '../../src/nn/connectivity';
import { ETraceParam, FakeETraceParam, NonTempParam } from '../../src/etrace/params';
import { compileETraceGraph, pathTuple } from '../../src/etrace/compiler';
import { ConvOp, LoraOp, MatMulOp, ScaleOp, SpMatMulOp } from '../../src/etrace/ops';
import * as enn from '../../src/etrace/nn';
import { checkNoTensorLeaks, disposeGraph } from '../graph/fixtures';
import { randomTensor } from '../nn/layersHelpers';

checkNoTensorLeaks();
beforeAll(() => {
  seed(11);
  environ.set({ dt: 1 });
});
afterAll(() => environ.reset());

function expectClose(a: tf.Tensor, b: tf.Tensor, tol = 1e-5): void {
  expect(a.shape).toEqual(b.shape);
  const x = a.dataSync();
  const y = b.dataSync();
  for (let i = 0; i < x.length; i++) {
    expect(Math.abs(x[i] - y[i])).toBeLessThanOrEqual(tol * (1 + Math.abs(y[i])));
  }
}

/** Call both layers on each input and compare; frees the outputs. */
function sameOutputs(
  a: { call(x: tf.Tensor): unknown },
  b: { call(x: tf.Tensor): unknown },
  inputs: tf.Tensor[],
  tol = 1e-5,
): void {
  for (const x of inputs) {
    const ya = a.call(x) as tf.Tensor;
    const yb = b.call(x) as tf.Tensor;
    expectClose(ya, yb, tol);
    tf.dispose([ya, yb]);
  }
}

/** numTensors is the same before and after n more calls (after one warm-up call). */
function expectNoLeak(fn: () => tf.Tensor | void, n = 50): void {
  tf.dispose(fn() ?? []);
  const before = tf.memory().numTensors;
  for (let i = 0; i < n; i++) tf.dispose(fn() ?? []);
  expect(tf.memory().numTensors).toBe(before);
}

/** A disposable bag of tensors for a test. */
function bag(...ts: tf.Tensor[]): { ts: tf.Tensor[]; free(): void } {
  return { ts, free: () => tf.dispose(ts) };
}

describe('Linear', () => {
  it('is MatMulOp on an ETraceParam `weight` = { weight, bias } and equals nn.Linear', () => {
    const W = randomTensor([3, 4], 1);
    const b = randomTensor([4], 2);
    const mask = tf.tensor2d([1, 0, 1, 1, 0, 1, 1, 1, 1, 1, 0, 1], [3, 4]);
    const e = new enn.Linear(3, 4, { wInit: W, bInit: b, wMask: mask, grad: 'approx' });
    const p = new plain.Linear(3, 4, { wInit: W, bInit: b, wMask: mask });
    expect(e.weight).toBeInstanceOf(ETraceParam);
    const param = e.weight as ETraceParam;
    expect(param.op).toBeInstanceOf(MatMulOp);
    expect(param.grad).toBe('approx');
    expect(Object.keys(e.weight.value)).toEqual(['weight', 'bias']);
    expect(states(e).keys()).toEqual(['weight']);
    expect(e.outSize).toEqual([4]);
    const xs = bag(randomTensor([3], 3), randomTensor([5, 3], 4), randomTensor([2, 5, 3], 5));
    sameOutputs(e, p, xs.ts);
    xs.free();
    tf.dispose([mask]);
    e.dispose();
    p.dispose();
  });

  it('bInit null gives no bias; the default grad is adaptive; errors name the layer', () => {
    const e = new enn.Linear(3, 2, { bInit: null, name: 'fc' });
    expect(Object.keys(e.weight.value)).toEqual(['weight']);
    expect((e.weight as ETraceParam).grad).toBe('adaptive');
    const bad = tf.zeros([2, 4]);
    expect(() => e.call(bad)).toThrow(ArgumentError);
    expect(() => e.call(bad)).toThrow(
      /Linear\(name='fc'\): the input must have shape \[\.\.\., 3\]/,
    );
    expect(() => new enn.Linear([2, 3], [3, 4])).toThrow(/must agree on all but the last/);
    expect(() => new enn.Linear(3, 2, { paramType: 'x' as never })).toThrow(
      /paramType must be 'etrace', 'nonTemp' or 'fake'/,
    );
    expect(() => new enn.Conv1d([4, 2], 3, 2, { grad: 'x' as never })).toThrow(
      /Conv1d: grad must be 'full', 'approx' or 'adaptive'/,
    );
    bad.dispose();
    e.dispose();
  });

  it('gradients through the ETraceParam equal those of nn.Linear', () => {
    const W = randomTensor([3, 2], 6);
    const b = randomTensor([2], 7);
    const e = new enn.Linear(3, 2, { wInit: W, bInit: b });
    const p = new plain.Linear(3, 2, { wInit: W, bInit: b });
    const x = randomTensor([4, 3], 8);
    const gradOf = (layer: { call(x: tf.Tensor): unknown }, s: ParamState<StateValue>) =>
      grad(() => tf.sum(tf.square(layer.call(x) as tf.Tensor)), {
        gradStates: [s],
      })() as unknown as Record<string, tf.Tensor>[];
    const [ge] = gradOf(e, e.weight as unknown as ParamState<StateValue>);
    const [gp] = gradOf(p, p.weight as unknown as ParamState<StateValue>);
    expectClose(ge.weight, gp.weight);
    expectClose(ge.bias, gp.bias);
    tf.dispose([x, ge.weight, ge.bias, gp.weight, gp.bias]);
    e.dispose();
    p.dispose();
  });

  it("paramType 'nonTemp' → NonTempParam (a ParamState), 'fake' → FakeETraceParam (no state)", () => {
    const W = randomTensor([3, 2], 9);
    const ref = new plain.Linear(3, 2, { wInit: W });
    const nt = new enn.Linear(3, 2, { wInit: W, paramType: 'nonTemp' });
    const fk = new enn.Linear(3, 2, { wInit: W, paramType: 'fake' });
    expect(nt.weight).toBeInstanceOf(NonTempParam);
    expect(nt.weight).not.toBeInstanceOf(ETraceParam);
    expect(states(nt, ParamState).keys()).toEqual(['weight']);
    expect(fk.weight).toBeInstanceOf(FakeETraceParam);
    expect(states(fk).size).toBe(0);
    const x = randomTensor([2, 3], 10);
    sameOutputs(nt, ref, [x]);
    sameOutputs(fk, ref, [x]);
    // a fake parameter survives an enclosing tidy
    let inTidy!: enn.Linear;
    tf.tidy(() => {
      inTidy = new enn.Linear(3, 2, { paramType: 'fake' });
    });
    const y = inTidy.call(x);
    expect(y.shape).toEqual([2, 2]);
    tf.dispose([x, y]);
    [ref, nt, fk, inTidy].forEach((l) => l.dispose());
  });

  it('the parameter path inside a Sequential is (layers, i, weight)', () => {
    const net = new enn.Sequential(new enn.Linear(4, 3), new enn.LayerNorm(3), new enn.ReLU());
    const ps = states(net, ETraceParam);
    expect(ps.keys()).toEqual(['layers.0.weight', 'layers.1.weight']);
    expect(ps.paths()[1]).toEqual(['layers', 1, 'weight']);
    disposeGraph(net);
  });
});

describe('SignedWLinear', () => {
  it('y = x @ (|W| ⊙ sign): the sign survives negative raw weights; equals nn.SignedWLinear', () => {
    const W = tf.tensor2d([-1, 2, 3, -4, 0.5, -0.5], [3, 2]);
    const sign = tf.tensor2d([1, 1, -1, -1, 1, -1], [3, 2]);
    const e = new enn.SignedWLinear(3, 2, { wInit: W, wSign: sign });
    const p = new plain.SignedWLinear(3, 2, { wInit: W, wSign: sign });
    expect(Object.keys(e.weight.value)).toEqual(['weight']);
    const op = (e.weight as ETraceParam).op as MatMulOp;
    expect(op.applyWeightFnBeforeMask).toBe(true);
    const x = tf.tensor2d([1, 0, 0, 0, 1, 0, 0, 0, 1], [3, 3]);
    const y = e.call(x); // rows of the effective weight
    expect(Array.from(y.dataSync())).toEqual([1, 2, -3, -4, 0.5, -0.5]);
    const eff = e.effectiveWeight();
    expect(Array.from(eff.dataSync())).toEqual([1, 2, -3, -4, 0.5, -0.5]);
    const xs = bag(randomTensor([4, 3], 12), randomTensor([3], 13));
    sameOutputs(e, p, xs.ts);
    xs.free();
    // with a mask too: |W| ⊙ sign ⊙ mask
    const mask = tf.tensor2d([1, 0, 1, 1, 0, 1], [3, 2]);
    const em = new enn.SignedWLinear(3, 2, { wInit: W, wSign: sign, wMask: mask });
    const ym = em.call(x);
    expect(Array.from(ym.dataSync())).toEqual([1, 0, -3, -4, 0, -0.5]);
    tf.dispose([W, sign, mask, x, y, eff, ym]);
    [e, p, em].forEach((l) => l.dispose());
  });
});

describe('SparseLinear', () => {
  it('SpMatMulOp on { weight: [nnz], bias }; equals nn.SparseLinear', () => {
    const dense = [1, 0, 2, 0, 0, 3, 4, 5, 0, 0, 0, 6];
    const csr = CSR.fromDense(dense, 3, 4);
    const w = randomTensor([csr.nnz], 14);
    const b = randomTensor([4], 15);
    const e = new enn.SparseLinear(csr, { weight: w, bInit: b });
    const p = new plain.SparseLinear(csr, { weight: w, bInit: b });
    expect((e.weight as ETraceParam).op).toBeInstanceOf(SpMatMulOp);
    expect(e.weight.value.weight.shape).toEqual([csr.nnz]);
    expect(e.outSize).toEqual([4]);
    const xs = bag(randomTensor([3], 16), randomTensor([5, 3], 17));
    sameOutputs(e, p, xs.ts);
    xs.free();
    // a scalar weight becomes one trainable value per synapse
    const ones = new enn.SparseLinear(csr, { weight: 0.5 });
    expect(ones.weight.value.weight.shape).toEqual([csr.nnz]);
    expect(() => new enn.SparseLinear(csr, { inSize: 4 })).toThrow(/nPre = 3/);
    const bad = tf.zeros([2, 4]);
    expect(() => e.call(bad)).toThrow(/SparseLinear: the input must have shape \[\.\.\., 3\]/);
    tf.dispose([w, b, bad]);
    [e, p, ones].forEach((l) => l.dispose());
  });
});

describe('LoRA', () => {
  it('y = (alpha/rank)·x @ B @ A (+ base(x)); B defaults to zero', () => {
    const B = randomTensor([3, 2], 18);
    const A = randomTensor([2, 4], 19);
    const l = new enn.LoRA(3, 2, 4, { alpha: 3, BInit: B, AInit: A });
    expect((l.weight as ETraceParam).op).toBeInstanceOf(LoraOp);
    expect(((l.weight as ETraceParam).op as LoraOp).alpha).toBeCloseTo(1.5, 6);
    expect(Object.keys(l.weight.value).sort()).toEqual(['A', 'B']);
    const x = randomTensor([5, 3], 20);
    const y = l.call(x);
    const ref = tf.tidy(() => tf.mul(tf.matMul(tf.matMul(x, B), A), 1.5));
    expectClose(y, ref);
    const base = new enn.Linear(3, 4);
    const withBase = new enn.LoRA(3, 2, 4, { baseModule: base });
    expect(states(withBase, ETraceParam).keys()).toEqual(['baseModule.weight', 'weight']);
    const y0 = withBase.call(x);
    const yb = base.call(x);
    expectClose(y0, yb); // B = 0 at init: the adapter adds nothing yet
    expect(() => new enn.LoRA(3, 0, 4)).toThrow(/loraRank must be a positive integer/);
    tf.dispose([B, A, x, y, ref, y0, yb]);
    [l, withBase, base].forEach((m) => m.dispose());
  });
});

describe('Conv1d / Conv2d', () => {
  it('Conv1d in (10, 3), k = 3 → (10, 16) SAME, (8, 16) VALID, stride 2 → (5, 16)', () => {
    const same = new enn.Conv1d([10, 3], 16, 3);
    const valid = new enn.Conv1d([10, 3], 16, 3, { padding: 'VALID' });
    const strided = new enn.Conv1d([10, 3], 16, 3, { stride: 2 });
    expect(same.outSize).toEqual([10, 16]);
    expect(valid.outSize).toEqual([8, 16]);
    expect(strided.outSize).toEqual([5, 16]);
    expect((same.weight as ETraceParam).op).toBeInstanceOf(ConvOp);
    expect(same.weight.value.weight.shape).toEqual([3, 3, 16]);
    expect(Object.keys(same.weight.value)).toEqual(['weight']); // bInit null by default
    const x1 = randomTensor([10, 3], 21);
    const x2 = randomTensor([2, 10, 3], 22);
    for (const layer of [same, valid, strided]) {
      const y1 = layer.call(x1);
      const y2 = layer.call(x2);
      expect(y1.shape).toEqual([...layer.outSize!]);
      expect(y2.shape).toEqual([2, ...layer.outSize!]);
      tf.dispose([y1, y2]);
    }
    const bad = tf.zeros([10, 4]);
    expect(() => same.call(bad)).toThrow(ArgumentError);
    expect(() => same.call(bad)).toThrow(/Conv1d: expected an input of shape \[10, 3\]/);
    expect(() => new enn.Conv1d([10], 4, 3)).toThrow(/Conv1d: inSize must be/);
    tf.dispose([x1, x2, bad]);
    [same, valid, strided].forEach((l) => l.dispose());
  });

  it('equals nn.Conv1d / nn.Conv2d with the same kernel, bias, stride, padding and dilation', () => {
    const configs: [number, number[], number | number[], Record<string, unknown>][] = [
      [1, [9, 2], 3, { padding: 'SAME' }],
      [1, [9, 2], 2, { padding: 'VALID', stride: 2 }],
      [2, [6, 5, 2], [3, 2], { padding: 'SAME', stride: [2, 1] }],
      [2, [6, 5, 2], 3, { padding: [[1, 0], 2], dilation: 2 }],
    ];
    configs.forEach(([n, inSize, k, opts], i) => {
      const kernel = typeof k === 'number' ? new Array<number>(n).fill(k) : k;
      const W = randomTensor([...kernel, inSize[n], 3], 30 + i);
      const b = randomTensor([3], 40 + i);
      const o = { ...opts, wInit: W, bInit: b };
      const e = n === 1 ? new enn.Conv1d(inSize, 3, k, o) : new enn.Conv2d(inSize, 3, k, o);
      const p = n === 1 ? new plain.Conv1d(inSize, 3, k, o) : new plain.Conv2d(inSize, 3, k, o);
      expect(e.outSize).toEqual(p.outSize);
      const xs = bag(randomTensor(inSize, 50 + i), randomTensor([2, ...inSize], 60 + i));
      sameOutputs(e, p, xs.ts, 1e-4);
      xs.free();
      tf.dispose([W, b]);
      e.dispose();
      p.dispose();
    });
  });
});

describe('normalisation layers', () => {
  it('affine parameters are ONE ETraceParam `weight` = { scale, bias } with ScaleOp and grad full', () => {
    const layers = [
      new enn.LayerNorm([4]),
      new enn.RMSNorm([4]),
      new enn.GroupNorm([5, 4], { numGroups: 2 }),
      new enn.BatchNorm1d([5, 4]),
    ];
    const keys = [['scale', 'bias'], ['scale'], ['scale', 'bias'], ['scale', 'bias']];
    layers.forEach((l, i) => {
      expect(l.weight).toBeInstanceOf(ETraceParam);
      const param = l.weight as ETraceParam;
      expect(param.op).toBeInstanceOf(ScaleOp);
      expect(param.grad).toBe('full');
      expect(Object.keys(l.weight!.value)).toEqual(keys[i]);
      expect(states(l, ETraceParam).keys()).toEqual(['weight']);
    });
    const bn = layers[3] as enn.BatchNorm1d;
    expect(bn.runningMean).toBeInstanceOf(BatchState);
    expect(states(bn, HiddenState).size).toBe(0);
    const none = new enn.LayerNorm([4], { useScale: false, useBias: false });
    expect(none.weight).toBeNull();
    const nt = new enn.LayerNorm([4], { paramType: 'nonTemp' });
    expect(nt.weight).toBeInstanceOf(NonTempParam);
    [...layers, none, nt].forEach((l) => l.dispose());
  });

  it('equal the nn layers with the same (random) scale and bias, batched and unbatched', () => {
    const s4 = randomTensor([4], 70, 0.5, 1.5);
    const b4 = randomTensor([4], 71);
    const s34 = randomTensor([3, 4], 72, 0.5, 1.5);
    const b34 = randomTensor([3, 4], 73);
    const init = (s: tf.Tensor, b: tf.Tensor) => ({ scaleInit: s, biasInit: b });
    const pairs: [{ call(x: tf.Tensor): unknown; dispose(): void }, plain.Module, number[]][] = [
      [new enn.LayerNorm([4], init(s4, b4)), new plain.LayerNorm([4], init(s4, b4)), [4]],
      [
        new enn.LayerNorm([3, 4], {
          ...init(s34, b34),
          reductionAxes: [0, 1],
          featureAxes: [0, 1],
        }),
        new plain.LayerNorm([3, 4], {
          ...init(s34, b34),
          reductionAxes: [0, 1],
          featureAxes: [0, 1],
        }),
        [3, 4],
      ],
      [new enn.RMSNorm([4], { scaleInit: s4 }), new plain.RMSNorm([4], { scaleInit: s4 }), [4]],
      [
        new enn.GroupNorm([3, 4], { numGroups: 2, ...init(s4, b4) }),
        new plain.GroupNorm([3, 4], { numGroups: 2, ...init(s4, b4) }),
        [3, 4],
      ],
    ];
    pairs.forEach(([e, p, shape], i) => {
      const xs = bag(
        randomTensor(shape, 80 + i, -2, 2),
        randomTensor([5, ...shape], 90 + i, -2, 2),
      );
      sameOutputs(e, p as never, xs.ts, 1e-4);
      xs.free();
      e.dispose();
      disposeGraph(p);
    });
    tf.dispose([s4, b4, s34, b34]);
  });

  it('BatchNorm1d/2d equal nn in training (running stats updated alike) and evaluation', () => {
    for (const [E, P, shape] of [
      [enn.BatchNorm1d, plain.BatchNorm1d, [3, 4]],
      [enn.BatchNorm2d, plain.BatchNorm2d, [2, 3, 4]],
      [enn.BatchNorm0d, plain.BatchNorm0d, [4]],
    ] as const) {
      const s = randomTensor([4], 100, 0.5, 1.5);
      const b = randomTensor([4], 101);
      const e = new E([...shape], { scaleInit: s, biasInit: b, momentum: 0.9 });
      const p = new P([...shape], { scaleInit: s, biasInit: b, momentum: 0.9 });
      const x = randomTensor([6, ...shape], 102, -2, 2);
      environ.context({ fit: true }, () => sameOutputs(e, p, [x], 1e-4));
      expectClose(e.runningMean!.value, p.runningMean!.value);
      expectClose(e.runningVar!.value, p.runningVar!.value);
      environ.context({ fit: false }, () => sameOutputs(e, p, [x], 1e-4));
      const bad = tf.zeros([6, 9]);
      expect(() => environ.context({ fit: true }, () => e.call(bad))).toThrow(
        new RegExp(`${E.name}: expected an input of shape`),
      );
      tf.dispose([s, b, x, bad]);
      e.dispose();
      disposeGraph(p);
    }
  });
});

describe('readouts', () => {
  it('LeakyRateReadout: r ← decay·r + execute(x) with `weight` = { weight } (MatMulOp, no bias)', () => {
    const W = randomTensor([3, 2], 110);
    const e = new enn.LeakyRateReadout(3, 2, { tau: 4, wInit: W });
    const p = new plain.LeakyRateReadout(3, 2, { tau: 4, wInit: W });
    expect(e.decay).toBeCloseTo(Math.exp(-1 / 4), 12);
    expect((e.weight as ETraceParam).op).toBeInstanceOf(MatMulOp);
    expect(Object.keys(e.weight.value)).toEqual(['weight']);
    initAllStates(e, { batchSize: 2 });
    initAllStates(p, { batchSize: 2 });
    expect(e.r).toBeInstanceOf(HiddenState);
    expect(states(e, ETraceParam).keys()).toEqual(['weight']);
    expect(states(e, HiddenState).keys()).toEqual(['r']);
    const x = randomTensor([2, 3], 111);
    for (let t = 0; t < 3; t++) expectClose(e.call(x), p.call(x)); // r is owned by the state
    const bad = tf.zeros([3, 3]);
    expect(() => e.call(bad)).toThrow(/LeakyRateReadout.*the input must have shape \[2, 3\]/);
    expectNoLeak(() => {
      e.call(x);
    });
    tf.dispose([W, x, bad]);
    e.dispose();
    disposeGraph(e);
    disposeGraph(p);
  });

  it('LeakySpikeReadout: IF neurons driven by execute(x); equals nn.LeakySpikeReadout', () => {
    const W = randomTensor([3, 2], 120, 0, 1);
    const e = new enn.LeakySpikeReadout(3, 2, { tau: 3, wInit: W, V_th: 0.5 });
    const p = new plain.LeakySpikeReadout(3, 2, { tau: 3, wInit: W, V_th: 0.5 });
    expect(e.weight).toBeInstanceOf(ETraceParam);
    initAllStates(e, { batchSize: 2 });
    initAllStates(p, { batchSize: 2 });
    const x = randomTensor([2, 3], 121, 0, 2);
    for (let t = 0; t < 4; t++) {
      expectClose(e.call(x), p.call(x));
      expectClose(e.V.value, p.V.value);
    }
    tf.dispose([W, x]);
    e.dispose();
    disposeGraph(e);
    disposeGraph(p);
  });
});

describe('the etrace compiler sees the layers', () => {
  it('Sequential(Linear, LayerNorm, LeakyRateReadout): one group {r}, one relation (layers, 2, weight)', () => {
    const net = new enn.Sequential(
      new enn.Linear(4, 5),
      new enn.LayerNorm(5),
      new enn.LeakyRateReadout(5, 3),
    );
    initAllStates(net, { batchSize: 2 });
    const x = tf.ones([2, 4]);
    const g = compileETraceGraph(net, [x]);
    expect(g.groups.length).toBe(1);
    expect(g.relations.map((r) => pathTuple(r.path))).toEqual(["('layers', 2, 'weight')"]);
    // the input layers feed r only through the readout's weight op: current-step gradient only
    expect(g.nonEtraceParams.map((p) => pathTuple(p.path))).toEqual([
      "('layers', 0, 'weight')",
      "('layers', 1, 'weight')",
    ]);
    x.dispose();
    disposeGraph(net);
  });
});

describe('no tensor leaks over 50 calls', () => {
  it('every layer', () => {
    const csr = CSR.fromDense([1, 0, 1, 1, 0, 1], 3, 2);
    const layers: [{ call(x: tf.Tensor): unknown; dispose(): void }, number[]][] = [
      [new enn.Linear(3, 2), [4, 3]],
      [new enn.Linear(3, 2, { paramType: 'nonTemp' }), [4, 3]],
      [new enn.Linear(3, 2, { paramType: 'fake' }), [4, 3]],
      [new enn.SignedWLinear(3, 2, { wSign: -1 }), [3]],
      [new enn.SparseLinear(csr, { bInit: 0 }), [4, 3]],
      [new enn.LoRA(3, 2, 2, { baseModule: (x) => tf.slice(x, [0, 0], [-1, 2]) }), [4, 3]],
      [new enn.Conv1d([6, 2], 3, 3, { bInit: 0 }), [2, 6, 2]],
      [new enn.Conv2d([4, 4, 2], 3, 2, { stride: 2 }), [4, 4, 2]],
      [new enn.LayerNorm([3]), [4, 3]],
      [new enn.RMSNorm([3]), [3]],
      [new enn.GroupNorm([2, 4], { numGroups: 2 }), [2, 2, 4]],
    ];
    const bn = new enn.BatchNorm1d([2, 3]);
    for (const [layer, shape] of layers) {
      const x = randomTensor(shape, 130);
      expectNoLeak(() => layer.call(x) as tf.Tensor);
      x.dispose();
      layer.dispose();
    }
    const xb = randomTensor([4, 2, 3], 131);
    environ.context({ fit: true }, () => expectNoLeak(() => bn.call(xb)));
    xb.dispose();
    bn.dispose();
  });
});
