/**
 * The three networks of seed 004 (brainscale's "Compilation Graph Visualization" notebook), ported
 * with the framework's modules: the etrace layers of `etrace.nn` (Linear, Conv2d, LayerNorm,
 * LeakyRateReadout) whose parameters the online learners trace, and the neurons, synapses,
 * projections and shape layers of `nn`.
 *
 * - `LIF_Delta_Net`: LIF neurons with a delta-synapse projection of `[input spikes, own spikes]`
 *   and a leaky rate readout.
 * - `GIF`, `GifLayer`, `GifNet`: the notebook's generalized integrate-and-fire neuron (membrane V
 *   and adaptation current I2), stacked in layers with an exponential synapse each.
 * - `ConvSNN`: Conv2d → LayerNorm → IF → MaxPool2d, Conv2d → LayerNorm → IF, MaxPool2d → Flatten,
 *   Linear → IF, LeakyRateReadout.
 *
 * Differences from the Python originals: units are plain numbers (ms, mV, mA); our neurons reset
 * in the step that fires and keep that step's spikes in a `spike` short-term state, which
 * `getSpike()` returns (brainstate recomputes the spike from the stored, un-reset V). The layers'
 * parameter attribute is `weight` (brainscale: `weight_op`). Construct the networks with
 * `environ.dt` set (the readouts fix their decay at construction).
 */
import { tf } from '../../src/backend/tf';
import * as environ from '../../src/environ';
import {
  Conv2d,
  DeltaProj,
  Expon,
  Flatten,
  IF,
  LayerNorm,
  LeakyRateReadout,
  LIF,
  Linear,
  MaxPool2d,
  Module,
  Sequential,
} from '../../src/etrace/nn';
import type { InitStateOptions, Size } from '../../src/graph';
import { KaimingNormal, XavierNormal, ZeroInit } from '../../src/init';
import { expEulerUpdate } from '../../src/nn/expEuler';
import {
  Neuron,
  type NeuronOptions,
  type ParamValue,
  type StateInit,
} from '../../src/nn/neurons/base';
import { add, div, mul, sub, type Num } from '../../src/nn/neurons/nmath';
import * as random from '../../src/random';
import type { HiddenState } from '../../src/state';
import { Arctan, ReluGrad, stopGradient } from '../../src/surrogate';

/** `[ffInit([nIn, nOut]); recInit([nRec, nOut])]` along axis 0: the weight of a Linear on [x, own spikes]. */
function ffRecWeight(nIn: number, nRec: number, ffScale: number, recScale: number): tf.Tensor {
  return tf.tidy(() =>
    tf.concat(
      [KaimingNormal(ffScale).call([nIn, nRec]), KaimingNormal(recScale).call([nRec, nRec])],
      0,
    ),
  );
}

// ---------------------------------------------------------------------------------------------
// LIF_Delta_Net

export interface LIFDeltaNetOptions {
  /** Membrane time constant (ms). Default 5. */
  tau_mem?: number;
  /** Readout time constant (ms). Default 5. */
  tau_o?: number;
  /** Threshold (mV). Default 1. */
  V_th?: number;
  /** 'soft' (default) or 'hard' reset. */
  spkReset?: 'soft' | 'hard';
  /** KaimingNormal scale of the recurrent weights. Default 1. */
  recScale?: number;
  /** KaimingNormal scale of the feed-forward weights. Default 1. */
  ffScale?: number;
  /**
   * The input is spikes: the Linear walks the non-zeros of [x, own spikes] and the readout those
   * of the spikes (etrace `eventInput`). Default true; false: dense matMuls (same values up to
   * float32 summation order).
   */
  eventInput?: boolean;
}

/** LIF neurons driven through a DeltaProj of `Linear([x, own spikes])`, read out by a LeakyRateReadout. */
export class LIF_Delta_Net extends Module {
  neu: LIF;
  syn: DeltaProj;
  out: LeakyRateReadout;

