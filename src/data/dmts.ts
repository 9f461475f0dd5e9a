/**
 * Delayed match-to-sample, as brainscale's `001-gif-snn-for-dms.py`: a population of `nInputs`
 * Poisson neurons, tuned by von Mises curves to motion directions, sees a sample direction, a
 * delay, then a test direction; the network answers whether the test matches the sample.
 * Neuron i prefers φᵢ = 2πi/nInputs; a stimulus of direction θ = 2πd/nDirections drives it at
 * `stimulusRate · exp(κ·(cos(θ − φᵢ) − 1))` Hz (peak `stimulusRate` at its preferred direction),
 * on top of `backgroundRate` at every step. Half of the trials match (test = sample); in the
 * others the test direction is uniform among the other nDirections − 1.
 *
 *   steps:   fixation | sample | delay | test          T = fixationSteps + sampleSteps + delaySteps + testSteps
 *   label:   0 = non-match, 1 = match                  (responseWindow = the test period)
 *
 * Defaults are the reference task (2010 steps at dt = 1 ms). A shortened task:
 * `new DelayedMatchToSample({ fixationSteps: 10, sampleSteps: 50, delaySteps: 100, testSteps: 50 })`.
 */
import { tf } from '../backend/tf';
import type { Xoshiro128 } from '../random';
import { checkInteger, checkNonNegative, spikeProbability } from './checks';
import { fillBernoulli } from './spikes';
import { SequenceTask, type TaskBatch, type TaskOptions } from './task';

/** Options of DelayedMatchToSample (durations in steps, rates in Hz). */
export interface DelayedMatchToSampleOptions extends TaskOptions {
  /** Number of input neurons; default 100. */
  nInputs?: number;
  /** Number of motion directions, ≥ 2; default 8. */
  nDirections?: number;
  /** Concentration κ of the von Mises tuning; default 3. */
  kappa?: number;
  /** Peak rate of a neuron at its preferred direction, Hz; default 100. */
  stimulusRate?: number;
  /** Rate of every neuron at every step, Hz; default 1. */
  backgroundRate?: number;
  /** Steps before the sample; default 10. */
  fixationSteps?: number;
  /** Steps of the sample stimulus; default 500. */
  sampleSteps?: number;
  /** Steps between sample and test; default 1000. */
  delaySteps?: number;
  /** Steps of the test stimulus; default 500. */
  testSteps?: number;
}

/** A batch of the match-to-sample task, with the directions shown. */
export interface MatchToSampleBatch extends TaskBatch {
  /** Labels [B] (int32): 0 = non-match, 1 = match. */
  readonly y: tf.Tensor1D;
  /** Sample direction index per trial [B], on the host. */
  readonly sample: Int32Array;
  /** Test direction index per trial [B], on the host. */
  readonly test: Int32Array;
}

/** Delayed match-to-sample with direction-tuned Poisson inputs. */
export class DelayedMatchToSample extends SequenceTask<MatchToSampleBatch> {
  readonly T: number;
  readonly nIn: number;
  readonly nOut = 2;
  readonly responseWindow: readonly [number, number];
  readonly nDirections: number;
  readonly kappa: number;
  readonly fixationSteps: number;
  readonly sampleSteps: number;
  readonly delaySteps: number;
  readonly testSteps: number;
  /** Spike probability per step of the background alone. */
  private readonly pBackground: number;
  /** Spike probability per step during a stimulus, [direction · nIn + neuron]. */
  private readonly pStimulus: Float64Array;

  constructor(options: DelayedMatchToSampleOptions = {}) {
    const where = 'DelayedMatchToSample';
    super(where, options);
    this.nIn = checkInteger(where, 'nInputs', options.nInputs ?? 100);
    this.nDirections = checkInteger(where, 'nDirections', options.nDirections ?? 8, 2);
    this.kappa = checkNonNegative(where, 'kappa', options.kappa ?? 3);
    const stimulusRate = checkNonNegative(where, 'stimulusRate', options.stimulusRate ?? 100);
    const backgroundRate = checkNonNegative(where, 'backgroundRate', options.backgroundRate ?? 1);
    this.fixationSteps = checkInteger(where, 'fixationSteps', options.fixationSteps ?? 10, 0);
    this.sampleSteps = checkInteger(where, 'sampleSteps', options.sampleSteps ?? 500);
    this.delaySteps = checkInteger(where, 'delaySteps', options.delaySteps ?? 1000, 0);
    this.testSteps = checkInteger(where, 'testSteps', options.testSteps ?? 500);
    const testStart = this.fixationSteps + this.sampleSteps + this.delaySteps;
    this.T = testStart + this.testSteps;
    this.responseWindow = Object.freeze([testStart, this.T] as const);
    spikeProbability(
      where,
      'stimulusRate + backgroundRate',
      stimulusRate + backgroundRate,
      this.dt,
    );
    this.pBackground = spikeProbability(where, 'backgroundRate', backgroundRate, this.dt);
    this.pStimulus = new Float64Array(this.nDirections * this.nIn);
    for (let d = 0; d < this.nDirections; d++) {
      const theta = (2 * Math.PI * d) / this.nDirections;
      for (let i = 0; i < this.nIn; i++) {
        const phi = (2 * Math.PI * i) / this.nIn;
        const rate =
          backgroundRate + stimulusRate * Math.exp(this.kappa * (Math.cos(theta - phi) - 1));
        this.pStimulus[d * this.nIn + i] = Math.min((rate * this.dt) / 1000, 1);
      }
    }
  }

  protected generate(batchSize: number, trialGen: (b: number) => Xoshiro128): MatchToSampleBatch {
    const { T, nIn, nDirections, fixationSteps, sampleSteps, testSteps } = this;
    const x = new Float32Array(T * batchSize * nIn);
    const y = new Int32Array(batchSize);
    const sample = new Int32Array(batchSize);
    const test = new Int32Array(batchSize);
    const stride = batchSize * nIn;
    const sampleEnd = fixationSteps + sampleSteps;
    const [testStart] = this.responseWindow;
    for (let b = 0; b < batchSize; b++) {
      const gen = trialGen(b);
      const match = gen.nextBelow(2);
      const s = gen.nextBelow(nDirections);
      const t = match ? s : (s + 1 + gen.nextBelow(nDirections - 1)) % nDirections;
      y[b] = match;
      sample[b] = s;
      test[b] = t;
      for (let i = 0; i < nIn; i++) {
        const at = (step: number): number => step * stride + b * nIn + i;
        fillBernoulli(gen, this.pBackground, x, at(0), fixationSteps, stride);
        fillBernoulli(gen, this.pStimulus[s * nIn + i], x, at(fixationSteps), sampleSteps, stride);
        fillBernoulli(gen, this.pBackground, x, at(sampleEnd), testStart - sampleEnd, stride);
        fillBernoulli(gen, this.pStimulus[t * nIn + i], x, at(testStart), testSteps, stride);
      }
    }
    return {
      x: tf.tensor3d(x, [T, batchSize, nIn], 'float32'),
      y: tf.tensor1d(y, 'int32'),
      sample,
      test,
    };
  }
}
