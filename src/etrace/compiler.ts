/**
 * The etrace compiler (spec brainscale §2): record ONE step of a model as a Program (the IR of
 * src/compile), then find on its equations
 *   - hidden groups: hidden states whose old value reaches another's new value without passing an
 *     interaction weight op or a stop-gradient (union–find, §2.2);
 *   - weight → group relations: from each weight-op call's y along non-weight paths to the new
 *     values of hidden states (§2.3);
 *   - per group, the slice of the step that maps (old hidden values, weight-op outputs) to new
 *     hidden values: the executor differentiates it every step for the diagonal Jacobian D and
 *     for df = ∂h/∂y.
 * Everything is ordered by first appearance in the step, so the numbering is deterministic.
 * Errors are the typed ones of §2.6, each naming the state or parameter and what to change.
 */
import { tf } from '../backend/tf';
import { StatefulFunction } from '../compile/statefulFunction';
import type { Equation, Program, Var } from '../compile/program';
import { CompilationError, NotSupportedError } from '../errors';
import { iterLeaf, type Path } from '../graph';
import { HiddenGroupState, HiddenState, ParamState, ShortTermState, State } from '../state';
import type { StateValue } from '../state/tree';
import type { ETraceOp } from './op';
import { ETraceParam } from './params';
import type { GraphView } from './picture';

type AnyState = State<StateValue>;

/** Kernels that mix elements across neurons: not allowed on a hidden group's own transition. */
const MIXING = new Set([
  'Sum',
  'Mean',
  'Max',
  'Min',
  'Prod',
  'All',
  'Any',
  'ArgMax',
  'ArgMin',
  'Cumsum',
  'Cumprod',
  'MatMul',
  'BatchMatMul',
  '_FusedMatMul',
  'Conv1D',
  'Conv2D',
  'Conv3D',
  'DepthwiseConv2dNative',
  'FusedConv2D',
  'FusedDepthwiseConv2D',
  'Softmax',
  'LogSoftmax',
  'Transpose',
  'Reverse',
  'MaxPool',
  'AvgPool',
  'MaxPool3D',
  'AvgPool3D',
  'TopK',
  'Einsum',
  'Tile',
  'BstCSREvent',
  'BstEventMatMul',
  'BstEventMatMulT',
  'UnsortedSegmentSum',
  'SparseToDense',
  'ScatterNd',
  'GatherNd',
]);

/** A hidden state of the step. */
export interface HiddenInfo {
  readonly state: HiddenState;
  readonly path: Path;
  /** Var of the value read at the start of the step (null if never read). */
  readonly oldVar: Var | null;
  /** Var of the value written (the last write). */
  readonly newVar: Var;
  /** Number of slots (1, or the last axis of a HiddenGroupState). */
  readonly numState: number;
  readonly varshape: readonly number[];
  /** First equation that reads the old or produces the new value. */
  readonly appearance: number;
}

/** A hidden group: members in order of appearance, their slots concatenated. */
export interface HiddenGroup {
  readonly index: number;
  readonly members: readonly HiddenInfo[];
  /** Total slots S. */
  readonly numState: number;
  readonly varshape: readonly number[];
  /** Equations of the transition (old values and weight-op outputs → new values), in order. */
  readonly slice: readonly Equation[];
  /** Vars the slice consumes that it does not compute (values captured per step). */
  readonly externals: readonly Var[];
  /** Relations feeding this group. */
  relations: HiddenParamOpRelation[];
}

/** One weight-op call and the groups its output reaches. */
export interface HiddenParamOpRelation {
  readonly index: number;
  readonly param: ETraceParam;
  readonly path: Path;
  readonly op: ETraceOp;
  readonly xVar: Var | null;
  readonly yVar: Var;
  readonly groups: readonly HiddenGroup[];
}

/** The compiled graph of one model step. */
export interface ETraceGraph {
  readonly program: Program;
  /** Top-level kernel names, to check that later steps run the same kernels. */
  readonly kernels: readonly string[];
  readonly hidden: readonly HiddenInfo[];
  readonly groups: readonly HiddenGroup[];
  readonly relations: readonly HiddenParamOpRelation[];
  /** Short-term states the step reads or writes that are in no group. */
  readonly dynamicStates: readonly { readonly state: AnyState; readonly path: Path }[];
  /** Trainable parameters used in the step that have no relation. */
  readonly nonEtraceParams: readonly {
    readonly state: ParamState<StateValue>;
    readonly path: Path;
  }[];
  /** Ordinals of every var the executor needs each step. */
  readonly keep: ReadonlySet<number>;
  /** Messages about dropped connections and non-etrace weights. */
  readonly warnings: readonly string[];
}

