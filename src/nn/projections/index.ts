/** Projections (spec §5.7): align-post synapses with merging, delta and current projections. */
export {
  Projection,
  uniqueProjectionName,
  type Comm,
  type ProjectionModule,
  type ProjectionOptions,
} from './projection';
export { AlignPostProj, AlignPostHook, type AlignPostProjOptions } from './alignPost';
export {
  DeltaProj,
  CurrentProj,
  type DeltaProjOptions,
  type CurrentProjOptions,
} from './deltaProj';
