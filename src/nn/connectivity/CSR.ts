/**
 * CSR: the host-side connectivity every sparse and event-driven communication layer runs on.
 * Row `i` (a presynaptic neuron) targets the postsynaptic neurons
 * `indices[indptr[i] .. indptr[i + 1])`; synapse `k` is the position in `indices`, so
 * per-synapse weights are one array of length `nnz` in the same order. Repeated targets in a row
 * are allowed (multiple synapses between one pair; their weights add). A CSR is immutable and
 * checked once on construction; layers upload it to the backend as two int32 tensors.
 */
import { ArgumentError, describeValue } from '../../errors';

/** The plain shape of a CSR connectivity (what layers accept; a `CSR` instance is one). */
export interface CSRLike {
  readonly nPre: number;
  readonly nPost: number;
  /** Row pointers, length nPre + 1, non-decreasing, from 0 to nnz. */
  readonly indptr: Int32Array;
  /** Postsynaptic index of each synapse, length nnz, each in [0, nPost). */
  readonly indices: Int32Array;
}

function checkCount(value: unknown, what: string, where: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new ArgumentError(
      `${where}: ${what} must be a non-negative integer, got ${describeValue(value)}`,
    );
  }
  return value;
}

/** A checked, immutable CSR connectivity matrix of shape [nPre, nPost] (pattern only; weights live in layers). */
export class CSR implements CSRLike {
  readonly nPre: number;
  readonly nPost: number;
  readonly indptr: Int32Array;
  readonly indices: Int32Array;

  /** Wrap row pointers and indices (not copied; do not modify them afterwards). Throws ArgumentError if malformed. */
  constructor(nPre: number, nPost: number, indptr: Int32Array, indices: Int32Array) {
    const where = 'CSR';
    this.nPre = checkCount(nPre, 'nPre', where);
    this.nPost = checkCount(nPost, 'nPost', where);
    if (!(indptr instanceof Int32Array) || !(indices instanceof Int32Array)) {
      throw new ArgumentError(
        `${where}: indptr and indices must be Int32Arrays, got ${describeValue(indptr)} and ${describeValue(indices)}`,
      );
    }
    if (indptr.length !== nPre + 1) {
      throw new ArgumentError(
        `${where}: indptr must have nPre + 1 = ${nPre + 1} entries, got ${indptr.length}`,
      );
    }
    if (indptr[0] !== 0 || indptr[nPre] !== indices.length) {
      throw new ArgumentError(
        `${where}: indptr must start at 0 and end at nnz = ${indices.length}, got ${indptr[0]} … ${indptr[nPre]}`,
      );
    }
    for (let i = 0; i < nPre; i++) {
      if (indptr[i + 1] < indptr[i]) {
        throw new ArgumentError(`${where}: indptr must be non-decreasing (row ${i})`);
      }
    }
    for (let k = 0; k < indices.length; k++) {
      const j = indices[k];
      if (j < 0 || j >= nPost) {
        throw new ArgumentError(`${where}: indices[${k}] = ${j} is outside [0, nPost = ${nPost})`);
      }
    }
    this.indptr = indptr;
    this.indices = indices;
    Object.freeze(this);
  }

  /** A CSR from a CSRLike (returned as is if it already is a CSR); checks it. */
  static from(conn: CSRLike): CSR {
    if (conn instanceof CSR) return conn;
    if (conn === null || typeof conn !== 'object') {
      throw new ArgumentError(
        `CSR.from: expected {nPre, nPost, indptr, indices}, got ${describeValue(conn)}`,
      );
    }
    return new CSR(conn.nPre, conn.nPost, conn.indptr, conn.indices);
  }

  /** A CSR from synapse lists `pre[k] → post[k]` (any order; rows are sorted by post index). */
  static fromCOO(
    nPre: number,
    nPost: number,
    pre: ArrayLike<number>,
    post: ArrayLike<number>,
  ): CSR {
    checkCount(nPre, 'nPre', 'CSR.fromCOO');
    checkCount(nPost, 'nPost', 'CSR.fromCOO');
    if (pre.length !== post.length) {
      throw new ArgumentError(
        `CSR.fromCOO: pre and post must have the same length, got ${pre.length} and ${post.length}`,
      );
    }
    const order = Array.from({ length: pre.length }, (_, k) => k);
    order.sort((a, b) => pre[a] - pre[b] || post[a] - post[b]);
    const indptr = new Int32Array(nPre + 1);
    const indices = new Int32Array(pre.length);
    for (let k = 0; k < order.length; k++) {
      const i = pre[order[k]];
      if (!Number.isInteger(i) || i < 0 || i >= nPre) {
        throw new ArgumentError(`CSR.fromCOO: pre index ${i} is outside [0, nPre = ${nPre})`);
      }
      indptr[i + 1]++;
      indices[k] = post[order[k]];
    }
    for (let i = 0; i < nPre; i++) indptr[i + 1] += indptr[i];
    return new CSR(nPre, nPost, indptr, indices);
  }

