/**
 * The optimizer's own error: a gradient with NaN or infinite values reached `update` (in the
 * default `nonFinite: 'error'` mode). It is an ArgumentError (the gradients are a bad argument)
 * that names the first offending weight, so a caller can catch it specifically.
 */
import { ArgumentError } from '../errors';

/** A gradient given to `Optimizer.update` holds NaN or ±Infinity; nothing was updated. */
export class NonFiniteGradientError extends ArgumentError {
  constructor(
    message: string,
    /** The key of the first weight whose gradient is not finite. */
    readonly key: string,
    /** Number of NaN elements in that gradient. */
    readonly nanCount: number,
    /** Number of ±Infinity elements in that gradient. */
    readonly infCount: number,
  ) {
    super(message);
  }
}
