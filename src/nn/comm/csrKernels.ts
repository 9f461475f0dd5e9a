/**
 * Three registered tfjs kernels for sparse and event-driven synaptic propagation on a CSR
 * connectivity (spec §6; research/tfjs.md §6), closed under differentiation:
 *
 * - `BstCSREvent` {x, indptr, indices, weight} attrs {nPost, asEvent} → y [..., nPost]:
 *   y[b, j] = Σ_i f(x[b, i]) · W_ij, looping only over the rows with x[b, i] ≠ 0, so the cost is
 *   O(#active · fan-out). f(s) = 1 for bool input or `asEvent` (any non-zero is a spike), s
 *   otherwise (then this is the plain sparse product x @ W).
 * - `BstCSRTranspose` {dy, indptr, indices, weight} → dx [..., nPre]: dx = dy @ Wᵀ.
 * - `BstCSRWeightGrad` {x, indptr, indices, dy} attrs {asEvent} → dw, shaped like the weight:
 *   dw[k] = Σ_b f(x[b, row(k)]) · dy[b, indices[k]], or the sum over k for a scalar weight.
 *
 * `weight` is a float32 scalar (every synapse has it: homogeneous) or one value per synapse.
 * Gradients (spec §6 rules; the gradient w.r.t. spikes is straight-through for events):
 * d/dx BstCSREvent = BstCSRTranspose(ct, w), d/dw = BstCSRWeightGrad(x, ct); the other two are
 * linear in each input, so their gradients are again these kernels, and gradients of gradients
 * work. Indices are not differentiable (zero gradients).
 *
 * Implementations: cpu runs the loops of csrLoops.ts on the tensors' own arrays; wasm runs the
 * module of csrWasmSource.ts in place on tfjs's heap (imported memory, pointer = memoryOffset),
 * or, if that module cannot be instantiated (e.g. a shared-memory threaded build), the same JS
 * loops on heap views; any other backend reads the inputs back (`readSync`) and writes a new
 * output. Results are bit-identical across all of them.
 */
import { tf } from '../../backend/tf';
import { ArgumentError, describeValue } from '../../errors';
import { csrEventInto, csrTransposeInto, csrWeightGradInto, type XArray } from './csrLoops';
import { heapModule } from '../../backend/heapWasm';
import { CSR_WASM_BASE64 } from './csrWasmBinary';
import { registerBlockKernel } from '../../compile/block';

/** Kernel names. */
export const CSR_EVENT_KERNEL = 'BstCSREvent';
export const CSR_TRANSPOSE_KERNEL = 'BstCSRTranspose';
export const CSR_WEIGHT_GRAD_KERNEL = 'BstCSRWeightGrad';

/** A connectivity on the backend: int32 row pointers [nPre + 1] and indices [nnz]. */
export interface CSRTensors {
  readonly nPre: number;
  readonly nPost: number;
  readonly indptr: tf.Tensor;
  readonly indices: tf.Tensor;
}

/** How the kernels run on the wasm backend. */
export type WasmCSRMode = 'module' | 'js';

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
  dataIdMap: { get(dataId: object): { memoryOffset: number } };
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
  attrs: Record<string, unknown>;
}

/** The exports of the wasm module (pointers are byte offsets in tfjs's heap). */
interface CSRWasmExports {
  csr_event(
    x: number,
    xBool: number,
    batch: number,
    nPre: number,
    indptr: number,
    indices: number,
    w: number,
    homo: number,
    out: number,
    nPost: number,
    asEvent: number,
  ): void;
  csr_transpose(
    dy: number,
    batch: number,
    nPre: number,
    indptr: number,
    indices: number,
    w: number,
    homo: number,
    out: number,
    nPost: number,
  ): void;
  csr_weight_grad(
    x: number,
    xBool: number,
    batch: number,
    nPre: number,
    indptr: number,
    indices: number,
    dy: number,
    nPost: number,
    out: number,
    homo: number,
    asEvent: number,
  ): void;
}

// ---- the wasm module ------------------------------------------------------------------------

