/**
 * The nn layer: brain-dynamics modules — the Dynamics protocol, neurons, delays, synapses,
 * synaptic outputs, projections, connectivity and communication layers (dense, CSR, event-driven),
 * input generators — and the simulation Runner with monitors.
 */
export { Module, type Size } from '../graph';
export {
  Dynamics,
  receiveUpdateInput,
  notReceiveUpdateOutput,
  RECEIVE_UPDATE_INPUT,
  NOT_RECEIVE_UPDATE_OUTPUT,
  type Callable,
  type InputValue,
} from './dynamics';
export * from './neurons';
export * from './synapses';
export * from './synouts';
export * from './projections';
export * from './connectivity';
export * from './comm';
export * from './inputs';
export * from './runner';
export * from './readouts';
export * from './rnn';
export * from './layers';
export * as losses from './losses';
export * as init from '../init';
