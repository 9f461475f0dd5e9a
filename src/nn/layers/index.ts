/**
 * ML layers (spec §5.9): sign-constrained and weight-standardised dense layers, channels-last
 * convolutions, normalisation, pooling, Flatten, Dropout, activations, and Sequential with
 * delayed initialisation. (Linear and SparseLinear live in ../comm.)
 */
export { ElementWiseBlock } from './base';
export {
  SignedWLinear,
  ScaledWSLinear,
  type SignedWLinearOptions,
  type ScaledWSLinearOptions,
} from './linear';
export { Conv, Conv1d, Conv2d, Conv3d, type ConvOptions, type ConvParams } from './conv';
export { convValid, type Padding } from './convOps';
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
export { Pool, MaxPool1d, MaxPool2d, AvgPool1d, AvgPool2d, type PoolOptions } from './pooling';
export { Flatten, type FlattenOptions } from './flatten';
export { Dropout, DropoutFixed, type DropoutOptions } from './dropout';
export {
  relu,
  sigmoid,
  tanh,
  silu,
  swish,
  elu,
  gelu,
  softplus,
  leakyRelu,
  softmax,
  logSoftmax,
  ActivationBlock,
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
  type ActivationOptions,
} from './activations';
export { Sequential, compose, type Layer, type SequentialItem } from './sequential';
