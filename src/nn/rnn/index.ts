/**
 * Rate RNN cells (spec §5.10, brainscale §4): each a Dynamics with HiddenStates made by
 * `initState({ batchSize })` and an `update(x)` step. The lead's src/nn/index.ts re-exports these.
 */
export { RNNCell, type RNNCellOptions } from './cell';
export {
  ACTIVATIONS,
  resolveActivation,
  type Activation,
  type ActivationFunction,
  type ActivationName,
} from './activations';
export { ValinaRNNCell, VanillaRNNCell, type ValinaRNNCellOptions } from './vanilla';
export { GRUCell, MGUCell, type GatedCellOptions } from './gated';
export { LSTMCell, URLSTMCell, type LSTMCellOptions, type URLSTMCellOptions } from './lstm';
export {
  MinimalRNNCell,
  MiniGRUCell,
  MiniLSTMCell,
  type MinimalRNNPhi,
  type MinimalRNNCellOptions,
  type MiniCellOptions,
} from './minimal';
export { LRUCell, type LRUCellOptions } from './lru';
