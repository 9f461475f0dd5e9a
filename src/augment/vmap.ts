/**
 * vmap (spec §4.3): map a function over a batch axis of its arguments and of declared states.
 * It runs as a loop over lanes and stacks the results with tf.stack (tfjs has no batching
 * transform): lane k gets slice k of every mapped argument and in-state, a RandomState key of its
 * own, and the values the other states had before the call; afterwards outputs are stacked at
 * `outAxes` and out-states at their axes. A state the function writes that is not declared must
 * get the same value in every lane (else BatchAxisError). Every RandomState the function draws
 * from gets a different key per lane, and advances once per call. On an exception every touched
 * state gets its value back. The cost is one function call per lane; write batch-aware
 * functions (explicit batch axis) where speed matters.
 */
import { tf } from '../backend/tf';
import { checkNoState } from '../compile/statefulFunction';
import { BatchAxisError, TransformError, describeValue } from '../errors';
import { RandomState, type Key } from '../random';
import { State, StateTraceStack, acquire, ownerCount, release } from '../state';
import {
  isPlainObject,
  isTensor,
  leaves,
  tensorLeaves,
  treeSignature,
  type StateValue,
} from '../state/tree';
import { decorate } from './grad';
import { fillLeaves, flattenTree, type FlatTree } from './tensorTree';
import type { TensorTree } from './types';
import {
  axisMismatch,
  mergeOutStates,
  parseVmapStates,
  type DeclaredState,
  type VmapStatesSpec,
} from './vmapStates';

type AnyState = State<StateValue>;

/** A batch axis, or null for "not mapped" (shared by every lane / the same in every lane). */
export type Axis = number | null;

/** Options of vmap. */
export interface VmapOptions {
  /** The axis of each argument to map over (null: shared by every lane); one for all, or one per argument. Default 0. */
  inAxes?: Axis | readonly Axis[];
  /**
   * Where the lane axis goes in the outputs (null: the output must be the same in every lane and
   * is returned once); one for all outputs, or one per element of an array output. Default 0.
   */
  outAxes?: Axis | readonly Axis[];
  /** The number of lanes; required when no argument or in-state is mapped. */
  axisSize?: number;
  /** States split along an axis (lane k sees slice k): States at axis 0, or `{ [axis]: states }`. */
  inStates?: VmapStatesSpec;
  /** States whose per-lane values are stacked along an axis afterwards (in-states are added). */
  outStates?: VmapStatesSpec;
}

/** A vmapped function: outputs batched (number leaves become tensors). */
export type Vmapped<A extends unknown[], R> = (...args: A) => TensorTree<R>;

/** Map `fn` over a batch axis (see the file header). */
export function vmap<A extends unknown[], R>(
  fn: (...args: A) => R,
  options?: VmapOptions,
): Vmapped<A, R>;
export function vmap(
  options: VmapOptions,
): <A extends unknown[], R>(fn: (...args: A) => R) => Vmapped<A, R>;
export function vmap(fnOrOptions: unknown, options?: VmapOptions): unknown {
  return decorate('vmap', fnOrOptions, options, (fn, o) => vmapTransform(fn, o));
}

const OPTION_KEYS: readonly string[] = ['inAxes', 'outAxes', 'axisSize', 'inStates', 'outStates'];

function checkAxes(v: unknown, what: string, where: string): void {
  const ok = (a: unknown): boolean => a === null || (typeof a === 'number' && Number.isInteger(a));
  if (Array.isArray(v) ? !v.every(ok) : !ok(v)) {
    throw new TransformError(
      `${where}: ${what} must be an integer or null, or an array of them; got ${describeValue(v)}`,
    );
  }
}

/** `axis` in [0, n), counting negative axes from the end; else a TransformError. */
function normalizeAxis(axis: number, n: number, what: string, where: string): number {
  const a = axis < 0 ? axis + n : axis;
  if (a < 0 || a >= n) {
    throw new TransformError(
      `${where}: axis ${axis} is out of range for ${what} (valid: ${-n} … ${n - 1})`,
    );
  }
  return a;
}

