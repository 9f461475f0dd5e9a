/**
 * The recurrent LIF network the training examples and bench/bptt use (API.md §3): input and
 * recurrent spikes through one dense Linear into a LIF population as delta inputs (jumps), a
 * leaky rate readout. `forward(xs)` runs a whole sequence [T, B, nIn] with forLoop and returns
 * the readout at every step [T, B, nOut].
 */
import { forLoop, nn, surrogate, tf } from '../src';

export interface RSNNOptions {
  nIn: number;
  nHidden: number;
  nOut: number;
  /** Membrane time constant (ms). */
  tau?: number;
  /** Readout time constant (ms). */
  tauOut?: number;
  /** Variance scale of the input/recurrent weights (KaimingNormal scale; default 2). */
  gain?: number;
}

export class RSNN extends nn.Module {
  neu: nn.LIF;
  syn: nn.DeltaProj;
  out: nn.LeakyRateReadout;

  constructor(o: RSNNOptions) {
    super();
    this.neu = new nn.LIF(o.nHidden, {
      tau: o.tau ?? 10,
      V_th: 1,
      spkFun: new surrogate.ReluGrad(),
      spkReset: 'soft',
    });
    this.syn = new nn.DeltaProj({
      comm: new nn.Linear(o.nIn + o.nHidden, o.nHidden, {
        wInit: nn.init.KaimingNormal(o.gain ?? 2),
      }),
      post: this.neu,
    });
    this.out = new nn.LeakyRateReadout(o.nHidden, o.nOut, { tau: o.tauOut ?? 10 });
  }

  override update(x: tf.Tensor): tf.Tensor {
    this.syn.call(tf.concat([x, this.neu.spike.value], -1));
    return this.out.call(this.neu.call());
  }

  /** Readout at every step for a sequence xs [T, B, nIn] → [T, B, nOut]. */
  forward(xs: tf.Tensor): tf.Tensor {
    return forLoop((x: tf.Tensor) => this.update(x), xs) as tf.Tensor;
  }
}
