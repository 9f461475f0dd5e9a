/**
 * The two tfjs kernels of the surrogate layer, registered on import for every backend tfjs knows:
 *
 * - `BstSpike` (inputs {x}, attrs {surrogate, params}): the Heaviside step with H(0) = 1,
 *   float32 output, bit-identical to `cast(greaterEqual(x, 0), 'float32')` (−0 spikes, NaN does
 *   not). Its registered gradient saves x and returns dy·g(x), where g is the surrogate
 *   derivative of the surrogate named by the attrs (registry.ts), built from differentiable tf ops
 *   so that gradients of gradients work.
 * - `BstStopGradient` (inputs {x}): identity forward (shares x's buffer where the backend counts
 *   references, so values are exactly x's), zero gradient.
 *
 * Being registered kernels (not `tf.customGrad`), each call is one equation in a recorded
 * Program, with its attrs, and the IR interpreter replays it by name. Forward implementations
 * (research/tfjs.md §6.1): cpu reads the input's own TypedArray and adopts a new output array;
 * wasm allocates the output in the tfjs heap and loops over heap views (made after the
 * allocation, since heap growth detaches older views); any other backend (tensorflow, webgl,
 * webgpu) reads the input back with `readSync` and writes the output (correct, not fast).
 */
import { tf } from '../backend/tf';
import { ArgumentError } from '../errors';
import { resolveSurrogate } from './registry';

/** Kernel name of the spike function (Heaviside forward, surrogate gradient). */
export const SPIKE_KERNEL = 'BstSpike';
/** Kernel name of the stop-gradient identity. */
export const STOP_GRADIENT_KERNEL = 'BstStopGradient';

/** The attrs of a BstSpike call: which surrogate derivative the gradient uses. */
export interface SpikeAttrs {
  /** The surrogate's class name, e.g. 'ReluGrad'. */
  surrogate: string;
  /** Its parameters in declaration order, e.g. [alpha, width]. */
  params: number[];
}

// The parts of each backend the kernels use (the backends' own types live in deep paths).
interface TensorInfoLike {
  dataId: object;
  shape: number[];
  dtype: tf.DataType;
}
interface CpuBackendLike {
  data: { get(dataId: object): { values: unknown } };
  makeTensorInfo(shape: number[], dtype: tf.DataType, values: tf.TypedArray): TensorInfoLike;
  incRef(dataId: object): void;
}
interface WasmBackendLike {
  makeOutput(shape: number[], dtype: tf.DataType): TensorInfoLike;
  typedArrayFromHeap(t: TensorInfoLike): tf.TypedArray;
  incRef(dataId: object): void;
}
interface GenericBackendLike {
  readSync(dataId: object): unknown;
  makeTensorInfo?(shape: number[], dtype: tf.DataType, values: tf.TypedArray): TensorInfoLike;
  write?(values: tf.TypedArray, shape: number[], dtype: tf.DataType): object;
  incRef?(dataId: object): void;
}

interface KernelArgs {
  inputs: Record<string, TensorInfoLike | undefined>;
  backend: unknown;
}

function inputX(args: KernelArgs, kernel: string): TensorInfoLike {
  const x = args.inputs.x;
  if (x === undefined) throw new ArgumentError(`${kernel}: missing input 'x'`);
  return x;
}

