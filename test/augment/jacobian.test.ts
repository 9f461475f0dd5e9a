import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf';
import { hessian, jacfwd, jacobian, jacrev, vectorGrad } from '../../src/augment';
import { ParamState } from '../../src/state';
import { disposeTree, expectClose, fdJacobian, flat } from './helpers';

let before = 0;
beforeEach(() => {
  before = tf.memory().numTensors;
});
afterEach(() => {
  expect(tf.memory().numTensors, 'tensors leaked by the test').toBe(before);
});

const sigmoid = (v: number): number => 1 / (1 + Math.exp(-v));

describe('vectorGrad', () => {
  it('of an element-wise function is the element-wise derivative', () => {
    const xs = [-1.5, -0.2, 0, 0.7, 2];
    const x = tf.tensor(xs);
    const g = vectorGrad((v: tf.Tensor) => tf.mul(tf.tanh(v), v))(x);
    const ref = xs.map((v) => Math.tanh(v) + v * (1 - Math.tanh(v) ** 2));
    expectClose(flat(g), ref, 1e-5, 1e-6, "f'");
    disposeTree([g, x]);
  });
});

describe('jacrev / jacfwd', () => {
  // y_i = tanh(Σ_j W_ij x_j) · sigmoid(x_i) + exp(0.2 x_{i+1}),  W: [2, 3] state, x: [3] argument.
  const W0 = [0.5, -0.3, 0.8, -0.6, 0.2, 0.4];
  const X0 = [0.3, -0.7, 1.1];
  const ref = (W: number[], x: number[]): number[] =>
    [0, 1].map((i) => {
      const z = W[3 * i] * x[0] + W[3 * i + 1] * x[1] + W[3 * i + 2] * x[2];
      return Math.tanh(z) * sigmoid(x[i]) + Math.exp(0.2 * x[i + 1]);
    });
  const model = (W: ParamState) => (x: tf.Tensor) => {
    const z = tf.reshape(tf.matMul(W.value, tf.reshape(x, [3, 1])), [2]);
    return tf.add(
      tf.mul(tf.tanh(z), tf.sigmoid(tf.slice(x, 0, 2))),
      tf.exp(tf.mul(tf.slice(x, 1, 2), 0.2)),
    );
  };

  it('jacrev == jacfwd == the float64 reference Jacobian, for a state and an argument', () => {
    const W = new ParamState(tf.tensor(W0, [2, 3]));
    const x = tf.tensor(X0);
    const refJx = fdJacobian((v) => ref(W0, v), X0).flat();
    const refJW = fdJacobian((w) => ref(w, X0), W0).flat();
    const results: tf.Tensor[][] = [];
    for (const jac of [jacrev, jacfwd, jacobian]) {
      const [[jW], jx] = jac(model(W), { gradStates: [W], argnums: 0 })(x);
      expect(jW.shape).toEqual([2, 2, 3]);
      expect(jx.shape).toEqual([2, 3]);
      expectClose(flat(jx), refJx, 1e-4, 1e-5, 'J_x');
      expectClose(flat(jW), refJW, 1e-4, 1e-5, 'J_W');
      results.push([jW, jx]);
    }
    expectClose(flat(results[0][0]), flat(results[1][0]), 1e-5, 1e-6, 'jacrev vs jacfwd (W)');
    expectClose(flat(results[0][1]), flat(results[1][1]), 1e-5, 1e-6, 'jacrev vs jacfwd (x)');
    disposeTree([results, x]);
    W.dispose();
  });

  it('layout [...out.shape, ...in.shape] for matrix inputs and outputs', () => {
    const a = tf.tensor([1, 2, 3, 4, 5, 6], [2, 3]);
    const f = (m: tf.Tensor) => tf.matMul(m, m, false, true); // [2, 2]
    const jr = jacrev(f)(a);
    const jf = jacfwd(f)(a);
    expect(jr.shape).toEqual([2, 2, 2, 3]);
    expect(jf.shape).toEqual([2, 2, 2, 3]);
    const A = [1, 2, 3, 4, 5, 6];
    const refJ = fdJacobian(
      (v) =>
        [0, 1].flatMap((i) =>
          [0, 1].map((k) => [0, 1, 2].reduce((s, j) => s + v[3 * i + j] * v[3 * k + j], 0)),
        ),
      A,
      1e-4,
    );
    expectClose(flat(jr), refJ.flat(), 1e-4, 1e-4, 'jacrev');
    expectClose(flat(jf), refJ.flat(), 1e-4, 1e-4, 'jacfwd');
    // a scalar output gives the gradient's shape; an identity gives the identity
    const js = jacrev((m: tf.Tensor) => tf.sum(m))(a);
    expect(js.shape).toEqual([2, 3]);
    const e = tf.tensor([1, 2]);
    const id = jacfwd((m: tf.Tensor) => m)(e);
    expect(id.arraySync()).toEqual([
      [1, 0],
      [0, 1],
    ]);
    disposeTree([jr, jf, js, id, a, e]);
  });
});

