/**
 * GraphDef: the structure of a module graph without its state values (spec §2.4), and the two
 * passes that go between an object graph and (GraphDef, states): `flattenGraph` walks the graph
 * once in pre-order, giving every node and container an index on first sight and every State a
 * slot (a later reference to either becomes an index edge, which is how sharing is kept), and
 * `unflattenGraph` builds a new object graph from a GraphDef and a state lookup. Node shells are
 * made with `Object.create(prototype)` (no constructor runs); internals (symbol-keyed and
 * invisible properties) are copied shallowly, remapped to the new graph when they point into it.
 */
import { GraphError, describeValue } from '../errors';
import { State, TreefyState, type StateClass, type StateValue } from '../state';
import { VisitTracker, childOwner, notePath, type AttributeOwner } from './iter';
import { Node, className, classifyValue, containerChildren, invisibleAttrsOf } from './node';
import { describePath, dottedPath, type Path, type PathKey } from './path';

/** Where a field's value comes from. @internal */
export type Edge =
  /** a node or pytree container of the graph table */
  | { readonly kind: 'container'; readonly index: number }
  /** a state slot */
  | { readonly kind: 'state'; readonly index: number }
  /** a value kept as is (compared by value for primitives, by identity for objects) */
  | { readonly kind: 'static'; readonly value: unknown };

/** A property of a node that traversal does not see (symbol-keyed, non-enumerable or invisible). @internal */
export interface InternalSpec {
  readonly key: PropertyKey;
  readonly descriptor: PropertyDescriptor;
  /** For data properties: the value, remapped if it is a node/container/state of this graph. */
  readonly edge: Edge | null;
}

/** One node or pytree container of the graph. @internal */
export type ContainerSpec =
  | {
      readonly kind: 'node';
      readonly proto: object;
      readonly fields: readonly (readonly [string, Edge])[];
      readonly internals: readonly InternalSpec[];
      readonly frozen: boolean;
    }
  | {
      readonly kind: 'array';
      readonly fields: readonly (readonly [number, Edge])[];
      readonly frozen: boolean;
    }
  | {
      readonly kind: 'object';
      readonly nullProto: boolean;
      readonly fields: readonly (readonly [string, Edge])[];
      readonly frozen: boolean;
    }
  | {
      readonly kind: 'map';
      readonly fields: readonly (readonly [PathKey, Edge])[];
      readonly frozen: boolean;
    };

/** A state of the graph: its first path (its key in the state mapping) and class. @internal */
export interface StateSlot {
  readonly path: Path;
  readonly type: StateClass;
  /** True for a bare TreefyState stored in the graph (merged back as a TreefyState, not a live State). */
  readonly ref: boolean;
}

/**
 * The structure of a module graph: node classes, attribute names, pytree shapes, static values,
 * and which attributes hold which node or state. Two GraphDefs are `equals` when the graphs
 * have the same structure (static primitives compared by value, other static objects by
 * identity); `hash` is a short stable string equal for equal GraphDefs.
 */
export class GraphDef {
  private canonicalForm: string | null = null;
  private hashValue: string | null = null;

  /** @internal use `graphdef(node)` or `treefySplit(node)`. */
  constructor(
    /** @internal */ readonly root: Edge,
    /** @internal */ readonly containers: readonly ContainerSpec[],
    /** @internal */ readonly stateSlots: readonly StateSlot[],
  ) {}

  /** The root's class (a Node subclass, or Array / Object / Map for a pytree root). */
  get type(): abstract new (...args: never[]) => unknown {
    const spec = this.containers[(this.root as { index: number }).index];
    switch (spec.kind) {
      case 'node':
        return spec.proto.constructor as abstract new (...args: never[]) => unknown;
      case 'array':
        return Array;
      case 'map':
        return Map;
      default:
        return Object;
    }
  }

  /** Number of graph nodes (Node instances) in the structure. */
  get nodeCount(): number {
    return this.containers.filter((c) => c.kind === 'node').length;
  }

  /** The paths of the states, in order (the keys of the state mapping). */
  get statePaths(): Path[] {
    return this.stateSlots.map((s) => s.path);
  }

