/**
 * Online learners (spec brainscale §3): D_RTRL (parameter-dimension traces), ES_D_RTRL
 * (input/output-dimension traces) and HybridDimVjpAlgorithm, over a model step compiled by
 * compiler.ts.
 *
 * The rule, for one call `alg.update(x)` (one step, or a window of steps given as MultiStepData):
 *
 *     ∇θ L_window = (∂L_window/∂h^{t0−1}) · ε^{t0−1}  +  ∂L_window/∂θ |_{h^{t0−1} fixed}
 *
 * where ε^{t0−1} ≈ dh^{t0−1}/dθ is the eligibility trace before the window. The second term is
 * ordinary backprop through the window's steps (the caller's `grad` does it on the tape); the first
 * enters through one custom-gradient node per hidden group that sits on the old hidden values: its
 * gradient receives ∂L/∂h^{t0−1} and returns the contraction of that signal with the traces.
 * With a one-step window ("single-step") every path of the step is counted exactly once, so for
 * element-wise recurrence D_RTRL equals BPTT — including groups where one state feeds another in
 * the same step (an Expon synapse driving a membrane), where upstream's learning signal counts
 * the intra-step path twice (spec §2.4 "Measured defect"). With the whole sequence as one window
 * the traces are zero and every algorithm returns the BPTT gradient.
 *
 * After each step the executor differentiates each group's transition slice of the recorded step
 * (S backward passes for S states) to get D = ∂h^t/∂h^{t−1} (element-wise, [..., S, S]) and
 * df = ∂h^t/∂y for each weight op y feeding the group, and updates the traces:
 *     D-RTRL:    ε_s ← Σ_j D[s, j]·ε_j + φ(x, df_s)                       (exact trace, per op)
 *     ES-D-RTRL: x̄ ← α·x̄ + x,  f̄ ← α·D f̄ + (1−α)·df,  ε ≈ x̄ ⊗ f̄ / (1 − α^k)
 * (k = number of updates in the trace; the start-up correction can be switched off).
 *
 * Speed (traceKernels.ts): where the kernels run (wasm, cpu), dense traces of one-slot groups are
 * updated by one fused pass into buffers the algorithm owns (pooled; a buffer is written only when
 * no state owns it and no live gradient tape captured it), so nothing is allocated per step; the
 * gradient reads those buffers by reference instead of tfjs's saved copies. The D-RTRL step of
 * such a trace is deferred: the gradient of the step applies it in the same pass that contracts
 * the trace with the learning signal (one read and one write of the trace per step), and the next
 * update (or getEtraceOf) applies it when no gradient did. Values are bit-identical to the tfjs
 * ops; the contraction sums in another order (test/etrace/fused.test.ts).
 *
 * Subnormal trace values (|v| < 2⁻¹²⁶ ≈ 1.2e-38) are set to +0 on every update, by the kernels and
 * by the ops alike (traceKernels.ts flushSubnormal), as XLA's CPU backend does for brainscale
 * (flush-to-zero): a decaying trace would otherwise linger for ~150 steps as subnormals, whose
 * arithmetic is 10–100× slower on x86 (3.5 % of them in x̄ doubled the time of the ES weight
 * gradient in bench/online), and their contribution is below float32 resolution anyway.
 *
 * Compiled steps (jit): `jit` of a function that takes `grad` of a loss of `update(x)` records the
 * whole step — forward, Jacobians, trace updates, backward — and replays it fused. The traces, the
 * running index and the start-up correction are states or device values, and while a recording
 * is on the in-place kernels, pooled buffers, deferred steps and cached Jacobians step aside, so
 * the recording holds every write (test/etrace/jit.test.ts).
 */
import { tf } from '../backend/tf';
import { engineState, gradientTapeActive, isolatedGradients } from '../backend/engine';
import { vmap } from '../augment/vmap';
import { runEquation } from '../compile/interpreter';
import type { Equation, Var } from '../compile/program';
import { flattenTensors, isRecording, startRecording, stopRecording } from '../compile/recorder';
import {
  cancelNextCompiledCall,
  onNextCompiledCall,
  ownResults,
} from '../compile/statefulFunction';
import { ArgumentError, CompilationError, NotSupportedError } from '../errors';
import { ShortTermState, type State } from '../state';
import { acquire, ownerCount, release } from '../state/ownership';
import type { StateValue } from '../state/tree';
import {
  compileETraceGraph,
  graphText,
  graphView,
  pathTuple,
  type ETraceGraph,
  type HiddenGroup,
  type HiddenParamOpRelation,
} from './compiler';
import type { ETraceOp, ParamTree, TraceTree } from './op';
import { ETraceParam } from './params';
import { graphPicture, graphToDot, type GraphView } from './picture';
import { flushSubnormal, scaleAddInto } from './traceKernels';

/** The state class that holds eligibility traces inside an algorithm. */
export class EligibilityTrace<T extends StateValue = tf.Tensor> extends ShortTermState<T> {}

/** Marks an input as one time step (the default for plain tensors). */
export class SingleStepData {
  constructor(readonly data: tf.Tensor) {
    if (!(data instanceof tf.Tensor))
      throw new ArgumentError(`SingleStepData: expected a tensor, got ${typeof data}`);
  }
}

/** Marks an input whose leading axis is time: `update` runs one step per slice (a window). */
export class MultiStepData {
  constructor(readonly data: tf.Tensor) {
    if (!(data instanceof tf.Tensor) || data.rank < 1 || data.shape[0] < 1) {
      throw new ArgumentError(
        `MultiStepData: expected a tensor with a leading time axis of length ≥ 1, got ${
          data instanceof tf.Tensor ? `shape [${data.shape}]` : typeof data
        }`,
      );
    }
  }
  get length(): number {
    return this.data.shape[0];
  }
}

export type VjpMethod = 'single-step' | 'multi-step';

export interface AlgorithmOptions {
  /** A name for messages. */
  name?: string;
  /**
   * 'single-step' (default): each `update` is one step and takes its gradient with the traces.
   * 'multi-step': `update(new MultiStepData(xs))` backpropagates through the window and uses the
   * traces from before it. Both follow the same rule (see the file comment); the option only
   * decides how a plain tensor input is read (one step, or a window along axis 0).
   */
  vjpMethod?: VjpMethod;
}

type TraceMode = 'param' | 'io';

function toTree(w: StateValue): ParamTree {
  return w as unknown as ParamTree;
}

function leafKeys(w: ParamTree): string[] | null {
  return w instanceof tf.Tensor ? null : Object.keys(w);
}

function leavesOf(w: ParamTree): tf.Tensor[] {
  return w instanceof tf.Tensor ? [w] : Object.keys(w).map((k) => w[k]);
}

function rebuild(keys: string[] | null, leaves: tf.Tensor[]): ParamTree {
  if (keys === null) return leaves[0];
  const out: Record<string, tf.Tensor> = {};
  keys.forEach((k, i) => (out[k] = leaves[i]));
  return out;
}

function addTrees(a: ParamTree | null, b: ParamTree): ParamTree {
  if (a === null) return b;
  if (a instanceof tf.Tensor) {
    const s = tf.add(a, b as tf.Tensor);
    a.dispose();
    (b as tf.Tensor).dispose();
    return s;
  }
  const out: Record<string, tf.Tensor> = {};
  for (const k of Object.keys(a)) {
    const bk = (b as Record<string, tf.Tensor>)[k];
    out[k] = bk ? tf.add(a[k], bk) : a[k];
    if (bk) {
      a[k].dispose();
      bk.dispose();
    }
  }
  return out;
}

/** Slot s of a [..., S] tensor, as [...]. */
function slot(t: tf.Tensor, s: number): tf.Tensor {
  const S = t.shape[t.rank - 1];
  if (S === 1) return tf.reshape(t, t.shape.slice(0, -1));
  return tf.squeeze(tf.slice(t, [...Array(t.rank - 1).fill(0), s], [...t.shape.slice(0, -1), 1]), [
    t.rank - 1,
  ]);
}

