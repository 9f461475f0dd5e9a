/**
 * Partition a recorded Program into fusion groups: maximal sets of fusable equations (ops.ts) that
 * one generated element-wise loop can compute, and the remaining equations, in an order that
 * respects every dependency.
 *
 * Greedy in program order. Open groups are keyed by loop size (the element count of their
 * outputs; size-1 equations join any group and are computed once, outside the loop). A fusable
 * equation joins the open group of its size (preferring one that produces its operands); an open
 * group is closed ("flushed", i.e. placed in the schedule at that point) as soon as anything
 * outside it — a non-fusable equation, or a fusable one going to another group — reads a value it
 * produces. A non-fusable equation that reads nothing from an open group is scheduled at once,
 * before the still-open groups, which may then go on to take equations that depend on it. So a
 * group's external inputs are always computed before the group runs, and no path leaves a group
 * through another step and comes back.
 *
 * A group's outputs are the values it produces that anything else reads (later steps, program
 * outputs, `keep`); its inputs are the values it reads that it does not produce, except scalar
 * constants, which are baked into the generated code (`constants`; not random draws, which a
 * replay redraws). Groups smaller than `minSize` equations, or with no outputs, are dissolved
 * back into plain equations.
 */
import { VarNames, type Equation, type Program, type Var } from '../program';
import { PASS_THROUGH, isFusable, operandsOf, sizeOf, tyOf } from './ops';

/** One fused element-wise kernel's worth of equations. */
export interface FusionGroup {
  /** Index in `FusionPlan.groups`. */
  readonly id: number;
  /** The fused equations, in program order. */
  readonly equations: readonly Equation[];
  /** Values read from outside (program inputs, constants, results of earlier steps), in first-use order. */
  readonly inputs: readonly Var[];
  /** Values produced here and needed elsewhere, in program order. */
  readonly outputs: readonly Var[];
  /** Scalar constants inlined into the code (their vars are not inputs). */
  readonly constants: ReadonlyMap<Var, number>;
  /** Elements of the loop: the size of the largest value produced (outputs have this size or 1). */
  readonly size: number;
}

/** One step of a fused schedule: a plain equation or a fusion group. */
export type FusionStep =
  | { readonly kind: 'equation'; readonly equation: Equation }
  | { readonly kind: 'group'; readonly group: FusionGroup };

/** The result of `partition`. */
export interface FusionPlan {
  readonly program: Program;
  /** Every top-level equation exactly once, grouped or not, in an executable order. */
  readonly steps: readonly FusionStep[];
  readonly groups: readonly FusionGroup[];
  /** The equations not in any group, in schedule order. */
  readonly unfused: readonly Equation[];
  /** Text summary (var names as in `program.toString()`). */
  toString(): string;
}

export interface PartitionOptions {
  /** Smallest number of equations worth a fused kernel (default 2). */
  minSize?: number;
  /** Vars that must stay materialized (become group outputs when produced inside a group). */
  keep?: Iterable<Var>;
  /** Bake scalar constants into the code (default true). */
  inlineConstants?: boolean;
}

interface OpenGroup {
  readonly order: number;
  readonly equations: Equation[];
  size: number;
  readonly produced: Set<Var>;
}

type Item = { kind: 'equation'; equation: Equation } | { kind: 'group'; group: OpenGroup };

/** Vars an equation reads, including those its customGrad body reads. */
function usedVars(eq: Equation, out: Var[] = []): Var[] {
  for (const [, v] of eq.inputs) out.push(v);
  if (eq.body) for (const b of eq.body) usedVars(b, out);
  if (eq.bodyOutputs) out.push(...eq.bodyOutputs);
  return out;
}

/** Vars whose values a fused equation reads (ZerosLike/OnesLike only read the shape). */
function valueOperands(eq: Equation): Var[] {
  if (eq.kernel === 'ZerosLike' || eq.kernel === 'OnesLike' || eq.kernel === 'Fill') return [];
  return operandsOf(eq);
}

/** Scalar constants that may be baked into code: size 1, numeric dtype, not a random draw. */
function inlinableConstants(program: Program): Map<Var, number> {
  const random = new Set<Var>();
  // random draws and environ inputs (environ.scalar) get new values on every replay
  for (const a of program.annotationsOf('random')) for (const v of a.vars) random.add(v);
  for (const a of program.annotationsOf('environInput')) for (const v of a.vars) random.add(v);
  const out = new Map<Var, number>();
  for (const c of program.constants) {
    const v = c.var;
    if (random.has(v) || tyOf(v.dtype) === null || sizeOf(v.shape) !== 1) continue;
    const x = c.values[0];
    if (typeof x !== 'number') continue;
    out.set(v, v.dtype === 'float32' ? Math.fround(x) : v.dtype === 'bool' ? (x !== 0 ? 1 : 0) : x);
  }
  return out;
}

