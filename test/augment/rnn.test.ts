/**
 * BPTT through a 2-layer tanh RNN unrolled for 20 steps in JS: the gradients of `grad` over the
 * model's ParamStates (a FlatDict from `states()`) against central finite differences of a
 * float64 plain-JS reference.
 */
import { describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf';
import { grad } from '../../src/augment';
import { Module, states } from '../../src/graph';
import { HiddenState, ParamState } from '../../src/state';
import { disposeTree, expectClose, fixedRandom, flat } from './helpers';

const IN = 3;
const H1 = 4;
const H2 = 3;
const T = 20;

// Parameter shapes, in the order of the flat float64 parameter vector.
const SHAPES: Record<string, [number, number]> = {
  W1: [IN, H1],
  U1: [H1, H1],
  b1: [1, H1],
  W2: [H1, H2],
  U2: [H2, H2],
  b2: [1, H2],
};
const NAMES = Object.keys(SHAPES);

class TwoLayerRNN extends Module {
  W1: ParamState;
  U1: ParamState;
  b1: ParamState;
  W2: ParamState;
  U2: ParamState;
  b2: ParamState;
  h1 = new HiddenState(tf.zeros([1, H1]));
  h2 = new HiddenState(tf.zeros([1, H2]));
  constructor(init: Record<string, number[]>) {
    super();
    this.W1 = new ParamState(tf.tensor(init.W1, SHAPES.W1));
    this.U1 = new ParamState(tf.tensor(init.U1, SHAPES.U1));
    this.b1 = new ParamState(tf.tensor(init.b1, SHAPES.b1));
    this.W2 = new ParamState(tf.tensor(init.W2, SHAPES.W2));
    this.U2 = new ParamState(tf.tensor(init.U2, SHAPES.U2));
    this.b2 = new ParamState(tf.tensor(init.b2, SHAPES.b2));
  }
  step(x: tf.Tensor): tf.Tensor {
    this.h1.value = tf.tanh(
      tf.add(
        tf.add(tf.matMul(x, this.W1.value), tf.matMul(this.h1.value, this.U1.value)),
        this.b1.value,
      ),
    );
    this.h2.value = tf.tanh(
      tf.add(
        tf.add(tf.matMul(this.h1.value, this.W2.value), tf.matMul(this.h2.value, this.U2.value)),
        this.b2.value,
      ),
    );
    return this.h2.value;
  }
}

/** The same network in float64 JS: loss = Σ_t Σ_i (h2_t,i − y_t,i)² / T, and the last h2. */
function forwardF64(
  p: Record<string, number[]>,
  xs: number[][],
  ys: number[][],
): { loss: number; h2: number[] } {
  const layer = (
    x: number[],
    h: number[],
    W: number[],
    U: number[],
    b: number[],
    nIn: number,
    n: number,
  ): number[] =>
    Array.from({ length: n }, (_, j) => {
      let z = b[j];
      for (let i = 0; i < nIn; i++) z += x[i] * W[i * n + j];
      for (let i = 0; i < n; i++) z += h[i] * U[i * n + j];
      return Math.tanh(z);
    });
  let h1 = new Array<number>(H1).fill(0);
  let h2 = new Array<number>(H2).fill(0);
  let loss = 0;
  for (let t = 0; t < T; t++) {
    h1 = layer(xs[t], h1, p.W1, p.U1, p.b1, IN, H1);
    h2 = layer(h1, h2, p.W2, p.U2, p.b2, H1, H2);
    for (let i = 0; i < H2; i++) loss += (h2[i] - ys[t][i]) ** 2;
  }
  return { loss: loss / T, h2 };
}

function lossF64(p: Record<string, number[]>, xs: number[][], ys: number[][]): number {
  return forwardF64(p, xs, ys).loss;
}

describe('BPTT through a 2-layer tanh RNN (20 steps)', () => {
  it('grad over the ParamStates matches float64 central finite differences', () => {
    const init: Record<string, number[]> = {};
    NAMES.forEach((n, k) => (init[n] = fixedRandom(SHAPES[n][0] * SHAPES[n][1], 11 + k, 0.6)));
    const xs = Array.from({ length: T }, (_, t) => fixedRandom(IN, 100 + t, 1));
    const ys = Array.from({ length: T }, (_, t) => fixedRandom(H2, 200 + t, 0.8));

    const before = tf.memory().numTensors;
    const net = new TwoLayerRNN(init);
    const xT = xs.map((x) => tf.tensor(x, [1, IN]));
    const yT = ys.map((y) => tf.tensor(y, [1, H2]));
    const loss = () => {
      net.h1.value = tf.zeros([1, H1]);
      net.h2.value = tf.zeros([1, H2]);
      let l: tf.Tensor = tf.scalar(0);
      for (let t = 0; t < T; t++) l = tf.add(l, tf.sum(tf.square(tf.sub(net.step(xT[t]), yT[t]))));
      return tf.div(l, T);
    };
    const params = states(net, ParamState);
    const [g, value] = grad(loss, { gradStates: params, returnValue: true })();
    expect(Object.keys(g).sort()).toEqual([...NAMES].sort());
    expectClose(flat(value), [lossF64(init, xs, ys)], 1e-5, 1e-6, 'loss');

    const h = 1e-6;
    for (const name of NAMES) {
      const fd = init[name].map((_, i) => {
        const plus = { ...init, [name]: init[name].map((v, j) => (j === i ? v + h : v)) };
        const minus = { ...init, [name]: init[name].map((v, j) => (j === i ? v - h : v)) };
        return (lossF64(plus, xs, ys) - lossF64(minus, xs, ys)) / (2 * h);
      });
      expectClose(flat(g[name]), fd, 2e-3, 2e-5, `d loss / d ${name}`);
    }
    // the hidden states keep the values of the forward pass (write-back, spec §4.1 step 6)
    expectClose(flat(net.h2.value), forwardF64(init, xs, ys).h2, 1e-5, 1e-6, 'h2 after grad');

    disposeTree([g, value, xT, yT]);
    for (const s of states(net).values()) s.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
