/**
 * The options and result types of the gradient transforms. The result structure follows spec
 * §4.1's table: with only `argnums` the argument gradients, with only `gradStates` the state
 * gradients, with both `[stateGrads, argGrads]`; then `hasAux` and `returnValue` wrap that core
 * as `[core, aux]`, `[core, value]` or `[core, value, aux]`. Pass options as literals (the
 * transforms take them as `const` type parameters) so these types can follow them.
 */
import type { tf } from '../backend/tf';
import type { State } from '../state';
import type { StateValue } from '../state/tree';
import type { StateCollectionSpec } from './stateCollection';

/** Options shared by grad, valueAndGrad, vectorGrad, jacrev/jacobian, jacfwd and hessian. */
export interface GradOptions {
  /**
   * The States to differentiate with respect to: one State, an array or plain object of States
   * (nested freely), or a FlatDict from `graph.states()` (any iterable of `[key, State]`). The
   * state gradients come back in the same structure (a FlatDict gives a plain object by key).
   */
  gradStates?: StateCollectionSpec;
  /**
   * The positional arguments to differentiate with respect to: an index gives that argument's
   * gradient, an array of indices an array of gradients. Default 0 when `gradStates` is not given.
   */
  argnums?: number | readonly number[];
  /** The function returns `[loss, aux]`; aux is passed through (spec §4.1). Default false. */
  hasAux?: boolean;
  /** Also return the function's value (the loss). Default false. */
  returnValue?: boolean;
  /** A gradState the function never reads is an error (true, default) or gets a zero gradient. */
  checkStates?: boolean;
}

/** A tree like T with every tensor or number leaf a tensor (gradients, Jacobians, batched outputs). */
export type TensorTree<T> = T extends tf.Tensor
  ? tf.Tensor
  : T extends number
    ? tf.Tensor
    : T extends readonly unknown[]
      ? { -readonly [K in keyof T]: TensorTree<T[K]> }
      : T extends (...args: never[]) => unknown
        ? T
        : T extends object
          ? { -readonly [K in keyof T]: TensorTree<T[K]> }
          : T;

/**
 * The gradient of a state holding V. A state typed only as holding some StateValue (e.g. from a
 * FlatDict) is assumed to hold one tensor, the usual case.
 */
type ValueGrad<V> = StateValue extends V ? tf.Tensor : TensorTree<V>;

/** The state gradients for a `gradStates` value S, laid out like S. */
export type StateGrads<S> =
  S extends State<infer V>
    ? ValueGrad<V>
    : S extends readonly unknown[]
      ? { -readonly [K in keyof S]: StateGrads<S[K]> }
      : S extends { entries(): Iterable<readonly [string, State<infer V>]> }
        ? Record<string, ValueGrad<V>>
        : S extends Iterable<readonly [string, State<infer V>]>
          ? Record<string, ValueGrad<V>>
          : S extends object
            ? { -readonly [K in keyof S]: StateGrads<S[K]> }
            : never;

/** The argument gradients for arguments A and `argnums` N (an index, or an array of indices). */
export type ArgGrads<A extends readonly unknown[], N> = N extends number
  ? TensorTree<A[N]>
  : N extends readonly number[]
    ? { -readonly [K in keyof N]: TensorTree<A[N[K] & number]> }
    : never;

type Given<O, K extends keyof GradOptions> = O extends { [P in K]: infer V }
  ? [V] extends [undefined]
    ? false
    : true
  : false;
type Flag<O, K extends 'hasAux' | 'returnValue'> = O extends { [P in K]: infer V }
  ? [V] extends [true]
    ? true
    : false
  : false;
type ArgnumsOf<O> = O extends { argnums: infer N } ? ([N] extends [undefined] ? 0 : N) : 0;
type GradStatesOf<O> = O extends { gradStates: infer S } ? S : never;

/** The gradient part of a result (the first column of the spec's table). */
export type GradCore<A extends readonly unknown[], O> =
  Given<O, 'gradStates'> extends true
    ? Given<O, 'argnums'> extends true
      ? [StateGrads<GradStatesOf<O>>, ArgGrads<A, ArgnumsOf<O>>]
      : StateGrads<GradStatesOf<O>>
    : ArgGrads<A, ArgnumsOf<O>>;

/** The loss part of a function's output R (its first element when `hasAux`). */
export type ValueOf<R, O> =
  Flag<O, 'hasAux'> extends true ? (R extends readonly [infer L, unknown] ? L : never) : R;
/** The auxiliary part of a function's output `[loss, aux]`. */
export type AuxOf<R> = R extends readonly [unknown, infer X] ? X : never;

/** A full result: the core G wrapped per `hasAux` / `returnValue` (spec §4.1's table). */
export type GradResult<G, R, O> =
  Flag<O, 'hasAux'> extends true
    ? Flag<O, 'returnValue'> extends true
      ? [G, ValueOf<R, O>, AuxOf<R>]
      : [G, AuxOf<R>]
    : Flag<O, 'returnValue'> extends true
      ? [G, R]
      : G;

type ReplaceLeaves<X, G> = X extends tf.Tensor
  ? G
  : X extends readonly unknown[]
    ? { -readonly [K in keyof X]: ReplaceLeaves<X[K], G> }
    : X extends object
      ? { -readonly [K in keyof X]: ReplaceLeaves<X[K], G> }
      : X;

/** A Hessian's layout: the gradient structure G twice (`H[a][b]` = ∂²f/∂a∂b). */
export type Twice<G> = ReplaceLeaves<G, G>;

/** A gradient transform applied to a function with arguments A and output R. */
export type GradFunction<A extends unknown[], R, O> = (
  ...args: A
) => GradResult<GradCore<A, O>, R, O>;