  /** True if `other` describes the same structure. */
  equals(other: GraphDef): boolean {
    return other instanceof GraphDef && (other === this || other.canonical === this.canonical);
  }

  /** A short string, equal for equal GraphDefs (within one process: static objects hash by identity). */
  get hash(): string {
    return (this.hashValue ??= hashString(this.canonical));
  }

  private get canonical(): string {
    return (this.canonicalForm ??= canonicalForm(this));
  }

  toString(): string {
    return (
      `GraphDef(type=${this.type.name}, nodes=${this.nodeCount}, containers=${this.containers.length}, ` +
      `states=${this.stateSlots.length}, hash=${this.hash})`
    );
  }
}

// ---------------------------------------------------------------------------------------------
// flatten

/** A state met by flattenGraph: the live State, or a bare TreefyState stored in the graph. @internal */
export type FlatStateLeaf = State<StateValue> | TreefyState;

/**
 * Walk a graph once (pre-order) and return its GraphDef and its states as `[path, leaf]` at
 * their first path. Throws GraphError for a root that is not a container and for cycles.
 * @internal
 */
export function flattenGraph(
  root: unknown,
  where: string,
): { graphdef: GraphDef; leaves: [Path, FlatStateLeaf][] } {
  const rootKind = classifyValue(root);
  if (rootKind !== 'node' && rootKind !== 'pytree') {
    throw new GraphError(
      `${where}: the root must be a Node, an array, a plain object or a Map; got ${describeValue(root)}`,
    );
  }
  const tracker = new VisitTracker();
  const containerIndex = new Map<object, number>();
  const containers: ContainerSpec[] = [];
  const stateIndex = new Map<object, number>();
  const slots: StateSlot[] = [];
  const leaves: [Path, FlatStateLeaf][] = [];
  const nodesToFinish: [Node, number][] = [];

  const encode = (value: unknown, path: Path, owner: AttributeOwner | null): Edge => {
    const kind = classifyValue(value);
    if (kind === 'state' || kind === 'stateRef') {
      const leaf = value as FlatStateLeaf;
      const known = stateIndex.get(leaf);
      if (known !== undefined) return { kind: 'state', index: known };
      const index = slots.length;
      stateIndex.set(leaf, index);
      if (leaf instanceof State) {
        notePath(leaf, path);
        slots.push({ path, type: leaf.constructor as StateClass, ref: false });
      } else {
        slots.push({ path, type: leaf.type, ref: true });
      }
      leaves.push([path, leaf]);
      return { kind: 'state', index };
    }
    if (kind !== 'node' && kind !== 'pytree') return { kind: 'static', value };

    const container = value as object;
    if (!tracker.enter(container, path, owner)) {
      return { kind: 'container', index: containerIndex.get(container)! };
    }
    const index = containers.length;
    containerIndex.set(container, index);
    containers.push(null as unknown as ContainerSpec); // filled below (pre-order numbering)
    const fields = containerChildren(container).map(
      ([k, v]) => [k, encode(v, [...path, k], childOwner(container, k, owner))] as const,
    );
    tracker.leave(container);
    const frozen = Object.isFrozen(container);
    if (container instanceof Node) {
      nodesToFinish.push([container, index]);
      containers[index] = {
        kind: 'node',
        proto: Object.getPrototypeOf(container) as object,
        fields: fields as (readonly [string, Edge])[],
        internals: [],
        frozen,
      };
    } else if (Array.isArray(container)) {
      containers[index] = { kind: 'array', fields: fields as (readonly [number, Edge])[], frozen };
    } else if (container instanceof Map) {
      containers[index] = { kind: 'map', fields, frozen };
    } else {
      containers[index] = {
        kind: 'object',
        nullProto: Object.getPrototypeOf(container) === null,
        fields: fields as (readonly [string, Edge])[],
        frozen,
      };
    }
    return { kind: 'container', index };
  };

  const rootEdge = encode(root, [], null);

  // Internals are encoded after the walk, so a back-reference to any node of the graph (a
  // parent link listed in graphInvisibleAttrs) is remapped to the corresponding new node.
  const internalEdge = (value: unknown): Edge => {
    if (value !== null && typeof value === 'object') {
      const c = containerIndex.get(value);
      if (c !== undefined) return { kind: 'container', index: c };
      const s = stateIndex.get(value);
      if (s !== undefined) return { kind: 'state', index: s };
    }
    return { kind: 'static', value };
  };
  for (const [node, index] of nodesToFinish) {
    const hidden = invisibleAttrsOf(node.constructor as abstract new (...args: never[]) => Node);
    const internals: InternalSpec[] = [];
    for (const key of Reflect.ownKeys(node)) {
      const descriptor = Object.getOwnPropertyDescriptor(node, key)!;
      const visible = typeof key === 'string' && descriptor.enumerable && !hidden.has(key);
      if (visible) continue;
      internals.push({
        key,
        descriptor,
        edge: 'value' in descriptor ? internalEdge(descriptor.value) : null,
      });
    }
    containers[index] = {
      ...(containers[index] as Extract<ContainerSpec, { kind: 'node' }>),
      internals,
    };
  }

  return { graphdef: new GraphDef(rootEdge, containers, slots), leaves };
}

