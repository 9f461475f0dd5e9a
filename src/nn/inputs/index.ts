/** Input generators (spec §5.12): Poisson spikes and inputs, DC current, piecewise-constant currents. */
export { PoissonSpike, PoissonEncoder, type PoissonOptions } from './poissonSpike';
export {
  PoissonInput,
  binomialCounts,
  resolveTarget,
  type PoissonInputOptions,
  type StateTarget,
} from './poissonInput';
export { DCGenerator, type DCGeneratorOptions } from './dcGenerator';
export { sectionInput, constantInput, type SectionValue, type SectionOptions } from './sections';
export { type Rate, type SpikeType } from './checks';
