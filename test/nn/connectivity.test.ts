/**
 * Connectivity builders: statistics of each rule, exact counts, no duplicates without
 * multi-connections, no diagonal without self-connections, reproducibility from a seed or the
 * default random state, build speed at 4000 × 4000, the CSR container, and typed errors.
 */
import { describe, expect, it } from 'vitest';
import { ArgumentError } from '../../src/errors';
import {
  All2All,
  CSR,
  Connector,
  FixedPostNum,
  FixedPreNum,
  FixedProb,
  FixedTotalNum,
  One2One,
} from '../../src/nn/connectivity';
import * as random from '../../src/random';

/** Every (pre, post) pair of a CSR. */
function pairs(c: CSR): [number, number][] {
  const out: [number, number][] = [];
  for (let i = 0; i < c.nPre; i++) {
    for (let k = c.indptr[i]; k < c.indptr[i + 1]; k++) out.push([i, c.indices[k]]);
  }
  return out;
}

function hasDiagonal(c: CSR): boolean {
  return pairs(c).some(([i, j]) => i === j);
}

/** True if every row's indices are strictly increasing (sorted, no duplicates). */
function rowsStrictlySorted(c: CSR): boolean {
  for (let i = 0; i < c.nPre; i++) {
    for (let k = c.indptr[i] + 1; k < c.indptr[i + 1]; k++) {
      if (c.indices[k] <= c.indices[k - 1]) return false;
    }
  }
  return true;
}

function mean(xs: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += xs[i];
  return s / xs.length;
}

function variance(xs: ArrayLike<number>): number {
  const m = mean(xs);
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += (xs[i] - m) ** 2;
  return s / (xs.length - 1);
}

function sameCSR(a: CSR, b: CSR): boolean {
  return (
    a.nPre === b.nPre &&
    a.nPost === b.nPost &&
    a.indptr.join() === b.indptr.join() &&
    a.indices.join() === b.indices.join()
  );
}

