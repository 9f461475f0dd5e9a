/**
 * Initializers (spec §9.3): objects with `call(shape, { rng? })` that make initial parameter and
 * state values, exported as callable classes (`init.Normal(-55, 2)` or `new init.Normal(-55, 2)`),
 * plus `param()` (resolve a user-given parameter to a value), fan rules and nonlinearity gains.
 */
export {
  type Initializer,
  type InitOptions,
  type InitFunction,
  type Shape,
  type CallableClass,
  isInitializer,
  callableClass,
} from './Initializer';
export { computeFans, type Fans } from './fans';
export { ZeroInit, Constant, Identity } from './constant';
export { Normal, Uniform, TruncatedNormal } from './distributions';
export {
  VarianceScaling,
  KaimingNormal,
  KaimingUniform,
  XavierNormal,
  XavierUniform,
  LecunNormal,
  LecunUniform,
  FAN_MODES,
  SCALING_DISTRIBUTIONS,
  type FanMode,
  type ScalingDistribution,
  type FanAxes,
} from './varianceScaling';
export { Orthogonal } from './orthogonal';
export { orthonormalColumns } from './qr';
export { calculateInitGain, NONLINEARITIES, type Nonlinearity } from './gain';
export { param, type ParamSpec, type ParamOptions, type NumberArray } from './param';
