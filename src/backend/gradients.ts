/**
 * Replacement gradients for tfjs-core 4.22 kernels whose stock gradient is slow on our default
 * platform or wrong for higher-order differentiation. `installGradients()` is called once by
 * `src/backend/tf.ts` on import; nothing else in brainstate-ts should register gradients for
 * these kernels. Measurements: the tfjs research notes, §4 (Findings A and D).
 *
 * Group 1, speed (Finding A): `BatchMatMul`.
 *   The stock gradient computes `dy·bᵀ` and `aᵀ·dy` with the `transposeA`/`transposeB` flags. The
 *   wasm backend only sends matMul to XNNPACK when both flags are false (and batch == 1); with a flag
 *   set it runs a naive triple loop, so the backward pass is 4.5–8× slower than the forward pass.
 *   Ours transposes explicitly (`tf.transpose` of the last two axes) and always calls `tf.matMul`
 *   without flags. Batch dimensions shared by broadcasting are folded into the matrix rows when one
 *   side is a plain matrix, so `x[T,B,k] · W[k,n]` keeps its backward on XNNPACK too. Unlike the stock
 *   gradient, ours also reduces over broadcast batch dimensions (the stock one throws a shape error).
 *   (tfjs' forward BatchMatMul itself only broadcasts a batch of size 1 or a trailing suffix of the
 *   batch dims; e.g. [2,1,m,k]·[3,k,n] gives wrong values before any gradient is taken.)
 *
 * Group 2, second order (Finding D, tensorflow/tfjs#3252): the kernels whose stock gradient has
 *   `outputsToSave`: Elu, Exp, LogSoftmax, LRN, Max, MaxPool, MaxPool3D, Min, Pow, Sigmoid,
 *   Softmax, Tanh. The engine clones a saved output onto the tape *before* the node of the kernel
 *   that produced it, so the tape is no longer topologically ordered and `grad(grad(f))` loses every
 *   path through the saved output: it throws ("Cannot compute gradient of y=f(x)") or, when another
 *   path exists, is silently wrong. Ours save inputs only and recompute the forward value from the
 *   saved input inside `gradFunc` with differentiable ops, so gradients of gradients are right.
 *   The price is one extra forward kernel per backward (e.g. tanh on wasm: about 2× the stock
 *   backward for that op).
 *   Comparisons (`equal`, `greater`) have no registered gradient and throw when they sit on a path
 *   being differentiated, so masks are built inside `constant()` (a zero-input customGrad), which
 *   hides them from the tape. Kernel attrs are read as the stock gradients read them, except that
 *   MaxPool honours dimRoundingMode (the stock gradient drops it and is wrong under 'ceil').
 *   MaxPool/MaxPool3D do not call the backprop kernels: on wasm, MaxPoolGrad loses the gradient of
 *   every window whose maximum is negative (the stock gradient is wrong there too), and tfjs has no
 *   gradient for MaxPoolGrad, so its second derivative would throw anyway. Ours builds dx from
 *   pad/slice/reshape ops and a one-hot "first maximum of the window" mask (the cpu kernels' choice;
 *   a backend may differ only on exact ties inside a window), which is differentiable to any order.
 *
 * Not fixable here: `tf.logSoftmax` does not run the LogSoftmax kernel; it is a `tf.customGrad`
 *   that saves its own output, so its second derivative still throws whatever is registered. Use
 *   `logSoftmax` from this module (`x − logSumExp(x)`) where second order matters. Our LogSoftmax
 *   gradient still replaces the stock one for backends that implement the kernel.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { GradConfig, NamedAttrMap, Tensor } from '@tensorflow/tfjs-core';
// The stock gradients must be registered before we save and replace them.
import '@tensorflow/tfjs'; // registers tfjs's stock gradients (the umbrella's node bundle)
import { memoDuringBackward, shareTapeSaves } from './engine';
import { installWasmKernels } from './wasmKernels';
import { matMulTN } from './matMulTN';

/** Kernels whose stock gradient `installGradients()` replaces (the stock config is kept). */
export const REPLACED_GRADIENTS: readonly string[] = [
  'BatchMatMul',
  'Elu',
  'Exp',
  'LogSoftmax',
  'LRN',
  'Max',
  'MaxPool',
  'MaxPool3D',
  'Min',
  'Pow',
  'Sigmoid',
  'Softmax',
  'Tanh',
];

// ---------------------------------------------------------------------------------------------
// Helpers

