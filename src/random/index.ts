/**
 * Random numbers (spec §9.2): splittable Threefry-2x32 keys held by `RandomState`s, a fast bulk
 * generator per draw, numpy-like distributions on the default state, and the draw hook the IR
 * recorder uses to annotate random draws.
 */
export { RandomState, type DrawOptions } from './RandomState';
export {
  DEFAULT,
  seed,
  getKey,
  setKey,
  splitKey,
  splitKeys,
  seedContext,
  defaultRng,
} from './default';
export {
  rand,
  randn,
  uniform,
  normal,
  bernoulli,
  poisson,
  randint,
  permutation,
  choice,
  exponential,
  truncatedNormal,
} from './functions';
export { type Key, type SeedOrKey, isKey, checkKey, keyFromSeed, toKey, randomKey } from './key';
export { threefry2x32, threefrySplit, foldIn } from './threefry';
export { Xoshiro128 } from './xoshiro';
export {
  draw,
  setDrawObserver,
  type DrawEvent,
  type DrawObserver,
  type DrawData,
  type Generate,
} from './draw';
export { type Size, type Param, toShape, numel, broadcastShapes } from './shape';
export { type ChoiceOptions, type Probabilities } from './sampling';
export { ndtr, ndtri, erf, erfc, logGamma } from './special';
export { MAX_POISSON_RATE } from './discrete';
