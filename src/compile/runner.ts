/**
 * A Program prepared for repeated execution (jit replay): vars become array slots, the needed
 * equations (customGrad bodies inlined) a flat list of kernel calls with their recorded attrs;
 * constants are rebuilt from their recorded values per run (nothing is held between runs). `run` dispatches the same kernels as the eager call did, so
 * results are bit-identical; it must run inside tf.tidy (intermediates are left to the scope).
 */
import { tf } from '../backend/tf';
import { TransformError } from '../errors';
import { compileGroup, partition, runFused, type FusedKernel } from './fusion';
import { takesList } from './interpreter';
import { Program, type Equation, type Var } from './program';

interface EngineRun {
  runKernel(
    name: string,
    inputs: Record<string, tf.Tensor>,
    attrs: Record<string, unknown>,
  ): tf.Tensor | tf.Tensor[];
}

/** A step of the schedule: one fused kernel, or one recorded kernel call. */
export type ScheduledStep = FusedStep | Step;

/** A runner's schedule (see ProgramRunner.schedule). */
export interface Schedule {
  readonly steps: readonly ScheduledStep[];
  readonly varOfSlot: readonly Var[];
  readonly constants: readonly {
    readonly slot: number;
    readonly values: unknown;
    readonly shape: number[];
    readonly dtype: tf.DataType;
  }[];
  readonly extraSlots: ReadonlyMap<Var, number>;
}

interface FusedStep {
  readonly fused: FusedKernel;
  readonly ins: readonly number[];
  readonly outs: readonly number[];
}

interface Step {
  readonly fused?: undefined;
  readonly kernel: string;
  /** The kernel takes a list of inputs (Concat, AddN, Pack): names '0', '1', …. */
  readonly listed: boolean;
  readonly names: readonly string[];
  readonly ins: readonly number[];
  readonly attrs: Record<string, unknown>;
  readonly outs: readonly number[];
}

/** A compiled program: `run(inputs)` → output tensors (in `outputs` order). */
export class ProgramRunner {
  private readonly slotOf = new Map<Var, number>();
  private readonly steps: (Step | FusedStep)[] = [];
  /** Number of fused kernels among the steps. */
  readonly numFused: number = 0;
  /** Slots of the program inputs, in `program.inputs` order. */
  readonly inputSlots: readonly number[];
  private readonly outSlots: number[];
  private readonly constSlots: number[] = [];
  private readonly constValues: { values: unknown; shape: number[]; dtype: tf.DataType }[] = [];
  /** Slots whose value is set per run from outside (e.g. random draws), by var. */
  private readonly extraSlots = new Map<Var, number>();
  private numSlots = 0;

  constructor(
    readonly program: Program,
    outputs: readonly Var[] = program.outputs.map((o) => o.var),
    extra: readonly Var[] = [],
    options: { fuse?: boolean } = {},
  ) {
    const slot = (v: Var): number => {
      let s = this.slotOf.get(v);
      if (s === undefined) {
        s = this.numSlots++;
        this.slotOf.set(v, s);
      }
      return s;
    };
    this.inputSlots = program.inputs.map((i) => slot(i.var));
    for (const v of extra) this.extraSlots.set(v, slot(v));
    const given = new Set<Var>([...program.inputs.map((i) => i.var), ...extra]);
    // needed equations, walking back from the outputs
    const producer = new Map<Var, Equation>();
    const aliases = new Map<Var, Var>(); // customGrad output → body var
    const index = (eqs: readonly Equation[]): void => {
      for (const e of eqs) {
        if (e.body) {
          index(e.body);
          e.outputs.forEach((o, i) => aliases.set(o, e.bodyOutputs![i]));
        } else for (const o of e.outputs) producer.set(o, e);
      }
    };
    index(program.equations);
    const resolve = (v: Var): Var => {
      let x = v;
      while (aliases.has(x) && !given.has(x)) x = aliases.get(x)!;
      return x;
    };
    const constants = new Map(program.constants.map((c) => [c.var, c]));
    const needed = new Set<Equation>();
    const seen = new Set<Var>();
    const visit = (v0: Var): void => {
      const v = resolve(v0);
      if (seen.has(v) || given.has(v)) return;
      seen.add(v);
      if (constants.has(v)) return;
      const e = producer.get(v);
      if (!e) {
        throw new TransformError(
          `replay(${program.name}): no way to compute a value (${v.type}); the program cannot be replayed`,
        );
      }
      if (needed.has(e)) return;
      needed.add(e);
      for (const [, i] of e.inputs) visit(i);
    };
    outputs.forEach(visit);
    for (const [v, c] of constants) {
      if (!seen.has(v)) continue;
      this.constSlots.push(slot(v));
      this.constValues.push({ values: c.values, shape: [...v.shape], dtype: v.dtype });
    }
    const flat: Equation[] = [];
    const flatten = (eqs: readonly Equation[]): void => {
      for (const e of eqs) {
        if (e.body) flatten(e.body);
        else if (needed.has(e)) flat.push(e);
      }
    };
    flatten(program.equations);
    const kernelStep = (e: Equation): Step => ({
      kernel: e.kernel,
      listed: takesList(e),
      names: e.inputs.map(([k]) => k),
      ins: e.inputs.map(([, v]) => slot(resolve(v))),
      attrs: { ...e.attrs },
      outs: e.outputs.map((o) => slot(o)),
    });
    // custom-gradient calls replay their forward bodies: partition the flattened program
    const flatProgram = program.equations.some((e) => e.body !== undefined)
      ? new Program(
          program.name,
          program.inputs,
          program.constants,
          flat.map((e) => ({
            ...e,
            inputs: e.inputs.map(([k, v]) => [k, resolve(v)] as [string, Var]),
          })),
          program.outputs.map((o) => ({ ...o, var: resolve(o.var) })),
          program.annotations,
          program.hostReads,
          program.ordinals,
        )
      : program;
    const plan =
      options.fuse === true ? partition(flatProgram, { keep: outputs.map(resolve) }) : null;
    if (plan !== null) {
      let fused = 0;
      for (const st of plan.steps) {
        if (st.kind === 'equation') {
          this.steps.push(kernelStep(st.equation));
          continue;
        }
        const g = st.group;
        this.steps.push({
          fused: compileGroup(g),
          ins: g.inputs.map((v) => slot(resolve(v))),
          outs: g.outputs.map((o) => slot(o)),
        });
        fused++;
      }
      (this as { numFused: number }).numFused = fused;
      // exactly the constants the plan reads (scalars inlined into fused code are not)
      const used = new Set<number>();
      for (const st of this.steps) for (const i of st.ins) used.add(i);
      for (const v of outputs) used.add(slot(resolve(v))); // an output may be a constant
      this.constSlots.length = 0;
      this.constValues.length = 0;
      for (const [v, c] of constants) {
        const sl = this.slotOf.get(v);
        if (sl === undefined || !used.has(sl) || given.has(v)) continue;
        this.constSlots.push(sl);
        this.constValues.push({ values: c.values, shape: [...v.shape], dtype: v.dtype });
      }
    }
    for (const e of plan === null ? flat : []) {
      this.steps.push(kernelStep(e));
    }
    this.outSlots = outputs.map((v) => slot(resolve(v)));
  }

