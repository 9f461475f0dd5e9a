/**
 * The bulk generator: xoshiro128** (Blackman & Vigna, 2018), a small, fast 32-bit generator with
 * a 128-bit state, seeded from Threefry outputs of a key. Threefry is the right tool for deriving
 * keys (splittable, counter-based) but costs ~100 operations per 64 bits; a draw of many numbers
 * takes one key, seeds a Xoshiro128 from it and reads as many words as it needs.
 */
import type { Key } from './key';
import { threefry2x32 } from './threefry';

const TWO_NEG_24 = 2 ** -24;
const TWO_NEG_53 = 2 ** -53;
const TWO_26 = 2 ** 26;
const TWO_32 = 2 ** 32;
const TWO_PI = 2 * Math.PI;
/** Counter words reserved for seeding; key splitting only hashes small counters. */
const SEED_COUNTER = 0xffffffff;

/** A xoshiro128** stream. Not splittable: use one per key. */
export class Xoshiro128 {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  /** Second Box–Muller value, kept for the next call to `nextNormal`. */
  private spareNormal: number | null = null;

  /** A stream seeded from `key` (distinct keys give independent streams). */
  constructor(key: Key) {
    const [a, b] = threefry2x32(key, SEED_COUNTER, 0);
    const [c, d] = threefry2x32(key, SEED_COUNTER, 1);
    this.s0 = a | 0;
    this.s1 = b | 0;
    this.s2 = c | 0;
    this.s3 = d | 0;
    // The all-zero state is the one fixed point of xoshiro (probability 2^-128, but be exact).
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 0x9e3779b9 | 0;
  }

  /** The next 32 random bits as a uint32. */
  nextUint32(): number {
    const s1 = this.s1;
    const x = Math.imul(s1, 5);
    const result = Math.imul((x << 7) | (x >>> 25), 9) >>> 0;
    const t = s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = (this.s3 << 11) | (this.s3 >>> 21);
    return result;
  }

  /** Uniform on [0, 1) with 24 random bits: every value is a float32, and 1 is never returned. */
  nextFloat32(): number {
    return (this.nextUint32() >>> 8) * TWO_NEG_24;
  }

  /** Uniform on [0, 1) with 53 random bits (a full float64 mantissa). */
  nextFloat64(): number {
    const hi = this.nextUint32() >>> 5;
    const lo = this.nextUint32() >>> 6;
    return (hi * TWO_26 + lo) * TWO_NEG_53;
  }

  /** Uniform on the open interval (0, 1): the midpoints of the 2^53 grid, never 0 or 1. */
  nextOpenFloat64(): number {
    const hi = this.nextUint32() >>> 5;
    const lo = this.nextUint32() >>> 6;
    return (hi * TWO_26 + lo + 0.5) * TWO_NEG_53;
  }

  /** A uniform integer in [0, range) without modulo bias; `range` is an integer in [1, 2^32]. */
  nextBelow(range: number): number {
    if (range === TWO_32) return this.nextUint32();
    const limit = TWO_32 - (TWO_32 % range);
    for (;;) {
      const x = this.nextUint32();
      if (x < limit) return x % range;
    }
  }

  /** A standard normal value (Box–Muller; values come in pairs, the second is kept for the next call). */
  nextNormal(): number {
    const spare = this.spareNormal;
    if (spare !== null) {
      this.spareNormal = null;
      return spare;
    }
    const radius = Math.sqrt(-2 * Math.log(this.nextOpenFloat64()));
    const angle = TWO_PI * this.nextFloat64();
    this.spareNormal = radius * Math.sin(angle);
    return radius * Math.cos(angle);
  }
}
