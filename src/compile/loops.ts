/**
 * forLoop and scan (spec §3.2), eagerly: a JS loop whose steps each run in tf.tidy, inside one
 * trace frame (so nested transforms and enclosing ones see the states the body touches). Only
 * the carry, the per-step outputs and the states' new values survive a step, so memory stays
 * flat over long simulations (loopFrame.ts); under tf.grad the tape records every step and BPTT
 * works as usual. `xs` are trees of tensors sliced along axis 0; the outputs `ys` are stacked
 * along a new axis 0 in index order, also with `reverse`.
 *
 *   const ys = forLoop((I) => neuron.update(I), currents);          // currents [T, N] → ys [T, N]
 *   const [h, hs] = scan((h, x) => { const n = cell(h, x); return [n, n]; }, h0, xs);
 */
import { tf } from '../backend/tf';
import { describeValue, TransformError } from '../errors';
import { isPlainObject } from '../state/tree';
import { blockForLoop } from './blockLoop';
import { checkNoState } from './statefulFunction';
import { disposeLoopOwned, LoopFrame, ownStepOutputs } from './loopFrame';
import { leafKind, rebuildTree, treeLeaves, treeMismatch, type TreeLeaf } from './loopTree';
import { ProgressBar, toProgressBar, type ProgressBarOption, type ProgressRun } from './progress';
import { isTapeOn, tensorIdWatermark } from './tape';

/** Options of forLoop and scan. */
export interface LoopOptions {
  /** Number of iterations; required without xs, and must agree with the xs' leading axis. */
  length?: number;
  /** Iterate from the last index down to 0 (outputs are still stored in index order). */
  reverse?: boolean;
  /** Accepted for parity with the reference API; eager loops are not unrolled. A positive integer. */
  unroll?: number;
  /** `true` (default bar), a number (its update period) or a ProgressBar. */
  progressBar?: ProgressBarOption;
}

/** A tree of tensors to loop over (each tensor is sliced along its leading axis). */
export type LoopInput =
  tf.Tensor | null | undefined | readonly LoopInput[] | { readonly [key: string]: LoopInput };

/** One step's slice of a LoopInput: each tensor without its leading axis. */
export type SliceOf<X> = X extends tf.Tensor
  ? tf.Tensor
  : X extends null | undefined
    ? X
    : { -readonly [K in keyof X]: SliceOf<X[K]> };

/** The per-step outputs `Y` stacked along a new axis 0 (numbers and booleans become tensors). */
export type Stacked<Y> = Y extends tf.Tensor | number | boolean
  ? tf.Tensor
  : Y extends null | undefined | void
    ? Y
    : { -readonly [K in keyof Y]: Stacked<Y[K]> };

/** A slice passed to a forLoop body with more xs than the typed overloads cover. */
export type LoopSlice = tf.Tensor | null | undefined | LoopSlice[] | { [key: string]: LoopSlice };

/**
 * Run `fn` once per index of the xs (or `length` times without xs) and stack its outputs along a
 * new axis 0. `fn` receives the step's slice of each xs as separate arguments.
 */
export function forLoop<Y>(fn: () => Y, options: LoopOptions): Stacked<Y>;
export function forLoop<X1 extends LoopInput, Y>(
  fn: (x1: SliceOf<X1>) => Y,
  xs1: X1,
  options?: LoopOptions,
): Stacked<Y>;
export function forLoop<X1 extends LoopInput, X2 extends LoopInput, Y>(
  fn: (x1: SliceOf<X1>, x2: SliceOf<X2>) => Y,
  xs1: X1,
  xs2: X2,
  options?: LoopOptions,
): Stacked<Y>;
export function forLoop<X1 extends LoopInput, X2 extends LoopInput, X3 extends LoopInput, Y>(
  fn: (x1: SliceOf<X1>, x2: SliceOf<X2>, x3: SliceOf<X3>) => Y,
  xs1: X1,
  xs2: X2,
  xs3: X3,
  options?: LoopOptions,
): Stacked<Y>;
export function forLoop<Y>(
  fn: (...slices: LoopSlice[]) => Y,
  ...xsAndOptions: (LoopInput | LoopOptions)[]
): Stacked<Y>;
export function forLoop(fn: unknown, ...rest: unknown[]): unknown {
  const where = 'forLoop';
  checkFunction(fn, where, 'fn');
  const hasOptions = rest.length > 0 && isLoopOptions(rest[rest.length - 1]);
  const options = parseOptions(hasOptions ? rest[rest.length - 1] : undefined, where);
  const xsList = hasOptions ? rest.slice(0, -1) : rest;
  const roots = xsList.map((_, i) => `xs[${i}]`);
  // a jitted step runs in blocks of steps where it can (blockLoop.ts)
  const blocked = blockForLoop(fn, () => loopXs(where, xsList, roots, options.length), options);
  if (blocked !== null) return blocked.ys;
  const body = (_carry: unknown, slices: unknown[]): [unknown, unknown] => [
    undefined,
    (fn as (...a: unknown[]) => unknown)(...slices),
  ];
  return runScan(where, body, undefined, xsList, roots, options)[1];
}