  /**
   * The single fused kernel this runner consists of, with the slots it reads and writes, when
   * the whole program is one fused group reading only program inputs (no constants or per-run
   * values): what an in-place replay needs. Null otherwise.
   */
  get soleFused(): {
    kernel: FusedKernel;
    inputs: readonly number[];
    outputs: readonly number[];
  } | null {
    if (this.steps.length !== 1 || this.constSlots.length || this.extraSlots.size) return null;
    const st = this.steps[0];
    if (st.fused === undefined) return null;
    return { kernel: st.fused, inputs: st.ins, outputs: st.outs };
  }

  /**
   * The schedule, for executors that bind buffers themselves (block.ts): the steps in order, the
   * var of every slot, the constants and the per-run slots.
   */
  get schedule(): Schedule {
    const varOfSlot: Var[] = new Array(this.numSlots);
    for (const [v, s] of this.slotOf) varOfSlot[s] = v;
    return {
      steps: this.steps,
      varOfSlot,
      constants: this.constSlots.map((slot, i) => ({ slot, ...this.constValues[i] })),
      extraSlots: this.extraSlots,
    };
  }

  /** The slot of a var (undefined if the runner never uses it). */
  slotOfVar(v: Var): number | undefined {
    return this.slotOf.get(v);
  }

  /** Number of kernel calls per run. */
  get numKernels(): number {
    return this.steps.length;
  }

  /**
   * Run with the program inputs (in `program.inputs` order) and values for the extra vars.
   * Returns the outputs in order. Call inside tf.tidy.
   */
  run(inputs: readonly tf.Tensor[], extra: ReadonlyMap<Var, tf.Tensor> = new Map()): tf.Tensor[] {
    const values: (tf.Tensor | undefined)[] = new Array(this.numSlots);
    this.inputSlots.forEach((s, i) => (values[s] = inputs[i]));
    for (const [v, s] of this.extraSlots) values[s] = extra.get(v);
    this.constSlots.forEach((s, i) => {
      const c = this.constValues[i];
      values[s] = tf.tensor(c.values as number[], c.shape, c.dtype);
    });
    const engine = tf.engine() as unknown as EngineRun;
    for (const st of this.steps) {
      if (st.fused !== undefined) {
        const out = runFused(
          st.fused,
          st.ins.map((i) => values[i]!),
        );
        for (let i = 0; i < out.length; i++) values[st.outs[i]] = out[i];
        continue;
      }
      let ins: Record<string, tf.Tensor> | tf.Tensor[];
      if (st.listed) ins = st.ins.map((s) => values[s]!);
      else {
        ins = {};
        for (let i = 0; i < st.ins.length; i++) ins[st.names[i]] = values[st.ins[i]]!;
      }
      const out = engine.runKernel(st.kernel, ins as Record<string, tf.Tensor>, st.attrs);
      if (Array.isArray(out)) for (let i = 0; i < out.length; i++) values[st.outs[i]] = out[i];
      else values[st.outs[0]] = out;
    }
    return this.outSlots.map((s) => values[s]!);
  }

  /** Nothing is held between runs (constants are made per run, inside the caller's tidy). */
  dispose(): void {}
}
