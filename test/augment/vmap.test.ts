import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf';
import { grad, vmap } from '../../src/augment';
import { BatchAxisError, TransformError } from '../../src/errors';
import * as random from '../../src/random';
import { HiddenState, ParamState, State } from '../../src/state';
import { disposeTree, expectClose, flat, toJS } from './helpers';

let made: State<tf.Tensor>[] = [];
function track<S extends State<tf.Tensor>>(s: S): S {
  made.push(s);
  return s;
}
let before = 0;
beforeEach(() => {
  before = tf.memory().numTensors;
});
afterEach(() => {
  made.forEach((s) => s.dispose());
  made = [];
  expect(tf.memory().numTensors, 'tensors leaked by the test').toBe(before);
});

describe('vmap over arguments', () => {
  it('each lane equals the per-sample result; broadcast arguments are shared', () => {
    const x = tf.tensor([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], [4, 3]);
    const w = tf.tensor([0.1, -0.2, 0.3, 0.4, 0.5, -0.6], [3, 2]);
    const f = (row: tf.Tensor, m: tf.Tensor) =>
      tf.tanh(tf.reshape(tf.matMul(tf.reshape(row, [1, 3]), m), [2]));
    const y = vmap(f, { inAxes: [0, null] })(x, w);
    expect(y.shape).toEqual([4, 2]);
    const rows = tf.unstack(x);
    const ref = tf.tidy(() => rows.map((r) => f(r, w)));
    expectClose(flat(y), ref.flatMap(flat), 1e-6, 1e-7, 'lanes');
    disposeTree([x, w, y, rows, ref]);
  });

  it('inAxes and outAxes other than 0, tree outputs, outAxes null', () => {
    const x = tf.tensor([1, 2, 3, 4, 5, 6], [2, 3]); // map over axis 1 (3 lanes)
    const out = vmap(
      (col: tf.Tensor) => ({ s: tf.sum(col), twice: tf.mul(col, 2), tag: 'k', c: tf.scalar(1) }),
      {
        inAxes: 1,
        outAxes: 0,
      },
    )(x);
    expect(toJS(out.s)).toEqual([5, 7, 9]);
    expect(toJS(out.twice)).toEqual([
      [2, 8],
      [4, 10],
      [6, 12],
    ]);
    expect(out.tag).toBe('k');
    const moved = vmap((col: tf.Tensor) => tf.mul(col, 2), { inAxes: 1, outAxes: 1 })(x);
    expect(toJS(moved)).toEqual([
      [2, 4, 6],
      [8, 10, 12],
    ]);
    const [per, shared] = vmap((col: tf.Tensor) => [tf.sum(col), tf.scalar(3)], {
      inAxes: -1,
      outAxes: [-1, null],
    })(x);
    expect(toJS(per)).toEqual([5, 7, 9]);
    expect(toJS(shared)).toEqual(3);
    expect(() => vmap((col: tf.Tensor) => tf.sum(col), { inAxes: 1, outAxes: null })(x)).toThrow(
      BatchAxisError,
    );
    disposeTree([x, out, moved, per, shared]);
  });

  it('per-sample gradients: vmap of grad', () => {
    const x = tf.tensor([0.5, -1, 2, 0.1], [4, 1]);
    const g = vmap(grad((v: tf.Tensor) => tf.sum(tf.tanh(tf.mul(v, v)))))(x);
    const ref = [0.5, -1, 2, 0.1].map((v) => 2 * v * (1 - Math.tanh(v * v) ** 2));
    expectClose(flat(g), ref, 1e-5, 1e-6, 'per-sample grads');
    disposeTree([x, g]);
  });

  it('grad of vmap', () => {
    const w = track(new ParamState(tf.tensor([0.3, -0.4])));
    const x = tf.tensor([1, 2, 3, 4, 5, 6], [3, 2]);
    const loss = () => tf.sum(vmap((row: tf.Tensor) => tf.tanh(tf.sum(tf.mul(row, w.value))))(x));
    const g = grad(loss, { gradStates: w })();
    const X = [
      [1, 2],
      [3, 4],
      [5, 6],
    ];
    const ref = [0, 1].map((j) =>
      X.reduce((s, r) => s + r[j] * (1 - Math.tanh(r[0] * 0.3 - r[1] * 0.4) ** 2), 0),
    );
    expectClose(flat(g), ref, 1e-5, 1e-6, 'grad of vmap');
    disposeTree([x, g]);
  });
});

