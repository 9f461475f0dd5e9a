/**
 * The `inStates` / `outStates` declarations of vmap (spec §4.3): an axis map
 * `{ [axis]: collection }` (integer keys), or any state collection (a State, array, plain object,
 * FlatDict) meaning axis 0. A state listed in `inStates` but not in `outStates` is added to
 * `outStates` with the same axis; the same state at two different axes is a BatchAxisError.
 */
import { BatchAxisError, TransformError, describeValue } from '../errors';
import { State } from '../state';
import { isPlainObject, type StateValue } from '../state/tree';
import { parseStateCollection, type StateCollectionSpec } from './stateCollection';

type AnyState = State<StateValue>;

/** A declaration: states at axis 0, or an `{ [axis]: states }` map. */
export type VmapStatesSpec = StateCollectionSpec | { readonly [axis: number]: StateCollectionSpec };

/** One declared state: its batch axis as given (may be negative) and where it was declared. */
export interface DeclaredState {
  readonly state: AnyState;
  readonly axis: number;
  readonly label: string;
}

const AXIS_KEY = /^-?\d+$/;

function isAxisMap(spec: unknown): spec is Record<string, unknown> {
  if (!isPlainObject(spec)) return false;
  const keys = Object.keys(spec);
  return (
    keys.length > 0 &&
    keys.every((k) => AXIS_KEY.test(k)) &&
    Object.values(spec).some((v) => !(v instanceof State))
  );
}

/** Parse one declaration into its states, in order, each once. */
export function parseVmapStates(
  spec: unknown,
  what: 'inStates' | 'outStates',
  where: string,
): DeclaredState[] {
  if (spec === undefined || spec === null) return [];
  const groups: [number, unknown, string][] = isAxisMap(spec)
    ? Object.keys(spec).map((k) => [Number(k), spec[k], `${what}[${k}]`])
    : [[0, spec, what]];
  const out = new Map<AnyState, DeclaredState>();
  for (const [axis, collection, label] of groups) {
    if (!Number.isSafeInteger(axis)) {
      throw new TransformError(
        `${where}: ${what} axis must be an integer, got ${describeValue(axis)}`,
      );
    }
    const parsed = parseStateCollection(collection, label, where);
    parsed.states.forEach((state, i) => {
      const prev = out.get(state);
      if (prev && prev.axis !== axis) {
        throw new BatchAxisError(
          `${where}: ${state.describe()} is declared twice in ${what}, at axes ${prev.axis} and ${axis}`,
        );
      }
      if (!prev) out.set(state, { state, axis, label: parsed.labels[i] });
    });
  }
  return [...out.values()];
}

/**
 * The out-states after adding the in-states missing from them (same axis). An in-state declared in
 * `outStates` at another axis is a BatchAxisError (axes of the same sign are compared here, the
 * rest after normalisation by rank in vmap).
 */
export function mergeOutStates(
  inStates: readonly DeclaredState[],
  outStates: readonly DeclaredState[],
  where: string,
): DeclaredState[] {
  const merged = new Map(outStates.map((d) => [d.state, d]));
  for (const d of inStates) {
    const o = merged.get(d.state);
    if (o === undefined) merged.set(d.state, d);
    else if (o.axis < 0 === d.axis < 0 && o.axis !== d.axis) throw axisMismatch(d, o, where);
  }
  return [...merged.values()];
}

/** The BatchAxisError of a state mapped in at one axis and out at another. */
export function axisMismatch(
  inDecl: DeclaredState,
  outDecl: DeclaredState,
  where: string,
): BatchAxisError {
  return new BatchAxisError(
    `${where}: ${inDecl.state.describe()} is mapped in at axis ${inDecl.axis} (${inDecl.label}) but out at axis ${outDecl.axis} (${outDecl.label}); ` +
      `an in-state must be stacked back at the axis it was split along`,
  );
}
