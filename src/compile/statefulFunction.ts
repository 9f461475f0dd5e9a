/**
 * StatefulFunction: run a function on States and learn what it reads and writes (spec §1.6).
 * One trace per cache key (argument shapes/dtypes, static argument values, and the shapes/dtypes
 * of the states it touched — a state whose shape changed makes the entry stale). A trace records
 * the Program (recorder.ts) and the states in first-access order. `call` executes eagerly inside
 * tf.tidy, keeping only the results and the new state values; the first call per key is also the
 * trace. On an exception every touched state gets its value back.
 */
import { tf } from '../backend/tf';
import { gradientTapeActive } from '../backend/engine';
import * as environ from '../environ';
import { TransformError } from '../errors';
import { RandomState, type Key } from '../random';
import { State, StateTraceStack, deferDisposal, ownerCount, traceLevel } from '../state';
import {
  isPlainObject,
  isTensor,
  tensorLeaves,
  treeSignature,
  type StateValue,
} from '../state/tree';
import { dumpProgram } from './dump';
import { wasmDirect, type WasmDirect } from './fusion/kernel';
import { ProgramRunner } from './runner';
import type { Program, Var } from './program';
import { flattenTensors, startRecording, stopRecording } from './recorder';

type AnyState = State<StateValue>;

export interface StatefulOptions {
  /** A name for the IR, messages and the dump folder (default: the function's name). */
  name?: string;
  /** Positional arguments that are compile-time constants (part of the cache key by value). */
  staticArgnums?: readonly number[];
  /**
   * A traced function that reads tensor data back to JS (dataSync, array, data) depends on data:
   * 'fallback' (default) runs it eagerly always and warns once; 'throw' raises a TransformError.
   */
  onHostRead?: 'fallback' | 'throw';
  /** Bound on cached traces (least recently used dropped first). */
  maxCacheSize?: number;
  /**
   * After the first call per signature, run the recorded program instead of `fn` (default true):
   * user JS does not run again, random draws take fresh keys, states are read and written as
   * `fn` would. A program that read tensor data back to JS, wrote non-tensor state, or read an
   * environ value that has changed since (e.g. the time `t`) runs `fn` eagerly instead.
   */
  replay?: boolean;
  /**
   * Fuse chains of element-wise kernels of a replayed program into generated kernels (wasm SIMD,
   * or JS): default true, off under a gradient tape (fused kernels have no gradient), and off
   * everywhere with the environment variable BRAINSTATE_FUSION=0.
   */
  fuse?: boolean;
  /**
   * When the replayed program is one fused element-wise kernel (e.g. a neuron step), it runs
   * directly on the wasm backend (no tfjs dispatch), writing each state it updates IN PLACE in the
   * state's own buffer when the jit owns that buffer: the jit created the tensor and nothing
   * outside it has obtained it since (`.value`, `rawValue`, copies and snapshots count), no
   * other tensor or state shares it, and the call is at top level (no enclosing transform, no
   * gradient tape). Otherwise the kernel writes new tensors, as a normal replay does; results are
   * always new tensors owned by the caller. So by default (undefined) in place is unobservable.
   * `true` also writes buffers the caller has obtained (a `.value` held across calls then shows
   * the new numbers; clones and shared buffers are still never written); `false` never writes in
   * place.
   */
  inPlace?: boolean;
}

/** How to replay a trace without running the function. */
export interface ReplayPlan {
  /** The result tree with tensor leaves replaced by their output vars. */
  readonly result: unknown;
  /** Per written state: its value tree with tensor leaves replaced by output vars. */
  readonly writes: readonly { readonly state: AnyState; readonly template: unknown }[];
  /** environ values the trace read (baked into the program). */
  readonly environ: readonly (readonly [string, unknown])[];
  /** Random draws: redraw with a fresh key from `rng` each replay. */
  readonly draws: readonly { readonly var: Var; readonly redraw: (k: Key) => tf.Tensor }[];
  readonly rng: RandomState | null;
  /** environ values the program takes as scalar inputs (environ.scalar): filled per replay. */
  readonly environInputs: readonly { readonly var: Var; readonly key: string }[];
  /** The program contains custom-gradient calls (replayed only off a gradient tape). */
  readonly customGrad: boolean;
  /** False once the in-place path is known not to apply to this program. */
  inPlace?: boolean;
  /** Built at the first replay (plain, and fused for calls off a gradient tape). */
  runner: ProgramRunner | null;
  fusedRunner: ProgramRunner | null;
  /** The fast call (undefined: not built yet; null: none). */
  fast?: FastCall | null;
}

/** Returned by a fast call that cannot run now (nothing was done). */
const MISS: unique symbol = Symbol('miss');

/** A top-level argument's abstract value (tensors) or value (anything else, by Object.is). */
interface ArgGuard {
  readonly tensor: boolean;
  readonly dtype: tf.DataType | null;
  readonly shape: readonly number[] | null;
  readonly value: unknown;
}