/** True if two values are equal: same structure, shapes and dtypes, and the same numbers. */
function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (isTensor(a) && isTensor(b)) {
    if (
      a.dtype !== b.dtype ||
      a.shape.length !== b.shape.length ||
      a.shape.some((d, i) => d !== b.shape[i])
    )
      return false;
    const x = a.dataSync();
    const y = b.dataSync();
    for (let i = 0; i < x.length; i++)
      if (x[i] !== y[i] && !(Number.isNaN(x[i]) && Number.isNaN(y[i]))) return false;
    return true;
  }
  if (isTensor(a) || isTensor(b)) return false;
  if (typeof a === 'number' || typeof b === 'number') return false;
  const fa = flattenTree(a);
  const fb = flattenTree(b);
  if (fa.structure !== fb.structure || fa.structure === '*') return false;
  return fa.leaves.every((l, i) => sameValue(l, fb.leaves[i]));
}

/** What one attempt at the lanes ended with. */
type Attempt = { kind: 'done'; value: unknown } | { kind: 'restart'; discovered: RandomState[] };

function vmapTransform(
  fn: (...args: never[]) => unknown,
  options: VmapOptions | undefined,
): (...args: unknown[]) => unknown {
  if (typeof fn !== 'function')
    throw new TransformError(`vmap: expected a function to map, got ${describeValue(fn)}`);
  const where = `vmap(${fn.name || 'fn'})`;
  const opts: VmapOptions = options ?? {};
  if (!isPlainObject(options ?? {}))
    throw new TransformError(`${where}: options must be an object, got ${describeValue(options)}`);
  for (const k of Object.keys(opts)) {
    if (!OPTION_KEYS.includes(k)) {
      throw new TransformError(
        `${where}: unknown option '${k}' (expected one of ${OPTION_KEYS.join(', ')})`,
      );
    }
  }
  const inAxes: Axis | readonly Axis[] = opts.inAxes === undefined ? 0 : opts.inAxes;
  const outAxes: Axis | readonly Axis[] = opts.outAxes === undefined ? 0 : opts.outAxes;
  checkAxes(inAxes, 'inAxes', where);
  checkAxes(outAxes, 'outAxes', where);
  const axisSize = opts.axisSize;
  if (axisSize !== undefined && (!Number.isSafeInteger(axisSize) || axisSize < 1)) {
    throw new TransformError(
      `${where}: axisSize must be a positive integer, got ${describeValue(axisSize)}`,
    );
  }
  const inDecl = parseVmapStates(opts.inStates, 'inStates', where);
  const outDecl = mergeOutStates(
    inDecl,
    parseVmapStates(opts.outStates, 'outStates', where),
    where,
  );
  const inSet = new Set<AnyState>(inDecl.map((d) => d.state));
  const declared = new Set<AnyState>([...inSet, ...outDecl.map((d) => d.state)]);
  for (const d of [...inDecl, ...outDecl]) {
    if (d.state instanceof RandomState) {
      throw new TransformError(
        `${where}: ${d.state.describe()} (${d.label}) cannot be declared: RandomStates get a key per lane automatically`,
      );
    }
  }
  // RandomStates seen in earlier calls get their lane keys before the first lane runs.
  let knownRandom: WeakRef<RandomState>[] = [];

  return (...args: unknown[]): unknown => {
    // Batch sources: mapped arguments and in-states, with their axes normalised.
    if (Array.isArray(inAxes) && inAxes.length !== args.length) {
      throw new TransformError(
        `${where}: inAxes has ${inAxes.length} entries but the function was called with ${args.length} argument${args.length === 1 ? '' : 's'}`,
      );
    }
    const argAxis = (i: number): Axis =>
      Array.isArray(inAxes) ? (inAxes as Axis[])[i] : (inAxes as Axis);
    args.forEach((a, i) => checkNoState(a, where, `argument ${i}`));
    const sources: string[] = [];
    const sizes: number[] = [];
    const flatArgs = args.map((a) => flattenTree(a));
    const argLeafAxes = flatArgs.map((flat, i) => {
      const ax = argAxis(i);
      if (ax === null) return null;
      return flat.leaves.map((leaf, j) => {
        const what = `argument ${i}${flat.structure === '*' ? '' : ` leaf ${j}`}`;
        if (!isTensor(leaf)) {
          throw new TransformError(
            `${where}: ${what} is mapped (inAxes ${ax}) but is ${describeValue(leaf)}; only tensors can be mapped: give it inAxes null to share it between lanes`,
          );
        }
        const a = normalizeAxis(ax, leaf.rank, `${what} of shape [${leaf.shape.join(',')}]`, where);
        sources.push(`${what} (axis ${ax}): ${leaf.shape[a]}`);
        sizes.push(leaf.shape[a]);
        return a;
      });
    });
    const inLeafAxes = inDecl.map((d) => {
      const v = d.state.rawValue;
      const ts = tensorLeaves(v);
      if (ts.length === 0 || ts.length !== leaves(v).length) {
        throw new TransformError(
          `${where}: in-state ${d.state.describe()} (${d.label}) must hold tensors to be split, got ${d.state.toString()}`,
        );
      }
      const out = outDecl.find((o) => o.state === d.state)!;
      return ts.map((t) => {
        const a = normalizeAxis(
          d.axis,
          t.rank,
          `${d.state.describe()} of shape [${t.shape.join(',')}]`,
          where,
        );
        if (out !== d && normalizeAxis(out.axis, t.rank, `${out.state.describe()}`, where) !== a)
          throw axisMismatch(d, out, where);
        sources.push(`${d.state.describe()} (axis ${d.axis}): ${t.shape[a]}`);
        sizes.push(t.shape[a]);
        return a;
      });
    });
    if (axisSize !== undefined) {
      sources.push(`axisSize: ${axisSize}`);
      sizes.push(axisSize);
    }
    if (sizes.length === 0) {
      throw new TransformError(
        `${where}: nothing to map over: no argument or in-state is mapped; give axisSize`,
      );
    }
    if (sizes.some((s) => s !== sizes[0])) {
      throw new TransformError(`${where}: inconsistent batch sizes: ${sources.join('; ')}`);
    }
    const size = sizes[0];
    if (size === 0)
      throw new TransformError(
        `${where}: cannot map over an axis of size 0 (${sources.join('; ')})`,
      );

    const originals = inDecl.map((d) => d.state.rawValue);
    for (const v of originals) tensorLeaves(v).forEach(acquire);
    try {
      let prepared = knownRandom
        .map((r) => r.deref())
        .filter((r): r is RandomState => r !== undefined);
      for (;;) {
        const r = runLanes(prepared);
        if (r.kind === 'done') return r.value;
        prepared = [...prepared, ...r.discovered];
        knownRandom = prepared.map((x) => new WeakRef(x));
      }
    } finally {
      for (const v of originals) tensorLeaves(v).forEach(release);
    }

    /** One pass over the lanes; restarts when the function draws from an unprepared RandomState. */
    function runLanes(prepared: readonly RandomState[]): Attempt {
      const frame = new StateTraceStack({ name: where });
      const temps: tf.Tensor[] = [];
      const recover = (): void => {
        inDecl.forEach((d, i) => {
          if (d.state.rawValue !== originals[i]) d.state.reinitialize(originals[i]);
        });
        frame.recoveryOriginalValues();
      };
      frame.enter();
      try {
        const laneArgs = sliceArgs(args, flatArgs, argLeafAxes, size, temps);
        const laneIn = inDecl.map((d, i) => sliceValue(originals[i], inLeafAxes[i], size, temps));
        const preparedSet = new Set<AnyState>(prepared);
        const keys: Key[][] = prepared.map((r) => r.splitKeys(size));
        const nextKeys = prepared.map((r) => r.rawValue);
        const drawn = prepared.map(() => false);
        const laneOuts: unknown[] = [];
        const laneStates: StateValue[][] = outDecl.map(() => []);
        // Lane-0 values of undeclared written states (kept alive by the frame's deferred disposal).
        const firstLane = new Map<AnyState, StateValue>();
        for (let k = 0; k < size; k++) {
          inDecl.forEach((d, i) => d.state.reinitialize(laneIn[i][k]));
          prepared.forEach((r, i) => r.restoreValue(keys[i][k]));
          if (k > 0) {
            // Lanes run side by side: each sees what the shared states held before the call.
            const originalValues = frame.getOriginalValues();
            frame.states.forEach((s, i) => {
              if (frame.beenWritten[i] && !inSet.has(s) && !preparedSet.has(s))
                s.restoreValue(originalValues[i]);
            });
          }
          laneOuts.push(runLane(laneArgs[k], temps));
          outDecl.forEach((d, i) => laneStates[i].push(d.state.rawValue));
          const discovered = frame.states.filter(
            (s): s is RandomState => s instanceof RandomState && !preparedSet.has(s),
          );
          if (discovered.length > 0) {
            recover();
            return { kind: 'restart', discovered };
          }
          prepared.forEach((r, i) => {
            if (r.rawValue !== keys[i][k]) drawn[i] = true;
          });
          const originalValues = frame.getOriginalValues();
          frame.states.forEach((s, i) => {
            if (!frame.beenWritten[i] || declared.has(s) || s instanceof RandomState) return;
            if (k === 0) {
              firstLane.set(s, s.rawValue);
              return;
            }
            const lane0 = firstLane.get(s) ?? originalValues[i];
            if (!sameValue(lane0, s.rawValue)) {
              throw new BatchAxisError(
                `${where}: The value of ${s.describe()} is batched (lanes 0 and ${k} write different values), ` +
                  `but it is not in the outStates. Declare it in outStates to stack its per-lane values, ` +
                  `or write the same value in every lane.`,
              );
            }
          });
        }
        // Draws consumed the lane keys: the state moves on once. A state no lane drew from is left as it was.
        const originalValues = frame.getOriginalValues();
        prepared.forEach((r, i) => {
          r.restoreValue(drawn[i] ? nextKeys[i] : (originalValues[frame.states.indexOf(r)] as Key));
        });
        const value = stackOutputs(laneOuts, outAxes, where);
        outDecl.forEach((d, i) => d.state.reinitialize(stackStateLanes(laneStates[i], d, where)));
        return { kind: 'done', value };
      } catch (e) {
        recover();
        throw e;
      } finally {
        for (const t of temps) if (!t.isDisposed && ownerCount(t) === 0) t.dispose();
        frame.exit();
      }
    }

    /** Run one lane; its outputs are cloned into `temps` (the lane's intermediates are freed). */
    function runLane(laneArgs: unknown[], temps: tf.Tensor[]): unknown {
      let flat: FlatTree | null = null;
      const clones = tf.tidy(() => {
        const out = fn(...(laneArgs as never[]));
        checkNoState(out, where);
        flat = flattenTree(out);
        return flat.leaves.filter(isTensor).map((t) => tf.clone(t));
      });
      temps.push(...clones);
      let i = 0;
      return flat!.rebuild(flat!.leaves.map((l) => (isTensor(l) ? clones[i++] : l)));
    }
  };
}

