/**
 * The default random state and the key-level free functions (spec §9.2): `DEFAULT` backs every
 * module-level draw; `seed`, `getKey`, `setKey`, `splitKey(s)`, `seedContext` and `defaultRng`
 * act on it. Seed once (`random.seed(42)`) for reproducible runs.
 */
import { checkKey, type Key, type SeedOrKey } from './key';
import { RandomState } from './RandomState';

/** The module-level RandomState used by the free functions (randomly seeded on import). */
export const DEFAULT = new RandomState(null, { name: 'DEFAULT' });
// Created on import, possibly inside a transform: it belongs to no transform.
DEFAULT.level = 0;

/** Seed the default state with an integer seed or a key; with no argument, a random key. */
export function seed(seedOrKey?: SeedOrKey | null): void {
  DEFAULT.seed(seedOrKey);
}

/** The default state's current key. */
export function getKey(): Key {
  return DEFAULT.value;
}

/** Set the default state's key. */
export function setKey(key: Key | Uint32Array): void {
  DEFAULT.value = checkKey(key, 'setKey');
}

/** Split the default key: the state advances, and an independent key is returned. */
export function splitKey(): Key {
  return DEFAULT.splitKey();
}

/** n independent keys from the default state (n a positive integer); the state advances. */
export function splitKeys(n: number): Key[] {
  return DEFAULT.splitKeys(n);
}

/**
 * Run `fn` with the default state seeded by `seedOrKey`, then put the previous key back (also
 * when `fn` throws), so the surrounding stream continues as if nothing had been drawn. `fn` must
 * be synchronous: the key is restored when it returns, not when a returned promise settles.
 */
export function seedContext<R>(seedOrKey: SeedOrKey, fn: () => R): R {
  const previous = DEFAULT.value;
  DEFAULT.seed(seedOrKey);
  try {
    return fn();
  } finally {
    DEFAULT.value = previous;
  }
}

/** The default state, or a new RandomState seeded with `seedOrKey` when one is given. */
export function defaultRng(seedOrKey?: SeedOrKey | null): RandomState {
  return seedOrKey === undefined || seedOrKey === null ? DEFAULT : new RandomState(seedOrKey);
}
