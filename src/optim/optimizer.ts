/**
 * Optimizer, the base of every update rule (spec §8.1). It is a graph Module, so its own states
 * — the step counter, the schedule's counters and one zero-initialised LongTermState per slot
 * and weight (`m.<key>`, `v.<key>` …) — are found by `opt.states()` and saved like a model's.
 * The weights it trains are held out of its graph (they belong to the model), listed by
 * `opt.weights`.
 *
 *   opt.registerTrainableWeights(net.states(ParamState));
 *   const grads = grad(loss, { gradStates: opt.weights })();   // keyed like the weights
 *   opt.update(grads);                                          // writes every weight with `.value =`
 *
 * `update` checks the gradients before touching anything (exact key set, structure and shapes,
 * finiteness), optionally clips them by global norm, computes every new value inside one tidy,
 * writes weights and slots, advances the step counter and steps a call-based schedule. A
 * subclass gives only the per-tensor rule and the names of its slots.
 */
import { tf } from '../backend/tf';
import { ArgumentError, KeyNotFoundError, StateError, describeValue } from '../errors';
import { FlatDict, Module, dottedPath, type Path } from '../graph';
import { LongTermState, State, type StateValue } from '../state';
import { isPlainObject, isTensor, leaves, mapLeaves } from '../state/tree';
import { clipFactor, globalNormOf } from './clip';
import { NonFiniteGradientError } from './errors';
import { readGradients, readWeights, type Gradients, type TrainableWeights } from './keyed';
import { LRScheduler, toScheduler, type LearningRate } from './scheduler';
import { checkChoice, listKeys, optionalNumber } from './validate';

type AnyState = State<StateValue>;

/** What to do when a gradient holds NaN or ±Infinity. */
export type NonFiniteMode = 'error' | 'skip';

/** Options shared by every optimizer. */
export interface OptimizerOptions {
  /** The learning rate: a number, a State (changed by hand) or a schedule. */
  lr?: LearningRate | LRScheduler;
  /** Clip the gradients to this global L2 norm before the update (> 0; default: no clipping). */
  clipNorm?: number | null;
  /**
   * NaN/Inf in a gradient: `'error'` (default) throws a NonFiniteGradientError naming the first
   * offending weight (one scalar read of tensor data per update); `'skip'` leaves weights, slots,
   * the step counter and the schedule unchanged and counts the step in `skippedSteps` (no data
   * read, so it suits jit). Nothing is ever updated from a non-finite gradient.
   */
  nonFinite?: NonFiniteMode;
}

/** The per-step scalars every rule gets: the learning rate and the 1-based step number t (float32). */
export interface StepScalars {
  readonly lr: tf.Tensor;
  readonly t: tf.Tensor;
}

/** A rule's result for one parameter tensor: its new value and the new value of each slot. */
export interface LeafUpdate {
  readonly param: tf.Tensor;
  readonly slots: Readonly<Record<string, tf.Tensor>>;
}

/** The slots of one kind (`m`, `v` …): one LongTermState per registered key. */
export type SlotDict = Readonly<Record<string, LongTermState<StateValue>>>;

const WEIGHTS = Symbol('brainstate.optim.weights');
const SLOT_NAMES = Symbol('brainstate.optim.slotNames');
const WEIGHTS_VIEW = Symbol('brainstate.optim.weightsView');

interface Registered {
  readonly path: Path;
  readonly state: AnyState;
}

/** One weight's part of an update, checked and read. */
interface UpdateItem {
  readonly key: string;
  readonly state: AnyState;
  readonly value: StateValue;
  readonly params: tf.Tensor[];
  readonly grads: tf.Tensor[];
  readonly slots: Record<string, { state: LongTermState<StateValue>; leaves: tf.Tensor[] }>;
}

const COMMON_OPTIONS = ['lr', 'clipNorm', 'nonFinite'] as const;

/** Reject a non-object and unknown option names (a typo would otherwise silently use a default). */
export function checkOptions<O extends object>(
  owner: string,
  options: O | undefined,
  known: readonly string[],
): O {
  if (options === undefined) return {} as O;
  if (!isPlainObject(options)) {
    throw new ArgumentError(`${owner}: expected an options object, got ${describeValue(options)}`);
  }
  const all = [...COMMON_OPTIONS, ...known];
  for (const k of Object.keys(options)) {
    if (!all.includes(k)) {
      throw new ArgumentError(`${owner}: unknown option '${k}' (known: ${all.join(', ')})`);
    }
  }
  return options;
}

