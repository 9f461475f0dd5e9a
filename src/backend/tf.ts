/**
 * The one tfjs engine shared by brainstate-ts and user code. Importing this module registers
 * tfjs's gradients, replaces the ones tfjs gets wrong or slow (gradients.ts), and selects the
 * default platform (wasm in Node, or `BRAINSTATE_PLATFORM`). Every layer imports `tf` from here.
 */
import * as tf from '@tensorflow/tfjs-core';
// The umbrella package registers tfjs's gradients (tfjs-core's own registration module is
// ESM-only with extensionless imports, which plain Node cannot load) and the browser backends.
import '@tensorflow/tfjs';
import { installGradients } from './gradients';
import { defaultPlatform, setPlatform } from './platform';

installGradients();
await setPlatform(defaultPlatform());

export { tf };
