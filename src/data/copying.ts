/**
 * The copying memory task (Hochreiter & Schmidhuber 1997; Arjovsky et al. 2016), as brainscale's
 * `100-gru-on-copying-task.py`: a sequence of `copyLength` random symbols from 1 … nSymbols,
 * `delaySteps` blanks, then `copyLength` response steps during which the cue symbol is shown
 * and the network must output the symbols in order. Inputs are one-hot over the alphabet
 * `0 = blank, 1 … nSymbols = data, nSymbols + 1 = cue` (nIn = nOut = nSymbols + 2).
 *
 *   steps:    data (copyLength) | blanks (delaySteps) | response (copyLength)     T = 2·copyLength + delaySteps
 *   y:        int32 [copyLength, B], the symbols to reproduce (time-major)
 *   targets:  int32 [T, B], blank (0) except the response steps, which hold y — for per-step losses
 *
 * `cue: 'hold'` (default, as brainscale) shows the cue at every response step; `cue: 'once'`
 * shows it at the first response step only (blanks after), as in Arjovsky et al.
 */
import { tf } from '../backend/tf';
import { ArgumentError, describeValue } from '../errors';
import type { Xoshiro128 } from '../random';
import { checkInteger } from './checks';
import { SequenceTask, type TaskBatch, type TaskOptions } from './task';

/** Options of CopyingTask (durations in steps). */
export interface CopyingTaskOptions extends Omit<TaskOptions, 'dt'> {
  /** Number of symbols to remember; default 10. */
  copyLength?: number;
  /** Blank steps between the data and the response; default 200. */
  delaySteps?: number;
  /** Number of data symbols; default 8. */
  nSymbols?: number;
  /** 'hold': cue at every response step (default); 'once': at the first one only. */
  cue?: 'hold' | 'once';
}

/** A batch of the copying task. */
export interface CopyingBatch extends TaskBatch {
  /** The symbols to reproduce, [copyLength, B] (int32, time-major: y[k, b] is the k-th symbol). */
  readonly y: tf.Tensor2D;
  /** Per-step targets [T, B] (int32): 0 (blank) except in the response window, where they equal y. */
  readonly targets: tf.Tensor2D;
}

/** Remember a short symbol sequence over a delay and reproduce it on cue. */
export class CopyingTask extends SequenceTask<CopyingBatch> {
  readonly T: number;
  readonly nIn: number;
  readonly nOut: number;
  readonly responseWindow: readonly [number, number];
  readonly copyLength: number;
  readonly delaySteps: number;
  readonly nSymbols: number;
  readonly cue: 'hold' | 'once';
  /** Index of the blank symbol (0) and of the cue symbol (nSymbols + 1). */
  readonly blank = 0;
  readonly cueSymbol: number;

  constructor(options: CopyingTaskOptions = {}) {
    const where = 'CopyingTask';
    super(where, { seed: options.seed });
    this.copyLength = checkInteger(where, 'copyLength', options.copyLength ?? 10);
    this.delaySteps = checkInteger(where, 'delaySteps', options.delaySteps ?? 200, 0);
    this.nSymbols = checkInteger(where, 'nSymbols', options.nSymbols ?? 8, 2);
    const cue = options.cue ?? 'hold';
    if (cue !== 'hold' && cue !== 'once') {
      throw new ArgumentError(`${where}: cue must be 'hold' or 'once', got ${describeValue(cue)}`);
    }
    this.cue = cue;
    this.cueSymbol = this.nSymbols + 1;
    this.nIn = this.nOut = this.nSymbols + 2;
    this.T = 2 * this.copyLength + this.delaySteps;
    this.responseWindow = Object.freeze([this.T - this.copyLength, this.T] as const);
  }

  protected generate(batchSize: number, trialGen: (b: number) => Xoshiro128): CopyingBatch {
    const { T, nIn, copyLength: L } = this;
    const [responseStart] = this.responseWindow;
    const x = new Float32Array(T * batchSize * nIn);
    const y = new Int32Array(L * batchSize);
    const targets = new Int32Array(T * batchSize);
    for (let b = 0; b < batchSize; b++) {
      const gen = trialGen(b);
      const symbolAt = (t: number): number => {
        if (t < L) return y[t * batchSize + b];
        if (t < responseStart) return this.blank;
        return this.cue === 'hold' || t === responseStart ? this.cueSymbol : this.blank;
      };
      for (let k = 0; k < L; k++) {
        const symbol = 1 + gen.nextBelow(this.nSymbols);
        y[k * batchSize + b] = symbol;
        targets[(responseStart + k) * batchSize + b] = symbol;
      }
      for (let t = 0; t < T; t++) x[(t * batchSize + b) * nIn + symbolAt(t)] = 1;
    }
    return {
      x: tf.tensor3d(x, [T, batchSize, nIn], 'float32'),
      y: tf.tensor2d(y, [L, batchSize], 'int32'),
      targets: tf.tensor2d(targets, [T, batchSize], 'int32'),
    };
  }
}
