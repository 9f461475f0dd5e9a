/**
 * jitErrorIf (spec §3.8): a runtime assertion on tensor data. If any element of `pred` is true,
 * throw a TransformError whose message is formatted from the arguments: `%s`/`%d`/`%f`/`%r`
 * placeholders (printf style) or, if there are none, `{}` (next argument), `{0}` (by position) and
 * `{name}` (a property of a plain-object argument). Tensor arguments print their values.
 *
 *   jitErrorIf(tf.any(tf.isNaN(v)), 'NaN in V at step {}', i);
 */
import { tf } from '../backend/tf';
import { describeValue, TransformError } from '../errors';
import { isPlainObject } from '../state/tree';

/** A condition: a boolean, a number (non-zero is true) or a tensor (true if any element is). */
export type ErrorCondition = boolean | number | tf.Tensor;

/** Throw a TransformError with the formatted message if `pred` holds anywhere. */
export function jitErrorIf(
  pred: ErrorCondition,
  message: string | ((...args: unknown[]) => string),
  ...args: unknown[]
): void {
  if (!anyTrue(pred)) return;
  if (typeof message === 'function') throw new TransformError(String(message(...args)));
  if (typeof message !== 'string') {
    throw new TransformError(
      `jitErrorIf: message must be a string or a function, got ${describeValue(message)}`,
    );
  }
  throw new TransformError(formatMessage(message, args));
}

function anyTrue(pred: ErrorCondition): boolean {
  if (typeof pred === 'boolean') return pred;
  if (typeof pred === 'number') return pred !== 0;
  if (pred instanceof tf.Tensor) {
    if (pred.dtype === 'string' || pred.dtype === 'complex64') {
      throw new TransformError(
        `jitErrorIf: the condition must be boolean or numeric, got a ${pred.dtype} tensor`,
      );
    }
    if (pred.size === 0) return false;
    const v = tf.tidy(() => (pred.size === 1 ? pred : tf.any(tf.notEqual(pred, 0))).dataSync()[0]);
    return v !== 0;
  }
  throw new TransformError(
    `jitErrorIf: the condition must be a boolean, a number or a tensor, got ${describeValue(pred)}`,
  );
}

/** Format `template` with printf-style or `{}`-style placeholders (see the file header). */
export function formatMessage(template: string, args: readonly unknown[]): string {
  if (/%[sdifr]/.test(template)) {
    let k = 0;
    return template.replace(/%([%sdifr])/g, (whole, spec: string) => {
      if (spec === '%') return '%';
      if (k >= args.length) return whole;
      const v = plain(args[k++]);
      if (spec === 'd' || spec === 'i')
        return typeof v === 'number' ? String(Math.trunc(v)) : show(v);
      if (spec === 'f') return typeof v === 'number' ? v.toFixed(6) : show(v);
      return show(v);
    });
  }
  let next = 0;
  return template.replace(/\{(\w*)\}/g, (whole, key: string) => {
    if (key === '') return next < args.length ? show(plain(args[next++])) : whole;
    if (/^\d+$/.test(key))
      return Number(key) < args.length ? show(plain(args[Number(key)])) : whole;
    for (let i = args.length - 1; i >= 0; i--) {
      const a = args[i];
      if (isPlainObject(a) && key in a) return show(plain(a[key]));
    }
    return whole;
  });
}

/** Tensors become numbers (scalars) or nested arrays. */
function plain(v: unknown): unknown {
  if (v instanceof tf.Tensor) return v.arraySync();
  if (Array.isArray(v)) return v.map(plain);
  return v;
}

function show(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(show).join(', ')}]`;
  if (typeof v === 'string') return v;
  if (v === null || v === undefined || typeof v !== 'object') return String(v);
  if (isPlainObject(v))
    return `{${Object.entries(v)
      .map(([k, e]) => `${k}: ${show(plain(e))}`)
      .join(', ')}}`;
  return describeValue(v);
}
