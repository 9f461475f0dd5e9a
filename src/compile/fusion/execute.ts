/**
 * A reference executor for a fusion plan: run its steps in order, plain equations through the
 * recorded kernels (as the IR interpreter does) and groups through their registered fused kernels.
 * It shows how the pieces fit and lets tests compare a fused program with eager execution; a jit
 * replay would keep its buffers and kernels between calls instead of looking them up each time.
 */
import { tf } from '../../backend/tf';
import { TransformError } from '../../errors';
import { evaluate, runEquation } from '../interpreter';
import type { Var } from '../program';
import { compileGroup, runFused } from './kernel';
import type { FusionPlan } from './partition';

/**
 * Evaluate `plan.program` through the plan with `env` giving its inputs (as `evaluate` takes
 * them). Returns the program outputs' tensors (new tensors, or env tensors passed through);
 * intermediates are disposed.
 */
export function evaluatePlan(
  plan: FusionPlan,
  env: ReadonlyMap<Var, tf.Tensor>,
): Map<Var, tf.Tensor> {
  const program = plan.program;
  const values = new Map<Var, tf.Tensor>(env);
  const given = new Set(env.values());
  const created: tf.Tensor[] = [];
  const constants = new Map(program.constants.map((c) => [c.var, c]));
  const captured = new Map<Var, tf.Tensor>();
  for (const i of program.inputs)
    if (i.source.kind === 'captured') captured.set(i.var, i.source.tensor);
  const define = (v: Var, t: tf.Tensor): void => {
    values.set(v, t);
    if (!given.has(t) && !created.includes(t)) created.push(t);
  };
  const valueOf = (v: Var): tf.Tensor => {
    const have = values.get(v);
    if (have) return have;
    const c = constants.get(v);
    if (c) {
      const t = tf.tensor(c.values as number[], v.shape as number[], v.dtype);
      define(v, t);
      return t;
    }
    const cap = captured.get(v);
    if (cap && !cap.isDisposed) {
      values.set(v, cap);
      given.add(cap);
      return cap;
    }
    throw new TransformError(`evaluatePlan(${program.name}): no value for ${v.type} (var ${v.id})`);
  };

  for (const step of plan.steps) {
    if (step.kind === 'group') {
      const g = step.group;
      const outs = runFused(compileGroup(g), g.inputs.map(valueOf));
      outs.forEach((t, m) => define(g.outputs[m], t));
      continue;
    }
    const e = step.equation;
    if (e.body) {
      for (const [, v] of e.inputs) valueOf(v);
      const r = evaluate(program, values, { outputs: e.outputs });
      for (const [v, t] of r) define(v, t);
      continue;
    }
    runEquation(
      e,
      e.inputs.map(([, v]) => valueOf(v)),
    ).forEach((t, i) => define(e.outputs[i], t));
  }

  const result = new Map<Var, tf.Tensor>();
  const keep = new Set<tf.Tensor>();
  for (const o of program.outputs) {
    const t = valueOf(o.var);
    result.set(o.var, t);
    keep.add(t);
  }
  for (const t of created) if (!keep.has(t)) t.dispose();
  return result;
}