let wasmMode: WasmCSRMode = 'module';
const csrModule = heapModule<CSRWasmExports>(CSR_WASM_BASE64);

/** The module instantiated on this backend's memory, or null (then the JS loops run). */
function wasmModuleOf(backend: WasmBackendLike): CSRWasmExports | null {
  return wasmMode === 'module' ? csrModule(backend) : null;
}

/**
 * Choose how the kernels run on the wasm backend: 'module' (default: the wasm module working in
 * place on tfjs's heap, falling back to 'js' if it cannot be instantiated) or 'js' (JS loops on
 * heap views; for comparison and tests). Returns the previous mode.
 */
export function setWasmCSRMode(mode: WasmCSRMode): WasmCSRMode {
  if (mode !== 'module' && mode !== 'js') {
    throw new ArgumentError(
      `setWasmCSRMode: mode must be 'module' or 'js', got ${describeValue(mode)}`,
    );
  }
  const previous = wasmMode;
  wasmMode = mode;
  return previous;
}

/** Which implementation the kernels use on the current backend, e.g. 'wasm module' or 'cpu JS loops'. */
export function csrKernelImplementation(): string {
  const name = tf.getBackend();
  if (name === 'wasm') {
    return wasmModuleOf(tf.backend() as unknown as WasmBackendLike) !== null
      ? 'wasm module on the tfjs heap'
      : 'JS loops on wasm heap views';
  }
  if (name === 'cpu') return 'JS loops on cpu arrays';
  return `JS loops on read-back copies (${name})`;
}

// ---- shapes ---------------------------------------------------------------------------------

function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Number of rows of a [..., n] array (the product of the leading dimensions). */
function leading(shape: readonly number[]): number {
  return sizeOf(shape.slice(0, -1));
}

function withLast(shape: readonly number[], last: number): number[] {
  return [...shape.slice(0, -1), last];
}

// ---- one kernel body per backend kind ------------------------------------------------------

/** Array access and output allocation of one backend kind. */
interface Access {
  /**
   * Allocate a zeroed float32 output: its values to write and `finish()` giving the tensor info.
   * Called before any input view is taken (wasm heap growth detaches older views).
   */
  output(shape: number[]): { values: Float32Array; finish: () => TensorInfoLike };
  /** The values of an input (a zero-copy view where the backend allows it). */
  values(t: TensorInfoLike): tf.TypedArray;
}

function cpuAccess(backend: CpuBackendLike): Access {
  return {
    output: (shape) => {
      const values = new Float32Array(sizeOf(shape));
      return { values, finish: () => backend.makeTensorInfo(shape, 'float32', values) };
    },
    values: (t) => backend.data.get(t.dataId).values as tf.TypedArray,
  };
}

function wasmViewAccess(backend: WasmBackendLike): Access {
  return {
    output: (shape) => {
      const info = backend.makeOutput(shape, 'float32');
      const values = backend.typedArrayFromHeap(info) as Float32Array;
      values.fill(0);
      return { values, finish: () => info };
    },
    values: (t) => backend.typedArrayFromHeap(t),
  };
}

function genericAccess(backend: GenericBackendLike): Access {
  return {
    output: (shape) => {
      const values = new Float32Array(sizeOf(shape));
      const finish = (): TensorInfoLike => {
        if (typeof backend.makeTensorInfo === 'function') {
          return backend.makeTensorInfo(shape, 'float32', values);
        }
        if (typeof backend.write === 'function') {
          return { dataId: backend.write(values, shape, 'float32'), shape, dtype: 'float32' };
        }
        throw new ArgumentError(
          'CSR kernels: the current backend can neither makeTensorInfo nor write',
        );
      };
      return { values, finish };
    },
    values: (t) => backend.readSync(t.dataId) as tf.TypedArray,
  };
}

function csrArrays(a: Access, indptr: TensorInfoLike, indices: TensorInfoLike, nPost: number) {
  return {
    indptr: a.values(indptr) as Int32Array,
    indices: a.values(indices) as Int32Array,
    nPre: indptr.shape[0] - 1,
    nPost,
  };
}