/** Where a program input comes from: 0 a state leaf, 1 a captured tensor, 2 an argument. */
interface InputSource {
  readonly kind: 0 | 1 | 2;
  readonly state: AnyState | null;
  /** The state's leaf (kind 0) or the argument index (kind 2). */
  readonly leaf: number;
  readonly tensor: tf.Tensor | null;
  /** Path inside the argument (kind 2; empty for a tensor argument). */
  readonly path?: readonly string[];
}

/** A replay that is one fused wasm kernel, called directly. */
interface DirectPlan {
  readonly wasm: WasmDirect;
  readonly size: number;
  /** Per kernel input: its index among the program inputs. */
  readonly inputOf: readonly number[];
  /** Per kernel output: the states it is written into. */
  readonly states: readonly (readonly AnyState[])[];
  /** Per kernel output: the state it may be written into in place, or null. */
  readonly inPlace: readonly (AnyState | null)[];
  /** `inPlace: true`: write in place whenever the buffer is not shared, sealed or not. */
  readonly forced: boolean;
  /** Per kernel output: a state holds it too (a result gets a clone). */
  readonly shared: readonly boolean[];
  /** The result tree with OutRef leaves. */
  readonly result: unknown;
  readonly ptrs: number[];
  readonly outs: tf.Tensor[];
  readonly fresh: boolean[];
}

/**
 * A replay prepared for repeated calls at top level (no transform, no tape): the argument guard
 * replaces cacheKey, state freshness is checked by value identity (a signature is computed only
 * for a value not seen before), inputs are bound by index, and either the one fused wasm kernel
 * is called directly (in place on jit-owned state buffers, or on new buffers), or the runner runs
 * with no trace frame.
 */
interface FastCall {
  readonly entry: TraceEntry;
  readonly plan: ReplayPlan;
  /** Null when some argument is nested (the call then goes through cacheKey). */
  readonly guard: readonly ArgGuard[] | null;
  readonly sources: readonly InputSource[];
  /** Per state: the value last found fresh. */
  readonly checked: unknown[];
  readonly inputs: tf.Tensor[];
  readonly direct: DirectPlan | null;
  readonly runner: ProgramRunner | null;
  readonly outIndex: ReadonlyMap<Var, number> | null;
}

function guardMatches(guard: readonly ArgGuard[], args: readonly unknown[]): boolean {
  if (args.length !== guard.length) return false;
  for (let i = 0; i < guard.length; i++) {
    const g = guard[i];
    const a = args[i];
    if (!g.tensor) {
      if (!Object.is(a, g.value)) return false;
      continue;
    }
    if (!(a instanceof tf.Tensor) || a.dtype !== g.dtype) return false;
    const s = a.shape;
    const gs = g.shape!;
    if (s.length !== gs.length) return false;
    for (let j = 0; j < s.length; j++) if (s[j] !== gs[j]) return false;
  }
  return true;
}

/** A kernel output's place in a direct result template. */
class OutRef {
  constructor(readonly m: number) {}
}

function buildResult(
  tpl: unknown,
  outs: readonly tf.Tensor[],
  shared: readonly boolean[],
): unknown {
  if (tpl instanceof OutRef) return shared[tpl.m] ? tf.clone(outs[tpl.m]) : outs[tpl.m];
  if (Array.isArray(tpl)) return tpl.map((v) => buildResult(v, outs, shared));
  if (isPlainObject(tpl)) {
    const o: Record<string, unknown> = {};
    for (const k of Object.keys(tpl)) o[k] = buildResult(tpl[k], outs, shared);
    return o;
  }
  return tpl;
}

function fillTemplate(
  tpl: unknown,
  index: ReadonlyMap<Var, number>,
  values: readonly tf.Tensor[],
): unknown {
  if (tpl instanceof VarRef) return values[index.get(tpl.v)!];
  if (Array.isArray(tpl)) return tpl.map((v) => fillTemplate(v, index, values));
  if (isPlainObject(tpl)) {
    const o: Record<string, unknown> = {};
    for (const k of Object.keys(tpl)) o[k] = fillTemplate(tpl[k], index, values);
    return o;
  }
  return tpl;
}

/** One trace: the program and the states it touched. */
export interface TraceEntry {
  readonly key: string;
  readonly program: Program;
  /** States in first-access order. */
  readonly states: readonly AnyState[];
  readonly written: readonly boolean[];
  /** Signature (structure/shape/dtype) of each state at trace time. */
  readonly stateSignatures: readonly string[];
  /** How to replay it, or why it cannot be (a string). */
  replay?: ReplayPlan | string;
}

export interface CacheStats {
  /** Number of traces made (first calls and recompiles). */
  compiles: number;
  hits: number;
  size: number;
  /** Calls answered by replaying the recorded program. */
  replays: number;
}

/**
 * Work that must be done before the next compiled call reads any state (the etrace algorithms'
 * deferred trace steps): a replay runs no user JS, so it could not do it itself. Each callback
 * runs once, at the start of the next `call` of any StatefulFunction (jit, and the transforms
 * built on it).
 */
const beforeCompiledCall = new Set<() => void>();