/** Run a kernel by name with the attrs the forward op used (single output). */
function run(kernelName: string, inputs: Record<string, Tensor>, attrs: NamedAttrMap = {}): Tensor {
  return tf.engine().runKernel<Tensor>(kernelName, inputs, attrs);
}

/**
 * Evaluate `f` so that its result is a constant for every enclosing gradient tape. Kernels inside a
 * customGrad forward are not taped, and a customGrad with no inputs never lies on a path.
 */
function constant(f: () => Tensor): Tensor {
  return tf.customGrad(() => ({ value: f(), gradFunc: () => [] }))();
}

/** Swap the last two axes. */
function transposeLast2(t: Tensor): Tensor {
  const r = t.rank;
  const perm = [...Array(r - 2).keys(), r - 1, r - 2];
  return tf.transpose(t, perm);
}

/** Sum `t` over the axes that broadcasting added or stretched, then give it `shape`. */
function reduceTo(t: Tensor, shape: number[]): Tensor {
  if (sameDims(t.shape, shape)) return t;
  const axes = tf.backend_util.getReductionAxes(shape, t.shape);
  const summed = axes.length > 0 ? tf.sum(t, axes) : t;
  return tf.reshape(summed, shape);
}

function size(shape: readonly number[]): number {
  return shape.reduce((p, d) => p * d, 1);
}

