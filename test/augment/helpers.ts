/**
 * Helpers shared by the augment tests: turning results into plain JS for deep comparison,
 * float64 reference derivatives by central finite differences, and tolerance checks.
 */
import { expect } from 'vitest';
import { tf } from '../../src/backend/tf';

/** The same tree with every tensor replaced by its nested-array value. */
export function toJS(x: unknown): unknown {
  if (x instanceof tf.Tensor) return JSON.parse(JSON.stringify(x.arraySync())); // -0 → 0
  if (Array.isArray(x)) return x.map(toJS);
  if (x !== null && typeof x === 'object' && Object.getPrototypeOf(x) === Object.prototype) {
    return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, toJS(v)]));
  }
  return x;
}

/** Dispose every tensor of a tree. */
export function disposeTree(x: unknown): void {
  if (x instanceof tf.Tensor) x.dispose();
  else if (Array.isArray(x)) x.forEach(disposeTree);
  else if (x !== null && typeof x === 'object') Object.values(x).forEach(disposeTree);
}

/** Flattened values of a tensor as a plain array. */
export function flat(t: tf.Tensor): number[] {
  return Array.from(t.dataSync());
}

/** |a − b| ≤ atol + rtol·|b| elementwise, with a readable failure. */
export function expectClose(
  actual: readonly number[],
  expected: readonly number[],
  rtol: number,
  atol: number,
  what = '',
): void {
  expect(actual.length, `${what} length`).toBe(expected.length);
  actual.forEach((a, i) => {
    const e = expected[i];
    const tol = atol + rtol * Math.abs(e);
    if (!(Math.abs(a - e) <= tol)) {
      expect.fail(`${what}[${i}]: got ${a}, expected ${e} (tolerance ${tol})`);
    }
  });
}

/** ∂f/∂x by central differences in float64 (f: R^n → R^m); result row-major [m, n]. */
export function fdJacobian(
  f: (x: number[]) => number[],
  x: readonly number[],
  h = 1e-6,
): number[][] {
  const m = f([...x]).length;
  const jac = Array.from({ length: m }, () => new Array<number>(x.length).fill(0));
  for (let j = 0; j < x.length; j++) {
    const xp = [...x];
    const xm = [...x];
    xp[j] += h;
    xm[j] -= h;
    const fp = f(xp);
    const fm = f(xm);
    for (let i = 0; i < m; i++) jac[i][j] = (fp[i] - fm[i]) / (2 * h);
  }
  return jac;
}

/** Deterministic pseudo-random numbers in [-scale, scale) (a small LCG, so tests do not depend on the RNG layer). */
export function fixedRandom(n: number, seed: number, scale = 1): number[] {
  let s = seed >>> 0;
  return Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 2 ** 32) * 2 * scale - scale;
  });
}
