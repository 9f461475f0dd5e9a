/**
 * The checkpoint file format, version 1. A file is
 *
 *   bytes 0–7    magic "BSTCKPT\n"
 *   bytes 8–11   format version (uint32, little-endian)
 *   bytes 12–15  header length H in bytes (uint32, little-endian)
 *   16 … 16+H    header: UTF-8 JSON (CheckpointHeader), padded with spaces to a multiple of 8
 *   then         data blob: the raw little-endian bytes of every leaf, each at an 8-aligned offset
 *
 * The header lists, per section ('model', 'optimizer'), one entry per state: its dotted key, its
 * class name, its value's tree structure, and per leaf the dtype, shape, and byte range in the
 * blob. Tensors are float32, int32 or bool (one byte per value); plain-number leaves (counters,
 * random keys) are float64. Raw bytes are copied, never converted, so a round trip is bit-exact.
 */
import { CheckpointError } from './errors';

/** The format version this code reads and writes. */
export const CHECKPOINT_VERSION = 1;
/** The first 8 bytes of every checkpoint. */
export const CHECKPOINT_MAGIC = 'BSTCKPT\n';
const PREFIX_BYTES = 16;
const ALIGN = 8;

/** A JSON value (the type of a checkpoint's `extra`). */
export type JsonValue =
  null | boolean | number | string | readonly JsonValue[] | { readonly [key: string]: JsonValue };

/** The dtype of a stored leaf: a tensor dtype, or 'number' for a plain JS number (float64). */
export type LeafDtype = 'float32' | 'int32' | 'bool' | 'number';

/** Where one leaf's bytes are, and what they are. */
export interface LeafRecord {
  readonly dtype: LeafDtype;
  readonly shape: readonly number[];
  /** Byte offset in the data blob. */
  readonly offset: number;
  readonly byteLength: number;
}

/** A state value's structure: a leaf index, or arrays / objects of those. */
export type TreeSkeleton =
  number | readonly TreeSkeleton[] | { readonly [key: string]: TreeSkeleton };

/** One state in the file. */
export interface EntryRecord {
  /** Dotted path of the state in its graph, e.g. 'layers.0.weight'. */
  readonly key: string;
  /** Class name of the state when saved (informational: minified bundles rename classes). */
  readonly class: string;
  readonly tree: TreeSkeleton;
  readonly leaves: readonly LeafRecord[];
}

/** The JSON header. */
export interface CheckpointHeader {
  readonly format: 'brainstate-ts checkpoint';
  readonly version: number;
  /** Entries per section: 'model', and 'optimizer' when one was saved. */
  readonly sections: { readonly [section: string]: readonly EntryRecord[] };
  /** User data saved with the checkpoint (epoch, metrics, config …). */
  readonly extra: JsonValue | null;
  /** Length of the data blob in bytes. */
  readonly dataBytes: number;
}

/** A leaf's bytes before writing (already little-endian). */
export interface LeafBytes {
  readonly dtype: LeafDtype;
  readonly shape: readonly number[];
  readonly bytes: Uint8Array;
}