/** `θ·(1 − λ)`, the shared weight decay of spec §8.2 (θ itself when λ is null). */
export function decayed(param: tf.Tensor, weightDecay: number | null): tf.Tensor {
  return weightDecay === null || weightDecay === 0 ? param : tf.mul(param, 1 - weightDecay);
}

/** 1 − β^t for a number β in [0, 1) and a float32 scalar t, accurate for β near 1 (−expm1(t·ln β)). */
export function oneMinusPow(beta: number, t: tf.Tensor): tf.Tensor {
  if (beta === 0) return tf.onesLike(t);
  return tf.neg(tf.expm1(tf.mul(t, Math.log(beta))));
}

/** Base class of the optimizers: see the file header. */
export abstract class Optimizer<S extends StepScalars = StepScalars> extends Module {
  /** The learning-rate schedule (a number or State given as `lr` became a ConstantLR). */
  readonly lr: LRScheduler;
  /** The global-norm clip applied to the gradients, or null. */
  readonly clipNorm: number | null;
  /** What a NaN/Inf gradient does (see OptimizerOptions). */
  readonly nonFinite: NonFiniteMode;
  /** Number of applied updates (int32 scalar); the rules' step t is stepCount + 1. */
  readonly stepCount: LongTermState;
  /** Number of updates skipped for non-finite gradients (int32 scalar). */
  readonly skippedSteps: LongTermState;
  private readonly [WEIGHTS] = new Map<string, Registered>();
  private [WEIGHTS_VIEW]: FlatDict<AnyState> | null = null;
  private readonly [SLOT_NAMES]: readonly string[];

  /**
   * `slotNames` are the per-weight accumulators of the rule (each a `<name>.<key>` state);
   * they must not clash with the optimizer's attribute names.
   */
  protected constructor(
    owner: string,
    options: OptimizerOptions,
    defaultLr: number | null,
    slotNames: readonly string[],
  ) {
    // Check everything before allocating the counters, so a bad option leaks nothing.
    const clipNorm = optionalNumber(
      owner,
      'clipNorm',
      options.clipNorm,
      { min: 0, minOpen: true },
      null,
    );
    const nonFinite = checkChoice(
      owner,
      'nonFinite',
      options.nonFinite,
      ['error', 'skip'],
      'error',
    );
    if (options.lr === undefined && defaultLr === null) {
      throw new ArgumentError(`${owner}: lr is required (a number, a State or a schedule)`);
    }
    const lr = toScheduler(owner, options.lr ?? defaultLr);
    super();
    this.lr = lr;
    this.clipNorm = clipNorm;
    this.nonFinite = nonFinite;
    this[SLOT_NAMES] = Object.freeze([...slotNames]);
    for (const name of slotNames) {
      if (name in this) {
        throw new ArgumentError(`${owner}: slot name '${name}' clashes with an attribute`);
      }
      (this as unknown as Record<string, SlotDict>)[name] = Object.create(null) as SlotDict;
    }
    this.stepCount = new LongTermState(tf.scalar(0, 'int32'), { name: 'stepCount' });
    this.skippedSteps = new LongTermState(tf.scalar(0, 'int32'), { name: 'skippedSteps' });
  }

  /** The per-tensor update rule: new parameter and slot values from the old ones and the gradient. */
  protected abstract rule(
    param: tf.Tensor,
    grad: tf.Tensor,
    slots: Readonly<Record<string, tf.Tensor>>,
    scalars: S,
  ): LeafUpdate;

  /** Per-step scalars shared by every tensor of a step (bias corrections …); runs inside the update's tidy. */
  protected prepare(base: StepScalars): S {
    return base as S;
  }

  /** The names of this optimizer's slots (`['m', 'v']` for Adam). */
  get slotNames(): readonly string[] {
    return this[SLOT_NAMES];
  }

  /**
   * The registered weights, keyed as registered (the paths of a FlatDict, the keys of a Map or
   * object, the indices of an array). Pass it as `gradStates` so the gradients come back keyed
   * exactly as `update` expects.
   */
  get weights(): FlatDict<AnyState> {
    return (this[WEIGHTS_VIEW] ??= new FlatDict(
      [...this[WEIGHTS].values()].map((r) => [r.path, r.state] as const),
    ));
  }