describe('hessian', () => {
  // f(x) = Σ tanh(x_i x_{i+1}) + Σ exp(0.3 x_i)·sigmoid(x_i) + 0.1 (Σ x)²
  const f64 = (x: number[]): number => {
    let s = 0;
    for (let i = 0; i + 1 < x.length; i++) s += Math.tanh(x[i] * x[i + 1]);
    for (const v of x) s += Math.exp(0.3 * v) * sigmoid(v);
    const t = x.reduce((a, b) => a + b, 0);
    return s + 0.1 * t * t;
  };
  const f32 = (x: tf.Tensor): tf.Tensor => {
    const n = x.shape[0];
    const pairs = tf.sum(tf.tanh(tf.mul(tf.slice(x, 0, n - 1), tf.slice(x, 1, n - 1))));
    const e = tf.sum(tf.mul(tf.exp(tf.mul(x, 0.3)), tf.sigmoid(x)));
    return tf.add(tf.add(pairs, e), tf.mul(tf.square(tf.sum(x)), 0.1));
  };
  const hessianFD = (f: (x: number[]) => number, x: number[], h = 1e-4): number[][] =>
    x.map((_, i) =>
      x.map((__, j) => {
        const at = (di: number, dj: number) => {
          const y = [...x];
          y[i] += di * h;
          y[j] += dj * h;
          return f(y);
        };
        return (at(1, 1) - at(1, -1) - at(-1, 1) + at(-1, -1)) / (4 * h * h);
      }),
    );

  it('of a function of tanh, exp and sigmoid matches float64 finite differences (second order)', () => {
    const X = [0.4, -0.9, 1.3, 0.2];
    const x = tf.tensor(X);
    const H = hessian(f32)(x);
    expect(H.shape).toEqual([4, 4]);
    const ref = hessianFD(f64, X);
    expectClose(flat(H), ref.flat(), 1e-3, 1e-4, 'H');
    const h = H.arraySync() as number[][];
    for (let i = 0; i < 4; i++)
      for (let j = 0; j < 4; j++) expect(Math.abs(h[i][j] - h[j][i])).toBeLessThan(1e-5);
    disposeTree([H, x]);
  });

  it('over states is laid out like gradStates twice; over argnums as nested arrays', () => {
    const U = [0.3, -0.5];
    const V = [0.8];
    const u = new ParamState(tf.tensor(U));
    const v = new ParamState(tf.tensor(V));
    const loss = () =>
      tf.add(tf.sum(tf.mul(tf.tanh(u.value), v.value)), tf.sum(tf.exp(tf.mul(v.value, u.value))));
    const lossFD = (p: number[]) =>
      Math.tanh(p[0]) * p[2] +
      Math.tanh(p[1]) * p[2] +
      Math.exp(p[2] * p[0]) +
      Math.exp(p[2] * p[1]);
    const ref = hessianFD(lossFD, [...U, ...V]);
    const [H, value] = hessian(loss, { gradStates: { u, v }, returnValue: true })();
    expect(Object.keys(H)).toEqual(['u', 'v']);
    expect(Object.keys(H.u)).toEqual(['u', 'v']);
    expect(H.u.u.shape).toEqual([2, 2]);
    expect(H.u.v.shape).toEqual([2, 1]);
    expect(H.v.u.shape).toEqual([1, 2]);
    expect(H.v.v.shape).toEqual([1, 1]);
    expectClose(flat(H.u.u), [ref[0][0], ref[0][1], ref[1][0], ref[1][1]], 1e-3, 1e-4, 'Huu');
    expectClose(flat(H.u.v), [ref[0][2], ref[1][2]], 1e-3, 1e-4, 'Huv');
    expectClose(flat(H.v.u), [ref[2][0], ref[2][1]], 1e-3, 1e-4, 'Hvu');
    expectClose(flat(H.v.v), [ref[2][2]], 1e-3, 1e-4, 'Hvv');
    expectClose(flat(value), [lossFD([...U, ...V])], 1e-5, 1e-6, 'value');

    const a = tf.tensor(U);
    const b = tf.tensor(V);
    const Hab = hessian(
      (p: tf.Tensor, q: tf.Tensor) =>
        tf.add(tf.sum(tf.mul(tf.tanh(p), q)), tf.sum(tf.exp(tf.mul(q, p)))),
      { argnums: [0, 1] },
    )(a, b);
    expect(Hab.length).toBe(2);
    expect(Hab[0][1].shape).toEqual([2, 1]);
    expectClose(flat(Hab[0][0]), flat(H.u.u), 1e-6, 1e-6, 'argnums H00');
    expectClose(flat(Hab[1][0]), flat(H.v.u), 1e-6, 1e-6, 'argnums H10');
    disposeTree([H, value, Hab, a, b]);
    u.dispose();
    v.dispose();
  });
});
