/**
 * Helpers shared by the optimizer tests: run an optimizer on a fixed gradient sequence and read
 * the parameter after every step, and compare float32 results with float64 references.
 */
import { expect } from 'vitest';
import { tf } from '../../src/backend/tf';
import type { Optimizer } from '../../src/optim';
import { ParamState } from '../../src/state';

/** The starting parameter and three gradients used by the rule tests (one zero element, to exercise ε). */
export const THETA0 = [0.5, -1.2, 2.0, 0.0];
export const GRADS = [
  [0.3, -0.8, 1.5, 0.0],
  [-0.1, -0.6, 2.5, 0.0],
  [0.4, 0.2, -3.0, 0.0],
];

/** Flattened values of a tensor. */
export function values(t: tf.Tensor): number[] {
  return Array.from(t.dataSync());
}

/** |a − b| ≤ atol + rtol·|b| elementwise, with a readable failure. */
export function expectClose(
  actual: readonly number[],
  expected: readonly number[],
  what: string,
  rtol = 2e-6,
  atol = 1e-6,
): void {
  expect(actual.length, `${what}: length`).toBe(expected.length);
  actual.forEach((a, i) => {
    const e = expected[i];
    const tol = atol + rtol * Math.abs(e);
    if (!(Math.abs(a - e) <= tol)) expect.fail(`${what}[${i}]: got ${a}, expected ${e} (±${tol})`);
  });
}

/**
 * Register a ParamState holding `theta0` under key 'w', apply `grads` one by one, and return
 * θ after each step plus the final slot values (by slot name). Disposes everything it made.
 */
export function runSteps(
  opt: Optimizer,
  theta0: readonly number[] = THETA0,
  grads: readonly (readonly number[])[] = GRADS,
): { thetas: number[][]; slots: Record<string, number[]> } {
  const w = new ParamState(tf.tensor1d([...theta0]));
  opt.registerTrainableWeights({ w });
  const thetas: number[][] = [];
  for (const g of grads) {
    const gt = tf.tensor1d([...g]);
    opt.update({ w: gt });
    gt.dispose();
    thetas.push(values(w.value));
  }
  const slots: Record<string, number[]> = {};
  for (const name of opt.slotNames) slots[name] = values(opt.slot(name, 'w').value as tf.Tensor);
  w.dispose();
  return { thetas, slots };
}

/** Dispose every tensor of a tree. */
export function disposeTree(x: unknown): void {
  if (x instanceof tf.Tensor) x.dispose();
  else if (Array.isArray(x)) x.forEach(disposeTree);
  else if (x !== null && typeof x === 'object') Object.values(x).forEach(disposeTree);
}
