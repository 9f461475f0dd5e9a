/**
 * The surrogate layer: spike functions with a Heaviside forward pass (H(0) = 1) and a surrogate
 * derivative in the backward pass (spec §7), as the registered tfjs kernel `BstSpike`; and
 * `stopGradient`, the `BstStopGradient` kernel. Importing this module registers both kernels
 * (every backend) and their gradients.
 */
export { Surrogate, type ParamRule, type ParamSpec } from './base';
export {
  SPIKE_KERNEL,
  STOP_GRADIENT_KERNEL,
  ensureSurrogateKernels,
  runSpike,
  stopGradient,
  type SpikeAttrs,
} from './kernels';
export {
  registerSurrogate,
  resolveSurrogate,
  surrogateKey,
  type SurrogateFactory,
} from './registry';
export {
  BUILTIN_SURROGATES,
  Sigmoid,
  sigmoid,
  PiecewiseQuadratic,
  piecewiseQuadratic,
  PiecewiseExp,
  piecewiseExp,
  SoftSign,
  softSign,
  Arctan,
  arctan,
  NonzeroSignLog,
  nonzeroSignLog,
  ERF,
  erf,
  PiecewiseLeakyRelu,
  piecewiseLeakyRelu,
  SquarewaveFourierSeries,
  squarewaveFourierSeries,
  S2NN,
  s2nn,
  QPseudoSpike,
  qPseudoSpike,
  LeakyRelu,
  leakyRelu,
  LogTailedRelu,
  logTailedRelu,
  ReluGrad,
  reluGrad,
  GaussianGrad,
  gaussianGrad,
  MultiGaussianGrad,
  multiGaussianGrad,
  InvSquareGrad,
  invSquareGrad,
  SlayerGrad,
  slayerGrad,
} from './surrogates';
