/** Connectivity: host-side CSR patterns and the rules that draw them (FixedProb, One2One, …). */
export { CSR, type CSRLike } from './CSR';
export { Connector, type ConnectorOptions } from './Connector';
export {
  FixedProb,
  One2One,
  All2All,
  FixedTotalNum,
  FixedPreNum,
  FixedPostNum,
  type FixedProbOptions,
  type FixedNumOptions,
  type SelfOptions,
} from './builders';
