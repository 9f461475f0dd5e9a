/**
 * The evidence-accumulation (cue) task of Bellec et al. 2020 (e-prop), as in brainscale's
 * `002-coba-ei-rsnn.py`. Each trial shows `nCues` cues, one after another: a silent gap, then
 * the left or the right population fires at `cueRate` for `cueSteps`. After a delay, the recall
 * population fires for `recallSteps`, and the network must answer the side that got more cues.
 * A noise population fires at `noiseRate` throughout. One side is the trial's majority side
 * (left or right with probability ½); each cue is on the other side with `minorityCueProb`.
 *
 *   steps:   [gap cue] × nCues | delay | recall          T = nCues·(gapSteps + cueSteps) + delaySteps + recallSteps
 *   inputs:  left | right | recall | noise                nIn = 2·cuePopulation + recallPopulation + noisePopulation
 *   label:   0 = left, 1 = right (the side with more cues; nCues is odd, so there are no ties)
 *
 * Defaults are the reference task (2200 steps at dt = 1 ms). A shortened task for quick training:
 * `new EvidenceAccumulation({ cueSteps: 10, gapSteps: 5, delaySteps: 50, recallSteps: 20 })`
 * (T = 175 steps, 7 cues).
 */
import { tf } from '../backend/tf';
import { ArgumentError } from '../errors';
import type { Xoshiro128 } from '../random';
import { checkInteger, checkNonNegative, checkProbability, spikeProbability } from './checks';
import { fillBernoulli } from './spikes';
import { SequenceTask, type TaskBatch, type TaskOptions } from './task';

/** Options of EvidenceAccumulation (durations in steps, rates in Hz). */
export interface EvidenceAccumulationOptions extends TaskOptions {
  /** Number of cues per trial, odd; default 7. */
  nCues?: number;
  /** Steps of one cue; default 100. */
  cueSteps?: number;
  /** Silent steps before each cue; default 50. */
  gapSteps?: number;
  /** Steps between the last cue and the recall period; default 1000. */
  delaySteps?: number;
  /** Steps of the recall period; default 150. */
  recallSteps?: number;
  /** Neurons of each cue population (left and right); default 25. */
  cuePopulation?: number;
  /** Neurons of the recall population; default 25. */
  recallPopulation?: number;
  /** Neurons of the noise population; default 25. */
  noisePopulation?: number;
  /** Rate of the active cue population, Hz; default 40. */
  cueRate?: number;
  /** Rate of the recall population during recall, Hz; default 40. */
  recallRate?: number;
  /** Rate of the noise population, Hz; default 10. */
  noiseRate?: number;
  /** Probability that a cue is on the trial's minority side; default 0.3. */
  minorityCueProb?: number;
}

/** A batch of the evidence task, with the cue sides that made it. */
export interface EvidenceBatch extends TaskBatch {
  /** Labels [B] (int32): 0 = left, 1 = right. */
  readonly y: tf.Tensor1D;
  /** Cue sides, row-major [B, nCues] (0 = left, 1 = right), on the host. */
  readonly cues: Int32Array;
}

/** The cue task: count left and right cues, answer the majority side after a delay. */
export class EvidenceAccumulation extends SequenceTask<EvidenceBatch> {
  readonly T: number;
  readonly nIn: number;
  readonly nOut = 2;
  readonly responseWindow: readonly [number, number];
  readonly nCues: number;
  readonly cueSteps: number;
  readonly gapSteps: number;
  readonly delaySteps: number;
  readonly recallSteps: number;
  readonly cuePopulation: number;
  readonly recallPopulation: number;
  readonly noisePopulation: number;
  readonly minorityCueProb: number;
  /** Spike probabilities per step of the cue, recall and noise populations. */
  private readonly pCue: number;
  private readonly pRecall: number;
  private readonly pNoise: number;