/**
 * `scan(fn, init, xs)` → `[carry, ys]`: `fn(carry, x)` returns `[newCarry, y]` for each slice `x`
 * of `xs` (or `length` times with `x` undefined when xs is null/undefined). The carry must keep
 * its structure, shapes and dtypes; the ys are stacked along a new axis 0.
 */
export function scan<C, X extends LoopInput, Y>(
  fn: (carry: C, x: SliceOf<X>) => readonly [C, Y],
  init: C,
  xs: X,
  options?: LoopOptions,
): [C, Stacked<Y>] {
  const where = 'scan';
  checkFunction(fn, where, 'fn');
  const opts = parseOptions(options, where);
  const body = (carry: unknown, slices: unknown[]): [unknown, unknown] => {
    const r = (fn as unknown as (c: unknown, x: unknown) => unknown)(carry, slices[0]);
    if (!Array.isArray(r) || r.length !== 2) {
      throw new TransformError(`scan: fn must return [carry, y], got ${describeValue(r)}`);
    }
    return [r[0], r[1]];
  };
  return runScan(where, body, init, [xs], ['xs'], opts) as unknown as [C, Stacked<Y>];
}

type Body = (carry: unknown, slices: unknown[]) => [unknown, unknown];

/** The xs of a loop, flattened: every tree's leaves, and which of them are tensors to slice. */
export interface LoopXs {
  readonly n: number;
  readonly trees: readonly { template: unknown; leaves: TreeLeaf[] }[];
  readonly tensors: readonly tf.Tensor[];
}

function runScan(
  where: string,
  body: Body,
  init: unknown,
  xsList: readonly unknown[],
  roots: readonly string[],
  options: LoopOptions,
): [unknown, unknown] {
  treeLeaves(init, 'carry', where); // validates the carry
  const xs = loopXs(where, xsList, roots, options.length);
  const bar = toProgressBar(options.progressBar, where);
  if (xs.n === 0) return emptyLoop(where, body, init, xs);
  return runSteps(where, body, init, xs, options.reverse === true, bar);
}

function runSteps(
  where: string,
  body: Body,
  init: unknown,
  xs: LoopXs,
  reverse: boolean,
  bar: ProgressBar | null,
): [unknown, unknown] {
  const { n } = xs;
  const frame = new LoopFrame(where);
  return frame.run(() => {
    let carry = init;
    let carryOwned = false;
    const ys: unknown[] = new Array(n);
    let firstY: unknown = undefined;
    // Under a tape, slice each x once: the gradient of a split is one concat, while per-step
    // slices would each pad their gradient back to the full [T, ...] shape. split + reshape
    // rather than unstack: wasm's Unpack copies the whole input once per output (T² work).
    const unstacked = isTapeOn() && n > 1 ? xs.tensors.map((t) => splitSteps(t, n)) : null;
    const run: ProgressRun | null = bar?.start(n) ?? null;
    try {
      for (let k = 0; k < n; k++) {
        const i = reverse ? n - 1 - k : k;
        const stepWatermark = tensorIdWatermark();
        const [newCarry, y] = tf.tidy(() => {
          const slices = sliceXs(xs, i, unstacked);
          const out = body(carry, slices);
          checkNoState(out, where);
          return ownStepOutputs(out, stepWatermark, new Set()) as unknown as tf.TensorContainer;
        }) as unknown as [unknown, unknown];
        const carryError = treeMismatch(init, newCarry, 'carry');
        const yError = k === 0 ? null : treeMismatch(firstY, y, 'y');
        const stateError = frame.changedState();
        if (carryError !== null || yError !== null || stateError !== null) {
          disposeLoopOwned(tensorsOf([newCarry, y]));
          throw new TransformError(
            carryError !== null
              ? `${where}: the carry must keep its structure, shapes and dtypes, but at iteration ${i} ${carryError}`
              : yError !== null
                ? `${where}: the per-step outputs must keep their structure, shapes and dtypes, but at iteration ${i} ${yError}`
                : `${where}: states written in a loop must keep their shapes and dtypes, but at iteration ${i} ${stateError}`,
          );
        }
        if (carryOwned) disposeLoopOwned(tensorsOf(carry));
        carry = newCarry;
        carryOwned = true;
        ys[i] = y;
        if (k === 0) firstY = y;
        if (unstacked) disposeLoopOwned(unstacked.map((list) => list[i]));
        frame.freeReleased();
        run?.step(k, { i, carry, y });
      }
      const stacked = stackOutputs(ys);
      disposeLoopOwned(tensorsOf(ys));
      return [carry, stacked];
    } catch (e) {
      run?.close();
      if (carryOwned) disposeLoopOwned(tensorsOf(carry));
      disposeLoopOwned(tensorsOf(ys));
      if (unstacked) disposeLoopOwned(unstacked.flat());
      frame.restoreAndFree();
      throw e;
    }
  });
}

