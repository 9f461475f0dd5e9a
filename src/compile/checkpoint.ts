/**
 * checkpoint (alias remat, spec §3.5): trade compute for BPTT memory. Under a gradient tape, a
 * checkpointed function runs as ONE tfjs customGrad node whose forward pass is off the tape, so
 * none of its intermediates are kept; the backward pass recomputes it under its own small tape.
 * Wrapping chunks of a long loop (`forLoop(checkpoint(chunk), xsChunks)`) keeps only the chunk
 * boundaries for the backward pass instead of every step's intermediates.
 *
 * How the node is built (tfjs 4.22 customGrad takes tensors in and gives ONE tensor out):
 * - inputs: the argument tensors and the current values of every state fn touches. The states
 *   are found by a first run of fn off the tape in a trace frame, cached per argument signature
 *   (and re-found when a state changes shape or an unexpected state shows up);
 * - output: fn's float32 results and the new float32 values of the states it writes, flattened
 *   and concatenated; outside the node they are split back, returned, and written to the states.
 *   Integer/bool results carry no gradient and are passed around the node;
 * - gradient: put the saved input values back into the states, recompute fn under
 *   `engine.gradients` with the incoming dy, restore the states, and return one gradient per
 *   input (zeros for integer inputs and for inputs the output does not depend on).
 * Tensors fn captures by closure are constants to the node (the discovery run records the call
 * and warns once if it sees float ones): pass what needs a gradient as an argument or keep it in
 * a State. Without a tape, checkpoint(fn) simply calls fn.
 */
import { tf } from '../backend/tf';
import { engineState, isolatedGradients } from '../backend/engine';
import { TransformError } from '../errors';
import { deferDisposal, ownerCount, State, StateTraceStack, type StateValue } from '../state';
import { isPlainObject, tensorLeaves, treeSignature } from '../state/tree';
import { checkFunction } from './loops';
import { LoopFrame } from './loopFrame';
import { rebuildTree, treeLeaves } from './loopTree';
import type { Program } from './program';
import { flattenTensors, startRecording, stopRecording } from './recorder';
import { checkNoState, ownResults } from './statefulFunction';
import { gradientsInBackward, isTapeOn, tensorIdWatermark, withoutTape } from './tape';

type AnyState = State<StateValue>;

export interface CheckpointOptions {
  /** A name for messages (default: the function's name). */
  name?: string;
}

/** A checkpointed function: callable like the original. */
export interface Checkpointed<A extends unknown[], R> {
  (...args: A): R;
  /** The original function. */
  readonly originFun: (...args: A) => R;
  /** Number of state discoveries so far (one per argument signature, plus re-discoveries). */
  readonly traceCount: number;
  /** Forget the discovered states. */
  clearCache(): void;
}

/** The states a function touches for one argument signature. */
interface Discovery {
  readonly states: readonly AnyState[];
  readonly signatures: readonly string[];
}

/** Where the float results and written-state values sit in the node's flat output. */
interface Layout {
  readonly result: unknown;
  readonly written: readonly AnyState[];
  readonly floatShapes: readonly number[][];
  readonly sizes: readonly number[];
  /** Non-float result tensors, kept (off any tidy) until they are cloned outside the node. */
  readonly heldResults: readonly tf.Tensor[];
}

