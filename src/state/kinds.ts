/**
 * The State subclasses (spec §1.2). The class is a label: graph filters and transforms select
 * states by it (optimizers take ParamStates, online learning follows HiddenStates, BatchNorm
 * keeps BatchStates). HiddenState and HiddenGroupState also constrain their values.
 */
import { tf } from '../backend/tf';
import { ArgumentError, StateError, describeValue } from '../errors';
import { State, type StateOptions } from './State';
import { isTensor, type StateValue } from './tree';

/** Transient per-step values: synaptic currents, masks, delay pointers. */
export class ShortTermState<T extends StateValue = tf.Tensor> extends State<T> {}

/** Values that persist across steps and epochs: running statistics, optimizer moments. */
export class LongTermState<T extends StateValue = tf.Tensor> extends State<T> {}

/** Trainable parameters: what grad differentiates and optimizers update. */
export class ParamState<T extends StateValue = tf.Tensor> extends LongTermState<T> {}

/** Values with a leading batch axis, e.g. BatchNorm running statistics. */
export class BatchState<T extends StateValue = tf.Tensor> extends LongTermState<T> {}

/** History buffers of delays. */
export class DelayState<T extends StateValue = tf.Tensor> extends ShortTermState<T> {}

/** Never batched by vmap over new states (replicated per lane). */
export class NonBatchState<T extends StateValue = tf.Tensor> extends ShortTermState<T> {}

/**
 * Dynamical variables (membrane potential, synaptic conductance, RNN hidden state). The value is
 * one floating-point tensor; online learning follows these through a model step.
 */
export class HiddenState extends ShortTermState<tf.Tensor> {
  protected override checkNewValue(v: unknown, where: string): asserts v is tf.Tensor {
    if (!isTensor(v)) {
      throw new StateError(
        `${this.describe()}.${where}: a hidden state holds one tensor; got ${
          Array.isArray(v) ? 'an array' : v === null ? 'null' : typeof v
        } (wrap numbers with tf.tensor / tf.scalar)`,
      );
    }
    if (v.dtype !== 'float32') {
      throw new StateError(
        `${this.describe()}.${where}: a hidden state must be float32, got ${v.dtype}`,
      );
    }
  }

  /** Shape of the variable (= the value's shape). */
  get varshape(): number[] {
    return this.rawValue.shape;
  }

  /** Number of hidden variables held (1). */
  get numState(): number {
    return 1;
  }
}

export interface HiddenGroupOptions extends StateOptions {
  /** Names of the variables along the last axis (e.g. ['V', 'a']). */
  names?: readonly string[];
}

/**
 * Several hidden variables of the same shape in one tensor whose last axis indexes them
 * (e.g. a GIF neuron's V and two currents: [batch, n, 3]).
 */
export class HiddenGroupState extends HiddenState {
  declare readonly names: readonly string[] | null;

  constructor(value: tf.Tensor, options: HiddenGroupOptions = {}) {
    const label = `HiddenGroupState${options.name != null ? `(name='${options.name}')` : ''}`;
    if (isTensor(value) && value.rank < 2) {
      throw new StateError(
        `${label}: a hidden group needs rank ≥ 2 (the last axis indexes the variables), got shape [${value.shape}]`,
      );
    }
    if (
      isTensor(value) &&
      options.names != null &&
      options.names.length !== value.shape[value.rank - 1]
    ) {
      throw new ArgumentError(
        `${label}: ${options.names.length} names given for ${value.shape[value.rank - 1]} variables along the last axis`,
      );
    }
    super(value, options);
    Object.defineProperty(this, 'names', {
      value: options.names ? [...options.names] : null,
      enumerable: false,
    });
  }

  /** Shape of one variable (the value's shape without the last axis). */
  override get varshape(): number[] {
    return this.rawValue.shape.slice(0, -1);
  }

  override get numState(): number {
    return this.rawValue.shape[this.rawValue.rank - 1];
  }

  private indexOf(key: number | string, where: string): number {
    if (typeof key === 'string') {
      const byName = this.names?.indexOf(key) ?? -1;
      if (byName >= 0) return byName;
      if (/^\d+$/.test(key)) return this.indexOf(Number(key), where);
      throw new ArgumentError(
        `${this.describe()}.${where}: unknown variable '${key}'; known: ${this.names ? this.names.join(', ') : `indices 0..${this.numState - 1}`}`,
      );
    }
    if (!Number.isInteger(key) || key < 0 || key >= this.numState) {
      throw new ArgumentError(
        `${this.describe()}.${where}: index ${key} out of range [0, ${this.numState})`,
      );
    }
    return key;
  }

  /** One variable, by index or name. */
  getValue(key: number | string): tf.Tensor {
    const i = this.indexOf(key, 'getValue');
    const v = this.value;
    return tf.tidy(() => tf.gather(v, i, v.rank - 1));
  }

