/**
 * Communication layers: dense `Linear`, sparse `SparseLinear` (= `CSRLinear`), and the
 * event-driven `EventCSRLinear` / `EventFixedProb`, plus the CSR kernels and ops they run on.
 */
export { Linear, type LinearOptions, type LinearParams } from './Linear';
export {
  SparseLinear,
  CSRLinear,
  type SparseLinearOptions,
  type SparseLinearParams,
} from './SparseLinear';
export {
  EventCSRLinear,
  EventFixedProb,
  type EventCSRLinearOptions,
  type EventFixedProbOptions,
} from './EventLinear';
export { CSRLayer, synapseWeight, type SynapseWeight } from './csrLayer';
export type { TensorInit } from './paramTensor';
export {
  csrMatMul,
  csrMatMulTranspose,
  ensureCSRKernels,
  setWasmCSRMode,
  csrKernelImplementation,
  CSR_EVENT_KERNEL,
  CSR_TRANSPOSE_KERNEL,
  CSR_WEIGHT_GRAD_KERNEL,
  type CSRTensors,
  type CSRMatMulOptions,
  type WasmCSRMode,
} from './csrKernels';
