/**
 * Fused kernels: compile a fusion group to a generated JS loop and a wasm SIMD module, register it
 * as a tfjs kernel, and run it, either through tfjs (allocating outputs) or in place on existing
 * tensors' buffers (no dispatch, no allocation).
 *
 * Backends:
 * - wasm: the module is instantiated on tfjs-wasm's own `WebAssembly.Memory`
 *   (`backend.wasm.asm.memory`, research/tfjs.md §6.1) and called with the tensors' byte offsets
 *   (`backend.dataIdMap.get(dataId).memoryOffset`): zero-copy. Where wasm SIMD is missing (or the
 *   memory is shared, a threaded build) the JS kernel runs on heap views instead.
 * - cpu: the JS kernel on the tensors' own arrays (`backend.data.get(dataId).values`).
 * - any other backend: the JS kernel on read-back copies (correct, not fast).
 *
 * Registered kernels (`BstFused_<hash of the code>`) take inputs `x0…xK` and return one tensor
 * per group output. They have no gradient: code that differentiates replays the original
 * equations under the tape instead.
 *
 * In place (`runFusedInPlace`, `bindFusedInPlace`): outputs are written into the buffers of the
 * given tensors. Aliasing rule: an output may share its buffer with an input only if both have the
 * same size and dtype (then every element is read before it is written: the generated code loads
 * all inputs at an index, or all size-1 inputs before the loop, before it stores anything there);
 * two outputs must not share a buffer. Writing in place changes every tensor that shares the
 * buffer (Identity, Reshape and clone share data on cpu and wasm): give it buffers nothing else
 * needs unchanged.
 */
import { tf } from '../../backend/tf';
import { ArgumentError, NotSupportedError } from '../../errors';
import { compileJs, jsSource, type JsKernel } from './jsgen';
import { lowerGroup, type Lowered } from './lower';
import { sizeOf } from './ops';
import type { FusionGroup } from './partition';
import { Code, T, encodeModule, Simd } from './wasmEncoder';
import { wasmModule, type WasmKernelCode } from './wasmgen';

/** Shape and dtype of one kernel input or output. */
export interface TensorSpec {
  readonly shape: readonly number[];
  readonly dtype: tf.DataType;
  readonly size: number;
}

/** A compiled fusion group. */
export interface FusedKernel {
  /** The tfjs kernel name `registerFused` uses: `BstFused_<hash>` (same code, same name). */
  readonly name: string;
  readonly group: FusionGroup;
  /** Elements of the loop. */
  readonly size: number;
  /** In `group.inputs` order. */
  readonly inputs: readonly TensorSpec[];
  /** In `group.outputs` order. */
  readonly outputs: readonly TensorSpec[];
  readonly lowered: Lowered;
  readonly jsSource: string;
  readonly js: JsKernel;
  readonly wasm: WasmKernelCode;
}

/** The exported function of a kernel's wasm module: input offsets, output offsets, count. */
export type WasmRun = (...offsetsAndCount: number[]) => void;

// ---- compile --------------------------------------------------------------------------------

interface Compiled {
  readonly name: string;
  readonly jsSource: string;
  readonly js: JsKernel;
  readonly wasm: WasmKernelCode;
}
const compiled = new Map<string, Compiled>();
const keyOfName = new Map<string, string>();
const byGroup = new WeakMap<FusionGroup, FusedKernel>();

/** cyrb53: a fast 53-bit string hash. */
function hash53(s: string): string {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < s.length; i++) {
    const ch = s.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return (4294967296 * (2097151 & h2) + (h1 >>> 0)).toString(16).padStart(14, '0');
}

function specOf(v: { shape: readonly number[]; dtype: tf.DataType }): TensorSpec {
  return { shape: v.shape.slice(), dtype: v.dtype, size: sizeOf(v.shape) };
}

/**
 * Generate the JS and wasm kernels of a group. Groups with the same lowered code (same ops,
 * types, sizes and inlined constants) and output shapes share the compiled code and the kernel
 * name; compiling the same group object again returns the same kernel.
 */