  /** The slot state of one kind for one weight key, e.g. `slot('m', 'layers.0.weight')`. */
  slot(name: string, key: string): LongTermState<StateValue> {
    if (!this[SLOT_NAMES].includes(name)) {
      throw new KeyNotFoundError(
        `${this.constructor.name}.slot: no slot '${name}' (slots: ${listKeys([...this[SLOT_NAMES]])})`,
      );
    }
    const s = (this as unknown as Record<string, SlotDict>)[name][key];
    if (s === undefined) {
      throw new KeyNotFoundError(
        `${this.constructor.name}.slot: no registered weight '${key}' (registered: ${listKeys([...this[WEIGHTS].keys()])})`,
      );
    }
    return s;
  }

  /** The step and skipped-step counters as numbers (reads tensor data; for logging and tests). */
  counts(): { steps: number; skipped: number } {
    return {
      steps: this.stepCount.value.dataSync()[0],
      skipped: this.skippedSteps.value.dataSync()[0],
    };
  }

  /**
   * Add weights to train: a FlatDict (`net.states(ParamState)`), a Map, a plain object of States,
   * or an array of States (keys '0', '1' …). Each State is added once (by identity; registering
   * it again is a no-op); each new one gets zero-filled slots shaped like its value. Values must
   * be float32 tensors or trees (arrays / plain objects) of them.
   */
  registerTrainableWeights(states: TrainableWeights): void {
    const where = `${this.constructor.name}.registerTrainableWeights`;
    const pairs = readWeights(states, where);
    const registered = this[WEIGHTS];
    const known = new Set<AnyState>([...registered.values()].map((r) => r.state));
    const fresh = new Map<string, Registered>();
    for (const [path, state] of pairs) {
      if (known.has(state)) continue;
      known.add(state);
      const key = dottedPath(path);
      const taken = registered.get(key) ?? fresh.get(key);
      if (taken !== undefined) {
        throw new ArgumentError(
          `${where}: key '${key}' is already registered for another state (${taken.state.describe()}); ` +
            `register ${state.describe()} under another key`,
        );
      }
      checkTrainable(where, key, state);
      fresh.set(key, { path, state });
    }
    for (const [key, r] of fresh) {
      registered.set(key, r);
      for (const name of this[SLOT_NAMES]) {
        const zeros = mapLeaves(r.state.rawValue, (l) => tf.zerosLike(l as tf.Tensor));
        const slots = (
          this as unknown as Record<string, Record<string, LongTermState<StateValue>>>
        )[name];
        slots[key] = new LongTermState(zeros, { name: `${name}.${key}` });
      }
    }
    if (fresh.size) this[WEIGHTS_VIEW] = null;
  }

  /**
   * Apply one step: `grads` must be keyed exactly like the registered weights (see `weights`);
   * tree-valued weights take gradients of the same structure. The new values are written with
   * `.value =` (so this works inside jit); gradients are not disposed.
   */
  override update(grads: Gradients): void {
    const where = `${this.constructor.name}.update`;
    const items = this.readUpdate(grads, where);
    if (this.nonFinite === 'error') this.throwIfNonFinite(items, where);
    tf.tidy(() => {
      let grads = items.map((it) => it.grads);
      const all = grads.flat();
      const ok = this.nonFinite === 'skip' ? tf.isFinite(nonFiniteProbe(all)) : null;
      if (this.clipNorm !== null) {
        const factor = clipFactor(globalNormOf(all), this.clipNorm);
        grads = grads.map((gs) => gs.map((g) => tf.mul(g, factor)));
      }
      const t = tf.add(tf.cast(this.stepCount.value, 'float32'), 1);
      const scalars = this.prepare({ lr: this.lr.call(), t });
      const keep = (next: tf.Tensor, old: tf.Tensor) => (ok ? tf.where(ok, next, old) : next);
      const writes: [AnyState, StateValue][] = [];
      items.forEach((it, k) => {
        const newParams: tf.Tensor[] = [];
        const newSlots: Record<string, tf.Tensor[]> = {};
        for (const name of this[SLOT_NAMES]) newSlots[name] = [];
        it.params.forEach((p, j) => {
          const slots: Record<string, tf.Tensor> = {};
          for (const name of this[SLOT_NAMES]) slots[name] = it.slots[name].leaves[j];
          const r = this.rule(p, grads[k][j], slots, scalars);
          newParams.push(keep(r.param, p));
          for (const name of this[SLOT_NAMES])
            newSlots[name].push(keep(r.slots[name], slots[name]));
        });
        writes.push([it.state, rebuild(it.value, newParams)]);
        for (const name of this[SLOT_NAMES]) {
          const slot = it.slots[name].state;
          writes.push([slot, rebuild(slot.rawValue, newSlots[name])]);
        }
      });
      // Every new value is computed before the first write: a write releases the old value.
      for (const [state, value] of writes) state.value = value;
      const one = tf.scalar(1, 'int32'); // int32 + a JS number would give float32
      const applied = ok ? tf.cast(ok, 'int32') : one;
      this.stepCount.value = tf.add(this.stepCount.value, applied);
      if (ok) this.skippedSteps.value = tf.add(this.skippedSteps.value, tf.sub(one, applied));
      this.lr.stepCall(applied);
    });
  }