describe('FixedProb', () => {
  it('has mean fan-out p·n and binomial variance; rows are sorted without duplicates', () => {
    const n = 1000;
    const p = 0.1;
    const c = FixedProb(p, { seed: 3 }).build(n, n);
    const fan = c.fanOut();
    // nnz ~ Binomial(1e6, 0.1): sd 300, so the mean fan-out is 100 ± 0.3.
    expect(Math.abs(mean(fan) - p * n)).toBeLessThan(1.5);
    expect(variance(fan) / (n * p * (1 - p))).toBeGreaterThan(0.8);
    expect(variance(fan) / (n * p * (1 - p))).toBeLessThan(1.2);
    // The fan-in has the same law (the pattern is not biased towards any column).
    expect(Math.abs(mean(c.fanIn()) - p * n)).toBeLessThan(1.5);
    expect(rowsStrictlySorted(c)).toBe(true);
  });

  it('covers the post range uniformly (first and last tenth of the columns)', () => {
    const c = FixedProb(0.2, { seed: 9 }).build(500, 500);
    const fanIn = c.fanIn();
    expect(Math.abs(mean(fanIn.subarray(0, 50)) - 100)).toBeLessThan(6);
    expect(Math.abs(mean(fanIn.subarray(450)) - 100)).toBeLessThan(6);
  });

  it('allowSelf: false removes exactly the diagonal (square and rectangular)', () => {
    for (const [nPre, nPost] of [
      [200, 200],
      [300, 120],
      [80, 150],
    ]) {
      const c = FixedProb(0.5, { seed: 1, allowSelf: false }).build(nPre, nPost);
      expect(hasDiagonal(c)).toBe(false);
      const mPerRow = nPost - (nPre > 0 ? 1 : 0);
      expect(
        Math.abs(mean(c.fanOut().subarray(0, Math.min(nPre, nPost))) - 0.5 * mPerRow),
      ).toBeLessThan(3);
    }
    expect(hasDiagonal(FixedProb(1).build(50, 50))).toBe(true);
    const full = FixedProb(1, { allowSelf: false }).build(50, 40);
    expect(full.nnz).toBe(50 * 40 - 40);
    expect(hasDiagonal(full)).toBe(false);
  });

  it('p = 0 gives no synapses and p = 1 gives all of them', () => {
    expect(FixedProb(0, { seed: 1 }).build(30, 40).nnz).toBe(0);
    expect(FixedProb(1, { seed: 1 }).build(30, 40).nnz).toBe(1200);
  });

  it('the same seed gives the same connectivity, another seed another one', () => {
    const a = FixedProb(0.05, { seed: 42 }).build(300, 300);
    const b = new FixedProb(0.05, { seed: 42 }).build(300, 300);
    const c = FixedProb(0.05, { seed: 43 }).build(300, 300);
    expect(sameCSR(a, b)).toBe(true);
    expect(sameCSR(a, c)).toBe(false);
    const conn = FixedProb(0.05, { seed: 42 });
    expect(sameCSR(conn.build(300, 300), conn.build(300, 300))).toBe(true);
  });

  it('without a seed, draws from the default random state (random.seed makes it reproducible)', () => {
    random.seed(7);
    const a = FixedProb(0.05).build(200, 200);
    const a2 = FixedProb(0.05).build(200, 200);
    random.seed(7);
    const b = FixedProb(0.05).build(200, 200);
    expect(sameCSR(a, b)).toBe(true);
    expect(sameCSR(a, a2)).toBe(false);
  });

  it('builds 4000 × 4000 at p = 0.02 in well under a second', () => {
    const t0 = performance.now();
    const c = FixedProb(0.02, { seed: 0 }).build(4000, 4000);
    const ms = performance.now() - t0;
    expect(ms).toBeLessThan(500);
    expect(Math.abs(c.nnz - 320_000)).toBeLessThan(3000);
  });

  it('rejects a probability outside [0, 1] with an ArgumentError naming FixedProb and the value', () => {
    for (const bad of [-0.1, 1.5, NaN, Infinity]) {
      expect(() => FixedProb(bad)).toThrow(ArgumentError);
      expect(() => FixedProb(bad)).toThrow(/FixedProb.*prob/);
    }
    expect(() => FixedProb(1.5)).toThrow(/1\.5/);
    expect(() => FixedProb('0.1' as unknown as number)).toThrow(ArgumentError);
    expect(() => FixedProb(0.1, { allowSelf: 1 as unknown as boolean })).toThrow(/allowSelf/);
    expect(() => FixedProb(0.1, { seed: 1.5 })).toThrow(ArgumentError);
    expect(() => FixedProb(0.1).build(-1, 3)).toThrow(/FixedProb\.build: nPre/);
  });

  it('prints its settings', () => {
    expect(String(FixedProb(0.02, { allowSelf: false }))).toBe(
      'FixedProb(prob=0.02, allowSelf=false)',
    );
    expect(FixedProb(0.1)).toBeInstanceOf(Connector);
  });
});

describe('One2One and All2All', () => {
  it('One2One connects i → i and needs equal sizes', () => {
    const c = One2One().build(5, 5);
    expect(pairs(c)).toEqual([0, 1, 2, 3, 4].map((i) => [i, i]));
    expect(() => One2One().build(5, 6)).toThrow(ArgumentError);
    expect(() => One2One().build(5, 6)).toThrow(/One2One.*nPre=5.*nPost=6/);
  });

  it('All2All connects every pair, or every pair but i → i', () => {
    expect(All2All().build(3, 4).nnz).toBe(12);
    const c = All2All({ allowSelf: false }).build(3, 3);
    expect(pairs(c)).toEqual([
      [0, 1],
      [0, 2],
      [1, 0],
      [1, 2],
      [2, 0],
      [2, 1],
    ]);
    expect(All2All({ allowSelf: false }).build(4, 2).nnz).toBe(8 - 2);
  });
});