/** Run `fn` once before the next compiled call (see beforeCompiledCall); registering twice runs it once. */
export function onNextCompiledCall(fn: () => void): void {
  beforeCompiledCall.add(fn);
}

/** Forget a callback registered with onNextCompiledCall (its work was done otherwise). */
export function cancelNextCompiledCall(fn: () => void): void {
  beforeCompiledCall.delete(fn);
}

function runBeforeCompiledCall(): void {
  const fns = [...beforeCompiledCall];
  beforeCompiledCall.clear();
  for (const fn of fns) fn();
}

/** A function over States whose reads/writes are discovered and cached per signature. */
export class StatefulFunction<A extends unknown[], R> {
  readonly name: string;
  private readonly staticArgnums: ReadonlySet<number>;
  private readonly cache = new Map<string, TraceEntry>();
  private readonly options: StatefulOptions;
  private warnedHostRead = false;
  /** The fast call of the entry used last (tried first on every call). */
  private fast: FastCall | null = null;
  readonly stats: CacheStats = { compiles: 0, hits: 0, size: 0, replays: 0 };

  constructor(
    readonly fn: (...args: A) => R,
    options: StatefulOptions = {},
  ) {
    if (typeof fn !== 'function')
      throw new TransformError(`StatefulFunction: expected a function, got ${typeof fn}`);
    this.name = options.name ?? (fn.name || 'fn');
    for (const n of options.staticArgnums ?? []) {
      if (!Number.isInteger(n) || n < 0) {
        throw new TransformError(
          `${this.name}: staticArgnums must be non-negative integers, got ${String(n)}`,
        );
      }
    }
    this.staticArgnums = new Set(options.staticArgnums ?? []);
    this.options = options;
  }

  /** The cache key of a call: dynamic args by abstract value, static args by value. */
  cacheKey(args: A): string {
    for (const n of this.staticArgnums) {
      if (n >= args.length) {
        throw new TransformError(
          `${this.name}: staticArgnums includes ${n}, but only ${args.length} arguments were given`,
        );
      }
    }
    return args
      .map((a, i) =>
        this.staticArgnums.has(i)
          ? `s:${staticKey(a, `${this.name} argument ${i}`)}`
          : `d:${dynamicKey(a, `${this.name} argument ${i}`)}`,
      )
      .join('|');
  }

  private lookup(key: string): TraceEntry | undefined {
    const e = this.cache.get(key);
    if (e === undefined) return undefined;
    const fresh = e.states.every((s, i) => treeSignature(s.rawValue) === e.stateSignatures[i]);
    if (!fresh) {
      disposeRunner(e);
      this.cache.delete(key);
      return undefined;
    }
    this.cache.delete(key); // LRU: re-insert at the end
    this.cache.set(key, e);
    return e;
  }

  /**
   * Run `fn` in a trace frame (recording the Program when `record`), inside tf.tidy. With
   * `restore`, every touched state gets its original value back (inspection without side effects).
   */
  private run(
    args: A,
    key: string,
    record: boolean,
    restore: boolean,
  ): { result: R; entry: TraceEntry | null } {
    const frame = new StateTraceStack({
      name: this.name,
      checkRead: undefined,
    });
    let entry: TraceEntry | null = null;
    frame.enter();
    try {
      const result = tf.tidy(() => {
        const rec = record
          ? startRecording({
              name: this.name,
              args: args.flatMap((a, i) =>
                this.staticArgnums.has(i) ? [] : flattenTensors(a, String(i)),
              ),
              onHostRead: this.options.onHostRead === 'throw' ? 'throw' : 'record',
            })
          : null;
        let r: R;
        try {
          r = this.fn(...args);
          checkNoState(r, this.name);
          if (rec) {
            const program = rec.finish(
              r,
              frame.states,
              frame.getOriginalValues(),
              frame.getWriteStates() as AnyState[],
            );
            entry = {
              key,
              program,
              states: [...frame.states],
              written: [...frame.beenWritten],
              stateSignatures: frame.states.map((s) => treeSignature(s.rawValue)),
            };
            entry.replay =
              this.options.replay === false ? 'replay is off' : replayPlan(entry, program, r);
          }
        } finally {
          if (rec) stopRecording(rec);
        }
        return r as unknown as tf.TensorContainer;
      }) as unknown as R;
      if (restore) {
        frame.recoveryOriginalValues();
        tf.dispose(
          flattenTensors(result)
            .map(([, t]) => t)
            .filter((t) => ownerCount(t) === 0),
        );
      }
      return { result: restore ? (undefined as R) : ownResults(result), entry };
    } catch (e) {
      frame.recoveryOriginalValues();
      throw e;
    } finally {
      frame.exit();
    }
  }

  private fusedRunnerOf(program: Program, plan: ReplayPlan): ProgramRunner {
    return (plan.fusedRunner ??= new ProgramRunner(
      program,
      program.outputs.map((o) => o.var),
      [...plan.draws.map((d) => d.var), ...plan.environInputs.map((e) => e.var)],
      { fuse: true },
    ));
  }