describe('vmap with in/out states', () => {
  it('in-states are split per lane and stacked back (added to outStates)', () => {
    const h = track(new HiddenState(tf.tensor([1, 2, 3, 4, 5, 6], [3, 2])));
    const x = tf.tensor([10, 20, 30]);
    const seen: number[][] = [];
    const out = vmap(
      (xi: tf.Tensor) => {
        seen.push(h.value.shape);
        h.value = tf.add(tf.mul(h.value, 2), xi);
        return tf.sum(h.value);
      },
      { inStates: h },
    )(x);
    expect(seen).toEqual([[2], [2], [2]]);
    expect(toJS(h.value)).toEqual([
      [12, 14],
      [26, 28],
      [40, 42],
    ]);
    expect(toJS(out)).toEqual([26, 54, 82]);
    disposeTree([x, out]);
  });

  it('the axis-map form, and out-only states stacked with a new axis', () => {
    const h = track(new HiddenState(tf.tensor([1, 2, 3, 4, 5, 6], [2, 3]))); // split along axis 1
    const trace = track(new State(tf.zeros([2])));
    vmap(
      () => {
        trace.value = tf.add(trace.value, h.value);
        h.value = tf.neg(h.value);
      },
      { inStates: { 1: { h } }, outStates: { 0: [trace] } },
    )();
    expect(toJS(h.value)).toEqual([
      [-1, -2, -3],
      [-4, -5, -6],
    ]);
    expect(toJS(trace.value)).toEqual([
      [1, 4],
      [2, 5],
      [3, 6],
    ]);
  });

  it('inStates / outStates as a list or a single state', () => {
    const a = track(new HiddenState(tf.tensor([1, 2])));
    const b = track(new HiddenState(tf.tensor([10, 20])));
    const out = track(new State(tf.zeros([])));
    vmap(
      () => {
        out.value = tf.add(a.value, b.value);
        a.value = tf.mul(a.value, 3);
      },
      { inStates: [a, b], outStates: out },
    )();
    expect(toJS(a.value)).toEqual([3, 6]);
    expect(toJS(b.value)).toEqual([10, 20]);
    expect(toJS(out.value)).toEqual([11, 22]);
  });

  it('a state in both inStates and outStates at different axes is a BatchAxisError', () => {
    const h = track(new HiddenState(tf.zeros([3, 3])));
    expect(() => vmap(() => h.value, { inStates: { 0: [h] }, outStates: { 1: [h] } })).toThrow(
      BatchAxisError,
    );
    expect(() => vmap(() => h.value, { inStates: { 0: [h] }, outStates: { 1: [h] } })).toThrow(
      /mapped in at axis 0.*but out at axis 1/,
    );
    // axes of different signs are compared once the rank is known
    expect(() => vmap(() => h.value, { inStates: { 0: [h] }, outStates: { [-1]: [h] } })()).toThrow(
      BatchAxisError,
    );
  });

  it('an undeclared state written with lane-dependent values is a BatchAxisError; states are restored', () => {
    const counter = track(new State(tf.scalar(0), { name: 'counter' }));
    const h = track(new HiddenState(tf.tensor([1, 2, 3])));
    const x = tf.tensor([1, 2, 3]);
    const original = h.value;
    expect(() =>
      vmap(
        (xi: tf.Tensor) => {
          h.value = tf.add(h.value, 1);
          counter.value = tf.add(counter.value, xi);
          return xi;
        },
        { inStates: h },
      )(x),
    ).toThrow(/The value of State\(name='counter'\) is batched .*but it is not in the outStates/);
    expect(flat(counter.value)).toEqual([0]);
    expect(h.value).toBe(original);
    expect(flat(h.value)).toEqual([1, 2, 3]);
    // the same write in every lane is allowed: each lane starts from the shared value
    vmap((xi: tf.Tensor) => {
      counter.value = tf.add(counter.value, 1);
      return xi;
    })(x).dispose();
    expect(flat(counter.value)).toEqual([1]);
    x.dispose();
  });

  it('an exception in a lane restores every state', () => {
    const h = track(new HiddenState(tf.tensor([1, 2, 3, 4], [2, 2])));
    const other = track(new State(tf.tensor([5])));
    let lane = 0;
    expect(() =>
      vmap(
        () => {
          h.value = tf.zerosLike(h.value);
          other.value = tf.tensor([9]);
          if (lane++ === 1) throw new Error('boom');
        },
        { inStates: h, outStates: other },
      )(),
    ).toThrow('boom');
    expect(h.shape).toEqual([2, 2]);
    expect(flat(h.value)).toEqual([1, 2, 3, 4]);
    expect(flat(other.value)).toEqual([5]);
  });
});

