/**
 * Save and load model and optimizer checkpoints. Every state of the model (`states(model)`,
 * keyed by dotted path) and of the optimizer (`states(optimizer)`, minus states the model
 * already has, such as the registered weights) goes into one checkpoint (format.ts): a JSON
 * header and the raw bytes of every leaf. Loading checks the whole file against the live states
 * first — same keys, same tree structure, dtypes and shapes — and only then writes, so a
 * mismatched file raises a CheckpointError naming the state and changes nothing.
 *
 *   await saveCheckpoint('out/rsnn.ckpt', { model: net, optimizer: opt, extra: { epoch } });
 *   const { extra } = await loadCheckpoint('out/rsnn.ckpt', { model: net, optimizer: opt });
 *
 * States with a batch axis (hidden states) are saved with their current shape, so load into a
 * model initialised with the same batch size, or save only the parameters (`filter: ParamState`).
 */
import { tf } from '../backend/tf';
import { states, type Filter } from '../graph';
import {
  disposeStateDict,
  isTensor,
  leaves,
  loadStateDict,
  ownerCount,
  stateDict,
  treeSignature,
  treeStructure,
  type Leaf,
  type State,
  type StateValue,
} from '../state';
import { CheckpointError } from './errors';
import {
  decodeCheckpoint,
  elementBytes,
  encodeCheckpoint,
  littleEndianCopy,
  type CheckpointHeader,
  type EntryBytes,
  type EntryRecord,
  type JsonValue,
  type LeafBytes,
  type LeafRecord,
  type TreeSkeleton,
} from './format';

/** What a checkpoint holds. */
export interface CheckpointTarget {
  /** The model: any module graph (a Module, or objects/arrays of modules and states). */
  model: object;
  /** The optimizer, a graph Node whose states (moments, step count …) are saved too. */
  optimizer?: object;
  /** Save/load only the model states matching this filter (e.g. ParamState); default all. */
  filter?: Filter;
}

/** Options of saveCheckpoint / toBytes. */
export interface SaveCheckpointOptions extends CheckpointTarget {
  /** JSON data stored with the checkpoint (epoch, metrics, config …), returned by load. */
  extra?: JsonValue;
}

/** What loading returns. */
export interface LoadedCheckpoint {
  /** The `extra` data saved with the checkpoint (null if none). */
  readonly extra: JsonValue | null;
  /** The file's header (keys, classes, dtypes, shapes). */
  readonly header: CheckpointHeader;
}

type Section = 'model' | 'optimizer';
type StateEntries = [string, State<StateValue>][];

/** The states of each section, keyed by dotted path; optimizer states the model owns are left out. */
function sectionStates(target: CheckpointTarget): Partial<Record<Section, StateEntries>> {
  const model = (
    target.filter === undefined ? states(target.model) : states(target.model, target.filter)
  ).entries();
  const out: Partial<Record<Section, StateEntries>> = { model };
  if (target.optimizer !== undefined) {
    const owned = new Set(states(target.model).values());
    out.optimizer = states(target.optimizer)
      .entries()
      .filter(([, s]) => !owned.has(s));
  }
  return out;
}

// ---------------------------------------------------------------------------------- saving

/** The structure of a value with each leaf replaced by its index in `leaves(value)`. */
function skeletonOf(value: StateValue): TreeSkeleton {
  let next = 0;
  const walk = (v: StateValue): TreeSkeleton => {
    if (isTensor(v) || typeof v === 'number') return next++;
    if (Array.isArray(v)) return v.map(walk);
    const o = v as Record<string, StateValue>;
    return Object.fromEntries(Object.keys(o).map((k) => [k, walk(o[k])]));
  };
  return walk(value);
}

async function leafBytes(leaf: Leaf, key: string): Promise<LeafBytes> {
  if (typeof leaf === 'number') {
    const bytes = new Uint8Array(8);
    new DataView(bytes.buffer).setFloat64(0, leaf, true);
    return { dtype: 'number', shape: [], bytes };
  }
  const dtype = leaf.dtype;
  if (dtype !== 'float32' && dtype !== 'int32' && dtype !== 'bool') {
    throw new CheckpointError(
      `saveCheckpoint: state '${key}' holds a ${dtype} tensor; checkpoints store float32, int32 and bool`,
      'unsupported',
      key,
    );
  }
  const data = await leaf.data();
  // Backends return Float32Array / Int32Array / Uint8Array for these dtypes; convert if one does not.
  const Typed = dtype === 'float32' ? Float32Array : dtype === 'int32' ? Int32Array : Uint8Array;
  const values = data instanceof Typed ? data : Typed.from(data as ArrayLike<number>);
  const raw = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  return { dtype, shape: leaf.shape, bytes: littleEndianCopy(raw, elementBytes(dtype)) };
}

