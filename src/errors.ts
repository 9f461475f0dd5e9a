/**
 * The typed errors of brainstate-ts. Every error names the thing at fault (a state, a module path,
 * an argument) and says what was expected, so a failure deep inside a transform still points at
 * the user's code. Layers import from here; this file imports nothing.
 */

/** Base class of every error thrown by brainstate-ts. */
export class BrainStateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** A State was given a value of the wrong shape, dtype or structure, or was misused. */
export class StateError extends BrainStateError {}

/** A state was used across incompatible traces (e.g. created inside a transform and read after it). */
export class TraceContextError extends BrainStateError {}

/** A transform (jit, loops, grad, vmap …) was called with arguments it cannot accept. */
export class TransformError extends BrainStateError {}

/** A vmap axis was misused: undeclared batched writes, mismatched in/out axes. */
export class BatchAxisError extends BrainStateError {}

/** The module graph is malformed, or a graph operation got a bad filter, path or mapping. */
export class GraphError extends BrainStateError {}

/** A backend/platform could not be selected or loaded. */
export class PlatformError extends BrainStateError {}

/** A value is outside the range or type an argument accepts. */
export class ArgumentError extends BrainStateError {}

/** A key (environment setting, dict key, delay entry …) does not exist. */
export class KeyNotFoundError extends BrainStateError {}

/** The operation is valid in the reference library but not supported here (e.g. float64 on tfjs). */
export class NotSupportedError extends BrainStateError {}

/** A method a subclass must provide was not overridden (e.g. Module.update). */
export class NotImplementedError extends BrainStateError {}

/** Describe any value briefly for an error message. */
export function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'undefined';
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (typeof v === 'function') return `function ${v.name || '(anonymous)'}`;
  if (Array.isArray(v)) return `array(length ${v.length})`;
  const ctor = (v as object).constructor;
  const shape = (v as { shape?: unknown }).shape;
  const dtype = (v as { dtype?: unknown }).dtype;
  if (Array.isArray(shape) && typeof dtype === 'string')
    return `${ctor?.name ?? 'Tensor'}(${dtype}[${shape.join(',')}])`;
  return ctor?.name && ctor !== Object ? `${ctor.name} instance` : 'object';
}

/** The etrace compiler could not analyse a model step (spec brainscale §2.6). */
export class CompilationError extends BrainStateError {}
