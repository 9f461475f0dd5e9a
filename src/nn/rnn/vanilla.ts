/**
 * ValinaRNNCell (sic, the reference's spelling; `VanillaRNNCell` is the same class):
 *
 *     h = act(W·[x, h] + b)
 *
 * W: XavierNormal, b: zeros, act: relu by default (spec §5.10). It has no element-wise path from
 * the old to the new h, so online learners treat its recurrence as a full matrix.
 */
import { tf } from '../../backend/tf';
import type { InitStateOptions } from '../../graph';
import { XavierNormal } from '../../init';
import type { HiddenState } from '../../state';
import { Linear } from '../comm/Linear';
import { resolveActivation, type Activation, type ActivationFunction } from './activations';
import { RNNCell, concatLast, type RNNCellOptions } from './cell';

/** Options of ValinaRNNCell. */
export interface ValinaRNNCellOptions extends RNNCellOptions {
  /** The nonlinearity: a name or a function (default 'relu'). */
  activation?: Activation;
}

/** The plain (Elman) RNN cell. */
export class ValinaRNNCell extends RNNCell {
  readonly activation: ActivationFunction;
  /** The layer [x, h] (numIn + numOut) → numOut. */
  W: Linear;
  /** Hidden state [batch?, numOut]. */
  h!: HiddenState;

  constructor(numIn: number, numOut: number, options: ValinaRNNCellOptions = {}) {
    super(numIn, numOut, options);
    this.activation = resolveActivation(this.describe(), options.activation ?? 'relu');
    this.W = new Linear(numIn + numOut, numOut, {
      wInit: options.wInit ?? XavierNormal(),
      bInit: options.bInit,
    });
  }

  override initState(options: InitStateOptions = {}): void {
    this.h = this.makeHidden(this.h, 'h', options.batchSize);
  }

  override update(x: tf.Tensor): tf.Tensor {
    const h = this.stateValue(this.h, 'h');
    return tf.tidy(() => {
      const hn = this.activation(this.W.call(concatLast(this.checkInput(x, h), h)));
      this.h.value = hn;
      return hn;
    });
  }
}

/** The correctly spelled name of ValinaRNNCell (the same class). */
export const VanillaRNNCell = ValinaRNNCell;
/** The correctly spelled name of ValinaRNNCell (the same class). */
export type VanillaRNNCell = ValinaRNNCell;
