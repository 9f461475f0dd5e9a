/**
 * PRNG keys: a key is a pair of uint32 words `[k0, k1]` held on the host (a plain JS tuple, not a
 * tensor), so splitting keys and drawing numbers never reads device memory. This file converts
 * seeds to keys and validates keys given by users.
 */
import { ArgumentError, describeValue } from '../errors';

/** A PRNG key: two uint32 words. Keys are immutable; splitting makes new ones. */
export type Key = readonly [number, number];

const TWO_32 = 4294967296;

function isUint32(x: unknown): x is number {
  return typeof x === 'number' && Number.isInteger(x) && x >= 0 && x < TWO_32;
}

/** True if `x` is a well-formed key (an array of two uint32 integers). */
export function isKey(x: unknown): x is Key {
  return Array.isArray(x) && x.length === 2 && isUint32(x[0]) && isUint32(x[1]);
}

/** Check a key given by a user and return it frozen; `where` names the caller for the message. */
export function checkKey(x: unknown, where: string): Key {
  const arr = ArrayBuffer.isView(x) ? Array.from(x as Uint32Array) : x;
  if (!isKey(arr)) {
    throw new ArgumentError(
      `${where}: a key must be an array of two uint32 integers [k0, k1], got ${Array.isArray(arr) ? `[${arr.map(describeValue).join(', ')}]` : describeValue(x)}`,
    );
  }
  return Object.isFrozen(arr) ? arr : (Object.freeze([arr[0], arr[1]]) as Key);
}

/**
 * The key of an integer seed, as `jax.random.PRNGKey(seed)`: `[high 32 bits, low 32 bits]` of the
 * seed as a 64-bit two's-complement integer (so `0 → [0, 0]`, `42 → [0, 42]`, `-1 → [2³²−1, 2³²−1]`).
 */
export function keyFromSeed(seed: number, where = 'seed'): Key {
  if (typeof seed !== 'number' || !Number.isSafeInteger(seed)) {
    throw new ArgumentError(`${where}: a seed must be a safe integer, got ${describeValue(seed)}`);
  }
  const bits = BigInt.asUintN(64, BigInt(seed));
  return Object.freeze([Number(bits >> 32n), Number(bits & 0xffffffffn)]) as Key;
}

/** A seed or a key, as accepted by `RandomState`, `seed()` and `seedContext()`. */
export type SeedOrKey = number | Key | Uint32Array;

/** The key of a seed, or the checked key itself. */
export function toKey(seedOrKey: SeedOrKey, where = 'seed'): Key {
  return typeof seedOrKey === 'number' ? keyFromSeed(seedOrKey, where) : checkKey(seedOrKey, where);
}

/** A fresh key from the platform's entropy source (used when no seed is given). */
export function randomKey(): Key {
  const words = new Uint32Array(2);
  globalThis.crypto.getRandomValues(words);
  return Object.freeze([words[0], words[1]]) as Key;
}

/** Gives the key of one draw: the caller's explicit key, or a fresh split of a RandomState. */
export type TakeKey = () => Key;
