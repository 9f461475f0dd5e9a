/**
 * The recurrent LIF network the training examples and bench/bptt use (API.md §3): input and
 * recurrent spikes through one dense Linear into a LIF population as delta inputs (jumps), a
 * leaky rate readout. `forward(xs)` runs a whole sequence [T, B, nIn] with forLoop and returns
 * the readout at every step [T, B, nOut].
 *
 * `forward` evaluates the Linear by blocks: [x, s]·W + b = x·W_in + s·W_rec + b with W_in the
 * first nIn rows of W. The input part does not depend on the recurrence, so it is computed for
 * all T steps at once (one [T·B, nIn]·[nIn, H] matMul instead of T small ones, and its weight
 * gradient is one matMul too, with no gradient computed for the inputs); only s·W_rec stays in
 * the loop, and the readout's step is written out here. The products are event-driven (eventMatMul: the input and hidden spikes are mostly
 * zeros, so their cost and that of their weight gradients scale with the number of spikes). Same parameters and the same function as `update` step by step (values agree to
 * float32 rounding: the sum over the 356 inputs is split in two partial sums).
 */
import { compile, forLoop, nn, surrogate, tf } from '../src';
import { eventMatMul } from '../src/backend/eventMatMul';

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

  /**
   * Readout at every step for a sequence xs [T, B, nIn] → [T, B, nOut]. With `checkpoint` (an
   * integer ≥ 2, the base of checkpointedForLoop) the loop is checkpointed: BPTT memory grows
   * like base·log_base(T) steps instead of T, for one more forward pass in the backward.
   */
  forward(xs: tf.Tensor, options: { checkpoint?: number } = {}): tf.Tensor {
    const comm = this.syn.comm as nn.Linear;
    const { weight, bias } = comm.weight.value;
    if (xs.rank !== 3 || comm.wMask !== null) {
      return forLoop((x: tf.Tensor) => this.update(x), xs) as tf.Tensor;
    }
    const [T, B, nIn] = xs.shape as [number, number, number];
    const [nRows, H] = weight.shape as [number, number];
    const wIn = tf.slice(weight, [0, 0], [nIn, H]);
    const wRec = tf.slice(weight, [nIn, 0], [nRows - nIn, H]);
    const drive = tf.tidy(() => {
      const x = tf.reshape(xs.dtype === 'float32' ? xs : tf.cast(xs, 'float32'), [T * B, nIn]);
      // the inputs are spikes too (mostly zeros): event-driven products here as well
      if (bias === undefined) return tf.reshape(eventMatMul(x, wIn), [T, B, H]);
      // the bias as one more input row fed by a column of ones: its gradient is then part of
      // the weight gradient's matMul (a sum of dy over the T·B rows is slow on wasm)
      const x1 = tf.concat([x, tf.ones([T * B, 1])], 1);
      const w1 = tf.concat([wIn, tf.reshape(bias, [1, H])], 0);
      return tf.reshape(eventMatMul(x1, w1), [T, B, H]);
    });
    const key = this.syn.name!;
    const step = (d: tf.Tensor, rec: (s: tf.Tensor) => tf.Tensor) => {
      // the recurrent input from last step's spikes (1 % non-zero): an event-driven product
      this.neu.addDeltaInput(key, tf.add(d, rec(this.neu.spike.value)));
      const spike = this.neu.call();
      // the readout's step r ← decay·r + s·W_out (LeakyRateReadout.update), the product event-driven
      const out = this.out;
      const r = tf.add(
        tf.mul(out.r.value, out.decay),
        eventMatMul(spike, out.weight.value as tf.Tensor),
      );
      out.r.value = r;
      return r;
    };
    try {
      if (options.checkpoint === undefined) {
        return forLoop(
          (d: tf.Tensor) => step(d, (sp) => eventMatMul(sp, wRec)),
          drive,
        ) as tf.Tensor;
      }
      // A checkpointed chunk only differentiates its arguments and the states it reads, not
      // captured tensors: use the whole weight state, with zeros in place of the inputs (the
      // event walk skips them; slicing W_rec out of it every step would copy it every step).
      // (Made in the step: the backward pass recomputes steps after forward returned.)
      return compile.checkpointedForLoop(
        (d: tf.Tensor) =>
          step(d, (sp) =>
            eventMatMul(tf.concat([tf.zeros([B, nIn]), sp], 1), comm.weight.value.weight),
          ),
        drive,
        { base: options.checkpoint },
      ) as tf.Tensor;
    } finally {
      tf.dispose([wIn, wRec, drive]);
    }
  }
}
