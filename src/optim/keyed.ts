/**
 * The two keyed collections of the optimizer protocol: the trainable weights given to
 * `registerTrainableWeights` (a FlatDict from `net.states(ParamState)`, a Map, a plain object of
 * States, or an array whose keys are its indices) and the gradients given to `update` (keyed the
 * same: what `grad(loss, { gradStates: opt.weights })` returns, a Map keyed by key or by State,
 * or an array for array-registered weights). Both are read into ordered `[key, value]` lists.
 */
import { ArgumentError, describeValue } from '../errors';
import { FlatDict, type Path } from '../graph';
import { State, type StateValue } from '../state';
import { isPlainObject } from '../state/tree';
import type { GradientTree } from './clip';

type AnyState = State<StateValue>;

/** What `registerTrainableWeights` accepts. */
export type TrainableWeights =
  | FlatDict<AnyState>
  | ReadonlyMap<string | number, AnyState>
  | Readonly<Record<string, AnyState>>
  | readonly AnyState[]
  | Iterable<readonly [string, AnyState]>;

/** What `update` accepts: one gradient tree per registered key. */
export type Gradients =
  | Readonly<Record<string, GradientTree>>
  | readonly GradientTree[]
  | ReadonlyMap<string | number | AnyState, GradientTree>
  | Iterable<readonly [string, GradientTree]>;

function isIterable(x: unknown): x is Iterable<unknown> {
  return (
    x !== null &&
    typeof x === 'object' &&
    typeof (x as { [Symbol.iterator]?: unknown })[Symbol.iterator] === 'function'
  );
}

/** `[key, value]` pairs of a FlatDict, Map, plain object, array or iterable of pairs; null if `x` is none of them. */
function keyedPairs(x: unknown, where: string, what: string): [Path, unknown][] | null {
  if (x instanceof FlatDict) return x.pathEntries();
  if (Array.isArray(x)) return x.map((v, i) => [[String(i)], v]);
  if (x instanceof Map) return [...x].map(([k, v]) => [[k], v]);
  if (isPlainObject(x)) return Object.keys(x).map((k) => [[k], x[k]]);
  if (isIterable(x) && !(x instanceof State)) {
    const out: [Path, unknown][] = [];
    let i = 0;
    for (const pair of x) {
      if (!Array.isArray(pair) || pair.length !== 2) {
        throw new ArgumentError(
          `${where}: ${what} entry ${i} must be a [key, value] pair, got ${describeValue(pair)}`,
        );
      }
      out.push([[pair[0] as string], pair[1]]);
      i++;
    }
    return out;
  }
  return null;
}

/** The `[path, State]` entries of a trainable-weights collection, in order. */
export function readWeights(x: unknown, where: string): [Path, AnyState][] {
  const pairs = keyedPairs(x, where, 'weights');
  if (pairs === null) {
    throw new ArgumentError(
      `${where}: expected the weights as a FlatDict (net.states(ParamState)), a Map, a plain object ` +
        `of States or an array of States, got ${describeValue(x)}` +
        (x instanceof State ? ' (wrap a single State: [state] or { name: state })' : ''),
    );
  }
  for (const [path, v] of pairs) {
    if (typeof path[0] !== 'string' && typeof path[0] !== 'number') {
      throw new ArgumentError(
        `${where}: weight keys must be strings, got ${describeValue(path[0])}`,
      );
    }
    if (!(v instanceof State)) {
      throw new ArgumentError(
        `${where}: every weight must be a State; '${path.join('.')}' is ${describeValue(v)}`,
      );
    }
  }
  return pairs as [Path, AnyState][];
}

/** A gradients collection as `[key or State, tree]` entries, in order. */
export function readGradients(x: unknown, where: string): [string | AnyState, unknown][] {
  const pairs = keyedPairs(x, where, 'grads');
  if (pairs === null) {
    throw new ArgumentError(
      `${where}: expected the gradients keyed like the registered weights (a plain object, a Map ` +
        `or an array, e.g. what grad(loss, { gradStates: opt.weights }) returns), got ${describeValue(x)}`,
    );
  }
  return pairs.map(([path, g]) => {
    const k: unknown = path.length === 1 ? path[0] : path.join('.');
    return [k instanceof State ? k : String(k), g] as [string | AnyState, unknown];
  });
}
