/**
 * `eventMatMul(x, w)` = x·w for x [M, K] mostly zeros (spikes) and a dense w [K, N]: one
 * registered kernel, `BstEventMatMul`, that walks x row by row and adds v·w[k, :] to the output
 * row for every non-zero x[m, k] = v (cost ∝ nnz(x)·N instead of M·K·N). Any values are allowed
 * (not only 0/1); rows are accumulated in float32 in k order, so results equal a dense matMul up
 * to float32 rounding of the sum order.
 *
 * Gradient (registered): dx = dy·wᵀ (a dense matMul; wᵀ is computed once per reverse pass, see
 * memoDuringBackward), dw = xᵀ·dy by the same event walk (`BstEventMatMulT`: for every non-zero
 * x[m, k] = v, dw[k, :] += v·dy[m, :]). When the backward pass is itself recorded (gradients of
 * gradients) both are dense differentiable tf ops instead.
 *
 * In a BPTT step of a spiking RNN the recurrent product s_{t−1}·W_rec and its weight gradient are
 * such products (1 % of the B·H spikes non-zero in bench/bptt's H256 model); the dense XNNPACK
 * matMul costs ~0.2 ms per step for them, the event walk a tenth of that.
 *
 * Kernels for the wasm backend (the whole walk is a small wasm SIMD function working on
 * tfjs-wasm's own memory at the tensors' byte offsets; JS loops on heap views without SIMD)
 * and the cpu backend (JS loops on its TypedArrays); other backends read back with readSync.
 */
import { tf } from './tf';
import { isTapeOn, memoDuringBackward } from './engine';
import { ArgumentError } from '../errors';
import { Code, encodeModule, Op, Simd, T } from '../compile/fusion/wasmEncoder';

export const EVENT_MATMUL_KERNEL = 'BstEventMatMul';
export const EVENT_MATMUL_T_KERNEL = 'BstEventMatMulT';

interface TensorInfoLike {
  dataId: object;
  shape: number[];
  dtype: tf.DataType;
}
interface KernelArgs {
  inputs: Record<string, TensorInfoLike>;
  backend: unknown;
}
interface WasmBackendLike {
  makeOutput(shape: number[], dtype: tf.DataType): TensorInfoLike;
  typedArrayFromHeap(t: TensorInfoLike): tf.TypedArray;
  dataIdMap: { get(dataId: object): { memoryOffset: number } | undefined };
  wasm?: { asm?: { memory?: unknown } };
}

/**
 * `walk(x, b, out, M, K, N, transposed)` (byte offsets): for every non-zero x[m, k] = v, add
 * v·(row `transposed ? m : k` of b) to row `transposed ? k : m` of out (which starts zeroed).
 */
type Walk = (x: number, b: number, out: number, M: number, K: number, N: number, t: number) => void;

/** The wasm SIMD walk on tfjs-wasm's memory (null without SIMD or memory access). */
const walks = new WeakMap<WebAssembly.Memory, Walk | null>();

function walkModule(): Uint8Array<ArrayBuffer> {
  // params: x 0, b 1, o 2, M 3, K 4, N 5, tr 6
  // locals: m 7, k 8, v 9 (f32), vv 10 (v128), dst 11, src 12, i 13, end4 14, endN 15, xp 16
  const c = new Code();
  const IF_VOID = 0x40;
  c.get(5).i32c(4).op(Op.i32_mul).set(15); // endN = N·4 (bytes of a row)
  c.get(5).i32c(-4).op(Op.i32_and).i32c(4).op(Op.i32_mul).set(14); // end4 = (N & ~3)·4
  c.get(0).set(16); // xp walks x
  c.i32c(0).set(7);
  c.block().loop(); // m
  c.get(7).get(3).op(Op.i32_ge_u).brIf(1);
  c.i32c(0).set(8);
  c.block().loop(); // k
  c.get(8).get(4).op(Op.i32_ge_u).brIf(1);
  c.get(16).mem(Op.f32_load, 2).tee(9).f32c(0).op(Op.f32_ne);
  c.op(Op.if).byte(IF_VOID);
  c.get(9).simd(Simd.f32x4_splat).set(10);
  // dst = o + (tr ? k : m)·N·4, src = b + (tr ? m : k)·N·4
  c.get(2).get(8).get(7).get(6).op(Op.select).get(15).op(Op.i32_mul).op(Op.i32_add).set(11);
  c.get(1).get(7).get(8).get(6).op(Op.select).get(15).op(Op.i32_mul).op(Op.i32_add).set(12);
  c.i32c(0).set(13);
  c.block().loop(); // 4 lanes at a time
  c.get(13).get(14).op(Op.i32_ge_u).brIf(1);
  c.get(11).get(13).op(Op.i32_add);
  c.get(11).get(13).op(Op.i32_add).simdMem(Simd.v128_load, 2);
  c.get(12).get(13).op(Op.i32_add).simdMem(Simd.v128_load, 2);
  c.get(10).simd(Simd.f32x4_mul).simd(Simd.f32x4_add);
  c.simdMem(Simd.v128_store, 2);
  c.get(13).i32c(16).op(Op.i32_add).set(13);
  c.br(0).end().end();
  c.block().loop(); // the last N % 4 columns
  c.get(13).get(15).op(Op.i32_ge_u).brIf(1);
  c.get(11).get(13).op(Op.i32_add);
  c.get(11).get(13).op(Op.i32_add).mem(Op.f32_load, 2);
  c.get(12).get(13).op(Op.i32_add).mem(Op.f32_load, 2);
  c.get(9).op(Op.f32_mul).op(Op.f32_add);
  c.mem(Op.f32_store, 2);
  c.get(13).i32c(4).op(Op.i32_add).set(13);
  c.br(0).end().end();
  c.end(); // if
  c.get(16).i32c(4).op(Op.i32_add).set(16);
  c.get(8).i32c(1).op(Op.i32_add).set(8);
  c.br(0).end().end();
  c.get(7).i32c(1).op(Op.i32_add).set(7);
  c.br(0).end().end();
  const i = T.i32;
  return encodeModule({
    types: [{ params: [i, i, i, i, i, i, i], results: [] }],
    funcImports: [],
    importMemory: true,
    func: { type: 0, locals: [i, i, T.f32, T.v128, i, i, i, i, i, i], body: c },
    exportName: 'walk',
  });
}

