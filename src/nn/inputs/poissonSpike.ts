/**
 * Poisson spike generators (spec §5.12). `PoissonSpike(inSize, freqs)` emits, every step, a spike
 * where a uniform draw U ∈ [0, 1) is below `freqs·dt/1000` (freqs in Hz, dt in ms), so each
 * neuron spikes with probability freq·dt per step; `PoissonEncoder(inSize)` does the same with
 * the frequencies given per call (rate coding of an input). Draws use the default seeded
 * RandomState, so `random.seed(n)` makes a run reproducible.
 *
 *   const noise = new PoissonSpike(100, 20);            // 100 neurons at 20 Hz
 *   const s = noise.call();                             // float32 0/1 [100]; also noise.spike.value
 */
import { tf } from '../../backend/tf';
import * as environ from '../../environ';
import type { InitStateOptions, Size } from '../../graph';
import { broadcastShapes, uniform } from '../../random';
import { ShortTermState } from '../../state';
import { Dynamics } from '../dynamics';
import {
  checkRatePerStep,
  checkRates,
  checkSpikeType,
  rateTensor,
  type Rate,
  type SpikeType,
} from './checks';

/** Options of PoissonSpike and PoissonEncoder. */
export interface PoissonOptions {
  /** dtype of the spikes: 'float32' 0/1 (default, ready for matMul and projections) or 'bool'. */
  spkType?: SpikeType;
  name?: string;
}

/** `uniform [0,1) < freqs·dt/1000` as the requested dtype (spikes with probability freq·dt). */
function drawSpikes(shape: number[], freqs: tf.Tensor | number, dt: number, spkType: SpikeType) {
  return tf.tidy(() => {
    const p = tf.mul(freqs, dt / 1000);
    const s = tf.less(uniform(0, 1, shape), p);
    return spkType === 'bool' ? s : tf.cast(s, 'float32');
  });
}

/**
 * Independent Poisson spike trains with fixed rates `freqs` (Hz; a number or one per neuron).
 * The spikes of the last step are kept in the `spike` state (monitor path `'<name>.spike'`).
 */
export class PoissonSpike extends Dynamics {
  /** The rates in Hz, broadcast to varshape. */
  readonly freqs: tf.Tensor;
  readonly spkType: SpikeType;
  /** The spikes of the last step, [batch?, ...varshape]. */
  spike: ShortTermState;
  private readonly maxFreq: number;

  constructor(inSize: Size, freqs: Rate, options: PoissonOptions = {}) {
    super(inSize, options.name);
    const who = this.describe();
    this.spkType = checkSpikeType(who, options.spkType);
    this.maxFreq = checkRates(who, 'freqs', freqs);
    this.freqs = tf.keep(tf.tidy(() => tf.broadcastTo(rateTensor(freqs), this.varshape)));
    this.spike = this.zeroSpikes();
  }

  private zeroSpikes(batchSize?: number): ShortTermState {
    return new ShortTermState(tf.zeros(this.stateShape(batchSize), this.spkType), {
      name: 'spike',
    });
  }

  /** Zero spikes of shape [batch?, ...varshape] (the same State object, given a new value). */
  override initState(options: InitStateOptions = {}): void {
    this.spike.reinitialize(tf.zeros(this.stateShape(options.batchSize), this.spkType));
  }

  override resetState(options: InitStateOptions = {}): void {
    this.initState(options);
  }

  /** Draw this step's spikes (shape of the `spike` state) and return them. */
  override update(): tf.Tensor {
    const dt = environ.getDt();
    checkRatePerStep(this.describe(), 'freqs', this.maxFreq, dt);
    this.spike.value = drawSpikes(this.spike.shape, this.freqs, dt, this.spkType);
    return this.spike.value;
  }
}

/**
 * Rate coding: `update(freqs)` draws one step of Poisson spikes at the given rates (Hz, a number
 * or a tensor broadcastable to [batch?, ...varshape]). Stateless: it returns a new tensor.
 */
export class PoissonEncoder extends Dynamics {
  readonly spkType: SpikeType;

  constructor(inSize: Size, options: PoissonOptions = {}) {
    super(inSize, options.name);
    this.spkType = checkSpikeType(this.describe(), options.spkType);
  }

  /**
   * Spikes for rates `freqs` (Hz). A number (or array) is checked on the host (≥ 0, freq·dt ≤ 1);
   * a tensor is used as is (reading it back every step would stall the device).
   */
  override update(freqs: Rate): tf.Tensor {
    const dt = environ.getDt();
    const who = this.describe();
    if (!(freqs instanceof tf.Tensor))
      checkRatePerStep(who, 'freqs', checkRates(who, 'freqs', freqs), dt);
    return tf.tidy(() => {
      const f = rateTensor(freqs);
      return drawSpikes(broadcastShapes(f.shape, this.varshape, who), f, dt, this.spkType);
    });
  }
}