export function compileGroup(group: FusionGroup): FusedKernel {
  const known = byGroup.get(group);
  if (known) return known;
  const lowered = lowerGroup(group);
  // the code depends on sizes only; the registered kernel also fixes the output shapes
  const key = JSON.stringify([lowered, group.outputs.map((v) => v.shape)]);
  let c = compiled.get(key);
  if (c === undefined) {
    let name = `BstFused_${hash53(key)}`;
    for (let k = 1; keyOfName.has(name) && keyOfName.get(name) !== key; k++) {
      name = `BstFused_${hash53(key)}_${k}`;
    }
    const source = jsSource(lowered, name);
    c = { name, jsSource: source, js: compileJs(source), wasm: wasmModule(lowered) };
    compiled.set(key, c);
    keyOfName.set(name, key);
  }
  const kernel: FusedKernel = {
    name: c.name,
    group,
    size: lowered.size,
    inputs: group.inputs.map(specOf),
    outputs: group.outputs.map(specOf),
    lowered,
    jsSource: c.jsSource,
    js: c.js,
    wasm: c.wasm,
  };
  byGroup.set(group, kernel);
  return kernel;
}

// ---- wasm instantiation ---------------------------------------------------------------------

let simd: boolean | null = null;

/** True if this engine validates wasm SIMD (checked once with a tiny module). */
export function wasmSimdSupported(): boolean {
  if (simd !== null) return simd;
  try {
    const body = new Code().i32c(0).simd(Simd.i32x4_splat).set(0);
    const bytes = encodeModule({
      types: [{ params: [], results: [] }],
      funcImports: [],
      importMemory: false,
      func: { type: 0, locals: [T.v128], body },
      exportName: 'f',
    });
    simd = typeof WebAssembly === 'object' && WebAssembly.validate(bytes);
  } catch {
    simd = false;
  }
  return simd;
}

/** 'wasm': the wasm module where it can run (default); 'js': always the JS kernel (tests, benchmarks). */
export type FusionWasmMode = 'wasm' | 'js';
let mode: FusionWasmMode = 'wasm';

/** Choose how fused kernels run on the wasm backend; returns the previous mode. */
export function setFusionWasmMode(m: FusionWasmMode): FusionWasmMode {
  if (m !== 'wasm' && m !== 'js') {
    throw new ArgumentError(`setFusionWasmMode: mode must be 'wasm' or 'js', got ${String(m)}`);
  }
  const previous = mode;
  mode = m;
  return previous;
}

const instances = new WeakMap<WebAssembly.Memory, Map<string, WasmRun | null>>();

/**
 * The kernel's wasm function instantiated on `memory` (cached per memory), or null when wasm SIMD
 * is missing, the memory is shared, or instantiation fails. Pointers are byte offsets in `memory`.
 */
export function instantiateFused(kernel: FusedKernel, memory: WebAssembly.Memory): WasmRun | null {
  let perMemory = instances.get(memory);
  if (!perMemory) instances.set(memory, (perMemory = new Map()));
  const cached = perMemory.get(kernel.name);
  if (cached !== undefined) return cached;
  let run: WasmRun | null = null;
  const shared =
    typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
  if (wasmSimdSupported() && !shared) {
    try {
      const math: Record<string, (...x: number[]) => number> = {};
      for (const m of kernel.wasm.imports) math[m] = Math[m];
      const instance = new WebAssembly.Instance(new WebAssembly.Module(kernel.wasm.bytes), {
        env: { memory },
        Math: math,
      });
      run = instance.exports.run as WasmRun;
    } catch {
      run = null;
    }
  }
  perMemory.set(kernel.name, run);
  return run;
}

// ---- backend internals used (their own types live in deep paths) ---------------------------

interface TensorInfoLike {
  dataId: object;
  shape: number[];
  dtype: tf.DataType;
}
interface CpuBackendLike {
  data: { get(dataId: object): { values: unknown } };
  makeTensorInfo(shape: number[], dtype: tf.DataType, values: tf.TypedArray): TensorInfoLike;
}
interface WasmBackendLike {
  wasm?: { asm?: { memory?: unknown } };
  dataIdMap: { get(dataId: object): { memoryOffset: number } | undefined };
  makeOutput(shape: number[], dtype: tf.DataType): TensorInfoLike;
  typedArrayFromHeap(t: TensorInfoLike): tf.TypedArray;
}
interface GenericBackendLike {
  readSync(dataId: object): unknown;
  makeTensorInfo?(shape: number[], dtype: tf.DataType, values: tf.TypedArray): TensorInfoLike;
  write?(values: tf.TypedArray, shape: number[], dtype: tf.DataType): object;
}
interface KernelArgs {
  inputs: Record<string, TensorInfoLike>;
  backend: unknown;
}

