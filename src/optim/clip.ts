/**
 * Gradient clipping by global norm: all gradients are scaled by one factor, min(1, maxNorm/‖g‖)
 * with ‖g‖ the L2 norm of every gradient element together, so the direction of the full update
 * is kept (optax's clip_by_global_norm; no ε: a zero norm gives the factor 1).
 */
import { tf } from '../backend/tf';
import { ArgumentError, describeValue } from '../errors';
import { isPlainObject } from '../state/tree';
import { checkNumber } from './validate';

/** Gradients: a tensor, or arrays / plain objects / Maps of them, nested freely. */
export type GradientTree =
  | tf.Tensor
  | readonly GradientTree[]
  | { readonly [key: string]: GradientTree }
  | ReadonlyMap<unknown, GradientTree>;

/** The tensors of a gradient tree, depth first. */
export function gradientLeaves(grads: unknown, where: string): tf.Tensor[] {
  const out: tf.Tensor[] = [];
  const walk = (g: unknown, label: string): void => {
    if (g instanceof tf.Tensor) out.push(g);
    else if (Array.isArray(g)) g.forEach((x, i) => walk(x, `${label}[${i}]`));
    else if (g instanceof Map) for (const [k, x] of g) walk(x, `${label}[${String(k)}]`);
    else if (isPlainObject(g)) for (const k of Object.keys(g)) walk(g[k], `${label}.${k}`);
    else {
      throw new ArgumentError(
        `${where}: gradients must be tensors in arrays, plain objects or Maps; ${label} is ${describeValue(g)}`,
      );
    }
  };
  walk(grads, 'grads');
  return out;
}

function mapGradients<G>(grads: G, fn: (t: tf.Tensor) => tf.Tensor): G {
  const walk = (g: unknown): unknown => {
    if (g instanceof tf.Tensor) return fn(g);
    if (Array.isArray(g)) return g.map(walk);
    if (g instanceof Map) return new Map([...g].map(([k, x]) => [k, walk(x)]));
    const o = g as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(o)) out[k] = walk(o[k]);
    return out;
  };
  return walk(grads) as G;
}

/** √(Σ g²) over every element of the given tensors, as a float32 scalar. */
export function globalNormOf(leaves: readonly tf.Tensor[]): tf.Tensor {
  return tf.tidy(() => {
    if (leaves.length === 0) return tf.scalar(0);
    const squares = leaves.map((g) => tf.sum(tf.square(tf.cast(g, 'float32'))));
    return tf.sqrt(squares.length === 1 ? squares[0] : tf.addN(squares));
  });
}

/** The global L2 norm of a gradient tree (a float32 scalar tensor the caller owns). */
export function globalNorm(grads: GradientTree): tf.Tensor {
  return globalNormOf(gradientLeaves(grads, 'globalNorm'));
}

/** The factor min(1, maxNorm/norm) = maxNorm/max(norm, maxNorm) (1 for a zero norm; NaN for a NaN norm). */
export function clipFactor(norm: tf.Tensor, maxNorm: number): tf.Tensor {
  return tf.tidy(() => tf.div(maxNorm, tf.maximum(norm, maxNorm)));
}

/**
 * Scale a gradient tree so its global L2 norm is at most `maxNorm`. Returns new gradients (same
 * structure; the caller owns them, the input is left alone) and the norm before clipping.
 *
 * ```ts
 * const { grads: clipped, norm } = clipGradNorm(grads, 1.0);
 * ```
 */
export function clipGradNorm<G extends GradientTree>(
  grads: G,
  maxNorm: number,
): { grads: G; norm: tf.Tensor } {
  checkNumber('clipGradNorm', 'maxNorm', maxNorm, { min: 0, minOpen: true });
  const leaves = gradientLeaves(grads, 'clipGradNorm');
  const norm = globalNormOf(leaves);
  const clipped = tf.tidy(() => {
    const factor = clipFactor(norm, maxNorm);
    const scaled = leaves.map((g) => tf.mul(g, factor));
    return scaled;
  });
  let k = 0;
  return { grads: mapGradients(grads, () => clipped[k++]), norm };
}