function eventWith(a: Access, { inputs, attrs }: KernelArgs): TensorInfoLike {
  const { x, indptr, indices, weight } = inputs;
  const nPost = attrs.nPost as number;
  const out = a.output(withLast(x.shape, nPost));
  csrEventInto(
    a.values(x) as XArray,
    leading(x.shape),
    csrArrays(a, indptr, indices, nPost),
    a.values(weight) as Float32Array,
    weight.shape.length === 0,
    attrs.asEvent === true,
    out.values,
  );
  return out.finish();
}

function transposeWith(a: Access, { inputs }: KernelArgs): TensorInfoLike {
  const { dy, indptr, indices, weight } = inputs;
  const out = a.output(withLast(dy.shape, indptr.shape[0] - 1));
  csrTransposeInto(
    a.values(dy) as Float32Array,
    leading(dy.shape),
    csrArrays(a, indptr, indices, dy.shape[dy.shape.length - 1]),
    a.values(weight) as Float32Array,
    weight.shape.length === 0,
    out.values,
  );
  return out.finish();
}

function weightGradWith(a: Access, { inputs, attrs }: KernelArgs): TensorInfoLike {
  const { x, indptr, indices, dy } = inputs;
  const homo = attrs.homogeneous === true;
  const out = a.output(homo ? [] : [indices.shape[0]]);
  csrWeightGradInto(
    a.values(x) as XArray,
    leading(x.shape),
    csrArrays(a, indptr, indices, dy.shape[dy.shape.length - 1]),
    a.values(dy) as Float32Array,
    homo,
    attrs.asEvent === true,
    out.values,
  );
  return out.finish();
}

// ---- wasm module bodies ---------------------------------------------------------------------

/** The arguments of the module's csr_event for these tensors (byte offsets in the heap). */
function csrEventArgs(
  backend: WasmBackendLike,
  t: Record<'x' | 'indptr' | 'indices' | 'weight', TensorInfoLike>,
  out: TensorInfoLike,
  nPost: number,
  asEvent: boolean,
): Parameters<CSRWasmExports['csr_event']> {
  const off = (u: TensorInfoLike) => backend.dataIdMap.get(u.dataId).memoryOffset;
  return [
    off(t.x),
    t.x.dtype === 'bool' ? 1 : 0,
    leading(t.x.shape),
    t.indptr.shape[0] - 1,
    off(t.indptr),
    off(t.indices),
    off(t.weight),
    t.weight.shape.length === 0 ? 1 : 0,
    off(out),
    nPost,
    asEvent ? 1 : 0,
  ];
}

function wasmEvent(args: KernelArgs): TensorInfoLike {
  const backend = args.backend as WasmBackendLike;
  const mod = wasmModuleOf(backend);
  if (mod === null) return eventWith(wasmViewAccess(backend), args);
  const { x, indptr, indices, weight } = args.inputs;
  const nPost = args.attrs.nPost as number;
  const out = backend.makeOutput(withLast(x.shape, nPost), 'float32');
  mod.csr_event(
    ...csrEventArgs(
      backend,
      { x, indptr, indices, weight },
      out,
      nPost,
      args.attrs.asEvent === true,
    ),
  );
  return out;
}

function wasmTranspose(args: KernelArgs): TensorInfoLike {
  const backend = args.backend as WasmBackendLike;
  const mod = wasmModuleOf(backend);
  if (mod === null) return transposeWith(wasmViewAccess(backend), args);
  const { dy, indptr, indices, weight } = args.inputs;
  const nPre = indptr.shape[0] - 1;
  const out = backend.makeOutput(withLast(dy.shape, nPre), 'float32');
  const off = (t: TensorInfoLike) => backend.dataIdMap.get(t.dataId).memoryOffset;
  mod.csr_transpose(
    off(dy),
    leading(dy.shape),
    nPre,
    off(indptr),
    off(indices),
    off(weight),
    weight.shape.length === 0 ? 1 : 0,
    off(out),
    dy.shape[dy.shape.length - 1],
  );
  return out;
}

