/**
 * checkpointedScan and checkpointedForLoop (spec §3.2, extra): the same results as scan/forLoop,
 * with BPTT memory that grows like base·log_base(T) instead of T. Under a gradient tape the
 * iterations are split into at most `base` chunks, each a `checkpoint` of the same split one level
 * down, until a chunk has at most `base` iterations (nested checkpointing, depth ⌈log_base T⌉).
 * The backward pass recomputes each level once. Without a tape they are plain scan/forLoop.
 *
 *   const [h, hs] = checkpointedScan(cell, h0, xs, { base: 16 });
 */
import { tf } from '../backend/tf';
import { describeValue, TransformError } from '../errors';
import { StateTraceStack } from '../state';
import { checkpoint, type Checkpointed } from './checkpoint';
import { disposeLoopOwned } from './loopFrame';
import {
  checkFunction,
  loopXs,
  scan,
  tensorsOf,
  type LoopInput,
  type LoopOptions,
  type LoopSlice,
  type SliceOf,
  type Stacked,
} from './loops';
import { rebuildTree, treeLeaves, type TreeLeaf } from './loopTree';
import { isTapeOn } from './tape';

export interface CheckpointedLoopOptions {
  /** Number of iterations (≥ 1); must agree with the xs' leading axis. */
  length?: number;
  /** The most iterations (or chunks) per level: an integer ≥ 2 (default 16). */
  base?: number;
}

/** scan with nested checkpointing: `fn(carry, x)` returns `[newCarry, y]`. */
export function checkpointedScan<C, X extends LoopInput, Y>(
  fn: (carry: C, x: SliceOf<X>) => readonly [C, Y],
  init: C,
  xs: X,
  options: CheckpointedLoopOptions = {},
): [C, Stacked<Y>] {
  const where = 'checkpointedScan';
  checkFunction(fn, where, 'fn');
  const { n, base } = plan(where, [xs], ['xs'], options);
  const step = fn as unknown as Step;
  return nestedScan(step, init, xs, n, base, where) as unknown as [C, Stacked<Y>];
}

/** forLoop with nested checkpointing: `fn` gets one slice per xs; the outputs are stacked. */
export function checkpointedForLoop<Y>(fn: () => Y, options: CheckpointedLoopOptions): Stacked<Y>;
export function checkpointedForLoop<X1 extends LoopInput, Y>(
  fn: (x1: SliceOf<X1>) => Y,
  xs1: X1,
  options?: CheckpointedLoopOptions,
): Stacked<Y>;
export function checkpointedForLoop<X1 extends LoopInput, X2 extends LoopInput, Y>(
  fn: (x1: SliceOf<X1>, x2: SliceOf<X2>) => Y,
  xs1: X1,
  xs2: X2,
  options?: CheckpointedLoopOptions,
): Stacked<Y>;
export function checkpointedForLoop<Y>(
  fn: (...slices: LoopSlice[]) => Y,
  ...xsAndOptions: (LoopInput | CheckpointedLoopOptions)[]
): Stacked<Y>;
export function checkpointedForLoop(fn: unknown, ...xsAndOptions: unknown[]): unknown {
  const where = 'checkpointedForLoop';
  checkFunction(fn, where, 'fn');
  const last = xsAndOptions[xsAndOptions.length - 1];
  const hasOptions = isOptions(last);
  const xsList = (hasOptions ? xsAndOptions.slice(0, -1) : xsAndOptions) as LoopInput[];
  const { n, base } = plan(
    where,
    xsList,
    xsList.map((_, i) => `xs[${i}]`),
    hasOptions ? last : {},
  );
  const step = stepOf(fn);
  return nestedScan(step, undefined, xsList, n, base, where)[1];
}

type Step = (carry: unknown, x: unknown) => readonly [unknown, unknown];
const plainScan = scan as unknown as (
  fn: Step,
  init: unknown,
  xs: unknown,
  options: LoopOptions,
) => [unknown, unknown];

/** The scan step of a forLoop body whose xs are packed in one array. */
const forLoopSteps = new WeakMap<object, Step>();
function stepOf(fn: (...slices: never[]) => unknown): Step {
  let step = forLoopSteps.get(fn);
  if (step === undefined) {
    step = (_carry, slices) => [
      undefined,
      (fn as (...a: unknown[]) => unknown)(...(slices as unknown[])),
    ];
    forLoopSteps.set(fn, step);
  }
  return step;
}