/** Per lane, the arguments with mapped tensors replaced by their slices. */
function sliceArgs(
  args: readonly unknown[],
  flats: readonly FlatTree[],
  leafAxes: readonly (number[] | null)[],
  size: number,
  temps: tf.Tensor[],
): unknown[][] {
  const perArg = args.map((a, i) => {
    const axes = leafAxes[i];
    if (axes === null) return null;
    const slices = flats[i].leaves.map((leaf, j) => tf.unstack(leaf as tf.Tensor, axes[j]));
    for (const s of slices) temps.push(...s);
    return slices;
  });
  return Array.from({ length: size }, (_, k) =>
    args.map((a, i) => {
      const slices = perArg[i];
      return slices === null ? a : flats[i].rebuild(slices.map((s) => s[k]));
    }),
  );
}

/** Per lane, a state value with each tensor leaf sliced along its axis. */
function sliceValue(
  v: StateValue,
  axes: readonly number[],
  size: number,
  temps: tf.Tensor[],
): StateValue[] {
  const slices = tensorLeaves(v).map((t, j) => tf.unstack(t, axes[j]));
  for (const s of slices) temps.push(...s);
  return Array.from({ length: size }, (_, k) => {
    let j = 0;
    return fillLeaves(v, () => slices[j++][k]) as StateValue;
  });
}

