/**
 * The optim layer (spec §8): optimizers over collections of States (`registerTrainableWeights`
 * / `update`, with their moments as LongTermStates so they can be saved), learning-rate
 * schedules, and gradient clipping by global norm.
 */
export {
  Optimizer,
  type OptimizerOptions,
  type NonFiniteMode,
  type StepScalars,
  type LeafUpdate,
  type SlotDict,
} from './optimizer';
export {
  SGD,
  Momentum,
  MomentumNesterov,
  Nesterov,
  type SGDOptions,
  type MomentumOptions,
} from './sgd';
export {
  Adagrad,
  RMSProp,
  Adadelta,
  type AdagradOptions,
  type RMSPropOptions,
  type AdadeltaOptions,
} from './adaptive';
export {
  Adam,
  AdamW,
  Adamax,
  type AdamOptions,
  type AdamWOptions,
  type AdamaxOptions,
} from './adam';
export { Lion, type LionOptions } from './lion';
export {
  LRScheduler,
  ConstantLR,
  type LearningRate,
  type CountBy,
  type SchedulerOptions,
  type ConstantLROptions,
} from './scheduler';
export {
  StepLR,
  MultiStepLR,
  ExponentialLR,
  CosineAnnealingLR,
  CosineAnnealingWarmRestarts,
  ExponentialDecayLR,
  InverseTimeDecayLR,
  PolynomialDecayLR,
  PiecewiseConstantLR,
  WarmupLR,
  type StepLROptions,
  type MultiStepLROptions,
  type ExponentialLROptions,
  type CosineAnnealingLROptions,
  type CosineAnnealingWarmRestartsOptions,
  type ExponentialDecayLROptions,
  type InverseTimeDecayLROptions,
  type PolynomialDecayLROptions,
  type PiecewiseConstantLROptions,
  type WarmupLROptions,
} from './schedules';
export { clipGradNorm, globalNorm, type GradientTree } from './clip';
export type { TrainableWeights, Gradients } from './keyed';
export { NonFiniteGradientError } from './errors';