  /** The pattern of a dense row-major matrix [nPre, nPost]: one synapse per non-zero entry. */
  static fromDense(matrix: ArrayLike<number>, nPre: number, nPost: number): CSR {
    checkCount(nPre, 'nPre', 'CSR.fromDense');
    checkCount(nPost, 'nPost', 'CSR.fromDense');
    if (matrix.length !== nPre * nPost) {
      throw new ArgumentError(
        `CSR.fromDense: expected nPre·nPost = ${nPre * nPost} values, got ${matrix.length}`,
      );
    }
    const indptr = new Int32Array(nPre + 1);
    const cols: number[] = [];
    for (let i = 0; i < nPre; i++) {
      for (let j = 0; j < nPost; j++) if (matrix[i * nPost + j] !== 0) cols.push(j);
      indptr[i + 1] = cols.length;
    }
    return new CSR(nPre, nPost, indptr, Int32Array.from(cols));
  }

  /** Number of synapses. */
  get nnz(): number {
    return this.indices.length;
  }

  /** Number of synapses of each presynaptic neuron (length nPre). */
  fanOut(): Int32Array {
    const out = new Int32Array(this.nPre);
    for (let i = 0; i < this.nPre; i++) out[i] = this.indptr[i + 1] - this.indptr[i];
    return out;
  }

  /** Number of synapses onto each postsynaptic neuron (length nPost). */
  fanIn(): Int32Array {
    const out = new Int32Array(this.nPost);
    for (let k = 0; k < this.indices.length; k++) out[this.indices[k]]++;
    return out;
  }

  /** The presynaptic index of each synapse (length nnz). */
  rowIds(): Int32Array {
    const out = new Int32Array(this.nnz);
    for (let i = 0; i < this.nPre; i++) out.fill(i, this.indptr[i], this.indptr[i + 1]);
    return out;
  }

  /** The transposed connectivity [nPost, nPre] (synapses reordered by post neuron). */
  transpose(): CSR {
    const indptr = new Int32Array(this.nPost + 1);
    for (let k = 0; k < this.nnz; k++) indptr[this.indices[k] + 1]++;
    for (let j = 0; j < this.nPost; j++) indptr[j + 1] += indptr[j];
    const next = indptr.slice(0, this.nPost);
    const indices = new Int32Array(this.nnz);
    for (let i = 0; i < this.nPre; i++) {
      for (let k = this.indptr[i]; k < this.indptr[i + 1]; k++)
        indices[next[this.indices[k]]++] = i;
    }
    return new CSR(this.nPost, this.nPre, indptr, indices);
  }

  /**
   * The dense row-major weight matrix [nPre, nPost] as a Float32Array: `weight` is one number for
   * every synapse or one per synapse (length nnz); repeated synapses add.
   */
  toDense(weight: number | ArrayLike<number> = 1): Float32Array {
    const out = new Float32Array(this.nPre * this.nPost);
    const scalar = typeof weight === 'number';
    if (!scalar && weight.length !== this.nnz) {
      throw new ArgumentError(
        `CSR.toDense: expected one weight or nnz = ${this.nnz} weights, got ${weight.length}`,
      );
    }
    for (let i = 0; i < this.nPre; i++) {
      const row = i * this.nPost;
      for (let k = this.indptr[i]; k < this.indptr[i + 1]; k++) {
        out[row + this.indices[k]] += scalar ? weight : weight[k];
      }
    }
    return out;
  }

  /** `CSR(nPre=4000, nPost=4000, nnz=320000)`. */
  toString(): string {
    return `CSR(nPre=${this.nPre}, nPost=${this.nPost}, nnz=${this.nnz})`;
  }
}