function walkFor(backend: WasmBackendLike): Walk | null {
  const memory = backend.wasm?.asm?.memory;
  if (!(memory instanceof WebAssembly.Memory)) return null;
  let f = walks.get(memory);
  if (f === undefined) {
    try {
      const instance = new WebAssembly.Instance(new WebAssembly.Module(walkModule()), {
        env: { memory },
      });
      f = instance.exports.walk as Walk;
    } catch {
      f = null; // no wasm SIMD: the JS loops
    }
    walks.set(memory, f);
  }
  return f;
}

/**
 * The event walk on the wasm heap with the SIMD axpy: for every non-zero x[m, k] = v, add v·(row
 * `transposed ? m : k` of b) to row `transposed ? k : m` of out. b is w [K, N] (forward) or
 * dy [M, N] (transposed). Returns false when the SIMD axpy is unavailable.
 */
function eventWalkWasm(
  backend: WasmBackendLike,
  x: TensorInfoLike,
  b: TensorInfoLike,
  out: TensorInfoLike,
  M: number,
  K: number,
  N: number,
  transposed: boolean,
): boolean {
  const walk = walkFor(backend);
  const xOff = backend.dataIdMap.get(x.dataId)?.memoryOffset;
  const bOff = backend.dataIdMap.get(b.dataId)?.memoryOffset;
  const oOff = backend.dataIdMap.get(out.dataId)?.memoryOffset;
  if (walk === null || xOff === undefined || bOff === undefined || oOff === undefined) {
    return false;
  }
  (backend.typedArrayFromHeap(out) as Float32Array).fill(0);
  walk(xOff, bOff, oOff, M, K, N, transposed ? 1 : 0);
  return true;
}

interface CpuBackendLike {
  data: { get(dataId: object): { values: unknown } };
  makeTensorInfo(shape: number[], dtype: tf.DataType, values: tf.TypedArray): TensorInfoLike;
}
interface GenericBackendLike {
  readSync(dataId: object): unknown;
  makeTensorInfo(shape: number[], dtype: tf.DataType, values: tf.TypedArray): TensorInfoLike;
}

/** out[M, N] = x[M, K]·w[K, N], skipping zeros of x (out is zero-filled first). */
export function eventMatMulInto(
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  out: Float32Array,
  M: number,
  K: number,
  N: number,
): void {
  out.fill(0);
  for (let m = 0; m < M; m++) {
    const xo = m * K;
    const oo = m * N;
    for (let k = 0; k < K; k++) {
      const v = x[xo + k];
      if (v === 0) continue;
      const wo = k * N;
      for (let n = 0; n < N; n++) out[oo + n] += v * w[wo + n];
    }
  }
}

/** out[K, N] = x[M, K]ᵀ·dy[M, N], skipping zeros of x. */
export function eventMatMulTInto(
  x: ArrayLike<number>,
  dy: ArrayLike<number>,
  out: Float32Array,
  M: number,
  K: number,
  N: number,
): void {
  out.fill(0);
  for (let m = 0; m < M; m++) {
    const xo = m * K;
    const dyo = m * N;
    for (let k = 0; k < K; k++) {
      const v = x[xo + k];
      if (v === 0) continue;
      const oo = k * N;
      for (let n = 0; n < N; n++) out[oo + n] += v * dy[dyo + n];
    }
  }
}

type Into = typeof eventMatMulInto;

