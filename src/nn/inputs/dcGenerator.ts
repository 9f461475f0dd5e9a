/**
 * DCGenerator: a constant current switched on for a time window (seed 001's `DCGenerator(size,
 * amplitude, start, stop)`). `update()` returns `amplitude` while start ≤ t < stop and 0 otherwise,
 * with t = environ `t` in ms (the Runner sets it every step). The window edges compare with a
 * tolerance of 1e-6·dt, so t = i·dt computed in floating point switches on the intended step.
 *
 *   const dc = new DCGenerator(100, { amplitude: 50, start: 0.5, stop: 1.5 });  // on for 1 ms
 */
import { tf } from '../../backend/tf';
import * as environ from '../../environ';
import { ArgumentError, describeValue } from '../../errors';
import type { Size } from '../../graph';
import { Dynamics } from '../dynamics';

/** Options of DCGenerator. */
export interface DCGeneratorOptions {
  /** The current while on: a number or one value per neuron (e.g. pA or mV/ms, the target's unit). */
  amplitude: number | readonly number[] | tf.Tensor;
  /** Start time in ms (default 0). */
  start?: number;
  /** Stop time in ms, exclusive (default: never). */
  stop?: number;
  name?: string;
}

/** A constant current between `start` and `stop` (ms), zero outside. */
export class DCGenerator extends Dynamics {
  /** The amplitude broadcast to varshape (float32). */
  readonly amplitude: tf.Tensor;
  readonly start: number;
  readonly stop: number;

  constructor(size: Size, options: DCGeneratorOptions) {
    super(size, options?.name);
    const who = this.describe();
    if (options === null || typeof options !== 'object' || options.amplitude === undefined) {
      throw new ArgumentError(`${who}: expected options { amplitude, start?, stop? }`);
    }
    const { amplitude, start = 0, stop = Infinity } = options;
    if (typeof start !== 'number' || !Number.isFinite(start)) {
      throw new ArgumentError(
        `${who}: start must be a finite number of ms, got ${describeValue(start)}`,
      );
    }
    if (typeof stop !== 'number' || Number.isNaN(stop)) {
      throw new ArgumentError(`${who}: stop must be a number of ms, got ${describeValue(stop)}`);
    }
    if (stop < start) {
      throw new ArgumentError(`${who}: stop (${stop} ms) must not be before start (${start} ms)`);
    }
    const amp =
      amplitude instanceof tf.Tensor
        ? tf.cast(amplitude, 'float32')
        : tf.tensor(amplitude as number | number[], undefined, 'float32');
    if (!amp.dataSync().every(Number.isFinite)) {
      amp.dispose();
      throw new ArgumentError(`${who}: amplitude must be finite, got ${describeValue(amplitude)}`);
    }
    this.amplitude = tf.keep(tf.tidy(() => tf.broadcastTo(amp, this.varshape)));
    if (amp !== this.amplitude) amp.dispose();
    this.start = start;
    this.stop = stop;
  }

  /** True if the generator is on at time `t` (ms) with time step `dt` (ms). */
  isOn(t: number, dt: number = environ.getDt()): boolean {
    const tol = 1e-6 * dt;
    return t > this.start - tol && t < this.stop - tol;
  }

  /**
   * The window as thresholds on t halfway between grid times i·dt: on iff lo < t < hi. On the
   * grid this is exactly `isOn`, and the half-step margins keep float32 rounding of t away from
   * the edges, so the time can be a program input (`environ.scalar('t')`: a jitted step replays
   * and runs in blocks).
   */
  window(dt: number = environ.getDt()): [number, number] {
    const tol = 1e-6 * dt;
    const firstOn = firstStep(dt, this.start - tol, (k) => k * dt > this.start - tol);
    if (!Number.isFinite(this.stop)) return [(firstOn - 0.5) * dt, Infinity];
    const firstOff = firstStep(dt, this.stop - tol, (k) => k * dt >= this.stop - tol);
    return [(firstOn - 0.5) * dt, (firstOff - 0.5) * dt];
  }

  /** The current at the environment's time `t`: amplitude or zeros, shape varshape. */
  override update(): tf.Tensor {
    const [lo, hi] = this.window();
    return tf.tidy(() => {
      const t = environ.scalar(environ.T);
      const on = tf.logicalAnd(tf.greater(t, lo), tf.less(t, hi));
      return tf.where(
        tf.broadcastTo(on, this.amplitude.shape),
        this.amplitude,
        tf.zerosLike(this.amplitude),
      );
    });
  }
}

/** The smallest integer k with pred(k), pred monotone in k and switching near k·dt = x. */
function firstStep(dt: number, x: number, pred: (k: number) => boolean): number {
  let k = Math.floor(x / dt) - 1;
  while (pred(k)) k--;
  while (!pred(k)) k++;
  return k;
}
