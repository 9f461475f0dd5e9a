/** The state layer: State and its kinds, the trace stack, new-state catching, snapshots, ownership. */
export { State, maybeState, type StateOptions } from './State';
export {
  ShortTermState,
  LongTermState,
  ParamState,
  BatchState,
  DelayState,
  NonBatchState,
  HiddenState,
  HiddenGroupState,
  HiddenTreeState,
  FakeState,
  type HiddenGroupOptions,
} from './kinds';
export { StateTraceStack, traceLevel, activeTraces, type TraceOptions } from './traceStack';
export { catchNewStates, NewStateCatcher, type CatchOptions } from './catchNewStates';
export {
  TreefyState,
  stateDict,
  updateStateDict,
  loadStateDict,
  disposeStateDict,
  type StateDict,
  type StateClass,
  type StateMetadata,
} from './snapshot';
export {
  acquire,
  release,
  ownerCount,
  deferDisposal,
  flushDisposals,
  pendingDisposals,
  disposalDeferred,
} from './ownership';
export * from './tree';