  /** Replace some variables: `{ V: x }`, `{ 0: x }`, or a full list of tensors. */
  setValue(update: Readonly<Record<string, tf.Tensor>> | readonly tf.Tensor[]): void {
    const v = this.value;
    const parts = tf.unstack(v, v.rank - 1);
    const entries: [number | string, tf.Tensor][] = Array.isArray(update)
      ? (update as tf.Tensor[]).map((t, i) => [i, t])
      : Object.entries(update);
    if (Array.isArray(update) && update.length !== parts.length) {
      tf.dispose(parts);
      throw new ArgumentError(
        `${this.describe()}.setValue: ${update.length} values for ${parts.length} variables`,
      );
    }
    for (const [k, t] of entries) {
      const i = this.indexOf(k, 'setValue');
      if (!isTensor(t) || t.shape.join(',') !== this.varshape.join(',') || t.dtype !== 'float32') {
        tf.dispose(parts);
        throw new StateError(
          `${this.describe()}.setValue: variable ${k} expects float32[${this.varshape}], got ${isTensor(t) ? `${t.dtype}[${t.shape}]` : typeof t}`,
        );
      }
      parts[i].dispose();
      parts[i] = t;
    }
    const next = tf.stack(parts, v.rank - 1);
    parts.forEach((p, i) => {
      if (!entries.some(([k]) => this.indexOf(k, 'setValue') === i)) p.dispose();
    });
    this.value = next;
  }
}

/** Names of the variables stacked in a tensor a HiddenTreeState held, so clones built from the bare tensor keep them. */
const treeNames = new WeakMap<tf.Tensor, readonly string[]>();

/**
 * Named hidden variables of one shape, given as a record `{ V: v, I: i }` and stored as ONE
 * stacked tensor `[...varshape, S]` (the last axis in the record's key order), so the online
 * learners treat them as a group. `getValue('V')` / `setValue({ V: x })` work by name, and
 * `getTree()` returns the whole record. The record's tensors stay the caller's (the state holds a
 * new stacked tensor). The constructor also accepts the stacked tensor itself
 * (with `names`), as clones and snapshots rebuild states from their value.
 */
export class HiddenTreeState extends HiddenGroupState {
  constructor(
    value: Readonly<Record<string, tf.Tensor>> | tf.Tensor,
    options: HiddenGroupOptions = {},
  ) {
    const label = `HiddenTreeState${options.name != null ? `(name='${options.name}')` : ''}`;
    if (isTensor(value)) {
      const names = options.names ?? treeNames.get(value);
      super(value, names ? { ...options, names } : options);
    } else {
      const [stacked, names] = stackTree(label, value, options.names);
      try {
        super(stacked, { ...options, names });
      } catch (e) {
        stacked.dispose();
        throw e;
      }
    }
    if (this.names) treeNames.set(this.rawValue, this.names);
  }

  protected override checkNewValue(v: unknown, where: string): asserts v is tf.Tensor {
    super.checkNewValue(v, where);
    // `names` is undefined during the base constructor's check.
    if (this.names) treeNames.set(v, this.names);
  }

  /** All variables as a record `{ name: tensor }` (new tensors; the caller disposes them). */
  getTree(): Record<string, tf.Tensor> {
    const v = this.value;
    const names = this.names ?? Array.from({ length: this.numState }, (_, i) => String(i));
    const parts = tf.unstack(v, v.rank - 1);
    return Object.fromEntries(names.map((n, i) => [n, parts[i]]));
  }

  override copy(): this {
    const Ctor = this.constructor as new (v: tf.Tensor, o: HiddenGroupOptions) => this;
    return new Ctor(this.rawValue, this.sameOptions());
  }

  override replace(value?: tf.Tensor | State<tf.Tensor>): State<tf.Tensor> {
    if (value instanceof State) return super.replace(value);
    const Ctor = this.constructor as new (v: tf.Tensor, o: HiddenGroupOptions) => State<tf.Tensor>;
    return new Ctor(value ?? this.rawValue, this.sameOptions());
  }

  private sameOptions(): HiddenGroupOptions {
    return {
      name: this.name ?? undefined,
      tag: [...this.tags],
      ...(this.names ? { names: this.names } : {}),
    };
  }
}

/** Check a record of same-shaped float32 tensors and stack it on a new last axis. */
function stackTree(
  label: string,
  tree: unknown,
  names: readonly string[] | undefined,
): [tf.Tensor, string[]] {
  if (tree === null || typeof tree !== 'object' || Array.isArray(tree)) {
    throw new StateError(
      `${label}: expected a record of tensors { name: tensor }, got ${describeValue(tree)}`,
    );
  }
  const entries = Object.entries(tree as Record<string, unknown>);
  if (entries.length === 0) {
    throw new StateError(`${label}: the record of hidden variables is empty`);
  }
  const keys = entries.map(([k]) => k);
  if (names != null && names.join('\u0000') !== keys.join('\u0000')) {
    throw new ArgumentError(
      `${label}: names [${names.join(', ')}] differ from the record's keys [${keys.join(', ')}]; omit names`,
    );
  }
  const [k0, first] = entries[0];
  for (const [k, t] of entries) {
    if (!isTensor(t)) {
      throw new StateError(`${label}: variable '${k}' must be a tensor, got ${describeValue(t)}`);
    }
    if (t.dtype !== 'float32') {
      throw new StateError(`${label}: variable '${k}' must be float32, got ${t.dtype}`);
    }
    if (t.rank === 0) {
      throw new StateError(
        `${label}: variable '${k}' is a scalar; the variables need rank ≥ 1 (use shape [1])`,
      );
    }
    const s0 = (first as tf.Tensor).shape;
    if (!tf.util.arraysEqual(t.shape, s0)) {
      throw new StateError(
        `${label}: all variables must have one shape; '${k0}' is [${s0.join(', ')}] but '${k}' is [${t.shape.join(', ')}]`,
      );
    }
  }
  const parts = entries.map(([, t]) => t as tf.Tensor);
  return [tf.stack(parts, parts[0].rank), keys];
}

/** A plain holder with `.value` and `.name` and no tracing (placeholders). */
export class FakeState<T = unknown> {
  constructor(
    public value: T,
    public name: string | null = null,
  ) {}
}