// ---------------------------------------------------------------------------------------------
// unflatten

/**
 * Build a new object graph from a GraphDef, taking each state from `lookup(path)`: a TreefyState
 * becomes a new live State (`toState()`), a live State is used as is. A missing entry is a
 * GraphError. @internal
 */
export function unflattenGraph(
  graphdef: GraphDef,
  lookup: (path: Path) => unknown,
  where: string,
): unknown {
  // 1. Check every entry before creating anything, so a bad mapping leaks no tensors.
  const entries = graphdef.stateSlots.map((slot) => {
    const entry = lookup(slot.path);
    if (entry === undefined) {
      throw new GraphError(
        `${where}: expected key '${dottedPath(slot.path)}' in the state mapping (a ${slot.type.name} of the graph)`,
      );
    }
    if (!(entry instanceof TreefyState) && !(entry instanceof State)) {
      throw new GraphError(
        `${where}: the state mapping entry at ${describePath(slot.path)} must be a TreefyState or a State, ` +
          `got ${describeValue(entry)}`,
      );
    }
    return entry;
  });

  // 2. Materialise the states.
  const created: State<StateValue>[] = [];
  let stateValues: unknown[];
  try {
    stateValues = graphdef.stateSlots.map((slot, i) => {
      const entry = entries[i];
      if (slot.ref)
        return entry instanceof TreefyState ? entry.replace(entry.value) : TreefyState.of(entry);
      if (entry instanceof State) return entry;
      const state = entry.toState();
      created.push(state);
      notePath(state, slot.path);
      return state;
    });
  } catch (e) {
    for (const s of created) s.dispose();
    throw e;
  }

  // 3. Empty shells, then fields.
  const shells: object[] = graphdef.containers.map((spec) => {
    switch (spec.kind) {
      case 'node':
        return Object.create(spec.proto) as object;
      case 'array':
        return [];
      case 'map':
        return new Map();
      case 'object':
        return spec.nullProto ? Object.create(null) : {};
    }
  });
  const decode = (edge: Edge): unknown =>
    edge.kind === 'static'
      ? edge.value
      : edge.kind === 'state'
        ? stateValues[edge.index]
        : shells[edge.index];

  graphdef.containers.forEach((spec, i) => {
    const shell = shells[i];
    switch (spec.kind) {
      case 'node':
        for (const [k, edge] of spec.fields) {
          Object.defineProperty(shell, k, {
            value: decode(edge),
            writable: true,
            enumerable: true,
            configurable: true,
          });
        }
        for (const { key, descriptor, edge } of spec.internals) {
          Object.defineProperty(
            shell,
            key,
            edge ? { ...descriptor, value: decode(edge) } : descriptor,
          );
        }
        break;
      case 'array':
        for (const [k, edge] of spec.fields) (shell as unknown[])[k] = decode(edge);
        break;
      case 'map':
        for (const [k, edge] of spec.fields) (shell as Map<PathKey, unknown>).set(k, decode(edge));
        break;
      case 'object':
        for (const [k, edge] of spec.fields) (shell as Record<string, unknown>)[k] = decode(edge);
        break;
    }
  });
  graphdef.containers.forEach((spec, i) => {
    if (spec.frozen) Object.freeze(shells[i]);
  });
  return decode(graphdef.root);
}

