/**
 * Checks of distribution parameters given as numbers. Every message names the function, the
 * parameter and the accepted range, so a bad call fails at the call site, before any key is used.
 */
import { ArgumentError, describeValue } from '../errors';

/** Throw an ArgumentError unless `value` is a number satisfying `ok`; `expected` describes the range. */
export function checkNumber(
  where: string,
  name: string,
  value: unknown,
  ok: (v: number) => boolean,
  expected: string,
): number {
  if (typeof value !== 'number' || Number.isNaN(value) || !ok(value)) {
    throw new ArgumentError(`${where}: ${name} must be ${expected}, got ${describeValue(value)}`);
  }
  return value;
}

/** A finite number. */
export const finite = (v: number): boolean => Number.isFinite(v);
/** A finite number ≥ 0. */
export const nonNegative = (v: number): boolean => Number.isFinite(v) && v >= 0;
/** A finite number > 0. */
export const positive = (v: number): boolean => Number.isFinite(v) && v > 0;