  constructor(nIn: number, nRec: number, nOut: number, options: LIFDeltaNetOptions = {}) {
    super();
    const o = {
      tau_mem: 5,
      tau_o: 5,
      V_th: 1,
      spkReset: 'soft' as const,
      recScale: 1,
      ffScale: 1,
      eventInput: true,
      ...options,
    };
    this.neu = new LIF(nRec, {
      tau: o.tau_mem,
      V_th: o.V_th,
      spkFun: new ReluGrad(),
      spkReset: o.spkReset,
    });
    this.syn = new DeltaProj({
      comm: new Linear(nIn + nRec, nRec, {
        wInit: ffRecWeight(nIn, nRec, o.ffScale, o.recScale),
        bInit: ZeroInit(),
        eventInput: o.eventInput,
      }),
      post: this.neu,
    });
    this.out = new LeakyRateReadout(nRec, nOut, {
      tau: o.tau_o,
      wInit: KaimingNormal(),
      eventInput: o.eventInput,
    });
  }

  /** One step on input spikes [batch?, nIn]: returns the readout [batch?, nOut]. */
  override update(spk: tf.Tensor): tf.Tensor {
    this.syn.call(tf.concat([spk, this.neu.getSpike()], -1));
    return this.out.call(this.neu.call()) as tf.Tensor;
  }
}

// ---------------------------------------------------------------------------------------------
// GIF

export interface GIFOptions extends NeuronOptions {
  /** Resting potential (mV). Default 0. */
  V_rest?: ParamValue;
  /** Threshold (mV, > 0). Default 1. */
  V_th_inf?: ParamValue;
  /** Membrane resistance. Default 1. */
  R?: ParamValue;
  /** Membrane time constant (ms). Default 20. */
  tau?: ParamValue;
  /** Time constant of the adaptation current I2 (ms); may be per neuron. Default 50. */
  tau_I2?: ParamValue;
  /** Jump of I2 per spike (mA). Default 0. */
  A2?: ParamValue;
  /** Initial V. Default 0. */
  V_initializer?: StateInit;
  /** Initial I2. Default 0. */
  I2_initializer?: StateInit;
}

/**
 * The notebook's GIF neuron: hidden V and I2. A step resets with the spikes of the stored V (no
 * gradient through them), decays I2, integrates V with exponential Euler and returns the
 * z-scored membrane `standardize(V − V_th_inf)` (over the last axis); `getSpike()` is the spike
 * function of the current V, which the layer feeds back through its recurrent weights.
 */
export class GIF extends Neuron {
  readonly V_rest: Num;
  readonly V_th_inf: Num;
  readonly R: Num;
  readonly tau: Num;
  readonly tau_I2: Num;
  readonly A2: Num;
  readonly V_initializer: StateInit;
  readonly I2_initializer: StateInit;
  V!: HiddenState;
  I2!: HiddenState;

  constructor(size: Size, options: GIFOptions = {}) {
    super(size, options, new ReluGrad());
    this.V_rest = this.param('V_rest', options.V_rest ?? 0, 'finite');
    this.V_th_inf = this.param('V_th_inf', options.V_th_inf ?? 1, 'positive');
    this.R = this.param('R', options.R ?? 1, 'finite');
    this.tau = this.param('tau', options.tau ?? 20, 'positive');
    this.tau_I2 = this.param('tau_I2', options.tau_I2 ?? 50, 'positive');
    this.A2 = this.param('A2', options.A2 ?? 0, 'finite');
    this.V_initializer = options.V_initializer ?? 0;
    this.I2_initializer = options.I2_initializer ?? 0;
  }

  override initState(options: InitStateOptions = {}): void {
    const b = options.batchSize;
    this.V = this.hiddenState(this.V, 'V', this.initialValue('V', this.V_initializer, b));
    this.I2 = this.hiddenState(this.I2, 'I2', this.initialValue('I2', this.I2_initializer, b));
  }

  override resetState(options: InitStateOptions = {}): void {
    this.initState(options);
  }

  protected override scaledV(V: tf.Tensor): tf.Tensor {
    return div(sub(V, this.V_th_inf), this.V_th_inf) as tf.Tensor;
  }

