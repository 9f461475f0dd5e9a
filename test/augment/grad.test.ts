import { afterEach, beforeEach, describe, expect, expectTypeOf, it } from 'vitest';
import { tf } from '../../src/backend/tf';
import { grad, hessian, jacfwd, jacrev, valueAndGrad, vectorGrad } from '../../src/augment';
import { jit } from '../../src/compile';
import { TransformError } from '../../src/errors';
import { Module, states } from '../../src/graph';
import { HiddenState, ParamState, State } from '../../src/state';
import { disposeTree, expectClose, flat, toJS } from './helpers';

let made: State<tf.Tensor>[] = [];
function param(values: number[], name?: string): ParamState {
  const s = new ParamState(tf.tensor(values), { name });
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

describe('return structure (spec §4.1 table)', () => {
  // loss = sum(a·x) + sum(y²), aux = { tag: 'aux', twice: 2·sum(x) }; states {a}; args x, y.
  const A = [1, -2];
  const X = [3, 4];
  const Y = [0.5, -1];
  const dA = X;
  const dX = A;
  const dY = Y.map((v) => 2 * v);
  const loss = 1 * 3 + -2 * 4 + 0.25 + 1;
  const aux = { tag: 'aux', twice: 14 };

  type Row = {
    states: boolean;
    argnums: undefined | 0 | [0] | [0, 1];
    hasAux: boolean;
    returnValue: boolean;
  };
  const rows: Row[] = [];
  for (const states of [false, true]) {
    for (const argnums of [undefined, 0 as const, [0] as [0], [0, 1] as [0, 1]]) {
      for (const hasAux of [false, true])
        for (const returnValue of [false, true])
          rows.push({ states, argnums, hasAux, returnValue });
    }
  }

  it.each(rows)(
    'gradStates=$states argnums=$argnums hasAux=$hasAux returnValue=$returnValue',
    (row) => {
      const a = param(A, 'a');
      const fn = (x: tf.Tensor, y: tf.Tensor): unknown => {
        const l = tf.add(tf.sum(tf.mul(a.value, x)), tf.sum(tf.mul(y, y)));
        return row.hasAux ? [l, { tag: 'aux', twice: tf.mul(tf.sum(x), 2) }] : l;
      };
      const options = {
        ...(row.states ? { gradStates: { a } } : {}),
        ...(row.argnums !== undefined ? { argnums: row.argnums } : {}),
        hasAux: row.hasAux,
        returnValue: row.returnValue,
      };
      const x = tf.tensor(X);
      const y = tf.tensor(Y);
      const result = grad(fn, options)(x, y);
      // The table: the core, then [core, aux] / [core, value] / [core, value, aux].
      // An index gives that argument's gradient, a list a list (also `[0]`).
      const argGrads =
        row.argnums === undefined || row.argnums === 0
          ? dX
          : row.argnums.length === 1
            ? [dX]
            : [dX, dY];
      const core = !row.states
        ? argGrads
        : row.argnums === undefined
          ? { a: dA }
          : [{ a: dA }, argGrads];
      const expected = row.hasAux
        ? row.returnValue
          ? [core, loss, aux]
          : [core, aux]
        : row.returnValue
          ? [core, loss]
          : core;
      const js = toJS(result);
      expect(JSON.stringify(roundTree(js))).toBe(JSON.stringify(roundTree(expected)));
      disposeTree(result);
      tf.dispose([x, y]);
    },
  );

  it('vectorGrad, jacrev and jacfwd follow the same table', () => {
    const a = param([2, 3], 'a');
    const x = tf.tensor([1, -1]);
    const f = (v: tf.Tensor) => [tf.mul(tf.mul(a.value, v), v), 'aux'] as const;
    const [[gs, gx], value, auxOut] = vectorGrad(f, {
      gradStates: [a],
      argnums: 0,
      hasAux: true,
      returnValue: true,
    })(x);
    expect(toJS(gs)).toEqual([[1, 1]]);
    expect(toJS(gx)).toEqual([4, -6]);
    expect(toJS(value)).toEqual([2, 3]);
    expect(auxOut).toBe('aux');
    for (const jac of [jacrev, jacfwd]) {
      const [[js, jx], v2] = jac(f, { gradStates: [a], argnums: 0, hasAux: true })(x);
      expect(toJS(js)).toEqual([
        [
          [1, 0],
          [0, 1],
        ],
      ]);
      expect(toJS(jx)).toEqual([
        [4, 0],
        [0, -6],
      ]);
      expect(v2).toBe('aux');
      disposeTree([js, jx]);
    }
    disposeTree([gs, gx, value]);
    x.dispose();
  });
});

function roundTree(x: unknown): unknown {
  if (typeof x === 'number') return Math.round(x * 1e5) / 1e5;
  if (Array.isArray(x)) return x.map(roundTree);
  if (x !== null && typeof x === 'object')
    return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, roundTree(v)]));
  return x;
}

