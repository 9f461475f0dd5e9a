/**
 * The tfjs engine internals brainstate-ts relies on, in one place: the gradient tape's state
 * (tfjs-core 4.22 records kernels while `gradientDepth > 0` and `kernelDepth === 0`; a
 * customGrad's forward runs at `kernelDepth > 0`, off the tape). State ownership, the loops,
 * checkpoint and the gradient transforms all read it from here; the tfjs version is pinned.
 */
import { tf } from './tf';

/** The part of `tf.engine().state` the tape lives in. */
export interface EngineTapeState {
  gradientDepth: number;
  kernelDepth: number;
  activeTape: { saved?: tf.Tensor[] }[] | null;
}

/** The engine's live tape state (mutable: transforms nudge it). */
export function engineState(): EngineTapeState {
  return tf.engine().state as unknown as EngineTapeState;
}

/** True inside a gradient computation's forward pass (tf.grad and friends), at any kernel depth. */
export function gradientTapeActive(): boolean {
  return engineState().gradientDepth > 0;
}

/** True while kernels are being recorded on a gradient tape (inside tf.grad's forward pass). */
export function isTapeOn(): boolean {
  const s = engineState();
  return s.gradientDepth > 0 && s.kernelDepth === 0;
}

/**
 * Run `fn` without recording on the tape, as tfjs does for the body of a kernel. Used to trace a
 * function for its states without making the tape keep that run's intermediates.
 */
export function withoutTape<R>(fn: () => R): R {
  const s = engineState();
  s.kernelDepth++;
  try {
    return fn();
  } finally {
    s.kernelDepth--;
  }
}

/**
 * `engine.gradients(f, xs, dy, allowNoGradients)` on a fresh tape of its own, wherever it is
 * called: inside another gradient computation's forward pass (whose tape it would otherwise
 * extend), inside a customGrad forward or a kernel (where nothing would be taped), or inside a
 * backward pass. The surrounding tape state is put back afterwards. Inputs without a path to
 * the output get `null`.
 */
export function isolatedGradients(
  f: () => tf.Tensor,
  xs: tf.Tensor[],
  dy?: tf.Tensor,
): { value: tf.Tensor; grads: (tf.Tensor | null)[] } {
  const s = engineState();
  const saved = { tape: s.activeTape, depth: s.gradientDepth, kernel: s.kernelDepth };
  s.activeTape = null;
  s.gradientDepth = 0;
  s.kernelDepth = 0;
  try {
    const { value, grads } = frugalGradients(f, xs, dy);
    return { value, grads: grads.map((g) => g ?? null) };
  } finally {
    s.activeTape = saved.tape;
    s.gradientDepth = saved.depth;
    s.kernelDepth = saved.kernel;
  }
}

interface EngineInternals {
  clone(x: tf.Tensor): tf.Tensor;
  backendName: string | null;
  backend: { incRef?(dataId: object): void };
  makeTensorFromDataId(
    dataId: object,
    shape: number[],
    dtype: tf.DataType,
    backend: unknown,
  ): tf.Tensor;
  state: { activeScope: { name: string } | null };
  addTapeNode(
    scopeName: string,
    inputs: Record<string, tf.Tensor>,
    outputs: tf.Tensor[],
    gradientsFunc: (dy: tf.Tensor) => Record<string, () => tf.Tensor>,
    saved: tf.Tensor[],
    attrs: Record<string, unknown>,
  ): void;
}

let sharedSaves = false;

/**
 * A new tensor on the same buffer as `x` (reference-counted, like a Reshape to the same shape),
 * made without a kernel dispatch where the backend counts references (wasm, cpu); otherwise
 * through the Reshape kernel. No tape node and no recorded equation.
 */
export function sharedHandle(x: tf.Tensor): tf.Tensor {
  const eng = tf.engine() as unknown as EngineInternals;
  const backend = eng.backend;
  if (typeof backend.incRef === 'function' && x.dtype !== 'string') {
    backend.incRef(x.dataId);
    return eng.makeTensorFromDataId(x.dataId, x.shape.slice(), x.dtype, backend);
  }
  return tf.engine().runKernel('Reshape', { x }, { shape: x.shape }) as tf.Tensor;
}

/**
 * Make the tape save tensors for the backward pass without copying them on wasm. tfjs-core 4.22
 * saves each input/output a gradient needs through `engine.clone`, which runs the Identity
 * kernel; wasm's Identity copies the buffer (cpu's shares it), so every taped kernel paid a copy
 * and BPTT kept two copies of every saved activation. Ours runs Reshape to the same shape instead
 * (a new tensor on the same buffer, reference-counted as Reshape always is) and records the same
 * tape node as `engine.clone` (gradient: a float32 cast of dy). Tensors are immutable to tfjs, and
 * the in-place writers of brainstate-ts (fusion in place, blocks) refuse shared buffers and never
 * run under a tape, so sharing is safe. Other backends keep the stock clone. Idempotent.
 */