  /** Match the gradients to the registered weights and check structure and shapes. */
  private readUpdate(grads: Gradients, where: string): UpdateItem[] {
    const registered = this[WEIGHTS];
    if (registered.size === 0) {
      throw new ArgumentError(
        `${where}: no weights registered; call registerTrainableWeights(net.states(ParamState)) first`,
      );
    }
    const byState = new Map<AnyState, string>();
    for (const [key, r] of registered) byState.set(r.state, key);
    const given = new Map<string, unknown>();
    const extra: string[] = [];
    const strangers: string[] = [];
    for (const [k, g] of readGradients(grads, where)) {
      const key = k instanceof State ? byState.get(k) : k;
      if (key === undefined) strangers.push((k as AnyState).describe());
      else if (!registered.has(key)) extra.push(key);
      else if (given.has(key)) {
        throw new ArgumentError(`${where}: two gradients given for '${key}'`);
      } else given.set(key, g);
    }
    const missing = [...registered.keys()].filter((k) => !given.has(k));
    if (strangers.length || extra.length || missing.length) {
      const parts: string[] = [];
      if (strangers.length)
        parts.push(`gradients given for unregistered weights ${strangers.join(', ')}`);
      if (extra.length)
        parts.push(`gradients given for ${listKeys(extra)}, which are not registered weights`);
      if (missing.length) parts.push(`no gradient for the registered weights ${listKeys(missing)}`);
      throw new KeyNotFoundError(
        `${where}: ${parts.join('; ')}. The gradients must have exactly the registered keys ` +
          `(${listKeys([...registered.keys()])}): take them with grad(loss, { gradStates: opt.weights }), ` +
          `and register new weights with registerTrainableWeights first.`,
      );
    }
    return [...registered].map(([key, r]) => {
      const value = r.state.value;
      const params = leaves(value) as tf.Tensor[];
      const gradLeaves = alignGradient(where, key, r.state, value, given.get(key));
      const slots: UpdateItem['slots'] = {};
      for (const name of this[SLOT_NAMES]) {
        const state = this.slot(name, key);
        const slotLeaves = leaves(state.value) as tf.Tensor[];
        const fits =
          slotLeaves.length === params.length &&
          slotLeaves.every((s, j) => sameShape(s.shape, params[j].shape));
        if (!fits) {
          throw new StateError(
            `${where}: ${r.state.describe()} (key '${key}') changed shape since it was registered; ` +
              `its optimizer slot '${name}.${key}' no longer fits. Create a new optimizer for the new shapes.`,
          );
        }
        slots[name] = { state, leaves: slotLeaves };
      }
      return { key, state: r.state, value, params, grads: gradLeaves, slots };
    });
  }

