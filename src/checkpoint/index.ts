/**
 * Checkpoints: save and load every state of a model and of its optimizer to one file (Node) or
 * to bytes (browsers): a JSON header (version, keys, classes, dtypes, shapes) and the raw
 * little-endian data, bit-exact on the way back; a mismatched file is a CheckpointError.
 */
export {
  saveCheckpoint,
  loadCheckpoint,
  toBytes,
  fromBytes,
  readCheckpointHeader,
  type CheckpointTarget,
  type SaveCheckpointOptions,
  type LoadedCheckpoint,
} from './checkpoint';
export { CheckpointError, type CheckpointErrorReason } from './errors';
export {
  CHECKPOINT_VERSION,
  CHECKPOINT_MAGIC,
  type CheckpointHeader,
  type EntryRecord,
  type LeafRecord,
  type LeafDtype,
  type TreeSkeleton,
  type JsonValue,
} from './format';