export function shareTapeSaves(): void {
  if (sharedSaves) return;
  sharedSaves = true;
  const eng = tf.engine() as unknown as EngineInternals;
  const stockClone = eng.clone;
  eng.clone = function (this: EngineInternals, x: tf.Tensor): tf.Tensor {
    if (this.backendName !== 'wasm' || x.dtype === 'string') return stockClone.call(this, x);
    // a second handle on the same buffer, made directly (what wasm's Reshape kernel does, without
    // a kernel dispatch: about 100 saves per step of an online-learning step). Also while the
    // recorder hooks kernels: only backward kernels read saves, and a recorded backward does not
    // replay anyway (its tape inputs are not program values)
    const y = sharedHandle(x);
    const grad = (dy: tf.Tensor) => ({
      x: () => tf.engine().runKernel('Cast', { x: dy }, { dtype: 'float32' }) as tf.Tensor,
    });
    this.addTapeNode(this.state.activeScope?.name ?? '', { x }, [y], grad, [], {});
    return y;
  };
}

// ---------------------------------------------------------------------------------------------
// A top-level reverse pass that frees as it goes

/** The stop-gradient kernel (src/surrogate/kernels.ts STOP_GRADIENT_KERNEL). */
const STOP_GRADIENT = 'BstStopGradient';

interface TapeNodeLike {
  id: number;
  kernelName: string;
  inputs: Record<string, tf.Tensor>;
  outputs: tf.Tensor[];
  gradient?: (dys: (tf.Tensor | null)[]) => Record<string, () => tf.Tensor>;
  saved?: tf.Tensor[];
}

interface EngineGradInternals {
  state: { gradientDepth: number; activeTape: TapeNodeLike[] | null | undefined };
  startTape(): void;
  endTape(): void;
  scopedRun<T>(start: () => void, end: () => void, f: () => T): T;
  tidy<T extends tf.TensorContainer>(name: string, f: () => T): T;
}

/**
 * The tape nodes on a path from some x to y (tfjs's getFilteredNodesXToY), where no path passes
 * through a stop-gradient (`BstStopGradient`, src/surrogate/kernels.ts: its gradient is zero, so
 * the nodes that only feed it — a softmax's row max, a hard reset's spike — need no gradient).
 * The gradients are the same as tfjs's; the kernels of those dead branches do not run.
 */
function nodesFromXToY(
  tape: readonly TapeNodeLike[],
  xs: readonly tf.Tensor[],
  y: tf.Tensor,
): TapeNodeLike[] {
  const fromX = new Set<number>(xs.map((x) => x.id));
  const nodeFromX = new Set<number>();
  for (const node of tape) {
    if (node.kernelName === STOP_GRADIENT) continue;
    for (const name in node.inputs) {
      if (fromX.has(node.inputs[name].id)) {
        for (const o of node.outputs) fromX.add(o.id);
        nodeFromX.add(node.id);
        break;
      }
    }
  }
  const toY = new Set<number>([y.id]);
  const nodeToY = new Set<number>();
  for (let i = tape.length - 1; i >= 0; i--) {
    const node = tape[i];
    if (node.kernelName === STOP_GRADIENT) continue;
    if (node.outputs.some((o) => toY.has(o.id))) {
      for (const name in node.inputs) toY.add(node.inputs[name].id);
      nodeToY.add(node.id);
    }
  }
  const out: TapeNodeLike[] = [];
  for (const node of tape) {
    if (!nodeFromX.has(node.id) || !nodeToY.has(node.id)) continue;
    const inputs: Record<string, tf.Tensor> = {};
    for (const name in node.inputs) {
      if (fromX.has(node.inputs[name].id)) inputs[name] = node.inputs[name];
    }
    out.push({ ...node, inputs });
  }
  return out;
}

/** Per-backward-pass memo (e.g. the transpose of a weight every step's matMul gradient needs). */
let backwardMemo: Map<string, tf.Tensor> | null = null;
const memoKeys = new WeakMap<object, number>();
let nextMemoKey = 0;

/**
 * `make()` computed once per reverse pass of `frugalGradients` for the buffer `dataId` and this
 * `tag` (the result is kept until the pass ends); outside such a pass, simply `make()`. Only for
 * values that are a pure function of the buffer's contents and the tag.
 */
export function memoDuringBackward(dataId: object, tag: string, make: () => tf.Tensor): tf.Tensor {
  if (backwardMemo === null) return make();
  let k = memoKeys.get(dataId);
  if (k === undefined) memoKeys.set(dataId, (k = nextMemoKey++));
  const key = `${k}|${tag}`;
  let t = backwardMemo.get(key);
  if (t === undefined || t.isDisposed) {
    t = tf.keep(make());
    backwardMemo.set(key, t);
  }
  return t;
}

