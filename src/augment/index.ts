/**
 * The augment layer: automatic differentiation over States and arguments (grad, valueAndGrad,
 * vectorGrad, jacrev/jacobian, jacfwd, hessian) and vectorised mapping (vmap) with in/out states.
 */
export {
  grad,
  valueAndGrad,
  vectorGrad,
  type ValueAndGradOptions,
  type GradDecorator,
} from './grad';
export { jacrev, jacobian, jacfwd } from './jacobian';
export { hessian, type HessianFunction } from './hessian';
export type { StateCollectionSpec } from './stateCollection';
export type {
  GradOptions,
  GradFunction,
  GradResult,
  GradCore,
  StateGrads,
  ArgGrads,
  TensorTree,
  Twice,
  ValueOf,
  AuxOf,
} from './types';
export { vmap, type VmapOptions, type Vmapped, type Axis } from './vmap';
export type { VmapStatesSpec } from './vmapStates';