/** Per-step Jacobians of one group. */
interface GroupJacobian {
  /** [..., S, S]: D[..., i, j] = ∂h_i^t/∂h_j^{t−1}. */
  readonly D: tf.Tensor;
  /** Per relation feeding the group: [..., S] = ∂h_s^t/∂y (hidden-shaped). */
  readonly df: Map<HiddenParamOpRelation, tf.Tensor>;
}

/**
 * Base of the online learners: compiles the model step, runs steps with trace updates, and
 * injects the trace term into the caller's gradient.
 */
export abstract class ETraceVjpAlgorithm {
  readonly model: object;
  readonly name: string;
  readonly vjpMethod: VjpMethod;
  /** The compiled graph (after compileGraph). */
  graph: ETraceGraph | null = null;
  /**
   * The number of trace updates since the last reset k, an int32 scalar state: a compiled step
   * (jit replay) advances it without running this class's JS. ES-D-RTRL's start-up correction
   * 1 − α^k is computed from it on the device.
   */
  private counter: ShortTermState<tf.Tensor>;
  /**
   * The same count kept in JS for the eager path's deferred trace steps (`pending`), which only
   * eager steps make; a compiled call applies them first (onNextCompiledCall).
   */
  private stepNo = 0;
  private readonly flushAll = (): void => this.flushPending();
  /**
   * Eligibility-trace states, by key. Read them through getEtraceOf: a D-RTRL trace step may be
   * pending (see `pending`), and fused traces are updated in place (valid until the next update).
   */
  readonly etraces = new Map<string, EligibilityTrace<StateValue>>();
  private needsCompile = false;
  /**
   * Buffers of D-RTRL traces updated in place by a fused kernel (ETraceOp.traceUpdateInto), per
   * trace key: slot trees owned by the algorithm (acquired). A buffer is written only when no
   * one else owns it (the trace state has moved on to another buffer) and no gradient tape
   * that is still live captured it in `inject` (its gradient would read it); see takeBuffer.
   */
  private readonly pool = new Map<string, TraceTree[]>();
  private readonly pooled = new WeakSet<tf.Tensor>();
  /** The tape (engine activeTape) on which `inject` captured a pooled trace tensor. */
  private readonly capturedOn = new WeakMap<tf.Tensor, unknown>();
  /**
   * Deferred D-RTRL trace steps (ε ← d⊙ε + φ(x, df)) of fused relations, by trace key: the
   * gradient of the step that made one (in `inject`'s gradient) applies it in the same pass over
   * the trace that computes the weight gradient; otherwise the next update (or a read of the
   * traces) applies it. The tensors are kept by the algorithm.
   */
  private readonly pending = new Map<
    string,
    {
      readonly step: number;
      readonly rel: HiddenParamOpRelation;
      readonly d: tf.Tensor;
      readonly x: tf.Tensor | null;
      readonly df: tf.Tensor;
    }
  >();
  /** > 0 while a transform that keeps state values without owning them runs (vmap's lanes). */
  private inPlaceOff = 0;
  /**
   * Jacobians of groups whose transition is affine in its sources with scalar coefficients (see
   * affineCoefficients): D and df do not depend on the step's values, only on the coefficients,
   * so they are computed once and reused while the coefficients are the same. Kept tensors.
   */
  private readonly constJac = new Map<
    HiddenGroup,
    { readonly coeffs: number[]; readonly jac: GroupJacobian }
  >();
  /** Per group: the coefficient vars of an affine transition, or null (not affine). */
  private readonly affine = new WeakMap<HiddenGroup, Var[] | null>();

  constructor(model: object, options: AlgorithmOptions = {}) {
    if (
      model === null ||
      typeof model !== 'object' ||
      typeof (model as { update?: unknown }).update !== 'function'
    ) {
      throw new ArgumentError(
        `${new.target.name}: the model must be a Module with an update(x) step, got ${
          model === null ? 'null' : typeof model
        }`,
      );
    }
    this.model = model;
    this.name = options.name ?? new.target.name;
    const m = options.vjpMethod ?? 'single-step';
    if (m !== 'single-step' && m !== 'multi-step') {
      throw new ArgumentError(
        `${this.name}: vjpMethod must be 'single-step' or 'multi-step', got '${String(m)}'`,
      );
    }
    this.vjpMethod = m;
    this.counter = this.newCounter();
  }

  private newCounter(): ShortTermState<tf.Tensor> {
    return new ShortTermState(tf.scalar(0, 'int32'), { name: `${this.name} running index` });
  }

  /** Number of trace updates since the last reset (read back from the device). */
  get runningIndex(): number {
    return this.counter.peekValue().dataSync()[0];
  }

  /** Count one trace update (JS and device). */
  private advance(): void {
    this.stepNo++;
    const c = this.counter;
    c.value = tf.tidy(() => tf.add(c.value, tf.scalar(1, 'int32')));
  }

  /** Restart the count at 0. */
  private resetCounter(): void {
    this.stepNo = 0;
    if (!(this.counter.peekValue() instanceof tf.Tensor)) this.counter = this.newCounter();
    else this.counter.value = tf.scalar(0, 'int32');
  }

  /**
   * True while a transform records this call for a compiled replay (jit): the traces must then be
   * updated by tfjs kernels the recorder sees — no in-place writes into pooled buffers, no
   * deferred steps, no cached Jacobians chosen by reading values back.
   */
  private get recorded(): boolean {
    return isRecording();
  }

  get isCompiled(): boolean {
    return this.graph !== null;
  }

  /** Trace mode of a relation (D-RTRL 'param' or ES-D-RTRL 'io'). */
  protected abstract modeOf(rel: HiddenParamOpRelation): TraceMode;

  /** ES decay α (only used by 'io' relations). */
  protected decay(): number {
    return 0;
  }

  protected biasCorrection(): boolean {
    return true;
  }

  protected normalize(): boolean {
    return false;
  }

  /**
   * Record one step on an example input (a single time step; the first slice of a MultiStepData)
   * and build the graph; allocate zero traces. States are left unchanged.
   */
  compileGraph(x: tf.Tensor | SingleStepData | MultiStepData): this {
    const x0 = x instanceof MultiStepData ? x.data : x instanceof SingleStepData ? x.data : x;
    const example = x instanceof MultiStepData ? tf.tidy(() => tf.gather(x0, 0)) : x0;
    try {
      // the trace states stay the same objects (new values): a compiled (jit) step made before
      // keeps reading and writing them, e.g. after a change of batch size and back
      const previous = new Map(this.etraces);
      this.etraces.clear();
      this.dropBuffers();
      this.graph = compileETraceGraph(this.model, [example], { name: `${this.name}.compileGraph` });
      for (const w of this.graph.warnings) console.warn(`brainstate-ts ${this.name}: ${w}`);
      this.checkGraph(this.graph);
      this.allocateTraces(previous);
      for (const st of previous.values()) st.dispose();
      this.resetCounter();
      this.needsCompile = false;
    } finally {
      if (example !== x0) example.dispose();
    }
    return this;
  }

  /** Algorithm-specific compile-time checks. */
  protected checkGraph(g: ETraceGraph): void {
    for (const r of g.relations) {
      if (this.modeOf(r) !== 'io') continue;
      for (const grp of r.groups) {
        if (
          r.op.kind !== 'elementwise' &&
          !tf.util.arraysEqual([...r.yVar.shape], [...grp.varshape])
        ) {
          throw new CompilationError(
            `${this.name}: ${pathTuple(r.path)} produces [${r.yVar.shape}] but feeds hidden group ${grp.index} ` +
              `of shape [${grp.varshape}]; ES-D-RTRL needs the op output to have the hidden shape`,
          );
        }
      }
    }
  }

