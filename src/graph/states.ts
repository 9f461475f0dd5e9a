/**
 * `states()` and `nodes()`: select the States or Nodes of a module graph with filters
 * (spec §2.3). No filter: one FlatDict of everything; one filter: the matching items; k ≥ 2
 * filters: k FlatDicts, each item in the first filter it matches (unmatched items are dropped).
 * A trailing `{ allowedHierarchy: [lo, hi] }` limits the depth (see TraversalOptions).
 */
import { State, type StateValue } from '../state';
import type { Filter } from './filters';
import { FlatDict, groupByFilters } from './flatDict';
import { iterLeaf, iterNode, type TraversalOptions } from './iter';
import type { Node } from './node';
import type { Path } from './path';

/** Filters, optionally followed by traversal options. */
export type FiltersAndOptions = (Filter | TraversalOptions | undefined)[];

/** Split trailing traversal options (a plain object with only known option keys) from filters. */
export function splitOptions(args: FiltersAndOptions): [Filter[], TraversalOptions] {
  const list = [...args];
  while (list.length && list[list.length - 1] === undefined) list.pop();
  const last = list[list.length - 1];
  if (isTraversalOptions(last)) return [list.slice(0, -1) as Filter[], last];
  return [list as Filter[], {}];
}

function isTraversalOptions(x: unknown): x is TraversalOptions {
  if (x === null || typeof x !== 'object' || Array.isArray(x)) return false;
  if (Object.getPrototypeOf(x) !== Object.prototype) return false;
  const keys = Object.keys(x);
  return keys.length > 0 && keys.every((k) => k === 'allowedHierarchy');
}

function select<V>(
  items: [Path, V][],
  filters: Filter[],
  where: string,
): FlatDict<V> | FlatDict<V>[] {
  if (filters.length === 0) return new FlatDict(items);
  const groups = groupByFilters(items, filters, where, false).map((g) => new FlatDict(g));
  return filters.length === 1 ? groups[0] : groups;
}

/** The States under `node` (each once, at its first path), optionally filtered. */
export function states(node: unknown, options?: TraversalOptions): FlatDict<State<StateValue>>;
export function states(
  node: unknown,
  filter: Filter,
  options?: TraversalOptions,
): FlatDict<State<StateValue>>;
export function states(
  node: unknown,
  first: Filter,
  second: Filter,
  ...rest: FiltersAndOptions
): FlatDict<State<StateValue>>[];
export function states(
  node: unknown,
  ...args: FiltersAndOptions
): FlatDict<State<StateValue>> | FlatDict<State<StateValue>>[];
export function states(
  node: unknown,
  ...args: FiltersAndOptions
): FlatDict<State<StateValue>> | FlatDict<State<StateValue>>[] {
  const [filters, options] = splitOptions(args);
  const items: [Path, State<StateValue>][] = [];
  for (const [path, leaf] of iterLeaf(node, options)) {
    if (leaf instanceof State) items.push([path, leaf]);
  }
  return select(items, filters, 'states');
}

/** The Nodes under `node` (post-order, the root last with key ''), optionally filtered. */
export function nodes(node: unknown, options?: TraversalOptions): FlatDict<Node>;
export function nodes(node: unknown, filter: Filter, options?: TraversalOptions): FlatDict<Node>;
export function nodes(
  node: unknown,
  first: Filter,
  second: Filter,
  ...rest: FiltersAndOptions
): FlatDict<Node>[];
export function nodes(node: unknown, ...args: FiltersAndOptions): FlatDict<Node> | FlatDict<Node>[];
export function nodes(
  node: unknown,
  ...args: FiltersAndOptions
): FlatDict<Node> | FlatDict<Node>[] {
  const [filters, options] = splitOptions(args);
  return select([...iterNode(node, options)], filters, 'nodes');
}
