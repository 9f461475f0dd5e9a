/** The graph layer: Node/Module trees, paths, filters, states()/nodes(), split/merge/clone, collective init, pretty reprs. */
export { Node, classifyValue, isPytree, invisibleAttrsOf, type GraphValueKind } from './node';
export { Module, pipe, type InitStateOptions, type Size } from './module';
export { ParamDescriber, type ModuleClass } from './describer';
export { dottedPath, type Path, type PathKey } from './path';
export {
  GraphFilter,
  WithTag,
  OfType,
  PathContains,
  Any,
  All,
  Not,
  Everything,
  Nothing,
  toPredicate,
  toGraphFilter,
  type Filter,
  type FilterClass,
  type Predicate,
} from './filters';
export { iterLeaf, iterNode, type TraversalOptions } from './iter';
export { FlatDict } from './flatDict';
export { states, nodes, type FiltersAndOptions } from './states';
export { disposeNested, type Nested, type NestedStates } from './nested';
export { GraphDef } from './graphdef';
export {
  treefySplit,
  treefyMerge,
  treefyStates,
  graphdef,
  clone,
  updateStates,
  popStates,
  type StateMapping,
} from './split';
export {
  callAllFns,
  initAllStates,
  resetAllStates,
  assignStateValues,
  disposeAll,
  type CallAllOptions,
  type FnIfNotExist,
  type InitAllOptions,
  type StateValueDict,
} from './collective';
export { prettyRepr, treeSummary, reprExtras } from './repr';