/** Make `fn` rematerialize in the backward pass instead of keeping its intermediates. */
export function checkpoint<A extends unknown[], R>(
  fn: (...args: A) => R,
  options: CheckpointOptions = {},
): Checkpointed<A, R> {
  checkFunction(fn, 'checkpoint', 'fn');
  const name = options.name ?? (fn.name || 'fn');
  const where = `checkpoint(${name})`;
  const cache = new Map<string, Discovery>();
  let traceCount = 0;

  let warnedCaptured = false;
  const discover = (args: A, key: string, extra: readonly AnyState[] = []): Discovery => {
    traceCount++;
    const { states, captured } = withoutTape(() => {
      const frame = new LoopFrame(`${where} trace`);
      frame.enter();
      const rec = startRecording({ name: where, args: flattenTensors(args) });
      try {
        let program: Program | undefined;
        tf.tidy(() => {
          const result = fn(...args);
          checkNoState(result, where);
          program = rec.finish(
            result,
            frame.states,
            frame.getOriginalValues(),
            frame.getWriteStates() as AnyState[],
          );
        });
        return { states: [...frame.states], captured: capturedFloats(program!) };
      } finally {
        stopRecording(rec);
        frame.restoreAndFree();
        frame.exit();
      }
    });
    if (captured.length > 0 && !warnedCaptured) {
      warnedCaptured = true;
      console.warn(
        `brainstate-ts: ${where} uses ${captured.length} float tensor(s) captured by closure ` +
          `(${captured.join(', ')}); checkpoint treats them as constants, so no gradient flows to them ` +
          `through it. Pass them as arguments or keep them in States if they need gradients.`,
      );
    }
    for (const s of extra) if (!states.includes(s)) states.push(s);
    const d = { states, signatures: states.map((s) => treeSignature(s.rawValue)) };
    cache.delete(key);
    cache.set(key, d);
    while (cache.size > 64) cache.delete(cache.keys().next().value as string);
    return d;
  };

  const lookup = (key: string): Discovery | undefined => {
    const d = cache.get(key);
    if (d && d.states.every((s, i) => treeSignature(s.rawValue) === d.signatures[i])) return d;
    return undefined;
  };

  const call = (...args: A): R => {
    checkNoState(args, where, 'inputs');
    if (!isTapeOn()) return plainCall(fn, args, where);
    const key = argsKey(args);
    let d = lookup(key) ?? discover(args, key);
    for (let attempt = 0; ; attempt++) {
      const r = tapedCall(fn, args, d, where);
      if (r.done) return r.result;
      if (attempt >= 2) {
        throw new TransformError(
          `${where}: the states fn touches keep changing between calls with the same arguments`,
        );
      }
      d = discover(args, key, [...d.states, ...r.extraStates]);
    }
  };

  Object.defineProperties(call, {
    originFun: { value: fn },
    traceCount: { get: () => traceCount },
    clearCache: { value: () => cache.clear() },
    name: { value: where },
  });
  return call as Checkpointed<A, R>;
}

/** The reference library's name for checkpoint. */
export const remat = checkpoint;

/** No tape: run fn in a trace frame; its results belong to the caller. */
function plainCall<A extends unknown[], R>(fn: (...args: A) => R, args: A, where: string): R {
  const frame = new StateTraceStack({ name: where });
  frame.enter();
  try {
    const r = fn(...args);
    checkNoState(r, where);
    return ownResults(r);
  } catch (e) {
    frame.recoveryOriginalValues();
    throw e;
  } finally {
    frame.exit();
  }
}

type TapedResult<R> = { done: true; result: R } | { done: false; extraStates: AnyState[] };

function tapedCall<A extends unknown[], R>(
  fn: (...args: A) => R,
  args: A,
  d: Discovery,
  where: string,
): TapedResult<R> {
  const argTensors = collectTensors(args);
  const stateTrees = d.states.map((s) => s.rawValue);
  const inputs = [...argTensors, ...stateTrees.flatMap(tensorLeaves)];
  const known = new Set(d.states);
  const watermark = tensorIdWatermark();
  let layout: Layout | null = null;
  let extraStates: AnyState[] = [];

  const node = tf.customGrad((...a: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const save = a[a.length - 1] as tf.GradSaveFunc;
    save(a.slice(0, -1) as tf.Tensor[]);
    const frame = new LoopFrame(where);
    frame.enter();
    try {
      const result = fn(...args);
      checkNoState(result, where);
      extraStates = frame.states.filter((s) => !known.has(s));
      if (extraStates.length > 0) {
        frame.restoreAndFree();
        return {
          value: tf.zeros([0]),
          gradFunc: (_dy: tf.Tensor, saved: tf.Tensor[]) => saved.map(zeroGrad),
        };
      }
      const written = frame.getWriteStates() as AnyState[];
      const floats = floatLeaves(result, written, where);
      const heldResults = treeLeaves(result, 'result', where)
        .leaves.filter((l): l is tf.Tensor => l instanceof tf.Tensor && l.dtype !== 'float32')
        .map((t) => tf.keep(tf.clone(t)));
      layout = {
        result,
        written,
        floatShapes: floats.map((t) => t.shape),
        sizes: floats.map((t) => t.size),
        heldResults,
      };
      const value = flatten(floats);
      frame.freeReleased();
      return {
        value,
        gradFunc: recomputeGradient(
          fn,
          args,
          argTensors.length,
          d.states,
          stateTrees,
          layout,
          where,
        ),
      };
    } catch (e) {
      frame.restoreAndFree();
      throw e;
    } finally {
      frame.exit();
    }
  });
  const flat = node(...inputs);
  if (layout === null) {
    flat.dispose();
    return { done: false, extraStates };
  }
  return { done: true, result: unpack(flat, layout, watermark) as R };
}

