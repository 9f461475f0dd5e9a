/**
 * Etrace readouts (brainscale spec §4), as the plain readouts of src/nn/readouts with the weight
 * as a parameter `weight` = `{ weight: [in, out] }` bound to `MatMulOp()` (no bias), executed
 * once per step:
 * - `LeakyRateReadout`: r ← decay·r + execute(x), decay = exp(−dt/τ) fixed at construction, r a
 *   HiddenState [batch?, ...outSize]; returns the new r (owned by the state).
 * - `LeakySpikeReadout`: IF neurons of size outSize driven by execute(x) (soft or hard reset).
 */
import { tf } from '../../backend/tf';
import { ArgumentError, KeyNotFoundError, describeValue } from '../../errors';
import type { InitStateOptions, Size } from '../../graph';
import { KaimingNormal, ZeroInit } from '../../init';
import { paramTensor, type TensorInit } from '../../nn/comm/paramTensor';
import { Dynamics } from '../../nn/dynamics';
import { IF } from '../../nn/neurons/lif';
import type { NeuronOptions, ParamValue, StateInit } from '../../nn/neurons/base';
import { dtAtConstruction } from '../../nn/readouts/LeakyRateReadout';
import { hiddenState, initialValue } from '../../nn/rnn/cell';
import type { HiddenState } from '../../state';
import { MatMulOp } from '../ops';
import {
  checkParamOptions,
  disposeParam,
  layerParam,
  type ETraceLayerOptions,
  type LayerParam,
} from './param';

/** The readout weight: `{ weight: [in, out] }`. */
export interface ReadoutParams {
  [key: string]: tf.Tensor;
  weight: tf.Tensor;
}

/** `{ weight }` bound to MatMulOp() as the layer's paramType. */
function readoutWeight(
  owner: string,
  inShape: readonly number[],
  outShape: readonly number[],
  wInit: TensorInit | undefined,
  options: ETraceLayerOptions & { eventInput?: boolean },
): LayerParam<ReadoutParams> {
  checkParamOptions(owner, options);
  if (options.eventInput !== undefined && typeof options.eventInput !== 'boolean') {
    throw new ArgumentError(
      `${owner}: eventInput must be a boolean, got ${describeValue(options.eventInput)}`,
    );
  }
  const nIn = inShape[inShape.length - 1];
  const nOut = outShape[outShape.length - 1];
  const W = paramTensor(wInit ?? KaimingNormal(), [nIn, nOut], `${owner}: wInit`);
  const op = new MatMulOp(options.eventInput === true ? { eventInput: true } : {});
  return layerParam(owner, { weight: W }, op, options);
}

/** x as float32 of shape [...lead, nIn] (checked; a typed error naming the readout). */
function readoutInput(owner: string, x: unknown, nIn: number, lead: readonly number[]): tf.Tensor {
  const expected = `[${[...lead, nIn].join(', ')}]`;
  if (!(x instanceof tf.Tensor)) {
    throw new ArgumentError(
      `${owner}.update: the input must be a tensor of shape ${expected}, got ${describeValue(x)}`,
    );
  }
  if (
    x.rank < 1 ||
    x.shape[x.rank - 1] !== nIn ||
    !tf.util.arraysEqual(x.shape.slice(0, -1), [...lead])
  ) {
    throw new ArgumentError(
      `${owner}.update: the input must have shape ${expected}, got [${x.shape.join(', ')}]`,
    );
  }
  if (x.dtype === 'string' || x.dtype === 'complex64') {
    throw new ArgumentError(`${owner}.update: the input must be numeric, got a ${x.dtype} tensor`);
  }
  return x.dtype === 'float32' ? x : tf.cast(x, 'float32');
}

/** Options of LeakyRateReadout. */
export interface LeakyRateReadoutOptions extends ETraceLayerOptions {
  /** Time constant τ (ms, > 0). Default 5. */
  tau?: number;
  /** Weight initializer for [in, out] (default KaimingNormal()). */
  wInit?: TensorInit;
  /** Initial r: a number, tensor, initializer or function (default ZeroInit()). */
  rInit?: TensorInit;
  /**
   * The input is mostly zeros (spikes): the product walks its non-zeros (MatMulOpOptions
   * .eventInput; same values up to float32 summation order). Default false.
   */
  eventInput?: boolean;
}