/** `('layers', 0, 'r', 'V')` — a path as Python prints a tuple. */
export function pathTuple(path: Path): string {
  const parts = path.map((k) => (typeof k === 'number' ? String(k) : `'${k}'`));
  return parts.length === 1 ? `(${parts[0]},)` : `(${parts.join(', ')})`;
}

function describeState(s: AnyState, paths: Map<AnyState, Path>): string {
  const p = paths.get(s);
  return p ? pathTuple(p) : s.describe();
}

/** Paths of every state reachable from the model. */
function statePaths(model: object): Map<AnyState, Path> {
  const out = new Map<AnyState, Path>();
  for (const [path, v] of iterLeaf(model)) if (v instanceof State) out.set(v, path);
  return out;
}

class UnionFind {
  private parent: number[];
  constructor(n: number) {
    this.parent = Array.from({ length: n }, (_, i) => i);
  }
  find(i: number): number {
    while (this.parent[i] !== i) {
      this.parent[i] = this.parent[this.parent[i]];
      i = this.parent[i];
    }
    return i;
  }
  union(a: number, b: number): void {
    const ra = this.find(a);
    const rb = this.find(b);
    if (ra !== rb) this.parent[Math.max(ra, rb)] = Math.min(ra, rb);
  }
}

interface OpCall {
  readonly param: ETraceParam;
  readonly op: ETraceOp;
  readonly xVar: Var | null;
  readonly yVar: Var;
  /** Top-level equations [begin, end) are the op's own kernels. */
  readonly begin: number;
  readonly end: number;
}

function opCalls(program: Program): OpCall[] {
  const calls: OpCall[] = [];
  const open: number[] = [];
  for (const a of program.annotations) {
    if (a.kind === 'weightOpBegin') open.push(a.at);
    else if (a.kind === 'weightOp') {
      const begin = open.pop() ?? a.at;
      const hasX = a.data.hasX === true;
      calls.push({
        param: a.data.param as ETraceParam,
        op: a.data.op as ETraceOp,
        xVar: hasX ? a.vars[0] : null,
        yVar: hasX ? a.vars[1] : a.vars[0],
        begin,
        end: a.at,
      });
    }
  }
  return calls;
}

export interface CompileOptions {
  /** Name used in messages. */
  name?: string;
}

/**
 * Record one step `model.update(...args)` (states are left unchanged) and analyse it.
 */
