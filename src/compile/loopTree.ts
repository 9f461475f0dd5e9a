/**
 * Trees of loop values (carries, xs, per-step outputs): tensors, numbers, booleans and empty
 * leaves (null/undefined) inside arrays and plain objects. Loops and checkpoint flatten them to
 * leaves in a fixed depth-first order, rebuild them with new leaves, and name a leaf by its path
 * (`carry[1].h`) when its shape or structure goes wrong.
 */
import { tf } from '../backend/tf';
import { describeValue, TransformError } from '../errors';
import { State } from '../state';
import { isPlainObject } from '../state/tree';

/** A leaf of a loop tree. */
export type TreeLeaf = tf.Tensor | number | boolean | null | undefined;

/** The leaves of a tree in depth-first order (array order, then object key order), with paths. */
export function treeLeaves(
  x: unknown,
  root: string,
  where: string,
): { leaves: TreeLeaf[]; paths: string[] } {
  const leaves: TreeLeaf[] = [];
  const paths: string[] = [];
  const walk = (v: unknown, path: string): void => {
    if (isTreeLeaf(v)) {
      leaves.push(v);
      paths.push(path);
    } else if (Array.isArray(v)) {
      v.forEach((e, i) => walk(e, `${path}[${i}]`));
    } else if (isPlainObject(v)) {
      for (const k of Object.keys(v)) walk(v[k], `${path}.${k}`);
    } else if (v instanceof State) {
      throw new TransformError(
        `${where}: ${path} is a State (${v.describe()}); pass or return state.value instead`,
      );
    } else {
      throw new TransformError(
        `${where}: ${path} is ${describeValue(v)}; loop values must be tensors, numbers, booleans, ` +
          `null/undefined, or arrays and plain objects of them`,
      );
    }
  };
  walk(x, root);
  return { leaves, paths };
}

/** The tensors of a tree (validating it like `treeLeaves`). */
export function treeTensors(x: unknown, where: string): tf.Tensor[] {
  return treeLeaves(x, 'value', where).leaves.filter((l): l is tf.Tensor => l instanceof tf.Tensor);
}

/** Rebuild `template`'s structure with new leaves, taken in `treeLeaves` order. */
export function rebuildTree(template: unknown, leaves: readonly unknown[]): unknown {
  let k = 0;
  const walk = (v: unknown): unknown => {
    if (isTreeLeaf(v)) return leaves[k++];
    if (Array.isArray(v)) return v.map(walk);
    const o = v as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(o)) out[key] = walk(o[key]);
    return out;
  };
  const out = walk(template);
  if (k !== leaves.length)
    throw new TransformError(`rebuildTree: ${leaves.length} leaves for a tree of ${k}`);
  return out;
}

/**
 * The first difference between two trees, as a message naming its path, or null if they have
 * the same structure and the same kind of leaf everywhere (tensors: same shape and dtype).
 */
export function treeMismatch(expected: unknown, got: unknown, path: string): string | null {
  if (expected instanceof tf.Tensor || got instanceof tf.Tensor) {
    if (!(expected instanceof tf.Tensor) || !(got instanceof tf.Tensor)) {
      return `${path}: expected ${leafKind(expected)}, got ${leafKind(got)}`;
    }
    if (expected.dtype !== got.dtype || !sameShape(expected.shape, got.shape)) {
      return `${path}: expected ${leafKind(expected)}, got ${leafKind(got)}`;
    }
    return null;
  }
  if (Array.isArray(expected) || Array.isArray(got)) {
    if (!Array.isArray(expected) || !Array.isArray(got) || expected.length !== got.length) {
      return `${path}: expected ${leafKind(expected)}, got ${leafKind(got)}`;
    }
    for (let i = 0; i < expected.length; i++) {
      const m = treeMismatch(expected[i], got[i], `${path}[${i}]`);
      if (m !== null) return m;
    }
    return null;
  }
  if (isPlainObject(expected) || isPlainObject(got)) {
    if (!isPlainObject(expected) || !isPlainObject(got)) {
      return `${path}: expected ${leafKind(expected)}, got ${leafKind(got)}`;
    }
    const ka = Object.keys(expected);
    const kb = Object.keys(got);
    if (ka.length !== kb.length || ka.some((k, i) => k !== kb[i])) {
      return `${path}: expected keys {${ka.join(', ')}}, got {${kb.join(', ')}}`;
    }
    for (const k of ka) {
      const m = treeMismatch(expected[k], got[k], `${path}.${k}`);
      if (m !== null) return m;
    }
    return null;
  }
  if (leafKind(expected) !== leafKind(got))
    return `${path}: expected ${leafKind(expected)}, got ${leafKind(got)}`;
  return null;
}

function isTreeLeaf(v: unknown): v is TreeLeaf {
  return (
    v instanceof tf.Tensor ||
    v === null ||
    v === undefined ||
    typeof v === 'number' ||
    typeof v === 'boolean'
  );
}

/** `float32[3,4]`, `number`, `array(length 2)` … for messages. */
export function leafKind(v: unknown): string {
  if (v instanceof tf.Tensor) return `${v.dtype}[${v.shape.join(',')}]`;
  if (typeof v === 'number' || typeof v === 'boolean') return typeof v;
  if (isPlainObject(v)) return `object {${Object.keys(v).join(', ')}}`;
  return describeValue(v);
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