/**
 * `engine.gradients(f, xs, dy, true)` for a top-level gradient (no tape recording around it),
 * with the same results, that frees memory during the reverse pass instead of at its end: tfjs
 * keeps every node's saved tensors and every intermediate cotangent until the whole backward pass
 * is done, so BPTT peaked at the forward activations plus ALL cotangents of all T steps. Here a
 * node's saved tensors are disposed right after its gradient ran, and the cotangent of a tensor
 * as soon as the node that produced it has consumed it (each tensor has one producer). Nested in
 * another gradient computation (higher order), it is engine.gradients unchanged.
 */
export function frugalGradients(
  f: () => tf.Tensor,
  xs: readonly tf.Tensor[],
  dy?: tf.Tensor,
): { value: tf.Tensor; grads: (tf.Tensor | undefined)[] } {
  const eng = tf.engine() as unknown as EngineGradInternals;
  if (eng.state.gradientDepth !== 0 || eng.state.activeTape != null) {
    const r = tf.engine().gradients(f, [...xs], dy, true);
    return { value: r.value, grads: r.grads as (tf.Tensor | undefined)[] };
  }
  if (dy !== undefined && dy.dtype !== 'float32') {
    throw new Error(`dy must have 'float32' dtype, but has '${dy.dtype}'`);
  }
  const y = eng.scopedRun(
    () => eng.startTape(),
    () => eng.endTape(),
    () => eng.tidy('forward', f),
  );
  if (!(y instanceof tf.Tensor)) {
    discardTape(eng);
    throw new Error('The result y returned by f() must be a tensor.');
  }
  const tape = eng.state.activeTape ?? [];
  try {
    return eng.tidy('backward', () => {
      const nodes = nodesFromXToY(tape, xs, y);
      const acc = new Map<number, tf.Tensor>();
      const refs = new Map<tf.Tensor, number>();
      const keep = new Set<tf.Tensor>();
      const hold = (t: tf.Tensor) => refs.set(t, (refs.get(t) ?? 0) + 1);
      const drop = (t: tf.Tensor) => {
        const n = (refs.get(t) ?? 0) - 1;
        if (n > 0) refs.set(t, n);
        else {
          refs.delete(t);
          if (!keep.has(t)) t.dispose();
        }
      };
      const seed = dy ?? tf.ones(y.shape);
      if (dy !== undefined) keep.add(dy);
      acc.set(y.id, seed);
      hold(seed);
      const xIds = new Set(xs.map((x) => x.id));
      const outerMemo = backwardMemo;
      backwardMemo = new Map();
      try {
        for (let i = nodes.length - 1; i >= 0; i--) {
          const node = nodes[i];
          const dys = node.outputs.map((o) => acc.get(o.id) ?? null);
          if (node.gradient == null) {
            throw new Error(
              `Cannot compute gradient: gradient function not found for ${node.kernelName}.`,
            );
          }
          const inputGradients = node.gradient(dys);
          for (const name in node.inputs) {
            if (!(name in inputGradients)) {
              throw new Error(
                `Cannot backprop through input ${name}. Available gradients found: ${Object.keys(inputGradients)}.`,
              );
            }
            const dx = tf.tidy(() => inputGradients[name]());
            const x = node.inputs[name];
            if (dx.dtype !== 'float32') {
              throw new Error(
                `Error in gradient for op ${node.kernelName}. The gradient of input ${name} must have 'float32' dtype, but has '${dx.dtype}'`,
              );
            }
            if (!tf.util.arraysEqual(dx.shape, x.shape)) {
              throw new Error(
                `Error in gradient for op ${node.kernelName}. The gradient of input '${name}' has shape '${dx.shape}', which does not match the shape of the input '${x.shape}'`,
              );
            }
            const cur = acc.get(x.id);
            if (cur === undefined) {
              acc.set(x.id, dx);
              hold(dx);
            } else {
              const sum = tf.add(cur, dx);
              acc.set(x.id, sum);
              hold(sum);
              drop(cur);
              if (!refs.has(dx) && !keep.has(dx)) dx.dispose();
            }
          }
          // this node's saved tensors and its outputs' cotangents are not needed any more
          for (const t of node.saved ?? []) t.dispose();
          for (const o of node.outputs) {
            const g = acc.get(o.id);
            if (g === undefined || xIds.has(o.id)) continue;
            acc.delete(o.id);
            drop(g);
          }
        }
      } finally {
        for (const t of backwardMemo.values()) t.dispose();
        backwardMemo = outerMemo;
      }
      const grads = xs.map((x) => acc.get(x.id));
      return { value: y, grads } as unknown as tf.TensorContainer;
    }) as unknown as { value: tf.Tensor; grads: (tf.Tensor | undefined)[] };
  } catch (e) {
    if (!xs.includes(y)) y.dispose();
    throw e;
  } finally {
    discardTape(eng);
  }
}

function discardTape(eng: EngineGradInternals): void {
  for (const node of eng.state.activeTape ?? []) for (const t of node.saved ?? []) t.dispose();
  eng.state.activeTape = null;
}
