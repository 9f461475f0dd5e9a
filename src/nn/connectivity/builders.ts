/**
 * The connectivity rules of brain-dynamics models (issue 4 item 5; BrainPy/NeurAI naming):
 * - `FixedProb(prob)`: every pair i → j is connected independently with probability `prob`
 *   (Erdős–Rényi, as Brian2's `connect(p=…)`; the fan-out is Binomial(nPost, prob), not the fixed
 *   `int(nPost·prob)` of brainstate's ELL layer). Drawn by geometric skipping: O(nnz) work, so
 *   4000 × 4000 at p = 0.02 takes a few milliseconds.
 * - `One2One()`: i → i (nPre must equal nPost).
 * - `All2All()`: every pair.
 * - `FixedTotalNum(num)`: exactly `num` synapses in the whole matrix (seed 001's
 *   `FixedTotalNum(80, multi_conn=False)`), distinct pairs unless `allowMultiConn`.
 * - `FixedPreNum(num)`: each postsynaptic neuron receives `num` presynaptic neurons.
 * - `FixedPostNum(num)`: each presynaptic neuron projects to `num` postsynaptic neurons.
 * All take `allowSelf` (default true) and the random ones a `seed`. The classes can be called
 * with or without `new`: `FixedProb(0.02, { seed: 1 }).build(4000, 4000)`.
 */
import { ArgumentError } from '../../errors';
import { callableClass } from '../../init';
import type { Xoshiro128 } from '../../random';
import {
  Connector,
  RowBuilder,
  checkCount,
  checkFlag,
  checkProbability,
  sampleDistinctSorted,
  sampleWithReplacementSorted,
  type ConnectorOptions,
} from './Connector';
import { CSR } from './CSR';

/** Options of the rules that may exclude i → i. */
export interface SelfOptions {
  /** Keep the pairs i → i (default true). */
  allowSelf?: boolean;
}

/** Options of the fixed-number rules. */
export interface FixedNumOptions extends ConnectorOptions, SelfOptions {
  /** Allow the same pair to be drawn more than once (default false). Repeated synapses add. */
  allowMultiConn?: boolean;
}

/** Options of FixedProb. */
export type FixedProbOptions = ConnectorOptions & SelfOptions;

/** Map candidate r of row i to a post index, skipping the diagonal when i is excluded. */
function skipSelf(r: number, excluded: number): number {
  return excluded >= 0 && r >= excluded ? r + 1 : r;
}

/** The excluded post index of row i (-1 if none): i itself when self-connections are removed. */
function selfOf(i: number, nOther: number, allowSelf: boolean): number {
  return !allowSelf && i < nOther ? i : -1;
}

class FixedProbImpl extends Connector {
  readonly kind = 'FixedProb';
  readonly prob: number;
  readonly allowSelf: boolean;

  constructor(prob: number, options: FixedProbOptions = {}) {
    super(options);
    this.prob = checkProbability(prob, 'prob', 'FixedProb');
    this.allowSelf = checkFlag(options.allowSelf ?? true, 'allowSelf', 'FixedProb');
  }

  protected generate(nPre: number, nPost: number): CSR {
    const p = this.prob;
    const rows = new RowBuilder(nPre, nPost, nPre * nPost * p * 1.05 + 4 * Math.sqrt(nPre * nPost));
    const gen = this.rng();
    // Gaps between successes of Bernoulli(p) trials are Geometric(p): skip them directly.
    const logQ = Math.log1p(-p);
    for (let i = 0; i < nPre; i++) {
      const excluded = selfOf(i, nPost, this.allowSelf);
      const m = excluded >= 0 ? nPost - 1 : nPost;
      if (p === 1) {
        for (let r = 0; r < m; r++) rows.push(skipSelf(r, excluded));
      } else if (p > 0) {
        for (let r = -1; ;) {
          r += 1 + Math.floor(Math.log(gen.nextOpenFloat64()) / logQ);
          if (r >= m) break;
          rows.push(skipSelf(r, excluded));
        }
      }
      rows.endRow();
    }
    return rows.finish();
  }

  protected settings(): Record<string, unknown> {
    return { prob: this.prob, allowSelf: this.allowSelf };
  }
}

class One2OneImpl extends Connector {
  readonly kind = 'One2One';