function plan(
  where: string,
  xsList: readonly unknown[],
  roots: readonly string[],
  options: CheckpointedLoopOptions,
): { n: number; base: number } {
  const base = options.base ?? 16;
  if (typeof base !== 'number' || !Number.isInteger(base) || base < 2) {
    throw new TransformError(`${where}: base must be an integer ≥ 2, got ${describeValue(base)}`);
  }
  const { length } = options;
  if (length !== undefined && !(Number.isInteger(length) && length >= 1)) {
    throw new TransformError(
      `${where}: length must be an integer ≥ 1, got ${describeValue(length)}`,
    );
  }
  const { n } = loopXs(where, xsList, roots, length);
  if (n < 1)
    throw new TransformError(
      `${where}: the loop must have at least one iteration, got length ${n}`,
    );
  return { n, base };
}

function isOptions(x: unknown): x is CheckpointedLoopOptions {
  if (x === null || typeof x !== 'object' || Object.getPrototypeOf(x) !== Object.prototype)
    return false;
  return Object.entries(x).every(
    ([k, v]) => (k === 'length' || k === 'base') && (v === undefined || typeof v === 'number'),
  );
}

/** Checkpointed chunk functions per step function and chunk size, so discoveries are reused. */
const chunkCache = new WeakMap<
  Step,
  Map<string, Checkpointed<[unknown, unknown], [unknown, unknown]>>
>();

function chunkFunction(step: Step, size: number, base: number, where: string) {
  let byKey = chunkCache.get(step);
  if (byKey === undefined) chunkCache.set(step, (byKey = new Map()));
  const key = `${size}/${base}`;
  let f = byKey.get(key);
  if (f === undefined) {
    f = checkpoint(
      (carry: unknown, xs: unknown) => nestedScan(step, carry, xs, size, base, where),
      {
        name: `${where} chunk of ${size}`,
      },
    );
    byKey.set(key, f);
  }
  return f;
}

function nestedScan(
  step: Step,
  init: unknown,
  xs: unknown,
  n: number,
  base: number,
  where: string,
): [unknown, unknown] {
  if (n <= base || !isTapeOn()) return plainScan(step, init, xs, { length: n });
  let size = 1;
  while (size * base < n) size *= base;
  const frame = new StateTraceStack({ name: where });
  frame.enter();
  let carry = init;
  let carryOwned = false;
  const chunks: unknown[] = [];
  const counts: number[] = [];
  for (let start = 0; start < n; start += size) counts.push(Math.min(size, n - start));
  // One split per xs leaf: tfjs's Slice gradient would save a copy of the whole xs per chunk.
  const { leaves } = treeLeaves(xs, 'xs', where);
  const pieces = leaves.map((l) => (l instanceof tf.Tensor ? tf.split(l, counts, 0) : null));
  try {
    for (let c = 0; c < counts.length; c++) {
      const xsChunk = rebuildTree(
        xs,
        leaves.map((l, j) => pieces[j]?.[c] ?? l),
      );
      const [next, ys] = chunkFunction(step, counts[c], base, where)(carry, xsChunk);
      disposeLoopOwned(tensorsOf(xsChunk));
      if (carryOwned) disposeLoopOwned(tensorsOf(carry));
      carry = next;
      carryOwned = true;
      chunks.push(ys);
    }
    const ys = concatOutputs(chunks);
    disposeLoopOwned(tensorsOf(chunks));
    return [carry, ys];
  } catch (e) {
    if (carryOwned) disposeLoopOwned(tensorsOf(carry));
    disposeLoopOwned(tensorsOf(chunks));
    disposeLoopOwned(pieces.flatMap((p) => p ?? []));
    frame.recoveryOriginalValues();
    throw e;
  } finally {
    frame.exit();
  }
}

/** Concatenate the chunks' stacked outputs along axis 0, leaf by leaf. */
function concatOutputs(chunks: readonly unknown[]): unknown {
  const columns: TreeLeaf[][] = [];
  for (const c of chunks) {
    treeLeaves(c, 'y', 'checkpointed loop').leaves.forEach((l, j) => (columns[j] ??= []).push(l));
  }
  return rebuildTree(
    chunks[0],
    columns.map((col) => (col[0] instanceof tf.Tensor ? tf.concat(col as tf.Tensor[], 0) : col[0])),
  );
}
