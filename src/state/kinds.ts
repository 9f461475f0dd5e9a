/**
 * The State subclasses (spec §1.2). The class is a label: graph filters and transforms select
 * states by it (optimizers take ParamStates, online learning follows HiddenStates, BatchNorm
 * keeps BatchStates). HiddenState and HiddenGroupState also constrain their values.
 */
import { tf } from '../backend/tf';
import { ArgumentError, StateError } from '../errors';
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

/** A plain holder with `.value` and `.name` and no tracing (placeholders). */
export class FakeState<T = unknown> {
  constructor(
    public value: T,
    public name: string | null = null,
  ) {}
}
