/**
 * Connector: a connectivity rule (FixedProb(0.02), One2One(), …) that is not yet bound to
 * population sizes; `build(nPre, nPost)` draws the pattern as a CSR on the host. A connector with
 * a `seed` builds the same pattern every time; without one, each build takes a fresh key from the
 * default random state (so `random.seed(42)` makes whole networks reproducible). "Self"
 * connections are the pairs i → i, which only mean something when pre and post are the same
 * population; `allowSelf: false` removes them for every i < min(nPre, nPost).
 */
import { ArgumentError, describeValue } from '../../errors';
import { splitKey, toKey, Xoshiro128, type SeedOrKey } from '../../random';
import { CSR } from './CSR';

/** Options shared by the random connectors. */
export interface ConnectorOptions {
  /** Integer seed or key: the same seed gives the same connectivity. Default: the default random state. */
  seed?: SeedOrKey | null;
}

/** Base class of the connectivity rules. */
export abstract class Connector {
  /** The rule's name for messages, e.g. 'FixedProb'. */
  abstract readonly kind: string;
  protected readonly seed: SeedOrKey | null;

  constructor(options: ConnectorOptions = {}) {
    this.seed = options.seed ?? null;
    // Check the seed now, so a bad one fails where it is given.
    if (this.seed !== null) toKey(this.seed, `${new.target.name}: seed`);
  }

  /** Draw the connectivity from nPre presynaptic to nPost postsynaptic neurons. */
  build(nPre: number, nPost: number): CSR {
    checkSize(nPre, 'nPre', this.kind);
    checkSize(nPost, 'nPost', this.kind);
    return this.generate(nPre, nPost);
  }

  /** Subclasses draw the pattern here (sizes are checked). */
  protected abstract generate(nPre: number, nPost: number): CSR;

  /** The generator of one build: seeded by `seed`, or by a fresh split of the default state. */
  protected rng(): Xoshiro128 {
    return new Xoshiro128(this.seed !== null ? toKey(this.seed) : splitKey());
  }

  /** `FixedProb(prob=0.02, allowSelf=true)`. */
  toString(): string {
    const settings = Object.entries(this.settings())
      .map(([k, v]) => `${k}=${String(v)}`)
      .join(', ');
    return `${this.kind}(${settings})`;
  }

  /** The settings shown by `toString()`. */
  protected abstract settings(): Record<string, unknown>;
}

function checkSize(value: unknown, what: string, kind: string): void {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new ArgumentError(
      `${kind}.build: ${what} must be a non-negative integer, got ${describeValue(value)}`,
    );
  }
}

/** Check a probability in [0, 1]; the message names the connector and the value. */
export function checkProbability(value: unknown, what: string, kind: string): number {
  if (typeof value !== 'number' || !(value >= 0 && value <= 1)) {
    throw new ArgumentError(
      `${kind}: ${what} must be a probability in [0, 1], got ${describeValue(value)}`,
    );
  }
  return value;
}

/** Check a count (a non-negative integer); the message names the connector and the value. */
export function checkCount(value: unknown, what: string, kind: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new ArgumentError(
      `${kind}: ${what} must be a non-negative integer, got ${describeValue(value)}`,
    );
  }
  return value;
}

/** Check a boolean option. */
export function checkFlag(value: unknown, what: string, kind: string): boolean {
  if (typeof value !== 'boolean') {
    throw new ArgumentError(`${kind}: ${what} must be a boolean, got ${describeValue(value)}`);
  }
  return value;
}

/**
 * Row pointers and indices grown as rows are appended (for builders whose row sizes are only
 * known while drawing).
 */
export class RowBuilder {
  readonly indptr: Int32Array;
  private indices: Int32Array;
  private length = 0;
  private row = 0;

  constructor(
    private readonly nPre: number,
    private readonly nPost: number,
    capacity: number,
  ) {
    this.indptr = new Int32Array(nPre + 1);
    this.indices = new Int32Array(Math.max(16, Math.ceil(capacity)));
  }

  /** Append a target to the current row. */
  push(j: number): void {
    if (this.length === this.indices.length) {
      const grown = new Int32Array(this.indices.length * 2);
      grown.set(this.indices);
      this.indices = grown;
    }
    this.indices[this.length++] = j;
  }

  /** Close the current row. */
  endRow(): void {
    this.indptr[++this.row] = this.length;
  }

  /** The finished CSR (all nPre rows must have been ended). */
  finish(): CSR {
    return new CSR(this.nPre, this.nPost, this.indptr, this.indices.slice(0, this.length));
  }
}

/**
 * Draw k distinct integers from [0, m) into `out[offset .. offset + k)`, sorted ascending
 * (Floyd's algorithm: k draws whatever m is). `marks` is a zeroed scratch array of length ≥ m,
 * left zeroed on return.
 */
export function sampleDistinctSorted(
  gen: Xoshiro128,
  m: number,
  k: number,
  out: Int32Array,
  offset: number,
  marks: Uint8Array,
): void {
  let n = offset;
  for (let t = m - k; t < m; t++) {
    let r = gen.nextBelow(t + 1);
    if (marks[r] === 1) r = t;
    marks[r] = 1;
    out[n++] = r;
  }
  const row = out.subarray(offset, offset + k);
  for (let q = 0; q < k; q++) marks[row[q]] = 0;
  row.sort();
}

/** Draw k integers from [0, m) with replacement into `out[offset .. offset + k)`, sorted. */
export function sampleWithReplacementSorted(
  gen: Xoshiro128,
  m: number,
  k: number,
  out: Int32Array,
  offset: number,
): void {
  for (let q = 0; q < k; q++) out[offset + q] = gen.nextBelow(m);
  out.subarray(offset, offset + k).sort();
}
