/**
 * Split and merge (spec §2.4): `treefySplit` turns a module graph into its structure (GraphDef)
 * and nested TreefyState snapshots, split by filters; `treefyMerge` is the exact inverse and
 * builds a NEW object graph in which shared nodes and shared states are shared again; `clone`
 * is merge∘split. `updateStates` writes snapshot values back into a live graph, `popStates`
 * removes states from it.
 *
 * Ownership: a TreefyState co-owns its tensors (state/snapshot.ts), so the mappings returned by
 * `treefySplit` and `treefyStates` keep tensors alive until released with `disposeNested(...)`.
 * Merging does not consume a mapping: the merged states own their values independently.
 */
import { GraphError, StateError, describeValue } from '../errors';
import { State, TreefyState, type StateValue } from '../state';
import { toPredicates, type Filter } from './filters';
import { FlatDict, groupByFilters } from './flatDict';
import { GraphDef, flattenGraph, unflattenGraph } from './graphdef';
import { VisitTracker, childOwner, notePath, type AttributeOwner } from './iter';
import {
  disposeNested,
  isNestedLevel,
  lookupNested,
  nestFlat,
  type Nested,
  type NestedStates,
} from './nested';
import { className, classifyValue, containerChildren } from './node';
import { describePath, type Path, type PathKey } from './path';

/** A state mapping accepted by merge/update: nested (as split returns it) or flat. */
export type StateMapping =
  Nested<TreefyState | State<StateValue>> | FlatDict<TreefyState | State<StateValue>>;

function snapshotLeaves(
  leaves: readonly (readonly [Path, State<StateValue> | TreefyState])[],
): [Path, TreefyState][] {
  return leaves.map(([path, leaf]) => [
    path,
    leaf instanceof State ? TreefyState.of(leaf) : leaf.replace(leaf.value),
  ]);
}

/**
 * Split a graph into its GraphDef and snapshots of its states. With filters (applied to the live
 * States), one nested mapping per filter; every state must match one of them (use `true` last),
 * else GraphError. Release the mappings with `disposeNested`.
 */
export function treefySplit(node: unknown): [GraphDef, NestedStates];
export function treefySplit(node: unknown, filter: Filter): [GraphDef, NestedStates];
export function treefySplit(
  node: unknown,
  first: Filter,
  second: Filter,
  ...rest: Filter[]
): [GraphDef, ...NestedStates[]];
export function treefySplit(node: unknown, ...filters: Filter[]): [GraphDef, ...NestedStates[]];
export function treefySplit(node: unknown, ...filters: Filter[]): [GraphDef, ...NestedStates[]] {
  const { graphdef, leaves } = flattenGraph(node, 'treefySplit');
  // Filters see the live States; snapshots are taken only once the split succeeded.
  const groups = filters.length ? groupByFilters(leaves, filters, 'treefySplit', true) : [leaves];
  return [graphdef, ...groups.map((g) => nestFlat(snapshotLeaves(g)))];
}

function lookupIn(mappings: readonly StateMapping[], path: Path): unknown {
  for (let i = mappings.length - 1; i >= 0; i--) {
    const m = mappings[i];
    const found = m instanceof FlatDict ? m.get(path) : lookupNested(m, path);
    if (found !== undefined && !isNestedLevel(found)) return found;
  }
  return undefined;
}

/**
 * The inverse of `treefySplit`: a new object graph with the GraphDef's structure and the states
 * of the mappings (later mappings win). TreefyStates become new live States; live States in a
 * mapping are used as they are. A missing state path is a GraphError.
 */
export function treefyMerge<T = unknown>(graphdef: GraphDef, ...mappings: StateMapping[]): T {
  if (!(graphdef instanceof GraphDef)) {
    throw new GraphError(
      `treefyMerge: expected a GraphDef as first argument, got ${describeValue(graphdef)}`,
    );
  }
  return unflattenGraph(graphdef, (path) => lookupIn(mappings, path), 'treefyMerge') as T;
}

/**
 * Snapshots of the states of a graph, as one nested mapping or, with k ≥ 2 filters, k of them
 * (non-exhaustive: unmatched states are left out). Release them with `disposeNested`.
 */
export function treefyStates(node: unknown): NestedStates;
export function treefyStates(node: unknown, filter: Filter): NestedStates;
export function treefyStates(
  node: unknown,
  first: Filter,
  second: Filter,
  ...rest: Filter[]
): NestedStates[];
export function treefyStates(node: unknown, ...filters: Filter[]): NestedStates | NestedStates[];
export function treefyStates(node: unknown, ...filters: Filter[]): NestedStates | NestedStates[] {
  const { leaves } = flattenGraph(node, 'treefyStates');
  const matching = filters.length
    ? groupByFilters(leaves, filters, 'treefyStates', false)
    : [leaves];
  const groups = matching.map((g) => nestFlat(snapshotLeaves(g)));
  return filters.length > 1 ? groups : groups[0];
}

