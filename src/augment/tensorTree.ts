/**
 * Trees of user values as the augment transforms see them: tensors inside arrays and plain
 * objects, anything else an opaque leaf (numbers, strings, functions, class instances). These
 * helpers find and replace the tensors of function outputs and aux values, and hand tensors
 * across tidy scopes with the state layer's ownership counts, so no transform leaks or frees a
 * tensor the caller still holds.
 */
import { tf } from '../backend/tf';
import { acquire, release } from '../state';
import { isPlainObject, type StateValue } from '../state/tree';

/** The tensors of a tree, depth first. */
export function tensorsOf(tree: unknown): tf.Tensor[] {
  const out: tf.Tensor[] = [];
  const walk = (v: unknown): void => {
    if (v instanceof tf.Tensor) out.push(v);
    else if (Array.isArray(v)) v.forEach(walk);
    else if (isPlainObject(v)) Object.values(v).forEach(walk);
  };
  walk(tree);
  return out;
}

/** The same tree with every tensor replaced by `fn(tensor)`; other leaves are kept. */
export function mapTensors(tree: unknown, fn: (t: tf.Tensor) => unknown): unknown {
  const walk = (v: unknown): unknown => {
    if (v instanceof tf.Tensor) return fn(v);
    if (Array.isArray(v)) return v.map(walk);
    if (isPlainObject(v)) {
      const out: Record<string, unknown> = {};
      for (const k of Object.keys(v)) out[k] = walk(v[k]);
      return out;
    }
    return v;
  };
  return walk(tree);
}

/** The same shape as the state value `template`, with the next of `values` at each leaf. */
export function fillLeaves<V>(template: StateValue, next: () => V): unknown {
  const walk = (x: StateValue): unknown => {
    if (x instanceof tf.Tensor || typeof x === 'number') return next();
    if (Array.isArray(x)) return x.map(walk);
    const o = x as Record<string, StateValue>;
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(o)) out[k] = walk(o[k]);
    return out;
  };
  return walk(template);
}

/** Leaves of a state value that are numbers (a differentiated value must have none). */
export function hasNumberLeaf(v: StateValue): boolean {
  const walk = (x: StateValue): boolean =>
    typeof x === 'number'
      ? true
      : x instanceof tf.Tensor
        ? false
        : Array.isArray(x)
          ? x.some(walk)
          : Object.values(x as Record<string, StateValue>).some(walk);
  return walk(v);
}

/**
 * Tensors a transform must carry out of the tidy scopes it runs user code in. `hold` takes a
 * co-ownership (so neither a tidy nor a state write frees them); `handOver` gives the caller
 * fresh handles (clones share the data) tracked by the caller's scope; `releaseAll` lets go.
 */
export class Carry {
  private readonly held: tf.Tensor[] = [];

  /** Co-own every tensor of `tree`; returns the tree. */
  hold<T>(tree: T): T {
    for (const t of tensorsOf(tree)) {
      acquire(t);
      this.held.push(t);
    }
    return tree;
  }

  /** The tree with every tensor replaced by a caller-owned clone. */
  handOver<T>(tree: T): T {
    return mapTensors(tree, (t) => tf.clone(t)) as T;
  }

  /** Give up every co-ownership taken by `hold`. */
  releaseAll(): void {
    for (const t of this.held.splice(0)) release(t);
  }
}

/** A tree taken apart: its leaves in order, a comparable structure string, and a rebuilder. */
export interface FlatTree {
  readonly leaves: unknown[];
  readonly structure: string;
  rebuild(leaves: readonly unknown[]): unknown;
}

/** Take a tree apart (arrays and plain objects are containers; everything else is a leaf). */
export function flattenTree(tree: unknown): FlatTree {
  const leaves: unknown[] = [];
  const structure = (v: unknown): string => {
    if (Array.isArray(v)) return `[${v.map(structure).join(',')}]`;
    if (isPlainObject(v))
      return `{${Object.keys(v)
        .map((k) => `${JSON.stringify(k)}:${structure(v[k])}`)
        .join(',')}}`;
    leaves.push(v);
    return '*';
  };
  const s = structure(tree);
  return {
    leaves,
    structure: s,
    rebuild: (values) => {
      let i = 0;
      const walk = (v: unknown): unknown => {
        if (Array.isArray(v)) return v.map(walk);
        if (isPlainObject(v)) {
          const out: Record<string, unknown> = {};
          for (const k of Object.keys(v)) out[k] = walk(v[k]);
          return out;
        }
        return values[i++];
      };
      return walk(tree);
    },
  };
}
