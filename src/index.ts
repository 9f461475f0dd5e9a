/**
 * brainstate-ts: brain dynamics simulation and spiking-network training on TensorFlow.js.
 * `import * as bst from 'brainstate-ts'` gives the layer namespaces (state, graph, environ,
 * random, init, compile, augment, surrogate, nn, viz, backend) and the most used names at top level. `tf` is the same tfjs engine the
 * framework uses; importing this module initialises the default platform (wasm in Node).
 */
export { tf } from './backend/tf';
export * as backend from './backend';
export * as state from './state';
export * as graph from './graph';
export * as environ from './environ';
export * as random from './random';
export * as init from './init';
export * as compile from './compile';
export * as augment from './augment';
export * as surrogate from './surrogate';
export * as nn from './nn';
export * as etrace from './etrace';
export * as viz from './viz';
export * as optim from './optim';
export * as losses from './nn/losses';
export * as data from './data';
export * as checkpoints from './checkpoint';
export * as errors from './errors';

export { setPlatform, getPlatform, availablePlatforms, type Platform } from './backend';
export {
  State,
  ShortTermState,
  LongTermState,
  ParamState,
  BatchState,
  HiddenState,
  HiddenGroupState,
  catchNewStates,
  stateDict,
  loadStateDict,
  updateStateDict,
  disposeStateDict,
} from './state';
export {
  Node,
  Module,
  states,
  nodes,
  initAllStates,
  resetAllStates,
  treefySplit,
  treefyMerge,
  clone,
  disposeAll,
} from './graph';
export { RandomState } from './random';
export {
  jit,
  makeIR,
  StatefulFunction,
  forLoop,
  scan,
  whileLoop,
  cond,
  switchCase,
  ifElse,
  checkpoint,
  jitErrorIf,
  ProgressBar,
} from './compile';
export { grad, valueAndGrad, vectorGrad, jacrev, jacfwd, hessian, vmap } from './augment';
export { stopGradient } from './surrogate';
export { Runner } from './nn';
export * from './errors';
