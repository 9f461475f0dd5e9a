/** The compile layer: the recorded IR, its printer/DOT/dump/interpreter, StatefulFunction and jit. */
export {
  Program,
  Var,
  VarNames,
  type Equation,
  type Annotation,
  type Constant,
  type ProgramInput,
  type ProgramOutput,
  type InputSource,
  type OutputTarget,
  type HostRead,
} from './program';
export {
  startRecording,
  stopRecording,
  isRecording,
  annotate,
  flattenTensors,
  Recording,
  type RecordOptions,
  type HostReadPolicy,
} from './recorder';
export { evaluate, inputEnv, type EvaluateOptions } from './interpreter';
export { programToDot } from './dot';
export { dumpProgram, dumpFolder } from './dump';
export {
  StatefulFunction,
  ownResults,
  checkNoState,
  type StatefulOptions,
  type TraceEntry,
  type CacheStats,
} from './statefulFunction';
export { jit, makeIR, type Jitted } from './jit';
export {
  forLoop,
  scan,
  type LoopOptions,
  type LoopInput,
  type LoopSlice,
  type SliceOf,
  type Stacked,
} from './loops';
export { whileLoop, boundedWhileLoop, type BoundedWhileOptions } from './whileLoop';
export {
  cond,
  switchCase,
  switch_,
  ifElse,
  type BranchPredicate,
  type BranchIndex,
  type IfElseOptions,
} from './conditions';
export { checkpoint, remat, type Checkpointed, type CheckpointOptions } from './checkpoint';
export { jitErrorIf, type ErrorCondition } from './errorIf';
export {
  ProgressBar,
  ProgressRun,
  silentWriter,
  type ProgressBarOptions,
  type ProgressBarOption,
  type ProgressDescription,
  type ProgressInfo,
  type ProgressWriter,
} from './progress';
export {
  checkpointedScan,
  checkpointedForLoop,
  type CheckpointedLoopOptions,
} from './checkpointedLoops';
