/**
 * wasm kernels of tfjs-backend-wasm 4.22 replaced where they cost far more than their work
 * (measured on the BPTT step of examples/rsnn.ts; values are bit-identical to the stock kernels).
 * (Transpose is slow on power-of-two strides too, 213 µs for 256×256 against 24 µs for 255×257,
 * but a JS tiled transpose is slower still on other shapes; the BPTT path avoids it instead.)
 *
 * - Slice and SplitV read their input with `backend.readSync`, which copies the WHOLE input out
 *   of the wasm heap on every call, and SplitV is one such Slice per output: splitting a
 *   [T, ...] tensor into T steps copied T times the whole tensor (T² work: 0.4 s for T = 100
 *   steps of [64, 100]). Ours read through a heap view and copy only the selected elements, in
 *   contiguous runs.
 *
 * Heap views are made after the output is allocated (an allocation that grows the heap detaches
 * older views). The gradients are the stock ones (same kernel names). String tensors and
 * non-matching cases call the stock kernels. `installWasmKernels()` swaps them in once (called by
 * installGradients on import of the backend module); `withStockWasmKernels(fn)` runs fn with the
 * stock kernels (tests, benches).
 */
import * as tf from '@tensorflow/tfjs-core';

interface TensorInfoLike {
  dataId: object;
  shape: number[];
  dtype: tf.DataType;
}
interface WasmBackendLike {
  makeOutput(shape: number[], dtype: tf.DataType): TensorInfoLike;
  typedArrayFromHeap(t: TensorInfoLike): tf.TypedArray;
}
interface SliceArgs {
  inputs: { x: TensorInfoLike };
  attrs: { begin: number | number[]; size?: number | number[] };
  backend: WasmBackendLike;
}
interface SplitArgs {
  inputs: { x: TensorInfoLike };
  attrs: { numOrSizeSplits: number | number[]; axis: number };
  backend: WasmBackendLike;
}
type KernelFn = (args: never) => unknown;

const stock = new Map<string, tf.KernelConfig>();

/** Copy x[begin : begin + size] (all axes) into out (contiguous, row-major). */
export function copyBox(
  x: tf.TypedArray,
  xShape: readonly number[],
  begin: readonly number[],
  size: readonly number[],
  out: tf.TypedArray,
): void {
  const rank = xShape.length;
  if (rank === 0) {
    out[0] = x[0];
    return;
  }
  const strides = new Array<number>(rank);
  strides[rank - 1] = 1;
  for (let d = rank - 2; d >= 0; d--) strides[d] = strides[d + 1] * xShape[d + 1];
  // Merge the trailing axes that are taken whole into one contiguous run.
  let inner = rank - 1;
  let run = size[inner];
  while (inner > 0 && size[inner] === xShape[inner] && begin[inner] === 0) {
    inner--;
    run *= size[inner];
  }
  // [0, inner) are the outer axes iterated one by one; axis `inner` starts the contiguous run.
  let total = 1;
  for (let d = 0; d < inner; d++) total *= size[d];
  if (run === 0 || total === 0) return;
  const idx = new Array<number>(inner).fill(0);
  let base = 0;
  for (let d = 0; d <= inner; d++) base += begin[d] * strides[d];
  let offset = base;
  let o = 0;
  for (let r = 0; r < total; r++) {
    (out as Float32Array).set((x as Float32Array).subarray(offset, offset + run), o);
    o += run;
    // advance the outer multi-index (last outer axis fastest)
    for (let d = inner - 1; d >= 0; d--) {
      if (++idx[d] < size[d]) {
        offset += strides[d];
        break;
      }
      offset -= (size[d] - 1) * strides[d];
      idx[d] = 0;
    }
  }
}

function sliceWasm(args: SliceArgs): TensorInfoLike {
  const { x } = args.inputs;
  if (x.dtype === 'string') return stockKernel('Slice')(args as never) as TensorInfoLike;
  const [begin, size] = tf.slice_util.parseSliceParams(
    x as unknown as tf.TensorInfo,
    args.attrs.begin,
    args.attrs.size,
  );
  return sliceInto(args.backend, x, begin, size);
}

function sliceInto(
  backend: WasmBackendLike,
  x: TensorInfoLike,
  begin: number[],
  size: number[],
): TensorInfoLike {
  const out = backend.makeOutput(size, x.dtype);
  // views after makeOutput (heap growth detaches older views)
  const outVals = backend.typedArrayFromHeap(out);
  if (outVals.length > 0) copyBox(backend.typedArrayFromHeap(x), x.shape, begin, size, outVals);
  return out;
}

function splitVWasm(args: SplitArgs): TensorInfoLike[] {
  const { x } = args.inputs;
  if (x.dtype === 'string') return stockKernel('SplitV')(args as never) as TensorInfoLike[];
  const { numOrSizeSplits, axis } = args.attrs;
  const ax = tf.util.parseAxisParam(axis, x.shape)[0];
  const sizes = tf.backend_util.prepareSplitSize(x as unknown as tf.Tensor, numOrSizeSplits, ax);
  const begin = new Array<number>(x.shape.length).fill(0);
  return sizes.map((s) => {
    const size = x.shape.slice();
    size[ax] = s;
    const out = sliceInto(args.backend, x, begin.slice(), size);
    begin[ax] += s;
    return out;
  });
}

function stockKernel(name: string): KernelFn {
  return stock.get(name)!.kernelFunc as KernelFn;
}

const ours: Record<string, KernelFn> = {
  Slice: sliceWasm as KernelFn,
  SplitV: splitVWasm as KernelFn,
};

/** Replace wasm's Slice and SplitV with ours (idempotent). */
export function installWasmKernels(): void {
  for (const [name, kernelFunc] of Object.entries(ours)) {
    const current = tf.getKernel(name, 'wasm') as tf.KernelConfig | undefined;
    if (current === undefined || current.kernelFunc === kernelFunc) continue;
    if (!stock.has(name)) stock.set(name, current);
    tf.unregisterKernel(name, 'wasm');
    tf.registerKernel({ ...current, kernelFunc: kernelFunc as unknown as tf.KernelFunc });
  }
}

/** Run fn with tfjs's own wasm kernels (for comparisons); ours are put back after. */
export function withStockWasmKernels<T>(fn: () => T): T {
  const swapped: string[] = [];
  for (const [name, cfg] of stock) {
    tf.unregisterKernel(name, 'wasm');
    tf.registerKernel(cfg);
    swapped.push(name);
  }
  try {
    return fn();
  } finally {
    for (const name of swapped) {
      tf.unregisterKernel(name, 'wasm');
      tf.registerKernel({
        ...stock.get(name)!,
        kernelFunc: ours[name] as unknown as tf.KernelFunc,
      });
    }
  }
}