function newArray(dtype: tf.DataType, n: number): tf.TypedArray {
  if (dtype === 'float32') return new Float32Array(n);
  if (dtype === 'int32') return new Int32Array(n);
  return new Uint8Array(n);
}

function arrayMatches(a: unknown, dtype: tf.DataType): boolean {
  if (dtype === 'float32') return a instanceof Float32Array;
  if (dtype === 'int32') return a instanceof Int32Array;
  return a instanceof Uint8Array;
}

function wasmRunOf(kernel: FusedKernel, backend: WasmBackendLike): WasmRun | null {
  if (mode !== 'wasm') return null;
  const memory = backend.wasm?.asm?.memory;
  if (!(memory instanceof WebAssembly.Memory)) return null;
  return instantiateFused(kernel, memory);
}

function offsetOf(backend: WasmBackendLike, t: { dataId: object }): number {
  const d = backend.dataIdMap.get(t.dataId);
  if (d === undefined)
    throw new ArgumentError('fused kernel: a tensor has no data on the wasm backend');
  return d.memoryOffset;
}

/** Which implementation a kernel uses on the current backend (for tests and reports). */
export function fusedImplementation(kernel: FusedKernel): string {
  const name = tf.getBackend();
  if (name === 'wasm') {
    return wasmRunOf(kernel, tf.backend() as unknown as WasmBackendLike) !== null
      ? kernel.wasm.vectorized
        ? 'wasm SIMD on the tfjs heap'
        : 'wasm (scalar loop) on the tfjs heap'
      : 'JS on wasm heap views';
  }
  if (name === 'cpu') return 'JS on cpu arrays';
  return `JS on read-back copies (${name})`;
}

// ---- registration ---------------------------------------------------------------------------

function kernelFuncFor(kernel: FusedKernel, backendName: string) {
  const n = kernel.size;
  const inputsOf = (args: KernelArgs): TensorInfoLike[] =>
    kernel.inputs.map((_, k) => args.inputs[`x${k}`]);
  if (backendName === 'wasm') {
    return (args: KernelArgs): TensorInfoLike[] => {
      const backend = args.backend as WasmBackendLike;
      const ins = inputsOf(args);
      const outs = kernel.outputs.map((o) => backend.makeOutput(o.shape.slice(), o.dtype));
      const run = wasmRunOf(kernel, backend);
      if (run !== null) {
        const ptrs = [...ins, ...outs].map((t) => offsetOf(backend, t));
        run(...ptrs, n);
      } else {
        // views after every makeOutput: heap growth detaches older views
        const outViews = outs.map((t) => backend.typedArrayFromHeap(t));
        kernel.js(
          ins.map((t) => backend.typedArrayFromHeap(t)),
          outViews,
          n,
        );
      }
      return outs;
    };
  }
  if (backendName === 'cpu') {
    return (args: KernelArgs): TensorInfoLike[] => {
      const backend = args.backend as CpuBackendLike;
      const ins = inputsOf(args).map((t) => backend.data.get(t.dataId).values as tf.TypedArray);
      const outs = kernel.outputs.map((o) => newArray(o.dtype, o.size));
      kernel.js(ins, outs, n);
      return outs.map((a, m) =>
        backend.makeTensorInfo(kernel.outputs[m].shape.slice(), kernel.outputs[m].dtype, a),
      );
    };
  }
  return (args: KernelArgs): TensorInfoLike[] => {
    const backend = args.backend as GenericBackendLike;
    const ins = inputsOf(args).map((t) => backend.readSync(t.dataId) as tf.TypedArray);
    const outs = kernel.outputs.map((o) => newArray(o.dtype, o.size));
    kernel.js(ins, outs, n);
    return outs.map((a, m) => {
      const { shape, dtype } = kernel.outputs[m];
      if (typeof backend.makeTensorInfo === 'function') {
        return backend.makeTensorInfo(shape.slice(), dtype, a);
      }
      if (typeof backend.write === 'function') {
        return { dataId: backend.write(a, shape.slice(), dtype), shape: shape.slice(), dtype };
      }
      throw new NotSupportedError(
        `fused kernel ${kernel.name}: backend ${tf.getBackend()} can neither makeTensorInfo nor write`,
      );
    });
  };
}

const registered = new Map<string, Set<string>>();

/**
 * Register the kernel with tfjs (name `kernel.name`) for every backend tfjs knows (wasm and cpu
 * zero-copy, others through read-back). Idempotent; no gradient is registered.
 */
