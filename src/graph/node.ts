/**
 * Node, the base of every structural object (modules, projections, neuron groups), and the value
 * classification every graph traversal uses (spec §2.1). A node's children are its own
 * enumerable string-keyed properties, sorted alphabetically, minus the names its class chain
 * lists in `static graphInvisibleAttrs`. Framework internals live under symbol keys, which no
 * traversal sees. Arrays, plain objects and Maps are pytree containers (children by index or
 * key); null/undefined are empty; States and TreefyStates are leaves; anything else is static.
 */
import { GraphError } from '../errors';
import { State, TreefyState } from '../state';
import type { PathKey } from './path';
import { prettyRepr } from './repr';

/**
 * Base class of structural objects. Subclasses just assign attributes in their constructor:
 * `this.weight = new ParamState(...)`, `this.layers = [a, b]`, `this.sub = new Child()`.
 */
export class Node {
  /**
   * Attribute names that graph traversal, split/merge and the repr ignore (e.g. a back-reference
   * to a parent module, or a cache). Merged with the lists of all base classes.
   */
  static graphInvisibleAttrs: readonly string[] = [];

  /** The pretty tree repr: `ClassName(\n  attr=value,\n  …\n)`. */
  toString(): string {
    return prettyRepr(this);
  }

  /** Node's `console.log` / `util.inspect` shows the pretty tree repr. */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toString();
  }
}

/** How a traversal treats a value (spec §2.1). */
export type GraphValueKind =
  /** a Node: a graph node with named attributes */
  | 'node'
  /** an Array, a plain object or a Map: a container whose children are its elements */
  | 'pytree'
  /** null or undefined: an empty container (no children, no leaves) */
  | 'empty'
  /** a live State: a state leaf */
  | 'state'
  /** a bare TreefyState: a state reference leaf */
  | 'stateRef'
  /** anything else: numbers, strings, tensors stored directly, functions, other class instances */
  | 'static';

/** Classify a value for graph traversal. */
export function classifyValue(value: unknown): GraphValueKind {
  if (value === null || value === undefined) return 'empty';
  if (typeof value !== 'object') return 'static';
  if (value instanceof Node) return 'node';
  if (value instanceof State) return 'state';
  if (value instanceof TreefyState) return 'stateRef';
  if (isPytree(value)) return 'pytree';
  return 'static';
}

/** True for the pytree containers: arrays, plain objects (prototype Object.prototype or null), Maps. */
export function isPytree(
  value: unknown,
): value is unknown[] | Record<string, unknown> | Map<PathKey, unknown> {
  if (value === null || typeof value !== 'object') return false;
  if (Array.isArray(value) || value instanceof Map) return true;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

type NodeClass = abstract new (...args: never[]) => Node;

const invisibleCache = new WeakMap<object, ReadonlySet<string>>();

/** The attribute names hidden from traversal for a node class: its `graphInvisibleAttrs` merged over the class chain. */
export function invisibleAttrsOf(
  cls: NodeClass | (abstract new (...args: never[]) => unknown),
): ReadonlySet<string> {
  const cached = invisibleCache.get(cls);
  if (cached) return cached;
  const names = new Set<string>();
  for (let c: object | null = cls; c && c !== Function.prototype; c = Object.getPrototypeOf(c)) {
    if (Object.hasOwn(c, 'graphInvisibleAttrs')) {
      const own = (c as { graphInvisibleAttrs: unknown }).graphInvisibleAttrs;
      if (!Array.isArray(own) || !own.every((n) => typeof n === 'string')) {
        throw new GraphError(
          `${(c as { name?: string }).name ?? 'class'}.graphInvisibleAttrs must be an array of attribute names`,
        );
      }
      for (const n of own) names.add(n);
    }
  }
  invisibleCache.set(cls, names);
  return names;
}

/** A node's visible attributes as `[name, value]`, sorted alphabetically by name. */
export function nodeAttributes(node: Node): [string, unknown][] {
  const hidden = invisibleAttrsOf(node.constructor as NodeClass);
  const record = node as unknown as Record<string, unknown>;
  return Object.keys(node)
    .filter((k) => !hidden.has(k))
    .sort()
    .map((k) => [k, record[k]]);
}

/**
 * The children of a container as `[key, value]`: a node's visible attributes (sorted), an
 * array's elements by index, a plain object's entries, a Map's entries (keys must be strings or
 * numbers). Empty for anything that is not a container.
 */
export function containerChildren(value: unknown): [PathKey, unknown][] {
  if (value instanceof Node) return nodeAttributes(value);
  if (!isPytree(value)) return [];
  if (Array.isArray(value)) {
    const out: [PathKey, unknown][] = [];
    for (let i = 0; i < value.length; i++) out.push([i, value[i]]);
    return out;
  }
  if (value instanceof Map) {
    const out: [PathKey, unknown][] = [];
    for (const [k, v] of value) {
      if (typeof k !== 'string' && typeof k !== 'number') {
        throw new GraphError(
          `a Map in the module graph has a key of type ${typeof k}; graph paths need string or number keys`,
        );
      }
      out.push([k, v]);
    }
    return out;
  }
  return Object.entries(value);
}

/** The class name of a value for messages and reprs. */
export function className(value: object): string {
  return (value.constructor as { name?: string } | undefined)?.name || 'Object';
}
