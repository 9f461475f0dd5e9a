/**
 * Platform (tfjs backend) selection. wasm is the default in Node (its .wasm ships in npm, no
 * download); cpu is the slow reference; 'tensorflow' uses @tensorflow/tfjs-node-gpu or
 * @tensorflow/tfjs-node when the user has installed one (optional, detected at run time, never
 * required); webgl/webgpu are for browsers. `BRAINSTATE_PLATFORM` picks the platform on import.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { PlatformError } from '../errors';

/** The platforms brainstate-ts can run on. */
export const PLATFORMS = ['wasm', 'cpu', 'tensorflow', 'webgl', 'webgpu'] as const;
export type Platform = (typeof PLATFORMS)[number];

const isNode = typeof process !== 'undefined' && process.versions?.node != null;

/** True if `name` is one of the platform names. */
export function isPlatform(name: unknown): name is Platform {
  return typeof name === 'string' && (PLATFORMS as readonly string[]).includes(name);
}

function checkPlatform(name: unknown, where: string): Platform {
  if (!isPlatform(name)) {
    throw new PlatformError(
      `${where}: unknown platform ${JSON.stringify(name)}; expected one of ${PLATFORMS.map((p) => `'${p}'`).join(', ')}`,
    );
  }
  return name;
}

/** The optional packages that provide the 'tensorflow' backend, most capable first. */
const NATIVE_PACKAGES = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'] as const;
let nativePackage: string | null | undefined;

// A variable specifier keeps bundlers and tsc from resolving optional packages at build time.
async function tryImport(specifier: string): Promise<boolean> {
  try {
    await import(/* @vite-ignore */ specifier);
    return true;
  } catch {
    return false;
  }
}

/** Load tfjs-node(-gpu) if installed; returns the package name or null. Cached. */
async function loadNative(): Promise<string | null> {
  if (nativePackage !== undefined) return nativePackage;
  nativePackage = null;
  if (isNode) {
    for (const pkg of NATIVE_PACKAGES) {
      if (await tryImport(pkg)) {
        nativePackage = pkg;
        break;
      }
    }
  }
  return nativePackage;
}

async function registerBrowserBackend(platform: 'webgl' | 'webgpu'): Promise<void> {
  if (tf.findBackendFactory(platform) != null) return;
  const pkg =
    platform === 'webgl' ? '@tensorflow/tfjs-backend-webgl' : '@tensorflow/tfjs-backend-webgpu';
  if (!(await tryImport(pkg))) {
    throw new PlatformError(
      `setPlatform('${platform}'): could not load ${pkg}; install it to use this platform`,
    );
  }
  if (tf.findBackendFactory(platform) == null) {
    throw new PlatformError(
      `setPlatform('${platform}'): ${pkg} loaded but registered no backend: ${platform} needs a browser with ${platform === 'webgl' ? 'WebGL' : 'WebGPU'}`,
    );
  }
}

/** Which platforms can be selected here (checked by loading, not initialising, the backend). */
export async function availablePlatforms(): Promise<Platform[]> {
  const out: Platform[] = ['wasm', 'cpu'];
  if ((await loadNative()) != null) out.push('tensorflow');
  if (!isNode) {
    if (typeof document !== 'undefined') out.push('webgl');
    if (typeof navigator !== 'undefined' && 'gpu' in navigator) out.push('webgpu');
  }
  return out;
}

/** The name of the installed native package behind 'tensorflow', or null if none is installed. */
export async function detectNativeBackend(): Promise<string | null> {
  return loadNative();
}

/**
 * Select the tfjs backend for all later computation. Tensors created on the previous backend
 * move lazily. Throws PlatformError for an unknown name or a backend that cannot start here.
 */
export async function setPlatform(platform: Platform): Promise<void> {
  const name = checkPlatform(platform, 'setPlatform');
  if (name === 'tensorflow') {
    if ((await loadNative()) == null) {
      throw new PlatformError(
        `setPlatform('tensorflow'): neither ${NATIVE_PACKAGES.join(' nor ')} is installed; ` +
          `install one (optional; it downloads libtensorflow) or use 'wasm'`,
      );
    }
  } else if (name === 'webgl' || name === 'webgpu') {
    await registerBrowserBackend(name);
  }
  let ok: boolean;
  const listenersBefore = processListeners();
  try {
    ok = await tf.setBackend(name);
  } catch (e) {
    throw new PlatformError(`setPlatform('${name}'): ${(e as Error).message}`);
  } finally {
    dropRethrowListeners(listenersBefore);
  }
  if (!ok)
    throw new PlatformError(
      `setPlatform('${name}'): the ${name} backend failed to initialise on this machine`,
    );
  await tf.ready();
  // The cpu backend prints an advert for tfjs-node on its first write in Node; the README and
  // availablePlatforms() already say how to get the native backend.
  const backend = tf.backend() as unknown as { firstUse?: boolean };
  if (name === 'cpu' && backend.firstUse === true) backend.firstUse = false;
}

type Listener = (...args: unknown[]) => void;
interface ListenerEmitter {
  listeners(event: string): Listener[];
  removeListener(event: string, listener: Listener): void;
}
const emitter = (): ListenerEmitter => process as unknown as ListenerEmitter;

function processListeners(): Map<string, Listener[]> | null {
  if (!isNode) return null;
  const out = new Map<string, Listener[]>();
  for (const ev of ['uncaughtException', 'unhandledRejection'] as const) {
    out.set(ev, emitter().listeners(ev));
  }
  return out;
}

/**
 * The wasm backend's emscripten runtime installs process listeners that only rethrow: any
 * uncaught error then prints a line of minified wasm glue instead of the error. Remove the
 * listeners a backend initialisation added, so Node reports errors normally.
 */
function dropRethrowListeners(before: Map<string, Listener[]> | null): void {
  if (before === null) return;
  for (const [ev, old] of before) {
    for (const l of emitter().listeners(ev)) {
      if (!old.includes(l)) emitter().removeListener(ev, l);
    }
  }
}

/** The platform in use now. */
export function getPlatform(): Platform {
  return checkPlatform(tf.getBackend(), 'getPlatform');
}

/** The platform chosen on import: `BRAINSTATE_PLATFORM` if set, else wasm. */
export function defaultPlatform(): Platform {
  const fromEnv = isNode ? process.env.BRAINSTATE_PLATFORM : undefined;
  if (fromEnv != null && fromEnv !== '') return checkPlatform(fromEnv, 'BRAINSTATE_PLATFORM');
  return 'wasm';
}