export function registerFused(kernel: FusedKernel): void {
  let done = registered.get(kernel.name);
  if (!done) registered.set(kernel.name, (done = new Set()));
  else if (done.has(tf.getBackend())) return;
  for (const backendName of new Set([...tf.engine().backendNames(), tf.getBackend()])) {
    if (done.has(backendName)) continue;
    const existing = tf.getKernel(kernel.name, backendName) as tf.KernelConfig | undefined;
    if (existing === undefined) {
      tf.registerKernel({
        kernelName: kernel.name,
        backendName,
        kernelFunc: kernelFuncFor(kernel, backendName) as unknown as tf.KernelFunc,
      });
    }
    done.add(backendName);
  }
}

function checkInputs(kernel: FusedKernel, inputs: readonly tf.Tensor[], where: string): void {
  if (inputs.length !== kernel.inputs.length) {
    throw new ArgumentError(
      `${where}(${kernel.name}): expected ${kernel.inputs.length} inputs, got ${inputs.length}`,
    );
  }
  inputs.forEach((t, k) => checkTensor(t, kernel.inputs[k], `input ${k}`, kernel, where));
}

function checkTensor(
  t: tf.Tensor,
  spec: TensorSpec,
  what: string,
  kernel: FusedKernel,
  where: string,
): void {
  if (!(t instanceof tf.Tensor) || t.isDisposed) {
    throw new ArgumentError(`${where}(${kernel.name}): ${what} is not a live tensor`);
  }
  if (t.size !== spec.size || t.dtype !== spec.dtype) {
    throw new ArgumentError(
      `${where}(${kernel.name}): ${what} must be ${spec.dtype}[${spec.shape.join(',')}], ` +
        `got ${t.dtype}[${t.shape.join(',')}]`,
    );
  }
}

/**
 * Run a fused kernel through tfjs (registering it first if needed): new output tensors, in
 * `kernel.outputs` order. Recorded as one `BstFused_…` equation; not differentiable.
 */
export function runFused(kernel: FusedKernel, inputs: readonly tf.Tensor[]): tf.Tensor[] {
  checkInputs(kernel, inputs, 'runFused');
  registerFused(kernel);
  const named: Record<string, tf.Tensor> = {};
  inputs.forEach((t, k) => (named[`x${k}`] = t));
  const out = tf.engine().runKernel(kernel.name, named, {}) as tf.Tensor | tf.Tensor[];
  return Array.isArray(out) ? out : [out];
}

// ---- in place -------------------------------------------------------------------------------

function checkInPlace(
  kernel: FusedKernel,
  inputs: readonly tf.Tensor[],
  outputs: readonly tf.Tensor[],
  where: string,
): void {
  checkInputs(kernel, inputs, where);
  if (outputs.length !== kernel.outputs.length) {
    throw new ArgumentError(
      `${where}(${kernel.name}): expected ${kernel.outputs.length} outputs, got ${outputs.length}`,
    );
  }
  outputs.forEach((t, m) => checkTensor(t, kernel.outputs[m], `output ${m}`, kernel, where));
  const backend = tf.backend() as unknown as { refCount?(dataId: object): number };
  outputs.forEach((t, m) => {
    const refs = typeof backend.refCount === 'function' ? backend.refCount(t.dataId) : 1;
    if (refs > 1) {
      throw new ArgumentError(
        `${where}(${kernel.name}): output ${m}'s buffer is shared by ${refs} tensors (a clone, ` +
          `reshape or identity of it is alive); writing in place would change them all`,
      );
    }
    outputs.forEach((u, q) => {
      if (q > m && u.dataId === t.dataId) {
        throw new ArgumentError(`${where}(${kernel.name}): outputs ${m} and ${q} share a buffer`);
      }
    });
    inputs.forEach((u, k) => {
      if (u.dataId === t.dataId && (u.size !== t.size || u.dtype !== t.dtype)) {
        throw new ArgumentError(
          `${where}(${kernel.name}): output ${m} shares its buffer with input ${k} of another size or dtype`,
        );
      }
    });
  });
}

/**
 * A closure running the kernel in place on these tensors (checked once; offsets or arrays looked
 * up once). The tensors must stay alive while the closure is used.
 */