/** A leaky rate readout r ← exp(−dt/τ)·r + x @ W, with W an etrace parameter. */
export class LeakyRateReadout extends Dynamics {
  readonly tau: number;
  /** exp(−dt/τ), fixed at construction. */
  readonly decay: number;
  readonly rInit: TensorInit;
  /** `{ weight: [in, out] }` bound to MatMulOp(). */
  weight: LayerParam<ReadoutParams>;
  /** The readout state [batch?, ...outSize]. */
  r!: HiddenState;

  constructor(inSize: Size, outSize: Size, options: LeakyRateReadoutOptions = {}) {
    super(outSize, options.name);
    this.inSize = inSize;
    const owner = this.describe();
    const tau = options.tau ?? 5;
    if (typeof tau !== 'number' || !(tau > 0) || !Number.isFinite(tau)) {
      throw new ArgumentError(`${owner}: tau must be a positive number (ms), got ${String(tau)}`);
    }
    this.tau = tau;
    this.decay = Math.exp(-dtAtConstruction(owner) / tau);
    this.rInit = options.rInit ?? ZeroInit();
    this.weight = readoutWeight(owner, this.inSize!, this.outSize!, options.wInit, options);
  }

  /** The shape of one sample of r (= outSize). */
  override get varshape(): number[] {
    return [...this.outSize!];
  }

  override initState(options: InitStateOptions = {}): void {
    const where = `${this.describe()}: rInit`;
    const value = initialValue(where, this.rInit, this.varshape, options.batchSize);
    this.r = hiddenState(this.r, 'r', value);
  }

  override resetState(options: InitStateOptions = {}): void {
    this.initState(options);
  }

  dispose(): void {
    disposeParam(this.weight);
  }

  /** One step: x [batch?, ..., in] → r [batch?, ..., out]. */
  override update(x: tf.Tensor): tf.Tensor {
    if (this.r === undefined) {
      throw new KeyNotFoundError(
        `${this.describe()}: no state 'r' yet; call initAllStates(readout, { batchSize }) first`,
      );
    }
    const r = this.r.value;
    const nIn = this.inSize![this.inSize!.length - 1];
    return tf.tidy(() => {
      const t = readoutInput(this.describe(), x, nIn, r.shape.slice(0, -1));
      const rn = tf.add(tf.mul(r, this.decay), this.weight.execute(t));
      this.r.value = rn;
      return rn;
    });
  }
}

/** Options of LeakySpikeReadout. */
export interface LeakySpikeReadoutOptions extends NeuronOptions, ETraceLayerOptions {
  /** Membrane time constant τ (ms, > 0). Default 5. */
  tau?: ParamValue;
  /** Threshold V_th (mV, > 0). Default 1. */
  V_th?: ParamValue;
  /** Weight initializer for [in, out] (default KaimingNormal()). */
  wInit?: TensorInit;
  /** Initial V (mV): a number, tensor or initializer. Default 0. */
  V_initializer?: StateInit;
  name?: string;
}

/** Spiking readout neurons: IF neurons of size outSize fed with execute(x) = x @ W. */
export class LeakySpikeReadout extends IF {
  /** `{ weight: [in, out] }` bound to MatMulOp(). */
  weight: LayerParam<ReadoutParams>;

  constructor(inSize: Size, outSize: Size, options: LeakySpikeReadoutOptions = {}) {
    const { wInit, paramType, grad, ...neuron } = options;
    super(outSize, { ...neuron, R: 1 });
    this.inSize = inSize;
    this.weight = readoutWeight(this.describe(), this.inSize!, this.outSize!, wInit, {
      paramType,
      grad,
    });
  }

  /** The shape of one sample of the neurons (= outSize). */
  override get varshape(): number[] {
    return [...this.outSize!];
  }

  dispose(): void {
    disposeParam(this.weight);
  }

  /** One step: input spikes (or rates) x [batch?, ..., in] → output spikes [batch?, ..., out]. */
  override update(x: tf.Tensor): tf.Tensor {
    if (this.V === undefined) {
      throw new KeyNotFoundError(
        `${this.describe()}: no state 'V' yet; call initAllStates(readout, { batchSize }) first`,
      );
    }
    const V = this.V.value;
    const nIn = this.inSize![this.inSize!.length - 1];
    return tf.tidy(() => {
      const t = readoutInput(this.describe(), x, nIn, V.shape.slice(0, -1));
      return super.update(this.weight.execute(t));
    });
  }
}
