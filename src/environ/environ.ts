/**
 * The global environment (spec §9.1): settings such as the time step `dt` (ms), the current time
 * `t` (ms), the step index `i`, the training flag `fit` and the float precision, with a stack of
 * context values per key (`context({ fit: true }, fn)`: innermost wins, popped on exit even after
 * an exception). Models read `dt` when they are built or stepped.
 */
import { tf } from '../backend/tf';
import { ArgumentError, KeyNotFoundError, NotSupportedError } from '../errors';

/** Well-known keys. */
export const DT = 'dt';
export const T = 't';
export const I = 'i';
export const FIT = 'fit';
export const PRECISION = 'precision';
export const PLATFORM = 'platform';
export const JIT_ERROR_CHECK = 'jit_error_check';

export type Precision = 8 | 16 | 32 | 64 | 'bf16';
/** Values the environment can hold. */
export type EnvValue = number | string | boolean | null;

export interface KnownSettings {
  dt?: number;
  t?: number;
  i?: number;
  fit?: boolean;
  precision?: Precision;
  jit_error_check?: boolean;
}
export type Settings = KnownSettings & Record<string, EnvValue | undefined>;

const DEFAULTS: Record<string, EnvValue> = { precision: 32 };
const settings = new Map<string, EnvValue>(Object.entries(DEFAULTS));
const contexts = new Map<string, EnvValue[]>();
const hints: Record<string, string> = {
  dt: 'the numerical time step in ms; set it with environ.set({ dt: 0.1 }) or environ.context({ dt: 0.1 }, fn)',
  t: 'the current time in ms; a Runner or environ.context({ t }, fn) sets it',
  i: 'the current step index; a Runner or environ.context({ i }, fn) sets it',
  fit: 'the training flag read by Dropout/BatchNorm; environ.context({ fit: true }, fn)',
};

function validate(key: string, value: EnvValue | undefined, where: string): void {
  if (value === undefined) return;
  switch (key) {
    case 'dt':
      if (typeof value !== 'number' || !(value > 0) || !Number.isFinite(value)) {
        throw new ArgumentError(
          `environ.${where}: dt must be a positive finite number of ms, got ${String(value)}`,
        );
      }
      return;
    case 't':
    case 'i':
      if (typeof value !== 'number' || !Number.isFinite(value)) {
        throw new ArgumentError(
          `environ.${where}: ${key} must be a finite number, got ${String(value)}`,
        );
      }
      if (key === 'i' && !Number.isInteger(value)) {
        throw new ArgumentError(`environ.${where}: i must be an integer step index, got ${value}`);
      }
      return;
    case 'fit':
    case 'jit_error_check':
      if (typeof value !== 'boolean') {
        throw new ArgumentError(`environ.${where}: ${key} must be a boolean, got ${String(value)}`);
      }
      return;
    case 'precision':
      if (![8, 16, 32, 64, 'bf16'].includes(value as Precision)) {
        throw new ArgumentError(
          `environ.${where}: precision must be one of 8, 16, 32, 64, 'bf16', got ${String(value)}`,
        );
      }
      if (value !== 32) {
        throw new NotSupportedError(
          `environ.${where}: precision ${String(value)} is not available: tfjs computes in float32 (and int32/bool) only`,
        );
      }
      return;
    case 'platform':
      throw new ArgumentError(
        `environ.${where}: choose the platform with setPlatform(), not the environment`,
      );
  }
}

/** Set global values (not inside a context). */
export function set(values: Settings): void {
  for (const [k, v] of Object.entries(values)) validate(k, v, 'set');
  for (const [k, v] of Object.entries(values)) if (v !== undefined) settings.set(k, v);
}

/** Run `fn` with the given values pushed; they are popped afterwards, even on error. Returns fn's result. */
export function context<R>(values: Settings, fn: () => R): R {
  const keys = Object.keys(values).filter((k) => values[k] !== undefined);
  for (const k of keys) validate(k, values[k], 'context');
  for (const k of keys) {
    const s = contexts.get(k) ?? [];
    s.push(values[k] as EnvValue);
    contexts.set(k, s);
  }
  try {
    return fn();
  } finally {
    for (const k of keys) {
      const s = contexts.get(k)!;
      s.pop();
      if (s.length === 0) contexts.delete(k);
    }
  }
}

