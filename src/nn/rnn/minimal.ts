/**
 * The minimal recurrent cells of brainscale §4 (σ = sigmoid; W: XavierNormal, biases zero):
 *
 *     MinimalRNNCell:  z = φ(x);  u = σ(W_u·[z, h] + b_u);  h = u⊙h + (1 − u)⊙z      (Chen 2017)
 *     MiniGRUCell:     z = σ(W_z·[x, h] + b_z);  h = (1 − z)⊙h + z⊙(W_x·x + b_x)
 *     MiniLSTMCell:    f = σ(W_f·[x, h] + b_f);  i = σ(W_i·[x, h] + b_i);  h = f⊙h + i⊙(W_x·x + b_x)
 *
 * φ defaults to a Linear numIn → numOut. As in brainscale (and unlike the minGRU/minLSTM paper
 * of Feng et al. 2024, whose gates see only x and whose minLSTM normalises f and i to sum to 1),
 * the gates read [x, h] and MiniLSTM's gates are not normalised.
 */
import { tf } from '../../backend/tf';
import { ArgumentError, describeValue } from '../../errors';
import { Module, type InitStateOptions } from '../../graph';
import { XavierNormal } from '../../init';
import type { HiddenState } from '../../state';
import { Linear } from '../comm/Linear';
import { RNNCell, concatLast, interpolate, type RNNCellOptions } from './cell';

/** The input map of MinimalRNNCell: a module or a function x [..., numIn] → z [..., numOut]. */
export type MinimalRNNPhi = Module | ((x: tf.Tensor) => tf.Tensor);

/** Options of MinimalRNNCell. */
export interface MinimalRNNCellOptions extends RNNCellOptions {
  /** The input map φ (default `Linear(numIn, numOut)` with wInit/bInit). */
  phi?: MinimalRNNPhi;
}

/** Minimal RNN (Chen 2017): the input is mapped once, then mixed into h by one gate. */
export class MinimalRNNCell extends RNNCell {
  /** The input map φ. */
  phi: MinimalRNNPhi;
  /** The update gate: [z, h] (2·numOut) → u. */
  W_u: Linear;
  /** Hidden state [batch?, numOut]. */
  h!: HiddenState;

  constructor(numIn: number, numOut: number, options: MinimalRNNCellOptions = {}) {
    super(numIn, numOut, options);
    const layer = { wInit: options.wInit ?? XavierNormal(), bInit: options.bInit };
    const phi = options.phi ?? new Linear(numIn, numOut, layer);
    if (!(phi instanceof Module) && typeof phi !== 'function') {
      throw new ArgumentError(
        `${this.describe()}: phi must be a Module or a function, got ${describeValue(phi)}`,
      );
    }
    this.phi = phi;
    this.W_u = new Linear(2 * numOut, numOut, layer);
  }

  override initState(options: InitStateOptions = {}): void {
    this.h = this.makeHidden(this.h, 'h', options.batchSize);
  }

  override update(x: tf.Tensor): tf.Tensor {
    const h = this.stateValue(this.h, 'h');
    return tf.tidy(() => {
      const xt = this.checkInput(x, h);
      const phi = this.phi;
      const z = phi instanceof Module ? (phi.call(xt) as tf.Tensor) : phi(xt);
      if (!(z instanceof tf.Tensor) || !tf.util.arraysEqual(z.shape, h.shape)) {
        throw new ArgumentError(
          `${this.describe()}: phi must map the input to shape [${h.shape.join(', ')}], got ${describeValue(z)}`,
        );
      }
      const u = tf.sigmoid(this.W_u.call(concatLast(z, h)));
      const hn = interpolate(u, z, h); // u⊙h + (1 − u)⊙z
      this.h.value = hn;
      return hn;
    });
  }
}

/** Options of MiniGRUCell and MiniLSTMCell. */
export type MiniCellOptions = RNNCellOptions;

/** Minimal GRU: one gate between h and a linear map of the input. */
export class MiniGRUCell extends RNNCell {
  /** The input map x → numOut. */
  W_x: Linear;
  /** The update gate: [x, h] → z. */
  W_z: Linear;
  /** Hidden state [batch?, numOut]. */
  h!: HiddenState;

  constructor(numIn: number, numOut: number, options: MiniCellOptions = {}) {
    super(numIn, numOut, options);
    const layer = { wInit: options.wInit ?? XavierNormal(), bInit: options.bInit };
    this.W_x = new Linear(numIn, numOut, layer);
    this.W_z = new Linear(numIn + numOut, numOut, layer);
  }

  override initState(options: InitStateOptions = {}): void {
    this.h = this.makeHidden(this.h, 'h', options.batchSize);
  }

  override update(x: tf.Tensor): tf.Tensor {
    const h = this.stateValue(this.h, 'h');
    return tf.tidy(() => {
      const xt = this.checkInput(x, h);
      const z = tf.sigmoid(this.W_z.call(concatLast(xt, h)));
      const hn = interpolate(z, h, this.W_x.call(xt));
      this.h.value = hn;
      return hn;
    });
  }
}

/** Minimal LSTM: forget and input gates on h and a linear map of the input (no cell state). */
export class MiniLSTMCell extends RNNCell {
  /** The input map x → numOut. */
  W_x: Linear;
  /** The forget gate: [x, h] → f. */
  W_f: Linear;
  /** The input gate: [x, h] → i. */
  W_i: Linear;
  /** Hidden state [batch?, numOut]. */
  h!: HiddenState;

  constructor(numIn: number, numOut: number, options: MiniCellOptions = {}) {
    super(numIn, numOut, options);
    const layer = { wInit: options.wInit ?? XavierNormal(), bInit: options.bInit };
    this.W_x = new Linear(numIn, numOut, layer);
    this.W_f = new Linear(numIn + numOut, numOut, layer);
    this.W_i = new Linear(numIn + numOut, numOut, layer);
  }

  override initState(options: InitStateOptions = {}): void {
    this.h = this.makeHidden(this.h, 'h', options.batchSize);
  }

  override update(x: tf.Tensor): tf.Tensor {
    const h = this.stateValue(this.h, 'h');
    return tf.tidy(() => {
      const xt = this.checkInput(x, h);
      const xh = concatLast(xt, h);
      const f = tf.sigmoid(this.W_f.call(xh));
      const i = tf.sigmoid(this.W_i.call(xh));
      const hn = tf.add(tf.mul(f, h), tf.mul(i, this.W_x.call(xt)));
      this.h.value = hn;
      return hn;
    });
  }
}