/** Serialise the states of a model (and optimizer) into checkpoint bytes (works in browsers too). */
export async function toBytes(options: SaveCheckpointOptions): Promise<Uint8Array> {
  const sections = sectionStates(options);
  const encoded: Record<string, EntryBytes[]> = {};
  for (const [name, entries] of Object.entries(sections) as [Section, StateEntries][]) {
    // A snapshot co-owns the tensors, so a write to a state while we await cannot free them.
    const snapshot = stateDict(entries);
    try {
      encoded[name] = [];
      for (const [key, s] of entries) {
        const value = snapshot[key];
        encoded[name].push({
          key,
          className: s.constructor.name,
          tree: skeletonOf(value),
          leaves: await Promise.all(leaves(value).map((leaf) => leafBytes(leaf, key))),
        });
      }
    } finally {
      disposeStateDict(snapshot);
    }
  }
  return encodeCheckpoint(encoded, options.extra ?? null);
}

/** Write a checkpoint file (Node): the states of the model, of the optimizer if given, and `extra`. */
export async function saveCheckpoint(file: string, options: SaveCheckpointOptions): Promise<void> {
  const bytes = await toBytes(options);
  const fs = await import('node:fs/promises');
  const path = await import('node:path');
  await fs.mkdir(path.dirname(path.resolve(file)), { recursive: true });
  // Write then rename, so an interrupted save never leaves a truncated checkpoint behind.
  const tmp = `${file}.${process.pid}.tmp`;
  await fs.writeFile(tmp, bytes);
  await fs.rename(tmp, file);
}

// ---------------------------------------------------------------------------------- loading

/** `float32[3,4]`, or `number`: the same notation as the state layer's signatures. */
function leafSignature(rec: LeafRecord): string {
  return rec.dtype === 'number' ? 'number' : `${rec.dtype}[${rec.shape.join(',')}]`;
}

/** The file entry's structure and signature strings, in the notation of treeStructure/treeSignature. */
function describeEntry(e: EntryRecord): { structure: string; signature: string; paths: string[] } {
  const paths: string[] = [];
  const walk = (t: TreeSkeleton, path: string, sig: boolean): string => {
    if (typeof t === 'number') {
      const rec = e.leaves[t];
      if (!sig) paths.push(path);
      return sig ? leafSignature(rec) : rec.dtype === 'number' ? 'n' : 'T';
    }
    if (Array.isArray(t)) {
      const items = t.map((c, i) => walk(c, `${path}[${i}]`, sig));
      return sig ? `[${items.join(', ')}]` : `[${items.join(',')}]`;
    }
    const o = t as Record<string, TreeSkeleton>;
    const items = Object.keys(o).map(
      (k) => `${k}${sig ? ': ' : ':'}${walk(o[k], `${path}.${k}`, sig)}`,
    );
    return sig ? `{${items.join(', ')}}` : `{${items.join(',')}}`;
  };
  const structure = walk(e.tree, '', false);
  return { structure, signature: walk(e.tree, '', true), paths };
}

const quoteList = (keys: readonly string[], max = 8): string =>
  keys
    .slice(0, max)
    .map((k) => `'${k}'`)
    .join(', ') + (keys.length > max ? `, … (${keys.length} in all)` : '');

/** Check one section of the file against the live states; throws on the first difference. */
function checkSection(
  section: Section,
  records: readonly EntryRecord[],
  live: StateEntries,
  where: string,
): void {
  const fileKeys = new Map(records.map((r) => [r.key, r]));
  const liveKeys = new Set(live.map(([k]) => k));
  const owner = section === 'model' ? 'the model' : 'the optimizer';
  const missing = live.map(([k]) => k).filter((k) => !fileKeys.has(k));
  if (missing.length) {
    throw new CheckpointError(
      `${where}: ${owner} has state(s) the checkpoint does not: ${quoteList(missing)}`,
      'missing-key',
      missing[0],
    );
  }
  const extra = records.map((r) => r.key).filter((k) => !liveKeys.has(k));
  if (extra.length) {
    throw new CheckpointError(
      `${where}: the checkpoint has ${section} state(s) that ${owner} does not: ${quoteList(extra)}`,
      'extra-key',
      extra[0],
    );
  }
  for (const [key, s] of live) {
    const rec = fileKeys.get(key)!;
    const value = s.rawValue;
    const file = describeEntry(rec);
    const at = `${where}: ${section} state '${key}'`;
    if (file.structure !== treeStructure(value)) {
      throw new CheckpointError(
        `${at}: structure mismatch: the checkpoint has ${file.signature}, ${owner} has ${treeSignature(value)}`,
        'mismatch',
        key,
      );
    }
    const order = skeletonLeafOrder(rec.tree);
    leaves(value).forEach((leaf, i) => {
      const r = rec.leaves[order[i]];
      const liveSig = isTensor(leaf) ? `${leaf.dtype}[${leaf.shape.join(',')}]` : 'number';
      if (leafSignature(r) === liveSig) return;
      const shapeDiffers = !isTensor(leaf) || !sameShape(r.shape, leaf.shape);
      const dtypeDiffers = !isTensor(leaf) || r.dtype !== leaf.dtype;
      const what =
        shapeDiffers && dtypeDiffers ? 'shape and dtype' : shapeDiffers ? 'shape' : 'dtype';
      const leafPath = file.paths[i] ? ` (leaf ${file.paths[i]})` : '';
      throw new CheckpointError(
        `${at}${leafPath}: ${what} mismatch: the checkpoint has ${leafSignature(r)}, ${owner} has ${liveSig}`,
        'mismatch',
        key,
      );
    });
  }
}

