/**
 * The IR interpreter: evaluate a Program, or the slice of it that some outputs need, on new
 * input values by dispatching the recorded kernels (`engine.runKernel` with the recorded attrs).
 * Results are bit-identical to eager execution, since the same kernels run on the same inputs.
 * customGrad equations are evaluated through their recorded forward body (forward values only).
 */
import { tf } from '../backend/tf';
import { TransformError } from '../errors';
import { tensorLeaves } from '../state/tree';
import type { Equation, Program, Var } from './program';

interface EngineRun {
  runKernel(
    name: string,
    inputs: Record<string, tf.Tensor>,
    attrs: Record<string, unknown>,
  ): tf.Tensor | tf.Tensor[];
}

/** True for a kernel recorded with a list of inputs (Concat, AddN, Pack): names '0', '1', …. */
export function takesList(e: Equation): boolean {
  return e.inputs.length > 0 && e.inputs.every(([k], i) => k === String(i));
}

/**
 * Dispatch one recorded (non-customGrad) equation on new input values, in its recorded input
 * order, with its recorded attrs; returns its outputs.
 */
export function runEquation(e: Equation, values: readonly tf.Tensor[]): tf.Tensor[] {
  let inputs: Record<string, tf.Tensor> | tf.Tensor[];
  if (takesList(e)) inputs = [...values];
  else {
    inputs = {};
    e.inputs.forEach(([k], i) => ((inputs as Record<string, tf.Tensor>)[k] = values[i]));
  }
  const out = (tf.engine() as unknown as EngineRun).runKernel(
    e.kernel,
    inputs as Record<string, tf.Tensor>,
    { ...e.attrs },
  );
  return Array.isArray(out) ? out : [out];
}

export interface EvaluateOptions {
  /** Only compute what these vars need (default: every program output). */
  outputs?: readonly Var[];
}

/**
 * Evaluate `program` with `env` giving tensors for its inputs (and for any inner var to cut the
 * program there: the slice upstream of a given var is not recomputed). Constants are rebuilt from
 * their recorded values; captured tensors are used if still alive. Returns a map of the requested
 * vars (default: the program outputs) to new tensors; intermediates are disposed.
 */
export function evaluate(
  program: Program,
  env: ReadonlyMap<Var, tf.Tensor>,
  options: EvaluateOptions = {},
): Map<Var, tf.Tensor> {
  const wanted = options.outputs ?? program.outputs.map((o) => o.var);
  const needed = neededEquations(program.equations, wanted, env);
  const constants = new Map(program.constants.map((c) => [c.var, c]));
  const captured = new Map(
    program.inputs
      .filter((i) => i.source.kind === 'captured')
      .map((i) => [i.var, (i.source as { tensor: tf.Tensor }).tensor]),
  );
  const values = new Map<Var, tf.Tensor>(env);
  const created: tf.Tensor[] = [];

  const valueOf = (v: Var): tf.Tensor => {
    const have = values.get(v);
    if (have) return have;
    const c = constants.get(v);
    if (c) {
      const t = tf.tensor(c.values as number[], v.shape as number[], v.dtype);
      created.push(t);
      values.set(v, t);
      return t;
    }
    const cap = captured.get(v);
    if (cap) {
      if (cap.isDisposed)
        throw new TransformError(
          `evaluate(${program.name}): a captured tensor (${v.type}) was disposed since recording`,
        );
      values.set(v, cap);
      return cap;
    }
    throw new TransformError(
      `evaluate(${program.name}): no value for input ${v.type} (var ${v.id}); pass it in env`,
    );
  };

  const run = (eqs: readonly Equation[]): void => {
    for (const e of eqs) {
      if (!needed.has(e)) continue;
      if (e.body) {
        run(e.body);
        e.outputs.forEach((o, i) => values.set(o, valueOf(e.bodyOutputs![i])));
        continue;
      }
      const outs = runEquation(
        e,
        e.inputs.map(([, v]) => valueOf(v)),
      );
      outs.forEach((t, i) => {
        values.set(e.outputs[i], t);
        created.push(t);
      });
    }
  };
  run(program.equations);

  const result = new Map<Var, tf.Tensor>();
  const keep = new Set<tf.Tensor>();
  for (const v of wanted) {
    const t = valueOf(v);
    result.set(v, t);
    keep.add(t);
  }
  for (const t of created) if (!keep.has(t)) t.dispose();
  return result;
}

/** The equations (at any nesting level) needed to compute `wanted`, stopping at vars in `given`. */
function neededEquations(
  top: readonly Equation[],
  wanted: readonly Var[],
  given: ReadonlyMap<Var, tf.Tensor>,
): Set<Equation> {
  const producer = new Map<Var, Equation[]>(); // chain: outer eq, then inner body eqs
  const index = (eqs: readonly Equation[], parents: Equation[]): void => {
    for (const e of eqs) {
      for (const o of e.outputs) producer.set(o, [...parents, e]);
      if (e.body) index(e.body, [...parents, e]);
    }
  };
  index(top, []);
  const needed = new Set<Equation>();
  const seen = new Set<Var>();
  const visit = (v: Var): void => {
    if (seen.has(v) || given.has(v)) return;
    seen.add(v);
    const chain = producer.get(v);
    if (!chain) return;
    for (const e of chain) {
      if (needed.has(e)) continue;
      needed.add(e);
      for (const [, i] of e.inputs) visit(i);
      if (e.bodyOutputs) e.bodyOutputs.forEach(visit);
    }
  };
  wanted.forEach(visit);
  // a needed customGrad runs its whole body
  const addBody = (eqs: readonly Equation[]): void => {
    for (const e of eqs) {
      if (e.body && needed.has(e)) {
        for (const b of e.body) needed.add(b);
        addBody(e.body);
      } else if (e.body) addBody(e.body);
    }
  };
  addBody(top);
  return needed;
}

/** Build the env for a whole-program evaluation from the current state values and new arguments. */
export function inputEnv(
  program: Program,
  args: ReadonlyMap<string, tf.Tensor>,
): Map<Var, tf.Tensor> {
  const env = new Map<Var, tf.Tensor>();
  for (const i of program.inputs) {
    const s = i.source;
    if (s.kind === 'arg') {
      const t = args.get(s.path);
      if (!t) throw new TransformError(`evaluate(${program.name}): missing argument '${s.path}'`);
      env.set(i.var, t);
    } else if (s.kind === 'state') {
      const leaves = tensorLeaves(s.state.rawValue);
      env.set(i.var, leaves[s.leaf]);
    }
  }
  return env;
}