export function compileETraceGraph(
  model: object,
  args: readonly unknown[],
  options: CompileOptions = {},
): ETraceGraph {
  const update = (model as { update?: unknown }).update;
  if (typeof update !== 'function') {
    throw new CompilationError(
      `compileGraph: the model must be a Module with an update(x) step, got ${typeof model}`,
    );
  }
  const name = options.name ?? `${model.constructor.name}.update`;
  const sf = new StatefulFunction((...a: unknown[]) => update.apply(model, a), { name });
  const entry = sf.compile(...args);
  const program = entry.program;
  const paths = statePaths(model);
  const label = (s: AnyState): string => describeState(s, paths);

  // -- parameters must not be written in the step
  entry.states.forEach((s, i) => {
    if (entry.written[i] && s instanceof ParamState) {
      throw new NotSupportedError(
        `compileGraph: the step writes the parameter ${label(s)}; parameters must not change inside a ` +
          `model step (update them with an optimizer between steps)`,
      );
    }
  });

  const eqs = program.equations;
  const producerIndex = new Map<Var, number>();
  eqs.forEach((e, i) => e.outputs.forEach((o) => producerIndex.set(o, i)));
  const firstUse = new Map<Var, number>();
  eqs.forEach((e, i) => {
    for (const [, v] of e.inputs) if (!firstUse.has(v)) firstUse.set(v, i);
    if (e.bodyOutputs) for (const v of e.bodyOutputs) if (!firstUse.has(v)) firstUse.set(v, i);
  });

  // -- hidden states: old var (input), new var (output)
  const hidden: HiddenInfo[] = [];
  for (const s of entry.states) {
    if (!(s instanceof HiddenState)) continue;
    const input = program.inputs.find((i) => i.source.kind === 'state' && i.source.state === s);
    const outs = program.outputs.filter((o) => o.target.kind === 'state' && o.target.state === s);
    const output = outs[outs.length - 1];
    if (!output) {
      throw new CompilationError(
        `compileGraph: the hidden state ${label(s)} is read but never written in the step; a hidden ` +
          `state must be updated every step (or make it a plain ShortTermState/LongTermState)`,
      );
    }
    const oldVar = input?.var ?? null;
    const appearance = Math.min(
      oldVar ? (firstUse.get(oldVar) ?? Infinity) : Infinity,
      producerIndex.get(output.var) ?? Infinity,
    );
    hidden.push({
      state: s,
      path: paths.get(s) ?? [s.describe()],
      oldVar,
      newVar: output.var,
      numState: s instanceof HiddenGroupState ? s.numState : 1,
      varshape: s.varshape,
      appearance: Number.isFinite(appearance) ? appearance : eqs.length,
    });
  }
  hidden.sort((a, b) => a.appearance - b.appearance);
  const oldOf = new Map<Var, HiddenInfo>();
  const newOf = new Map<Var, HiddenInfo>();
  for (const h of hidden) {
    if (h.oldVar) oldOf.set(h.oldVar, h);
    newOf.set(h.newVar, h);
  }

  // -- one hidden state per equation (spec §2.6)
  for (const e of eqs) {
    const raw = e.inputs.filter(([, v]) => oldOf.has(v)).map(([, v]) => oldOf.get(v)!);
    if (raw.length > 1) {
      const names = raw.map((h) => pathTuple(h.path)).join(' and ');
      throw new CompilationError(
        `compileGraph: the kernel ${e.kernel} reads ${names} directly; only one hidden state may enter ` +
          `a single operation. Pass one operand through an intermediate operation first (e.g. ` +
          `multiply it by 1, or compute a derived value such as the spike) before combining them`,
      );
    }
  }

  // -- weight-op calls
  const calls = opCalls(program);
  const internalOf = new Map<number, OpCall>();
  for (const c of calls) {
    if (!paths.has(c.param)) {
      throw new CompilationError(
        `compileGraph: a weight op (${c.op.name}) uses an ETraceParam that is not an attribute of the ` +
          `model (${c.param.describe()}); keep parameters inside the model's modules`,
      );
    }
    if (c.op.kind === 'interaction') for (let i = c.begin; i < c.end; i++) internalOf.set(i, c);
  }
  const cut = (i: number): boolean => eqs[i].kernel === 'BstStopGradient' || internalOf.has(i);

  // Forward reach from some vars, over equations from `start`, skipping cut equations.
  const reach = (from: Iterable<Var>, start = 0, skip?: (i: number) => boolean): Set<Var> => {
    const live = new Set<Var>(from);
    for (let i = start; i < eqs.length; i++) {
      if (cut(i) || skip?.(i)) continue;
      const e = eqs[i];
      if (e.inputs.some(([, v]) => live.has(v))) for (const o of e.outputs) live.add(o);
    }
    return live;
  };

  // -- hidden groups (union–find over old → new element-wise paths)
  const idx = new Map<HiddenInfo, number>(hidden.map((h, i) => [h, i]));
  const uf = new UnionFind(hidden.length);
  const liveFromOld = new Map<HiddenInfo, Set<Var>>();
  for (const h of hidden) {
    if (!h.oldVar) continue;
    const live = reach([h.oldVar]);
    liveFromOld.set(h, live);
    for (const [v, other] of newOf) if (live.has(v)) uf.union(idx.get(h)!, idx.get(other)!);
  }
  const byRoot = new Map<number, HiddenInfo[]>();
  hidden.forEach((h, i) => {
    const r = uf.find(i);
    byRoot.set(r, [...(byRoot.get(r) ?? []), h]);
  });

  // -- relations: from each y forward to new hidden values
  const warnings: string[] = [];
  const relationTargets: { call: OpCall; reached: HiddenInfo[] }[] = [];
  for (const c of calls) {
    const live = reach([c.yVar], c.end, (i) => i < c.end);
    const reached = hidden.filter((h) => live.has(h.newVar));
    relationTargets.push({ call: c, reached });
  }

  // -- groups in order of appearance, with their slices
  const groupsRaw = [...byRoot.values()].sort((a, b) => a[0].appearance - b[0].appearance);
  const groups: HiddenGroup[] = groupsRaw.map((members, index) => {
    const shape = members[0].varshape;
    for (const m of members) {
      if (!tf.util.arraysEqual([...m.varshape], [...shape])) {
        throw new NotSupportedError(
          `compileGraph: the hidden states ${pathTuple(members[0].path)} (shape [${shape}]) and ` +
            `${pathTuple(m.path)} (shape [${m.varshape}]) depend on each other element-wise but have ` +
            `different shapes; states of one hidden group must have the same shape`,
        );
      }
    }
    return {
      index,
      members,
      numState: members.reduce((n, m) => n + m.numState, 0),
      varshape: shape,
      slice: [],
      externals: [],
      relations: [],
    };
  });
  const groupOf = new Map<HiddenInfo, HiddenGroup>();
  for (const g of groups) for (const m of g.members) groupOf.set(m, g);

  const relations: HiddenParamOpRelation[] = [];
  const isElementwise = (c: OpCall): boolean => c.op.kind === 'elementwise';
  for (const { call, reached } of relationTargets) {
    const touched: HiddenGroup[] = [];
    for (const h of reached) {
      const g = groupOf.get(h)!;
      if (touched.includes(g)) continue;
      const yShape = call.yVar.shape;
      const ok = isElementwise(call)
        ? broadcastsTo(yShape, g.varshape)
        : tf.util.arraysEqual([...yShape], [...g.varshape]);
      if (!ok) {
        warnings.push(
          `${pathTuple(paths.get(call.param)!)}: its ${call.op.name} output [${yShape}] reaches hidden ` +
            `group ${g.index} of shape [${g.varshape}]; the shapes differ, so the connection is dropped`,
        );
        continue;
      }
      touched.push(g);
    }
    touched.sort((a, b) => a.index - b.index);
    if (touched.length === 0) continue;
    const rel: HiddenParamOpRelation = {
      index: relations.length,
      param: call.param,
      path: paths.get(call.param)!,
      op: call.op,
      xVar: call.xVar,
      yVar: call.yVar,
      groups: touched,
    };
    relations.push(rel);
    for (const g of touched) g.relations.push(rel);
  }
  // a parameter loses its etrace status only if none of its calls reaches a hidden state
  for (const c of calls) {
    const has = relations.some((r) => r.param === c.param);
    c.param.isEtrace = has;
    if (!has && !warnings.some((w) => w.startsWith(pathTuple(paths.get(c.param)!) + ' '))) {
      warnings.push(
        `${pathTuple(paths.get(c.param)!)} is not associated with any hidden state; it is trained with ` +
          `the gradient of the current step only`,
      );
    }
  }

  // -- slices: old values and y's → new values, and the element-wise check
  const keep = new Set<number>();
  const ord = (v: Var): number => {
    const o = program.ordinals.get(v);
    if (o === undefined)
      throw new CompilationError(`compileGraph: internal: var ${v.id} has no ordinal`);
    return o;
  };
  for (const g of groups) {
    const sources = new Set<Var>();
    for (const m of g.members) if (m.oldVar) sources.add(m.oldVar);
    for (const r of g.relations) sources.add(r.yVar);
    const fwd = reach(sources, 0, (i) => internalOf.has(i));
    // backward from the new values, stopping at sources
    const back = new Set<Equation>();
    const seen = new Set<Var>();
    const stack = g.members.map((m) => m.newVar);
    while (stack.length) {
      const v = stack.pop()!;
      if (seen.has(v) || sources.has(v)) continue;
      seen.add(v);
      const pi = producerIndex.get(v);
      if (pi === undefined) continue;
      const e = eqs[pi];
      if (!e.outputs.some((o) => fwd.has(o))) continue; // constant for the slice
      back.add(e);
      for (const [, i] of e.inputs) stack.push(i);
    }
    const slice = eqs.filter((e) => back.has(e));
    const produced = new Set<Var>();
    for (const e of slice) for (const o of e.outputs) produced.add(o);
    const externals: Var[] = [];
    const addExternal = (v: Var): void => {
      if (!sources.has(v) && !produced.has(v) && !externals.includes(v)) externals.push(v);
    };
    for (const e of slice) for (const [, v] of e.inputs) addExternal(v);
    for (const m of g.members) addExternal(m.newVar);
    (g as { slice: readonly Equation[] }).slice = slice;
    (g as { externals: readonly Var[] }).externals = externals;
    for (const v of [...sources, ...externals]) keep.add(ord(v));

    // element-wise assumption on the group's own transition (old → new)
    for (const m of g.members) {
      if (!m.oldVar) continue;
      const live = liveFromOld.get(m)!;
      for (const e of slice) {
        if (!MIXING.has(e.kernel)) continue;
        if (e.inputs.some(([, v]) => live.has(v))) {
          throw new NotSupportedError(
            `compileGraph: the update of hidden group ${g.index} (${g.members
              .map((x) => pathTuple(x.path))
              .join(
                ', ',
              )}) passes ${pathTuple(m.path)} through ${e.kernel}, which mixes neurons; ` +
              `online learners assume element-wise hidden dynamics. Put the interaction in a weight ` +
              `op (an etrace Linear/Conv layer) or cut it with stopGradient`,
          );
        }
      }
    }
    for (const e of slice) {
      if (e.body) {
        warnings.push(
          `hidden group ${g.index}: its update runs a custom-gradient call; its Jacobian is taken ` +
            `through the forward kernels of that call, not through its custom gradient`,
        );
      }
    }
  }
  for (const r of relations) {
    keep.add(ord(r.yVar));
    if (r.xVar) keep.add(ord(r.xVar));
  }

  // -- dynamic states and non-etrace params
  const inGroup = new Set<AnyState>(hidden.map((h) => h.state));
  const dynamicStates = entry.states
    .filter((s) => s instanceof ShortTermState && !inGroup.has(s))
    .map((s) => ({ state: s, path: paths.get(s) ?? [s.describe()] }));
  const relParams = new Set(relations.map((r) => r.param as AnyState));
  const nonEtraceParams = entry.states
    .filter((s): s is ParamState<StateValue> => s instanceof ParamState && !relParams.has(s))
    .map((s) => ({ state: s, path: paths.get(s) ?? [s.describe()] }));

  return {
    program,
    kernels: eqs.map((e) => e.kernel),
    hidden,
    groups,
    relations,
    dynamicStates,
    nonEtraceParams,
    keep,
    warnings,
  };
}