  /**
   * The fast call of a replayable entry (built once per plan; null when the entry cannot have
   * one). See FastCall.
   */
  private fastOf(entry: TraceEntry, plan: ReplayPlan, args: A): FastCall | null {
    if (plan.fast === undefined) plan.fast = this.makeFast(entry, plan, args);
    return plan.fast;
  }

  private makeFast(entry: TraceEntry, plan: ReplayPlan, args: A): FastCall | null {
    const program = entry.program;
    // the argument guard: shapes/dtypes of tensors, values of everything else; nested args have
    // no guard (the call goes through cacheKey) but still run fast
    let guard: ArgGuard[] | null = [];
    args.forEach((a, i) => {
      if (guard === null) return;
      if (!this.staticArgnums.has(i) && a instanceof tf.Tensor)
        guard.push({ tensor: true, dtype: a.dtype, shape: a.shape.slice(), value: undefined });
      else if (a === null || (typeof a !== 'object' && typeof a !== 'function'))
        guard.push({ tensor: false, dtype: null, shape: null, value: a });
      else if (this.staticArgnums.has(i) && !Array.isArray(a) && !isPlainObject(a))
        guard.push({ tensor: false, dtype: null, shape: null, value: a }); // by identity
      else guard = null;
    });
    const sources: InputSource[] = [];
    for (const i of program.inputs) {
      const s = i.source;
      if (s.kind === 'state') sources.push({ kind: 0, state: s.state, leaf: s.leaf, tensor: null });
      else if (s.kind === 'captured')
        sources.push({ kind: 1, state: null, leaf: 0, tensor: s.tensor });
      else {
        const path = s.path.split('.');
        const idx = Number(path[0]);
        if (!Number.isInteger(idx) || this.staticArgnums.has(idx)) return null;
        sources.push({ kind: 2, state: null, leaf: idx, tensor: null, path: path.slice(1) });
      }
    }
    const fuse = this.options.fuse !== false && fusionEnabled();
    const direct = fuse ? this.directPlan(entry, plan, sources) : null;
    let runner: ProgramRunner | null = null;
    let outIndex: Map<Var, number> | null = null;
    if (direct === null) {
      runner = fuse
        ? this.fusedRunnerOf(program, plan)
        : (plan.runner ??= new ProgramRunner(
            program,
            program.outputs.map((o) => o.var),
            [...plan.draws.map((d) => d.var), ...plan.environInputs.map((e) => e.var)],
            { fuse: false },
          ));
      outIndex = new Map();
      program.outputs.forEach((o, k) => outIndex!.set(o.var, k));
    }
    return {
      entry,
      plan,
      guard,
      sources,
      checked: entry.states.map(() => undefined),
      inputs: new Array<tf.Tensor>(program.inputs.length),
      direct,
      runner,
      outIndex,
    };
  }

  /** The direct (no tfjs dispatch) form of a replay that is one fused wasm kernel, or null. */
  private directPlan(
    entry: TraceEntry,
    plan: ReplayPlan,
    sources: readonly InputSource[],
  ): DirectPlan | null {
    if (tf.getBackend() !== 'wasm' || plan.inPlace === false) return null;
    const runner = this.fusedRunnerOf(entry.program, plan);
    const sole = runner.soleFused;
    if (sole === null || plan.writes.some((w) => !(w.template instanceof VarRef))) {
      plan.inPlace = false; // not one fused kernel writing whole-tensor states
      return null;
    }
    const wasm = wasmDirect(sole.kernel);
    if (wasm === null) return null;
    const outOfSlot = new Map<number, number>();
    sole.outputs.forEach((s, m) => outOfSlot.set(s, m));
    const inputOf: number[] = [];
    for (const s of sole.inputs) {
      const k = runner.inputSlots.indexOf(s);
      if (k < 0) return null;
      inputOf.push(k);
    }
    const states: AnyState[][] = sole.outputs.map(() => []);
    const results = sole.outputs.map(() => 0);
    for (const w of plan.writes) {
      const s = runner.slotOfVar((w.template as VarRef).v);
      const m = s === undefined ? undefined : outOfSlot.get(s);
      if (m === undefined) return null;
      states[m].push(w.state);
    }
    let ok = true;
    const resultOf = (tpl: unknown): unknown => {
      if (tpl instanceof VarRef) {
        const s = runner.slotOfVar(tpl.v);
        const m = s === undefined ? undefined : outOfSlot.get(s);
        if (m === undefined) ok = false;
        else results[m]++;
        return new OutRef(m ?? -1);
      }
      if (Array.isArray(tpl)) return tpl.map(resultOf);
      if (isPlainObject(tpl)) {
        return Object.fromEntries(Object.entries(tpl).map(([k, v]) => [k, resultOf(v)]));
      }
      return tpl;
    };
    const result = resultOf(plan.result);
    if (!ok || states.some((st, m) => st.length === 0 && results[m] === 0)) return null;
    if (sources.some((src) => src.kind === 0 && !(src.state!.peekValue() instanceof tf.Tensor))) {
      return null; // inputs from tree-valued states: keep to the general path
    }
    const mode = this.options.inPlace;
    return {
      wasm,
      size: sole.kernel.size,
      inputOf,
      states,
      // in place: the sole consumer of an output is one state (a result needs its own tensor)
      inPlace: states.map((st, m) =>
        mode !== false && st.length === 1 && results[m] === 0 ? st[0] : null,
      ),
      forced: mode === true,
      shared: states.map((st) => st.length > 0),
      result,
      ptrs: new Array<number>(sole.inputs.length + sole.outputs.length + 1).fill(0),
      outs: new Array<tf.Tensor>(sole.outputs.length),
      fresh: sole.outputs.map(() => false),
    };
  }

