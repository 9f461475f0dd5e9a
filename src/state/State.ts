/**
 * State: a typed mutable container for one tensor (or a small tree of tensors and numbers), the
 * unit of stateful programming in brainstate-ts (spec §1.1–1.2). Reads and writes of `.value`
 * are recorded on the trace stack; writes are checked against the current shape, dtype and
 * structure and hand the tensor's ownership to the state; subclasses label what a state is for
 * (parameters, hidden dynamics, batch statistics) so graph filters and transforms can select it.
 */
import { tf } from '../backend/tf';
import { StateError } from '../errors';
import { notifyNewState } from './catchNewStates';
import { acquire, flushDisposals, release } from './ownership';
import { recordRead, recordWrite, traceLevel } from './traceStack';
import {
  isStateValue,
  isTensor,
  leaves,
  mapLeaves,
  tensorLeaves,
  treeSignature,
  treeStructure,
  type Leaf,
  type StateValue,
} from './tree';

export interface StateOptions {
  /** A name for messages and reprs; not unique. */
  name?: string;
  /** One tag or several; filters select states by tag. */
  tag?: string | readonly string[];
}

let nextStateId = 0;

function adopt(v: StateValue): void {
  for (const t of tensorLeaves(v)) acquire(t);
}
function releaseAll(v: StateValue): void {
  for (const t of tensorLeaves(v)) release(t);
}

/** A mutable container for a value whose reads and writes transforms can see. */
export class State<T extends StateValue = tf.Tensor> {
  /** Process-unique id (states compare by identity; the id is for messages and ordering). */
  readonly id = nextStateId++;
  name: string | null;
  /** The trace level at creation: reads/writes are recorded by frames at or above it. */
  level: number;
  /** True once `.value` was assigned (restores do not count). */
  beenWritten = false;
  /** Where the state sits in a module graph, filled in by graph traversal (for messages). */
  pathHint: string | null = null;
  private tagSet: Set<string> | null = null;
  private current: T;
  /**
   * The value a jit replay wrote into this state (a tensor it created), as long as nothing outside
   * the jit has obtained it since: `.value`, `rawValue`, copies and snapshots clear it. Only such a
   * value may be overwritten in place by default (statefulFunction.ts), since no one can see it.
   */
  private sealed: T | null = null;

  constructor(value: T | State<T>, options: StateOptions = {}) {
    const v = value instanceof State ? (value.rawValue as T) : value;
    this.checkNewValue(v, 'constructor');
    this.current = v;
    adopt(v);
    this.name = options.name ?? null;
    if (options.tag != null) {
      for (const t of typeof options.tag === 'string' ? [options.tag] : options.tag) this.addTag(t);
    }
    this.level = traceLevel();
    notifyNewState(this as unknown as State<StateValue>);
  }

  /** Hook for subclasses: reject values of the wrong kind (HiddenState needs one tensor, …). */
  protected checkNewValue(v: unknown, where: string): asserts v is T {
    if (v instanceof State) {
      throw new StateError(
        `${this.describe()}.${where}: cannot take a State as value; use copyFrom()`,
      );
    }
    if (!isStateValue(v)) {
      throw new StateError(
        `${this.describe()}.${where}: expected a tensor, a number, or arrays/plain objects of them; got ${describe(v)}`,
      );
    }
  }

  /** The current value (recorded as a read). The tensor stays owned by the state: clone it to keep it past the next write. */
  get value(): T {
    recordRead(this as unknown as State<StateValue>);
    this.sealed = null;
    return this.current;
  }

  /** Replace the value (recorded as a write). Shape, dtype and structure must match the current value. */
  set value(v: T) {
    this.checkNewValue(v, 'value');
    this.checkCompatible(v, 'value');
    recordWrite(this as unknown as State<StateValue>);
    this.beenWritten = true;
    this.swap(v);
  }

  /** The value without recording a read (for the framework's own bookkeeping). */
  get rawValue(): T {
    this.sealed = null;
    return this.current;
  }

  /**
   * Framework-internal (jit replay): the value without recording a read and without exposing it.
   * The caller must not hand the result to user code.
   */
  peekValue(): T {
    return this.current;
  }

  /** Framework-internal (jit replay): mark the current value as seen by the jit only. */
  seal(): void {
    this.sealed = this.current;
  }

  /** True while the current value is the one last sealed and nothing has obtained it since. */
  get isSealed(): boolean {
    return this.sealed !== null && this.sealed === this.current;
  }

  /** Shape of a single-tensor value. */
  get shape(): number[] {
    const v = this.current;
    if (!isTensor(v))
      throw new StateError(`${this.describe()}: shape is defined only for a single-tensor value`);
    return v.shape;
  }

  /** Dtype of a single-tensor value. */
  get dtype(): tf.DataType {
    const v = this.current;
    if (!isTensor(v))
      throw new StateError(`${this.describe()}: dtype is defined only for a single-tensor value`);
    return v.dtype;
  }