/** Group fusable equations of `program` (see the file header). */
export function partition(program: Program, options: PartitionOptions = {}): FusionPlan {
  const minSize = options.minSize ?? 2;
  const inlined = options.inlineConstants === false ? new Map() : inlinableConstants(program);

  const open: OpenGroup[] = [];
  const items: Item[] = [];
  const producerOf = new Map<Var, OpenGroup>();
  let nextOrder = 0;

  const flush = (g: OpenGroup): void => {
    const i = open.indexOf(g);
    if (i < 0) return;
    open.splice(i, 1);
    items.push({ kind: 'group', group: g });
    for (const v of g.produced) producerOf.delete(v);
  };

  for (const eq of program.equations) {
    if (!isFusable(eq)) {
      for (const v of usedVars(eq)) {
        const h = producerOf.get(v);
        if (h) flush(h);
      }
      items.push({ kind: 'equation', equation: eq });
      continue;
    }
    const s = sizeOf(eq.outputs[0].shape);
    const reads = valueOperands(eq);
    const feeding = reads.map((v) => producerOf.get(v)).filter((g) => g !== undefined);
    const pick = (ok: (g: OpenGroup) => boolean): OpenGroup | undefined =>
      feeding.find(ok) ?? [...open].reverse().find(ok);
    let g = s === 1 ? pick(() => true) : (pick((x) => x.size === s) ?? pick((x) => x.size === 1));
    for (const h of feeding) if (h !== g) flush(h);
    if (g === undefined) {
      g = { order: nextOrder++, equations: [], size: s, produced: new Set() };
      open.push(g);
    }
    if (g.size === 1 && s > 1) g.size = s;
    g.equations.push(eq);
    for (const o of eq.outputs) {
      g.produced.add(o);
      producerOf.set(o, g);
    }
  }
  for (const g of [...open].sort((a, b) => a.order - b.order)) flush(g);

  // Who reads each var: the group (or plain equation) reading it.
  const readers = new Map<Var, Set<object>>();
  const addReader = (v: Var, who: object): void => {
    let s = readers.get(v);
    if (!s) readers.set(v, (s = new Set()));
    s.add(who);
  };
  for (const it of items) {
    if (it.kind === 'equation') for (const v of usedVars(it.equation)) addReader(v, it);
    else
      for (const e of it.group.equations) for (const v of valueOperands(e)) addReader(v, it.group);
  }
  const external = new Set<Var>(program.outputs.map((o) => o.var));
  for (const v of options.keep ?? []) external.add(v);

  const steps: FusionStep[] = [];
  const groups: FusionGroup[] = [];
  for (const it of items) {
    if (it.kind === 'equation') {
      steps.push(it);
      continue;
    }
    const g = it.group;
    const outputs: Var[] = [];
    for (const e of g.equations) {
      for (const o of e.outputs) {
        const rs = readers.get(o);
        const elsewhere = rs !== undefined && [...rs].some((r) => r !== g);
        if (elsewhere || external.has(o)) outputs.push(o);
      }
    }
    if (g.equations.length < minSize || outputs.length === 0) {
      for (const e of g.equations) steps.push({ kind: 'equation', equation: e });
      continue;
    }
    const inputs: Var[] = [];
    const constants = new Map<Var, number>();
    for (const e of g.equations) {
      for (const v of valueOperands(e)) {
        if (g.produced.has(v)) continue;
        const c = inlined.get(v);
        if (c !== undefined) constants.set(v, c);
        else if (!inputs.includes(v)) inputs.push(v);
      }
    }
    const group: FusionGroup = {
      id: groups.length,
      equations: g.equations,
      inputs,
      outputs,
      constants,
      size: g.size,
    };
    groups.push(group);
    steps.push({ kind: 'group', group });
  }
  const unfused = steps.flatMap((s) => (s.kind === 'equation' ? [s.equation] : []));
  return {
    program,
    steps,
    groups,
    unfused,
    toString: () => planToString(program, steps, groups.length),
  };
}

/** Names as `program.toString()` assigns them (same traversal order). */
function programNames(program: Program): VarNames {
  const names = new VarNames();
  for (const i of program.inputs) names.get(i.var);
  for (const c of program.constants) names.get(c.var);
  const walk = (eqs: readonly Equation[]): void => {
    for (const e of eqs) {
      e.outputs.forEach((v) => names.get(v));
      e.inputs.forEach(([, v]) => names.get(v));
      if (e.body) walk(e.body);
    }
  };
  walk(program.equations);
  return names;
}

function planToString(program: Program, steps: readonly FusionStep[], numGroups: number): string {
  const names = programNames(program);
  const list = (vs: readonly Var[]): string => vs.map((v) => names.get(v)).join(' ');
  const lines = [`fusion plan ${program.name}: ${numGroups} group(s), ${steps.length} step(s)`];
  for (const s of steps) {
    if (s.kind === 'equation') {
      const e = s.equation;
      lines.push(
        `  ${list(e.outputs)} = ${e.kernel} ${list(e.inputs.map(([, v]) => v))}`.trimEnd(),
      );
      continue;
    }
    const g = s.group;
    const consts = [...g.constants].map(([v, x]) => `${names.get(v)}=${x}`).join(' ');
    lines.push(
      `  fused#${g.id}[${g.size}] (${list(g.inputs)}) -> (${list(g.outputs)})` +
        (consts ? ` consts ${consts}` : ''),
    );
    for (const e of g.equations) {
      const mark = PASS_THROUGH.has(e.kernel) ? ' (pass-through)' : '';
      lines.push(
        `    ${list(e.outputs)} = ${e.kernel} ${list(e.inputs.map(([, v]) => v))}${mark}`.trimEnd(),
      );
    }
  }
  return lines.join('\n');
}