  /**
   * Run a fast call (MISS when it cannot run now: inside a transform or under a tape, a state
   * changed signature, a tensor was disposed, an environ value changed; nothing was done then).
   */
  private runFast(f: FastCall, args: A): R | typeof MISS {
    const plan = f.plan;
    if (traceLevel() !== 0 || gradientTapeActive() || f.entry.replay !== plan || plan.fast !== f)
      return MISS;
    if (plan.environ.length !== 0 && !canReplay(plan)) return MISS;
    const states = f.entry.states;
    const sigs = f.entry.stateSignatures;
    for (let i = 0; i < states.length; i++) {
      const v = states[i].peekValue();
      if (v === f.checked[i]) continue;
      if (treeSignature(v) !== sigs[i]) return MISS;
      if (v instanceof tf.Tensor || typeof v === 'number') f.checked[i] = v;
    }
    const ins = f.inputs;
    for (let k = 0; k < f.sources.length; k++) {
      const src = f.sources[k];
      let t: unknown;
      if (src.kind === 0) {
        const v = src.state!.peekValue();
        t = v instanceof tf.Tensor ? (src.leaf === 0 ? v : undefined) : tensorLeaves(v)[src.leaf];
      } else if (src.kind === 1) t = src.tensor;
      else {
        t = args[src.leaf];
        for (let j = 0; j < src.path!.length && t != null; j++)
          t = (t as Record<string, unknown>)[src.path![j]];
      }
      if (!(t instanceof tf.Tensor) || t.isDisposed) return MISS;
      ins[k] = t;
    }
    if (f.direct !== null) return this.runDirect(f.direct, ins) as R | typeof MISS;
    const runner = f.runner!;
    const outIndex = f.outIndex!;
    return deferDisposal(() => {
      let values: tf.Tensor[] = [];
      const result = tf.tidy(() => {
        let extra: Map<Var, tf.Tensor> | undefined;
        if (plan.draws.length !== 0 || plan.environInputs.length !== 0) {
          extra = new Map();
          for (const d of plan.draws) extra.set(d.var, d.redraw(plan.rng!.splitKey()));
          for (const e of plan.environInputs) extra.set(e.var, environ.scalar(e.key));
        }
        values = runner.run(ins, extra);
        for (const w of plan.writes) {
          w.state.value = fillTemplate(w.template, outIndex, values) as StateValue;
        }
        return fillTemplate(plan.result, outIndex, values) as tf.TensorContainer;
      });
      // a value this replay computed (not an input passed through) was seen by no one: seal it
      for (const w of plan.writes) {
        if (!(w.template instanceof VarRef)) continue;
        const t = values[outIndex.get(w.template.v)!];
        if (w.state.peekValue() === t && !ins.includes(t)) w.state.seal();
      }
      return ownResults(result as unknown as R);
    });
  }

  /** The one fused wasm kernel on the states' buffers (in place) or on new buffers. */
  private runDirect(d: DirectPlan, ins: readonly tf.Tensor[]): unknown {
    const w = d.wasm;
    if (tf.backend() !== w.backend) return MISS;
    const outs = d.outs;
    const n = d.inputOf.length;
    for (let m = 0; m < outs.length; m++) {
      const st = d.inPlace[m];
      if (st !== null) {
        const t = st.peekValue() as tf.Tensor;
        if (
          (d.forced || st.isSealed) &&
          !t.isDisposed &&
          ownerCount(t) === 1 &&
          w.refCount(t) === 1
        ) {
          outs[m] = t;
          d.fresh[m] = false;
          continue;
        }
      }
      d.fresh[m] = true;
      outs[m] = w.alloc(m);
    }
    const ptrs = d.ptrs;
    try {
      for (let k = 0; k < n; k++) ptrs[k] = w.offset(ins[d.inputOf[k]]);
      for (let m = 0; m < outs.length; m++) ptrs[n + m] = w.offset(outs[m]);
      ptrs[ptrs.length - 1] = d.size;
      w.run(...ptrs);
    } catch (e) {
      for (let m = 0; m < outs.length; m++) if (d.fresh[m]) outs[m].dispose();
      throw e;
    }
    for (let m = 0; m < outs.length; m++) {
      const sts = d.states[m];
      if (!d.fresh[m]) {
        sts[0].beenWritten = true;
        continue;
      }
      for (const st of sts) st.value = outs[m] as StateValue;
      if (d.inPlace[m] !== null) d.inPlace[m]!.seal();
    }
    return buildResult(d.result, outs, d.shared);
  }

