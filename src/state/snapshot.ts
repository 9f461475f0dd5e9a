/**
 * Snapshots of state values. `TreefyState` is a pure reference to one state (its class, value and
 * metadata) used by the graph's split/merge; a `StateDict` is a frozen plain object
 * `{ path: value }` (immer), updated functionally with `updateStateDict` (immer's produce).
 * A snapshot co-owns its tensors (ownership.ts), so later writes to the states cannot free them;
 * `disposeSnapshot` / `disposeStateDict` let go.
 */
import { freeze, immerable, produce, type Draft } from 'immer';
import { KeyNotFoundError, StateError } from '../errors';
import { State, type StateOptions } from './State';
import { acquire, release } from './ownership';
import { tensorLeaves, type StateValue } from './tree';

/** A State class (constructor). */
export type StateClass = new (value: never, options?: StateOptions) => State<StateValue>;

/** The metadata a TreefyState carries besides the value. */
export interface StateMetadata {
  readonly name: string | null;
  readonly tags: readonly string[];
  readonly beenWritten: boolean;
}

/** A pure, immutable reference to a state: class + value + metadata (spec §1.3). */
export class TreefyState<T extends StateValue = StateValue> {
  [immerable] = true;
  constructor(
    readonly type: StateClass,
    readonly value: T,
    readonly metadata: StateMetadata,
  ) {
    for (const t of tensorLeaves(value)) acquire(t);
    freeze(this);
  }

  /** Snapshot a live state (no read is recorded). */
  static of<T extends StateValue>(state: State<T>): TreefyState<T> {
    return new TreefyState(state.constructor as StateClass, state.rawValue, {
      name: state.name,
      tags: [...state.tags],
      beenWritten: state.beenWritten,
    });
  }

  /** A fresh live state of the recorded class holding this value. */
  toState(): State<T> {
    const Ctor = this.type as unknown as new (v: T, o: StateOptions) => State<T>;
    return new Ctor(this.value, { name: this.metadata.name ?? undefined, tag: this.metadata.tags });
  }

  /** The same reference with another value. */
  replace(value: T): TreefyState<T> {
    return new TreefyState(this.type, value, this.metadata);
  }

  /** Write this value into an existing live state: as a write if it was written, else a restore. */
  updateState(state: State<T>): void {
    if (!((state as unknown) instanceof this.type)) {
      throw new StateError(
        `${(state as State<T>).describe()}: cannot update from a reference to a ${this.type.name}`,
      );
    }
    if (this.metadata.beenWritten) state.value = this.value;
    else state.restoreValue(this.value);
  }

  /** Release this snapshot's hold on its tensors. */
  dispose(): void {
    for (const t of tensorLeaves(this.value)) release(t);
  }

  toString(): string {
    return `TreefyState(${this.type.name}, ${tensorLeaves(this.value)
      .map((t) => `${t.dtype}[${t.shape}]`)
      .join(', ')})`;
  }
}

/** A frozen `{ key: value }` map of state values (keys are dotted paths or user names). */
export type StateDict = Readonly<Record<string, StateValue>>;

/** Snapshot the values of named states into a frozen StateDict that co-owns the tensors. */
export function stateDict(
  states:
    Iterable<readonly [string, State<StateValue>]> | Readonly<Record<string, State<StateValue>>>,
): StateDict {
  const entries =
    Symbol.iterator in states
      ? [...(states as Iterable<readonly [string, State<StateValue>]>)]
      : Object.entries(states);
  const out: Record<string, StateValue> = {};
  for (const [k, s] of entries) {
    if (!(s instanceof State)) throw new StateError(`stateDict: entry '${k}' is not a State`);
    for (const t of tensorLeaves(s.rawValue)) acquire(t);
    out[k] = s.rawValue;
  }
  return freeze(out, true);
}

/** A new frozen StateDict from a recipe that edits a draft (immer's produce). */
export function updateStateDict(
  dict: StateDict,
  recipe: (draft: Draft<Record<string, StateValue>>) => void,
): StateDict {
  return produce(dict as Record<string, StateValue>, recipe);
}

/**
 * Write a StateDict's values into named states (`.value =`, so shapes are checked). Unknown keys
 * are an error; missing keys are an error unless `strict` is false.
 */
export function loadStateDict(
  states:
    Iterable<readonly [string, State<StateValue>]> | Readonly<Record<string, State<StateValue>>>,
  dict: StateDict,
  options: { strict?: boolean } = {},
): void {
  const entries = new Map(
    Symbol.iterator in states
      ? [...(states as Iterable<readonly [string, State<StateValue>]>)]
      : Object.entries(states),
  );
  const unknown = Object.keys(dict).filter((k) => !entries.has(k));
  if (unknown.length) {
    throw new KeyNotFoundError(
      `loadStateDict: no state named ${unknown.map((k) => `'${k}'`).join(', ')}; known: ${[...entries.keys()].join(', ')}`,
    );
  }
  const missing = [...entries.keys()].filter((k) => !(k in dict));
  if ((options.strict ?? true) && missing.length) {
    throw new KeyNotFoundError(
      `loadStateDict: no value for ${missing.map((k) => `'${k}'`).join(', ')} (pass { strict: false } to allow)`,
    );
  }
  for (const [k, v] of Object.entries(dict)) entries.get(k)!.value = v;
}

/** Release a StateDict's hold on its tensors. */
export function disposeStateDict(dict: StateDict): void {
  for (const v of Object.values(dict)) for (const t of tensorLeaves(v)) release(t);
}
