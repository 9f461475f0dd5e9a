/**
 * Depth-first traversal of a module graph (spec §2.2). `iterLeaf` yields every leaf (States,
 * TreefyStates, static values) with its path; `iterNode` yields every Node after its children
 * (post-order, root last with path `[]`). Nodes and containers are visited once by identity, so
 * shared sub-modules and shared States appear once, at the first path found. A real cycle (a
 * node reachable from itself) is a GraphError: module graphs are DAGs, and a back-reference
 * such as a parent link must be listed in `static graphInvisibleAttrs`.
 */
import { ArgumentError, GraphError } from '../errors';
import type { State, StateValue } from '../state';
import { Node, className, classifyValue, containerChildren } from './node';
import { describePath, dottedPath, type Path, type PathKey } from './path';

/** Options of the traversals. */
export interface TraversalOptions {
  /**
   * `[lo, hi]`: the root is level 0 and each step into a child Node adds 1 (pytree containers do
   * not). The walk does not go below level `hi`, and items above level `lo` are not yielded; a
   * leaf has its owner node's level. `[1, 1]` in `nodes()` gives the direct child modules;
   * `[0, 0]` in `states()` gives the root's own states. Default: everything.
   */
  allowedHierarchy?: readonly [number, number];
}

/** The node attribute through which a value is reached (for cycle messages). */
export interface AttributeOwner {
  readonly node: Node;
  readonly attr: string;
}

/**
 * The bookkeeping of one depth-first walk: containers are entered once by identity, and a
 * reference to a container that is still being walked (a back edge) is a cycle.
 * @internal shared by the traversals of this folder.
 */
export class VisitTracker {
  private readonly visited = new Set<object>();
  private readonly active = new Map<object, Path>();

  /** Enter a container: false if it was seen before (shared), GraphError if it is an ancestor (cycle). */
  enter(container: object, path: Path, owner: AttributeOwner | null): boolean {
    const ancestor = this.active.get(container);
    if (ancestor !== undefined) throw cycleError(container, path, ancestor, owner);
    if (this.visited.has(container)) return false;
    this.visited.add(container);
    this.active.set(container, path);
    return true;
  }

  /** Leave a container entered with `enter`. */
  leave(container: object): void {
    this.active.delete(container);
  }

  /** True if the container was entered in this walk. */
  has(container: object): boolean {
    return this.visited.has(container);
  }
}

/** The owner of a container's child: the container itself if it is a Node, else the container's owner. */
export function childOwner(
  container: object,
  key: PathKey,
  owner: AttributeOwner | null,
): AttributeOwner | null {
  return container instanceof Node ? { node: container, attr: String(key) } : owner;
}

function cycleError(
  container: object,
  path: Path,
  ancestor: Path,
  owner: AttributeOwner | null,
): GraphError {
  const fix = owner
    ? `If the back-reference is intended (e.g. a parent link), list '${owner.attr}' in ` +
      `\`static graphInvisibleAttrs\` of ${className(owner.node)} so graph operations skip it.`
    : 'Remove the back-reference.';
  return new GraphError(
    `cycle in the module graph: ${describePath(path)} refers back to its ancestor ${describePath(ancestor)} ` +
      `(a ${className(container)}). Module graphs must be acyclic (sharing a module or state is fine). ${fix}`,
  );
}

/** Validate `allowedHierarchy` and return `[lo, hi]`. */
export function hierarchyBounds(options: TraversalOptions | undefined): [number, number] {
  const h = options?.allowedHierarchy;
  if (h === undefined) return [0, Number.MAX_SAFE_INTEGER];
  const ok =
    Array.isArray(h) &&
    h.length === 2 &&
    h.every((n) => Number.isInteger(n) && n >= 0) &&
    (h[0] as number) <= (h[1] as number);
  if (!ok) {
    throw new ArgumentError(
      `allowedHierarchy must be [lo, hi] with integers 0 ≤ lo ≤ hi, got ${JSON.stringify(h)}`,
    );
  }
  return [h[0], h[1]];
}

/** Record where a state sits in the graph (used in its error messages), if not known yet. */
export function notePath(state: State<StateValue>, path: Path): void {
  if (state.pathHint === null && path.length > 0) state.pathHint = dottedPath(path);
}

/**
 * Every leaf under `root` as `[path, value]`, depth first in child order (alphabetical for
 * nodes, index order for arrays, insertion order for objects and Maps). Containers and States
 * are yielded / entered once by identity; null and undefined yield nothing. Sets the
 * `pathHint` of the States met.
 */
export function* iterLeaf(root: unknown, options?: TraversalOptions): Generator<[Path, unknown]> {
  const [lo, hi] = hierarchyBounds(options);
  const tracker = new VisitTracker();
  const seenStates = new Set<object>();

  function* walk(
    value: unknown,
    path: Path,
    level: number,
    owner: AttributeOwner | null,
  ): Generator<[Path, unknown]> {
    if (level > hi) return;
    const kind = classifyValue(value);
    if (kind === 'node' || kind === 'pytree') {
      const container = value as object;
      if (!tracker.enter(container, path, owner)) return;
      for (const [k, v] of containerChildren(container)) {
        const next = classifyValue(v) === 'node' ? level + 1 : level;
        yield* walk(v, [...path, k], next, childOwner(container, k, owner));
      }
      tracker.leave(container);
      return;
    }
    if (kind === 'empty') return;
    if (kind === 'state') {
      if (seenStates.has(value as object)) return;
      seenStates.add(value as object);
      notePath(value as State<StateValue>, path);
    }
    if (level >= lo) yield [path, value];
  }

  yield* walk(root, [], 0, null);
}

/**
 * Every Node under `root` (the root included if it is a Node) as `[path, node]`, after its
 * children (post-order: the root comes last, with path `[]`). Shared nodes appear once.
 */
export function* iterNode(root: unknown, options?: TraversalOptions): Generator<[Path, Node]> {
  const [lo, hi] = hierarchyBounds(options);
  const tracker = new VisitTracker();

  function* walk(
    value: unknown,
    path: Path,
    level: number,
    owner: AttributeOwner | null,
  ): Generator<[Path, Node]> {
    if (level > hi) return;
    const kind = classifyValue(value);
    if (kind !== 'node' && kind !== 'pytree') return;
    const container = value as object;
    if (!tracker.enter(container, path, owner)) return;
    for (const [k, v] of containerChildren(container)) {
      const next = classifyValue(v) === 'node' ? level + 1 : level;
      yield* walk(v, [...path, k], next, childOwner(container, k, owner));
    }
    tracker.leave(container);
    if (container instanceof Node && level >= lo) yield [path, container];
  }

  yield* walk(root, [], 0, null);
}