  /** The spike function of V (default: the current V). GIF keeps no spike state. */
  override getSpike(V?: tf.Tensor): tf.Tensor {
    return this.fire(this.scaledV(V ?? this.V.value));
  }

  override update(x: tf.Tensor | number = 0): tf.Tensor {
    const dt = environ.getDt();
    // reset with the spikes of the stored V, without gradient through them
    const lastSpk = stopGradient(this.getSpike());
    const lastV = sub(this.V.value, mul(this.V_th_inf, lastSpk)) as tf.Tensor;
    const lastI2 = sub(this.I2.value, mul(this.A2, lastSpk)) as tf.Tensor;
    // dI2/dt = −I2/τ_I2 and dV/dt = (−V + V_rest + R·(x + I2))/τ, exponential Euler with the
    // analytic Jacobians −1/τ_I2 and −1/τ
    const I2 = expEulerUpdate(
      lastI2,
      div(tf.neg(lastI2), this.tau_I2) as tf.Tensor,
      div(-1, this.tau_I2),
      dt,
    );
    const drive = add(this.V_rest, mul(this.R, add(x, I2))) as tf.Tensor;
    const V = expEulerUpdate(
      lastV,
      div(sub(drive, lastV), this.tau) as tf.Tensor,
      div(-1, this.tau),
      dt,
    );
    this.I2.value = I2;
    this.V.value = V;
    return standardize(sub(V, this.V_th_inf) as tf.Tensor);
  }
}

/** jax.nn.standardize over the last axis: (x − mean)/sqrt(var + 1e-5). */
export function standardize(x: tf.Tensor, epsilon = 1e-5): tf.Tensor {
  return tf.tidy(() => {
    const { mean, variance } = tf.moments(x, -1, true);
    return tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, epsilon)));
  });
}

export interface GifLayerOptions {
  ffScale?: number;
  recScale?: number;
  /** Membrane time constant (ms). Default 5. */
  tau_neu?: number;
  /** Synaptic time constant (ms). Default 5. */
  tau_syn?: number;
  /** Upper end (/1.5) of the per-neuron τ_I2 range: τ_I2 ~ U(100, 1.5·tau_I2) ms. Default 5. */
  tau_I2?: number;
  /** Jump of I2 per spike (mA). Default 1. */
  A2?: number;
}

/** One GIF layer: `ir2r` (Linear on [input spikes, own spikes]) → `exp` (Expon) → `r` (GIF). */
export class GifLayer extends Module {
  readonly n_in: number;
  readonly n_rec: number;
  ir2r: Linear;
  exp: Expon;
  r: GIF;
  /** The per-neuron τ_I2 given to `r` (the layer owns it). */
  readonly #tauI2: tf.Tensor;

  constructor(n_in: number, n_rec: number, options: GifLayerOptions = {}) {
    super();
    const o = { ffScale: 1, recScale: 1, tau_neu: 5, tau_syn: 5, tau_I2: 5, A2: 1, ...options };
    this.n_in = n_in;
    this.n_rec = n_rec;
    this.ir2r = new Linear(n_in + n_rec, n_rec, {
      wInit: ffRecWeight(n_in, n_rec, o.ffScale, o.recScale),
      bInit: ZeroInit(),
    });
    this.exp = new Expon(n_rec, { tau: o.tau_syn, gInitializer: ZeroInit() });
    // brainstate.random.uniform(100 ms, 1.5·tau_I2, n_rec) = low + u·(high − low), also when
    // high < low as with the defaults (values in (7.5, 100])
    const lo = 100;
    const hi = 1.5 * o.tau_I2;
    this.#tauI2 = tf.tidy(() => tf.add(lo, tf.mul(random.rand(n_rec), hi - lo)));
    this.r = new GIF(n_rec, {
      V_rest: 0,
      V_th_inf: 1,
      A2: o.A2,
      tau: o.tau_neu,
      tau_I2: this.#tauI2,
    });
  }

  /** Free τ_I2 (disposeAll calls this; the layers' parameters are freed with their states). */
  dispose(): void {
    this.#tauI2.dispose();
  }

