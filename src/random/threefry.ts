/**
 * Threefry-2x32 with 20 rounds (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3",
 * SC 2011), the counter-based hash JAX uses for its PRNG keys. It maps a 64-bit key and a 64-bit
 * counter to 64 random bits, so keys can be split deterministically and independently: the
 * children of a key are the hashes of distinct counters. Everything is plain JS on uint32.
 */
import type { Key } from './key';

const ROTATIONS_A = [13, 15, 26, 6] as const;
const ROTATIONS_B = [17, 29, 16, 24] as const;
/** The Skein key-schedule parity constant. */
const PARITY = 0x1bd11bda;

/**
 * Hash one counter pair `(x0, x1)` under `key`; returns the two output words (uint32). Matches
 * the Random123 known-answer vectors and JAX's `threefry_2x32`.
 */
export function threefry2x32(key: Key, x0: number, x1: number): [number, number] {
  const k0 = key[0] >>> 0;
  const k1 = key[1] >>> 0;
  const k2 = (k0 ^ k1 ^ PARITY) >>> 0;
  const ks = [k0, k1, k2];
  let a = (x0 + k0) >>> 0;
  let b = (x1 + k1) >>> 0;
  // 5 blocks of 4 rounds; after block i the key schedule injects ks[(i+1)%3], ks[(i+2)%3] + i + 1.
  for (let block = 0; block < 5; block++) {
    const rotations = block % 2 === 0 ? ROTATIONS_A : ROTATIONS_B;
    for (let r = 0; r < 4; r++) {
      a = (a + b) >>> 0;
      const rot = rotations[r];
      b = ((b << rot) | (b >>> (32 - rot))) >>> 0;
      b = (b ^ a) >>> 0;
    }
    a = (a + ks[(block + 1) % 3]) >>> 0;
    b = (b + ks[(block + 2) % 3] + block + 1) >>> 0;
  }
  return [a, b];
}

/**
 * Split `key` into `n` new keys, as `jax.random.split` does: hash the counters 0 … 2n−1 taken
 * as pairs `(i, n + i)` and lay the outputs out as `[y0 of all pairs, y1 of all pairs]`, read two
 * words per key.
 */
export function threefrySplit(key: Key, n: number): Key[] {
  const words = new Array<number>(2 * n);
  for (let i = 0; i < n; i++) {
    const [y0, y1] = threefry2x32(key, i, n + i);
    words[i] = y0;
    words[n + i] = y1;
  }
  const keys: Key[] = [];
  for (let i = 0; i < n; i++) keys.push(Object.freeze([words[2 * i], words[2 * i + 1]]) as Key);
  return keys;
}

/** A new key derived from `key` and a 32-bit integer `data` (like `jax.random.fold_in`). */
export function foldIn(key: Key, data: number): Key {
  return Object.freeze(threefry2x32(key, 0, data >>> 0)) as Key;
}
