/**
 * The tfjs gradient tape, used directly. `vjp` is one forward + backward pass
 * (`engine.gradients`) that cleans up the tape if the function throws. `withTape` keeps a tape
 * recording around a body, so that VJPs taken inside it read the same forward pass many times
 * (Jacobian rows), and are themselves recorded (gradients of gradients: Hessians, forward mode
 * by the double-VJP trick). Both rely on tfjs-core 4.22's engine: nested `gradients` calls share
 * one active tape, and backward ops run while a tape is recording are recorded too. Second
 * order is only right with the gradients src/backend/gradients.ts re-registers on import.
 */
import { tf } from '../backend/tf';
import { engineState, frugalGradients } from '../backend/engine';

/**
 * After a function differentiated at the top level threw, tfjs leaves the tape with its saved
 * tensors (kept clones) in place; free them.
 */
function discardOrphanTape(): void {
  const st = engineState();
  if (st.gradientDepth !== 0 || st.activeTape == null) return;
  for (const node of st.activeTape) for (const t of node.saved ?? []) t.dispose();
  st.activeTape = null;
}

/** The result of one VJP: the output and one gradient per input (undefined: not connected). */
export interface VjpResult {
  value: tf.Tensor;
  grads: (tf.Tensor | undefined)[];
}

/**
 * Run `f` on the tape and pull `dy` (default: ones) back to `xs`. Inputs `f` does not reach get
 * `undefined`. Tensors `f` creates are freed except its result and what it keeps.
 */
export function vjp(f: () => tf.Tensor, xs: readonly tf.Tensor[], dy?: tf.Tensor): VjpResult {
  // tfjs needs at least one input; an anchor nobody reads gives "no gradients" for an empty list.
  const anchor = xs.length === 0 ? tf.scalar(0) : null;
  try {
    // at the top level, a reverse pass that frees saved tensors and cotangents as it goes
    const { value, grads } = frugalGradients(f, anchor ? [anchor] : [...xs], dy);
    return { value, grads: anchor ? [] : grads };
  } catch (e) {
    discardOrphanTape();
    throw e;
  } finally {
    anchor?.dispose();
  }
}

/**
 * Run `body` with the tape recording. Tensors created inside are freed at the end unless the body
 * keeps them (tf.keep / ownership.acquire); the body's return value is passed through as is.
 */
export function withTape<R>(body: () => R): R {
  let out: R | undefined;
  const { value } = vjp(() => {
    out = body();
    return tf.scalar(0);
  }, []);
  value.dispose();
  return out as R;
}

/** The float32 tensor of this shape that is 1 at flat index i and 0 elsewhere. */
function basisTensor(i: number, shape: readonly number[]): tf.Tensor {
  const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
  data[i] = 1;
  return tf.tensor(data, [...shape], 'float32');
}

/**
 * The Jacobian of `y` with respect to each of `xs`, shaped `[...y.shape, ...x.shape]`, one
 * reverse pass per element of `y` (one-hot cotangents). Call it inside `withTape` after computing
 * `y` there.
 */
export function jacobianRows(y: tf.Tensor, xs: readonly tf.Tensor[]): tf.Tensor[] {
  const m = y.size;
  const rows: tf.Tensor[][] = xs.map(() => []);
  for (let i = 0; i < m; i++) {
    const gs = tf.tidy(() => {
      const e = basisTensor(i, y.shape);
      const { grads } = vjp(() => y, xs, e);
      return xs.map((x, j) => grads[j] ?? tf.zeros(x.shape));
    });
    gs.forEach((g, j) => rows[j].push(g));
  }
  return xs.map((x, j) => {
    const shape = [...y.shape, ...x.shape];
    if (m === 0) return tf.zeros(shape);
    const jac = tf.tidy(() => tf.reshape(tf.stack(rows[j]), shape));
    tf.dispose(rows[j]);
    return jac;
  });
}

/**
 * The same Jacobians by forward mode: each column `J·v` (one per element of each x) is a
 * directional derivative, computed with the double-VJP trick `J·v = ∂/∂u <vjpᵤ(y), v>` (the VJP
 * is linear in the cotangent u, so one backward pass is recorded and then differentiated once per
 * column). Call it inside `withTape` after computing `y` there.
 */
export function jacobianColumns(y: tf.Tensor, xs: readonly tf.Tensor[]): tf.Tensor[] {
  const u = tf.zeros(y.shape);
  const { grads } = vjp(() => y, xs, u);
  return xs.map((x, j) => {
    const shape = [...y.shape, ...x.shape];
    const g = grads[j];
    const n = x.size;
    if (g === undefined || n === 0) return tf.zeros(shape);
    const cols: tf.Tensor[] = [];
    for (let c = 0; c < n; c++) {
      cols.push(
        tf.tidy(() => {
          const v = basisTensor(c, x.shape);
          const directional = tf.sum(tf.mul(g, v));
          return vjp(() => directional, [u]).grads[0] ?? tf.zeros(y.shape);
        }),
      );
    }
    const jac = tf.tidy(() => tf.reshape(tf.stack(cols, y.rank), shape));
    tf.dispose(cols);
    return jac;
  });
}