  private key(r: HiddenParamOpRelation, g: HiddenGroup): string {
    return `${r.index}/${g.index}`;
  }

  private xKey(r: HiddenParamOpRelation): string {
    return `x${this.graph!.program.ordinals.get(r.xVar!)}`;
  }

  /** Zero traces for the graph, in the states of `previous` where a key is still there. */
  private allocateTraces(previous: Map<string, EligibilityTrace<StateValue>>): void {
    const g = this.graph!;
    const put = (key: string, value: StateValue, name: string): void => {
      const st = previous.get(key);
      previous.delete(key);
      if (st) {
        st.reinitialize(value);
        st.name = name;
        this.etraces.set(key, st);
      } else this.etraces.set(key, new EligibilityTrace(value, { name }));
    };
    for (const r of g.relations) {
      const mode = this.modeOf(r);
      const w = toTree(r.param.rawValue);
      for (const grp of r.groups) {
        if (mode === 'param') {
          const slots = tf.tidy(() => {
            const x = r.xVar ? tf.zeros(r.xVar.shape as number[]) : null;
            const y = tf.zeros(
              (r.op.kind === 'elementwise' ? grp.varshape : r.yVar.shape) as number[],
            );
            return Array.from({ length: grp.numState }, () => r.op.traceZeros(x, y, w));
          });
          put(
            this.key(r, grp),
            slots as unknown as StateValue,
            `etrace ${pathTuple(r.path)}→${grp.index}`,
          );
          if (grp.numState === 1) this.adopt(this.key(r, grp), slots[0]);
        } else {
          const f = tf.zeros([...grp.varshape, grp.numState]);
          put(this.key(r, grp), f, `f̄ ${pathTuple(r.path)}→${grp.index}`);
          if (grp.numState === 1) this.adopt(this.key(r, grp), { v: f });
          if (r.xVar && !this.etraces.has(this.xKey(r))) {
            const xbar = tf.zeros(r.xVar.shape as number[]);
            put(this.xKey(r), xbar, `x̄ of ${pathTuple(r.path)}`);
            this.adopt(this.xKey(r), { v: xbar });
          }
        }
      }
    }
  }

  private disposeTraces(): void {
    this.dropBuffers();
    for (const t of this.etraces.values()) t.dispose?.();
    this.etraces.clear();
  }

  /** Forget everything kept besides the trace states: cached Jacobians, deferred steps, the pool. */
  private dropBuffers(): void {
    this.dropConstJac();
    this.dropPending();
    for (const list of this.pool.values()) for (const tr of list) this.dropBuffer(tr);
    this.pool.clear();
  }

  private dropConstJac(): void {
    for (const { jac } of this.constJac.values()) {
      jac.D.dispose();
      for (const t of jac.df.values()) t.dispose();
    }
    this.constJac.clear();
  }

  private dropPending(): void {
    for (const p of this.pending.values()) tf.dispose([p.d, p.df, ...(p.x ? [p.x] : [])]);
    this.pending.clear();
  }

  /** True if `tr` (a pooled trace) may be written in place now: see `pool`. */
  private writable(tr: TraceTree): boolean {
    if (this.recorded) return false;
    const tape = engineState().activeTape;
    return Object.values(tr).every(
      (t) =>
        this.pooled.has(t) &&
        !t.isDisposed &&
        ownerCount(t) <= 2 &&
        (!tape || this.capturedOn.get(t) !== tape),
    );
  }

  /** Apply the deferred trace steps (of one key, or all), in place where allowed. */
  private flushPending(only?: string): void {
    const keys = only === undefined ? [...this.pending.keys()] : [only];
    for (const key of keys) {
      const p = this.pending.get(key);
      if (!p) continue;
      this.pending.delete(key);
      try {
        const st = this.etraces.get(key)!;
        const old = (st.rawValue as unknown as TraceTree[])[0];
        const w = toTree(p.rel.param.rawValue);
        const into = this.inPlaceOff === 0 && this.writable(old) ? old : this.takeBuffer(key, old);
        if (into && p.rel.op.traceUpdateInto!(old, p.d, p.x, p.df, w, into)) {
          if (into !== old) st.value = [into] as unknown as StateValue;
        } else {
          st.value = tf.tidy(() => [
            flushTree(
              sumTrees({ ...p.rel.op.traceScale(old, p.d) }, p.rel.op.traceInstant(p.x, p.df, w)),
            ),
          ]) as unknown as StateValue;
        }
      } finally {
        tf.dispose([p.d, p.df, ...(p.x ? [p.x] : [])]);
      }
    }
    if (this.pending.size === 0) cancelNextCompiledCall(this.flushAll);
  }

  /** Put the zero traces just allocated in the pool (the first update then writes in place). */
  private adopt(key: string, tr: TraceTree): void {
    for (const t of Object.values(tr)) {
      acquire(t);
      this.pooled.add(t);
    }
    this.pool.set(key, [...(this.pool.get(key) ?? []), tr]);
  }

  private dropBuffer(tr: TraceTree): void {
    for (const t of Object.values(tr)) {
      this.pooled.delete(t);
      if (!t.isDisposed) release(t);
    }
  }

  /**
   * A pooled buffer shaped like `like` that may be overwritten now (see `pool`), or a new one.
   * Buffers that are neither writable nor captured by the live tape (owned by the trace state,
   * or by a copy of it) are dropped beyond two per key.
   */
  private takeBuffer(key: string, like: TraceTree): TraceTree | null {
    if (this.inPlaceOff > 0 || this.recorded) return null;
    const list = this.pool.get(key) ?? [];
    this.pool.set(key, list);
    const tape = engineState().activeTape;
    const keys = Object.keys(like);
    const fits = (tr: TraceTree): boolean =>
      Object.keys(tr).length === keys.length &&
      keys.every((k) => tr[k] !== undefined && tf.util.arraysEqual(tr[k].shape, like[k].shape));
    const live = (tr: TraceTree): boolean =>
      !!tape && Object.values(tr).some((t) => this.capturedOn.get(t) === tape);
    const free = (tr: TraceTree): boolean =>
      Object.values(tr).every((t) => !t.isDisposed && ownerCount(t) === 1) && !live(tr);
    for (let i = list.length - 1; i >= 0; i--) {
      const tr = list[i];
      if (!fits(tr) || Object.values(tr).some((t) => t.isDisposed)) {
        this.dropBuffer(tr);
        list.splice(i, 1);
      }
    }
    const found = list.find((tr) => fits(tr) && free(tr));
    if (found) return found;
    if (list.length >= 2) {
      const i = list.findIndex((tr) => !live(tr));
      if (i >= 0) this.dropBuffer(list.splice(i, 1)[0]);
    }
    const fresh: Record<string, tf.Tensor> = {};
    for (const k of keys) {
      const t = tf.zeros(like[k].shape, like[k].dtype);
      acquire(t);
      this.pooled.add(t);
      fresh[k] = t;
    }
    list.push(fresh);
    return fresh;
  }

  /** Zero the traces and the running index. A new batch size recompiles on the next update. */
  resetState(batchSize?: number): void {
    if (!this.graph) return;
    const hb = this.graph.hidden[0]?.varshape[0];
    if (batchSize !== undefined && batchSize !== hb) {
      // the trace states stay (compileGraph gives them the new shapes)
      this.dropBuffers();
      this.needsCompile = true;
      return;
    }
    this.dropPending();
    for (const t of this.etraces.values()) {
      t.value = tf.tidy(
        () =>
          (Array.isArray(t.rawValue)
            ? (t.rawValue as TraceTree[]).map((tr) =>
                Object.fromEntries(Object.entries(tr).map(([k, v]) => [k, tf.zerosLike(v)])),
              )
            : tf.zerosLike(t.rawValue as tf.Tensor)) as unknown as tf.TensorContainer,
      ) as unknown as StateValue;
    }
    this.resetCounter();
  }