  constructor(options: EvidenceAccumulationOptions = {}) {
    const where = 'EvidenceAccumulation';
    super(where, options);
    this.nCues = checkInteger(where, 'nCues', options.nCues ?? 7);
    if (this.nCues % 2 === 0) {
      throw new ArgumentError(
        `${where}: nCues must be odd so that one side always has more cues, got ${this.nCues}`,
      );
    }
    this.cueSteps = checkInteger(where, 'cueSteps', options.cueSteps ?? 100);
    this.gapSteps = checkInteger(where, 'gapSteps', options.gapSteps ?? 50, 0);
    this.delaySteps = checkInteger(where, 'delaySteps', options.delaySteps ?? 1000, 0);
    this.recallSteps = checkInteger(where, 'recallSteps', options.recallSteps ?? 150);
    this.cuePopulation = checkInteger(where, 'cuePopulation', options.cuePopulation ?? 25);
    this.recallPopulation = checkInteger(where, 'recallPopulation', options.recallPopulation ?? 25);
    this.noisePopulation = checkInteger(where, 'noisePopulation', options.noisePopulation ?? 25, 0);
    const rate = (name: string, v: number): number =>
      spikeProbability(where, name, checkNonNegative(where, name, v), this.dt);
    this.pCue = rate('cueRate', options.cueRate ?? 40);
    this.pRecall = rate('recallRate', options.recallRate ?? 40);
    this.pNoise = rate('noiseRate', options.noiseRate ?? 10);
    this.minorityCueProb = checkProbability(
      where,
      'minorityCueProb',
      options.minorityCueProb ?? 0.3,
    );
    const recallStart = this.nCues * (this.gapSteps + this.cueSteps) + this.delaySteps;
    this.T = recallStart + this.recallSteps;
    this.responseWindow = Object.freeze([recallStart, this.T] as const);
    this.nIn = 2 * this.cuePopulation + this.recallPopulation + this.noisePopulation;
  }

  /** First step of cue k (after its gap). */
  cueStart(k: number): number {
    return k * (this.gapSteps + this.cueSteps) + this.gapSteps;
  }

  protected generate(batchSize: number, trialGen: (b: number) => Xoshiro128): EvidenceBatch {
    const { T, nIn, nCues, cueSteps, cuePopulation: nCue } = this;
    const x = new Float32Array(T * batchSize * nIn);
    const y = new Int32Array(batchSize);
    const cues = new Int32Array(batchSize * nCues);
    const stride = batchSize * nIn; // one time step
    const recallFirst = 2 * nCue;
    const noiseFirst = recallFirst + this.recallPopulation;
    const [recallStart] = this.responseWindow;
    for (let b = 0; b < batchSize; b++) {
      const gen = trialGen(b);
      const majority = gen.nextBelow(2);
      let rightCount = 0;
      for (let k = 0; k < nCues; k++) {
        const side = gen.nextFloat64() < this.minorityCueProb ? 1 - majority : majority;
        cues[b * nCues + k] = side;
        rightCount += side;
      }
      y[b] = 2 * rightCount > nCues ? 1 : 0;
      const at = (t: number, i: number): number => t * stride + b * nIn + i;
      for (let k = 0; k < nCues; k++) {
        const first = cues[b * nCues + k] * nCue;
        const t0 = this.cueStart(k);
        for (let i = first; i < first + nCue; i++) {
          fillBernoulli(gen, this.pCue, x, at(t0, i), cueSteps, stride);
        }
      }
      for (let i = recallFirst; i < noiseFirst; i++) {
        fillBernoulli(gen, this.pRecall, x, at(recallStart, i), this.recallSteps, stride);
      }
      for (let i = noiseFirst; i < nIn; i++)
        fillBernoulli(gen, this.pNoise, x, at(0, i), T, stride);
    }
    return {
      x: tf.tensor3d(x, [T, batchSize, nIn], 'float32'),
      y: tf.tensor1d(y, 'int32'),
      cues,
    };
  }
}
