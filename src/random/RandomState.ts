/**
 * RandomState: a State whose value is a PRNG key (spec §9.2). Every draw splits the current key
 * in two, stores the first half as the new value (a recorded write) and draws with the second,
 * so transforms see random calls as reads and writes of the RNG state and thread it like any
 * other state. An explicit `{ key }` option draws with that key and leaves the state untouched.
 */
import type { tf } from '../backend/tf';
import { ArgumentError, StateError, describeValue } from '../errors';
import { State, type StateOptions } from '../state';
import {
  sampleExponential,
  sampleNormal,
  sampleTruncatedNormal,
  sampleUniform,
} from './continuous';
import { sampleBernoulli, samplePoisson, sampleRandint } from './discrete';
import { checkKey, isKey, randomKey, toKey, type Key, type SeedOrKey, type TakeKey } from './key';
import { sampleChoice, samplePermutation, type ChoiceOptions } from './sampling';
import type { Param, Size } from './shape';
import { threefrySplit } from './threefry';

/** Options of every draw. */
export interface DrawOptions {
  /** Draw with this key instead of splitting the state's key (the state is neither read nor written). */
  key?: Key | Uint32Array;
}

/** Separate trailing options from the dimensions of `rand(2, 3, { key })`. */
function dimsAndOptions(
  args: readonly (number | DrawOptions)[],
): [number[], DrawOptions | undefined] {
  const last = args[args.length - 1];
  if (last !== null && typeof last === 'object' && !Array.isArray(last)) {
    return [args.slice(0, -1) as number[], last];
  }
  return [args as number[], undefined];
}

/** A PRNG state: the key `[k0, k1]` of a splittable Threefry-2x32 generator. */
export class RandomState extends State<Key> {
  private backup: Key | null = null;

  /** A state seeded with an integer seed or set to a key; with neither, a random key. */
  constructor(seedOrKey?: SeedOrKey | null, options: StateOptions = {}) {
    super(
      seedOrKey === undefined || seedOrKey === null ? randomKey() : toKey(seedOrKey, 'RandomState'),
      options,
    );
  }

  protected override checkNewValue(v: unknown, where: string): asserts v is Key {
    if (!isKey(v)) {
      throw new StateError(
        `${this.describe()}.${where}: a RandomState holds a key [k0, k1] of two uint32 integers, got ${describeValue(v)}`,
      );
    }
  }

  /** Reseed: set the key from an integer seed or a key; with no argument, a random key. */
  seed(seedOrKey?: SeedOrKey | null): void {
    this.value =
      seedOrKey === undefined || seedOrKey === null
        ? randomKey()
        : toKey(seedOrKey, `${this.describe()}.seed`);
  }

  /** Split the key in two, keep the first as the new value (a recorded write), return the second. */
  splitKey(): Key {
    const [next, sub] = threefrySplit(this.value, 2);
    this.value = next;
    return sub;
  }

  /** Split the key into n + 1 keys, keep the first, return the other n (n a positive integer). */
  splitKeys(n: number): Key[] {
    if (!Number.isSafeInteger(n) || n < 1) {
      throw new ArgumentError(
        `${this.describe()}.splitKeys: n must be a positive integer, got ${describeValue(n)}`,
      );
    }
    const keys = threefrySplit(this.value, n + 1);
    this.value = keys[0];
    return keys.slice(1);
  }

  /** A new RandomState with an independent stream (seeded by a split of this key, which advances). */
  clone(): RandomState {
    return new RandomState(this.splitKey());
  }

  /** Remember the current key for `restoreKey()`; backing up twice without a restore is an error. */
  backupKey(): void {
    if (this.backup !== null) {
      throw new StateError(
        `${this.describe()}.backupKey: the key is already backed up; call restoreKey() first`,
      );
    }
    this.backup = this.value;
  }

  /** Put back the key saved by `backupKey()` (an error if there is none). */
  restoreKey(): void {
    if (this.backup === null) {
      throw new StateError(
        `${this.describe()}.restoreKey: no key backed up; call backupKey() first`,
      );
    }
    this.value = this.backup;
    this.backup = null;
  }