const sameShape = (a: readonly number[], b: readonly number[]): boolean =>
  a.length === b.length && a.every((d, i) => d === b[i]);

/** The leaf indices of a skeleton in traversal order (the order of `leaves(value)`). */
function skeletonLeafOrder(t: TreeSkeleton): number[] {
  if (typeof t === 'number') return [t];
  if (Array.isArray(t)) return t.flatMap(skeletonLeafOrder);
  const o = t as Record<string, TreeSkeleton>;
  return Object.keys(o).flatMap((k) => skeletonLeafOrder(o[k]));
}

/** A leaf's value from the blob, as a new tensor or a number (bytes copied, never converted). */
function leafValue(data: Uint8Array, rec: LeafRecord): Leaf {
  const width = elementBytes(rec.dtype);
  // A fresh, aligned copy in host byte order (file bytes may sit at any offset of a Node Buffer).
  const bytes = littleEndianCopy(data.subarray(rec.offset, rec.offset + rec.byteLength), width);
  switch (rec.dtype) {
    case 'number':
      return new Float64Array(bytes.buffer)[0];
    case 'float32':
      return tf.tensor(new Float32Array(bytes.buffer), [...rec.shape], 'float32');
    case 'int32':
      return tf.tensor(new Int32Array(bytes.buffer), [...rec.shape], 'int32');
    case 'bool':
      return tf.tensor(bytes, [...rec.shape], 'bool');
  }
}

/** Rebuild a state value from its skeleton and leaves. */
function buildValue(t: TreeSkeleton, leafValues: readonly Leaf[]): StateValue {
  if (typeof t === 'number') return leafValues[t];
  if (Array.isArray(t)) return t.map((c) => buildValue(c, leafValues));
  const o = t as Record<string, TreeSkeleton>;
  return Object.fromEntries(Object.keys(o).map((k) => [k, buildValue(o[k], leafValues)]));
}

/** Load checkpoint bytes into the model (and optimizer): all checks first, then all writes. */
export function fromBytes(
  bytes: Uint8Array,
  target: CheckpointTarget,
  source = 'checkpoint bytes',
): LoadedCheckpoint {
  const where = `load checkpoint (${source})`;
  const { header, data } = decodeCheckpoint(bytes, source);
  const sections = sectionStates(target);
  const plan = Object.entries(sections) as [Section, StateEntries][];
  for (const [section, live] of plan) {
    const records = header.sections[section];
    if (records === undefined) {
      throw new CheckpointError(
        `${where}: the checkpoint has no ${section} section (sections: ${Object.keys(header.sections).join(', ') || 'none'}); ` +
          `it was saved without ${section === 'optimizer' ? 'an optimizer' : 'a model'}`,
        'missing-section',
      );
    }
    checkSection(section, records, live, where);
  }
  // Every value is made before anything is written; if a write still fails (a state class
  // rejecting a value), the states get their old values back and the new tensors are freed.
  const created: tf.Tensor[] = [];
  const allLive = plan.flatMap(([, live]) => live);
  const backup = stateDict(allLive);
  try {
    const dicts = plan.map(([section, live]) => {
      const byKey = new Map(header.sections[section].map((r) => [r.key, r]));
      const dict: Record<string, StateValue> = {};
      for (const [key] of live) {
        const rec = byKey.get(key)!;
        const values = rec.leaves.map((leaf) => leafValue(data, leaf));
        for (const v of values) if (isTensor(v)) created.push(v);
        dict[key] = buildValue(rec.tree, values);
      }
      return [live, dict] as const;
    });
    for (const [live, dict] of dicts) loadStateDict(live, dict);
  } catch (e) {
    for (const [key, s] of allLive) if (s.rawValue !== backup[key]) s.restoreValue(backup[key]);
    for (const t of created) if (!t.isDisposed && ownerCount(t) === 0) t.dispose();
    throw e;
  } finally {
    disposeStateDict(backup);
  }
  return { extra: header.extra ?? null, header };
}

/** Read a checkpoint file (Node) and load it into the model (and optimizer). */
export async function loadCheckpoint(
  file: string,
  target: CheckpointTarget,
): Promise<LoadedCheckpoint> {
  const fs = await import('node:fs/promises');
  const bytes = await fs.readFile(file);
  return fromBytes(
    new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength),
    target,
    `'${file}'`,
  );
}

/** The header of checkpoint bytes (version, sections with keys, classes, dtypes, shapes; extra). */
export function readCheckpointHeader(
  bytes: Uint8Array,
  source = 'checkpoint bytes',
): CheckpointHeader {
  return decodeCheckpoint(bytes, source).header;
}
