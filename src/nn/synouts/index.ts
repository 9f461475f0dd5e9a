/** Synaptic outputs (spec §5.6): conductance → current for the post neurons. */
export { SynOut, UnboundConductanceError, type TensorOrNumber } from './synout';
export {
  COBA,
  CUBA,
  MgBlock,
  type COBAOptions,
  type CUBAOptions,
  type MgBlockOptions,
} from './outputs';