  /** The key source of one draw: the option's key, or a fresh split of this state. */
  private takeKey(options: DrawOptions | undefined, where: string): TakeKey {
    if (options?.key !== undefined) {
      const key = checkKey(options.key, where);
      return () => key;
    }
    return () => this.splitKey();
  }

  /** Uniform on [0, 1) with the given dimensions (float32); `rand()` is a scalar. */
  rand(...dims: number[]): tf.Tensor;
  rand(...dimsThenOptions: [...number[], DrawOptions]): tf.Tensor;
  rand(...args: (number | DrawOptions)[]): tf.Tensor {
    const [dims, options] = dimsAndOptions(args);
    return sampleUniform(0, 1, dims, this.takeKey(options, 'rand'));
  }

  /** Standard normal values with the given dimensions (float32). */
  randn(...dims: number[]): tf.Tensor;
  randn(...dimsThenOptions: [...number[], DrawOptions]): tf.Tensor;
  randn(...args: (number | DrawOptions)[]): tf.Tensor {
    const [dims, options] = dimsAndOptions(args);
    return sampleNormal(0, 1, dims, this.takeKey(options, 'randn'));
  }

  /** Uniform on [low, high) (float32). Without `size`, the broadcast shape of tensor bounds (or a scalar). */
  uniform(low: Param = 0, high: Param = 1, size?: Size, options?: DrawOptions): tf.Tensor {
    return sampleUniform(low, high, size, this.takeKey(options, 'uniform'));
  }

  /** Normal with mean `loc` and standard deviation `scale` (float32). */
  normal(loc: Param = 0, scale: Param = 1, size?: Size, options?: DrawOptions): tf.Tensor {
    return sampleNormal(loc, scale, size, this.takeKey(options, 'normal'));
  }

  /** True with probability `p` (bool); a number p outside [0, 1] is an ArgumentError. */
  bernoulli(p: Param = 0.5, size?: Size, options?: DrawOptions): tf.Tensor {
    return sampleBernoulli(p, size, this.takeKey(options, 'bernoulli'));
  }

  /** Poisson counts with rate `lam` ≥ 0 (int32). */
  poisson(lam: Param = 1, size?: Size, options?: DrawOptions): tf.Tensor {
    return samplePoisson(lam, size, this.takeKey(options, 'poisson'));
  }

  /** Uniform integers in [low, high); with one bound, in [0, low). */
  randint(
    low: number,
    high?: number | null,
    size?: Size,
    dtype: 'int32' | 'float32' = 'int32',
    options?: DrawOptions,
  ): tf.Tensor {
    return sampleRandint(low, high, size, dtype, this.takeKey(options, 'randint'));
  }

  /** A random permutation of 0 … n−1 (int32), or of a tensor's rows. */
  permutation(x: number | tf.Tensor, options?: DrawOptions): tf.Tensor {
    return samplePermutation(x, this.takeKey(options, 'permutation'));
  }

  /** Samples from 0 … a−1 or from the rows of tensor `a`: `{ replace = true, p }`. */
  choice(a: number | tf.Tensor, size?: Size, options: ChoiceOptions & DrawOptions = {}): tf.Tensor {
    return sampleChoice(a, size, options, this.takeKey(options, 'choice'));
  }

  /** Exponential with mean `scale` (float32). */
  exponential(scale: Param = 1, size?: Size, options?: DrawOptions): tf.Tensor {
    return sampleExponential(scale, size, this.takeKey(options, 'exponential'));
  }

  /** Normal(loc, scale) restricted to the absolute window [lower, upper] (float32, inverse CDF). */
  truncatedNormal(
    lower: number,
    upper: number,
    size?: Size,
    loc = 0,
    scale = 1,
    options?: DrawOptions,
  ): tf.Tensor {
    return sampleTruncatedNormal(
      lower,
      upper,
      size,
      loc,
      scale,
      this.takeKey(options, 'truncatedNormal'),
    );
  }
}
