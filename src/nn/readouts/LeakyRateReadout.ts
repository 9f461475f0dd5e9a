/**
 * LeakyRateReadout (spec §5.8): a leaky integrator of weighted input, the usual readout of a
 * spiking network trained with BPTT or eligibility traces:
 *
 *     r ← decay·r + x @ W,   decay = exp(−dt/τ)
 *
 * `decay` is computed at construction from `environ` dt (so dt must be set then, and later dt
 * changes do not affect it). W [in, out] is one ParamState `weight` (no bias); r is a HiddenState
 * [batch?, ...outSize]. For a constant input r converges to (x @ W)/(1 − decay). `update` returns
 * the new r itself, owned by the state: do not dispose it.
 */
import { tf } from '../../backend/tf';
import * as environ from '../../environ';
import { ArgumentError, KeyNotFoundError } from '../../errors';
import type { InitStateOptions, Size } from '../../graph';
import { KaimingNormal, ZeroInit } from '../../init';
import { ParamState, type HiddenState } from '../../state';
import { paramTensor, type TensorInit } from '../comm/paramTensor';
import { Dynamics } from '../dynamics';
import { hiddenState, initialValue } from '../rnn/cell';
import { projectInput } from './project';

/** Options of LeakyRateReadout. */
export interface LeakyRateReadoutOptions {
  /** Time constant τ (ms, > 0). Default 5. */
  tau?: number;
  /** Weight initializer for [in, out] (default KaimingNormal()). */
  wInit?: TensorInit;
  /** Initial r: a number, tensor, initializer or function (default ZeroInit()). */
  rInit?: TensorInit;
  name?: string;
}

/** The time step (ms) from environ, with a message saying why it is needed now. */
export function dtAtConstruction(owner: string): number {
  try {
    return environ.getDt();
  } catch (e) {
    throw new KeyNotFoundError(
      `${owner}: the decay exp(−dt/τ) is computed at construction, so dt must be set first ` +
        `(environ.set({ dt: 1 })): ${(e as Error).message}`,
    );
  }
}

/** A leaky rate readout r ← exp(−dt/τ)·r + x @ W. */
export class LeakyRateReadout extends Dynamics {
  /** Time constant τ (ms). */
  readonly tau: number;
  /** exp(−dt/τ), fixed at construction. */
  readonly decay: number;
  readonly rInit: TensorInit;
  /** The weight [in, out]. */
  weight: ParamState;
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
    const nIn = this.inSize![this.inSize!.length - 1];
    const nOut = this.outSize![this.outSize!.length - 1];
    this.weight = new ParamState(
      paramTensor(options.wInit ?? KaimingNormal(), [nIn, nOut], `${owner}: wInit`),
    );
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

  /** One step: x [batch?, ..., in] → r [batch?, ..., out]. */
  override update(x: tf.Tensor): tf.Tensor {
    if (this.r === undefined) {
      throw new KeyNotFoundError(
        `${this.describe()}: no state 'r' yet; call initAllStates(readout, { batchSize }) first`,
      );
    }
    const r = this.r.value;
    const W = this.weight.value;
    return tf.tidy(() => {
      const y = projectInput(this.describe(), x, W, r.shape.slice(0, -1));
      const rn = tf.add(tf.mul(r, this.decay), y);
      this.r.value = rn;
      return rn;
    });
  }
}
