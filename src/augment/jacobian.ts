/**
 * Full Jacobians (spec §4.1): `jacrev` (alias `jacobian`) builds them row by row, one reverse
 * pass per output element with a one-hot cotangent, from a single forward pass; `jacfwd` builds
 * them column by column, one directional derivative per input element, computed in forward mode
 * by the double-VJP trick (tfjs has no forward mode). Both return, per differentiated tensor x,
 * a tensor of shape `[...out.shape, ...x.shape]`, in the structure of the spec's table. The
 * function must return one float32 tensor (or `[out, aux]` with `hasAux`).
 */
import { decorate, type GradDecorator } from './grad';
import { gradientTransform } from './gradientTransform';
import type { GradFunction, GradOptions } from './types';

/** The Jacobian of `fn` in reverse mode (one VJP per output element). */
export function jacrev<A extends unknown[], R, const O extends GradOptions = Record<never, never>>(
  fn: (...args: A) => R,
  options?: O,
): GradFunction<A, R, O>;
export function jacrev<const O extends GradOptions>(options: O): GradDecorator<O>;
export function jacrev(fnOrOptions: unknown, options?: GradOptions): unknown {
  return decorate('jacrev', fnOrOptions, options, (fn, o) => gradientTransform(fn, o, 'jacrev'));
}

/** `jacobian` is `jacrev`, as upstream. */
export const jacobian = jacrev;

/**
 * The Jacobian of `fn` in forward mode (one JVP per input element); the same layout and values
 * as `jacrev`. Cheaper than `jacrev` when inputs are fewer than outputs.
 */
export function jacfwd<A extends unknown[], R, const O extends GradOptions = Record<never, never>>(
  fn: (...args: A) => R,
  options?: O,
): GradFunction<A, R, O>;
export function jacfwd<const O extends GradOptions>(options: O): GradDecorator<O>;
export function jacfwd(fnOrOptions: unknown, options?: GradOptions): unknown {
  return decorate('jacfwd', fnOrOptions, options, (fn, o) => gradientTransform(fn, o, 'jacfwd'));
}