describe('result types follow the options', () => {
  it('types', () => {
    const a = param([1]);
    const f = (x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(x, y));
    expectTypeOf(grad(f)).returns.toEqualTypeOf<tf.Tensor>();
    expectTypeOf(grad(f, { argnums: [0, 1] })).returns.toEqualTypeOf<[tf.Tensor, tf.Tensor]>();
    expectTypeOf(grad(f, { gradStates: { a } })).returns.toEqualTypeOf<{ a: tf.Tensor }>();
    expectTypeOf(grad(f, { gradStates: [a], argnums: 1 })).returns.toEqualTypeOf<
      [[tf.Tensor], tf.Tensor]
    >();
    const g = (x: tf.Tensor) => [tf.sum(x), 'note'] as const;
    expectTypeOf(grad(g, { hasAux: true, returnValue: true })).returns.toEqualTypeOf<
      [tf.Tensor, tf.Tensor, 'note']
    >();
    const vg = valueAndGrad(f);
    expectTypeOf(vg).returns.toMatchTypeOf<[tf.Tensor, tf.Tensor]>();
    expectTypeOf(vg).returns.not.toMatchTypeOf<tf.Tensor>();
    expectTypeOf(hessian(f, { argnums: [0, 1] })).returns.toEqualTypeOf<
      [[tf.Tensor, tf.Tensor], [tf.Tensor, tf.Tensor]]
    >();
  });
});

