/**
 * Readouts (spec §5.8): the leaky rate readout and the spiking readout that map a network's
 * activity to outputs. The lead's src/nn/index.ts re-exports these.
 */
export { LeakyRateReadout, type LeakyRateReadoutOptions } from './LeakyRateReadout';
export { LeakySpikeReadout, type LeakySpikeReadoutOptions } from './LeakySpikeReadout';
