/**
 * PoissonInput (spec §5.12): the summed effect of `numInput` independent Poisson sources of rate
 * `freq` (Hz) on a target state, without simulating the sources. Each step it adds
 * `weight · k` to the target, `k ~ Binomial(numInput, p = freq·dt/1000)` (dt in ms), drawn
 * exactly, or from the normal approximation N(n·p, √(n·p·(1−p))) clipped to [0, n] when
 * n·p > 5 and n·(1−p) > 5.
 *
 * Upstream bug fixed: brainstate passes the variance n·p·(1−p) as the normal's *scale*; here the
 * scale is the standard deviation, so the input's variance matches the Binomial's.
 *
 *   const inp = new PoissonInput({ target: [neuron, 'V'], numInput: 100, freq: 10, weight: 0.5 });
 *   neuron.addBeforeUpdate('poisson', inp);   // or call inp.call() in the network's update
 */
import { tf } from '../../backend/tf';
import * as environ from '../../environ';
import { ArgumentError, describeValue } from '../../errors';
import { Module } from '../../graph';
import { DEFAULT, draw, normal, type Generate } from '../../random';
import { State, type StateValue } from '../../state';
import { checkRatePerStep, checkRates, moduleLabel } from './checks';

/** A state, or `[module, 'attr']` naming a state attribute (resolved at every step, after init). */
export type StateTarget = State | readonly [Module, string];

/** Options of PoissonInput. */
export interface PoissonInputOptions {
  /** The state the input is added to (e.g. a neuron's membrane potential or conductance). */
  target: StateTarget;
  /** Number of Poisson sources (a non-negative integer). */
  numInput: number;
  /** Rate of each source in Hz (≥ 0, and freq·dt ≤ 1000 ms). */
  freq: number;
  /** Effect of one input spike (a number, or a tensor broadcastable to the target). */
  weight: number | tf.Tensor;
  /** Only these flat indices of the target's per-sample shape receive input. */
  indices?: readonly number[];
  /** A bool state (or `[module, 'attr']`): where true, the target is left unchanged. */
  refractory?: StateTarget;
  name?: string;
}

/**
 * Binomial(n, p) by inversion (Kachitvichyanukul & Schmeiser's BINV), for n·min(p, 1−p) small:
 * the expected number of iterations is about n·min(p, 1−p) + 1.
 */
function binomialInversion(u: () => number, n: number, p: number): number {
  const pp = Math.min(p, 1 - p);
  if (pp === 0) return p <= 0.5 ? 0 : n;
  const q = 1 - pp;
  const s = pp / q;
  const a = (n + 1) * s;
  let r = Math.exp(n * Math.log1p(-pp));
  let x = 0;
  let v = u();
  while (v > r && x < n) {
    v -= r;
    x++;
    r *= a / x - s;
  }
  return p <= 0.5 ? x : n - x;
}

/** A generator of exact Binomial(n, p) counts (float32) for the random layer's `draw`. */
function binomialGenerator(n: number, p: number): Generate {
  return (gen, size) => {
    const out = new Float32Array(size);
    const u = () => gen.nextFloat64();
    for (let k = 0; k < size; k++) out[k] = binomialInversion(u, n, p);
    return out;
  };
}

/**
 * Counts ~ Binomial(n, p) with the given shape (float32): exact when n·p ≤ 5 or n·(1−p) ≤ 5,
 * else the normal approximation with the standard deviation √(n·p·(1−p)), clipped to [0, n].
 */
export function binomialCounts(n: number, p: number, shape: readonly number[]): tf.Tensor {
  if (n * p > 5 && n * (1 - p) > 5) {
    return tf.tidy(() => tf.clipByValue(normal(n * p, Math.sqrt(n * p * (1 - p)), shape), 0, n));
  }
  return draw('binomial', shape, { n, p }, DEFAULT.splitKey(), binomialGenerator(n, p));
}

/** Adds `weight · Binomial(numInput, freq·dt)` to a target state every step (see the file header). */
export class PoissonInput extends Module {
  readonly numInput: number;
  readonly freq: number;
  readonly weight: number | tf.Tensor;
  readonly indices: readonly number[] | null;
  // Private fields: the target module must not become a child of this input in graph traversal.
  readonly #target: StateTarget;
  readonly #refractory: StateTarget | null;
  #mask: tf.Tensor | null = null;