  /** In 'error' mode: one scalar read per update; throw naming the first weight with a NaN/Inf gradient. */
  private throwIfNonFinite(items: readonly UpdateItem[], where: string): void {
    const probes = tf.tidy(() => tf.stack(items.map((it) => nonFiniteProbe(it.grads))));
    const data = probes.dataSync();
    probes.dispose();
    const k = data.findIndex((v) => !Number.isFinite(v));
    if (k < 0) return;
    const it = items[k];
    const counts = tf.tidy(() =>
      tf.stack([
        tf.addN(it.grads.map((g) => tf.sum(tf.cast(tf.isNaN(g), 'float32')))),
        tf.addN(it.grads.map((g) => tf.sum(tf.cast(tf.isInf(g), 'float32')))),
      ]),
    );
    const [nan, inf] = counts.dataSync();
    counts.dispose();
    const bad = items.slice(k + 1).filter((_, j) => !Number.isFinite(data[k + 1 + j]));
    const step = this.stepCount.value.dataSync()[0] + 1;
    throw new NonFiniteGradientError(
      `${where}: the gradient of '${it.key}' (${it.state.describe()}) has ${nan} NaN and ${inf} infinite ` +
        `value(s) at step ${step}` +
        (bad.length ? `; also non-finite: ${listKeys(bad.map((b) => b.key))}` : '') +
        `. Nothing was updated. Fix the loss (log of 0, division by 0, exploding activity), clip the ` +
        `gradients (clipNorm), or pass { nonFinite: 'skip' } to skip such steps.`,
      it.key,
      nan,
      inf,
    );
  }
}

/** A float32 scalar that is NaN iff some gradient element is NaN or ±Infinity (Σ 0·g). */
function nonFiniteProbe(grads: readonly tf.Tensor[]): tf.Tensor {
  const sums = grads.map((g) => tf.sum(tf.mul(g, 0)));
  return sums.length === 1 ? sums[0] : tf.addN(sums);
}

/** Check a state can be trained: a float32 tensor or a non-empty tree of them. */
function checkTrainable(where: string, key: string, state: AnyState): void {
  const ls = leaves(state.rawValue);
  const bad = ls.find((l) => !isTensor(l) || l.dtype !== 'float32');
  if (ls.length === 0 || bad !== undefined) {
    throw new ArgumentError(
      `${where}: '${key}' (${state.describe()}) cannot be trained: its value must be a float32 tensor ` +
        `or arrays / plain objects of them, but ${ls.length === 0 ? 'it has no tensors' : `it holds ${describeValue(bad)}`}`,
    );
  }
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((n, i) => n === b[i]);
}

/** The gradient's tensors in the order of the value's leaves; structure and shapes must match. */
function alignGradient(
  where: string,
  key: string,
  state: AnyState,
  value: StateValue,
  grad: unknown,
): tf.Tensor[] {
  const out: tf.Tensor[] = [];
  const fail = (at: string, problem: string): never => {
    throw new StateError(
      `${where}: the gradient of '${key}'${at} ${problem} (it must match the value of ${state.describe()})`,
    );
  };
  const walk = (v: StateValue, g: unknown, at: string): void => {
    if (isTensor(v)) {
      if (!isTensor(g))
        return fail(at, `is ${describeValue(g)}, expected a tensor of shape [${v.shape}]`);
      if (!sameShape(v.shape, g.shape))
        return fail(at, `has shape [${g.shape}], expected [${v.shape}]`);
      if (g.dtype !== 'float32') return fail(at, `has dtype ${g.dtype}, expected float32`);
      out.push(g);
    } else if (Array.isArray(v)) {
      if (!Array.isArray(g) || g.length !== v.length)
        return fail(at, `is ${describeValue(g)}, expected an array of length ${v.length}`);
      v.forEach((x, i) => walk(x, g[i], `${at}[${i}]`));
    } else {
      const o = v as Record<string, StateValue>;
      const keys = Object.keys(o);
      if (!isPlainObject(g))
        return fail(at, `is ${describeValue(g)}, expected an object with keys ${keys.join(', ')}`);
      const gk = Object.keys(g);
      if (gk.length !== keys.length || !keys.every((k) => k in g))
        return fail(at, `has keys {${gk.join(', ')}}, expected {${keys.join(', ')}}`);
      for (const k of keys) walk(o[k], g[k], `${at}.${k}`);
    }
  };
  walk(value, grad, '');
  return out;
}

/** The value's structure with the given tensors at its leaves, in order. */
function rebuild(template: StateValue, values: readonly tf.Tensor[]): StateValue {
  let i = 0;
  return mapLeaves(template, () => values[i++]);
}