/** True if `key` has a value (context or global). */
export function has(key: string): boolean {
  return contexts.has(key) || settings.has(key);
}

/** Called with every value `get` returns (the IR recorder notes environ reads of traced code). */
export type ReadObserver = (key: string, value: EnvValue) => void;
let readObserver: ReadObserver | null = null;

/** Install the read observer (null to remove); returns the previous one. */
export function setReadObserver(next: ReadObserver | null): ReadObserver | null {
  const previous = readObserver;
  readObserver = next;
  return previous;
}

function observed<V extends EnvValue>(key: string, v: V): V {
  if (readObserver !== null) readObserver(key, v);
  return v;
}

/** Called when traced code asks for an environ value as a tensor (see `scalar`). */
export type TensorReadObserver = (key: string, tensor: tf.Tensor) => void;
let tensorObserver: TensorReadObserver | null = null;

/** Install the tensor-read observer (null to remove); returns the previous one. */
export function setTensorReadObserver(next: TensorReadObserver | null): TensorReadObserver | null {
  const previous = tensorObserver;
  tensorObserver = next;
  return previous;
}

/**
 * A numeric environ value (e.g. the time `t`) as a float32 scalar tensor. Use it where the value
 * changes from call to call: a jitted function that reads `get('t')` bakes the number into its
 * program and cannot replay at another time, while `scalar('t')` is an input of the program that
 * a replay fills with the current value.
 */
export function scalar(key: string): tf.Tensor {
  const v = getUnobserved(key);
  if (typeof v !== 'number') {
    throw new ArgumentError(`environ.scalar: '${key}' holds ${typeof v}, not a number`);
  }
  const t = tf.scalar(v, 'float32');
  if (tensorObserver !== null) tensorObserver(key, t);
  return t;
}

function getUnobserved(key: string): EnvValue {
  const s = contexts.get(key);
  if (s != null && s.length) return s[s.length - 1];
  if (settings.has(key)) return settings.get(key) as EnvValue;
  throw new KeyNotFoundError(
    `environ: key '${key}' is not set${hints[key] ? ` (${hints[key]})` : ''}`,
  );
}

/** The innermost context value, else the global value, else `fallback`; else KeyNotFoundError. */
export function get<V extends EnvValue = EnvValue>(key: string, fallback?: V): V {
  const s = contexts.get(key);
  if (s != null && s.length) return observed(key, s[s.length - 1] as V);
  if (settings.has(key)) return observed(key, settings.get(key) as V);
  if (fallback !== undefined) return observed(key, fallback);
  throw new KeyNotFoundError(
    `environ: key '${key}' is not set${hints[key] ? ` (${hints[key]})` : ''}; known keys: ${[...new Set([...settings.keys(), ...contexts.keys()])].join(', ')}`,
  );
}

/** All current values (globals overlaid by the innermost contexts). */
export function all(): Record<string, EnvValue> {
  const out: Record<string, EnvValue> = Object.fromEntries(settings);
  for (const [k, s] of contexts) out[k] = s[s.length - 1];
  return out;
}

/** Remove a global value and return it. A key active in a context cannot be popped. */
export function pop<V extends EnvValue = EnvValue>(key: string, fallback?: V): V {
  if (contexts.has(key))
    throw new ArgumentError(`environ.pop: key '${key}' is set in an active context`);
  if (!settings.has(key)) {
    if (fallback !== undefined) return fallback;
    throw new KeyNotFoundError(`environ.pop: key '${key}' is not set`);
  }
  const v = settings.get(key) as V;
  settings.delete(key);
  return v;
}

/** Restore the defaults (drops every global value; contexts in progress are kept). */
export function reset(): void {
  settings.clear();
  for (const [k, v] of Object.entries(DEFAULTS)) settings.set(k, v);
}

/** The time step in ms (KeyNotFoundError if unset). */
export function getDt(): number {
  return get<number>(DT);
}

/** The training flag (false if unset). */
export function isFit(): boolean {
  return get<boolean>(FIT, false);
}

/** The default float dtype for the precision (always float32 on tfjs). */
export function dftype(): 'float32' {
  return 'float32';
}

/** The default int dtype. */
export function ditype(): 'int32' {
  return 'int32';
}

/** The numerical tolerance for the precision (1e-5 for float32). */
export function tolerance(): number {
  return 1e-5;
}