  /** Free the traces. */
  dispose(): void {
    this.disposeTraces();
    this.counter.dispose();
    this.graph = null;
  }

  private requireGraph(): ETraceGraph {
    if (!this.graph) {
      throw new CompilationError(`${this.name}: call compileGraph(x0) before using the algorithm`);
    }
    return this.graph;
  }

  /** The brainscale text of the compiled graph (spec §2.7). */
  showGraph(): string {
    return graphText(this.requireGraph());
  }

  /** Data of the graph picture. */
  graphView(): GraphView {
    return graphView(this.requireGraph());
  }

  /** Graphviz DOT of the graph. */
  graphDot(): string {
    return graphToDot(this.graphView(), { title: this.name });
  }

  /** Write the graph picture (.svg, .png or .dot by extension). */
  async graphPicture(path: string): Promise<void> {
    await graphPicture(this.graphView(), path, { title: this.name });
  }

  /**
   * The traces of a parameter (an ETraceParam or its path like 'syn.comm.weight'): per relation
   * and group, D-RTRL `{ relation, group, trace: TraceTree[] }` (one per slot) or ES-D-RTRL
   * `{ relation, group, x: x̄, f: f̄ [..., S] }`. The tensors belong to the algorithm.
   */
  getEtraceOf(param: ETraceParam | string): {
    relation: number;
    group: number;
    trace?: readonly TraceTree[];
    x?: tf.Tensor | null;
    f?: tf.Tensor;
  }[] {
    const g = this.requireGraph();
    this.flushPending();
    const rels = g.relations.filter((r) =>
      typeof param === 'string' ? r.path.join('.') === param : r.param === param,
    );
    if (rels.length === 0) {
      const known = g.relations.map((r) => r.path.join('.')).join(', ');
      throw new ArgumentError(
        `${this.name}.getEtraceOf: ${typeof param === 'string' ? `'${param}'` : param.describe()} has no eligibility trace; traced weights: ${known || 'none'}`,
      );
    }
    const out: ReturnType<ETraceVjpAlgorithm['getEtraceOf']> = [];
    for (const r of rels) {
      for (const grp of r.groups) {
        const t = this.etraces.get(this.key(r, grp))!.rawValue;
        if (this.modeOf(r) === 'param') {
          out.push({ relation: r.index, group: grp.index, trace: t as unknown as TraceTree[] });
        } else {
          out.push({
            relation: r.index,
            group: grp.index,
            x: r.xVar ? (this.etraces.get(this.xKey(r))!.rawValue as tf.Tensor) : null,
            f: t as tf.Tensor,
          });
        }
      }
    }
    return out;
  }

  /**
   * Advance the model by one step (a tensor or SingleStepData) or by a window of steps
   * (MultiStepData, or a tensor in 'multi-step' mode), update the traces, and return the model
   * output (stacked along a new leading time axis for a window). Inside `grad`, the gradient of a
   * loss of the output reaches the parameters through the traces (see the file comment).
   */
  update(x: tf.Tensor | SingleStepData | MultiStepData): tf.Tensor {
    const multi =
      x instanceof MultiStepData || (this.vjpMethod === 'multi-step' && x instanceof tf.Tensor);
    const data = x instanceof MultiStepData || x instanceof SingleStepData ? x.data : x;
    if (!(data instanceof tf.Tensor)) {
      throw new ArgumentError(
        `${this.name}.update: expected a tensor, SingleStepData or MultiStepData, got ${typeof data}`,
      );
    }
    if (!this.graph || this.needsCompile) {
      if (this.recorded) {
        // the traces would be new states made inside the recording: a replay would not keep them
        throw new CompilationError(
          `${this.name}.update: the graph is not compiled${this.graph ? ' for the new batch size' : ''}; ` +
            `inside a compiled (jit) function it cannot be compiled. Call ${this.name}.compileGraph(x) ` +
            `with an input of the step's shape before the first compiled call`,
        );
      }
      this.compileGraph(multi ? new MultiStepData(data) : data);
    }
    this.inject();
    if (!multi) return this.step(data);
    const outs: tf.Tensor[] = [];
    try {
      for (let t = 0; t < data.shape[0]; t++) {
        const xt = tf.tidy(() => tf.gather(data, t));
        try {
          outs.push(this.step(xt));
        } finally {
          xt.dispose();
        }
      }
      return tf.stack(outs);
    } finally {
      tf.dispose(outs);
    }
  }

  /**
   * vmap batching (spec §3.4): after `compileGraph` on ONE sample (states initialised without a
   * batch size), give every per-sample state — the model's short-term states and the traces — a
   * leading batch axis of `batchSize` copies, and return `update` mapped over axis 0 of its input
   * with `vmap` (weights shared, gradients summed over lanes). Calls of the returned function
   * advance the running index once per step, not once per lane.
   */
  vmapUpdate(batchSize: number): (x: tf.Tensor) => tf.Tensor {
    const g = this.requireGraph();
    this.flushPending();
    if (!Number.isInteger(batchSize) || batchSize < 1) {
      throw new ArgumentError(
        `${this.name}.vmapUpdate: batchSize must be a positive integer, got ${batchSize}`,
      );
    }
    const perSample: State<StateValue>[] = [
      ...g.hidden.map((h) => h.state as State<StateValue>),
      ...g.dynamicStates.map((d) => d.state),
      ...this.etraces.values(),
    ];
    const expand = (v: StateValue): StateValue => {
      if (v instanceof tf.Tensor) return tf.tidy(() => tf.stack(Array(batchSize).fill(v)));
      if (Array.isArray(v)) return v.map(expand);
      if (typeof v === 'number') return v;
      return Object.fromEntries(Object.entries(v).map(([k, e]) => [k, expand(e)]));
    };
    for (const s of perSample) s.reinitialize(expand(s.rawValue));
    // the lanes do not count (step skips it while inPlaceOff > 0): the call counts once
    const lanes = vmap((xi: tf.Tensor) => this.update(xi), { inStates: perSample });
    return (x: tf.Tensor) => {
      // vmap keeps each lane's new state values without owning them: no buffer reuse meanwhile
      this.inPlaceOff++;
      try {
        return lanes(x) as tf.Tensor;
      } finally {
        this.inPlaceOff--;
        this.advance();
      }
    };
  }

  /** One model step under the recorder, then Jacobians and trace updates. */
  private step(x: tf.Tensor): tf.Tensor {
    const g = this.graph!;
    const rec = startRecording({
      name: `${this.name}.step`,
      args: flattenTensors(x, '0'),
      keep: g.keep,
    });
    let out: unknown;
    let kept: Map<number, tf.Tensor>;
    try {
      try {
        out = tf.tidy(() => {
          const r = (this.model as { update(x: tf.Tensor): unknown }).update(x);
          return r as tf.TensorContainer;
        });
      } finally {
        stopRecording(rec);
      }
      const names = rec.kernelNames();
      if (names.length !== g.kernels.length || names.some((k, i) => k !== g.kernels[i])) {
        const at = names.findIndex((k, i) => k !== g.kernels[i]);
        throw new CompilationError(
          `${this.name}: this step ran different kernels than the compiled step (first difference at ` +
            `kernel ${at < 0 ? Math.min(names.length, g.kernels.length) : at}: ${names[at] ?? 'end'} vs ` +
            `${g.kernels[at] ?? 'end'}); the model step must not branch on data or change shapes. ` +
            `Call compileGraph again after changing the model or the batch size`,
        );
      }
      kept = rec.takeKept();
    } catch (e) {
      rec.disposeKept();
      throw e;
    }
    try {
      const jac = this.jacobians(kept);
      try {
        tf.tidy(() => this.updateTraces(kept, jac));
      } finally {
        for (const j of jac.values()) {
          j.D.dispose();
          for (const t of j.df.values()) t.dispose();
        }
      }
      if (this.inPlaceOff === 0) this.advance();
    } finally {
      for (const t of kept.values()) t.dispose();
    }
    if (!(out instanceof tf.Tensor)) {
      throw new NotSupportedError(
        `${this.name}: the model step must return one tensor (got ${out === null ? 'null' : typeof out}); ` +
          `concatenate several outputs, or return the readout only`,
      );
    }
    return ownResults(out);
  }