function sameDims(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/**
 * `op(x) · op(y)` where op transposes the last two axes when its flag is set, without ever
 * passing a transpose flag to BatchMatMul (wasm only uses XNNPACK for flag-free matMul).
 */
function matMulT(x: Tensor, y: Tensor, tx: boolean, ty: boolean): Tensor {
  // xᵀ·yᵀ = (y·x)ᵀ: one transpose of the result instead of two of the operands.
  if (tx && ty) return transposeLast2(tf.matMul(y, x));
  // yᵀ is typically a weight's transpose, the same at every step of a BPTT: once per reverse pass
  const yy = ty
    ? memoDuringBackward(y.dataId, `T${y.shape.join('x')}`, () => transposeLast2(y))
    : y;
  if (!tx && x.rank > 2 && y.rank === 2) {
    // A matrix shared by every batch: fold the batch dims into rows, one 2-D matMul.
    const k = x.shape[x.rank - 1];
    const out = tf.matMul(tf.reshape(x, [-1, k]), yy);
    return tf.reshape(out, [...x.shape.slice(0, -1), yy.shape[1] as number]);
  }
  // xᵀ·y of matrices (a weight gradient): the SIMD kernel that reads x transposed
  if (tx && !ty && x.rank === 2 && y.rank === 2) return matMulTN(x, y);
  return tf.matMul(tx ? transposeLast2(x) : x, yy);
}

/**
 * Gradient of one BatchMatMul operand: `op(x) · op(y)` reduced to `target`'s shape. When the
 * target is a plain matrix and x, y have the same batch dims, contract over the batch as well:
 * Σ_b x_bᵀ·y_b = (x folded to rows)ᵀ · (y folded to rows), one 2-D matMul and no reduction.
 */
function matMulGrad(x: Tensor, y: Tensor, tx: boolean, ty: boolean, target: Tensor): Tensor {
  if (
    target.rank === 2 &&
    tx &&
    !ty &&
    x.rank > 2 &&
    sameDims(x.shape.slice(0, -2), y.shape.slice(0, -2))
  ) {
    const x2 = tf.reshape(x, [-1, x.shape[x.rank - 1]]);
    const y2 = tf.reshape(y, [-1, y.shape[y.rank - 1]]);
    return tf.reshape(matMulTN(x2, y2), target.shape);
  }
  return reduceTo(matMulT(x, y, tx, ty), target.shape);
}

/**
 * Geometry of a 2-D or 3-D max pooling, per spatial axis. Inputs are padded onto a grid of size
 * `grid` (padBefore + in + the rest) large enough for every window offset o to own the slice
 * [o, o + out·stride) of it.
 */
interface PoolGeometry {
  inSize: number[];
  outSize: number[];
  stride: number[];
  padBefore: number[];
  grid: number[];
  /** Window offsets, first spatial axis slowest (the order the cpu kernels scan a window). */
  offsets: number[][];
}

function poolGeometry(
  kernel: 'MaxPool' | 'MaxPool3D',
  xShape: number[],
  attrs: NamedAttrMap,
): PoolGeometry {
  const { filterSize, strides, pad, dimRoundingMode } = attrs as unknown as {
    filterSize: number & [number, number] & [number, number, number];
    strides: number & [number, number] & [number, number, number];
    pad: 'same' | 'valid' | number;
    dimRoundingMode?: 'floor' | 'round' | 'ceil';
  };
  let inSize: number[],
    outSize: number[],
    filter: number[],
    stride: number[],
    before: number[],
    after: number[];
  if (kernel === 'MaxPool') {
    const c = tf.backend_util.computePool2DInfo(
      xShape as [number, number, number, number],
      filterSize,
      strides,
      1,
      pad,
      dimRoundingMode,
    );
    inSize = [c.inHeight, c.inWidth];
    outSize = [c.outHeight, c.outWidth];
    filter = [c.effectiveFilterHeight, c.effectiveFilterWidth];
    stride = [c.strideHeight, c.strideWidth];
    before = [c.padInfo.top, c.padInfo.left];
    after = [c.padInfo.bottom, c.padInfo.right];
  } else {
    const c = tf.backend_util.computePool3DInfo(
      xShape as [number, number, number, number, number],
      filterSize,
      strides,
      1,
      pad,
      dimRoundingMode,
    );
    inSize = [c.inDepth, c.inHeight, c.inWidth];
    outSize = [c.outDepth, c.outHeight, c.outWidth];
    filter = [c.effectiveFilterDepth, c.effectiveFilterHeight, c.effectiveFilterWidth];
    stride = [c.strideDepth, c.strideHeight, c.strideWidth];
    before = [c.padInfo.front, c.padInfo.top, c.padInfo.left];
    after = [c.padInfo.back, c.padInfo.bottom, c.padInfo.right];
  }
  const padBefore = before.map((p) => Math.max(0, p));
  const grid = inSize.map((n, i) =>
    Math.max(padBefore[i] + n + Math.max(0, after[i]), filter[i] - 1 + outSize[i] * stride[i]),
  );
  let offsets: number[][] = [[]];
  for (const f of filter)
    offsets = offsets.flatMap((o) => [...Array(f).keys()].map((i) => [...o, i]));
  return { inSize, outSize, stride, padBefore, grid, offsets };
}

/** [N, ...in, C] → [N, ...grid, C], the input at padBefore, `value` elsewhere. */
function toGrid(t: Tensor, geo: PoolGeometry, value = 0): Tensor {
  const spatial = geo.inSize.map((n, i): [number, number] => [
    geo.padBefore[i],
    geo.grid[i] - geo.padBefore[i] - n,
  ]);
  return tf.pad(t, [[0, 0], ...spatial, [0, 0]], value);
}

/** Inverse of toGrid: [N, ...grid, C] → [N, ...in, C]. */
function fromGrid(t: Tensor, geo: PoolGeometry): Tensor {
  return tf.slice(t, [0, ...geo.padBefore, 0], [-1, ...geo.inSize, -1]);
}

/** [..., d·s, ...] → [..., d, ...] along `axis`, keeping elements 0, s, 2s, … (rank-4 ops only). */
function takeEvery(t: Tensor, axis: number, s: number): Tensor {
  if (s === 1) return t;
  const shape = t.shape;
  const d = shape[axis] / s;
  const r = tf.reshape(t, [size(shape.slice(0, axis)), d, s, size(shape.slice(axis + 1))]);
  const picked = tf.slice(r, [0, 0, 0, 0], [-1, -1, 1, -1]);
  return tf.reshape(
    picked,
    shape.map((n, i) => (i === axis ? d : n)),
  );
}

/** Adjoint of takeEvery: [..., d, ...] → [..., d·s, ...] with zeros between the elements. */
function spreadEvery(t: Tensor, axis: number, s: number): Tensor {
  if (s === 1) return t;
  const shape = t.shape;
  const r = tf.reshape(t, [
    size(shape.slice(0, axis)),
    shape[axis],
    1,
    size(shape.slice(axis + 1)),
  ]);
  const spread = tf.pad(r, [
    [0, 0],
    [0, 0],
    [0, s - 1],
    [0, 0],
  ]);
  return tf.reshape(
    spread,
    shape.map((n, i) => (i === axis ? n * s : n)),
  );
}

// Both work one axis at a time: XNNPACK (wasm) pads at most 6-D tensors.

/** The grid elements that window offset o covers for every output position: [N, ...out, C]. */
function windowAt(grid: Tensor, o: number[], geo: PoolGeometry): Tensor {
  let t = tf.slice(grid, [0, ...o, 0], [-1, ...geo.outSize.map((d, i) => d * geo.stride[i]), -1]);
  geo.stride.forEach((s, i) => (t = takeEvery(t, i + 1, s)));
  return t;
}

/** Adjoint of windowAt: scatter [N, ...out, C] to its offset-o positions of a zero grid. */
function placeAt(t: Tensor, o: number[], geo: PoolGeometry): Tensor {
  geo.stride.forEach((s, i) => (t = spreadEvery(t, i + 1, s)));
  const spatial = geo.outSize.map((d, i): [number, number] => [
    o[i],
    geo.grid[i] - o[i] - d * geo.stride[i],
  ]);
  return tf.pad(t, [[0, 0], ...spatial, [0, 0]]);
}

/**
 * For each window offset, the mask [N, ...out, C] of output positions whose window's first maximum
 * sits at that offset. A constant for the tape (piecewise constant in x).
 */
function firstMaxMasks(
  x: Tensor,
  kernel: string,
  attrs: NamedAttrMap,
  geo: PoolGeometry,
): Tensor[] {
  const stacked = constant(() => {
    const y = run(kernel, { x }, attrs);
    const grid = toGrid(x, geo, -Infinity);
    let found = tf.zerosLike(y);
    const masks = geo.offsets.map((o) => {
      const hit = tf.mul(tf.cast(tf.equal(windowAt(grid, o, geo), y), 'float32'), tf.sub(1, found));
      found = tf.add(found, hit);
      return hit;
    });
    return tf.stack(masks);
  });
  return tf.unstack(stacked);
}

/** Gradient of MaxPool/MaxPool3D: dy routed to each window's first maximum, built from ops. */
function maxPoolGrad(kernelName: 'MaxPool' | 'MaxPool3D'): GradConfig {
  return {
    kernelName,
    inputsToSave: ['x'],
    gradFunc: (dy, [x], attrs) => ({
      x: () => {
        // Unlike stock MaxPool (which drops it for the backprop kernel), dimRoundingMode is honoured.
        const geo = poolGeometry(kernelName, x.shape, attrs);
        const masks = firstMaxMasks(x, kernelName, attrs, geo);
        const parts = geo.offsets.map((o, k) => placeAt(tf.mul(masks[k], dy as Tensor), o, geo));
        return fromGrid(tf.addN(parts), geo);
      },
    }),
  };
}

/** Σ over the channel window [c − r, c + r] ∩ [0, C − 1] (last axis), as LRN defines it. */
function channelWindowSum(t: Tensor, depthRadius: number): Tensor {
  const ch = t.shape[t.rank - 1];
  const r = Math.min(depthRadius, ch - 1);
  if (r <= 0) return t;
  const padding = t.shape.map((): [number, number] => [0, 0]);
  padding[t.rank - 1] = [r, r];
  const tp = tf.pad(t, padding);
  const begin = t.shape.map(() => 0);
  const extent = t.shape.map(() => -1);
  extent[t.rank - 1] = ch;
  const parts = [...Array(2 * r + 1).keys()].map((o) => {
    begin[t.rank - 1] = o;
    return tf.slice(tp, [...begin], extent);
  });
  return tf.addN(parts);
}

/** Reshape a reduced tensor back to rank(x) with size-1 reduced axes (the stock helper's rule). */
function keepDimsLike(t: Tensor, xShape: number[], axes: number[]): Tensor {
  return t.rank < xShape.length
    ? tf.reshape(t, tf.backend_util.expandShapeToKeepDim(t.shape, axes))
    : t;
}

/** Gradient of Max/Min: dy at every position equal to the extremum (ties all receive dy). */
function minMaxGrad(kernelName: 'Max' | 'Min', axisAttr: 'reductionIndices' | 'axis'): GradConfig {
  return {
    kernelName,
    inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs) => {
      const [x] = saved;
      const axes = tf.util.parseAxisParam(attrs[axisAttr] as number | number[], x.shape);
      const dyk = keepDimsLike(dy as Tensor, x.shape, axes);
      const mask = constant(() => {
        const y = keepDimsLike(run(kernelName, { x }, attrs), x.shape, axes);
        return tf.cast(tf.equal(x, y), dyk.dtype);
      });
      return { x: () => tf.mul(dyk, mask) };
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The gradient configs

const batchMatMulGrad: GradConfig = {
  kernelName: 'BatchMatMul',
  inputsToSave: ['a', 'b'],
  gradFunc: (dyIn, saved, attrs) => {
    const [a, b] = saved;
    const dy = dyIn as Tensor;
    const { transposeA, transposeB } = attrs as { transposeA?: boolean; transposeB?: boolean };
    // C = op(a)·op(b). Same four cases as the stock gradient, flags replaced by transposes.
    if (!transposeA && !transposeB) {
      return {
        a: () => matMulGrad(dy, b, false, true, a),
        b: () => matMulGrad(a, dy, true, false, b),
      };
    } else if (!transposeA && transposeB) {
      return {
        a: () => matMulGrad(dy, b, false, false, a),
        b: () => matMulGrad(dy, a, true, false, b),
      };
    } else if (transposeA && !transposeB) {
      return {
        a: () => matMulGrad(b, dy, false, true, a),
        b: () => matMulGrad(a, dy, false, false, b),
      };
    }
    return { a: () => matMulGrad(b, dy, true, true, a), b: () => matMulGrad(dy, a, true, true, b) };
  },
};

const unaryGrads: GradConfig[] = [
  {
    // elu'(x) = 1 for x > 0, exp(x) otherwise = exp(min(x, 0)).
    kernelName: 'Elu',
    inputsToSave: ['x'],
    gradFunc: (dy, [x]) => ({ x: () => tf.mul(dy as Tensor, tf.exp(tf.minimum(x, 0))) }),
  },
  {
    kernelName: 'Exp',
    inputsToSave: ['x'],
    gradFunc: (dy, [x]) => ({ x: () => tf.mul(dy as Tensor, tf.exp(x)) }),
  },
  {
    kernelName: 'Sigmoid',
    inputsToSave: ['x'],
    gradFunc: (dy, [x]) => ({
      x: () => {
        const s = tf.sigmoid(x);
        return tf.mul(dy as Tensor, tf.mul(s, tf.sub(1, s)));
      },
    }),
  },
  {
    kernelName: 'Tanh',
    inputsToSave: ['x'],
    gradFunc: (dy, [x]) => ({ x: () => tf.mul(tf.sub(1, tf.square(tf.tanh(x))), dy as Tensor) }),
  },
];

const softmaxGrads: GradConfig[] = [
  {
    kernelName: 'Softmax',
    inputsToSave: ['logits'],
    gradFunc: (dy, [logits], attrs) => ({
      logits: () => {
        const y = run('Softmax', { logits }, attrs);
        const { dim } = attrs as { dim: number };
        const dyTimesY = tf.mul(dy as Tensor, y);
        return tf.sub(dyTimesY, tf.mul(tf.sum(dyTimesY, [dim], true), y));
      },
    }),
  },
  {
    // No backend implements the LogSoftmax kernel, so the softmax is recomputed with ops.
    kernelName: 'LogSoftmax',
    inputsToSave: ['logits'],
    gradFunc: (dy, [logits], attrs) => ({
      logits: () => {
        const { axis } = attrs as { axis: number };
        const softmax = tf.exp(tf.sub(logits, tf.logSumExp(logits, axis, true)));
        return tf.sub(dy as Tensor, tf.mul(tf.sum(dy as Tensor, axis, true), softmax));
      },
    }),
  },
];

const powGrad: GradConfig = {
  kernelName: 'Pow',
  inputsToSave: ['a', 'b'],
  gradFunc: (dyIn, [a, b]) => {
    const dy = dyIn as Tensor;
    const derBase = (): Tensor => {
      const expFloat = tf.cast(b, 'float32');
      const res = tf.mul(dy, tf.mul(expFloat, tf.pow(a, tf.sub(expFloat, 1))));
      return reduceTo(res, a.shape);
    };
    const derExp = (): Tensor => {
      const y = tf.pow(a, b);
      // log(a) where a > 0, else 0; log(1) keeps the unused branch's gradient finite.
      const positive = constant(() => tf.greater(a, 0));
      const logBase = tf.log(tf.where(positive, a, tf.onesLike(a)));
      return reduceTo(tf.mul(dy, tf.mul(y, logBase)), b.shape);
    };
    return { a: derBase, b: derExp };
  },
};

const lrnGrad: GradConfig = {
  // y = x · N^(−β), N = bias + α Σ_window x². With the symmetric window W:
  // dx = dy · N^(−β) − 2αβ x · Σ_W(dy · x · N^(−β−1)).
  kernelName: 'LRN',
  inputsToSave: ['x'],
  gradFunc: (dy, [x], attrs) => {
    const { depthRadius, bias, alpha, beta } = attrs as {
      depthRadius: number;
      bias: number;
      alpha: number;
      beta: number;
    };
    return {
      x: () => {
        const norm = tf.add(bias, tf.mul(alpha, channelWindowSum(tf.square(x), depthRadius)));
        const scale = tf.pow(norm, -beta);
        const inner = channelWindowSum(
          tf.div(tf.mul(tf.mul(dy as Tensor, x), scale), norm),
          depthRadius,
        );
        return tf.sub(tf.mul(dy as Tensor, scale), tf.mul(2 * alpha * beta, tf.mul(x, inner)));
      },
    };
  },
};

const OUR_GRADIENTS: readonly GradConfig[] = [
  batchMatMulGrad,
  ...unaryGrads,
  ...softmaxGrads,
  powGrad,
  lrnGrad,
  minMaxGrad('Max', 'reductionIndices'),
  minMaxGrad('Min', 'axis'),
  maxPoolGrad('MaxPool'),
  maxPoolGrad('MaxPool3D'),
];

const ours = new Map(OUR_GRADIENTS.map((c) => [c.kernelName, c]));
/** The configs registered before ours (undefined if none was). Filled by installGradients. */
const stock = new Map<string, GradConfig | undefined>();

/** Stand-in for "no gradient registered" (the gradient registry has no public unregister). */
function noGradient(kernelName: string): GradConfig {
  return {
    kernelName,
    gradFunc: () => {
      throw new Error(`Cannot compute gradient: gradient function not found for ${kernelName}.`);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Public API

/**
 * Register our gradients for `REPLACED_GRADIENTS`, after saving the gradient each kernel had (see `stockGradient`). Idempotent: later calls change nothing unless
 * something re-registered a stock gradient meanwhile, which is then replaced again.
 */
export function installGradients(): void {
  // not a gradient, but the same "tfjs is slow here" fix-up: wasm Slice/SplitV copy only the slice
  installWasmKernels();
  // and the tape's saved tensors share their buffers instead of being copied (engine.ts)
  shareTapeSaves();
  for (const config of OUR_GRADIENTS) {
    const current = tf.getGradient(config.kernelName) as GradConfig | undefined;
    if (current === config) continue;
    if (!stock.has(config.kernelName)) stock.set(config.kernelName, current);
    tf.registerGradient(config);
  }
}

/**
 * The gradient config tfjs had registered for `kernelName` before `installGradients()` replaced
 * it; undefined for a kernel we do not replace, or before installation.
 */
export function stockGradient(kernelName: string): GradConfig | undefined {
  return stock.get(kernelName);
}

/**
 * Run `fn` with the stock tfjs gradients registered for `kernels` (default: all of
 * `REPLACED_GRADIENTS`), then restore what was registered before, even if `fn` throws. Both the forward and the backward pass must run inside `fn`: the tape looks the
 * gradient up when the forward kernel runs. `fn` must be synchronous. Meant for tests and
 * comparisons.
 */
export function withStockGradients<T>(
  fn: () => T,
  kernels: readonly string[] = REPLACED_GRADIENTS,
): T {
  const previous = kernels.map((name) => {
    if (!ours.has(name))
      throw new Error(`withStockGradients: '${name}' is not a kernel brainstate-ts replaces`);
    if (!stock.has(name)) throw new Error('withStockGradients: installGradients() has not run');
    return tf.getGradient(name) as GradConfig | undefined;
  });
  try {
    for (const name of kernels) tf.registerGradient(stock.get(name) ?? noGradient(name));
    return fn();
  } finally {
    kernels.forEach((name, i) => tf.registerGradient(previous[i] ?? ours.get(name)!));
  }
}

/**
 * `logits − logSumExp(logits, axis)`: the log-softmax, built from ops whose gradients are all
 * second-order correct. Prefer it to `tf.logSoftmax` (a customGrad that saves its output) when
 * gradients of gradients are needed; the value and first derivative are the same.
 */
export function logSoftmax<T extends Tensor>(logits: T, axis = -1): T {
  return tf.tidy(() => tf.sub(logits, tf.logSumExp(logits, axis, true))) as T;
}
