/**
 * Hand-written wasm modules that work in place on tfjs-wasm's heap (research/tfjs.md §6.1): the
 * module imports tfjs's own `WebAssembly.Memory` as `env.memory`, so its pointer arguments are
 * tensors' byte offsets (`dataIdMap.get(dataId).memoryOffset`) and it reads and writes tensors
 * without copies. `heapModule(base64)` gives a function that instantiates the module once per
 * heap (cached) and returns its exports, or null where it cannot run: not the wasm backend, a
 * shared (threaded) memory, which the unshared import does not accept, or a failed
 * instantiation. Callers then fall back to JS loops.
 */

/** The wasm backend's memory, as far as these modules need it. */
export interface HeapBackendLike {
  wasm?: { asm?: { memory?: unknown } };
}

function decodeBase64(text: string): Uint8Array<ArrayBuffer> {
  const bin = atob(text);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** The exports of the module (base64 of its binary) on a backend's heap, or null (see above). */
export function heapModule<E>(base64: string): (backend: HeapBackendLike) => E | null {
  let bytes: Uint8Array<ArrayBuffer> | null = null;
  const instances = new WeakMap<WebAssembly.Memory, E | null>();
  return (backend) => {
    const memory = backend.wasm?.asm?.memory;
    if (!(memory instanceof WebAssembly.Memory)) return null;
    const cached = instances.get(memory);
    if (cached !== undefined) return cached;
    let exports: E | null = null;
    const shared =
      typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
    if (!shared) {
      try {
        bytes ??= decodeBase64(base64);
        const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), {
          env: { memory },
        });
        exports = instance.exports as unknown as E;
      } catch {
        exports = null;
      }
    }
    instances.set(memory, exports);
    return exports;
  };
}
