/**
 * cond, switchCase (alias switch_) and ifElse (spec §3.4), eagerly: the predicate or index is
 * read concretely (a JS value, or a scalar tensor read with dataSync) and only the chosen branch
 * runs, inside a trace frame. A state written only by a branch that did not run keeps its value,
 * which is what the traced versions produce too; under tf.grad the tape records the branch that
 * ran, which is its correct gradient. If a branch throws, the states it touched are restored.
 */
import { tf } from '../backend/tf';
import { describeValue, TransformError } from '../errors';
import { State, StateTraceStack } from '../state';
import { isPlainObject } from '../state/tree';
import { jitErrorIf } from './errorIf';
import { checkNoState, ownResults } from './statefulFunction';

/** A branch predicate: a boolean, a number (non-zero is true) or a scalar bool/numeric tensor. */
export type BranchPredicate = boolean | number | tf.Tensor;
/** A branch index: an integer or a scalar int32 tensor (clamped to the branches). */
export type BranchIndex = number | tf.Tensor;

export interface IfElseOptions {
  /** Require exactly one true condition (default true); otherwise the first true one wins. */
  checkCond?: boolean;
}

/** Run `trueFn(...operands)` if `pred` holds, else `falseFn(...operands)`. */
export function cond<A extends unknown[], R>(
  pred: BranchPredicate,
  trueFn: (...operands: A) => R,
  falseFn: (...operands: A) => R,
  ...operands: A
): R {
  const where = 'cond';
  checkBranch(trueFn, where, 'trueFn');
  checkBranch(falseFn, where, 'falseFn');
  return runBranch(predicateValue(pred, where) ? trueFn : falseFn, operands, where);
}

/** Run `branches[index](...operands)`, with `index` clamped to [0, branches.length - 1]. */
export function switchCase<A extends unknown[], R>(
  index: BranchIndex,
  branches: readonly ((...operands: A) => R)[],
  ...operands: A
): R {
  const where = 'switch';
  checkBranches(branches, where);
  if (branches.length === 1) return runBranch(branches[0], operands, where);
  const i = branchIndex(index, where);
  return runBranch(branches[Math.min(Math.max(i, 0), branches.length - 1)], operands, where);
}

/** `switch` is a reserved word: the same function under the reference library's name. */
export const switch_ = switchCase;

/**
 * Run the branch of the true condition. With `checkCond` (default) exactly one condition must be
 * true; with `{ checkCond: false }` the first true one wins and the last branch runs if none is.
 * The options object, if given, is the last argument after the operands.
 */
export function ifElse<A extends unknown[], R>(
  conditions: readonly BranchPredicate[] | tf.Tensor,
  branches: readonly ((...operands: A) => R)[],
  ...operandsAndOptions: A | [...A, IfElseOptions]
): R {
  const where = 'ifElse';
  const last = operandsAndOptions[operandsAndOptions.length - 1];
  const hasOptions = isIfElseOptions(last);
  const operands = (hasOptions ? operandsAndOptions.slice(0, -1) : operandsAndOptions) as A;
  const checkCond = hasOptions ? (last.checkCond ?? true) : true;
  if (!Array.isArray(branches)) {
    throw new TransformError(
      `${where}: branches must be an array of functions, got ${describeValue(branches)}`,
    );
  }
  const nConditions = conditionCount(conditions, where);
  if (nConditions !== branches.length) {
    throw new TransformError(
      `${where}: got ${nConditions} conditions for ${branches.length} branches; give one condition per branch`,
    );
  }
  checkBranches(branches, where);
  if (branches.length === 1) return runBranch(branches[0], operands, where);
  const values = conditionValues(conditions, where);
  if (checkCond) {
    jitErrorIf(
      values.filter((v) => v).length !== 1,
      'Only one condition can be True. But got {}.',
      values,
    );
  }
  const first = values.indexOf(true);
  return runBranch(branches[first === -1 ? branches.length - 1 : first], operands, where);
}