/** A kernel computing `into(a, b)` for inputs named (aName, bName); output shape from dims. */
function kernelFor(
  backendName: string,
  aName: string,
  bName: string,
  dims: (a: number[], b: number[]) => [number, number, number, number[]],
  into: Into,
): (args: KernelArgs) => TensorInfoLike {
  const transposed = into === eventMatMulTInto;
  return (args) => {
    const a = args.inputs[aName];
    const b = args.inputs[bName];
    const [M, K, N, outShape] = dims(a.shape, b.shape);
    if (backendName === 'wasm') {
      const backend = args.backend as WasmBackendLike;
      const out = backend.makeOutput(outShape, 'float32');
      if (eventWalkWasm(backend, a, b, out, M, K, N, transposed)) return out;
      const o = backend.typedArrayFromHeap(out) as Float32Array;
      into(backend.typedArrayFromHeap(a), backend.typedArrayFromHeap(b), o, M, K, N);
      return out;
    }
    const o = new Float32Array(outShape[0] * outShape[1]);
    if (backendName === 'cpu') {
      const backend = args.backend as CpuBackendLike;
      const av = backend.data.get(a.dataId).values as ArrayLike<number>;
      const bv = backend.data.get(b.dataId).values as ArrayLike<number>;
      into(av, bv, o, M, K, N);
      return backend.makeTensorInfo(outShape, 'float32', o);
    }
    const backend = args.backend as GenericBackendLike;
    into(
      backend.readSync(a.dataId) as ArrayLike<number>,
      backend.readSync(b.dataId) as ArrayLike<number>,
      o,
      M,
      K,
      N,
    );
    return backend.makeTensorInfo(outShape, 'float32', o);
  };
}

const forwardDims = (x: number[], w: number[]): [number, number, number, number[]] => [
  x[0],
  x[1],
  w[1],
  [x[0], w[1]],
];
// inputs x [M, K], dy [M, N] → [K, N]
const transposedDims = (x: number[], dy: number[]): [number, number, number, number[]] => [
  x[0],
  x[1],
  dy[1],
  [x[1], dy[1]],
];

const ready = new Set<string>();

function ensureKernels(): void {
  const backendName = tf.getBackend();
  if (ready.has(backendName)) return;
  if ((tf.getKernel(EVENT_MATMUL_KERNEL, backendName) as tf.KernelConfig | undefined) == null) {
    tf.registerKernel({
      kernelName: EVENT_MATMUL_KERNEL,
      backendName,
      kernelFunc: kernelFor(
        backendName,
        'x',
        'w',
        forwardDims,
        eventMatMulInto,
      ) as unknown as tf.KernelFunc,
    });
  }
  if ((tf.getKernel(EVENT_MATMUL_T_KERNEL, backendName) as tf.KernelConfig | undefined) == null) {
    tf.registerKernel({
      kernelName: EVENT_MATMUL_T_KERNEL,
      backendName,
      kernelFunc: kernelFor(
        backendName,
        'x',
        'dy',
        transposedDims,
        eventMatMulTInto,
      ) as unknown as tf.KernelFunc,
    });
  }
  if ((tf.getGradient(EVENT_MATMUL_KERNEL) as tf.GradConfig | undefined) == null) {
    tf.registerGradient({
      kernelName: EVENT_MATMUL_KERNEL,
      inputsToSave: ['x', 'w'],
      gradFunc: (dy, saved) => {
        const [x, w] = saved;
        const d = dy as tf.Tensor;
        if (isTapeOn()) {
          // recorded (higher order): differentiable dense ops
          return {
            x: () => tf.matMul(d, tf.transpose(w)),
            w: () => tf.matMul(tf.transpose(x), d),
          };
        }
        return {
          x: () =>
            tf.matMul(
              d,
              memoDuringBackward(w.dataId, 'T2', () => tf.transpose(w)),
            ),
          w: () => tf.engine().runKernel(EVENT_MATMUL_T_KERNEL, { x, dy: d }) as tf.Tensor,
        };
      },
    });
  }
  ready.add(backendName);
}

/** x·w for x [M, K] mostly zeros and w [K, N] (float32 2-D tensors); see the module comment. */
export function eventMatMul(x: tf.Tensor, w: tf.Tensor): tf.Tensor {
  if (x.rank !== 2 || w.rank !== 2 || x.shape[1] !== w.shape[0]) {
    throw new ArgumentError(
      `eventMatMul: expected x [M, K] and w [K, N], got [${x.shape.join(', ')}] and [${w.shape.join(', ')}]`,
    );
  }
  if (x.dtype !== 'float32' || w.dtype !== 'float32') {
    throw new ArgumentError(`eventMatMul: x and w must be float32, got ${x.dtype} and ${w.dtype}`);
  }
  ensureKernels();
  return tf.engine().runKernel(EVENT_MATMUL_KERNEL, { x, w }) as tf.Tensor;
}
