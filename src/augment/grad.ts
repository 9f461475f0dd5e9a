/**
 * Reverse-mode gradients (spec §4.1): `grad` of a scalar loss, `valueAndGrad` (the same with the
 * loss returned), and `vectorGrad`, the VJP with an all-ones cotangent (for an element-wise
 * function, the diagonal of its Jacobian; used by exponential Euler and eligibility traces).
 * Each differentiates with respect to `gradStates`, the arguments at `argnums` (default 0), or
 * both, and returns the structure of the spec's table (see types.ts). Called with options only,
 * each returns a decorator.
 */
import { TransformError, describeValue } from '../errors';
import { isPlainObject } from '../state/tree';
import { gradientTransform } from './gradientTransform';
import type { GradCore, GradFunction, GradOptions, GradResult } from './types';

/** Options of valueAndGrad: those of grad, with `returnValue` always on. */
export type ValueAndGradOptions = Omit<GradOptions, 'returnValue'>;

/** A transform applied later: `grad({ gradStates })(fn)`. */
export type GradDecorator<O> = <A extends unknown[], R>(
  fn: (...args: A) => R,
) => GradFunction<A, R, O>;

/**
 * The gradient of `fn`, whose output must be a scalar float32 tensor (or `[loss, aux]` with
 * `hasAux`), with respect to `gradStates` and/or the arguments at `argnums`.
 *
 * ```ts
 * const dW = grad(() => loss(model(x)), { gradStates: W })();
 * const [grads, lossValue] = grad(f, { gradStates: params, returnValue: true })(x);
 * ```
 */
export function grad<A extends unknown[], R, const O extends GradOptions = Record<never, never>>(
  fn: (...args: A) => R,
  options?: O,
): GradFunction<A, R, O>;
export function grad<const O extends GradOptions>(options: O): GradDecorator<O>;
export function grad(fnOrOptions: unknown, options?: GradOptions): unknown {
  return decorate('grad', fnOrOptions, options, (fn, o) => gradientTransform(fn, o, 'grad'));
}

/**
 * `grad` with `returnValue: true`: returns `[grads, loss]`, or `[grads, loss, aux]` with
 * `hasAux` — the gradients come first, as in every row of spec §4.1's table.
 */
export function valueAndGrad<
  A extends unknown[],
  R,
  const O extends ValueAndGradOptions = Record<never, never>,
>(
  fn: (...args: A) => R,
  options?: O,
): (...args: A) => GradResult<GradCore<A, O>, R, O & { returnValue: true }>;
export function valueAndGrad<const O extends ValueAndGradOptions>(
  options: O,
): <A extends unknown[], R>(
  fn: (...args: A) => R,
) => (...args: A) => GradResult<GradCore<A, O>, R, O & { returnValue: true }>;
export function valueAndGrad(fnOrOptions: unknown, options?: ValueAndGradOptions): unknown {
  return decorate('valueAndGrad', fnOrOptions, options, (fn, o) =>
    gradientTransform(fn, { ...o, returnValue: true }, 'grad', 'valueAndGrad'),
  );
}

/**
 * The vector-Jacobian product of `fn` with an all-ones cotangent: the gradient of the sum of all
 * its output elements (a tensor or a tree of tensors). For an element-wise function this is the
 * element-wise derivative.
 */
export function vectorGrad<
  A extends unknown[],
  R,
  const O extends GradOptions = Record<never, never>,
>(fn: (...args: A) => R, options?: O): GradFunction<A, R, O>;
export function vectorGrad<const O extends GradOptions>(options: O): GradDecorator<O>;
export function vectorGrad(fnOrOptions: unknown, options?: GradOptions): unknown {
  return decorate('vectorGrad', fnOrOptions, options, (fn, o) =>
    gradientTransform(fn, o, 'vectorGrad'),
  );
}

/** `transform(fn, options)`, or with options only, a decorator waiting for the function. */
export function decorate<O>(
  name: string,
  fnOrOptions: unknown,
  options: O | undefined,
  transform: (fn: (...args: never[]) => unknown, options: O | undefined) => unknown,
): unknown {
  if (typeof fnOrOptions === 'function')
    return transform(fnOrOptions as (...args: never[]) => unknown, options);
  if (fnOrOptions !== undefined && !isPlainObject(fnOrOptions)) {
    throw new TransformError(
      `${name}: expected a function or an options object, got ${describeValue(fnOrOptions)}`,
    );
  }
  const o = fnOrOptions as O | undefined;
  return (fn: (...args: never[]) => unknown) => transform(fn, o);
}
