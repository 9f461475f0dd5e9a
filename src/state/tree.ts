/**
 * State values are trees: a tensor, a plain number, or arrays/plain objects of those. This file
 * has the few tree utilities the state layer needs: leaves, structure, shape/dtype description.
 */
import { tf } from '../backend/tf';

/** A leaf of a state value: a tensor, or a plain number (counters, random keys). */
export type Leaf = tf.Tensor | number;
/** A state value: a leaf or a nested array / plain object of leaves. */
export type StateValue = Leaf | readonly StateValue[] | { readonly [key: string]: StateValue };

export function isTensor(x: unknown): x is tf.Tensor {
  return x instanceof tf.Tensor;
}

export function isPlainObject(x: unknown): x is Record<string, unknown> {
  if (x === null || typeof x !== 'object') return false;
  const proto = Object.getPrototypeOf(x);
  return proto === Object.prototype || proto === null;
}

/** True if `x` is a well-formed state value (tensor/number leaves in arrays and plain objects). */
export function isStateValue(x: unknown): x is StateValue {
  if (isTensor(x) || typeof x === 'number') return true;
  if (Array.isArray(x)) return x.every(isStateValue);
  if (isPlainObject(x)) return Object.values(x).every(isStateValue);
  return false;
}

/** The leaves of a tree, depth first (array order, then object key order). */
export function leaves(v: StateValue): Leaf[] {
  const out: Leaf[] = [];
  const walk = (x: StateValue): void => {
    if (isTensor(x) || typeof x === 'number') out.push(x);
    else if (Array.isArray(x)) x.forEach(walk);
    else for (const k of Object.keys(x)) walk((x as Record<string, StateValue>)[k]);
  };
  walk(v);
  return out;
}

/** The tensors among the leaves of a tree. */
export function tensorLeaves(v: StateValue): tf.Tensor[] {
  if (isTensor(v)) return [v];
  return leaves(v).filter(isTensor);
}

/** Map every leaf, keeping the structure. */
export function mapLeaves<T extends StateValue>(v: T, fn: (leaf: Leaf) => Leaf): T {
  const walk = (x: StateValue): StateValue => {
    if (isTensor(x) || typeof x === 'number') return fn(x);
    if (Array.isArray(x)) return x.map(walk);
    const out: Record<string, StateValue> = {};
    for (const k of Object.keys(x)) out[k] = walk((x as Record<string, StateValue>)[k]);
    return out;
  };
  return walk(v) as T;
}

/** A leaf's abstract value: `float32[3,4]`, or `number` for a plain number. */
export function leafSignature(leaf: Leaf): string {
  return isTensor(leaf) ? `${leaf.dtype}[${leaf.shape.join(',')}]` : 'number';
}

/** The abstract value of a whole tree (structure + shapes + dtypes), as a comparable string. */
export function treeSignature(v: StateValue): string {
  if (isTensor(v) || typeof v === 'number') return leafSignature(v);
  if (Array.isArray(v)) return `[${v.map(treeSignature).join(', ')}]`;
  const o = v as Record<string, StateValue>;
  return `{${Object.keys(o)
    .map((k) => `${k}: ${treeSignature(o[k])}`)
    .join(', ')}}`;
}

/** The structure of a tree with the leaves erased, as a comparable string. */
export function treeStructure(v: StateValue): string {
  if (isTensor(v)) return 'T';
  if (typeof v === 'number') return 'n';
  if (Array.isArray(v)) return `[${v.map(treeStructure).join(',')}]`;
  const o = v as Record<string, StateValue>;
  return `{${Object.keys(o)
    .map((k) => `${k}:${treeStructure(o[k])}`)
    .join(',')}}`;
}