  /** Run the recorded program on the current states and these arguments (null: cannot). */
  private replayCall(entry: TraceEntry, plan: ReplayPlan, args: A): { result: R } | null {
    const program = entry.program;
    const argTensors = new Map<string, tf.Tensor>();
    args.forEach((a, i) => {
      if (!this.staticArgnums.has(i))
        for (const [p, t] of flattenTensors(a, String(i))) argTensors.set(p, t);
    });
    for (const i of program.inputs) {
      if (i.source.kind === 'captured' && i.source.tensor.isDisposed) {
        entry.replay = 'a captured tensor was disposed';
        return null;
      }
      if (i.source.kind === 'arg' && !argTensors.has(i.source.path)) return null;
    }
    const frame = new StateTraceStack({ name: this.name, checkRead: undefined });
    frame.enter();
    try {
      const result = tf.tidy(() => {
        const inputs = program.inputs.map((i) => {
          const s = i.source;
          if (s.kind === 'state') return tensorLeaves(s.state.value)[s.leaf];
          if (s.kind === 'arg') return argTensors.get(s.path)!;
          return s.tensor;
        });
        const extra = new Map<Var, tf.Tensor>();
        for (const d of plan.draws) extra.set(d.var, d.redraw(plan.rng!.splitKey()));
        for (const e of plan.environInputs) extra.set(e.var, environ.scalar(e.key));
        const fuse = this.options.fuse !== false && fusionEnabled() && !gradientTapeActive();
        const make = (f: boolean) =>
          new ProgramRunner(
            program,
            program.outputs.map((o) => o.var),
            [...plan.draws.map((d) => d.var), ...plan.environInputs.map((e) => e.var)],
            { fuse: f },
          );
        let runner: ProgramRunner;
        if (fuse) runner = this.fusedRunnerOf(program, plan);
        else runner = plan.runner ??= make(false);
        const values = runner.run(inputs, extra);
        const outs = new Map<Var, tf.Tensor>();
        program.outputs.forEach((o, i) => outs.set(o.var, values[i]));
        const fill = (tpl: unknown): unknown => {
          if (tpl instanceof VarRef) return outs.get(tpl.v)!;
          if (Array.isArray(tpl)) return tpl.map(fill);
          if (isPlainObject(tpl))
            return Object.fromEntries(Object.entries(tpl).map(([k, v]) => [k, fill(v)]));
          return tpl;
        };
        for (const w of plan.writes) w.state.value = fill(w.template) as StateValue;
        return fill(plan.result) as tf.TensorContainer;
      }) as unknown as R;
      return { result: ownResults(result) };
    } catch (e) {
      frame.recoveryOriginalValues();
      throw e;
    } finally {
      frame.exit();
    }
  }

  private store(entry: TraceEntry): TraceEntry {
    this.stats.compiles++;
    this.cache.set(entry.key, entry);
    const max = this.options.maxCacheSize ?? 128;
    while (this.cache.size > max) {
      const k = this.cache.keys().next().value as string;
      disposeRunner(this.cache.get(k)!);
      this.cache.delete(k);
    }
    this.stats.size = this.cache.size;
    dumpProgram(entry.program);
    if (entry.program.hostReads.length && !this.warnedHostRead) {
      this.warnedHostRead = true;
      console.warn(
        `brainstate-ts: ${this.name} reads traced tensor data back to JS (dataSync/array/data); ` +
          `it runs eagerly every call and cannot be replayed. Pass { onHostRead: 'throw' } to find the read.`,
      );
    }
    return entry;
  }

  /** Trace (without side effects) if this signature has no fresh entry; return the entry. */
  compile(...args: A): TraceEntry {
    const key = this.cacheKey(args);
    const hit = this.lookup(key);
    if (hit) return hit;
    const { entry } = this.run(args, key, true, true);
    return this.store(entry!);
  }

  /** Execute: the first call per signature also traces. Writes persist; results belong to the caller. */
  call(...args: A): R {
    if (beforeCompiledCall.size > 0) runBeforeCompiledCall();
    const f = this.fast;
    if (f !== null && f.guard !== null && guardMatches(f.guard, args)) {
      const r = this.runFast(f, args);
      if (r !== MISS) {
        this.stats.hits++;
        this.stats.replays++;
        return r;
      }
    }
    if (f !== null && this.cache.get(f.entry.key) === f.entry) {
      this.cache.delete(f.entry.key); // LRU: fast calls did not move it to the end
      this.cache.set(f.entry.key, f.entry);
    }
    const key = this.cacheKey(args);
    const hit = this.lookup(key);
    if (hit) this.stats.hits++;
    if (hit && typeof hit.replay === 'object' && canReplay(hit.replay)) {
      if (traceLevel() === 0 && !gradientTapeActive()) {
        const fast = (this.fast = this.fastOf(hit, hit.replay, args));
        const r = fast === null ? MISS : this.runFast(fast, args);
        if (r !== MISS) {
          this.stats.replays++;
          return r;
        }
      }
      const out = this.replayCall(hit, hit.replay, args);
      if (out !== null) {
        this.stats.replays++;
        return out.result;
      }
    }
    const { result, entry } = this.run(args, key, hit === undefined, false);
    if (entry) this.store(entry);
    return result;
  }

