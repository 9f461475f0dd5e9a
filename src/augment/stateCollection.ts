/**
 * State collections: how `gradStates`, `inStates` and `outStates` are given, and how results come
 * back in the same shape (spec §4.1, §4.3). A collection is a single State, an array or plain
 * object of States (nested freely), or anything yielding `[key, State]` pairs — a FlatDict from
 * `graph.states()`, a Map — read structurally through `entries()` or iteration, whose results
 * come back as a plain object keyed the same. Parsed once, a collection lists its States in order
 * and rebuilds its shape around one value per State.
 */
import { TransformError, describeValue } from '../errors';
import { State } from '../state';
import { isPlainObject, type StateValue } from '../state/tree';

type AnyState = State<StateValue>;

/**
 * What a transform accepts where it wants a set of States: one State, arrays / plain objects of
 * them, or an iterable of `[key, State]` pairs (a FlatDict or a Map).
 */
export type StateCollectionSpec =
  | State<StateValue>
  | readonly StateCollectionSpec[]
  | { readonly [key: string]: StateCollectionSpec }
  | Iterable<readonly [string, State<StateValue>]>
  | { entries(): Iterable<readonly [string, State<StateValue>]> };

/** A parsed collection: its States in order (duplicates kept) and how to rebuild its shape. */
export interface StateCollection {
  /** The States in structure order (one entry per position, so a repeated State appears twice). */
  readonly states: readonly AnyState[];
  /** The dotted location of each position, for messages: `gradStates.w`, `gradStates[1]`. */
  readonly labels: readonly string[];
  /** The same shape with `values[i]` in place of `states[i]`. */
  rebuild<V>(values: readonly V[]): unknown;
}

/** Yields the `[key, value]` pairs of a FlatDict-like object, or null if `x` is not one. */
function pairsOf(x: unknown): Iterable<unknown> | null {
  if (x === null || typeof x !== 'object') return null;
  const entries = (x as { entries?: unknown }).entries;
  if (typeof entries === 'function') return (entries as () => Iterable<unknown>).call(x);
  const iter = (x as { [Symbol.iterator]?: unknown })[Symbol.iterator];
  if (typeof iter === 'function') return x as Iterable<unknown>;
  return null;
}

type Shape =
  | { kind: 'state'; index: number }
  | { kind: 'array'; items: Shape[] }
  | { kind: 'object'; keys: string[]; items: Shape[] };

/**
 * Parse a collection. `what` names the option in messages (`gradStates`); `where` names the
 * transform. A non-State leaf is a TransformError naming its position.
 */
export function parseStateCollection(spec: unknown, what: string, where: string): StateCollection {
  const states: AnyState[] = [];
  const labels: string[] = [];
  const fail = (label: string, v: unknown): never => {
    throw new TransformError(
      `${where}: All ${what} must be State instances; ${label} is ${describeValue(v)}`,
    );
  };
  const walk = (x: unknown, label: string): Shape => {
    if (x instanceof State) {
      states.push(x);
      labels.push(label);
      return { kind: 'state', index: states.length - 1 };
    }
    if (Array.isArray(x)) {
      return { kind: 'array', items: x.map((e, i) => walk(e, `${label}[${i}]`)) };
    }
    if (isPlainObject(x)) {
      const keys = Object.keys(x);
      return { kind: 'object', keys, items: keys.map((k) => walk(x[k], `${label}.${k}`)) };
    }
    const pairs = pairsOf(x);
    if (pairs !== null) {
      const keys: string[] = [];
      const items: Shape[] = [];
      let i = 0;
      for (const pair of pairs) {
        if (!Array.isArray(pair) || pair.length !== 2) fail(`${label} entry ${i}`, pair);
        const [key, value] = pair as [unknown, unknown];
        const k = typeof key === 'string' ? key : String(key);
        if (!(value instanceof State)) fail(`${label}['${k}']`, value);
        keys.push(k);
        items.push(walk(value, `${label}['${k}']`));
        i++;
      }
      return { kind: 'object', keys, items };
    }
    return fail(label, x);
  };
  const shape = walk(spec, what);
  const build = <V>(s: Shape, values: readonly V[]): unknown => {
    if (s.kind === 'state') return values[s.index];
    if (s.kind === 'array') return s.items.map((i) => build(i, values));
    const out: Record<string, unknown> = {};
    s.keys.forEach((k, i) => (out[k] = build(s.items[i], values)));
    return out;
  };
  return {
    states,
    labels,
    rebuild: <V>(values: readonly V[]) => {
      if (values.length !== states.length) {
        throw new TransformError(
          `${where}: internal error: ${values.length} values for ${states.length} ${what}`,
        );
      }
      return build(shape, values);
    },
  };
}