function broadcastsTo(from: readonly number[], to: readonly number[]): boolean {
  if (from.length > to.length) return false;
  for (let i = 1; i <= from.length; i++) {
    const a = from[from.length - i];
    const b = to[to.length - i];
    if (a !== b && a !== 1) return false;
  }
  return true;
}

/** The brainscale text of a compiled graph (spec §2.7). */
export function graphText(g: ETraceGraph): string {
  const lines: string[] = ['='.repeat(120), 'The hidden groups are:', ''];
  for (const grp of g.groups) {
    lines.push(`   Group ${grp.index}: [${grp.members.map((m) => pathTuple(m.path)).join(', ')}]`);
  }
  lines.push('', '');
  if (g.dynamicStates.length) {
    lines.push('The dynamic (non-hidden) states are:', '');
    g.dynamicStates.forEach((d, i) => lines.push(`   Dynamic state ${i}: ${pathTuple(d.path)}`));
    lines.push('', '');
  }
  if (g.relations.length) {
    lines.push('The weight parameters which are associated with the hidden states are:', '');
    for (const r of g.relations) {
      const which =
        r.groups.length === 1
          ? `hidden group ${r.groups[0].index}`
          : `hidden groups [${r.groups.map((x) => x.index).join(', ')}]`;
      lines.push(`   Weight ${r.index}: ${pathTuple(r.path)}  is associated with ${which}`);
    }
    lines.push('', '');
  }
  if (g.nonEtraceParams.length) {
    lines.push('The non-etrace weight parameters are:', '');
    g.nonEtraceParams.forEach((p, i) => lines.push(`   Weight ${i}: ${pathTuple(p.path)}`));
    lines.push('', '');
  }
  return lines.join('\n');
}

/** The data of the graph picture (see picture.ts). */
export function graphView(g: ETraceGraph): GraphView {
  return {
    groups: g.groups.map((grp) => ({
      index: grp.index,
      states: grp.members.map((m) => ({
        path: pathTuple(m.path),
        shape: [...m.varshape],
        numState: m.numState,
      })),
    })),
    relations: g.relations.map((r) => ({
      index: r.index,
      param: pathTuple(r.path),
      op: r.op.name,
      shape: shapeText(r.param),
      groups: r.groups.map((x) => x.index),
    })),
    dynamicStates: g.dynamicStates.map((d) => pathTuple(d.path)),
    nonEtraceParams: g.nonEtraceParams.map((p) => pathTuple(p.path)),
  };
}

function shapeText(p: ETraceParam): string {
  const v = p.rawValue as unknown;
  if (v instanceof tf.Tensor) return `[${v.shape}]`;
  return Object.entries(v as Record<string, tf.Tensor>)
    .map(([k, t]) => `${k}[${t.shape}]`)
    .join(' ');
}