  /** The recorded program for these arguments (tracing if needed). */
  getProgram(...args: A): Program {
    return this.compile(...args).program;
  }
  /** States touched, in first-access order. */
  getStates(...args: A): readonly AnyState[] {
    return this.compile(...args).states;
  }
  /** States only read. */
  getReadStates(...args: A): AnyState[] {
    const e = this.compile(...args);
    return e.states.filter((_, i) => !e.written[i]);
  }
  /** States written. */
  getWriteStates(...args: A): AnyState[] {
    const e = this.compile(...args);
    return e.states.filter((_, i) => e.written[i]);
  }
  /** The cached entry for these arguments, if any (does not trace). */
  entryFor(...args: A): TraceEntry | undefined {
    return this.cache.get(this.cacheKey(args));
  }
  /**
   * For block execution (block.ts): the cached, fresh entry for these arguments with its replay
   * plan and fused runner, or why there is none. Does not trace.
   */
  replayEntry(...args: A): { entry: TraceEntry; plan: ReplayPlan; runner: ProgramRunner } | string {
    const entry = this.lookup(this.cacheKey(args));
    if (entry === undefined) return 'the step has not been traced for these arguments';
    if (typeof entry.replay !== 'object') return entry.replay ?? 'it cannot be replayed';
    const plan = entry.replay;
    const program = entry.program;
    const runner =
      this.options.fuse === false || !fusionEnabled()
        ? (plan.runner ??= new ProgramRunner(
            program,
            program.outputs.map((o) => o.var),
            [...plan.draws.map((d) => d.var), ...plan.environInputs.map((e) => e.var)],
            { fuse: false },
          ))
        : this.fusedRunnerOf(program, plan);
    return { entry, plan, runner };
  }

  clearCache(): void {
    for (const e of this.cache.values()) disposeRunner(e);
    this.cache.clear();
    this.stats.size = 0;
  }
}

/**
 * Results leave the transform owned by the caller: a result tensor that is also a state's value
 * is cloned, so the next write to the state cannot free the caller's tensor.
 */
export function ownResults<R>(r: R): R {
  const walk = (v: unknown): unknown => {
    if (v instanceof tf.Tensor) return ownerCount(v) > 0 ? tf.clone(v) : v;
    if (Array.isArray(v)) return v.map(walk);
    if (isPlainObject(v))
      return Object.fromEntries(Object.entries(v).map(([k, e]) => [k, walk(e)]));
    return v;
  };
  return walk(r) as R;
}

/** States may not be passed to or returned from transformed functions (spec §1.6). */
export function checkNoState(x: unknown, where: string, what = 'outputs'): void {
  const walk = (v: unknown): void => {
    if (v instanceof State) {
      throw new TransformError(
        `${where}: ${what} of a transformed function cannot be States (got ${v.describe()}); pass or return state.value`,
      );
    }
    if (Array.isArray(v)) v.forEach(walk);
    else if (isPlainObject(v)) Object.values(v).forEach(walk);
  };
  walk(x);
}

function dynamicKey(a: unknown, where: string): string {
  if (a instanceof State) {
    throw new TransformError(
      `${where}: inputs of a transformed function cannot be States (got ${a.describe()}); pass state.value`,
    );
  }
  if (a instanceof tf.Tensor) return `T${a.dtype}[${a.shape}]`;
  if (Array.isArray(a)) return `[${a.map((x, i) => dynamicKey(x, `${where}[${i}]`)).join(',')}]`;
  if (isPlainObject(a)) {
    return `{${Object.keys(a)
      .sort()
      .map((k) => `${k}:${dynamicKey(a[k], `${where}.${k}`)}`)
      .join(',')}}`;
  }
  // Non-tensor leaves cannot be traced by tfjs: they are part of the key by value.
  return staticKey(a, where);
}

const objectIds = new WeakMap<object, number>();
let nextObjectId = 0;

function staticKey(a: unknown, where: string): string {
  if (
    a === null ||
    a === undefined ||
    typeof a === 'number' ||
    typeof a === 'boolean' ||
    typeof a === 'string'
  ) {
    return JSON.stringify(a) ?? 'undefined';
  }
  if (Array.isArray(a)) return `[${a.map((x, i) => staticKey(x, `${where}[${i}]`)).join(',')}]`;
  if (isPlainObject(a)) {
    return `{${Object.keys(a)
      .sort()
      .map((k) => `${k}:${staticKey(a[k], `${where}.${k}`)}`)
      .join(',')}}`;
  }
  if (a instanceof State) {
    throw new TransformError(`${where}: a State cannot be a static argument (got ${a.describe()})`);
  }
  if (a instanceof tf.Tensor) {
    throw new TransformError(
      `${where}: a tensor cannot be a static argument; remove it from staticArgnums`,
    );
  }
  if (typeof a === 'function' || typeof a === 'object') {
    let id = objectIds.get(a as object);
    if (id === undefined) objectIds.set(a as object, (id = nextObjectId++));
    return `@${id}`;
  }
  throw new TransformError(`${where}: cannot use a ${typeof a} as a cache key`);
}

