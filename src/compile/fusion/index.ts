/**
 * Fusion of element-wise kernels (issue 7, jit stage 2): partition a recorded Program into groups
 * of fusable equations, generate one kernel per group (a JS loop, and a wasm SIMD module emitted
 * directly as binary that works in place on tfjs-wasm's heap), register it with tfjs or run it in
 * place on existing tensors. See partition.ts, kernel.ts, jsgen.ts and wasmgen.ts.
 */
export { isFusable, broadcastsAsSuffix, FUSABLE_KERNELS, type Ty } from './ops';
export {
  partition,
  type FusionGroup,
  type FusionPlan,
  type FusionStep,
  type PartitionOptions,
} from './partition';
export {
  lowerGroup,
  type Lowered,
  type LValue,
  type LInput,
  type LOutput,
  type LOp,
} from './lower';
export { jsSource, type JsKernel } from './jsgen';
export { wasmModule, type WasmKernelCode } from './wasmgen';
export {
  compileGroup,
  registerFused,
  runFused,
  runFusedInPlace,
  bindFusedInPlace,
  instantiateFused,
  wasmSimdSupported,
  setFusionWasmMode,
  fusedImplementation,
  type FusedKernel,
  type TensorSpec,
  type WasmRun,
  type FusionWasmMode,
} from './kernel';
export { evaluatePlan } from './execute';