/** Stack per-lane tensors along `axis` (in the stacked rank); shapes must agree. */
function stackLeaf(
  lanes: readonly tf.Tensor[],
  axis: number,
  what: string,
  where: string,
): tf.Tensor {
  const shape = lanes[0].shape.join(',');
  const bad = lanes.findIndex((t) => t.shape.join(',') !== shape || t.dtype !== lanes[0].dtype);
  if (bad >= 0) {
    throw new TransformError(
      `${where}: ${what} has ${lanes[0].dtype}[${shape}] in lane 0 but ${lanes[bad].dtype}[${lanes[bad].shape.join(',')}] in lane ${bad}; lanes must agree to be stacked`,
    );
  }
  return tf.stack(lanes as tf.Tensor[], normalizeAxis(axis, lanes[0].rank + 1, what, where));
}

/** Stack the per-lane outputs at `outAxes`. */
function stackOutputs(
  lanes: readonly unknown[],
  outAxes: Axis | readonly Axis[],
  where: string,
): unknown {
  if (Array.isArray(outAxes)) {
    const first = lanes[0];
    if (!Array.isArray(first) || first.length !== outAxes.length) {
      throw new TransformError(
        `${where}: outAxes has ${outAxes.length} entries, so the function must return an array of ${outAxes.length} outputs; got ${describeValue(first)}`,
      );
    }
    return first.map((_, i) =>
      stackTree(
        lanes.map((l) => (l as unknown[])[i]),
        (outAxes as Axis[])[i],
        `output ${i}`,
        where,
      ),
    );
  }
  return stackTree(lanes, outAxes as Axis, 'output', where);
}