/** A state before writing. */
export interface EntryBytes {
  readonly key: string;
  readonly className: string;
  readonly tree: TreeSkeleton;
  readonly leaves: readonly LeafBytes[];
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Bytes per element of a leaf dtype. */
export function elementBytes(dtype: LeafDtype): number {
  return dtype === 'number' ? 8 : dtype === 'bool' ? 1 : 4;
}

/** A copy of `bytes` in little-endian order (elements of `width` bytes); a plain copy on LE hosts. */
export function littleEndianCopy(bytes: Uint8Array, width: number): Uint8Array {
  const out = bytes.slice();
  if (!LITTLE_ENDIAN && width > 1) {
    for (let i = 0; i < out.length; i += width) out.subarray(i, i + width).reverse();
  }
  return out;
}

const align = (n: number): number => Math.ceil(n / ALIGN) * ALIGN;

/** Serialise sections of entries and the extra data into one checkpoint. */
export function encodeCheckpoint(
  sections: Readonly<Record<string, readonly EntryBytes[]>>,
  extra: JsonValue | null,
): Uint8Array {
  let dataBytes = 0;
  const blobs: [number, Uint8Array][] = [];
  const records: Record<string, EntryRecord[]> = {};
  for (const [name, entries] of Object.entries(sections)) {
    records[name] = entries.map((e) => ({
      key: e.key,
      class: e.className,
      tree: e.tree,
      leaves: e.leaves.map((leaf) => {
        const offset = dataBytes;
        blobs.push([offset, leaf.bytes]);
        dataBytes = align(offset + leaf.bytes.length);
        return { dtype: leaf.dtype, shape: [...leaf.shape], offset, byteLength: leaf.bytes.length };
      }),
    }));
  }
  const header: CheckpointHeader = {
    format: 'brainstate-ts checkpoint',
    version: CHECKPOINT_VERSION,
    sections: records,
    extra,
    dataBytes,
  };
  let json: string;
  try {
    json = JSON.stringify(header);
  } catch (e) {
    throw new CheckpointError(
      `saveCheckpoint: extra must be JSON data: ${(e as Error).message}`,
      'unsupported',
    );
  }
  const headerBytes = new TextEncoder().encode(json);
  const headerLength = align(headerBytes.length);
  const out = new Uint8Array(PREFIX_BYTES + headerLength + dataBytes);
  out.set(new TextEncoder().encode(CHECKPOINT_MAGIC), 0);
  const view = new DataView(out.buffer);
  view.setUint32(8, CHECKPOINT_VERSION, true);
  view.setUint32(12, headerLength, true);
  out.set(headerBytes, PREFIX_BYTES);
  out.fill(0x20, PREFIX_BYTES + headerBytes.length, PREFIX_BYTES + headerLength);
  const dataStart = PREFIX_BYTES + headerLength;
  for (const [offset, bytes] of blobs) out.set(bytes, dataStart + offset);
  return out;
}

/** A parsed checkpoint: the header and the data blob (a view of the input bytes). */
export interface ParsedCheckpoint {
  readonly header: CheckpointHeader;
  readonly data: Uint8Array;
}

function formatError(source: string, what: string): CheckpointError {
  return new CheckpointError(`${source} is not a brainstate-ts checkpoint: ${what}`, 'format');
}

/** Parse and validate the prefix, header and blob bounds of a checkpoint; `source` names it in errors. */
export function decodeCheckpoint(bytes: Uint8Array, source: string): ParsedCheckpoint {
  if (bytes.length < PREFIX_BYTES) {
    throw formatError(
      source,
      `only ${bytes.length} bytes (a checkpoint starts with ${PREFIX_BYTES})`,
    );
  }
  const magic = new TextDecoder().decode(bytes.subarray(0, 8));
  if (magic !== CHECKPOINT_MAGIC) {
    throw formatError(
      source,
      `it starts with ${JSON.stringify(magic)}, not ${JSON.stringify(CHECKPOINT_MAGIC)}`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(8, true);
  if (version !== CHECKPOINT_VERSION) {
    throw new CheckpointError(
      `${source} has checkpoint format version ${version}; this brainstate-ts reads version ${CHECKPOINT_VERSION}`,
      'version',
    );
  }
  const headerLength = view.getUint32(12, true);
  if (PREFIX_BYTES + headerLength > bytes.length) {
    throw formatError(source, `the header (${headerLength} bytes) runs past the end of the data`);
  }
  let header: CheckpointHeader;
  try {
    header = JSON.parse(
      new TextDecoder('utf-8', { fatal: true }).decode(
        bytes.subarray(PREFIX_BYTES, PREFIX_BYTES + headerLength),
      ),
    ) as CheckpointHeader;
  } catch (e) {
    throw formatError(source, `the header is not valid JSON (${(e as Error).message})`);
  }
  checkHeader(header, source, bytes.length - PREFIX_BYTES - headerLength);
  const data = bytes.subarray(
    PREFIX_BYTES + headerLength,
    PREFIX_BYTES + headerLength + header.dataBytes,
  );
  return { header, data };
}

const DTYPES: readonly string[] = ['float32', 'int32', 'bool', 'number'];

/** Check the header's shape enough that loading cannot read out of bounds or misinterpret it. */
function checkHeader(header: CheckpointHeader, source: string, available: number): void {
  const bad = (what: string): CheckpointError => formatError(source, `malformed header: ${what}`);
  if (
    header === null ||
    typeof header !== 'object' ||
    header.format !== 'brainstate-ts checkpoint'
  ) {
    throw bad(`format field is not 'brainstate-ts checkpoint'`);
  }
  if (header.version !== CHECKPOINT_VERSION) {
    throw new CheckpointError(
      `${source} has checkpoint format version ${String(header.version)}; this brainstate-ts reads version ${CHECKPOINT_VERSION}`,
      'version',
    );
  }
  if (
    !Number.isSafeInteger(header.dataBytes) ||
    header.dataBytes < 0 ||
    header.dataBytes > available
  ) {
    throw bad(
      `data length ${String(header.dataBytes)} does not fit the ${available} bytes after the header`,
    );
  }
  if (header.sections === null || typeof header.sections !== 'object') throw bad('no sections');
  for (const [name, entries] of Object.entries(header.sections)) {
    if (!Array.isArray(entries)) throw bad(`section '${name}' is not a list`);
    for (const e of entries as EntryRecord[]) {
      if (typeof e?.key !== 'string' || !Array.isArray(e.leaves))
        throw bad(`an entry of '${name}'`);
      if (!isSkeleton(e.tree, e.leaves.length)) throw bad(`the tree of '${e.key}' in '${name}'`);
      for (const leaf of e.leaves) {
        const shape: unknown = leaf?.shape;
        const dims = Array.isArray(shape) ? (shape as unknown[]) : null;
        const n = dims?.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)
          ? (dims as number[]).reduce((a, b) => a * b, 1)
          : NaN;
        if (
          leaf === null ||
          typeof leaf !== 'object' ||
          !DTYPES.includes(leaf.dtype) ||
          leaf.byteLength !== n * elementBytes(leaf.dtype) ||
          !Number.isSafeInteger(leaf.offset) ||
          leaf.offset < 0 ||
          leaf.offset + leaf.byteLength > header.dataBytes
        ) {
          throw bad(`leaf of '${e.key}' in '${name}' (${JSON.stringify(leaf)})`);
        }
      }
    }
  }
}

/** True if `tree` is arrays/objects of leaf indices using each of 0 … nLeaves−1 exactly once. */
function isSkeleton(tree: unknown, nLeaves: number): boolean {
  const seen = new Set<number>();
  const walk = (t: unknown): boolean => {
    if (typeof t === 'number') {
      if (!Number.isInteger(t) || t < 0 || t >= nLeaves || seen.has(t)) return false;
      seen.add(t);
      return true;
    }
    if (Array.isArray(t)) return t.every(walk);
    if (t === null || typeof t !== 'object') return false;
    return Object.values(t).every(walk);
  };
  return walk(tree) && seen.size === nLeaves;
}