  /** D and df of every group from this step's kept values. */
  private jacobians(kept: Map<number, tf.Tensor>): Map<HiddenGroup, GroupJacobian> {
    const g = this.graph!;
    const ord = (v: Var): tf.Tensor => {
      const t = kept.get(g.program.ordinals.get(v)!);
      if (!t) throw new CompilationError(`${this.name}: internal: no value kept for var ${v.id}`);
      return t;
    };
    interface Pass {
      readonly grp: HiddenGroup;
      readonly env: Map<Var, tf.Tensor>;
      readonly xs: tf.Tensor[];
      readonly nOld: number;
      readonly made: tf.Tensor[];
      readonly rows: tf.Tensor[];
      readonly cols: tf.Tensor[][];
      /** [member, slot within member] of each group slot. */
      readonly slotOwner: [number, number][];
    }
    // Affine transitions: D and df from the cache while the scalar coefficients are unchanged
    const out = new Map<HiddenGroup, GroupJacobian>();
    const toCache: { grp: HiddenGroup; coeffs: number[] }[] = [];
    const groups = g.groups.filter((grp) => {
      const cv = this.inPlaceOff === 0 && !this.recorded ? this.affineCoefficients(grp) : null;
      if (cv === null) return true;
      const coeffs = cv.map((v) => ord(v).dataSync()[0]);
      const hit = this.constJac.get(grp);
      if (
        hit &&
        hit.coeffs.length === coeffs.length &&
        hit.coeffs.every((c, i) => Object.is(c, coeffs[i]))
      ) {
        const share = (t: tf.Tensor) => tf.reshape(t, t.shape);
        const df = new Map<HiddenParamOpRelation, tf.Tensor>();
        for (const [r, t] of hit.jac.df) df.set(r, share(t));
        out.set(grp, { D: share(hit.jac.D), df });
        return false;
      }
      toCache.push({ grp, coeffs });
      return true;
    });
    const passes: Pass[] = groups.map((grp) => {
      const env = new Map<Var, tf.Tensor>();
      for (const v of grp.externals) env.set(v, ord(v));
      const olds: tf.Tensor[] = [];
      for (const m of grp.members) {
        if (!m.oldVar) continue;
        const t = ord(m.oldVar);
        env.set(m.oldVar, t);
        olds.push(t);
      }
      const made: tf.Tensor[] = [];
      const ys = grp.relations.map((r) => {
        let t = ord(r.yVar);
        if (!tf.util.arraysEqual(t.shape, [...grp.varshape])) {
          t = tf.broadcastTo(t, [...grp.varshape]);
          made.push(t);
        }
        env.set(r.yVar, t);
        return t;
      });
      const slotOwner: [number, number][] = [];
      grp.members.forEach((m, mi) => {
        for (let k = 0; k < m.numState; k++) slotOwner.push([mi, k]);
      });
      return {
        grp,
        env,
        xs: [...olds, ...ys],
        nOld: olds.length,
        made,
        rows: [],
        cols: grp.relations.map(() => []),
        slotOwner,
      };
    });
    // Groups whose weight ops feed only them can share one backward pass per slot: their
    // transitions are disjoint (a shared op output would mix their df). The others go alone.
    const alone = (p: Pass): boolean => p.grp.relations.some((r) => r.groups.length > 1);
    const maxS = Math.max(0, ...groups.map((x) => x.numState));
    for (let s = 0; s < maxS; s++) {
      const live = passes.filter((p) => p.grp.numState > s);
      const batches = [live.filter((p) => !alone(p)), ...live.filter(alone).map((p) => [p])];
      for (const batch of batches) if (batch.length) this.jacobianPass(batch, s);
    }
    for (const p of passes) {
      // one slot: reshapes (views) instead of stacks (copies)
      const D =
        p.rows.length === 1
          ? tf.reshape(p.rows[0], [...p.rows[0].shape.slice(0, -1), 1, 1])
          : tf.stack(p.rows, -2);
      tf.dispose(p.rows);
      const df = new Map<HiddenParamOpRelation, tf.Tensor>();
      p.grp.relations.forEach((r, ri) => {
        const c = p.cols[ri];
        df.set(r, c.length === 1 ? tf.expandDims(c[0], -1) : tf.stack(c, -1));
        tf.dispose(c);
      });
      tf.dispose(p.made);
      out.set(p.grp, { D, df });
    }
    for (const { grp, coeffs } of toCache) {
      const j = out.get(grp)!;
      const old = this.constJac.get(grp);
      if (old) {
        old.jac.D.dispose();
        for (const t of old.jac.df.values()) t.dispose();
      }
      const keep = (t: tf.Tensor) => tf.keep(tf.reshape(t, t.shape));
      const df = new Map<HiddenParamOpRelation, tf.Tensor>();
      for (const [r, t] of j.df) df.set(r, keep(t));
      this.constJac.set(grp, { coeffs, jac: { D: keep(j.D), df } });
    }
    return out;
  }

  /**
   * If every new value of the group's transition is an affine function of its sources (old
   * values, weight-op outputs) whose coefficients are scalar externals — only Add / Sub of
   * same-shaped terms (or a term and a value not depending on the sources), Neg, and Multiply of a
   * source term by a scalar external — the coefficient vars (possibly none); else null. Then D and
   * df are fixed by the coefficients' values (e.g. a leaky readout r ← α·r + y).
   */
  private affineCoefficients(grp: HiddenGroup): Var[] | null {
    if (this.affine.has(grp)) return this.affine.get(grp)!;
    const result = ((): Var[] | null => {
      const src = new Set<Var>();
      for (const m of grp.members) if (m.oldVar) src.add(m.oldVar);
      for (const r of grp.relations) src.add(r.yVar);
      const externals = new Set(grp.externals);
      const coeffs: Var[] = [];
      const same = (a: Var, b: Var) => tf.util.arraysEqual([...a.shape], [...b.shape]);
      for (const eq of grp.slice) {
        if (eq.body || eq.outputs.length !== 1) return null;
        const o = eq.outputs[0];
        const ins = eq.inputs.map(([, v]) => v);
        const aff = ins.filter((v) => src.has(v));
        if (aff.length === 0) return null; // a value computed from non-sources: not handled
        if (!aff.every((v) => same(v, o) && v.dtype === 'float32')) return null;
        const rest = ins.filter((v) => !src.has(v));
        switch (eq.kernel) {
          case 'Add':
          case 'Sub':
            // an additive term not depending on the sources does not change D or df
            if (ins.length !== 2 || !rest.every((v) => externals.has(v))) return null;
            break;
          case 'Neg':
            if (ins.length !== 1) return null;
            break;
          case 'Multiply': {
            if (ins.length !== 2 || aff.length !== 1 || rest.length !== 1) return null;
            const c = rest[0];
            if (!externals.has(c) || c.shape.some((d) => d !== 1) || c.dtype !== 'float32') {
              return null;
            }
            coeffs.push(c);
            break;
          }
          default:
            return null;
        }
        src.add(o);
      }
      // every member's new value must be affine (computed above, or a source itself)
      return grp.members.every((m) => src.has(m.newVar)) ? coeffs : null;
    })();
    this.affine.set(grp, result);
    return result;
  }