describe('grad', () => {
  it('grad(pure)(a, b, c) of sum(a+b+c) is ones (default argnums 0, and all three)', () => {
    const [a, b, c] = [tf.tensor([1, 2, 3]), tf.tensor([4, 5, 6]), tf.tensor([7, 8, 9])];
    const pure = (p: tf.Tensor, q: tf.Tensor, r: tf.Tensor) => tf.sum(tf.add(tf.add(p, q), r));
    const ga = grad(pure)(a, b, c);
    expect(flat(ga)).toEqual([1, 1, 1]);
    const all = grad(pure, { argnums: [0, 1, 2] })(a, b, c);
    expect(toJS(all)).toEqual([
      [1, 1, 1],
      [1, 1, 1],
      [1, 1, 1],
    ]);
    disposeTree([ga, all, a, b, c]);
  });

  it('spec test: loss = sum(a+b+c+2d) with states a, b, c gives state grads 1 and d grad 2', () => {
    const a = param([1, 2, 3]);
    const b = param([4, 5, 6]);
    const c = param([7, 8, 9]);
    const d = tf.tensor([1, 1, 1]);
    const f = (dd: tf.Tensor) => {
      const l = tf.sum(tf.add(tf.add(tf.add(a.value, b.value), c.value), tf.mul(dd, 2)));
      return [l, tf.mul(l, 2)] as const;
    };
    const [[stateGrads, dGrad], value, aux] = grad(f, {
      gradStates: { a, b, c },
      argnums: 0,
      hasAux: true,
      returnValue: true,
    })(d);
    expect(toJS(stateGrads)).toEqual({ a: [1, 1, 1], b: [1, 1, 1], c: [1, 1, 1] });
    expect(flat(dGrad)).toEqual([2, 2, 2]);
    expect(flat(value)).toEqual([51]);
    expect(flat(aux)).toEqual([102]);
    disposeTree([stateGrads, dGrad, value, aux, d]);
  });

  it('accepts gradStates as a State, an array, a nested object, a FlatDict and a Map', () => {
    const w = param([1, 2], 'w');
    const v = param([3], 'v');
    const f = () => tf.add(tf.sum(tf.mul(w.value, w.value)), tf.sum(tf.mul(v.value, 3)));
    const single = grad(f, { gradStates: w })();
    expect(flat(single)).toEqual([2, 4]);
    const arr = grad(f, { gradStates: [w, [v]] })();
    expect(toJS(arr)).toEqual([[2, 4], [[3]]]);
    const nested = grad(f, { gradStates: { p: { w }, v } })();
    expect(toJS(nested)).toEqual({ p: { w: [2, 4] }, v: [3] });
    const map = grad(f, {
      gradStates: new Map([
        ['ww', w],
        ['vv', v],
      ]),
    })();
    expect(toJS(map)).toEqual({ ww: [2, 4], vv: [3] });
    disposeTree([single, arr, nested, map]);

    class Net extends Module {
      w1 = new ParamState(tf.tensor([1, 2]));
      layer = { b: new ParamState(tf.tensor([0.5])) };
      h = new HiddenState(tf.zeros([2]));
    }
    const net = new Net();
    const params = states(net, ParamState);
    const loss = () => {
      net.h.value = tf.tanh(tf.add(net.w1.value, net.layer.b.value));
      return tf.sum(net.h.value);
    };
    const g = grad(loss, { gradStates: params })();
    expect(Object.keys(g)).toEqual(params.keys());
    const t = Math.tanh;
    const d = (x: number) => 1 - t(x) ** 2;
    expectClose(flat(g['w1']), [d(1.5), d(2.5)], 1e-5, 1e-6, 'w1');
    expectClose(flat(g['layer.b']), [d(1.5) + d(2.5)], 1e-5, 1e-6, 'b');
    // the hidden state written by the loss keeps its forward value (spec §4.1 step 6)
    expectClose(flat(net.h.value), [t(1.5), t(2.5)], 1e-6, 1e-6, 'h');
    disposeTree(g);
    for (const s of states(net).values()) s.dispose();
  });

  it('valueAndGrad returns [grads, value] (and aux last)', () => {
    const x = tf.tensor([1, 2]);
    const [g, v] = valueAndGrad((t: tf.Tensor) => tf.sum(tf.square(t)))(x);
    expect(flat(g)).toEqual([2, 4]);
    expect(flat(v)).toEqual([5]);
    const [g2, v2, aux] = valueAndGrad((t: tf.Tensor) => [tf.sum(t), 'hi'] as const, {
      hasAux: true,
    })(x);
    expect(flat(g2)).toEqual([1, 1]);
    expect(flat(v2)).toEqual([3]);
    expect(aux).toBe('hi');
    disposeTree([g, v, g2, v2, x]);
  });

  it('works as a decorator, and numbers and trees of tensors can be differentiated', () => {
    const g = grad({ argnums: 0 })((p: { u: tf.Tensor; k: number }) =>
      tf.mul(tf.sum(tf.square(p.u)), p.k),
    );
    const u = tf.tensor([1, -1]);
    const r = g({ u, k: 3 });
    expect(toJS(r)).toEqual({ u: [6, -6], k: 2 });
    disposeTree([r, u]);
  });

  it('unused arguments get zero gradients; checkStates: false gives unread states zeros', () => {
    const x = tf.tensor([1, 2]);
    const y = tf.tensor([5]);
    const r = grad((p: tf.Tensor, _q: tf.Tensor) => tf.sum(p), { argnums: [0, 1] })(x, y);
    expect(toJS(r)).toEqual([[1, 1], [0]]);
    const w = param([1, 2, 3]);
    const unread = param([4]);
    const g = grad(() => tf.sum(w.value), { gradStates: [w, unread], checkStates: false })();
    expect(toJS(g)).toEqual([[1, 1, 1], [0]]);
    disposeTree([r, g, x, y]);
  });

  it('a returned value that is a state tensor is handed over as a new tensor', () => {
    const s = param([1, 2]);
    const [g, value] = vectorGrad(() => s.value, { gradStates: s, returnValue: true })();
    expect(value).not.toBe(s.value);
    s.value = tf.tensor([7, 8]);
    expect(flat(value)).toEqual([1, 2]);
    disposeTree([g, value]);
  });

  it('two states holding one tensor get separate gradients', () => {
    const a = param([2, 3]);
    const b = new ParamState(tf.zeros([2]));
    made.push(b);
    b.value = a.value; // shared tensor
    const g = grad(() => tf.sum(tf.mul(a.value, tf.mul(b.value, b.value))), {
      gradStates: [a, b],
    })();
    // d/da (a·b²) = b² = [4, 9]; d/db = 2ab = [8, 18]
    expect(toJS(g)).toEqual([
      [4, 9],
      [8, 18],
    ]);
    disposeTree(g);
  });

  it('grad of grad: second derivatives through tanh, exp and sigmoid', () => {
    const f = (x: tf.Tensor) => tf.sum(tf.add(tf.add(tf.tanh(x), tf.exp(x)), tf.sigmoid(x)));
    const x = tf.tensor([0.3, -0.7]);
    const d2 = vectorGrad((t: tf.Tensor) => grad(f)(t))(x);
    const sig = (v: number) => 1 / (1 + Math.exp(-v));
    const ref = [0.3, -0.7].map((v) => {
      const th = Math.tanh(v);
      const s = sig(v);
      return -2 * th * (1 - th * th) + Math.exp(v) + s * (1 - s) * (1 - 2 * s);
    });
    expectClose(flat(d2), ref, 1e-4, 1e-5, 'd²f');
    disposeTree([d2, x]);
  });
});