  protected generate(nPre: number, nPost: number): CSR {
    if (nPre !== nPost) {
      throw new ArgumentError(`One2One: needs nPre === nPost, got nPre=${nPre} and nPost=${nPost}`);
    }
    const indptr = Int32Array.from({ length: nPre + 1 }, (_, i) => i);
    const indices = Int32Array.from({ length: nPre }, (_, i) => i);
    return new CSR(nPre, nPost, indptr, indices);
  }

  protected settings(): Record<string, unknown> {
    return {};
  }
}

class All2AllImpl extends Connector {
  readonly kind = 'All2All';
  readonly allowSelf: boolean;

  constructor(options: SelfOptions = {}) {
    super();
    this.allowSelf = checkFlag(options.allowSelf ?? true, 'allowSelf', 'All2All');
  }

  protected generate(nPre: number, nPost: number): CSR {
    const rows = new RowBuilder(nPre, nPost, nPre * nPost);
    for (let i = 0; i < nPre; i++) {
      const excluded = selfOf(i, nPost, this.allowSelf);
      for (let j = 0; j < nPost; j++) if (j !== excluded) rows.push(j);
      rows.endRow();
    }
    return rows.finish();
  }

  protected settings(): Record<string, unknown> {
    return { allowSelf: this.allowSelf };
  }
}

/** Common part of the three fixed-number rules. */
abstract class FixedNumConnector extends Connector {
  readonly num: number;
  readonly allowSelf: boolean;
  readonly allowMultiConn: boolean;

  constructor(kind: string, num: number, options: FixedNumOptions) {
    super(options);
    this.num = checkCount(num, 'num', kind);
    this.allowSelf = checkFlag(options.allowSelf ?? true, 'allowSelf', kind);
    this.allowMultiConn = checkFlag(options.allowMultiConn ?? false, 'allowMultiConn', kind);
  }

  /** Check that `num` draws fit in `possible` candidates (always true with multi-connections). */
  protected checkPossible(possible: number, what: string): void {
    const tooMany = this.allowMultiConn ? this.num > 0 && possible === 0 : this.num > possible;
    if (tooMany) {
      throw new ArgumentError(
        `${this.kind}: num=${this.num} is larger than the ${possible} possible ${what}` +
          (this.allowMultiConn ? '' : '; lower num or pass allowMultiConn: true'),
      );
    }
  }

  /**
   * `num` targets for each of `nRows` rows among `nOther` candidates (minus the diagonal), as
   * sorted rows of a [nRows, nOther] CSR.
   */
  protected drawRows(nRows: number, nOther: number, what: string): CSR {
    const k = this.num;
    // Rows that lose their diagonal have one candidate fewer.
    if (nRows > 0)
      this.checkPossible(nOther - (selfOf(0, nOther, this.allowSelf) >= 0 ? 1 : 0), what);
    const gen = this.rng();
    const indptr = Int32Array.from({ length: nRows + 1 }, (_, i) => i * k);
    const indices = new Int32Array(nRows * k);
    const marks = new Uint8Array(nOther);
    for (let i = 0; i < nRows; i++) {
      const excluded = selfOf(i, nOther, this.allowSelf);
      const m = excluded >= 0 ? nOther - 1 : nOther;
      if (this.allowMultiConn) sampleWithReplacementSorted(gen, m, k, indices, i * k);
      else sampleDistinctSorted(gen, m, k, indices, i * k, marks);
      if (excluded >= 0) {
        for (let q = i * k; q < (i + 1) * k; q++) indices[q] = skipSelf(indices[q], excluded);
      }
    }
    return new CSR(nRows, nOther, indptr, indices);
  }

  protected settings(): Record<string, unknown> {
    return { num: this.num, allowSelf: this.allowSelf, allowMultiConn: this.allowMultiConn };
  }
}

class FixedPostNumImpl extends FixedNumConnector {
  readonly kind = 'FixedPostNum';
  constructor(num: number, options: FixedNumOptions = {}) {
    super('FixedPostNum', num, options);
  }
  protected generate(nPre: number, nPost: number): CSR {
    return this.drawRows(nPre, nPost, 'postsynaptic targets per presynaptic neuron');
  }
}

