/**
 * Etrace recurrent cells (brainscale spec §4), built on the etrace `Linear` so the online learners
 * see every weight as one weight-op call (σ = sigmoid):
 *
 *     GRUCell:  z = σ(Wz·[x, h]);  r = σ(Wr·[x, h]);  ĥ = act(Wh·[x, r⊙h]);  h = (1−z)⊙h + z⊙ĥ
 *     MiniGRU:  z = σ(Wz·[x, h]);  h = (1−z)⊙h + z⊙(Wx·x)
 *
 * Each gate is a separate Linear (upstream's layout), so the compiler can tell them apart: in the
 * GRU, Wz and Wh reach h element-wise (etrace weights of the group {h}), while Wr reaches h only
 * through the input of Wh — a weight op — so it has no relation and is trained with the gradient
 * of the current step only (brainscale's compile warns the same). The hidden state `h` is a
 * HiddenState [batch?, nHidden]; `update(x)` returns the new h (owned by the state: do not
 * dispose it, clone it to keep it past the next step).
 */
import { tf } from '../../backend/tf';
import type { InitStateOptions } from '../../graph';
import { Orthogonal, XavierNormal } from '../../init';
import {
  resolveActivation,
  type Activation,
  type ActivationFunction,
} from '../../nn/rnn/activations';
import { RNNCell, concatLast, interpolate, type RNNCellOptions } from '../../nn/rnn/cell';
import type { HiddenState } from '../../state';
import { Linear } from './linear';
import type { ETraceLayerOptions } from './param';

/** Options of the etrace recurrent cells. */
export interface ETraceRNNCellOptions extends RNNCellOptions, ETraceLayerOptions {
  /** A name for messages. */
  name?: string;
}

/** Options of GRUCell. */
export interface GRUCellOptions extends ETraceRNNCellOptions {
  /** The candidate's nonlinearity: a name or a function (default 'tanh'). */
  act?: Activation;
}

/** The Linear options every gate of a cell shares. */
function gateOptions(o: ETraceRNNCellOptions, wInit: RNNCellOptions['wInit']) {
  return { wInit, bInit: o.bInit, paramType: o.paramType, grad: o.grad };
}

/** Gated recurrent unit (Cho et al. 2014) with three etrace Linear gates on [x, h] / [x, r⊙h]. */
export class GRUCell extends RNNCell {
  readonly act: ActivationFunction;
  /** Update gate: [x, h] → z. */
  Wz: Linear;
  /** Reset gate: [x, h] → r (not an etrace weight: it reaches h only through Wh's input). */
  Wr: Linear;
  /** Candidate: [x, r⊙h] → ĥ. */
  Wh: Linear;
  /** Hidden state [batch?, nHidden]. */
  h!: HiddenState;

  constructor(nIn: number, nHidden: number, options: GRUCellOptions = {}) {
    super(nIn, nHidden, options);
    this.act = resolveActivation(this.describe(), options.act ?? 'tanh');
    const layer = gateOptions(options, options.wInit ?? Orthogonal());
    this.Wz = new Linear(nIn + nHidden, nHidden, layer);
    this.Wr = new Linear(nIn + nHidden, nHidden, layer);
    this.Wh = new Linear(nIn + nHidden, nHidden, layer);
  }

  override initState(options: InitStateOptions = {}): void {
    this.h = this.makeHidden(this.h, 'h', options.batchSize);
  }

  /** Free the gates' parameters. */
  dispose(): void {
    for (const l of [this.Wz, this.Wr, this.Wh]) l.dispose();
  }

  /** One step: x [batch?, nIn] → the new h [batch?, nHidden]. */
  override update(x: tf.Tensor): tf.Tensor {
    const h = this.stateValue(this.h, 'h');
    return tf.tidy(() => {
      const xt = this.checkInput(x, h);
      const xh = concatLast(xt, h);
      const z = tf.sigmoid(this.Wz.call(xh));
      const r = tf.sigmoid(this.Wr.call(xh));
      const candidate = this.act(this.Wh.call(concatLast(xt, tf.mul(r, h))));
      const hn = interpolate(z, h, candidate);
      this.h.value = hn;
      return hn;
    });
  }
}

/** brainscale's MiniGRU: one update gate between h and a linear map of the input. */
export class MiniGRU extends RNNCell {
  /** The input map x → nHidden. */
  Wx: Linear;
  /** The update gate: [x, h] → z. */
  Wz: Linear;
  /** Hidden state [batch?, nHidden]. */
  h!: HiddenState;

  constructor(nIn: number, nHidden: number, options: ETraceRNNCellOptions = {}) {
    super(nIn, nHidden, options);
    const layer = gateOptions(options, options.wInit ?? XavierNormal());
    this.Wx = new Linear(nIn, nHidden, layer);
    this.Wz = new Linear(nIn + nHidden, nHidden, layer);
  }

  override initState(options: InitStateOptions = {}): void {
    this.h = this.makeHidden(this.h, 'h', options.batchSize);
  }

  /** Free the layers' parameters. */
  dispose(): void {
    for (const l of [this.Wx, this.Wz]) l.dispose();
  }

  /** One step: x [batch?, nIn] → the new h [batch?, nHidden]. */
  override update(x: tf.Tensor): tf.Tensor {
    const h = this.stateValue(this.h, 'h');
    return tf.tidy(() => {
      const xt = this.checkInput(x, h);
      const z = tf.sigmoid(this.Wz.call(concatLast(xt, h)));
      const hn = interpolate(z, h, this.Wx.call(xt));
      this.h.value = hn;
      return hn;
    });
  }
}