describe('FixedTotalNum (seed 001: FixedTotalNum(80, multi_conn=False))', () => {
  it('draws exactly num distinct synapses', () => {
    const c = FixedTotalNum(80, { allowMultiConn: false, seed: 1 }).build(100, 100);
    expect(c.nnz).toBe(80);
    const keys = new Set(pairs(c).map(([i, j]) => i * 100 + j));
    expect(keys.size).toBe(80);
    expect(rowsStrictlySorted(c)).toBe(true);
  });

  it('spreads synapses uniformly over rows and columns', () => {
    const c = FixedTotalNum(2000, { seed: 2 }).build(100, 100);
    // Half of the rows (columns) hold 1000 ± ~20 of the synapses (hypergeometric).
    const half = (xs: Int32Array) => xs.subarray(0, 50).reduce((a, b) => a + b, 0);
    expect(Math.abs(half(c.fanOut()) - 1000)).toBeLessThan(80);
    expect(Math.abs(half(c.fanIn()) - 1000)).toBeLessThan(80);
    expect(Math.max(...c.fanOut())).toBeLessThan(45);
  });

  it('takes the complement when num is more than half of the pairs', () => {
    const c = FixedTotalNum(9000, { seed: 2 }).build(100, 100);
    expect(c.nnz).toBe(9000);
    expect(rowsStrictlySorted(c)).toBe(true);
    expect(Math.abs(mean(c.fanOut()) - 90)).toBeLessThan(1e-9);
    expect(Math.min(...c.fanOut())).toBeGreaterThan(70);
  });

  it('allows repeated pairs with allowMultiConn', () => {
    const c = FixedTotalNum(500, { allowMultiConn: true, seed: 3 }).build(10, 10);
    expect(c.nnz).toBe(500);
    const keys = new Set(pairs(c).map(([i, j]) => i * 10 + j));
    expect(keys.size).toBeLessThan(500);
    expect(keys.size).toBeLessThanOrEqual(100);
  });

  it('excludes the diagonal with allowSelf: false, also when num fills every other pair', () => {
    const c = FixedTotalNum(90, { allowSelf: false, seed: 4 }).build(10, 10);
    expect(c.nnz).toBe(90);
    expect(hasDiagonal(c)).toBe(false);
    const r = FixedTotalNum(200, { allowSelf: false, seed: 4 }).build(30, 10);
    expect(r.nnz).toBe(200);
    expect(hasDiagonal(r)).toBe(false);
    const m = FixedTotalNum(300, { allowSelf: false, allowMultiConn: true, seed: 4 }).build(6, 8);
    expect(m.nnz).toBe(300);
    expect(hasDiagonal(m)).toBe(false);
  });

  it('same seed → same synapses', () => {
    const a = FixedTotalNum(80, { seed: 11 }).build(100, 100);
    const b = FixedTotalNum(80, { seed: 11 }).build(100, 100);
    expect(sameCSR(a, b)).toBe(true);
  });

  it('rejects negative, fractional and too large counts with ArgumentErrors naming the builder and value', () => {
    expect(() => FixedTotalNum(-1)).toThrow(ArgumentError);
    expect(() => FixedTotalNum(-1)).toThrow(/FixedTotalNum: num .* got -1/);
    expect(() => FixedTotalNum(2.5)).toThrow(/FixedTotalNum.*2\.5/);
    expect(() => FixedTotalNum(101).build(10, 10)).toThrow(ArgumentError);
    expect(() => FixedTotalNum(101).build(10, 10)).toThrow(
      /FixedTotalNum: num=101 .* 100 possible/,
    );
    expect(() => FixedTotalNum(91, { allowSelf: false }).build(10, 10)).toThrow(
      /num=91 .* 90 possible/,
    );
    expect(FixedTotalNum(101, { allowMultiConn: true }).build(10, 10).nnz).toBe(101);
    expect(() => FixedTotalNum(1, { allowMultiConn: true, allowSelf: false }).build(1, 1)).toThrow(
      /FixedTotalNum/,
    );
  });
});