class FixedPreNumImpl extends FixedNumConnector {
  readonly kind = 'FixedPreNum';
  constructor(num: number, options: FixedNumOptions = {}) {
    super('FixedPreNum', num, options);
  }
  protected generate(nPre: number, nPost: number): CSR {
    // Draw each post neuron's sources as a row of the transpose, then transpose back.
    return this.drawRows(nPost, nPre, 'presynaptic sources per postsynaptic neuron').transpose();
  }
}

class FixedTotalNumImpl extends FixedNumConnector {
  readonly kind = 'FixedTotalNum';
  constructor(num: number, options: FixedNumOptions = {}) {
    super('FixedTotalNum', num, options);
  }

  protected generate(nPre: number, nPost: number): CSR {
    // Candidates are numbered row by row: the first d = min(nPre, nPost) rows have nPost - 1
    // candidates each when the diagonal is excluded, the others nPost.
    const d = this.allowSelf ? 0 : Math.min(nPre, nPost);
    const firstBlock = d * (nPost - 1);
    const total = firstBlock + (nPre - d) * nPost;
    this.checkPossible(total, 'synapses');
    const gen = this.rng();
    const picks = this.allowMultiConn
      ? drawWithReplacement(gen, total, this.num)
      : drawDistinct(gen, total, this.num);
    picks.sort();
    const indptr = new Int32Array(nPre + 1);
    const indices = new Int32Array(picks.length);
    for (let q = 0; q < picks.length; q++) {
      const c = picks[q];
      let i: number;
      let j: number;
      if (c < firstBlock) {
        i = Math.floor(c / (nPost - 1));
        j = skipSelf(c - i * (nPost - 1), i);
      } else {
        const c2 = c - firstBlock;
        i = d + Math.floor(c2 / nPost);
        j = c2 - (i - d) * nPost;
      }
      indptr[i + 1]++;
      indices[q] = j;
    }
    for (let i = 0; i < nPre; i++) indptr[i + 1] += indptr[i];
    return new CSR(nPre, nPost, indptr, indices);
  }
}

/** A uniform integer in [0, m) for any m up to 2^53. */
function below(gen: Xoshiro128, m: number): number {
  return m <= 2 ** 32 ? gen.nextBelow(m) : Math.floor(gen.nextFloat64() * m);
}

function drawWithReplacement(gen: Xoshiro128, m: number, k: number): Float64Array {
  const out = new Float64Array(k);
  for (let q = 0; q < k; q++) out[q] = below(gen, m);
  return out;
}

/** k distinct integers of [0, m) (Floyd's algorithm; the complement when k > m / 2). */
function drawDistinct(gen: Xoshiro128, m: number, k: number): Float64Array {
  const complement = k > m / 2;
  const kk = complement ? m - k : k;
  const chosen = new Set<number>();
  for (let t = m - kk; t < m; t++) {
    const r = below(gen, t + 1);
    chosen.add(chosen.has(r) ? t : r);
  }
  if (!complement) return Float64Array.from(chosen);
  const out = new Float64Array(k);
  let n = 0;
  for (let c = 0; c < m; c++) if (!chosen.has(c)) out[n++] = c;
  return out;
}

/** Connect every pair independently with probability `prob`. */
export const FixedProb = callableClass('FixedProb', FixedProbImpl);
export type FixedProb = FixedProbImpl;
/** Connect i → i. */
export const One2One = callableClass('One2One', One2OneImpl);
export type One2One = One2OneImpl;
/** Connect every pair (optionally without i → i). */
export const All2All = callableClass('All2All', All2AllImpl);
export type All2All = All2AllImpl;
/** Exactly `num` synapses in total. */
export const FixedTotalNum = callableClass('FixedTotalNum', FixedTotalNumImpl);
export type FixedTotalNum = FixedTotalNumImpl;
/** Each postsynaptic neuron receives `num` presynaptic neurons. */
export const FixedPreNum = callableClass('FixedPreNum', FixedPreNumImpl);
export type FixedPreNum = FixedPreNumImpl;
/** Each presynaptic neuron projects to `num` postsynaptic neurons. */
export const FixedPostNum = callableClass('FixedPostNum', FixedPostNumImpl);
export type FixedPostNum = FixedPostNumImpl;
