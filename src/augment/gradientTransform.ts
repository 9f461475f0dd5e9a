/**
 * The machinery shared by grad, vectorGrad, jacrev, jacfwd and hessian (spec §4.1's
 * GradientTransform). Per call: the inputs to differentiate are the grad states' tensors (the
 * states already hold them, so reading `state.value` inside the function connects to the tape)
 * and the chosen arguments (cloned, so they are distinct from any state's tensor); the function
 * runs once, inside a StateTraceStack frame and the tfjs tape; afterwards every grad state must
 * have been read and none written, states written by the function keep the values of that
 * forward pass, and the results come back in the structure of the spec's table. On an exception
 * every touched state gets its value back. Intermediates are freed; results belong to the caller.
 */
import { tf } from '../backend/tf';
import { checkNoState } from '../compile/statefulFunction';
import { TransformError, describeValue } from '../errors';
import { State, StateTraceStack, ownerCount } from '../state';
import { isPlainObject, isStateValue, leaves, tensorLeaves, type StateValue } from '../state/tree';
import { parseStateCollection, type StateCollection } from './stateCollection';
import { jacobianColumns, jacobianRows, vjp, withTape } from './tape';
import { Carry, fillLeaves, hasNumberLeaf, tensorsOf } from './tensorTree';
import type { GradOptions } from './types';

type AnyState = State<StateValue>;

/** Which derivative a transform computes. */
export type GradMode = 'grad' | 'vectorGrad' | 'jacrev' | 'jacfwd' | 'hessian';

const OPTION_KEYS: readonly string[] = [
  'gradStates',
  'argnums',
  'hasAux',
  'returnValue',
  'checkStates',
];

/** `argnums` after validation: the indices, and whether a single index was given. */
interface Argnums {
  readonly list: readonly number[];
  readonly single: boolean;
}

function parseArgnums(argnums: unknown, where: string): Argnums | null {
  if (argnums === undefined || argnums === null) return null;
  const single = !Array.isArray(argnums);
  const list = single ? [argnums] : (argnums as unknown[]);
  for (const n of list) {
    if (typeof n !== 'number' || !Number.isInteger(n)) {
      throw new TransformError(
        `${where}: argnums must be a non-negative integer or an array of them, got ${describeValue(n)}`,
      );
    }
    if (n < 0) {
      throw new TransformError(
        `${where}: argnums must be non-negative, got ${n} (negative argument indices are not supported)`,
      );
    }
  }
  const dup = list.find((n, i) => list.indexOf(n) !== i);
  if (dup !== undefined)
    throw new TransformError(`${where}: argnums lists argument ${String(dup)} twice`);
  return { list: list as number[], single };
}

function parseFlag(
  options: GradOptions,
  key: 'hasAux' | 'returnValue' | 'checkStates',
  dflt: boolean,
  where: string,
): boolean {
  const v = options[key];
  if (v === undefined) return dflt;
  if (typeof v !== 'boolean') {
    throw new TransformError(`${where}: option ${key} must be a boolean, got ${describeValue(v)}`);
  }
  return v;
}

/** Where each differentiated input came from, and how to rebuild a result around per-leaf values. */
interface Inputs {
  /** All differentiated tensors: the grad states' leaves, then the chosen arguments' leaves. */
  readonly xs: tf.Tensor[];
  /** The arguments to call the function with (chosen ones replaced by their clones). */
  readonly callArgs: unknown[];
  /** Tensors made for this call (argument clones), freed at the end. */
  readonly temps: tf.Tensor[];
  /** The grad state values (structure templates), one per unique state. */
  readonly stateTemplates: StateValue[];
  /** The chosen arguments (structure templates), one per argnum. */
  readonly argTemplates: StateValue[];
}

/**
 * Build a gradient transform of `fn`. The returned function computes, per `mode`, the gradient
 * of a scalar loss, the VJP with an all-ones cotangent, the Jacobian (reverse or forward mode) or
 * the Hessian, and returns it in the structure of spec §4.1's table.
 */
