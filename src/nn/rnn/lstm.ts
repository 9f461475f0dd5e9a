/**
 * The cells with a hidden and a cell state (spec §5.10; σ = sigmoid, act = tanh by default):
 *
 *     LSTMCell:    [i, g, f, o] = W·[x, h] + b
 *                  c = σ(f + 1)⊙c + σ(i)⊙act(g);   h = σ(o)⊙act(c)            (forget bias +1)
 *     URLSTMCell:  [f, r, u, o] = W·[x, h]                                     (no bias in W)
 *                  f̂ = σ(f + β);  r̂ = σ(r − β);  g = 2r̂⊙f̂ + (1 − 2r̂)⊙f̂²
 *                  c = g⊙c + (1 − g)⊙act(u);       h = σ(o)⊙act(c)
 *
 * W: XavierNormal. URLSTM (Gu et al. 2020, "uniform initialisation, refine gate") learns the
 * forget bias β = −log(1/U − 1), U ~ Uniform(1/n, 1 − 1/n) drawn per unit, so the initial forget
 * gates σ(β) = U spread over (0, 1) and the cell spans many time scales.
 *
 * Fixes against brainscale: its URLSTMCell shadows the module it builds its gates from and
 * passes an op that is not an ETraceOp, so it cannot be constructed; here it is an ordinary cell
 * whose `bias` is a ParamState. For numOut ≤ 2 the range (1/n, 1 − 1/n) is empty or a point
 * (n = 1 would make β infinite), so β starts at 0 (U = 1/2).
 */
import { tf } from '../../backend/tf';
import type { InitStateOptions } from '../../graph';
import { Uniform, XavierNormal } from '../../init';
import { ParamState, type HiddenState } from '../../state';
import { Linear } from '../comm/Linear';
import { resolveActivation, type Activation, type ActivationFunction } from './activations';
import { RNNCell, concatLast, type RNNCellOptions } from './cell';

/** Options of LSTMCell. */
export interface LSTMCellOptions extends RNNCellOptions {
  /** The nonlinearity of the input and the output: a name or a function (default 'tanh'). */
  activation?: Activation;
}

/** Long short-term memory (Hochreiter & Schmidhuber 1997) with a +1 forget-gate bias. */
export class LSTMCell extends RNNCell {
  readonly activation: ActivationFunction;
  /** All four gates: [x, h] → [i, g, f, o] (4·numOut). */
  W: Linear;
  /** Hidden state [batch?, numOut]. */
  h!: HiddenState;
  /** Cell state [batch?, numOut]. */
  c!: HiddenState;

  constructor(numIn: number, numOut: number, options: LSTMCellOptions = {}) {
    super(numIn, numOut, options);
    this.activation = resolveActivation(this.describe(), options.activation ?? 'tanh');
    this.W = new Linear(numIn + numOut, 4 * numOut, {
      wInit: options.wInit ?? XavierNormal(),
      bInit: options.bInit,
    });
  }

  override initState(options: InitStateOptions = {}): void {
    this.h = this.makeHidden(this.h, 'h', options.batchSize);
    this.c = this.makeHidden(this.c, 'c', options.batchSize);
  }

  override update(x: tf.Tensor): tf.Tensor {
    const h = this.stateValue(this.h, 'h');
    const c = this.stateValue(this.c, 'c');
    return tf.tidy(() => {
      const [i, g, f, o] = tf.split(this.W.call(concatLast(this.checkInput(x, h), h)), 4, -1);
      const cn = tf.add(
        tf.mul(tf.sigmoid(tf.add(f, 1)), c),
        tf.mul(tf.sigmoid(i), this.activation(g)),
      );
      const hn = tf.mul(tf.sigmoid(o), this.activation(cn));
      this.c.value = cn;
      this.h.value = hn;
      return hn;
    });
  }
}

/** Options of URLSTMCell (its gate layer has no bias; the forget bias β is its own parameter). */
export type URLSTMCellOptions = Omit<LSTMCellOptions, 'bInit'>;

/** The forget bias −log(1/U − 1) with U ~ Uniform(1/n, 1 − 1/n) (zeros for n ≤ 2). */
function uniformForgetBias(n: number): tf.Tensor {
  if (n <= 2) return tf.zeros([n]);
  return tf.tidy(() => {
    const u = Uniform(1 / n, 1 - 1 / n).call([n]);
    return tf.neg(tf.log(tf.sub(tf.div(1, u), 1)));
  });
}

/** LSTM with a uniformly initialised learnable forget bias and a refine gate (Gu et al. 2020). */
export class URLSTMCell extends RNNCell {
  readonly activation: ActivationFunction;
  /** All four gates, without bias: [x, h] → [f, r, u, o] (4·numOut). */
  W: Linear;
  /** The forget bias β [numOut]. */
  bias: ParamState;
  /** Hidden state [batch?, numOut]. */
  h!: HiddenState;
  /** Cell state [batch?, numOut]. */
  c!: HiddenState;

  constructor(numIn: number, numOut: number, options: URLSTMCellOptions = {}) {
    super(numIn, numOut, options);
    this.activation = resolveActivation(this.describe(), options.activation ?? 'tanh');
    this.W = new Linear(numIn + numOut, 4 * numOut, {
      wInit: options.wInit ?? XavierNormal(),
      bInit: null,
    });
    this.bias = new ParamState(uniformForgetBias(numOut));
  }

  override initState(options: InitStateOptions = {}): void {
    this.h = this.makeHidden(this.h, 'h', options.batchSize);
    this.c = this.makeHidden(this.c, 'c', options.batchSize);
  }

  override update(x: tf.Tensor): tf.Tensor {
    const h = this.stateValue(this.h, 'h');
    const c = this.stateValue(this.c, 'c');
    const beta = this.bias.value;
    return tf.tidy(() => {
      const [f, r, u, o] = tf.split(this.W.call(concatLast(this.checkInput(x, h), h)), 4, -1);
      const fg = tf.sigmoid(tf.add(f, beta));
      const rg = tf.sigmoid(tf.sub(r, beta));
      // g = 2r̂f̂ + (1 − 2r̂)f̂²
      const g = tf.add(tf.mul(tf.mul(rg, fg), 2), tf.mul(tf.sub(1, tf.mul(rg, 2)), tf.square(fg)));
      const cn = tf.add(tf.mul(g, c), tf.mul(tf.sub(1, g), this.activation(u)));
      const hn = tf.mul(tf.sigmoid(o), this.activation(cn));
      this.c.value = cn;
      this.h.value = hn;
      return hn;
    });
  }
}