/** The GraphDef of a graph (no snapshots are taken). */
export function graphdef(node: unknown): GraphDef {
  return flattenGraph(node, 'graphdef').graphdef;
}

/**
 * A deep structural copy: new nodes and containers, new independent States with the same
 * values; states and nodes shared in the original are shared in the clone. Static attribute
 * values (numbers, functions, tensors stored directly) are shared with the original, and so are
 * invisible/symbol-keyed internals that do not point into the graph.
 */
export function clone<T>(node: T): T {
  const [def, mapping] = treefySplit(node);
  try {
    return treefyMerge<T>(def, mapping);
  } finally {
    disposeNested(mapping);
  }
}

// ---------------------------------------------------------------------------------------------
// updateStates

function writeInto(
  state: State<StateValue>,
  value: TreefyState | State<StateValue>,
  path: Path,
): void {
  if (value instanceof TreefyState) {
    value.updateState(state);
    return;
  }
  if (value === state) return;
  if (!(state instanceof (value.constructor as abstract new (...args: never[]) => unknown))) {
    throw new StateError(
      `updateStates: ${describePath(path)} is a ${className(state)} and cannot take the value of a ${className(value)}`,
    );
  }
  if (value.beenWritten) state.value = value.rawValue;
  else state.restoreValue(value.rawValue);
}

function addKey(container: object, key: string, value: unknown, path: Path): void {
  let state: State<StateValue>;
  if (value instanceof TreefyState) state = value.toState();
  else if (value instanceof State) state = value;
  else if (isNestedLevel(value)) {
    throw new GraphError(
      `updateStates: ${describePath(path)} does not exist in the graph, and updateStates only adds states, not sub-graphs`,
    );
  } else {
    throw new GraphError(
      `updateStates: unsupported value at ${describePath(path)}: ${describeValue(value)}; ` +
        'expected a TreefyState, a State or a nested mapping',
    );
  }
  if (Object.isFrozen(container) || Array.isArray(container)) {
    if (value instanceof TreefyState) state.dispose();
    throw new GraphError(
      `updateStates: cannot add key '${key}' to ${Array.isArray(container) ? 'an array' : 'a frozen container'} ` +
        `at ${describePath(path.slice(0, -1))}`,
    );
  }
  if (container instanceof Map) {
    // A Map with number keys gets numeric keys back as numbers (nested mappings stringify them).
    const numeric =
      /^(0|[1-9]\d*)$/.test(key) && [...container.keys()].some((k) => typeof k === 'number');
    container.set(numeric ? Number(key) : key, state);
  } else {
    (container as Record<string, unknown>)[key] = state;
  }
  notePath(state, path);
}

function updateInto(container: object, mapping: Nested<unknown>, path: Path): void {
  const children = new Map<string, [PathKey, unknown]>();
  for (const [k, v] of containerChildren(container)) children.set(String(k), [k, v]);
  for (const [key, value] of Object.entries(mapping)) {
    const existing = children.get(key);
    if (existing === undefined || existing[1] === null || existing[1] === undefined) {
      addKey(container, key, value, [...path, key]);
      continue;
    }
    const [realKey, current] = existing;
    const childPath = [...path, realKey];
    const kind = classifyValue(current);
    if (kind === 'node' || kind === 'pytree') {
      if (!isNestedLevel(value)) {
        throw new GraphError(
          `updateStates: expected a sub-graph mapping for ${describePath(childPath)} (a ${className(current as object)}), ` +
            `got a leaf: ${describeValue(value)}`,
        );
      }
      updateInto(current as object, value, childPath);
    } else if (value instanceof TreefyState || value instanceof State) {
      if (!(current instanceof State)) {
        throw new GraphError(
          `updateStates: trying to update the non-State attribute ${describePath(childPath)} ` +
            `(${describeValue(current)}) with a ${className(value)}`,
        );
      }
      writeInto(current, value, childPath);
    } else if (isNestedLevel(value)) {
      throw new GraphError(
        `updateStates: ${describePath(childPath)} is a leaf (${describeValue(current)}), got a nested mapping for it`,
      );
    } else {
      throw new GraphError(
        `updateStates: unsupported value at ${describePath(childPath)}: ${describeValue(value)}; ` +
          'expected a TreefyState, a State or a nested mapping',
      );
    }
  }
}

/**
 * Write mappings (nested or flat, merged first: later ones win per key) into the live graph: an existing
 * State takes the value (as a write if the snapshot was written, else as a restore); a key that
 * is missing (e.g. popped) is added back as a live State. GraphError for a leaf given where a
 * sub-graph is, or a State given for a non-State attribute.
 */
