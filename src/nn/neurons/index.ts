/**
 * Neuron models (spec §5.4) with the pieces they are built from: exponential-Euler integration
 * (spec §5.3) and delays / prefetch (spec §5.2). The lead's src/nn/index.ts re-exports these.
 */
export {
  Neuron,
  NEVER_SPIKED,
  type NeuronOptions,
  type SpikeReset,
  type SpikeFunction,
  type ParamValue,
  type StateInit,
  type ParamRule,
} from './base';
export {
  IF,
  LIF,
  LIFRef,
  ALIF,
  type IFOptions,
  type LIFOptions,
  type LIFRefOptions,
  type ALIFOptions,
} from './lif';
export { ExpIF, ExpLIF, AdExIF, type ExpIFOptions, type AdExIFOptions } from './exponential';
export { Izhikevich, type IzhikevichOptions } from './izhikevich';
export { GIF, type GIFOptions } from './gif';
export {
  expEulerStep,
  expEulerUpdate,
  exprel,
  exprelNumber,
  type DriftFunction,
} from '../expEuler';
export {
  Delay,
  StateWithDelay,
  DelayAccess,
  Prefetch,
  PrefetchDelayAt,
  OutputDelayAt,
  delayEntryName,
  timeToSteps,
  type DelayTime,
  type DelayOptions,
  type DelayInit,
  type TargetInfo,
  type InterpolationName,
  type InterpolationFunction,
} from '../delay';
