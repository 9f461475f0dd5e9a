/**
 * Hyperparameter checks shared by the optimizers and schedulers. Each check throws an
 * ArgumentError that names the class and the argument and says what range it accepts, so a bad
 * `beta2: 1` fails at construction, not as NaN weights many steps later.
 */
import { ArgumentError, describeValue } from '../errors';

/** The accepted range of a number: bounds are inclusive unless marked open. */
export interface NumberRange {
  min?: number;
  max?: number;
  /** The minimum itself is excluded (e.g. eps > 0). */
  minOpen?: boolean;
  /** The maximum itself is excluded (e.g. beta < 1). */
  maxOpen?: boolean;
  /** The number must be an integer. */
  integer?: boolean;
}

function describeRange(r: NumberRange): string {
  const kind = r.integer ? 'an integer' : 'a finite number';
  if (r.min !== undefined && r.max !== undefined)
    return `${kind} in ${r.minOpen ? '(' : '['}${r.min}, ${r.max}${r.maxOpen ? ')' : ']'}`;
  if (r.min !== undefined) return `${kind} ${r.minOpen ? '>' : '≥'} ${r.min}`;
  if (r.max !== undefined) return `${kind} ${r.maxOpen ? '<' : '≤'} ${r.max}`;
  return kind;
}

/** `value` if it is a number in the range, else an ArgumentError `Owner: name must be … , got …`. */
export function checkNumber(
  owner: string,
  name: string,
  value: unknown,
  range: NumberRange,
): number {
  const ok =
    typeof value === 'number' &&
    Number.isFinite(value) &&
    (!range.integer || Number.isInteger(value)) &&
    (range.min === undefined || (range.minOpen ? value > range.min : value >= range.min)) &&
    (range.max === undefined || (range.maxOpen ? value < range.max : value <= range.max));
  if (!ok) {
    throw new ArgumentError(
      `${owner}: ${name} must be ${describeRange(range)}, got ${describeValue(value)}`,
    );
  }
  return value as number;
}

/** Like checkNumber, but `undefined`/`null` give `fallback`. */
export function optionalNumber<F extends number | null>(
  owner: string,
  name: string,
  value: unknown,
  range: NumberRange,
  fallback: F,
): number | F {
  return value === undefined || value === null ? fallback : checkNumber(owner, name, value, range);
}

/** One of the allowed strings, else an ArgumentError listing them. */
export function checkChoice<C extends string>(
  owner: string,
  name: string,
  value: unknown,
  choices: readonly C[],
  fallback: C,
): C {
  if (value === undefined) return fallback;
  if (typeof value === 'string' && (choices as readonly string[]).includes(value))
    return value as C;
  throw new ArgumentError(
    `${owner}: ${name} must be one of ${choices.map((c) => `'${c}'`).join(', ')}, got ${describeValue(value)}`,
  );
}

/** A short list of keys for messages: `'a', 'b', 'c' … (12 in all)`. */
export function listKeys(keys: readonly string[], max = 8): string {
  if (keys.length === 0) return '(none)';
  const shown = keys.slice(0, max).map((k) => `'${k}'`);
  return keys.length > max ? `${shown.join(', ')} … (${keys.length} in all)` : shown.join(', ');
}
