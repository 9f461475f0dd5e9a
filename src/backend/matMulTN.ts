/**
 * `matMulTN(a, b)` = aᵀ·b for a [K, M] and b [K, N]: the weight gradient xᵀ·dy of a dense layer
 * (etrace's MatMulOp and LoraOp, the BatchMatMul gradient) without transposing a.
 *
 * On the wasm backend it is one registered kernel, `BstMatMulTN`, running the hand-written SIMD
 * module of gemmSource.ts on tfjs-wasm's own heap (the tensors' byte offsets; no copies).
 * Measured on this project's 2-core machine (K 64, M 356, N 256, the ES-D-RTRL weight gradient
 * of bench/online): 0.22 ms, 53 GFLOP/s, where `tf.matMul(tf.transpose(a), b)` takes 0.43–0.65 ms
 * (XNNPACK reaches 16–24 GFLOP/s there, plus the transpose). Each element is summed in k order, so
 * values equal a dense matMul up to float32 rounding of the sum order. Elsewhere (cpu, or a heap
 * the module cannot import) it is `tf.matMul(tf.transpose(a), b)`.
 *
 * Gradient (registered): da = b·dyᵀ, db = a·dy, as tf ops.
 */
// tfjs-core itself (not ./tf: gradients.ts, which ./tf loads, imports this module)
import * as tf from '@tensorflow/tfjs-core';
import { heapModule } from './heapWasm';
import { GEMM_WASM_BASE64 } from './gemmBinary';
import { ArgumentError } from '../errors';

export const MATMUL_TN_KERNEL = 'BstMatMulTN';

interface TensorInfoLike {
  dataId: object;
  shape: number[];
}
interface WasmBackendLike {
  makeOutput(shape: number[], dtype: tf.DataType): TensorInfoLike;
  dataIdMap: { get(dataId: object): { memoryOffset: number } | undefined };
  wasm?: { asm?: { memory?: unknown } };
}
interface GemmExports {
  gemm_tn(a: number, b: number, c: number, K: number, M: number, N: number): void;
}

const gemmModule = heapModule<GemmExports>(GEMM_WASM_BASE64);

let registered = false;

/** The module on the current backend's heap (registering the kernel once), or null. */
function gemmHere(): GemmExports | null {
  if (tf.getBackend() !== 'wasm') return null;
  const mod = gemmModule(tf.backend() as unknown as WasmBackendLike);
  if (mod === null) return null;
  if (!registered) {
    registered = true;
    if (tf.getKernel(MATMUL_TN_KERNEL, 'wasm') == null) {
      tf.registerKernel({
        kernelName: MATMUL_TN_KERNEL,
        backendName: 'wasm',
        kernelFunc: (({
          inputs,
          backend,
        }: {
          inputs: Record<string, TensorInfoLike>;
          backend: unknown;
        }) => {
          const be = backend as WasmBackendLike;
          const { a, b } = inputs;
          const [K, M] = a.shape;
          const N = b.shape[1];
          const out = be.makeOutput([M, N], 'float32');
          const off = (t: TensorInfoLike) => be.dataIdMap.get(t.dataId)!.memoryOffset;
          gemmModule(be)!.gemm_tn(off(a), off(b), off(out), K, M, N);
          return out;
        }) as unknown as tf.KernelFunc,
      });
    }
    if (tf.getGradient(MATMUL_TN_KERNEL) == null) {
      tf.registerGradient({
        kernelName: MATMUL_TN_KERNEL,
        inputsToSave: ['a', 'b'],
        gradFunc: (dy, saved) => {
          const [a, b] = saved;
          const d = dy as tf.Tensor;
          return {
            a: () => tf.matMul(b, tf.transpose(d)),
            b: () => tf.matMul(a, d),
          };
        },
      });
    }
  }
  return mod;
}

/** aᵀ·b for float32 a [K, M] and b [K, N]: a new [M, N] tensor (see the file comment). */
export function matMulTN(a: tf.Tensor, b: tf.Tensor): tf.Tensor2D {
  if (!(a instanceof tf.Tensor) || !(b instanceof tf.Tensor)) {
    throw new ArgumentError('matMulTN: a and b must be tensors');
  }
  if (a.rank !== 2 || b.rank !== 2 || a.shape[0] !== b.shape[0]) {
    throw new ArgumentError(
      `matMulTN: expected a [K, M] and b [K, N] with the same K, got [${a.shape}] and [${b.shape}]`,
    );
  }
  if (a.dtype !== 'float32' || b.dtype !== 'float32' || gemmHere() === null) {
    return tf.tidy(() => tf.matMul(tf.transpose(a), b)) as tf.Tensor2D;
  }
  return tf.engine().runKernel(MATMUL_TN_KERNEL, { a, b }) as tf.Tensor2D;
}