export function updateStates(node: unknown, ...mappings: StateMapping[]): void {
  const kind = classifyValue(node);
  if (kind !== 'node' && kind !== 'pytree') {
    throw new GraphError(
      `updateStates: the root must be a Node or a container, got ${describeValue(node)}`,
    );
  }
  const nested = mappings.map((m) => {
    const n = m instanceof FlatDict ? m.toNested() : m;
    if (!isNestedLevel(n)) {
      throw new GraphError(
        `updateStates: expected a nested or flat state mapping, got ${describeValue(m)}`,
      );
    }
    return n as Nested<unknown>;
  });
  updateInto(node as object, mergeNested(nested), []);
}

/** Deep-merge nested mappings: inner levels are merged, a later leaf replaces an earlier entry. */
function mergeNested(mappings: readonly Nested<unknown>[]): Nested<unknown> {
  if (mappings.length === 1) return mappings[0];
  const out: Record<string, unknown> = {};
  for (const m of mappings) {
    for (const [k, v] of Object.entries(m)) {
      const prev = out[k];
      out[k] = isNestedLevel(v) && isNestedLevel(prev) ? mergeNested([prev, v]) : v;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// popStates

interface Occurrence {
  readonly container: object;
  readonly key: PathKey;
  readonly path: Path;
  readonly state: State<StateValue>;
}

/**
 * Remove the states matching the filters from the graph and return them (the live State
 * objects, nested by their first path; one mapping per filter, each state in the first filter
 * it matches). Every attribute holding a popped state is removed, not only the first. Needs at
 * least one filter. States cannot be popped from arrays (indices would shift) or frozen
 * containers: GraphError, and nothing is removed.
 */
export function popStates(node: unknown, filter: Filter): Nested<State<StateValue>>;
export function popStates(
  node: unknown,
  first: Filter,
  second: Filter,
  ...rest: Filter[]
): Nested<State<StateValue>>[];
export function popStates(
  node: unknown,
  ...filters: Filter[]
): Nested<State<StateValue>> | Nested<State<StateValue>>[];
export function popStates(
  node: unknown,
  ...filters: Filter[]
): Nested<State<StateValue>> | Nested<State<StateValue>>[] {
  if (filters.length === 0) throw new GraphError('popStates: expected at least one filter');
  const predicates = toPredicates(filters, 'popStates');
  const kind = classifyValue(node);
  if (kind !== 'node' && kind !== 'pytree') {
    throw new GraphError(
      `popStates: the root must be a Node or a container, got ${describeValue(node)}`,
    );
  }

  const occurrences: Occurrence[] = [];
  const firstPath = new Map<State<StateValue>, Path>();
  const tracker = new VisitTracker();
  const walk = (container: object, path: Path, owner: AttributeOwner | null): void => {
    if (!tracker.enter(container, path, owner)) return;
    for (const [k, v] of containerChildren(container)) {
      const childPath = [...path, k];
      const kind = classifyValue(v);
      if (kind === 'node' || kind === 'pytree')
        walk(v as object, childPath, childOwner(container, k, owner));
      else if (v instanceof State) {
        occurrences.push({ container, key: k, path: childPath, state: v });
        if (!firstPath.has(v)) firstPath.set(v, childPath);
      }
    }
    tracker.leave(container);
  };
  walk(node as object, [], null);

  const groups: [Path, State<StateValue>][][] = predicates.map(() => []);
  const popped = new Set<State<StateValue>>();
  for (const [state, path] of firstPath) {
    const i = predicates.findIndex((p) => p(path, state));
    if (i < 0) continue;
    groups[i].push([path, state]);
    popped.add(state);
  }

  const removals = occurrences.filter((o) => popped.has(o.state));
  for (const { container, key, path } of removals) {
    if (Array.isArray(container)) {
      throw new GraphError(
        `popStates: cannot pop ${describePath(path)} from an array (the indices of later elements would shift); ` +
          'hold such states in an object or a Node attribute',
      );
    }
    const fixed =
      !(container instanceof Map) &&
      Object.getOwnPropertyDescriptor(container, key)?.configurable === false;
    if (Object.isFrozen(container) || fixed) {
      throw new GraphError(
        `popStates: cannot pop ${describePath(path)}: the ${className(container)} holding it is frozen or the property is not configurable`,
      );
    }
  }
  for (const { container, key } of removals) {
    if (container instanceof Map) container.delete(key);
    else delete (container as Record<PathKey, unknown>)[key];
  }
  const out = groups.map((g) => nestFlat(g));
  return filters.length === 1 ? out[0] : out;
}