  /** One backward pass for slot `s` of every group in `batch`: row s of D and column s of df. */
  private jacobianPass(
    batch: {
      readonly grp: HiddenGroup;
      readonly env: Map<Var, tf.Tensor>;
      readonly xs: tf.Tensor[];
      readonly nOld: number;
      readonly rows: tf.Tensor[];
      readonly cols: tf.Tensor[][];
      readonly slotOwner: [number, number][];
    }[],
    s: number,
  ): void {
    const xs = batch.flatMap((p) => p.xs);
    const f = (): tf.Tensor => {
      let total: tf.Tensor | null = null;
      for (const p of batch) {
        const [mi, k] = p.slotOwner[s];
        const member = p.grp.members[mi];
        const v = runSlice(p.grp.slice, p.env).get(member.newVar)!;
        const part = member.numState === 1 ? tf.sum(v) : tf.sum(slot(v, k));
        total = total === null ? part : tf.add(total, part);
      }
      return total!;
    };
    const { value, grads } =
      xs.length > 0 ? isolatedGradients(f, xs) : { value: null, grads: [] as (tf.Tensor | null)[] };
    value?.dispose();
    let at = 0;
    for (const p of batch) {
      const mine = grads.slice(at, at + p.xs.length);
      at += p.xs.length;
      const grp = p.grp;
      const row = tf.tidy(() => {
        let gi = 0;
        const parts = grp.members.map((m) => {
          const gr = m.oldVar ? mine[gi++] : null;
          const shape = m.numState === 1 ? [...m.varshape, 1] : [...m.varshape, m.numState];
          if (!gr) return tf.zeros(shape);
          return m.numState === 1 ? tf.reshape(gr, shape) : tf.clone(gr); // grads are freed below
        });
        return parts.length === 1 ? parts[0] : tf.concat(parts, -1);
      });
      p.rows.push(row);
      grp.relations.forEach((_, ri) => {
        const gr = mine[p.nOld + ri];
        p.cols[ri].push(gr ? tf.reshape(gr, [...grp.varshape]) : tf.zeros([...grp.varshape]));
      });
    }
    for (const t of grads) t?.dispose();
  }

  /** New traces from this step (inside a tidy; old trace values are replaced). */
  private updateTraces(kept: Map<number, tf.Tensor>, jac: Map<HiddenGroup, GroupJacobian>): void {
    const g = this.graph!;
    const valueOf = (v: Var): tf.Tensor => kept.get(g.program.ordinals.get(v)!)!;
    const alpha = this.decay();
    const doneX = new Set<string>();
    for (const r of g.relations) {
      const mode = this.modeOf(r);
      const w = toTree(r.param.rawValue);
      const x = r.xVar ? valueOf(r.xVar) : null;
      if (mode === 'io' && x && !doneX.has(this.xKey(r))) {
        doneX.add(this.xKey(r));
        const st = this.etraces.get(this.xKey(r))!;
        const old = st.rawValue as tf.Tensor;
        // x̄ ← α·x̄ + x: one fused pass into a pooled buffer where the kernels run
        const into = this.takeBuffer(this.xKey(r), { v: old })?.v;
        st.value =
          into && scaleAddInto(old, null, x, alpha, 1, into)
            ? into
            : flushSubnormal(tf.add(tf.mul(old, alpha), x));
      }
      for (const grp of r.groups) {
        const { D, df } = jac.get(grp)!;
        const dfr = df.get(r)!;
        const st = this.etraces.get(this.key(r, grp))!;
        const S = grp.numState;
        if (mode === 'param') {
          const old = st.rawValue as unknown as TraceTree[];
          if (
            S === 1 &&
            !this.normalize() &&
            r.op.traceUpdateInto &&
            this.inPlaceOff === 0 &&
            !this.recorded
          ) {
            const key = this.key(r, grp);
            this.flushPending(key); // an earlier step's (inside a window, or without a gradient)
            if (r.op.traceGradUpdate) {
              // deferred: the gradient pass (or the next update) applies it, see `pending`
              onNextCompiledCall(this.flushAll);
              this.pending.set(key, {
                step: this.stepNo,
                rel: r,
                d: tf.keep(dij(D, 0, 0)),
                x: x ? tf.keep(tf.reshape(x, x.shape)) : null,
                df: tf.keep(slot(dfr, 0)),
              });
              continue;
            }
          }
          if (S === 1 && !this.normalize() && r.op.traceUpdateInto) {
            // fused: ε ← d⊙ε + φ(x, df) in one pass, into a buffer nobody else reads
            const into = this.takeBuffer(this.key(r, grp), old[0]);
            if (into && r.op.traceUpdateInto(old[0], dij(D, 0, 0), x, slot(dfr, 0), w, into)) {
              st.value = [into] as unknown as StateValue;
              continue;
            }
          }
          if (S === 1 && !this.normalize() && r.op.traceUpdate) {
            // the same pass into a new tensor (what a jit recording sees)
            const next = r.op.traceUpdate(old[0], dij(D, 0, 0), x, slot(dfr, 0), w);
            if (next !== null) {
              st.value = [next] as unknown as StateValue;
              continue;
            }
          }
          const next: TraceTree[] = [];
          for (let i = 0; i < S; i++) {
            let acc: Record<string, tf.Tensor> | null = null;
            for (let j = 0; j < S; j++) {
              const scaled = r.op.traceScale(old[j], dij(D, i, j));
              acc = acc === null ? { ...scaled } : sumTrees(acc, scaled);
            }
            const phi = r.op.traceInstant(x, slot(dfr, i), w);
            let t = flushTree(sumTrees(acc!, phi));
            if (this.normalize()) t = normalizeTree(t);
            next.push(t);
          }
          st.value = next as unknown as StateValue;
        } else {
          // f̄ ← α·D f̄ + (1−α)·df
          const f = st.rawValue as tf.Tensor;
          if (S === 1) {
            const into = this.takeBuffer(this.key(r, grp), { v: f })?.v;
            if (into && scaleAddInto(f, D, dfr, alpha, 1 - alpha, into)) {
              st.value = into;
              continue;
            }
          }
          // (D f̄)[..., i] = Σ_j D[..., i, j]·f̄[..., j]; S is small, so no batched matMul
          const Df =
            S === 1
              ? tf.mul(tf.reshape(D, f.shape), f)
              : tf.sum(tf.mul(D, tf.expandDims(f, -2)), -1);
          st.value = flushSubnormal(tf.add(tf.mul(Df, alpha), tf.mul(dfr, 1 - alpha)));
        }
      }
    }
  }

  /**
   * The trace term of a D-RTRL relation with one slot whose step `k` is still pending: the
   * weight gradient and the trace step in one pass (ETraceOp.traceGradUpdate), or null.
   */
  private fusedGrad(
    r: HiddenParamOpRelation,
    grp: HiddenGroup,
    k: number,
    L: { from: number; count: number; keys: string[] },
    saved: tf.Tensor[],
    delta: tf.Tensor,
    w: ParamTree,
  ): ParamTree | null {
    if (grp.numState !== 1 || !r.op.traceGradUpdate) return null;
    const key = this.key(r, grp);
    const p = this.pending.get(key);
    if (!p || p.step !== k) return null;
    const current = (this.etraces.get(key)!.rawValue as unknown as TraceTree[])[0];
    const tr: Record<string, tf.Tensor> = {};
    L.keys.forEach((kk, ki) => (tr[kk] = saved[L.from + ki]));
    // the trace this gradient reads must be the state's, and only this gradient may read it
    if (!L.keys.every((kk) => current[kk] === tr[kk])) return null;
    const ok = Object.values(tr).every(
      (t) => this.pooled.has(t) && !t.isDisposed && ownerCount(t) <= 2,
    );
    if (!ok) return null;
    const g = tf.tidy(
      () => r.op.traceGradUpdate!(tr, delta, w, p.d, p.x, p.df) as unknown as tf.TensorContainer,
    ) as unknown as ParamTree | null;
    if (g === null) return null;
    this.pending.delete(key);
    tf.dispose([p.d, p.df, ...(p.x ? [p.x] : [])]);
    return g;
  }