  constructor(options: PoissonInputOptions) {
    super(options?.name);
    const who = this.describe();
    if (options === null || typeof options !== 'object') {
      throw new ArgumentError(
        `${who}: expected options { target, numInput, freq, weight }, got ${describeValue(options)}`,
      );
    }
    const { target, numInput, freq, weight, indices, refractory } = options;
    checkTarget(who, 'target', target);
    if (refractory !== undefined) checkTarget(who, 'refractory', refractory);
    if (!(Number.isInteger(numInput) && numInput >= 0)) {
      throw new ArgumentError(
        `${who}: numInput must be a non-negative integer, got ${describeValue(numInput)}`,
      );
    }
    if (typeof freq !== 'number') {
      throw new ArgumentError(`${who}: freq must be a number of Hz, got ${describeValue(freq)}`);
    }
    checkRates(who, 'freq', freq);
    if (!(typeof weight === 'number' ? Number.isFinite(weight) : weight instanceof tf.Tensor)) {
      throw new ArgumentError(
        `${who}: weight must be a finite number or a tensor, got ${describeValue(weight)}`,
      );
    }
    if (indices !== undefined) {
      if (!Array.isArray(indices) || !indices.every((i) => Number.isInteger(i) && i >= 0)) {
        throw new ArgumentError(
          `${who}: indices must be an array of non-negative integers, got ${describeValue(indices)}`,
        );
      }
    }
    this.numInput = numInput;
    this.freq = freq;
    this.weight = weight;
    this.indices = indices ? [...indices] : null;
    this.#target = target;
    this.#refractory = refractory ?? null;
  }

  /** The target State (resolved now: after initAllStates a module attribute holds a new State). */
  get targetState(): State {
    return resolveTarget(this.describe(), 'target', this.#target);
  }

  /** Add this step's input to the target. */
  override update(): void {
    const who = this.describe();
    const dt = environ.getDt();
    checkRatePerStep(who, 'freq', this.freq, dt);
    const target = this.targetState;
    const old = target.value;
    const refractory = this.#refractory && resolveTarget(who, 'refractory', this.#refractory);
    const mask = this.indexMask(old.shape);
    target.value = tf.tidy(() => {
      const k = binomialCounts(this.numInput, (this.freq * dt) / 1000, old.shape);
      let inc = tf.mul(k, this.weight);
      if (mask) inc = tf.mul(inc, mask);
      const next = tf.add(old, tf.cast(inc, old.dtype));
      return refractory ? tf.where(tf.cast(refractory.value, 'bool'), old, next) : next;
    });
  }

  /** A 0/1 mask over the trailing per-sample shape for `indices` (built once, kept). */
  private indexMask(shape: readonly number[]): tf.Tensor | null {
    if (this.indices === null) return null;
    if (this.#mask !== null) return this.#mask;
    const sample = shape.length > 1 ? shape.slice(1) : shape;
    const size = sample.reduce((a, b) => a * b, 1);
    const m = new Float32Array(size);
    for (const i of this.indices) {
      if (i >= size) {
        throw new ArgumentError(
          `${this.describe()}: index ${i} is out of range for a target of ${size} elements`,
        );
      }
      m[i] = 1;
    }
    this.#mask = tf.keep(tf.tensor(m, [...sample]));
    return this.#mask;
  }

  /** `PoissonInput(name='x')` or `PoissonInput` for messages. */
  describe(): string {
    return moduleLabel(this.constructor.name, this.name);
  }
}

function checkTarget(who: string, what: string, t: unknown): void {
  const ok =
    t instanceof State ||
    (Array.isArray(t) && t.length === 2 && t[0] instanceof Module && typeof t[1] === 'string');
  if (!ok) {
    throw new ArgumentError(
      `${who}: ${what} must be a State or a [module, 'attribute'] pair, got ${describeValue(t)}`,
    );
  }
}

/** The State a target refers to now. */
export function resolveTarget(who: string, what: string, t: StateTarget): State {
  if (t instanceof State) return t;
  const [module, attr] = t;
  const v = (module as unknown as Record<string, unknown>)[attr];
  if (!(v instanceof State)) {
    throw new ArgumentError(
      `${who}: ${what} ${module.constructor.name}.${attr} is ${describeValue(v)}, not a State` +
        (v === null || v === undefined ? ' (call initAllStates(net) first?)' : ''),
    );
  }
  return v as State<StateValue> as State;
}
