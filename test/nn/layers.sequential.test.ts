/**
 * Sequential: describers built with the previous layer's size, size-adaptive layers (pooling,
 * Flatten) taking it, sizes followed through functions and element-wise blocks, typed errors for
 * missing or mismatched sizes, indexing, slicing, append/insert, errors naming the failing layer;
 * compose; and no tensor leaks over 200 forward + gradient steps of two models that use every
 * trainable layer.
 */
import { describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf';
import * as environ from '../../src/environ';
import { grad } from '../../src/augment';
import { jit } from '../../src/compile';
import { ArgumentError, BrainStateError } from '../../src/errors';
import { Module, pipe } from '../../src/graph';
import { Linear } from '../../src/nn/comm';
import {
  BatchNorm0d,
  BatchNorm2d,
  Conv1d,
  Conv2d,
  Dropout,
  Flatten,
  GroupNorm,
  LayerNorm,
  MaxPool2d,
  AvgPool1d,
  RMSNorm,
  ReLU,
  ScaledWSLinear,
  Sequential,
  SignedWLinear,
  compose,
  relu,
  tanh,
} from '../../src/nn/layers';
import { ParamState } from '../../src/state';
import { randomTensor } from './layersHelpers';

describe('Sequential: delayed initialisation', () => {
  it('builds describers with the previous outSize; functions and element-wise blocks keep it', () => {
    const seq = new Sequential(new Linear(4, 8), relu, new ReLU(), Linear.desc(3, { bInit: null }));
    expect(seq.inSize).toEqual([4]);
    expect(seq.outSize).toEqual([3]);
    const last = seq.at(-1) as Linear;
    expect(last).toBeInstanceOf(Linear);
    expect(last.inSize).toEqual([8]);
    expect(Object.keys(last.weight.value)).toEqual(['weight']);
    const y = seq.call(tf.ones([5, 4]));
    expect(y.shape).toEqual([5, 3]);
    expect(seq.states(ParamState).keys()).toEqual(['layers.0.weight', 'layers.3.weight']);
  });

  it('a conv net: pooling and Flatten take the size, as instances or describers', () => {
    for (const [pool, flat] of [
      [new MaxPool2d(2), new Flatten()],
      [MaxPool2d.desc(2), Flatten.desc()],
    ] as const) {
      const seq = new Sequential(
        new Conv2d([8, 8, 1], 4, 3),
        new ReLU(),
        pool,
        BatchNorm2d.desc({ momentum: 0.9 }),
        flat,
        Linear.desc(10),
      );
      expect((seq.at(2) as Module).inSize).toEqual([8, 8, 4]);
      expect((seq.at(3) as BatchNorm2d).inSize).toEqual([4, 4, 4]);
      expect((seq.at(4) as Module).outSize).toEqual([64]);
      expect(seq.outSize).toEqual([10]);
      const y = environ.context({ fit: true }, () => seq.call(randomTensor([3, 8, 8, 1], 1)));
      expect(y.shape).toEqual([3, 10]);
      // Flatten with the adopted size keeps the batch axis even for a single sample.
      expect(
        environ.context({ fit: false }, () => seq.call(randomTensor([8, 8, 1], 2))).shape,
      ).toEqual([10]);
    }
  });

  it('starts from an inSize, so the first item may be a describer; Sequential.desc nests', () => {
    const seq = new Sequential([6], Linear.desc(4), BatchNorm0d.desc(), tanh);
    expect(seq.inSize).toEqual([6]);
    expect(seq.outSize).toEqual([4]);
    const outer = new Sequential(
      new Linear(3, 6),
      Sequential.desc(Linear.desc(5), relu),
      Linear.desc(2),
    );
    expect((outer.at(1) as Sequential).inSize).toEqual([6]);
    expect(outer.outSize).toEqual([2]);
    expect(outer.states(ParamState).keys()).toContain('layers.1.layers.0.weight');
  });

  it('a layer for the last axis applies over leading axes (Linear after a Conv1d)', () => {
    const seq = new Sequential(new Conv1d([6, 2], 3, 3), new Linear(3, 5));
    expect(seq.outSize).toEqual([6, 5]);
    expect(seq.call(tf.ones([2, 6, 2])).shape).toEqual([2, 6, 5]);
  });

  it('typed errors: a describer without a known size, mismatched sizes, bad items', () => {
    expect(() => new Sequential(relu, Linear.desc(3))).toThrow(ArgumentError);
    expect(() => new Sequential(relu, Linear.desc(3))).toThrow(
      /needs the previous layer's output size/,
    );
    expect(() => new Sequential(new Linear(4, 8), new Linear(5, 2))).toThrow(
      /layer 1 \(Linear\): the layer expects inSize \[5\] but the previous layer gives \[8\]/,
    );
    expect(() => new Sequential(new Linear(4, 8), 3 as unknown as Module)).toThrow(
      /expected a Module, a describer/,
    );
    // A describer whose constructor fails is reported with the size it was built with.
    expect(() => new Sequential(new Linear(4, 8), Conv2d.desc(3, 3))).toThrow(
      /layer 1 \(ParamDescriber\(Conv2d\(3, 3\)\)\), built with inSize \[8\]: Conv2d: inSize must be/,
    );
  });
});

describe('Sequential: access and editing', () => {
  const make = (): Sequential =>
    new Sequential(new Linear(4, 8), new ReLU(), Linear.desc(6), tanh, Linear.desc(2));

  it('at, slice, select, length, iteration', () => {
    const seq = make();
    expect(seq.length).toBe(5);
    expect(seq.at(0)).toBe(seq.layers[0]);
    expect(seq.at(-1)).toBe(seq.layers[4]);
    expect(() => seq.at(5)).toThrow(/out of range for 5 layers/);
    const tail = seq.slice(2);
    expect(tail.length).toBe(3);
    expect(tail.inSize).toEqual([8]);
    expect(tail.outSize).toEqual([2]);
    expect(tail.at(0)).toBe(seq.at(2)); // layers are shared
    const picked = seq.select([0, 1]);
    expect(picked.outSize).toEqual([8]);
    expect([...seq].length).toBe(5);
    const x = tf.ones([3, 4]);
    const a = seq.call(x);
    const b = tail.call(seq.slice(0, 2).call(x));
    expect(Array.from(a.dataSync())).toEqual(Array.from(b.dataSync()));
  });

  it('append, extend and insert follow the sizes; an insert must keep the size', () => {
    const seq = make();
    seq.append(Linear.desc(7));
    expect(seq.outSize).toEqual([7]);
    expect((seq.at(-1) as Linear).inSize).toEqual([2]);
    seq.extend(relu, new LayerNorm(7));
    expect(seq.length).toBe(8);
    seq.insert(1, new Dropout(0.5));
    expect(seq.at(1)).toBeInstanceOf(Dropout);
    seq.insert(-1, LayerNorm.desc());
    expect((seq.at(-2) as LayerNorm).inSize).toEqual([7]);
    expect(() => seq.insert(1, Linear.desc(3))).toThrow(
      /changes the size from \[8\] to \[3\], but layer 1 \(Dropout\) was built for \[8\]/,
    );
    expect(() => seq.insert(20, relu)).toThrow(/out of range/);
  });

  it('an error inside a layer names the layer and keeps its type', () => {
    const seq = make();
    let caught: unknown;
    try {
      seq.call(tf.ones([3, 5]));
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(ArgumentError);
    expect((caught as Error).message).toMatch(
      /^Sequential: layer 0 \(Linear\) on input \[3, 5\]: Linear: the input must have shape/,
    );
    const bad = new Sequential(new Linear(2, 2), () => {
      throw new Error('boom');
    });
    expect(() => bad.call(tf.ones([1, 2]))).toThrow(BrainStateError);
    expect(() => bad.call(tf.ones([1, 2]))).toThrow(
      /layer 1 \(function \(anonymous\)\) on input \[1, 2\]: boom/,
    );
  });

  it('compose and pipe apply the same layers as the Sequential', () => {
    const seq = make();
    const x = randomTensor([2, 4], 3);
    const f = compose(...seq.layers);
    const a = seq.call(x);
    const b = f(x);
    expect(Array.from(b.dataSync())).toEqual(Array.from(a.dataSync()));
    const c = pipe(x, seq) as tf.Tensor;
    expect(Array.from(c.dataSync())).toEqual(Array.from(a.dataSync()));
    expect(() => compose(relu, 3 as unknown as Module)).toThrow(
      /item 1 must be a Module or a function/,
    );
  });
});

describe('under jit', () => {
  it('jit(grad) of a conv model gives the eager gradients and running statistics', () => {
    const make = (): Sequential =>
      new Sequential(
        new Conv2d([5, 5, 2], 3, 3, { stride: 2, wInit: 0.1, bInit: 0 }),
        BatchNorm2d.desc(),
        relu,
        Flatten.desc(),
        Linear.desc(2, { wInit: 0.2 }),
      );
    const x = randomTensor([4, 5, 5, 2], 9);
    const [eager, jitted] = [make(), make()];
    const loss = (m: Sequential) => () => tf.sum(tf.square(m.call(x)));
    const run = (m: Sequential, f: () => unknown): number[][] =>
      environ.context({ fit: true }, () => {
        const g = f() as tf.Tensor[][];
        const flat = m
          .states(ParamState)
          .values()
          .map((_, i) =>
            Object.values(g[i]).flatMap((t) => Array.from((t as tf.Tensor).dataSync())),
          );
        return [...flat, Array.from((m.at(1) as BatchNorm2d).runningMean!.value.dataSync())];
      });
    const pe = eager.states(ParamState).values();
    const pj = jitted.states(ParamState).values();
    const step = jit(() => grad(loss(jitted), { gradStates: pj })());
    const a = run(eager, () => grad(loss(eager), { gradStates: pe })());
    const b = run(jitted, () => step());
    expect(b.length).toBe(a.length);
    a.forEach((row, i) => row.forEach((v, j) => expect(b[i][j]).toBeCloseTo(v, 5)));
  });
});

describe('no tensor leaks', () => {
  const models = (): [string, Sequential, number[]][] => [
    [
      'conv net',
      new Sequential(
        new Conv2d([6, 6, 2], 4, 3, { stride: 1, groups: 2, bInit: 0 }),
        BatchNorm2d.desc(),
        new ReLU(),
        MaxPool2d.desc(2),
        GroupNorm.desc({ numGroups: 2 }),
        Flatten.desc(),
        new Dropout(0.8),
        Linear.desc(5),
      ),
      [3, 6, 6, 2],
    ],
    [
      'dense and 1-d net',
      new Sequential(
        new Conv1d([5, 3], 4, 3, { dilation: 2, stride: 2 }),
        AvgPool1d.desc(2, { padding: 'SAME' }),
        Flatten.desc(),
        SignedWLinear.desc(6),
        LayerNorm.desc(),
        ScaledWSLinear.desc(4),
        RMSNorm.desc(),
        tanh,
      ),
      [2, 5, 3],
    ],
  ];
  for (const [name, model, shape] of models()) {
    it(`${name}: 200 forward + gradient steps in training, then evaluation`, () => {
      const x = randomTensor(shape, 4);
      const params = model.states(ParamState).values();
      const step = (): void => {
        const g = grad(() => tf.sum(tf.square(model.call(x))), { gradStates: params })();
        tf.dispose(g as unknown as tf.TensorContainer);
      };
      environ.context({ fit: true }, step); // first call may create lasting tensors (caches)
      const before = tf.memory().numTensors;
      environ.context({ fit: true }, () => {
        for (let i = 0; i < 200; i++) step();
      });
      environ.context({ fit: false }, () => {
        for (let i = 0; i < 20; i++) model.call(x).dispose();
      });
      expect(tf.memory().numTensors).toBe(before);
      x.dispose();
    });
  }
});