  override update(spikes: tf.Tensor): tf.Tensor {
    const cond = this.ir2r.call(tf.concat([spikes, this.r.getSpike()], -1)) as tf.Tensor;
    return this.r.call(this.exp.call(cond) as tf.Tensor) as tf.Tensor;
  }
}

/** Stacked GIF layers (`layers`, paths `('layers', i, ...)`) and a LeakyRateReadout `out`. */
export class GifNet extends Module {
  layers: GifLayer[];
  out: LeakyRateReadout;

  constructor(n_in: number, n_rec: number[], n_out: number, options: { tau_o?: number } = {}) {
    super();
    this.layers = [];
    for (const n of n_rec) {
      if (!(Number.isInteger(n) && n > 0)) {
        throw new Error(`GifNet: n_rec should be a list of positive integers, got ${n}`);
      }
      this.layers.push(new GifLayer(n_in, n));
      n_in = n;
    }
    this.out = new LeakyRateReadout(n_in, n_out, {
      tau: options.tau_o ?? 5,
      wInit: KaimingNormal(),
    });
  }

  override update(x: tf.Tensor): tf.Tensor {
    for (const layer of this.layers) x = layer.call(x) as tf.Tensor;
    return this.out.call(x) as tf.Tensor;
  }
}

// ---------------------------------------------------------------------------------------------
// ConvSNN

export interface ConvSNNOptions {
  /** IF membrane time constant. Default 2. */
  tau_v?: number;
  /** Readout time constant. Default 10. */
  tau_o?: number;
  /** IF threshold. Default 1. */
  v_th?: number;
  /** Channels of both convolutions. Default 32. */
  nChannel?: number;
  /** Scale of the Xavier (conv) and Kaiming (linear) initializers. Default 40. */
  ffWscale?: number;
}

/**
 * Convolutional SNN: 1. Conv2d → LayerNorm → IF → MaxPool2d; 2. Conv2d → LayerNorm → IF;
 * 3. MaxPool2d → Flatten; 4. Linear → IF; 5. LeakyRateReadout. Input [B?, H, W, C].
 */
export class ConvSNN extends Module {
  layer1: Sequential;
  layer2: Sequential;
  layer3: Sequential;
  layer4: Sequential;
  layer5: LeakyRateReadout;

  constructor(inSize: Size = [34, 34, 2], outSize: Size = 10, options: ConvSNNOptions = {}) {
    super();
    const o = { tau_v: 2, tau_o: 10, v_th: 1, nChannel: 32, ffWscale: 40, ...options };
    const convInits = { wInit: XavierNormal(o.ffWscale), bInit: null, padding: 1 };
    const linearInits = { wInit: KaimingNormal(o.ffWscale), bInit: null };
    const ifParam = {
      V_th: o.v_th,
      tau: o.tau_v,
      spkFun: new Arctan(),
      V_initializer: ZeroInit(),
      R: 1,
    };
    this.layer1 = new Sequential(
      new Conv2d(inSize, o.nChannel, 3, convInits),
      LayerNorm.desc(),
      IF.desc(ifParam),
      MaxPool2d.desc(2, { stride: 2 }),
    );
    this.layer2 = new Sequential(
      new Conv2d(this.layer1.outSize!, o.nChannel, 3, convInits),
      LayerNorm.desc(),
      IF.desc(ifParam),
    );
    this.layer3 = new Sequential(
      new MaxPool2d(2, { stride: 2, inSize: this.layer2.outSize! }),
      Flatten.desc(),
    );
    this.layer4 = new Sequential(
      new Linear(this.layer3.outSize!, o.nChannel * 4 * 4, linearInits),
      IF.desc(ifParam),
    );
    this.layer5 = new LeakyRateReadout(this.layer4.outSize!, outSize, { tau: o.tau_o });
  }

  override update(x: tf.Tensor): tf.Tensor {
    let y = x;
    for (const l of [this.layer1, this.layer2, this.layer3, this.layer4])
      y = l.call(y) as tf.Tensor;
    return this.layer5.call(y) as tf.Tensor;
  }
}