  /**
   * On a gradient tape: put one custom-gradient node on each group's old hidden values. Its
   * forward is the identity; its gradient turns ∂L/∂h^{t0−1} into the trace term of each weight.
   */
  private inject(): void {
    this.flushPending();
    if (!gradientTapeActive()) return;
    const g = this.graph!;
    const alpha = this.decay();
    const k = this.stepNo; // identifies this step's deferred trace steps (eager only)
    const counter = this.counter;
    // the ES start-up correction 1/(1 − α^k) from the device count (0 at k = 0: traces are zero)
    const correct = this.biasCorrection() && alpha !== 0;
    for (const grp of g.groups) {
      if (grp.relations.length === 0) continue;
      const params = [...new Set(grp.relations.map((r) => r.param))];
      const keys = params.map((p) => leafKeys(toTree(p.value)));
      const paramLeaves = params.flatMap((p) => leavesOf(toTree(p.value)));
      const members = grp.members.map((m) => m.state);
      // Trace tensors the gradient reads: pooled buffers by reference (the pool will not write them
      // while this tape is live), others saved (tfjs keeps a copy).
      const traceTensors: tf.Tensor[] = [];
      const layout: { rel: HiddenParamOpRelation; from: number; count: number; keys: string[] }[] =
        [];
      for (const r of grp.relations) {
        const st = this.etraces.get(this.key(r, grp))!.rawValue;
        if (this.modeOf(r) === 'param') {
          const slots = st as unknown as TraceTree[];
          const ks = Object.keys(slots[0]);
          layout.push({
            rel: r,
            from: traceTensors.length,
            count: slots.length * ks.length,
            keys: ks,
          });
          for (const tr of slots) for (const kk of ks) traceTensors.push(tr[kk]);
        } else {
          const xbar = r.xVar ? (this.etraces.get(this.xKey(r))!.rawValue as tf.Tensor) : null;
          layout.push({ rel: r, from: traceTensors.length, count: xbar ? 2 : 1, keys: [] });
          traceTensors.push(st as tf.Tensor);
          if (xbar) traceTensors.push(xbar);
        }
      }
      const S = grp.numState;
      const withInv = correct && grp.relations.some((r) => this.modeOf(r) === 'io');
      const tape = engineState().activeTape;
      const toSave: tf.Tensor[] = [];
      const ref: (tf.Tensor | number)[] = traceTensors.map((t) => {
        if (this.pooled.has(t)) {
          this.capturedOn.set(t, tape);
          return t;
        }
        toSave.push(t);
        return toSave.length - 1;
      });
      // one member with one slot: the node takes the hidden value as it is (no slot axis)
      const single = grp.members.length === 1;
      const m0 = grp.members[0];
      const flat = single && m0.numState === 1;
      const node = tf.customGrad((...args: unknown[]) => {
        const inputs = args.slice(0, -1) as tf.Tensor[];
        const save = args[args.length - 1] as (ts: tf.Tensor[]) => void;
        const inv = withInv
          ? tf.tidy(() =>
              tf.divNoNan(1, tf.sub(1, tf.pow(alpha, tf.cast(counter.value, 'float32')))),
            )
          : null;
        save(inv ? [...toSave, inv] : toSave);
        inv?.dispose();
        const stacked = inputs[0];
        const ws = inputs.slice(1);
        return {
          // a new tensor on the same buffer (wasm's clone copies)
          value: tf.reshape(stacked, stacked.shape),
          gradFunc: (dyIn: tf.Tensor, savedCopies: tf.Tensor[]) => {
            // flat: dyIn is slot 0 itself (S = 1); else dyIn has the slot axis
            const dy = dyIn;
            const dySlot = (s: number): tf.Tensor => (flat ? dyIn : slot(dy, s));
            const saved = ref.map((r) => (typeof r === 'number' ? savedCopies[r] : r));
            const invC = withInv ? savedCopies[toSave.length] : null;
            if (saved.some((t) => t.isDisposed)) {
              throw new CompilationError(
                `${this.name}: internal: an eligibility trace was freed before its gradient was taken`,
              );
            }
            const grads: (ParamTree | null)[] = params.map(() => null);
            const trees: ParamTree[] = [];
            let at = 0;
            params.forEach((_, pi) => {
              const n = keys[pi] === null ? 1 : keys[pi]!.length;
              trees.push(rebuild(keys[pi], ws.slice(at, at + n)));
              at += n;
            });
            for (const L of layout) {
              const r = L.rel;
              const pi = params.indexOf(r.param);
              const w = trees[pi];
              let gr: ParamTree;
              const fused =
                this.modeOf(r) === 'param'
                  ? this.fusedGrad(r, grp, k, L, saved, dySlot(0), w)
                  : null;
              if (fused !== null) {
                gr = fused;
              } else if (this.modeOf(r) === 'param') {
                gr = tf.tidy(() => {
                  let acc: ParamTree | null = null;
                  for (let s = 0; s < S; s++) {
                    const tr: Record<string, tf.Tensor> = {};
                    L.keys.forEach((kk, ki) => (tr[kk] = saved[L.from + s * L.keys.length + ki]));
                    const part = r.op.traceGrad(tr, dySlot(s), w);
                    acc = acc === null ? part : addTrees(acc, part);
                  }
                  return acc as unknown as tf.TensorContainer;
                }) as unknown as ParamTree;
              } else {
                gr = tf.tidy(() => {
                  const f = saved[L.from];
                  const xbar = L.count === 2 ? saved[L.from + 1] : null;
                  // Σ_s f̄_s·dy_s / (1 − α^k); one slot: no sum (a sum of one term is exact)
                  const fdy = S === 1 ? tf.mul(slot(f, 0), dySlot(0)) : tf.sum(tf.mul(f, dy), -1);
                  const comb = invC ? tf.mul(fdy, invC) : fdy;
                  return r.op.weightVjp(xbar, comb, w) as unknown as tf.TensorContainer;
                }) as unknown as ParamTree;
              }
              grads[pi] = addTrees(grads[pi], gr);
            }
            const out: tf.Tensor[] = [tf.zerosLike(dyIn)];
            params.forEach((p, pi) => {
              const gt = grads[pi];
              const wl = leavesOf(trees[pi]);
              if (gt === null) out.push(...wl.map((t) => tf.zerosLike(t)));
              else if (gt instanceof tf.Tensor) out.push(gt);
              else (keys[pi] ?? []).forEach((kk, ki) => out.push(gt[kk] ?? tf.zerosLike(wl[ki])));
            });
            return out;
          },
        };
      }) as unknown as (...xs: tf.Tensor[]) => tf.Tensor;
      // one member: no concat / slice (a copy each way on the tape)
      const stacked = single
        ? members[0].value
        : tf.tidy(() =>
            tf.concat(
              grp.members.map((m, i) =>
                m.numState === 1 ? tf.expandDims(members[i].value, -1) : members[i].value,
              ),
              -1,
            ),
          );
      const y = node(stacked, ...paramLeaves);
      if (single) {
        (members[0] as State<StateValue>).value = y;
        continue;
      }
      stacked.dispose();
      let at = 0;
      grp.members.forEach((m, i) => {
        const part = tf.tidy(() => {
          const p = tf.slice(
            y,
            [...Array(y.rank - 1).fill(0), at],
            [...y.shape.slice(0, -1), m.numState],
          );
          return m.numState === 1 ? tf.reshape(p, [...m.varshape]) : p;
        });
        at += m.numState;
        (members[i] as State<StateValue>).value = part;
      });
      y.dispose();
    }
  }
}