// ---------------------------------------------------------------------------------------------
// canonical form and hash

const objectIds = new WeakMap<object, number>();
const symbolIds = new Map<symbol, number>();
let nextObjectId = 0;

function identityToken(v: object | symbol): string {
  if (typeof v === 'symbol') {
    let id = symbolIds.get(v);
    if (id === undefined) symbolIds.set(v, (id = nextObjectId++));
    return `y${id}`;
  }
  let id = objectIds.get(v);
  if (id === undefined) objectIds.set(v, (id = nextObjectId++));
  const name = typeof v === 'function' ? v.name : className(v);
  return `o${id}:${name}`;
}

/** Primitives by value; arrays and plain objects structurally when `deep`; other objects by identity. */
function staticToken(v: unknown, deep: boolean): string {
  if (v === undefined) return 'u';
  if (v === null) return 'n';
  switch (typeof v) {
    case 'boolean':
      return v ? 'T' : 'F';
    case 'number':
      return Object.is(v, -0) ? 'd-0' : `d${v}`;
    case 'string':
      return `s${JSON.stringify(v)}`;
    case 'bigint':
      return `i${v}`;
    case 'symbol':
      return identityToken(v);
  }
  const obj = v as object;
  if (deep && Array.isArray(obj)) return `[${obj.map((x) => staticToken(x, true)).join(',')}]`;
  if (
    deep &&
    (Object.getPrototypeOf(obj) === Object.prototype || Object.getPrototypeOf(obj) === null)
  ) {
    return `{${Object.entries(obj)
      .map(([k, x]) => `${JSON.stringify(k)}:${staticToken(x, true)}`)
      .join(',')}}`;
  }
  return identityToken(obj);
}

function edgeToken(edge: Edge, deep: boolean): string {
  if (edge.kind === 'container') return `c${edge.index}`;
  if (edge.kind === 'state') return `s${edge.index}`;
  return `v(${staticToken(edge.value, deep)})`;
}

function keyToken(k: PropertyKey): string {
  return typeof k === 'symbol'
    ? identityToken(k)
    : typeof k === 'number'
      ? `#${k}`
      : JSON.stringify(k);
}

function canonicalForm(gd: GraphDef): string {
  const parts = [`root=${edgeToken(gd.root, false)}`];
  gd.containers.forEach((spec, i) => {
    const fields = spec.fields.map(([k, e]) => `${keyToken(k)}=${edgeToken(e, false)}`).join(';');
    let head: string;
    if (spec.kind === 'node') {
      // Internals (name, sizes …) are compared structurally: they are framework bookkeeping.
      const internals = spec.internals
        .map(({ key, descriptor, edge }) =>
          edge
            ? `${keyToken(key)}=${edgeToken(edge, true)}`
            : `${keyToken(key)}=get(${staticToken(descriptor.get, false)})set(${staticToken(descriptor.set, false)})`,
        )
        .join(';');
      head = `N${identityToken(spec.proto)}|${internals}`;
    } else if (spec.kind === 'object') {
      head = spec.nullProto ? 'O0' : 'O';
    } else {
      head = spec.kind === 'array' ? 'A' : 'M';
    }
    parts.push(`${i}:${head}${spec.frozen ? '!' : ''}{${fields}}`);
  });
  gd.stateSlots.forEach((s, i) => parts.push(`S${i}:${identityToken(s.type)}${s.ref ? 'r' : ''}`));
  return parts.join('\n');
}

/** A 53-bit string hash (cyrb53) as 14 hex digits. */
function hashString(s: string): string {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return (4294967296 * (2097151 & h2) + (h1 >>> 0)).toString(16).padStart(14, '0');
}
