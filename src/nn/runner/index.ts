/** The simulation Runner with monitors (spike events and value traces). */
export {
  Runner,
  type RunnerOptions,
  type RunnerInput,
  type RunnerInputValue,
  type MonitorEntry,
  type MonitorSpec,
  type MonitorFn,
  type MonitorOf,
  type Monitors,
} from './runner';
export { MonitorData, SpikeEvents, Trace, MAX_DENSE_RASTER } from './monitors';