function stackTree(lanes: readonly unknown[], axis: Axis, what: string, where: string): unknown {
  const flats = lanes.map((l) => flattenTree(l));
  const bad = flats.findIndex((f) => f.structure !== flats[0].structure);
  if (bad >= 0) {
    throw new TransformError(
      `${where}: the ${what} has a different structure in lane ${bad} than in lane 0`,
    );
  }
  const stacked = flats[0].leaves.map((leaf0, j) => {
    const vals = flats.map((f) => f.leaves[j]);
    const label = flats[0].structure === '*' ? what : `${what} leaf ${j}`;
    if (axis === null) {
      const k = vals.findIndex((v) => !sameValue(vals[0], v));
      if (k >= 0) {
        throw new BatchAxisError(
          `${where}: the ${label} differs between lanes 0 and ${k}, but its outAxes is null`,
        );
      }
      return isTensor(leaf0) ? tf.clone(leaf0) : leaf0;
    }
    if (vals.every(isTensor)) return stackLeaf(vals as tf.Tensor[], axis, `the ${label}`, where);
    if (vals.every((v) => typeof v === 'number')) {
      normalizeAxis(axis, 1, `the ${label} (a number)`, where);
      return tf.tensor1d(vals as number[]);
    }
    if (vals.every((v) => v === vals[0])) return leaf0;
    throw new TransformError(
      `${where}: the ${label} is ${describeValue(leaf0)}, which cannot be stacked across lanes`,
    );
  });
  return flats[0].rebuild(stacked);
}

/** Stack an out-state's per-lane values along its axis. */
function stackStateLanes(
  lanes: readonly StateValue[],
  d: DeclaredState,
  where: string,
): StateValue {
  const sig = treeSignature(lanes[0]);
  const bad = lanes.findIndex((v) => treeSignature(v) !== sig);
  if (bad >= 0) {
    throw new TransformError(
      `${where}: out-state ${d.state.describe()} holds ${sig} in lane 0 but ${treeSignature(lanes[bad])} in lane ${bad}`,
    );
  }
  const perLane = lanes.map((v) => leaves(v));
  if (perLane[0].some((l) => !isTensor(l))) {
    throw new TransformError(
      `${where}: out-state ${d.state.describe()} (${d.label}) must hold tensors to be stacked, got ${sig}`,
    );
  }
  let j = 0;
  return fillLeaves(lanes[0], () => {
    const idx = j++;
    return stackLeaf(
      perLane.map((ls) => ls[idx] as tf.Tensor),
      d.axis,
      `out-state ${d.state.describe()}`,
      where,
    );
  }) as StateValue;
}