  /** Put a value back without marking the state written (transforms use this). Checked like a write. */
  restoreValue(v: T, options: { allowReshape?: boolean } = {}): void {
    this.checkNewValue(v, 'restoreValue');
    if (!options.allowReshape) this.checkCompatible(v, 'restoreValue');
    recordRead(this as unknown as State<StateValue>);
    this.swap(v);
  }

  /** Give the state a value of a new shape or dtype (e.g. when re-initialising for another batch size). */
  reinitialize(v: T): void {
    this.checkNewValue(v, 'reinitialize');
    recordWrite(this as unknown as State<StateValue>);
    this.beenWritten = true;
    this.swap(v);
  }

  private swap(v: T): void {
    const old = this.current;
    if (old === v) return;
    adopt(v);
    this.current = v;
    this.sealed = null;
    releaseAll(old);
    flushDisposals();
  }

  private checkCompatible(v: T, where: string): void {
    const old = this.current;
    if (isTensor(old) && isTensor(v)) {
      if (old.dtype === v.dtype && sameShape(old.shape, v.shape)) return;
    } else if (treeSignature(old) === treeSignature(v)) {
      return;
    }
    const what = treeStructure(old) === treeStructure(v) ? 'shape/dtype' : 'structure';
    throw new StateError(
      `${this.describe()}.${where}: ${what} mismatch: expected ${treeSignature(old)}, got ${treeSignature(v)}` +
        ` (use reinitialize() to change the shape on purpose)`,
    );
  }

  /** Tags of this state (empty if none). */
  get tags(): ReadonlySet<string> {
    return this.tagSet ?? new Set();
  }

  addTag(tag: string): void {
    if (typeof tag !== 'string' || tag === '') {
      throw new StateError(
        `${this.describe()}.addTag: a tag must be a non-empty string, got ${describe(tag)}`,
      );
    }
    (this.tagSet ??= new Set()).add(tag);
  }

  hasTag(tag: string): boolean {
    return this.tagSet?.has(tag) ?? false;
  }

  /** Total number of elements over all leaves (a number counts 1). */
  numel(): number {
    let n = 0;
    for (const l of leaves(this.current)) n += isTensor(l) ? l.size : 1;
    return n;
  }

  /** Map a function over the leaves of the value (recorded as a read). */
  valueCall(fn: (leaf: Leaf) => Leaf): T {
    return mapLeaves(this.value, fn);
  }

  /** A new state of the same class with the same value, name and tags. */
  copy(): this {
    const Ctor = this.constructor as new (v: T, o: StateOptions) => this;
    return new Ctor(this.rawValue, { name: this.name ?? undefined, tag: [...this.tags] });
  }

  /**
   * A shallow clone with a new value. Given a state of the same class, returns that state;
   * a state of another class is an error.
   */
  replace(value?: T | State<T>): State<T> {
    if (value instanceof State) {
      if (value.constructor !== this.constructor) {
        throw new StateError(
          `${this.describe()}.replace: expected a ${this.constructor.name}, got a ${value.constructor.name}`,
        );
      }
      return value;
    }
    const Ctor = this.constructor as new (v: T, o: StateOptions) => State<T>;
    return new Ctor(value ?? this.rawValue, { name: this.name ?? undefined, tag: [...this.tags] });
  }

  /** Adopt another state's value, name and tags (same class required); keeps this state's identity. */
  copyFrom(other: State<T>): void {
    if (other === this) return;
    if (other.constructor !== this.constructor) {
      throw new StateError(
        `${this.describe()}.copyFrom: expected a ${this.constructor.name}, got a ${other.constructor.name}`,
      );
    }
    this.swap(other.rawValue);
    this.name = other.name;
    this.tagSet = other.tagSet ? new Set(other.tagSet) : null;
  }

  /** Release the value's tensors (the state must not be used afterwards). */
  dispose(): void {
    this.sealed = null;
    releaseAll(this.current);
    this.current = 0 as unknown as T;
  }

  /** `ParamState 'layers.0.weight'`, `HiddenState(name='V')` or `State#12`, for messages. */
  describe(): string {
    const cls = this.constructor.name;
    if (this.pathHint != null) return `${cls} '${this.pathHint}'`;
    if (this.name != null) return `${cls}(name='${this.name}')`;
    return `${cls}#${this.id}`;
  }

  toString(): string {
    const parts = [`value=${treeSignature(this.current)}`];
    if (this.name != null) parts.push(`name='${this.name}'`);
    if (this.tagSet?.size) parts.push(`tag=[${[...this.tagSet].map((t) => `'${t}'`).join(', ')}]`);
    return `${this.constructor.name}(${parts.join(', ')})`;
  }
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function describe(v: unknown): string {
  if (v === null || v === undefined) return String(v);
  if (isTensor(v)) return `Tensor(${v.dtype}[${v.shape.join(',')}])`;
  if (Array.isArray(v)) return `array(length ${v.length})`;
  if (typeof v === 'object') return (v as object).constructor?.name ?? 'object';
  return typeof v === 'string' ? `string ${JSON.stringify(v)}` : `${typeof v} ${String(v)}`;
}

/** `x.value` if `x` is a State, else `x`. */
export function maybeState<T extends StateValue>(x: T | State<T>): T {
  return x instanceof State ? x.value : x;
}