function wasmWeightGrad(args: KernelArgs): TensorInfoLike {
  const backend = args.backend as WasmBackendLike;
  const mod = wasmModuleOf(backend);
  if (mod === null) return weightGradWith(wasmViewAccess(backend), args);
  const { x, indptr, indices, dy } = args.inputs;
  const homo = args.attrs.homogeneous === true;
  const out = backend.makeOutput(homo ? [] : [indices.shape[0]], 'float32');
  const off = (t: TensorInfoLike) => backend.dataIdMap.get(t.dataId).memoryOffset;
  mod.csr_weight_grad(
    off(x),
    x.dtype === 'bool' ? 1 : 0,
    leading(x.shape),
    indptr.shape[0] - 1,
    off(indptr),
    off(indices),
    off(dy),
    dy.shape[dy.shape.length - 1],
    off(out),
    homo ? 1 : 0,
    args.attrs.asEvent === true ? 1 : 0,
  );
  return out;
}

// ---- registration ---------------------------------------------------------------------------

type Body = (a: Access, args: KernelArgs) => TensorInfoLike;

function kernelFor(kernelName: string, backendName: string): (args: KernelArgs) => TensorInfoLike {
  const body: Body =
    kernelName === CSR_EVENT_KERNEL
      ? eventWith
      : kernelName === CSR_TRANSPOSE_KERNEL
        ? transposeWith
        : weightGradWith;
  if (backendName === 'wasm') {
    return kernelName === CSR_EVENT_KERNEL
      ? wasmEvent
      : kernelName === CSR_TRANSPOSE_KERNEL
        ? wasmTranspose
        : wasmWeightGrad;
  }
  if (backendName === 'cpu') return (args) => body(cpuAccess(args.backend as CpuBackendLike), args);
  return (args) => body(genericAccess(args.backend as GenericBackendLike), args);
}

const KERNELS = [CSR_EVENT_KERNEL, CSR_TRANSPOSE_KERNEL, CSR_WEIGHT_GRAD_KERNEL] as const;
const readyBackends = new Set<string>();

function hasKernel(kernelName: string, backendName: string): boolean {
  return (tf.getKernel(kernelName, backendName) as tf.KernelConfig | undefined) !== undefined;
}

function registerFor(backendName: string): void {
  if (readyBackends.has(backendName)) return;
  for (const kernelName of KERNELS) {
    if (!hasKernel(kernelName, backendName)) {
      tf.registerKernel({
        kernelName,
        backendName,
        kernelFunc: kernelFor(kernelName, backendName) as unknown as tf.KernelFunc,
      });
    }
  }
  readyBackends.add(backendName);
}

/** Zero gradients for the (non-differentiable) connectivity inputs. */
function noIndexGrads(indptr: tf.Tensor, indices: tf.Tensor) {
  return {
    indptr: () => tf.zeros(indptr.shape),
    indices: () => tf.zeros(indices.shape),
  };
}

function registerGradients(): void {
  const missing = (name: string) =>
    (tf.getGradient(name) as tf.GradConfig | undefined) === undefined;
  if (missing(CSR_EVENT_KERNEL)) {
    tf.registerGradient({
      kernelName: CSR_EVENT_KERNEL,
      inputsToSave: ['x', 'indptr', 'indices', 'weight'],
      gradFunc: (dy, saved, attrs) => {
        const [x, indptr, indices, weight] = saved;
        const ct = dy as tf.Tensor;
        const asEvent = attrs.asEvent === true;
        return {
          x: () => runTranspose(ct, indptr, indices, weight),
          weight: () => runWeightGrad(x, indptr, indices, ct, asEvent, weight.rank === 0),
          ...noIndexGrads(indptr, indices),
        };
      },
    });
  }
  if (missing(CSR_TRANSPOSE_KERNEL)) {
    tf.registerGradient({
      kernelName: CSR_TRANSPOSE_KERNEL,
      inputsToSave: ['dy', 'indptr', 'indices', 'weight'],
      gradFunc: (ct, saved) => {
        const [dy, indptr, indices, weight] = saved;
        const c = ct as tf.Tensor;
        return {
          dy: () => runEvent(c, indptr, indices, weight, dy.shape[dy.rank - 1], false),
          weight: () => runWeightGrad(c, indptr, indices, dy, false, weight.rank === 0),
          ...noIndexGrads(indptr, indices),
        };
      },
    });
  }
  if (missing(CSR_WEIGHT_GRAD_KERNEL)) {
    tf.registerGradient({
      kernelName: CSR_WEIGHT_GRAD_KERNEL,
      inputsToSave: ['x', 'indptr', 'indices', 'dy'],
      gradFunc: (ct, saved, attrs) => {
        const [x, indptr, indices, dy] = saved;
        const c = ct as tf.Tensor;
        return {
          x: () => runTranspose(dy, indptr, indices, c),
          dy: () => runEvent(x, indptr, indices, c, dy.shape[dy.rank - 1], attrs.asEvent === true),
          ...noIndexGrads(indptr, indices),
        };
      },
    });
  }
}

