/**
 * Hessians (spec §4.1) by reverse over reverse: the gradient of the scalar loss is recorded on
 * the tape and each of its elements differentiated again. For inputs a and b the block
 * `H[a][b] = ∂²f / ∂a ∂b` has shape `[...a.shape, ...b.shape]`, and the blocks are laid out like
 * the gradient structure twice (a single tensor input gives one tensor). Giving both
 * `gradStates` and `argnums` is not supported, as upstream. Correct second derivatives of tanh,
 * exp, sigmoid and the other kernels tfjs gets wrong rely on src/backend/gradients.ts.
 */
import { decorate } from './grad';
import { gradientTransform } from './gradientTransform';
import type { GradCore, GradOptions, GradResult, Twice } from './types';

/** A Hessian transform applied to a function with arguments A and output R. */
export type HessianFunction<A extends unknown[], R, O> = (
  ...args: A
) => GradResult<Twice<GradCore<A, O>>, R, O>;

/** The Hessian of a scalar `fn` with respect to `gradStates` or the arguments at `argnums`. */
export function hessian<A extends unknown[], R, const O extends GradOptions = Record<never, never>>(
  fn: (...args: A) => R,
  options?: O,
): HessianFunction<A, R, O>;
export function hessian<const O extends GradOptions>(
  options: O,
): <A extends unknown[], R>(fn: (...args: A) => R) => HessianFunction<A, R, O>;
export function hessian(fnOrOptions: unknown, options?: GradOptions): unknown {
  return decorate('hessian', fnOrOptions, options, (fn, o) => gradientTransform(fn, o, 'hessian'));
}
