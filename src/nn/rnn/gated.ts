/**
 * The gated recurrent cells with one state (spec §5.10; σ = sigmoid):
 *
 *     GRUCell:  [r, z] = σ(W_rz·[x, h] + b_rz);  h̃ = act(W_h·[x, r⊙h] + b_h);  h = (1−z)⊙h + z⊙h̃
 *     MGUCell:  f = σ(W_f·[x, h] + b_f);         h̃ = act(W_h·[x, f⊙h] + b_h);  h = (1−f)⊙h + f⊙h̃
 *
 * Weights Orthogonal, biases zero, act tanh by default. MGU (minimal gated unit, Zhou et al.
 * 2016) is a GRU whose one forget gate plays both the reset and the update role.
 */
import { tf } from '../../backend/tf';
import type { InitStateOptions } from '../../graph';
import { Orthogonal } from '../../init';
import type { HiddenState } from '../../state';
import { Linear } from '../comm/Linear';
import { resolveActivation, type Activation, type ActivationFunction } from './activations';
import { RNNCell, concatLast, interpolate, type RNNCellOptions } from './cell';

/** Options of GRUCell and MGUCell. */
export interface GatedCellOptions extends RNNCellOptions {
  /** The candidate's nonlinearity: a name or a function (default 'tanh'). */
  activation?: Activation;
}

/** Gated recurrent unit (Cho et al. 2014). */
export class GRUCell extends RNNCell {
  readonly activation: ActivationFunction;
  /** Reset and update gates: [x, h] → [r, z] (2·numOut). */
  Wrz: Linear;
  /** Candidate: [x, r⊙h] → h̃. */
  Wh: Linear;
  /** Hidden state [batch?, numOut]. */
  h!: HiddenState;

  constructor(numIn: number, numOut: number, options: GatedCellOptions = {}) {
    super(numIn, numOut, options);
    this.activation = resolveActivation(this.describe(), options.activation ?? 'tanh');
    const layer = { wInit: options.wInit ?? Orthogonal(), bInit: options.bInit };
    this.Wrz = new Linear(numIn + numOut, 2 * numOut, layer);
    this.Wh = new Linear(numIn + numOut, numOut, layer);
  }

  override initState(options: InitStateOptions = {}): void {
    this.h = this.makeHidden(this.h, 'h', options.batchSize);
  }

  override update(x: tf.Tensor): tf.Tensor {
    const h = this.stateValue(this.h, 'h');
    return tf.tidy(() => {
      const xt = this.checkInput(x, h);
      const [r, z] = tf.split(tf.sigmoid(this.Wrz.call(concatLast(xt, h))), 2, -1);
      const candidate = this.activation(this.Wh.call(concatLast(xt, tf.mul(r, h))));
      const hn = interpolate(z, h, candidate);
      this.h.value = hn;
      return hn;
    });
  }
}

/** Minimal gated unit (Zhou et al. 2016): a GRU with one forget gate. */
export class MGUCell extends RNNCell {
  readonly activation: ActivationFunction;
  /** Forget gate: [x, h] → f. */
  Wf: Linear;
  /** Candidate: [x, f⊙h] → h̃. */
  Wh: Linear;
  /** Hidden state [batch?, numOut]. */
  h!: HiddenState;

  constructor(numIn: number, numOut: number, options: GatedCellOptions = {}) {
    super(numIn, numOut, options);
    this.activation = resolveActivation(this.describe(), options.activation ?? 'tanh');
    const layer = { wInit: options.wInit ?? Orthogonal(), bInit: options.bInit };
    this.Wf = new Linear(numIn + numOut, numOut, layer);
    this.Wh = new Linear(numIn + numOut, numOut, layer);
  }

  override initState(options: InitStateOptions = {}): void {
    this.h = this.makeHidden(this.h, 'h', options.batchSize);
  }

  override update(x: tf.Tensor): tf.Tensor {
    const h = this.stateValue(this.h, 'h');
    return tf.tidy(() => {
      const xt = this.checkInput(x, h);
      const f = tf.sigmoid(this.Wf.call(concatLast(xt, h)));
      const candidate = this.activation(this.Wh.call(concatLast(xt, tf.mul(f, h))));
      const hn = interpolate(f, h, candidate);
      this.h.value = hn;
      return hn;
    });
  }
}