/**
 * Register the three kernels (and their gradients) for every backend tfjs knows, plus
 * `backendName` if given. Runs on import; the ops call it again for a backend registered later.
 */
export function ensureCSRKernels(backendName?: string): void {
  registerGradients();
  for (const name of tf.engine().backendNames()) registerFor(name);
  if (backendName !== undefined) registerFor(backendName);
}

function ensureCurrent(): void {
  const name = tf.getBackend();
  if (!readyBackends.has(name)) ensureCSRKernels(name);
}

// ---- block execution: BstCSREvent into a given buffer -----------------------------------------

/**
 * BstCSREvent writing into `out`'s own buffer with no dispatch or allocation (block.ts binds it
 * once per run of steps): the wasm module on tfjs's heap, or the JS loops on cpu arrays. Null
 * elsewhere (the block then dispatches the kernel and copies).
 */
function bindEventInto(
  inputs: Record<string, tf.Tensor>,
  attrs: Record<string, unknown>,
  outs: readonly tf.Tensor[],
): (() => void) | null {
  const { x, indptr, indices, weight } = inputs;
  const out = outs[0];
  const nPost = attrs.nPost as number;
  const asEvent = attrs.asEvent === true;
  const name = tf.getBackend();
  if (name === 'wasm') {
    const backend = tf.backend() as unknown as WasmBackendLike;
    const mod = wasmModuleOf(backend);
    if (mod === null) return null;
    const args = csrEventArgs(backend, { x, indptr, indices, weight }, out, nPost, asEvent);
    return () => mod.csr_event(...args);
  }
  if (name === 'cpu') {
    const backend = tf.backend() as unknown as CpuBackendLike;
    const a = cpuAccess(backend);
    const xs = a.values(x as unknown as TensorInfoLike) as XArray;
    const csr = csrArrays(
      a,
      indptr as unknown as TensorInfoLike,
      indices as unknown as TensorInfoLike,
      nPost,
    );
    const w = a.values(weight as unknown as TensorInfoLike) as Float32Array;
    const o = a.values(out as unknown as TensorInfoLike) as Float32Array;
    const rows = leading(x.shape);
    const homo = weight.shape.length === 0;
    return () => {
      o.fill(0);
      csrEventInto(xs, rows, csr, w, homo, asEvent, o);
    };
  }
  return null;
}
registerBlockKernel(CSR_EVENT_KERNEL, bindEventInto);

// ---- raw kernel calls (inputs already checked) ----------------------------------------------

function runEvent(
  x: tf.Tensor,
  indptr: tf.Tensor,
  indices: tf.Tensor,
  weight: tf.Tensor,
  nPost: number,
  asEvent: boolean,
): tf.Tensor {
  ensureCurrent();
  const attrs = { nPost, asEvent } as unknown as tf.NamedAttrMap;
  return tf
    .engine()
    .runKernel(CSR_EVENT_KERNEL, { x, indptr, indices, weight }, attrs) as tf.Tensor;
}

function runTranspose(
  dy: tf.Tensor,
  indptr: tf.Tensor,
  indices: tf.Tensor,
  weight: tf.Tensor,
): tf.Tensor {
  ensureCurrent();
  return tf.engine().runKernel(CSR_TRANSPOSE_KERNEL, { dy, indptr, indices, weight }) as tf.Tensor;
}

