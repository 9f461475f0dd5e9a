/**
 * Nonzero scans of tensors in place (spike events of monitors during block execution): the
 * indices of the non-zero elements of a tensor, without reading it back through tfjs.
 *
 * `new NonzeroScanner(n)` owns an int32 buffer of n indices; `scan(t)` fills it with the indices
 * of t's non-zero elements (t.size ≤ n) and returns their count; `indices` is a view of the
 * buffer (read the first `count` before the next scan). wasm: the SIMD module of
 * heapScanSource.ts on tfjs's heap (zero runs skipped 16 bytes at a time); cpu and elsewhere: a
 * JS loop on the values. Both give the same indices: a float is non-zero when `x !== 0` (−0 is
 * zero, NaN is not).
 */
import { tf } from '../backend/tf';
import { ArgumentError } from '../errors';
import { heapModule } from '../backend/heapWasm';
import { SCAN_WASM_BASE64 } from './heapScanBinary';

interface ScanExports {
  nonzero(p: number, kind: number, n: number, out: number): number;
}
interface WasmBackendLike {
  wasm?: { asm?: { memory?: unknown } };
  dataIdMap: { get(dataId: object): { memoryOffset: number } | undefined };
  typedArrayFromHeap(t: { dataId: object; shape: number[]; dtype: tf.DataType }): tf.TypedArray;
}
interface CpuBackendLike {
  data: { get(dataId: object): { values: unknown } };
}

const scanModule = heapModule<ScanExports>(SCAN_WASM_BASE64);

function kindOf(dtype: tf.DataType): number {
  if (dtype === 'float32') return 0;
  if (dtype === 'bool') return 1;
  if (dtype === 'int32') return 2;
  throw new ArgumentError(`nonzero scan: unsupported dtype ${dtype}`);
}

/** Indices of non-zero elements, scanned in place (see the file header). */
export class NonzeroScanner {
  private readonly out: tf.Tensor | null;
  private readonly host: Int32Array | null;
  private readonly mod: ScanExports | null;
  private readonly backend: WasmBackendLike | null;

  constructor(readonly capacity: number) {
    if (!(Number.isInteger(capacity) && capacity >= 0)) {
      throw new ArgumentError(
        `NonzeroScanner: capacity must be a non-negative integer, got ${capacity}`,
      );
    }
    const b = tf.getBackend() === 'wasm' ? (tf.backend() as unknown as WasmBackendLike) : null;
    this.mod = b === null ? null : scanModule(b);
    this.backend = this.mod === null ? null : b;
    this.out = this.mod === null ? null : tf.zeros([Math.max(capacity, 1)], 'int32');
    this.host = this.mod === null ? new Int32Array(capacity) : null;
  }

  /** Which implementation runs: 'wasm' or 'js'. */
  get implementation(): 'wasm' | 'js' {
    return this.mod === null ? 'js' : 'wasm';
  }

  /** The index buffer (valid until the next scan or wasm heap growth). */
  get indices(): Int32Array {
    if (this.host !== null) return this.host;
    const v = this.view;
    // a heap growth detaches the old view (length 0): take a new one
    if (v !== null && v.length !== 0) return v;
    return (this.view = this.backend!.typedArrayFromHeap(this.out as never) as Int32Array);
  }
  private view: Int32Array | null = null;
  /** The last scanned tensor and its byte offset (a block scans the same buffers every step). */
  private last: { t: tf.Tensor; ptr: number } | null = null;
  private outPtr = -1;

  /** Scan t; returns the number of non-zero elements (their indices are in `indices`). */
  scan(t: tf.Tensor): number {
    if (t.size > this.capacity) {
      throw new ArgumentError(
        `NonzeroScanner: a tensor of ${t.size} elements does not fit the capacity ${this.capacity}`,
      );
    }
    const kind = kindOf(t.dtype);
    if (this.mod !== null) {
      const b = this.backend!;
      if (this.outPtr < 0) this.outPtr = b.dataIdMap.get(this.out!.dataId)?.memoryOffset ?? -1;
      let ptr = this.last !== null && this.last.t === t && !t.isDisposed ? this.last.ptr : -1;
      if (ptr < 0) {
        ptr = b.dataIdMap.get(t.dataId)?.memoryOffset ?? -1;
        if (ptr >= 0) this.last = { t, ptr };
      }
      if (ptr >= 0 && this.outPtr >= 0) return this.mod.nonzero(ptr, kind, t.size, this.outPtr);
    }
    const values =
      tf.getBackend() === 'cpu'
        ? ((tf.backend() as unknown as CpuBackendLike).data.get(t.dataId).values as tf.TypedArray)
        : tf.getBackend() === 'wasm'
          ? (tf.backend() as unknown as WasmBackendLike).typedArrayFromHeap(t as never)
          : (t.dataSync() as tf.TypedArray);
    const idx = this.host ?? this.indices;
    let c = 0;
    for (let i = 0; i < t.size; i++) if (values[i] !== 0) idx[c++] = i;
    return c;
  }

  dispose(): void {
    this.out?.dispose();
  }
}
