/**
 * brainscale.nn (spec §4): etrace versions of the trainable layers, each holding its parameter in
 * an attribute `weight` (an ETraceParam by default; `paramType: 'nonTemp' | 'fake'` for the other
 * kinds) whose `execute(x)` the etrace compiler sees, plus the neuron, synapse, projection and
 * shape layers of src/nn that users combine them with.
 */
export {
  Linear,
  SignedWLinear,
  SparseLinear,
  LoRA,
  type LinearOptions,
  type LinearParams,
  type SignedWLinearOptions,
  type SparseLinearOptions,
  type LoRAOptions,
} from './linear';
export { Conv, Conv1d, Conv2d, type ConvOptions, type ConvParams } from './conv';
export {
  BatchNorm,
  BatchNorm0d,
  BatchNorm1d,
  BatchNorm2d,
  BatchNorm3d,
  LayerNorm,
  RMSNorm,
  GroupNorm,
  type BatchNormOptions,
  type LayerNormOptions,
  type RMSNormOptions,
  type GroupNormOptions,
  type NormParams,
} from './normalization';
export {
  LeakyRateReadout,
  LeakySpikeReadout,
  type LeakyRateReadoutOptions,
  type LeakySpikeReadoutOptions,
  type ReadoutParams,
} from './readouts';
export { GRUCell, MiniGRU, type GRUCellOptions, type ETraceRNNCellOptions } from './rnn';
export { type ParamType, type ETraceLayerOptions, type LayerParam } from './param';

// What etrace layers are combined with (unchanged from src/nn).
export { Module, type Size } from '../../graph';
export { Dynamics } from '../../nn/dynamics';
export {
  Neuron,
  IF,
  LIF,
  LIFRef,
  ALIF,
  ExpIF,
  ExpLIF,
  AdExIF,
  Izhikevich,
  GIF,
  type NeuronOptions,
  type IFOptions,
  type LIFOptions,
  type ALIFOptions,
} from '../../nn/neurons';
export { Expon, Alpha, DualExpon, AMPA, GABAa, STP, STD } from '../../nn/synapses';
export { CUBA, COBA, MgBlock } from '../../nn/synouts';
export { DeltaProj, CurrentProj, AlignPostProj } from '../../nn/projections';
export {
  MaxPool1d,
  MaxPool2d,
  AvgPool1d,
  AvgPool2d,
  Flatten,
  Dropout,
  DropoutFixed,
  Sequential,
  ReLU,
  Sigmoid,
  Tanh,
  SiLU,
  ELU,
  GELU,
  Softplus,
  LeakyReLU,
  Softmax,
  LogSoftmax,
} from '../../nn/layers';