describe('FixedPreNum and FixedPostNum', () => {
  it('FixedPostNum: every presynaptic neuron has exactly num distinct targets', () => {
    const c = FixedPostNum(7, { seed: 5 }).build(50, 20);
    expect(Array.from(c.fanOut())).toEqual(new Array(50).fill(7));
    expect(rowsStrictlySorted(c)).toBe(true);
    // Targets are uniform over the columns: mean fan-in 50 · 7 / 20.
    expect(mean(c.fanIn())).toBeCloseTo(17.5, 9);
  });

  it('FixedPreNum: every postsynaptic neuron has exactly num distinct sources', () => {
    const c = FixedPreNum(7, { seed: 5 }).build(20, 50);
    expect(Array.from(c.fanIn())).toEqual(new Array(50).fill(7));
    expect(rowsStrictlySorted(c.transpose())).toBe(true);
    expect(rowsStrictlySorted(c)).toBe(true);
  });

  it('without self-connections, no diagonal (num may reach n − 1)', () => {
    const post = FixedPostNum(9, { seed: 6, allowSelf: false }).build(10, 10);
    expect(hasDiagonal(post)).toBe(false);
    expect(Array.from(post.fanOut())).toEqual(new Array(10).fill(9));
    const pre = FixedPreNum(9, { seed: 6, allowSelf: false }).build(10, 10);
    expect(hasDiagonal(pre)).toBe(false);
    expect(Array.from(pre.fanIn())).toEqual(new Array(10).fill(9));
  });

  it('with multi-connections, repeated targets are allowed and counts stay exact', () => {
    const c = FixedPostNum(30, { seed: 7, allowMultiConn: true }).build(10, 5);
    expect(Array.from(c.fanOut())).toEqual(new Array(10).fill(30));
    expect(c.indices.every((j) => j >= 0 && j < 5)).toBe(true);
    const d = FixedPreNum(30, { seed: 7, allowMultiConn: true, allowSelf: false }).build(5, 10);
    expect(Array.from(d.fanIn())).toEqual(new Array(10).fill(30));
    expect(hasDiagonal(d)).toBe(false);
  });

  it('same seed → same connectivity', () => {
    expect(
      sameCSR(FixedPreNum(3, { seed: 1 }).build(30, 40), FixedPreNum(3, { seed: 1 }).build(30, 40)),
    ).toBe(true);
    expect(
      sameCSR(
        FixedPostNum(3, { seed: 1 }).build(30, 40),
        FixedPostNum(3, { seed: 2 }).build(30, 40),
      ),
    ).toBe(false);
  });

  it('num larger than possible → ArgumentError naming the builder and value', () => {
    expect(() => FixedPostNum(11).build(5, 10)).toThrow(/FixedPostNum: num=11 .* 10 possible/);
    expect(() => FixedPostNum(10, { allowSelf: false }).build(5, 10)).toThrow(
      /num=10 .* 9 possible/,
    );
    expect(() => FixedPreNum(6).build(5, 10)).toThrow(/FixedPreNum: num=6 .* 5 possible/);
    expect(() => FixedPreNum(-2)).toThrow(/FixedPreNum: num .* -2/);
    expect(() => FixedPostNum(1.5)).toThrow(ArgumentError);
  });
});

describe('CSR', () => {
  it('validates its arrays', () => {
    const ok = new CSR(2, 3, Int32Array.from([0, 1, 3]), Int32Array.from([2, 0, 1]));
    expect(ok.nnz).toBe(3);
    expect(String(ok)).toBe('CSR(nPre=2, nPost=3, nnz=3)');
    expect(() => new CSR(2, 3, Int32Array.from([0, 1]), Int32Array.from([2]))).toThrow(/nPre \+ 1/);
    expect(() => new CSR(2, 3, Int32Array.from([0, 2, 1]), Int32Array.from([2]))).toThrow(
      ArgumentError,
    );
    expect(() => new CSR(2, 3, Int32Array.from([0, 1, 1]), Int32Array.from([3]))).toThrow(
      /outside/,
    );
    expect(() => new CSR(1, 3, [0, 1] as unknown as Int32Array, Int32Array.from([0]))).toThrow(
      /Int32Array/,
    );
    expect(() =>
      CSR.from({
        nPre: 1,
        nPost: 1,
        indptr: Int32Array.from([0, 1]),
        indices: Int32Array.from([0]),
      }),
    ).not.toThrow();
  });

  it('converts between dense, COO and transposed forms', () => {
    const dense = [0, 2, 0, 3, 0, 0, 1, 1, 1];
    const c = CSR.fromDense(dense, 3, 3);
    expect(Array.from(c.indptr)).toEqual([0, 1, 2, 5]);
    expect(Array.from(c.toDense())).toEqual(dense.map((v) => (v !== 0 ? 1 : 0)));
    const t = c.transpose();
    expect(Array.from(t.toDense())).toEqual([0, 1, 1, 1, 0, 1, 0, 0, 1]);
    const coo = CSR.fromCOO(3, 3, [2, 0, 1, 2, 2], [2, 1, 0, 0, 1]);
    expect(coo.indices.join()).toBe(c.indices.join());
    expect(Array.from(c.rowIds())).toEqual([0, 1, 2, 2, 2]);
    // Repeated synapses add in toDense.
    const multi = CSR.fromCOO(1, 2, [0, 0, 0], [1, 1, 0]);
    expect(Array.from(multi.toDense([1, 2, 4]))).toEqual([1, 6]);
    expect(() => c.toDense([1, 2])).toThrow(/nnz = 5/);
  });
});
