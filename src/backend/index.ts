/** The backend layer: the shared tfjs engine, platform selection, and the corrected gradients. */
export { tf } from './tf';
export {
  PLATFORMS,
  isPlatform,
  setPlatform,
  getPlatform,
  defaultPlatform,
  availablePlatforms,
  detectNativeBackend,
  type Platform,
} from './platform';
export * from './gradients';
export { eventMatMul } from './eventMatMul';
export { matMulTN } from './matMulTN';