/** A zero-length loop returns the init carry and empty stacks. */
function emptyLoop(where: string, body: Body, init: unknown, xs: LoopXs): [unknown, unknown] {
  // The output shapes are only known by running the body: do it once on zero-filled slices
  // (like tracing it), then put every state back.
  const frame = new LoopFrame(`${where} (length 0)`);
  let empty: unknown;
  frame.enter();
  try {
    tf.tidy(() => {
      const slices = xs.trees.map(({ template, leaves }) =>
        rebuildTree(
          template,
          leaves.map((l) => (l instanceof tf.Tensor ? tf.zeros(l.shape.slice(1), l.dtype) : l)),
        ),
      );
      const [carry, y] = body(init, slices);
      checkNoState([carry, y], where);
      const carryError = treeMismatch(init, carry, 'carry');
      if (carryError !== null) {
        throw new TransformError(
          `${where}: the carry must keep its structure, shapes and dtypes, but ${carryError}`,
        );
      }
      const { leaves } = treeLeaves(y, 'y', where);
      empty = {
        template: y,
        specs: leaves.map((l) => (l instanceof tf.Tensor ? { shape: l.shape, dtype: l.dtype } : l)),
      };
    });
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    throw new TransformError(
      `${where}: a loop of length 0 has outputs of unknown shape until fn runs, and running fn on ` +
        `zero-filled slices failed: ${msg}`,
    );
  } finally {
    frame.restoreAndFree();
    frame.exit();
  }
  const { template, specs } = empty as { template: unknown; specs: unknown[] };
  const leaves = specs.map((s) => {
    if (typeof s === 'number') return tf.zeros([0]);
    if (typeof s === 'boolean') return tf.zeros([0], 'bool');
    if (s === null || s === undefined) return s;
    const { shape, dtype } = s as { shape: number[]; dtype: tf.DataType };
    return tf.zeros([0, ...shape], dtype);
  });
  return [init, rebuildTree(template, leaves)];
}

/** The n steps of t along axis 0 (t.shape[0] = n), each without the leading axis. */
function splitSteps(t: tf.Tensor, n: number): tf.Tensor[] {
  const shape = t.shape.slice(1);
  return tf.tidy(() => tf.split(t, n, 0).map((s) => tf.reshape(s, shape)));
}

/**
 * tf.stack along a new axis 0, as a concat of expanded steps: the gradient is then one SplitV
 * (cheap) instead of an Unpack, which on wasm copies the whole tensor once per step.
 */
function stackSteps(steps: tf.Tensor[]): tf.Tensor {
  if (steps.length === 1) return tf.expandDims(steps[0], 0);
  return tf.tidy(() =>
    tf.concat(
      steps.map((s) => tf.expandDims(s, 0)),
      0,
    ),
  );
}

/** Stack per-step outputs (in index order) leaf by leaf along a new axis 0. */
function stackOutputs(ys: readonly unknown[]): unknown {
  const first = treeLeaves(ys[0], 'y', 'stack');
  const columns: TreeLeaf[][] = first.leaves.map(() => []);
  for (const y of ys) treeLeaves(y, 'y', 'stack').leaves.forEach((l, j) => columns[j].push(l));
  const stacked = columns.map((col) => {
    const l = col[0];
    if (l instanceof tf.Tensor) return stackSteps(col as tf.Tensor[]);
    if (typeof l === 'number') return tf.tensor1d(col as number[], 'float32');
    if (typeof l === 'boolean') return tf.tensor1d(col as boolean[], 'bool');
    return l;
  });
  return rebuildTree(ys[0], stacked);
}