export function bindFusedInPlace(
  kernel: FusedKernel,
  inputs: readonly tf.Tensor[],
  outputsInto: readonly tf.Tensor[],
): () => void {
  checkInPlace(kernel, inputs, outputsInto, 'bindFusedInPlace');
  const n = kernel.size;
  const name = tf.getBackend();
  if (name === 'wasm') {
    const backend = tf.backend() as unknown as WasmBackendLike;
    const run = wasmRunOf(kernel, backend);
    if (run !== null) {
      const ptrs = [...inputs, ...outputsInto].map((t) => offsetOf(backend, t));
      return run.bind(null, ...ptrs, n);
    }
    // heap views can be detached by a later heap growth: take them on each call
    const view = (t: tf.Tensor) => backend.typedArrayFromHeap(t as unknown as TensorInfoLike);
    return () => kernel.js(inputs.map(view), outputsInto.map(view), n);
  }
  if (name === 'cpu') {
    const backend = tf.backend() as unknown as CpuBackendLike;
    const ins = inputs.map((t) => backend.data.get(t.dataId).values as tf.TypedArray);
    const outs = outputsInto.map((t, m) => {
      const values = backend.data.get(t.dataId).values;
      if (!arrayMatches(values, kernel.outputs[m].dtype)) {
        throw new NotSupportedError(
          `bindFusedInPlace(${kernel.name}): output ${m}'s cpu buffer is not a ${kernel.outputs[m].dtype} array ` +
            `(a tensor cast without copying); write into a tensor that owns its buffer`,
        );
      }
      return values as tf.TypedArray;
    });
    return () => kernel.js(ins, outs, n);
  }
  throw new NotSupportedError(
    `fused kernels run in place on the wasm and cpu backends only, not on ${name}; use runFused`,
  );
}

/**
 * Direct calls of a kernel's wasm function on the current wasm backend (jit replay without tfjs
 * dispatch): the function, the backend's buffer helpers and a reusable pointer array. Null when
 * the backend is not wasm or the wasm function cannot run (no SIMD, shared memory, 'js' mode).
 * The caller checks aliasing and sharing itself (see `runFusedInPlace` for the rule) and that
 * `tf.backend()` is still `backend`.
 */
export interface WasmDirect {
  readonly backend: object;
  readonly run: WasmRun;
  /** Byte offset of a live tensor's buffer in the wasm heap. */
  offset(t: tf.Tensor): number;
  /** Number of tensors sharing the buffer of `t` (clones, reshapes, identities). */
  refCount(t: tf.Tensor): number;
  /** A new tensor with an uninitialised buffer for output `m` (tracked like a kernel output). */
  alloc(m: number): tf.Tensor;
}

export function wasmDirect(kernel: FusedKernel): WasmDirect | null {
  if (tf.getBackend() !== 'wasm') return null;
  const backend = tf.backend() as unknown as WasmBackendLike & {
    refCount(dataId: object): number;
  };
  const run = wasmRunOf(kernel, backend);
  if (run === null || typeof backend.refCount !== 'function') return null;
  const engine = tf.engine() as unknown as {
    makeTensorFromTensorInfo(info: TensorInfoLike, backend?: unknown): tf.Tensor;
  };
  const specs = kernel.outputs;
  return {
    backend,
    run,
    offset: (t) => offsetOf(backend, t),
    refCount: (t) => backend.refCount(t.dataId),
    alloc: (m) => {
      const o = specs[m];
      return engine.makeTensorFromTensorInfo(backend.makeOutput(o.shape.slice(), o.dtype), backend);
    },
  };
}

/**
 * Run the kernel writing its outputs into the buffers of `outputsInto` (no tfjs dispatch, no
 * allocation). See the file header for the aliasing rule (e.g. a LIF step may write the new V
 * into the buffer of the old V it reads).
 */
export function runFusedInPlace(
  kernel: FusedKernel,
  inputs: readonly tf.Tensor[],
  outputsInto: readonly tf.Tensor[],
): void {
  if (tf.getBackend() === 'wasm') {
    checkInPlace(kernel, inputs, outputsInto, 'runFusedInPlace');
    const backend = tf.backend() as unknown as WasmBackendLike;
    const run = wasmRunOf(kernel, backend);
    if (run !== null) {
      const ptrs = [...inputs, ...outputsInto].map((t) => offsetOf(backend, t));
      run(...ptrs, kernel.size);
      return;
    }
  }
  bindFusedInPlace(kernel, inputs, outputsInto)();
}
