/** Synapse models (spec §5.5): conductance dynamics and short-term plasticity, all Dynamics. */
export { Synapse, isAlignPostClass, DecayFactor, type SynapseInput } from './synapse';
export { Expon, type ExponOptions } from './expon';
export { Alpha, type AlphaOptions } from './alpha';
export { DualExpon, dualExponPeakFactor, type DualExponOptions } from './dualExpon';
export { AMPA, GABAa, type AMPAOptions } from './ampa';
export { STP, STD, type STPOptions, type STDOptions } from './stp';
