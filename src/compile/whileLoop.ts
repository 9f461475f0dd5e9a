/**
 * whileLoop and boundedWhileLoop (spec §3.3), eagerly: a JS loop reading the predicate
 * concretely each iteration. The condition must not write states (checked in its own trace
 * frame: the states it wrote are named). Each body call runs in tf.tidy inside one trace frame
 * for the whole loop, with the same ownership rules as forLoop, so memory stays flat; the carry
 * must keep its structure, shapes and dtypes.
 *
 *   const [i, x] = whileLoop(([i]) => tf.less(i, 10), ([i, x]) => [tf.add(i, 1), tf.mul(x, 2)], [tf.scalar(0), x0]);
 */
import { tf } from '../backend/tf';
import { describeValue, TransformError } from '../errors';
import { StateTraceStack } from '../state';
import { predicateValue, type BranchPredicate } from './conditions';
import { disposeLoopOwned, LoopFrame, ownStepOutputs } from './loopFrame';
import { checkFunction, tensorsOf } from './loops';
import { treeLeaves, treeMismatch } from './loopTree';
import { checkNoState } from './statefulFunction';
import { tensorIdWatermark } from './tape';

export interface BoundedWhileOptions {
  /** The most iterations to run (an integer ≥ 0; 0 returns init unchanged). */
  maxSteps: number;
}

/** Apply `bodyFn` to the carry while `condFn(carry)` holds; return the final carry. */
export function whileLoop<C>(
  condFn: (carry: C) => BranchPredicate,
  bodyFn: (carry: C) => C,
  init: C,
): C {
  checkFunction(condFn, 'whileLoop', 'condFn');
  checkFunction(bodyFn, 'whileLoop', 'bodyFn');
  return runWhile('whileLoop', condFn, bodyFn, init, Infinity);
}

/** whileLoop that stops after at most `maxSteps` iterations. */
export function boundedWhileLoop<C>(
  condFn: (carry: C) => BranchPredicate,
  bodyFn: (carry: C) => C,
  init: C,
  options: BoundedWhileOptions,
): C {
  const where = 'boundedWhileLoop';
  checkFunction(condFn, where, 'condFn');
  checkFunction(bodyFn, where, 'bodyFn');
  const maxSteps = options?.maxSteps;
  if (!(Number.isInteger(maxSteps) && maxSteps >= 0)) {
    throw new TransformError(
      `${where}: maxSteps must be an integer ≥ 0, got ${describeValue(maxSteps)}`,
    );
  }
  return runWhile(where, condFn, bodyFn, init, maxSteps);
}

function runWhile<C>(
  where: string,
  condFn: (carry: C) => BranchPredicate,
  bodyFn: (carry: C) => C,
  init: C,
  maxSteps: number,
): C {
  treeLeaves(init, 'carry', where);
  if (maxSteps === 0) return init;
  const frame = new LoopFrame(where);
  return frame.run(() => {
    let carry = init;
    let carryOwned = false;
    try {
      for (let k = 0; k < maxSteps; k++) {
        if (!evaluateCond(where, condFn, carry)) break;
        const stepWatermark = tensorIdWatermark();
        const next = tf.tidy(() => {
          const out = bodyFn(carry);
          checkNoState(out, where);
          return ownStepOutputs(out, stepWatermark, new Set()) as unknown as tf.TensorContainer;
        }) as unknown as C;
        const error = treeMismatch(init, next, 'carry');
        const stateError = frame.changedState();
        if (error !== null || stateError !== null) {
          disposeLoopOwned(tensorsOf(next));
          throw new TransformError(
            error !== null
              ? `${where}: the carry must keep its structure, shapes and dtypes, but after iteration ${k} ${error}`
              : `${where}: states written in a loop must keep their shapes and dtypes, but after iteration ${k} ${stateError}`,
          );
        }
        if (carryOwned) disposeLoopOwned(tensorsOf(carry));
        carry = next;
        carryOwned = true;
        frame.freeReleased();
      }
      return carry;
    } catch (e) {
      if (carryOwned) disposeLoopOwned(tensorsOf(carry));
      frame.restoreAndFree();
      throw e;
    }
  });
}

/** Evaluate the condition in its own frame: it may read states but not write them. */
function evaluateCond<C>(where: string, condFn: (carry: C) => BranchPredicate, carry: C): boolean {
  const frame = new StateTraceStack({ name: `${where} condFn` });
  const value = frame.run(() => tf.tidy(() => predicateValue(condFn(carry), `${where}: condFn`)));
  const written = frame.getWriteStates() as { describe(): string }[];
  if (written.length > 0) {
    throw new TransformError(
      `${where}: condFn should not write any states, but it wrote ${written.map((s) => s.describe()).join(', ')}; ` +
        `move the update into bodyFn`,
    );
  }
  return value;
}
