/**
 * FlatDict: an ordered, immutable map from dotted paths (`'layers.0.r.V'`) to values (States,
 * Nodes, TreefyStates), that also keeps the path arrays (spec §2.3 FlattedDict). It is what
 * `states()` and `nodes()` return. Iterating gives `[key, value]`, so a FlatDict of States can be
 * passed straight to `stateDict(...)` / `loadStateDict(...)` of the state layer.
 */
import { GraphError } from '../errors';
import { State, stateDict, type StateDict, type StateValue } from '../state';
import { toPredicates, type Filter } from './filters';
import { nestFlat, type Nested } from './nested';
import { dottedPath, type Path } from './path';

/** An ordered, immutable `{ dottedPath: value }` map that keeps the path arrays. */
export class FlatDict<V> implements Iterable<[string, V]> {
  private readonly byKey: ReadonlyMap<string, V>;
  private readonly pathByKey: ReadonlyMap<string, Path>;

  /** Build from `[path, value]` pairs, in order; a later pair with the same path replaces the value. */
  constructor(entries: Iterable<readonly [Path, V]> = []) {
    const byKey = new Map<string, V>();
    const pathByKey = new Map<string, Path>();
    for (const [path, value] of entries) {
      const key = dottedPath(path);
      byKey.set(key, value);
      if (!pathByKey.has(key)) pathByKey.set(key, Object.freeze([...path]));
    }
    this.byKey = byKey;
    this.pathByKey = pathByKey;
    Object.freeze(this);
  }

  /** Number of entries. */
  get size(): number {
    return this.byKey.size;
  }

  /** The value at a dotted key or a path, or undefined. */
  get(key: string | Path): V | undefined {
    return this.byKey.get(typeof key === 'string' ? key : dottedPath(key));
  }

  /** True if there is an entry at the dotted key or path. */
  has(key: string | Path): boolean {
    return this.byKey.has(typeof key === 'string' ? key : dottedPath(key));
  }

  /** The dotted keys, in order. */
  keys(): string[] {
    return [...this.byKey.keys()];
  }

  /** The path arrays, in order. */
  paths(): Path[] {
    return [...this.pathByKey.values()];
  }

  /** The values, in order. */
  values(): V[] {
    return [...this.byKey.values()];
  }

  /** `[dottedKey, value]` pairs, in order. */
  entries(): [string, V][] {
    return [...this.byKey.entries()];
  }

  /** `[path, value]` pairs, in order. */
  pathEntries(): [Path, V][] {
    return [...this.byKey.entries()].map(([k, v]) => [this.pathByKey.get(k)!, v]);
  }

  [Symbol.iterator](): Iterator<[string, V]> {
    return this.byKey.entries();
  }

  /**
   * Keep the entries matching a filter (non-exhaustive: the rest is dropped). With k ≥ 2 filters,
   * k FlatDicts: each entry goes to the first filter it matches.
   */
  filter(filter: Filter): FlatDict<V>;
  filter(first: Filter, second: Filter, ...rest: Filter[]): FlatDict<V>[];
  filter(...filters: Filter[]): FlatDict<V> | FlatDict<V>[] {
    const groups = this.group(filters, 'FlatDict.filter', false);
    return filters.length === 1 ? groups[0] : groups;
  }

  /**
   * Partition the entries by filters, exhaustively: each entry goes to the first filter it
   * matches, and an entry matching none is a GraphError (use `true` as the last filter).
   */
  split(filter: Filter): FlatDict<V>;
  split(first: Filter, second: Filter, ...rest: Filter[]): FlatDict<V>[];
  split(...filters: Filter[]): FlatDict<V> | FlatDict<V>[] {
    const groups = this.group(filters, 'FlatDict.split', true);
    return filters.length === 1 ? groups[0] : groups;
  }

  private group(filters: readonly Filter[], where: string, exhaustive: boolean): FlatDict<V>[] {
    if (filters.length === 0) throw new GraphError(`${where}: expected at least one filter`);
    return groupByFilters(this.pathEntries(), filters, where, exhaustive).map(
      (g) => new FlatDict(g),
    );
  }

  /** A new FlatDict with the entries of this one and then of `others` (later entries win). */
  merge(...others: FlatDict<V>[]): FlatDict<V> {
    return new FlatDict([this, ...others].flatMap((d) => d.pathEntries()));
  }

  /**
   * Snapshot the values of the States in this FlatDict into a frozen StateDict keyed by dotted
   * path. The StateDict co-owns the tensors: release it with `disposeStateDict`.
   */
  toValues(this: FlatDict<State<StateValue>>): StateDict {
    return stateDict(this);
  }

  /** A frozen nested object keyed by path elements. */
  toNested(): Nested<V> {
    return nestFlat(this.pathEntries());
  }

  /** `FlatDict({\n  'a.b': value,\n})` using each value's toString. */
  toString(): string {
    if (this.size === 0) return 'FlatDict({})';
    const lines = this.entries().map(([k, v]) => `  '${k}': ${String(v).replace(/\n/g, '\n  ')},`);
    return `FlatDict({\n${lines.join('\n')}\n})`;
  }
}

/**
 * Partition `[path, value]` pairs by filters: each pair goes to the first filter it matches.
 * Exhaustive mode throws for a pair matching none; otherwise such pairs are dropped.
 * @internal
 */
export function groupByFilters<V>(
  entries: readonly (readonly [Path, V])[],
  filters: readonly Filter[],
  where: string,
  exhaustive: boolean,
): [Path, V][][] {
  const predicates = toPredicates(filters, where);
  const groups: [Path, V][][] = predicates.map(() => []);
  for (const [path, value] of entries) {
    const i = predicates.findIndex((p) => p(path, value));
    if (i >= 0) groups[i].push([path, value]);
    else if (exhaustive) {
      throw new GraphError(
        `${where}: non-exhaustive filters, got a non-empty remainder: '${dottedPath(path)}' -> ${String(value)} ` +
          `matches none of ${filters.length} filter(s); use true as the last filter to match the rest`,
      );
    }
  }
  return groups;
}