function size(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** out[i] = x[i] >= 0 ? 1 : 0 (so −0 → 1 and NaN → 0, exactly like greaterEqual). */
function heavisideInto(x: ArrayLike<number>, out: Float32Array): void {
  for (let i = 0; i < out.length; i++) out[i] = x[i] >= 0 ? 1 : 0;
}

/** Wrap a new float32 array as an output on a backend without a zero-copy API. */
function genericOutput(
  backend: GenericBackendLike,
  shape: number[],
  dtype: tf.DataType,
  values: tf.TypedArray,
): TensorInfoLike {
  if (typeof backend.makeTensorInfo === 'function') {
    return backend.makeTensorInfo(shape, dtype, values);
  }
  if (typeof backend.write === 'function') {
    return { dataId: backend.write(values, shape, dtype), shape, dtype };
  }
  throw new ArgumentError(
    `surrogate kernels: the current backend can neither makeTensorInfo nor write`,
  );
}

const spikeCpu = (args: KernelArgs): TensorInfoLike => {
  const x = inputX(args, SPIKE_KERNEL);
  const backend = args.backend as CpuBackendLike;
  const out = new Float32Array(size(x.shape));
  heavisideInto(backend.data.get(x.dataId).values as ArrayLike<number>, out);
  return backend.makeTensorInfo(x.shape, 'float32', out);
};

const spikeWasm = (args: KernelArgs): TensorInfoLike => {
  const x = inputX(args, SPIKE_KERNEL);
  const backend = args.backend as WasmBackendLike;
  const out = backend.makeOutput(x.shape, 'float32');
  // Views after makeOutput: a malloc that grows the heap detaches views made before it.
  const outVals = backend.typedArrayFromHeap(out) as Float32Array;
  heavisideInto(backend.typedArrayFromHeap(x), outVals);
  return out;
};

const spikeGeneric = (args: KernelArgs): TensorInfoLike => {
  const x = inputX(args, SPIKE_KERNEL);
  const backend = args.backend as GenericBackendLike;
  const out = new Float32Array(size(x.shape));
  heavisideInto(backend.readSync(x.dataId) as ArrayLike<number>, out);
  return genericOutput(backend, x.shape, 'float32', out);
};

const stopGradientKernel = (args: KernelArgs): TensorInfoLike => {
  const x = inputX(args, STOP_GRADIENT_KERNEL);
  const backend = args.backend as GenericBackendLike;
  // Share the buffer, as Reshape does: the engine and backend count the extra reference.
  if (typeof backend.incRef === 'function') {
    backend.incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  }
  const values = (backend.readSync(x.dataId) as tf.TypedArray).slice();
  return genericOutput(backend, x.shape, x.dtype, values);
};

function spikeKernelFor(backendName: string): (args: KernelArgs) => TensorInfoLike {
  if (backendName === 'cpu') return spikeCpu;
  if (backendName === 'wasm') return spikeWasm;
  return spikeGeneric;
}

// tf.getKernel's declared type omits the "not registered" case.
function hasKernel(kernelName: string, backendName: string): boolean {
  return (tf.getKernel(kernelName, backendName) as tf.KernelConfig | undefined) !== undefined;
}

function registerGradients(): void {
  if ((tf.getGradient(SPIKE_KERNEL) as tf.GradConfig | undefined) === undefined) {
    tf.registerGradient({
      kernelName: SPIKE_KERNEL,
      inputsToSave: ['x'],
      gradFunc: (dy, saved, attrs) => {
        const { surrogate, params } = attrs as unknown as SpikeAttrs;
        const [x] = saved;
        return {
          x: () => tf.mul(dy as tf.Tensor, resolveSurrogate(surrogate, params).surrogateGrad(x)),
        };
      },
    });
  }
  if ((tf.getGradient(STOP_GRADIENT_KERNEL) as tf.GradConfig | undefined) === undefined) {
    tf.registerGradient({
      kernelName: STOP_GRADIENT_KERNEL,
      gradFunc: (dy) => ({ x: () => tf.zerosLike(dy as tf.Tensor) }),
    });
  }
}

/** Backends known to have both kernels (checked once each). */
const readyBackends = new Set<string>();

function registerFor(backendName: string): void {
  if (readyBackends.has(backendName)) return;
  if (!hasKernel(SPIKE_KERNEL, backendName)) {
    tf.registerKernel({
      kernelName: SPIKE_KERNEL,
      backendName,
      kernelFunc: spikeKernelFor(backendName) as unknown as tf.KernelFunc,
    });
  }
  if (!hasKernel(STOP_GRADIENT_KERNEL, backendName)) {
    tf.registerKernel({
      kernelName: STOP_GRADIENT_KERNEL,
      backendName,
      kernelFunc: stopGradientKernel as unknown as tf.KernelFunc,
    });
  }
  readyBackends.add(backendName);
}

/**
 * Register BstSpike and BstStopGradient (and their gradients) for every backend tfjs knows, plus
 * `backendName` if given. Runs on import; the spike and stop-gradient functions call it again
 * when the current backend was registered later (e.g. tfjs-node loaded by setPlatform).
 * Idempotent and cheap.
 */
export function ensureSurrogateKernels(backendName?: string): void {
  registerGradients();
  for (const name of tf.engine().backendNames()) registerFor(name);
  if (backendName !== undefined) registerFor(backendName);
}

function ensureCurrent(): void {
  const name = tf.getBackend();
  if (!readyBackends.has(name)) ensureSurrogateKernels(name);
}

function asTensor(x: tf.Tensor | tf.TensorLike): tf.Tensor {
  return x instanceof tf.Tensor ? x : tf.tensor(x as tf.TensorLike);
}

/**
 * Run BstSpike: the Heaviside step of `x` (float32, 1 where x ≥ 0) whose gradient is dy·g(x) for
 * the surrogate named `surrogate` with `params`. Non-float32 inputs are cast to float32 first.
 * Surrogate classes call this; use their `call(x)` rather than this directly.
 */
export function runSpike(
  x: tf.Tensor | tf.TensorLike,
  surrogate: string,
  params: readonly number[],
): tf.Tensor {
  ensureCurrent();
  const attrs = { surrogate, params: params.slice() } as unknown as tf.NamedAttrMap;
  if (x instanceof tf.Tensor && x.dtype === 'float32') {
    return tf.engine().runKernel(SPIKE_KERNEL, { x }, attrs) as tf.Tensor;
  }
  return tf.tidy(() => {
    const t = asTensor(x);
    const xf = t.dtype === 'float32' ? t : tf.cast(t, 'float32');
    return tf.engine().runKernel(SPIKE_KERNEL, { x: xf }, attrs) as tf.Tensor;
  });
}

/**
 * `x` unchanged in the forward pass (same values, same dtype; the buffer is shared on cpu and
 * wasm), but a constant for every gradient: d/dx of anything through it is zero. One
 * `BstStopGradient` equation in a recorded Program, which marks where gradient paths are cut.
 */
export function stopGradient<T extends tf.Tensor>(x: T | tf.TensorLike): T {
  ensureCurrent();
  if (x instanceof tf.Tensor) return tf.engine().runKernel(STOP_GRADIENT_KERNEL, { x }) as T;
  return tf.tidy(() => tf.engine().runKernel(STOP_GRADIENT_KERNEL, { x: asTensor(x) }) as T);
}

ensureSurrogateKernels();
