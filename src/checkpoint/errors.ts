/**
 * CheckpointError: a checkpoint cannot be read, or does not fit the model it is loaded into.
 * `reason` says which (for code that wants to react), `key` names the state at fault if any.
 */
import { BrainStateError } from '../errors';

/** Why a checkpoint was rejected. */
export type CheckpointErrorReason =
  /** The bytes are not a brainstate-ts checkpoint (bad magic, header or data bounds). */
  | 'format'
  /** The file was written by another format version. */
  | 'version'
  /** The model (or optimizer) has a state the file does not have. */
  | 'missing-key'
  /** The file has a state the model (or optimizer) does not have. */
  | 'extra-key'
  /** A state's structure, shape or dtype differs between the file and the model. */
  | 'mismatch'
  /** A section (the optimizer) was asked for but is not in the file. */
  | 'missing-section'
  /** A value cannot be stored (a dtype other than float32, int32, bool; a non-JSON extra). */
  | 'unsupported';

/** A checkpoint could not be written, read, or loaded into the given model/optimizer. */
export class CheckpointError extends BrainStateError {
  constructor(
    message: string,
    readonly reason: CheckpointErrorReason,
    readonly key: string | null = null,
  ) {
    super(message);
  }
}