/** Split the node's output back into fn's results and the written states' new values. */
function unpack(flat: tf.Tensor, layout: Layout, watermark: number | null): unknown {
  const { sizes, floatShapes } = layout;
  const pieces = sizes.length === 0 ? [] : sizes.length === 1 ? [flat] : tf.split(flat, [...sizes]);
  const floats = pieces.map((p, j) => tf.reshape(p, floatShapes[j]));
  tf.dispose(pieces.filter((p) => p !== flat));
  flat.dispose();
  let f = 0;
  let h = 0;
  const { leaves } = treeLeaves(layout.result, 'result', 'checkpoint');
  const result = rebuildTree(
    layout.result,
    leaves.map((l) => {
      if (!(l instanceof tf.Tensor)) return l;
      if (l.dtype === 'float32') return floats[f++];
      const held = layout.heldResults[h++];
      const out = tf.clone(held);
      held.dispose();
      return out;
    }),
  );
  for (const s of layout.written) {
    const old = tensorLeaves(s.rawValue);
    if (!old.some((t) => t.dtype === 'float32')) continue;
    s.value = mapTensorLeaves(s.rawValue, (t) => (t.dtype === 'float32' ? floats[f++] : t));
    // The forward pass's values were made off the tape and are nobody's now.
    for (const t of old) {
      if (watermark !== null && t.id >= watermark && !t.isDisposed && ownerCount(t) === 0)
        t.dispose();
    }
  }
  return result;
}

/** The gradFunc of the node: recompute fn from the saved inputs under a fresh tape. */
function recomputeGradient<A extends unknown[]>(
  fn: (...args: A) => unknown,
  args: A,
  nArgs: number,
  states: readonly AnyState[],
  stateTrees: readonly StateValue[],
  layout: Layout,
  where: string,
): (dy: tf.Tensor, saved: tf.Tensor[]) => tf.Tensor[] {
  return (dy, saved) =>
    deferDisposal(() =>
      tf.tidy(() => {
        const frame = new LoopFrame(`${where} recompute`);
        // Fresh tensors for the states to own, so the engine's saved tensors are left alone.
        const xs = saved.map((t) => tf.clone(t));
        const recomputeArgs = replaceTensors(args, xs.slice(0, nArgs)) as A;
        let offset = nArgs;
        const stateValues = stateTrees.map((tree) => {
          const start = offset;
          offset += tensorLeaves(tree).length;
          return mapTensorLeaves(tree, (_t, k) => xs[start + k]);
        });
        const floatIdx = xs.flatMap((t, i) => (t.dtype === 'float32' ? [i] : []));
        if (floatIdx.length === 0) return saved.map(zeroGrad);
        const before = states.map((s) => s.rawValue);
        let end: tf.Tensor[] = [];
        const recompute = (): tf.Tensor => {
          states.forEach((s, i) => s.restoreValue(stateValues[i]));
          frame.enter();
          try {
            const result = fn(...recomputeArgs);
            const written = frame.getWriteStates();
            if (
              written.length !== layout.written.length ||
              written.some((s, i) => s !== layout.written[i])
            ) {
              throw new TransformError(
                `${where}: recomputing fn for the gradient wrote different states than the forward pass; ` +
                  `a checkpointed function must be deterministic given its arguments and states`,
              );
            }
            const floats = floatLeaves(result, written as AnyState[], where);
            if (
              floats.length !== layout.sizes.length ||
              floats.some((t, j) => t.size !== layout.sizes[j])
            ) {
              throw new TransformError(
                `${where}: recomputing fn for the gradient gave outputs of other shapes`,
              );
            }
            return flatten(floats);
          } finally {
            end = states.flatMap((s) => tensorLeaves(s.rawValue));
            frame.exit();
          }
        };
        let grads: (tf.Tensor | null)[];
        try {
          // not recorded (the usual first-order case): a reverse pass of its own that frees
          // the recomputed intermediates as it goes; recorded (higher order): on the outer tape
          grads = (engineState().gradientDepth === 0 ? isolatedGradients : gradientsInBackward)(
            recompute,
            floatIdx.map((i) => xs[i]),
            dy,
          ).grads;
        } finally {
          states.forEach((s, i) => s.restoreValue(before[i]));
        }
        frame.freeReleased([...xs, ...end]);
        const byInput = new Map<number, tf.Tensor | null>(floatIdx.map((i, j) => [i, grads[j]]));
        return saved.map((t, i) => byInput.get(i) ?? zeroGrad(t));
      }),
    );
}