describe('composition', () => {
  it('grad inside jit and jit inside grad give the same gradients as plain grad', () => {
    const w = param([0.5, -0.5]);
    const h = new HiddenState(tf.zeros([2]));
    const x = tf.tensor([1, 2]);
    const loss = (v: tf.Tensor) => {
      h.value = tf.tanh(tf.mul(w.value, v));
      return tf.sum(h.value);
    };
    const plain = grad(loss, { gradStates: w })(x);
    const inJit = jit((v: tf.Tensor) => grad(loss, { gradStates: w })(v));
    const a = inJit(x);
    const b = inJit(x);
    const c = grad(jit(loss), { gradStates: w })(x);
    for (const r of [a, b, c]) expectClose(flat(r), flat(plain), 1e-6, 1e-7, 'gradient');
    disposeTree([plain, a, b, c, x]);
    h.dispose();
  });
});

describe('typed errors', () => {
  const x = () => tf.tensor([1, 2, 3]);

  it('non-State gradStates name the offending key or index', () => {
    const w = param([1]);
    expect(() => grad(() => tf.sum(w.value), { gradStates: [w, 3 as never] })).toThrow(
      TransformError,
    );
    expect(() => grad(() => tf.sum(w.value), { gradStates: [w, 3 as never] })).toThrow(
      /All gradStates must be State instances; gradStates\[1\] is 3/,
    );
    expect(() => grad(() => tf.sum(w.value), { gradStates: { w, b: 'x' as never } })).toThrow(
      /gradStates\.b is "x"/,
    );
  });

  it('argnums: negative, non-integer, boolean, out of range', () => {
    const f = (a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.add(a, b));
    expect(() => grad(f, { argnums: -1 })).toThrow(/argnums must be non-negative, got -1/);
    expect(() => grad(f, { argnums: 1.5 })).toThrow(
      /argnums must be a non-negative integer.*got 1\.5/,
    );
    expect(() => grad(f, { argnums: true as never })).toThrow(
      /argnums must be a non-negative integer.*got true/,
    );
    expect(() => grad(f, { argnums: [0, 0] })).toThrow(TransformError);
    const t = x();
    expect(() => grad(f, { argnums: 2 })(t, t)).toThrow(
      /argnums 2 is out of range: the function was called with 2 arguments/,
    );
    expect(() => grad(f, { argnums: [0, 5] })(t, t)).toThrow(TransformError);
    t.dispose();
  });

  it('writing a ParamState whose gradient is taken is an error, and states are restored', () => {
    const w = param([1, 2], 'w');
    const h = new HiddenState(tf.zeros([2]), { name: 'h' });
    const original = w.value;
    const f = () => {
      h.value = tf.add(h.value, 1);
      w.value = tf.mul(w.value, 2);
      return tf.sum(w.value);
    };
    expect(() => grad(f, { gradStates: w })()).toThrow(
      /cannot take the gradient with respect to ParamState\(name='w'\) \(gradStates\) because the function writes it/,
    );
    expect(w.value).toBe(original);
    expect(flat(w.value)).toEqual([1, 2]);
    expect(flat(h.value)).toEqual([0, 0]);
    h.dispose();
  });

  it('a gradState the function does not read lists the missing states', () => {
    const w = param([1], 'w');
    const u = param([1], 'u');
    expect(() => grad(() => tf.sum(w.value), { gradStates: { w, u } })()).toThrow(
      /Missing states: ParamState\(name='u'\) \(gradStates\.u\)/,
    );
  });

  it('hasAux needs a [loss, aux] pair; grad needs a scalar float loss', () => {
    const t = x();
    expect(() => grad((v: tf.Tensor) => tf.sum(v), { hasAux: true })(t)).toThrow(
      /\[loss, aux\] pair/,
    );
    expect(() => grad((v: tf.Tensor) => [tf.sum(v)], { hasAux: true })(t)).toThrow(TransformError);
    expect(() => grad((v: tf.Tensor) => tf.mul(v, 2))(t)).toThrow(
      /loss must be a scalar \(shape \[\]\), got shape \[3\]/,
    );
    expect(() => grad((v: tf.Tensor) => tf.cast(tf.sum(v), 'int32'))(t)).toThrow(/float32/);
    expect(() => grad((_v: tf.Tensor) => 3 as never)(t)).toThrow(/must return one tensor/);
    expect(() => jacrev((v: tf.Tensor) => [v, v])(t)).toThrow(/must return one tensor/);
    t.dispose();
  });

  it('other bad inputs: int arguments, States as arguments, hessian with both, unknown options', () => {
    const i = tf.tensor([1, 2], undefined, 'int32');
    expect(() => grad((v: tf.Tensor) => tf.sum(v))(i)).toThrow(/must be float32.*int32/);
    i.dispose();
    const w = param([1]);
    expect(() => grad((v: unknown) => tf.sum(v as tf.Tensor))(w)).toThrow(/cannot be States/);
    expect(() => hessian(() => tf.sum(w.value), { gradStates: w, argnums: 0 })).toThrow(
      /not supported by hessian/,
    );
    expect(() => grad(() => tf.sum(w.value), { gradState: w } as never)).toThrow(
      /unknown option 'gradState'/,
    );
    expect(() => grad(42 as unknown as object)).toThrow(TransformError);
  });
});