function sliceXs(xs: LoopXs, i: number, unstacked: tf.Tensor[][] | null): unknown[] {
  let j = 0;
  return xs.trees.map(({ template, leaves }) =>
    rebuildTree(
      template,
      leaves.map((l) => {
        if (!(l instanceof tf.Tensor)) return l;
        const k = j++;
        if (unstacked) return unstacked[k][i];
        // one row: O(row) on every backend (wasm's stock Slice copied the whole input; the
        // library's Slice kernel, backend/wasmKernels.ts, copies the slice only)
        return tf.reshape(tf.slice(l, i, 1), l.shape.slice(1));
      }),
    ),
  );
}

/** Flatten and check the xs: every tensor needs a leading axis, all of the same length. */
export function loopXs(
  where: string,
  xsList: readonly unknown[],
  roots: readonly string[],
  length: number | undefined,
): LoopXs {
  const trees: { template: unknown; leaves: TreeLeaf[] }[] = [];
  const tensors: tf.Tensor[] = [];
  let n: number | undefined;
  let nPath = '';
  xsList.forEach((x, j) => {
    const { leaves, paths } = treeLeaves(x, roots[j], where);
    leaves.forEach((l, k) => {
      if (l === null || l === undefined) return;
      if (!(l instanceof tf.Tensor) || l.rank === 0) {
        throw new TransformError(
          `${where} got value with no leading axis to scan over: ${paths[k]} is ${leafKind(l)}; ` +
            `xs must be tensors of rank ≥ 1 (or trees of them)`,
        );
      }
      if (n === undefined) {
        n = l.shape[0];
        nPath = paths[k];
      } else if (l.shape[0] !== n) {
        throw new TransformError(
          `${where}: the xs have different leading lengths: ${nPath} has ${n}, ${paths[k]} has ${l.shape[0]}`,
        );
      }
      tensors.push(l);
    });
    trees.push({ template: x, leaves });
  });
  if (length !== undefined && n !== undefined && length !== n) {
    throw new TransformError(
      `${where}: length=${length} disagrees with the leading length ${n} of ${nPath}`,
    );
  }
  const count = n ?? length;
  if (count === undefined) {
    throw new TransformError(`${where}: give xs to loop over or a length (neither was given)`);
  }
  return { n: count, trees, tensors };
}

const optionKeys = new Set(['length', 'reverse', 'unroll', 'progressBar']);

/** A trailing plain object with only loop-option keys of the right types is the options. */
function isLoopOptions(x: unknown): x is LoopOptions {
  if (!isPlainObject(x)) return false;
  return Object.entries(x).every(
    ([k, v]) =>
      optionKeys.has(k) &&
      (v === undefined ||
        (k === 'reverse' && typeof v === 'boolean') ||
        ((k === 'length' || k === 'unroll') && typeof v === 'number') ||
        (k === 'progressBar' &&
          (typeof v === 'boolean' || typeof v === 'number' || v instanceof ProgressBar))),
  );
}

function parseOptions(o: unknown, where: string): LoopOptions {
  if (o === undefined) return {};
  if (!isPlainObject(o))
    throw new TransformError(`${where}: options must be a plain object, got ${describeValue(o)}`);
  for (const k of Object.keys(o)) {
    if (!optionKeys.has(k)) {
      throw new TransformError(
        `${where}: unknown option '${k}' (expected ${[...optionKeys].join(', ')})`,
      );
    }
  }
  const { length, reverse, unroll } = o as LoopOptions;
  if (length !== undefined && !(Number.isInteger(length) && length >= 0)) {
    throw new TransformError(
      `${where}: length must be a non-negative integer, got ${describeValue(length)}`,
    );
  }
  if (reverse !== undefined && typeof reverse !== 'boolean') {
    throw new TransformError(`${where}: reverse must be a boolean, got ${describeValue(reverse)}`);
  }
  if (unroll !== undefined && !(Number.isInteger(unroll) && unroll >= 1)) {
    throw new TransformError(
      `${where}: unroll must be a positive integer, got ${describeValue(unroll)}`,
    );
  }
  return o as LoopOptions;
}

export function checkFunction(
  fn: unknown,
  where: string,
  what: string,
): asserts fn is (...a: never[]) => unknown {
  if (typeof fn !== 'function') {
    throw new TransformError(`${where}: ${what} must be a function, got ${describeValue(fn)}`);
  }
}

/** The tensors in a tree of loop values. */
export function tensorsOf(x: unknown): tf.Tensor[] {
  const out: tf.Tensor[] = [];
  const walk = (v: unknown): void => {
    if (v instanceof tf.Tensor) out.push(v);
    else if (Array.isArray(v)) v.forEach(walk);
    else if (isPlainObject(v)) Object.values(v).forEach(walk);
  };
  walk(x);
  return out;
}