/** Read a predicate concretely; anything but a scalar boolean/number is a TransformError. */
export function predicateValue(pred: unknown, where: string): boolean {
  if (typeof pred === 'boolean') return pred;
  if (typeof pred === 'number') return pred !== 0;
  if (typeof pred === 'bigint') return pred !== 0n;
  if (pred instanceof tf.Tensor) {
    if (pred.rank !== 0) {
      throw new TransformError(
        `${where}: the predicate must be a scalar, got a tensor of shape [${pred.shape.join(',')}]; ` +
          `reduce it first (tf.any, tf.all)`,
      );
    }
    if (pred.dtype === 'string' || pred.dtype === 'complex64') {
      throw new TransformError(
        `${where}: the predicate must be boolean or numeric, got a ${pred.dtype} tensor`,
      );
    }
    return pred.dataSync()[0] !== 0;
  }
  if (pred === null || pred === undefined) {
    throw new TransformError(
      `${where}: the predicate is ${String(pred)}; expected a boolean, a number or a scalar tensor`,
    );
  }
  if (Array.isArray(pred)) {
    throw new TransformError(
      `${where}: the predicate must be a scalar, got a sequence (${describeValue(pred)}); reduce it first`,
    );
  }
  if (pred instanceof State) {
    throw new TransformError(
      `${where}: the predicate is a State (${pred.describe()}); pass state.value`,
    );
  }
  throw new TransformError(
    `${where}: the predicate must be a boolean, a number or a scalar tensor, got ${describeValue(pred)}`,
  );
}

function branchIndex(index: unknown, where: string): number {
  if (typeof index === 'number') {
    if (!Number.isInteger(index))
      throw new TransformError(`${where}: the index must be an integer, got ${index}`);
    return index;
  }
  if (index instanceof tf.Tensor) {
    if (index.rank !== 0) {
      throw new TransformError(
        `${where}: the index must be a scalar, got a tensor of shape [${index.shape.join(',')}]`,
      );
    }
    if (index.dtype !== 'int32') {
      throw new TransformError(
        `${where}: the index must be an integer, got a ${index.dtype} tensor`,
      );
    }
    return index.dataSync()[0];
  }
  throw new TransformError(
    `${where}: the index must be an integer or a scalar int32 tensor, got ${describeValue(index)}`,
  );
}

function conditionCount(conditions: unknown, where: string): number {
  if (Array.isArray(conditions)) return conditions.length;
  if (conditions instanceof tf.Tensor && conditions.rank === 1) return conditions.shape[0];
  throw new TransformError(
    `${where}: conditions must be an array of predicates or a 1-D tensor, got ${describeValue(conditions)}`,
  );
}

function conditionValues(
  conditions: readonly BranchPredicate[] | tf.Tensor,
  where: string,
): boolean[] {
  if (conditions instanceof tf.Tensor) {
    if (conditions.dtype === 'string' || conditions.dtype === 'complex64') {
      throw new TransformError(
        `${where}: conditions must be boolean or numeric, got a ${conditions.dtype} tensor`,
      );
    }
    return Array.from(conditions.dataSync() as ArrayLike<number>, (v) => v !== 0);
  }
  return conditions.map((c, i) => predicateValue(c, `${where}: conditions[${i}]`));
}

function isIfElseOptions(x: unknown): x is IfElseOptions {
  if (!isPlainObject(x)) return false;
  const keys = Object.keys(x);
  return keys.length === 1 && keys[0] === 'checkCond' && typeof x.checkCond === 'boolean';
}

function checkBranch(fn: unknown, where: string, what: string): void {
  if (typeof fn !== 'function')
    throw new TransformError(`${where}: ${what} must be a function, got ${describeValue(fn)}`);
}

function checkBranches(branches: unknown, where: string): asserts branches is readonly unknown[] {
  if (!Array.isArray(branches)) {
    throw new TransformError(
      `${where}: branches must be an array of functions, got ${describeValue(branches)}`,
    );
  }
  if (branches.length === 0)
    throw new TransformError(`${where}: branches is empty; give at least one function`);
  branches.forEach((b, i) => checkBranch(b, where, `branches[${i}]`));
}

/** Run one branch in a trace frame; its results belong to the caller. */
function runBranch<A extends unknown[], R>(
  fn: (...operands: A) => R,
  operands: A,
  where: string,
): R {
  checkNoState(operands, where, 'operands');
  const frame = new StateTraceStack({ name: where });
  frame.enter();
  try {
    const r = fn(...operands);
    checkNoState(r, where);
    return ownResults(r);
  } catch (e) {
    frame.recoveryOriginalValues();
    throw e;
  } finally {
    frame.exit();
  }
}