/**
 * Run a group's transition slice (in order) on `env`, which holds its sources and externals:
 * the same kernels with the recorded attrs, so values are bit-identical to the step's. A
 * custom-gradient call runs its forward body.
 */
function runSlice(eqs: readonly Equation[], env: ReadonlyMap<Var, tf.Tensor>): Map<Var, tf.Tensor> {
  const values = new Map(env);
  const run = (list: readonly Equation[]): void => {
    for (const e of list) {
      if (e.body) {
        run(e.body);
        e.outputs.forEach((o, i) => values.set(o, values.get(e.bodyOutputs![i])!));
        continue;
      }
      const ins = e.inputs.map(([, v]) => {
        const t = values.get(v);
        if (t === undefined) {
          throw new CompilationError(
            `internal: no value for an input of ${e.kernel} in a transition slice`,
          );
        }
        return t;
      });
      // a reshape to the same shape (tfjs emits many) is the value itself: no kernel, no tape node
      if (
        e.kernel === 'Reshape' &&
        ins.length === 1 &&
        e.outputs.length === 1 &&
        ins[0].dtype === e.outputs[0].dtype &&
        tf.util.arraysEqual(ins[0].shape, [...e.outputs[0].shape])
      ) {
        values.set(e.outputs[0], ins[0]);
        continue;
      }
      runEquation(e, ins).forEach((t, i) => values.set(e.outputs[i], t));
    }
  };
  run(eqs);
  return values;
}

function dij(D: tf.Tensor, i: number, j: number): tf.Tensor {
  // D [..., S, S] → [...]
  const S = D.shape[D.rank - 1];
  if (S === 1) return tf.reshape(D, D.shape.slice(0, -2));
  const begin = [...Array(D.rank - 2).fill(0), i, j];
  const size = [...D.shape.slice(0, -2), 1, 1];
  return tf.reshape(tf.slice(D, begin, size), D.shape.slice(0, -2));
}

function sumTrees(a: Record<string, tf.Tensor>, b: TraceTree): Record<string, tf.Tensor> {
  const out: Record<string, tf.Tensor> = {};
  for (const k of Object.keys(a)) out[k] = b[k] ? tf.add(a[k], b[k]) : a[k];
  return out;
}

/** flushSubnormal on every leaf of a trace tree. */
function flushTree(t: TraceTree): Record<string, tf.Tensor> {
  const out: Record<string, tf.Tensor> = {};
  for (const [k, v] of Object.entries(t)) out[k] = flushSubnormal(v);
  return out;
}

function normalizeTree(t: TraceTree): Record<string, tf.Tensor> {
  const out: Record<string, tf.Tensor> = {};
  for (const [k, v] of Object.entries(t)) out[k] = tf.div(v, tf.maximum(tf.max(tf.abs(v)), 1));
  return out;
}

export interface DRTRLOptions extends AlgorithmOptions {
  /**
   * Upstream's max-abs normalisation of every trace leaf when it exceeds 1 (makes the gradient
   * inexact; off by default).
   */
  normalize?: boolean;
}

/** D-RTRL (ParamDimVjpAlgorithm): exact per-weight traces under the diagonal approximation. */
export class D_RTRL extends ETraceVjpAlgorithm {
  private readonly norm: boolean;
  constructor(model: object, options: DRTRLOptions = {}) {
    super(model, options);
    this.norm = options.normalize ?? false;
  }
  protected modeOf(): TraceMode {
    return 'param';
  }
  protected override normalize(): boolean {
    return this.norm;
  }
}

/** Decay α or rank n (α = (n−1)/(n+1)) of ES-D-RTRL. */
export interface DecayOptions {
  /** α in (0, 1). */
  decay?: number;
  /** An integer n ≥ 1 (α = (n−1)/(n+1)); rank 1 means α = 0. */
  rank?: number;
  /** Divide the smoothed trace by 1 − α^k (k = updates so far). Default true. */
  biasCorrection?: boolean;
}

function decayFrom(owner: string, o: DecayOptions): number {
  if (o.decay !== undefined && o.rank !== undefined) {
    throw new ArgumentError(`${owner}: give either decay or rank, not both`);
  }
  if (o.rank !== undefined) {
    if (!Number.isInteger(o.rank) || o.rank < 1) {
      throw new ArgumentError(`${owner}: rank must be an integer ≥ 1, got ${o.rank}`);
    }
    return (o.rank - 1) / (o.rank + 1);
  }
  const a = o.decay ?? 0.9;
  if (typeof a !== 'number' || !(a > 0 && a < 1)) {
    throw new ArgumentError(`${owner}: decay must be a number in (0, 1), got ${String(a)}`);
  }
  return a;
}

export interface ESDRTRLOptions extends AlgorithmOptions, DecayOptions {}

/** ES-D-RTRL (IODimVjpAlgorithm): input trace ⊗ smoothed output trace, memory O(B·(I+O)). */
export class ES_D_RTRL extends ETraceVjpAlgorithm {
  readonly alpha: number;
  private readonly correct: boolean;
  constructor(model: object, options: ESDRTRLOptions = {}) {
    super(model, options);
    this.alpha = decayFrom(this.name, options);
    this.correct = options.biasCorrection ?? true;
  }
  protected modeOf(): TraceMode {
    return 'io';
  }
  protected override decay(): number {
    return this.alpha;
  }
  protected override biasCorrection(): boolean {
    return this.correct;
  }
}

export interface HybridOptions extends ESDRTRLOptions, DRTRLOptions {}

/**
 * Hybrid: per weight, D-RTRL for `grad: 'full'` params and element-wise params, ES-D-RTRL for
 * 'approx', and for 'adaptive' D-RTRL iff numel(x) + numel(y) > numel(θ) per sample (small
 * kernels, sparse ops), else ES-D-RTRL. Both kinds of trace live side by side.
 */
export class HybridDimVjpAlgorithm extends ETraceVjpAlgorithm {
  readonly alpha: number;
  private readonly correct: boolean;
  private readonly norm: boolean;
  constructor(model: object, options: HybridOptions = {}) {
    super(model, options);
    this.alpha = decayFrom(this.name, options);
    this.correct = options.biasCorrection ?? true;
    this.norm = options.normalize ?? false;
  }
  protected modeOf(r: HiddenParamOpRelation): TraceMode {
    return hybridMode(r);
  }
  protected override decay(): number {
    return this.alpha;
  }
  protected override biasCorrection(): boolean {
    return this.correct;
  }
  protected override normalize(): boolean {
    return this.norm;
  }
  /** The trace kind chosen for each relation, by parameter path. */
  modes(): { param: string; mode: 'D_RTRL' | 'ES_D_RTRL' }[] {
    const g = this.graph;
    if (!g) return [];
    return g.relations.map((r) => ({
      param: r.path.join('.'),
      mode: hybridMode(r) === 'param' ? 'D_RTRL' : 'ES_D_RTRL',
    }));
  }
}

function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** The Hybrid selection rule. */
export function hybridMode(r: HiddenParamOpRelation): TraceMode {
  if (r.op.kind === 'elementwise') return 'param';
  if (r.param.grad === 'full') return 'param';
  if (r.param.grad === 'approx') return 'io';
  const theta = leavesOf(toTree(r.param.rawValue)).reduce((n, t) => n + t.size, 0);
  const yShape = r.yVar.shape;
  const xShape = r.xVar ? r.xVar.shape : [];
  // per sample: drop a leading axis shared by x and y (the batch)
  const lead = xShape.length > 1 && yShape.length > 1 && xShape[0] === yShape[0] ? xShape[0] : 1;
  return (numel(xShape) + numel(yShape)) / lead > theta ? 'param' : 'io';
}

/** brainscale names. */
export { D_RTRL as ParamDimVjpAlgorithm, ES_D_RTRL as IODimVjpAlgorithm };
export type { ETraceOp };
