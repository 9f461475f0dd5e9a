/**
 * AMPA and GABAa: kinetic receptor synapses driven by a transmitter pulse (spec §5.5).
 *
 *   dg/dt = α·[T]·(1 − g) − β·g,    [T] = T while t − t_arrival < T_dur, else 0,
 *
 * where t_arrival is set to the current time `environ.get('t')` (ms) wherever the presynaptic
 * spike input is true. `update(preSpike)` returns g (the open fraction, in [0, 1]).
 * Discretisation: with [T] held over the step the equation is linear, so each step is exact:
 * g ← g∞ + (g − g∞)·exp(−(αT + β)·dt) while the transmitter is present (g∞ = αT/(αT + β)) and
 * g ← g·exp(−β·dt) otherwise (the factors are computed once per dt). The transmitter is present
 * for round(T_dur/dt) steps (at least one) starting with the spike's step: the comparison is
 * made at half a step from T_dur, so float32 rounding of t never adds or drops a step.
 * Delta inputs are added to g after the step. Note: t is read as a number when the step runs.
 */
import { tf } from '../../backend/tf';
import * as environ from '../../environ';
import { ArgumentError, KeyNotFoundError } from '../../errors';
import type { InitStateOptions, Size } from '../../graph';
import { ZeroInit } from '../../init';
import { ShortTermState, type HiddenState } from '../../state';
import {
  Synapse,
  finiteNumber,
  initialValue,
  positive,
  type StateInit,
  type SynapseInput,
} from './synapse';

export interface AMPAOptions {
  /** Binding rate α (1/(ms·mM)), ≥ 0. AMPA default 0.98, GABAa 0.53. */
  alpha?: number;
  /** Unbinding rate β (1/ms), > 0. Default 0.18. */
  beta?: number;
  /** Transmitter concentration T during a pulse (mM), ≥ 0. AMPA default 0.5, GABAa 1. */
  T?: number;
  /** Pulse duration T_dur (ms), > 0. AMPA default 0.5, GABAa 1. */
  T_dur?: number;
  /** Initial g. Default `ZeroInit()`. */
  gInitializer?: StateInit;
  name?: string;
}

/** Time of the last spike arrival before any spike (ms): far in the past. */
const NEVER = -1e7;

/** AMPA receptor kinetics; output g. */
export class AMPA extends Synapse {
  /** The defaults of this receptor type. */
  static readonly defaults: Required<Pick<AMPAOptions, 'alpha' | 'beta' | 'T' | 'T_dur'>> = {
    alpha: 0.98,
    beta: 0.18,
    T: 0.5,
    T_dur: 0.5,
  };

  readonly alpha: number;
  readonly beta: number;
  readonly T: number;
  readonly T_dur: number;
  readonly gInitializer: StateInit;
  /** Open fraction. */
  g!: HiddenState;
  /** Time of the last presynaptic spike (ms), per synapse. */
  spikeArrival!: ShortTermState;
  #dt = Number.NaN;
  #factors = { off: 1, on: 1, onInf: 0 };

  constructor(size: Size, options: AMPAOptions = {}) {
    super(size, options.name);
    const where = this.describe();
    const d = (new.target as typeof AMPA).defaults;
    this.alpha = nonNegative(options.alpha ?? d.alpha, 'alpha', where);
    this.beta = positive(options.beta ?? d.beta, 'beta', where, '1/ms');
    this.T = nonNegative(options.T ?? d.T, 'T', where);
    this.T_dur = positive(options.T_dur ?? d.T_dur, 'T_dur', where);
    this.gInitializer = options.gInitializer ?? ZeroInit();
  }

  override initState(options: InitStateOptions = {}): void {
    this.g = this.makeHidden(this.g, this.gInitializer, options.batchSize, 'g');
    const arrival = tf.fill(this.stateShape(options.batchSize), NEVER);
    if (this.spikeArrival instanceof ShortTermState) this.spikeArrival.reinitialize(arrival);
    else this.spikeArrival = new ShortTermState(arrival, { name: 'spikeArrival' });
  }

  override resetState(options: InitStateOptions = {}): void {
    this.resetHidden(this.g, this.gInitializer, options.batchSize, 'g');
    this.spikeArrival?.reinitialize(
      initialValue(NEVER, this.stateShape(options.batchSize), options.batchSize, 'spikeArrival'),
    );
  }

  /** One step given the presynaptic spikes (boolean or 0/1, `[batch?, ...varshape]`); returns g. */
  override update(preSpike?: SynapseInput): tf.Tensor {
    const g = this.need(this.g, 'g');
    if (preSpike === undefined) {
      throw new ArgumentError(
        `${this.describe()}.update(preSpike): the presynaptic spikes are required`,
      );
    }
    if (!environ.has(environ.T)) {
      throw new KeyNotFoundError(
        `${this.describe()}: needs the current time environ 't' (ms) for the transmitter pulse; a Runner sets it, or run the step in environ.context({ t }, fn)`,
      );
    }
    const dt = environ.getDt();
    const f = this.factors(dt);
    const window = Math.max(this.T_dur - dt / 2, dt / 2);
    const [arrival, gNew] = tf.tidy(() => {
      const spike =
        typeof preSpike === 'number'
          ? tf.scalar(preSpike > 0)
          : preSpike.dtype === 'bool'
            ? preSpike
            : tf.greater(preSpike, 0);
      // the time as a program input: a jitted step replays and runs in blocks
      const t = environ.scalar(environ.T);
      const arrival = tf.where(spike, t, this.spikeArrival.value);
      const on = tf.cast(tf.less(tf.sub(t, arrival), window), 'float32');
      // g·(off + on·(on − off)) + on·g∞(1 − e_on): one expression for both regimes
      const decay = tf.add(tf.mul(on, f.on - f.off), f.off);
      const next = tf.add(tf.mul(g.value, decay), tf.mul(on, f.onInf));
      return [arrival, this.sumDeltaInputs(next)];
    });
    this.spikeArrival.value = arrival;
    g.value = gNew;
    return g.value;
  }

  /** exp(−β dt), exp(−(αT + β) dt) and g∞·(1 − exp(−(αT + β) dt)), recomputed when dt changes. */
  private factors(dt: number): { off: number; on: number; onInf: number } {
    if (dt !== this.#dt) {
      const rate = this.alpha * this.T + this.beta;
      const on = Math.exp(-rate * dt);
      this.#factors = {
        off: Math.exp(-this.beta * dt),
        on,
        onInf: ((this.alpha * this.T) / rate) * (1 - on),
      };
      this.#dt = dt;
    }
    return this.#factors;
  }
}

/** GABAa receptor kinetics: AMPA's model with α = 0.53/(ms·mM), β = 0.18/ms, T = 1 mM, T_dur = 1 ms. */
export class GABAa extends AMPA {
  static override readonly defaults = { alpha: 0.53, beta: 0.18, T: 1, T_dur: 1 };
}

function nonNegative(value: unknown, what: string, where: string): number {
  const v = finiteNumber(value, what, where);
  if (v < 0) throw new ArgumentError(`${where}: ${what} must be ≥ 0, got ${v}`);
  return v;
}