describe('vmap randomness', () => {
  it('each lane draws different numbers, and the RNG advances once per call', () => {
    random.seed(123);
    const key0 = random.getKey();
    const draw = vmap(() => random.rand(3), { axisSize: 4 });
    const r = draw();
    expect(r.shape).toEqual([4, 3]);
    const rows = r.arraySync() as number[][];
    for (let i = 0; i < 4; i++)
      for (let j = i + 1; j < 4; j++) expect(rows[i]).not.toEqual(rows[j]);
    const key1 = random.getKey();
    expect(key1).not.toEqual(key0);
    expect(key1).toEqual(random.threefrySplit(key0, 5)[0]);
    // reproducible from the seed, whether or not the RandomState was already known to this vmap
    random.seed(123);
    const again = draw();
    random.seed(123);
    const fresh = vmap(() => random.rand(3), { axisSize: 4 })();
    expect(again.arraySync()).toEqual(rows);
    expect(fresh.arraySync()).toEqual(rows);
    // the next call draws new numbers
    const next = draw();
    expect(next.arraySync()).not.toEqual(rows);
    // a known RandomState that the function does not draw from is left as it was
    const k = random.getKey();
    const x = tf.ones([2]);
    vmap((v: tf.Tensor) => tf.mul(v, 2))(x).dispose();
    expect(random.getKey()).toEqual(k);
    disposeTree([r, again, fresh, next, x]);
  });

  it('the RNG is restored when the mapped function fails', () => {
    random.seed(5);
    const key = random.getKey();
    const failing = vmap(
      () => {
        random.rand(2);
        throw new Error('fail');
      },
      { axisSize: 3 },
    );
    expect(() => failing()).toThrow('fail');
    expect(() => failing()).toThrow('fail');
    expect(random.getKey()).toEqual(key);
  });

  it('a separate RandomState gets per-lane keys too', () => {
    const rng = new random.RandomState(7);
    const x = tf.zeros([3]);
    const out = vmap((v: tf.Tensor) => tf.add(v, rng.randn()))(x);
    const vals = flat(out);
    expect(new Set(vals).size).toBe(3);
    disposeTree([x, out]);
  });
});

describe('vmap errors', () => {
  it('inconsistent batch sizes name the sizes; no batch source needs axisSize', () => {
    const a = tf.zeros([3, 2]);
    const b = tf.zeros([4, 2]);
    const f = (p: tf.Tensor, q: tf.Tensor) => tf.add(p, q);
    expect(() => vmap(f)(a, b)).toThrow(TransformError);
    expect(() => vmap(f)(a, b)).toThrow(
      /inconsistent batch sizes: argument 0 \(axis 0\): 3; argument 1 \(axis 0\): 4/,
    );
    expect(() => vmap(f, { axisSize: 5, inAxes: [0, null] })(a, b)).toThrow(
      /argument 0 \(axis 0\): 3; axisSize: 5/,
    );
    expect(() => vmap(() => tf.scalar(1))()).toThrow(/nothing to map over.*axisSize/);
    expect(() => vmap(f, { inAxes: [0] })(a, b)).toThrow(
      /inAxes has 1 entries but the function was called with 2 arguments/,
    );
    expect(() => vmap(f, { inAxes: [0, 2] })(a, b)).toThrow(/axis 2 is out of range/);
    expect(() => vmap((n: number) => tf.scalar(n))(3)).toThrow(/only tensors can be mapped/);
    expect(() => vmap(f, { axisSize: 0 })).toThrow(/axisSize must be a positive integer/);
    const s = track(new State(tf.zeros([2])));
    expect(() => vmap(f, { inStates: [s, 3 as never] })).toThrow(
      /All inStates must be State instances; inStates\[1\] is 3/,
    );
    disposeTree([a, b]);
  });
});