export function gradientTransform(
  fn: (...args: never[]) => unknown,
  options: GradOptions | undefined,
  mode: GradMode,
  name: string = mode,
): (...args: unknown[]) => unknown {
  if (typeof fn !== 'function') {
    throw new TransformError(`${name}: expected a function to transform, got ${describeValue(fn)}`);
  }
  const where = `${name}(${fn.name || 'fn'})`;
  const opts: GradOptions = options ?? {};
  if (!isPlainObject(options ?? {})) {
    throw new TransformError(`${where}: options must be an object, got ${describeValue(options)}`);
  }
  for (const k of Object.keys(opts)) {
    if (!OPTION_KEYS.includes(k)) {
      throw new TransformError(
        `${where}: unknown option '${k}' (expected one of ${OPTION_KEYS.join(', ')})`,
      );
    }
  }
  const collection: StateCollection | null =
    opts.gradStates === undefined || opts.gradStates === null
      ? null
      : parseStateCollection(opts.gradStates, 'gradStates', where);
  const givenArgnums = parseArgnums(opts.argnums, where);
  if (mode === 'hessian' && collection !== null && givenArgnums !== null) {
    throw new TransformError(
      `${where}: giving both gradStates and argnums is not supported by hessian (as upstream); ` +
        `differentiate with respect to states or to arguments`,
    );
  }
  const argnums: Argnums =
    givenArgnums ??
    (collection === null ? { list: [0], single: true } : { list: [], single: false });
  const hasAux = parseFlag(opts, 'hasAux', false, where);
  const returnValue = parseFlag(opts, 'returnValue', false, where);
  const checkStates = parseFlag(opts, 'checkStates', true, where);

  // Unique grad states in order, and where each position of the collection points.
  const uniqueStates: AnyState[] = [];
  const positionOf: number[] = [];
  const labelOf = new Map<AnyState, string>();
  for (const [i, s] of (collection?.states ?? []).entries()) {
    let u = uniqueStates.indexOf(s);
    if (u < 0) {
      u = uniqueStates.push(s) - 1;
      labelOf.set(s, collection!.labels[i]);
    }
    positionOf.push(u);
  }
  const describeState = (s: AnyState): string => `${s.describe()} (${labelOf.get(s)})`;

  /** Prepare the tensors to differentiate with respect to. */
  const prepareInputs = (args: unknown[]): Inputs => {
    for (const n of argnums.list) {
      if (n >= args.length) {
        throw new TransformError(
          `${where}: argnums ${n} is out of range: the function was called with ${args.length} argument${args.length === 1 ? '' : 's'}`,
        );
      }
    }
    args.forEach((a, i) => checkNoState(a, where, `argument ${i}`));
    for (const n of argnums.list) {
      const a = args[n];
      if (!isStateValue(a)) {
        throw new TransformError(
          `${where}: argument ${n} must be a tensor, a number, or arrays/plain objects of them to be differentiated; got ${describeValue(a)}`,
        );
      }
      const bad = tensorLeaves(a).find((t) => t.dtype !== 'float32');
      if (bad) {
        throw new TransformError(
          `${where}: argument ${n} must be float32 to be differentiated, got a ${bad.dtype} tensor of shape [${bad.shape.join(',')}]`,
        );
      }
    }
    const xs: tf.Tensor[] = [];
    const temps: tf.Tensor[] = [];
    const seen = new Set<tf.Tensor>();
    const stateTemplates: StateValue[] = [];
    for (const s of uniqueStates) {
      let v = s.rawValue;
      if (hasNumberLeaf(v) || tensorLeaves(v).some((t) => t.dtype !== 'float32')) {
        throw new TransformError(
          `${where}: cannot differentiate with respect to ${describeState(s)}: its value must be float32 tensors, got ${s.toString()}`,
        );
      }
      // Two inputs holding one tensor could not be told apart on the tape: give this state its own
      // handle (a clone shares the data) when the tensor is shared with another state or input.
      if (tensorLeaves(v).some((t) => seen.has(t) || ownerCount(t) > 1)) {
        s.restoreValue(fillLeaves(v, makeCloner(tensorLeaves(v))) as StateValue);
        v = s.rawValue;
      }
      for (const t of tensorLeaves(v)) {
        seen.add(t);
        xs.push(t);
      }
      stateTemplates.push(v);
    }
    const callArgs = [...args];
    const argTemplates: StateValue[] = [];
    for (const n of argnums.list) {
      const a = args[n] as StateValue;
      const clones = leaves(a).map((l) =>
        l instanceof tf.Tensor ? tf.clone(l) : tf.scalar(l, 'float32'),
      );
      let i = 0;
      const converted = fillLeaves(a, () => clones[i++]) as StateValue;
      temps.push(...clones);
      xs.push(...clones);
      callArgs[n] = converted;
      argTemplates.push(converted);
    }
    return { xs, callArgs, temps, stateTemplates, argTemplates };
  };

  /** Rebuild the table's core from one value per differentiated leaf. */
  const buildCore = <V>(inputs: Inputs, perLeaf: readonly V[]): unknown => {
    let k = 0;
    const next = (): V => perLeaf[k++];
    const perState = inputs.stateTemplates.map((tpl) => fillLeaves(tpl, next));
    const perArg = inputs.argTemplates.map((tpl) => fillLeaves(tpl, next));
    const stateGrads = collection?.rebuild(positionOf.map((u) => perState[u]));
    const argGrads = argnums.single ? perArg[0] : perArg;
    if (collection === null) return argGrads;
    return givenArgnums === null ? stateGrads : [stateGrads, argGrads];
  };

  /** After the function ran: every grad state read (or checkStates off), none written. */
  const checkStateUse = (frame: StateTraceStack): void => {
    const missing = uniqueStates.filter((s) => !frame.has(s));
    if (missing.length > 0 && checkStates) {
      throw new TransformError(
        `${where}: some gradStates are not read by the function, so it does not depend on them. ` +
          `Missing states: ${missing.map(describeState).join(', ')}. ` +
          `Pass checkStates: false to get zero gradients for them.`,
      );
    }
    for (const s of uniqueStates) {
      if (frame.wasWritten(s)) {
        throw new TransformError(
          `${where}: cannot take the gradient with respect to ${describeState(s)} because the function writes it; ` +
            `differentiate with respect to states the function only reads`,
        );
      }
    }
  };

  /** Split `[loss, aux]`, check the output for this mode, and return it. */
  const splitOutput = (raw: unknown): { out: unknown; aux: unknown } => {
    let out = raw;
    let aux: unknown = undefined;
    if (hasAux) {
      if (!Array.isArray(raw) || raw.length !== 2) {
        throw new TransformError(
          `${where}: with hasAux: true the function must return a [loss, aux] pair, got ${describeValue(raw)}`,
        );
      }
      [out, aux] = raw;
      checkNoState(aux, where, 'auxiliary outputs');
    }
    checkNoState(out, where);
    const tensorOut = (): tf.Tensor => {
      if (!(out instanceof tf.Tensor)) {
        throw new TransformError(
          `${where}: the function must return one tensor${hasAux ? ' as the first element of [loss, aux]' : ''}, got ${describeValue(out)}` +
            (hasAux ? '' : '; use hasAux: true to return extra outputs'),
        );
      }
      if (out.dtype !== 'float32') {
        throw new TransformError(
          `${where}: the function's output must be float32 to be differentiated, got ${out.dtype}`,
        );
      }
      return out;
    };
    if (mode === 'grad' || mode === 'hessian') {
      const y = tensorOut();
      if (y.rank !== 0) {
        throw new TransformError(
          `${where}: the loss must be a scalar (shape []), got shape [${y.shape.join(',')}]; ` +
            `use vectorGrad for the VJP with an all-ones cotangent, or jacrev for the full Jacobian`,
        );
      }
    } else if (mode === 'jacrev' || mode === 'jacfwd') {
      tensorOut();
    } else {
      const ts = tensorsOf(out);
      if (ts.length === 0) {
        throw new TransformError(
          `${where}: the function must return a tensor or a tree of tensors, got ${describeValue(out)}`,
        );
      }
      const bad = ts.find((t) => t.dtype !== 'float32');
      if (bad)
        throw new TransformError(
          `${where}: the function's outputs must be float32, got ${bad.dtype}`,
        );
    }
    return { out, aux };
  };

  return (...args: unknown[]): unknown => {
    const inputs = prepareInputs(args);
    const { xs } = inputs;
    const carry = new Carry();
    const frame = new StateTraceStack({ name: where });
    let out: unknown;
    let aux: unknown;
    let perLeaf: unknown[];
    const run = (): unknown => {
      const split = splitOutput(fn(...(inputs.callArgs as never[])));
      checkStateUse(frame);
      out = carry.hold(split.out);
      aux = carry.hold(split.aux);
      return split.out;
    };
    frame.enter();
    try {
      if (mode === 'grad') {
        const { grads } = vjp(() => run() as tf.Tensor, xs);
        perLeaf = xs.map((x, i) => grads[i] ?? tf.zerosLike(x));
      } else if (mode === 'vectorGrad') {
        // The VJP with an all-ones cotangent is the gradient of the sum of every output element.
        const { value, grads } = vjp(() => {
          const ts = tensorsOf(run());
          return ts.length === 1 ? ts[0] : tf.addN(ts.map((t) => tf.sum(t)));
        }, xs);
        if (!tensorsOf(out).includes(value)) value.dispose();
        perLeaf = xs.map((x, i) => grads[i] ?? tf.zerosLike(x));
      } else if (mode === 'jacrev' || mode === 'jacfwd') {
        perLeaf = withTape(() => {
          const y = run() as tf.Tensor;
          return carry.hold(mode === 'jacrev' ? jacobianRows(y, xs) : jacobianColumns(y, xs));
        });
      } else {
        // Reverse over reverse: the gradient is recorded on the tape, then each of its elements
        // is differentiated again (Hessian rows).
        perLeaf = withTape(() => {
          const loss = run() as tf.Tensor;
          const { grads } = vjp(() => loss, xs);
          return xs.map((xa, a) => {
            const g = grads[a];
            const row = g
              ? jacobianRows(g, xs)
              : xs.map((xb) => tf.zeros([...xa.shape, ...xb.shape]));
            return carry.hold(row);
          });
        });
      }
    } catch (e) {
      frame.recoveryOriginalValues();
      carry.releaseAll();
      tf.dispose(inputs.temps);
      throw e;
    } finally {
      frame.exit();
    }
    const handed =
      mode === 'jacrev' || mode === 'jacfwd' || mode === 'hessian'
        ? (carry.handOver(perLeaf) as unknown[])
        : perLeaf;
    const core =
      mode === 'hessian'
        ? buildCore(
            inputs,
            handed.map((row) => buildCore(inputs, row as tf.Tensor[])),
          )
        : buildCore(inputs, handed);
    const value = returnValue ? carry.handOver(out) : undefined;
    const auxOut = hasAux ? carry.handOver(aux) : undefined;
    carry.releaseAll();
    tf.dispose(inputs.temps);
    if (hasAux) return returnValue ? [core, value, auxOut] : [core, auxOut];
    return returnValue ? [core, value] : core;
  };
}

/** Replaces each leaf of a state value by a clone of the next of `ts` (for fillLeaves). */
function makeCloner(ts: tf.Tensor[]): () => tf.Tensor {
  let i = 0;
  return () => tf.clone(ts[i++]);
}