/** The float32 tensors a recorded program used that were neither arguments nor state values. */
function capturedFloats(program: Program): string[] {
  return program.inputs
    .filter((i) => i.source.kind === 'captured' && i.var.dtype === 'float32')
    .map((i) => `float32[${i.var.shape.join(',')}]`);
}

/** The float32 tensors of fn's result and of the written states' values, in layout order. */
function floatLeaves(result: unknown, written: readonly AnyState[], where: string): tf.Tensor[] {
  const out = treeLeaves(result, 'result', where).leaves.filter(
    (l): l is tf.Tensor => l instanceof tf.Tensor && l.dtype === 'float32',
  );
  for (const s of written)
    for (const t of tensorLeaves(s.rawValue)) if (t.dtype === 'float32') out.push(t);
  return out;
}

function flatten(tensors: readonly tf.Tensor[]): tf.Tensor {
  if (tensors.length === 0) return tf.zeros([0]);
  return tf.concat(tensors.map((t) => tf.reshape(t, [-1])));
}

function zeroGrad(t: tf.Tensor): tf.Tensor {
  return tf.zeros(t.shape, 'float32');
}

/** The tensors of an argument tree (arrays and plain objects; other leaves are static). */
function collectTensors(x: unknown): tf.Tensor[] {
  const out: tf.Tensor[] = [];
  const walk = (v: unknown): void => {
    if (v instanceof tf.Tensor) out.push(v);
    else if (Array.isArray(v)) v.forEach(walk);
    else if (isPlainObject(v)) Object.values(v).forEach(walk);
  };
  walk(x);
  return out;
}

/** A copy of an argument tree with its tensors replaced in `collectTensors` order. */
function replaceTensors(x: unknown, tensors: readonly tf.Tensor[]): unknown {
  let k = 0;
  const walk = (v: unknown): unknown => {
    if (v instanceof tf.Tensor) return tensors[k++];
    if (Array.isArray(v)) return v.map(walk);
    if (isPlainObject(v))
      return Object.fromEntries(Object.entries(v).map(([key, e]) => [key, walk(e)]));
    return v;
  };
  return walk(x);
}

/** Map the tensor leaves of a state value (k counts tensor leaves in `tensorLeaves` order). */
function mapTensorLeaves(v: StateValue, fn: (t: tf.Tensor, k: number) => tf.Tensor): StateValue {
  let k = 0;
  const walk = (x: StateValue): StateValue => {
    if (x instanceof tf.Tensor) return fn(x, k++);
    if (typeof x === 'number') return x;
    if (Array.isArray(x)) return x.map(walk);
    const o = x as Record<string, StateValue>;
    const out: Record<string, StateValue> = {};
    for (const key of Object.keys(o)) out[key] = walk(o[key]);
    return out;
  };
  return walk(v);
}

const objectIds = new WeakMap<object, number>();
let nextObjectId = 0;

/** The cache key of a call: tensors by dtype and shape, other leaves by value or identity. */
function argsKey(x: unknown): string {
  if (x instanceof tf.Tensor) return `T${x.dtype}[${x.shape.join(',')}]`;
  if (Array.isArray(x)) return `[${x.map(argsKey).join(',')}]`;
  if (isPlainObject(x)) {
    return `{${Object.keys(x)
      .sort()
      .map((k) => `${k}:${argsKey(x[k])}`)
      .join(',')}}`;
  }
  if (x !== null && (typeof x === 'object' || typeof x === 'function')) {
    let id = objectIds.get(x);
    if (id === undefined) objectIds.set(x, (id = nextObjectId++));
    return `@${id}`;
  }
  return typeof x === 'string' ? JSON.stringify(x) : String(x);
}