function runWeightGrad(
  x: tf.Tensor,
  indptr: tf.Tensor,
  indices: tf.Tensor,
  dy: tf.Tensor,
  asEvent: boolean,
  homogeneous: boolean,
): tf.Tensor {
  ensureCurrent();
  const attrs = { asEvent, homogeneous } as unknown as tf.NamedAttrMap;
  return tf
    .engine()
    .runKernel(CSR_WEIGHT_GRAD_KERNEL, { x, indptr, indices, dy }, attrs) as tf.Tensor;
}

// ---- the checked ops ------------------------------------------------------------------------

function checkConn(conn: CSRTensors, where: string): void {
  const { indptr, indices } = conn;
  if (
    indptr.dtype !== 'int32' ||
    indices.dtype !== 'int32' ||
    indptr.rank !== 1 ||
    indices.rank !== 1
  ) {
    throw new ArgumentError(`${where}: indptr and indices must be 1-D int32 tensors`);
  }
  if (indptr.size !== conn.nPre + 1) {
    throw new ArgumentError(
      `${where}: indptr has ${indptr.size} entries, expected nPre + 1 = ${conn.nPre + 1}`,
    );
  }
}

function checkWeight(weight: tf.Tensor, conn: CSRTensors, where: string): void {
  if (weight.dtype !== 'float32') {
    throw new ArgumentError(`${where}: the weight must be float32, got ${weight.dtype}`);
  }
  const nnz = conn.indices.size;
  if (!(weight.rank === 0 || (weight.rank === 1 && weight.size === nnz))) {
    throw new ArgumentError(
      `${where}: the weight must be a scalar or have one value per synapse [${nnz}], got shape [${weight.shape.join(', ')}]`,
    );
  }
}

function checkLast(x: tf.Tensor, n: number, what: string, where: string): void {
  if (x.rank === 0 || x.shape[x.rank - 1] !== n) {
    throw new ArgumentError(
      `${where}: ${what} must have shape [..., ${n}], got [${x.shape.join(', ')}]`,
    );
  }
}

/** Options of `csrMatMul`. */
export interface CSRMatMulOptions {
  /** Treat every non-zero input as a spike of 1 (default false: the value multiplies the weight). */
  asEvent?: boolean;
}

/**
 * y = f(x) @ W for a CSR connectivity with a scalar or per-synapse weight: x [..., nPre] (float32,
 * bool, or int32 which is cast) → y [..., nPost] float32. Only rows with x ≠ 0 are visited.
 * Differentiable w.r.t. x (straight-through when `asEvent`) and the weight.
 */
export function csrMatMul(
  x: tf.Tensor,
  conn: CSRTensors,
  weight: tf.Tensor,
  options: CSRMatMulOptions = {},
): tf.Tensor {
  const where = 'csrMatMul';
  checkConn(conn, where);
  checkWeight(weight, conn, where);
  checkLast(x, conn.nPre, 'the input', where);
  const asEvent = options.asEvent === true;
  if (x.dtype === 'float32' || x.dtype === 'bool') {
    return runEvent(x, conn.indptr, conn.indices, weight, conn.nPost, asEvent);
  }
  return tf.tidy(() =>
    runEvent(tf.cast(x, 'float32'), conn.indptr, conn.indices, weight, conn.nPost, asEvent),
  );
}

/** dx = dy @ Wᵀ: dy [..., nPost] float32 → dx [..., nPre] (the backward product). */
export function csrMatMulTranspose(dy: tf.Tensor, conn: CSRTensors, weight: tf.Tensor): tf.Tensor {
  const where = 'csrMatMulTranspose';
  checkConn(conn, where);
  checkWeight(weight, conn, where);
  checkLast(dy, conn.nPost, 'dy', where);
  if (dy.dtype !== 'float32')
    throw new ArgumentError(`${where}: dy must be float32, got ${dy.dtype}`);
  return runTranspose(dy, conn.indptr, conn.indices, weight);
}

ensureCSRKernels();
