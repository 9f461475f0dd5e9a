/**
 * Nested state mappings: frozen plain objects keyed by path elements, e.g.
 * `{ layers: { 0: { weight: TreefyState } } }` (spec §2.3 NestedDict). They are what
 * `treefySplit` returns and `treefyMerge` / `updateStates` accept. Array indices become string
 * keys; the GraphDef knows which path elements were numbers.
 */
import { freeze } from 'immer';
import { GraphError } from '../errors';
import { State, TreefyState } from '../state';
import { dottedPath, type Path, type PathKey } from './path';

/** A frozen nested plain object whose leaves are `V`. */
export interface Nested<V> {
  readonly [key: string]: V | Nested<V>;
}

/** The result of `treefySplit` / `treefyStates`: nested TreefyStates (they co-own tensors: see `disposeNested`). */
export type NestedStates = Nested<TreefyState>;

/** True for the leaves of nested state mappings: States and TreefyStates. */
export function isStateLeaf(value: unknown): value is State | TreefyState {
  return value instanceof State || value instanceof TreefyState;
}

/** True for the inner levels of a nested mapping (plain objects). */
export function isNestedLevel(value: unknown): value is Nested<unknown> {
  if (value === null || typeof value !== 'object') return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Build a frozen nested mapping from `[path, leaf]` pairs (immer `freeze`, deep). */
export function nestFlat<V>(entries: Iterable<readonly [Path, V]>): Nested<V> {
  const root: Record<string, unknown> = {};
  for (const [path, leaf] of entries) {
    if (path.length === 0) throw new GraphError('cannot nest a value at the root path []');
    let level = root;
    for (const key of path.slice(0, -1)) {
      const k = String(key);
      const next = level[k];
      if (next === undefined) level = level[k] = {};
      else if (isNestedLevel(next)) level = next as Record<string, unknown>;
      else throw new GraphError(`path '${dottedPath(path)}' passes through a leaf at '${k}'`);
    }
    level[String(path[path.length - 1])] = leaf;
  }
  return freeze(root, true) as Nested<V>;
}

/**
 * The leaves of a nested mapping as `[path, leaf]`, depth first. `isLeaf` says what counts as a
 * leaf (default: anything that is not a plain object). Path elements are strings.
 */
export function flattenNested<V>(
  nested: Nested<V>,
  isLeaf: (value: unknown) => boolean = (v) => !isNestedLevel(v),
): [PathKey[], V][] {
  const out: [PathKey[], V][] = [];
  const walk = (level: Nested<V>, path: PathKey[]): void => {
    for (const [k, v] of Object.entries(level)) {
      if (isLeaf(v)) out.push([[...path, k], v as V]);
      else if (isNestedLevel(v)) walk(v as Nested<V>, [...path, k]);
    }
  };
  walk(nested, []);
  return out;
}

/** The entry at `path` (keys compared as strings), or undefined. */
export function lookupNested<V>(nested: Nested<V>, path: Path): V | Nested<V> | undefined {
  let level: unknown = nested;
  for (const key of path) {
    if (!isNestedLevel(level)) return undefined;
    const k = String(key);
    if (!Object.hasOwn(level, k)) return undefined;
    level = (level as Record<string, unknown>)[k];
  }
  return level as V | Nested<V>;
}

const disposed = new WeakSet<TreefyState>();

/**
 * Release the tensors held by the TreefyStates of split results (`treefySplit`,
 * `treefyStates`). Each TreefyState is released once even if passed again. Live States in the
 * mapping (from `popStates`) are left alone.
 */
export function disposeNested(
  ...mappings: (Nested<unknown> | Iterable<readonly [unknown, unknown]>)[]
): void {
  const release = (v: unknown): void => {
    if (v instanceof TreefyState && !disposed.has(v)) {
      disposed.add(v);
      v.dispose();
    }
  };
  for (const m of mappings) {
    if (isNestedLevel(m)) {
      for (const [, v] of flattenNested(m as Nested<unknown>, isStateLeaf)) release(v);
    } else {
      for (const [, v] of m as Iterable<readonly [unknown, unknown]>) release(v);
    }
  }
}