/** A tensor leaf's place in a replay template. */
export class VarRef {
  constructor(readonly v: Var) {}
}

/** True when the plan may run now (environ unchanged; custom gradients only off a tape). */
function canReplay(plan: ReplayPlan): boolean {
  for (const [k, v] of plan.environ) {
    let now: unknown;
    try {
      now = environ.get(k);
    } catch {
      return false;
    }
    if (!Object.is(now, v)) return false;
  }
  if (plan.customGrad && gradientTapeActive()) return false;
  return true;
}

/** The replay plan of a trace, or why there is none. */
function replayPlan(entry: TraceEntry, program: Program, result: unknown): ReplayPlan | string {
  if (program.hostReads.length) return 'it reads tensor data back to JS';
  for (const a of program.annotationsOf('environInput')) {
    if (program.constants.every((c) => c.var !== a.vars[0])) return 'internal: environ input';
  }
  const varOfTensor = new Map<tf.Tensor, Var>();
  const outByState = new Map<AnyState, Map<number, Var>>();
  for (const o of program.outputs) {
    if (o.target.kind === 'state') {
      const m = outByState.get(o.target.state) ?? new Map<number, Var>();
      m.set(o.target.leaf, o.var);
      outByState.set(o.target.state, m);
    }
  }
  const resultVars = new Map<string, Var>();
  for (const o of program.outputs)
    if (o.target.kind === 'result') resultVars.set(o.target.path, o.var);
  for (const [path, t] of flattenTensors(result)) varOfTensor.set(t, resultVars.get(path)!);
  const tpl = (v: unknown): unknown => {
    if (v instanceof tf.Tensor) return new VarRef(varOfTensor.get(v)!);
    if (Array.isArray(v)) return v.map(tpl);
    if (isPlainObject(v)) return Object.fromEntries(Object.entries(v).map(([k, e]) => [k, tpl(e)]));
    return v;
  };
  const writes: { state: AnyState; template: unknown }[] = [];
  const rngs: RandomState[] = [];
  for (let i = 0; i < entry.states.length; i++) {
    if (!entry.written[i]) continue;
    const s = entry.states[i];
    if (s instanceof RandomState) {
      rngs.push(s);
      continue;
    }
    const value = s.rawValue;
    const leavesOut = outByState.get(s) ?? new Map<number, Var>();
    let leaf = 0;
    let ok = true;
    const stpl = (v: unknown): unknown => {
      if (isTensor(v)) {
        const out = leavesOut.get(leaf++);
        if (!out) ok = false;
        return out ? new VarRef(out) : v;
      }
      if (typeof v === 'number') {
        ok = false;
        return v;
      }
      if (Array.isArray(v)) return v.map(stpl);
      if (isPlainObject(v))
        return Object.fromEntries(Object.entries(v).map(([k, e]) => [k, stpl(e)]));
      return v;
    };
    const template = stpl(value);
    if (!ok) return `it writes a non-tensor value into ${s.describe()}`;
    writes.push({ state: s, template });
  }
  const draws = program
    .annotationsOf('random')
    .map((a) => ({ var: a.vars[0], redraw: a.data.redraw as (k: Key) => tf.Tensor }));
  if (draws.length && rngs.length !== 1) {
    return rngs.length === 0
      ? 'its random draws do not come from a RandomState it writes'
      : 'it draws from several RandomStates';
  }
  const environReads = new Map<string, unknown>();
  for (const a of program.annotationsOf('environ')) {
    if (!environReads.has(a.data.key as string))
      environReads.set(a.data.key as string, a.data.value);
  }
  const hasCustomGrad = program.equations.some((e) => e.body !== undefined);
  for (const [path, t] of flattenTensors(result))
    if (!resultVars.has(path) || !t) return 'internal';
  return {
    result: tpl(result),
    writes,
    environ: [...environReads],
    draws,
    rng: rngs[0] ?? null,
    environInputs: program
      .annotationsOf('environInput')
      .map((a) => ({ var: a.vars[0], key: a.data.key as string })),
    customGrad: hasCustomGrad,
    runner: null,
    fusedRunner: null,
  };
}

function disposeRunner(e: TraceEntry): void {
  if (typeof e.replay === 'object') {
    e.replay.fast = undefined;
    e.replay.runner?.dispose();
    e.replay.runner = null;
    e.replay.fusedRunner?.dispose();
    e.replay.fusedRunner = null;
  }
}

function fusionEnabled(): boolean {
  return typeof process === 'undefined' || process.env?.BRAINSTATE_FUSION !== '0';
}
