/**
 * Online learning with eligibility traces (spec brainscale): etrace params and ops, the compiler
 * over the recorded IR, the D_RTRL / ES_D_RTRL / Hybrid learners, showGraph and its picture, and
 * etrace versions of the layers (`etrace.nn`).
 */
export type { ETraceOp, OpKind, ParamTree, TraceTree, GradMode } from './op';
export * from './ops';
export {
  ETraceParam,
  ElemWiseParam,
  NonTempParam,
  FakeETraceParam,
  FakeElemWiseParam,
  type ETraceParamOptions,
} from './params';
export {
  compileETraceGraph,
  graphText,
  graphView,
  pathTuple,
  type ETraceGraph,
  type HiddenGroup,
  type HiddenInfo,
  type HiddenParamOpRelation,
  type CompileOptions,
} from './compiler';
export {
  ETraceVjpAlgorithm,
  D_RTRL,
  ES_D_RTRL,
  HybridDimVjpAlgorithm,
  ParamDimVjpAlgorithm,
  IODimVjpAlgorithm,
  EligibilityTrace,
  SingleStepData,
  MultiStepData,
  hybridMode,
  type AlgorithmOptions,
  type DRTRLOptions,
  type ESDRTRLOptions,
  type HybridOptions,
  type DecayOptions,
  type VjpMethod,
} from './algorithms';
export {
  graphToDot,
  graphToSvg,
  graphPicture,
  type GraphView,
  type GraphPictureOptions,
} from './picture';
export { HiddenState, HiddenGroupState, HiddenTreeState } from '../state';
export * as nn from './nn';
