/**
 * Runner: simulate a network over time with inputs and monitors, like BrainPy's DSRunner
 * (seeds 000 and 002). Each step sets environ `t`, `i` (and `dt`), applies the inputs, calls
 * `net.call(...args)` and records the monitors; `await runner.run(ms)` returns the wall time.
 *
 *   const runner = new Runner(net, { monitors: ['E.spike', 'E.V'], inputs: [['E', 20]] });
 *   const seconds = await runner.run(1000);          // 1000 ms of biological time
 *   runner.mon.ts; runner.mon['E.spike'].meanRate(); runner.mon['E.V'].column(0);
 *
 * Inputs `[target, value, type?, op?]` (BrainPy's convention):
 * - target: a dotted path. A Dynamics module ('E') gets the value as a CURRENT INPUT for the step
 *   (`addCurrentInput`; its update consumes it through `sumCurrentInputs`), i.e. a current into
 *   the membrane equation. A State path ('E.V') gets `state = state op value` before the step.
 * - value: a number, array or tensor; type 'fix' (default) uses it every step; 'iter' uses row i
 *   of a tensor [T, ...] (e.g. `sectionInput(...)`), i being the global step index (it continues
 *   across runs, like t); a function `(t, i) => value` ('func') is
 *   evaluated every step, outside the compiled step, so its result is a per-step argument.
 * - op: '+' (default) for modules and states; '-', '*', '/', '=' for states.
 * The network's update receives `args` (none by default) every step.
 *
 * Monitors: `['E.spike', 'E.V']` (state paths, also the names) or `{ name: path | () => tensor
 * | { path | fn, events? } }`. A state named `spike` (or a bool state) is recorded as spike
 * events (SpikeEvents), anything else as values (Trace). Paths are checked when the Runner is
 * built: an unknown path is a KeyNotFoundError listing the state paths.
 */
import { tf } from '../../backend/tf';
import { buildBlock, type StepBlock } from '../../compile/block';
import { NonzeroScanner } from '../../compile/heapScan';
import { jit, type Jitted } from '../../compile/jit';
import { toProgressBar, ProgressBar, type ProgressBarOption } from '../../compile/progress';
import { ownResults } from '../../compile/statefulFunction';
import * as environ from '../../environ';
import { ArgumentError, TransformError, describeValue } from '../../errors';
import { initAllStates, Module, states as graphStates, type InitStateOptions } from '../../graph';
import { HiddenState, State } from '../../state';
import { Dynamics } from '../dynamics';
import {
  EventRecorder,
  MonitorData,
  type HostData,
  SpikeEvents,
  Trace,
  ValueRecorder,
  type Recorder,
} from './monitors';
import { listing, resolveStatePath, statePaths, walkPath } from './paths';

/** A function monitor: evaluated after every step, returns one tensor. */
export type MonitorFn = () => tf.Tensor;

/** A monitor given in full: a state path or a function, and whether to keep spike events. */
export interface MonitorSpec {
  path?: string;
  fn?: MonitorFn;
  /** Record nonzero elements as events (default: true for a `spike` state or a bool state). */
  events?: boolean;
}

/** One entry of the object form of `monitors`. */
export type MonitorEntry = string | MonitorFn | MonitorSpec;

/** The recording type of a monitor name: `'X.spike'` is spike events, otherwise either. */
export type MonitorOf<K extends string> = K extends 'spike' | `${string}.spike`
  ? SpikeEvents
  : MonitorData;

/** `runner.mon`: the step times and one recording per monitor. */
export type Monitors<N extends string> = { readonly ts: Float32Array } & {
  readonly [K in N]: MonitorOf<K>;
};

/** An input value: constant, per-step series, or a function of (t ms, step i). */
export type RunnerInputValue =
  | number
  | readonly number[]
  | tf.Tensor
  | ((t: number, i: number) => number | readonly number[] | tf.Tensor);

/** `[target path, value, type?, op?]`; see the file header. */
export type RunnerInput = readonly [
  target: string,
  value: RunnerInputValue,
  type?: 'fix' | 'iter' | 'func',
  op?: '+' | '-' | '*' | '/' | '=',
];

/** Options of the Runner. */
export interface RunnerOptions<N extends string = string> {
  /** State paths (`['E.spike', 'E.V']`) or `{ name: path | fn | spec }`. */
  monitors?: readonly N[] | { readonly [K in N]: MonitorEntry };
  /** Inputs applied before every step; see the file header. */
  inputs?: readonly RunnerInput[];
  /** Arguments of `net.update` every step: fixed, or a function of (t, i). Default none. */
  args?: readonly unknown[] | ((t: number, i: number) => readonly unknown[]);
  /** Compile the step with jit (default true). */
  jit?: boolean;
  /** true, a number (update period in steps) or a ProgressBar. Default false. */
  progressBar?: ProgressBarOption;
  /** Time step in ms for the runs (default: environ dt at run time). */
  dt?: number;
  /**
   * Initialise the network's states when the Runner is built: true, false, or options for
   * initAllStates. Default 'auto': initialise if the network holds no HiddenState yet (neurons
   * and synapses create theirs in initState), so a freshly built network just runs.
   */
  initStates?: boolean | 'auto' | InitStateOptions;
  /**
   * Steps per block read back from the device when stepping (default 100); when running in
   * blocks, steps per block call if a progress bar is shown (else the whole run is one call).
   */
  blockSteps?: number;
  /**
   * Run the jitted step in blocks of `blockSteps` steps per call (block.ts: no user JS, fused
   * and event kernels in place, monitors written straight into their host buffers) when it can:
   * default true. Function inputs and function args run step by step; `runner.blockBlocker`
   * says why a run did.
   */
  blocks?: boolean;
}

interface MonitorPlan {
  name: string;
  path: string | null;
  fn: MonitorFn | null;
  events: boolean;
}

interface InputPlan {
  path: string;
  value: RunnerInputValue;
  type: 'fix' | 'iter' | 'func';
  op: '+' | '-' | '*' | '/' | '=';
  /** Key of the current input registered on a module target. */
  key: string;
}

/** Label of the current inputs the Runner registers (keys `runner // input.k`). */
const INPUT_LABEL = 'runner';
const OPS = ['+', '-', '*', '/', '='] as const;
const TYPES = ['fix', 'iter', 'func'] as const;

function isDynamics(v: unknown): v is Dynamics {
  return v instanceof Dynamics;
}

/** Simulates a network step by step with inputs and monitors (see the file header). */
export class Runner<const N extends string = string> {
  readonly net: Module;
  /** The recordings of the last run: `mon.ts` and one entry per monitor. */
  mon: Monitors<N>;
  private readonly monitors: MonitorPlan[];
  private readonly inputs: InputPlan[];
  private readonly options: RunnerOptions<N>;
  private readonly step: (inputs: tf.Tensor[], args: readonly unknown[]) => tf.Tensor[];
  private readonly jitted: Jitted<[tf.Tensor[], readonly unknown[]], tf.Tensor[]> | null;
  private blocker: string | null = null;
  private timing = { total_s: 0, first_step_s: 0 };
  private t0 = 0;
  private i0 = 0;
  private running = false;

  constructor(net: Module, options: RunnerOptions<N> = {}) {
    if (!(net instanceof Module)) {
      throw new ArgumentError(`Runner: the network must be a Module, got ${describeValue(net)}`);
    }
    if (options === null || typeof options !== 'object') {
      throw new ArgumentError(`Runner: options must be an object, got ${describeValue(options)}`);
    }
    this.net = net;
    this.options = options;
    checkOptions(options);
    this.maybeInit(options.initStates ?? 'auto');
    this.monitors = this.planMonitors(options.monitors);
    this.inputs = this.planInputs(options.inputs ?? []);
    const stepFn = (inputs: tf.Tensor[], args: readonly unknown[]) => this.stepBody(inputs, args);
    const jitted = jit(stepFn, { name: `Runner(${net.constructor.name}).step` });
    this.jitted = options.jit === false ? null : jitted;
    this.step =
      options.jit === false
        ? (inputs, args) => tf.tidy(() => ownResults(stepFn(inputs, args)))
        : jitted;
    this.mon = this.emptyMonitors();
  }

  /** Current simulation time in ms (the time of the next step). */
  get currentTime(): number {
    return this.t0;
  }
  /** Index of the next step. */
  get currentStep(): number {
    return this.i0;
  }
  /**
   * Why the last run went step by step instead of in blocks (null: it ran in blocks, or was one
   * step long).
   */
  get blockBlocker(): string | null {
    return this.blocker;
  }
  /**
   * Wall times of the last run in seconds: the whole run, and its first step alone (with a new
   * step signature that is the trace, kernel generation and block build: the compile time).
   */
  get lastRunTiming(): { readonly total_s: number; readonly first_step_s: number } {
    return this.timing;
  }

  /**
   * Simulate `duration` ms (round(duration/dt) steps), continuing from the previous run's time.
   * Replaces `mon` with this run's recordings. Resolves to the wall time of the run in seconds.
   */
  async run(duration: number): Promise<number> {
    if (this.running) throw new ArgumentError('Runner.run: a run of this Runner is in progress');
    const dt = this.options.dt ?? environ.getDt();
    if (typeof duration !== 'number' || !Number.isFinite(duration) || duration <= 0) {
      throw new ArgumentError(
        `Runner.run: duration must be a positive number of ms, got ${describeValue(duration)}`,
      );
    }
    const n = Math.round(duration / dt);
    if (n < 1) {
      throw new ArgumentError(
        `Runner.run: duration ${duration} ms is less than one step (dt = ${dt} ms)`,
      );
    }
    this.running = true;
    try {
      return await this.simulate(n, dt);
    } finally {
      this.running = false;
    }
  }

  private async simulate(n: number, dt: number): Promise<number> {
    const states = this.monitors.map((m) =>
      m.path === null ? null : resolveStatePath(this.net, m.path, `monitor '${m.path}'`),
    );
    states.forEach((s, k) => {
      if (s !== null && !(s.rawValue instanceof tf.Tensor)) {
        throw new ArgumentError(
          `Runner: monitor '${this.monitors[k].name}' must hold one tensor, got ${s.describe()}`,
        );
      }
    });
    this.monitorStates = states;
    this.inputTargets = this.inputs.map((inp) => {
      const w = walkPath(this.net, inp.path);
      return w.ok && isDynamics(w.value)
        ? w.value
        : resolveStatePath(this.net, inp.path, `input '${inp.path}'`);
    });
    const recorders: Recorder[] = this.monitors.map((m) =>
      m.events ? new EventRecorder(m.name, n) : new ValueRecorder(m.name, n),
    );
    this.checkSeries(n);
    const fixed = this.inputs.map((inp) =>
      inp.type === 'fix' ? toTensor(inp.value as never) : null,
    );
    const ts = new Float32Array(n);
    const bar = toProgressBar(this.options.progressBar, 'Runner');
    const progress = (bar === null ? null : barFor(bar, n, dt))?.start(n) ?? null;
    const blockSteps = this.options.blockSteps ?? 100;
    const start = performance.now();
    let k = 0;
    let firstStep = 0;
    let block: StepBlock | null = null;
    const series: tf.Tensor[] = [];
    try {
      while (k < n) {
        if (block !== null) {
          // the rest of the run in one block call (monitors need no read-back), or up to the
          // next `blockSteps` boundary when a progress bar shows the steps
          const m = progress === null ? n - k : Math.min(blockSteps - (k % blockSteps), n - k);
          for (let q = 0; q < m; q++) ts[k + q] = this.t0 + (k + q) * dt;
          this.runBlock(block, k, m, dt, fixed, recorders);
          k += m;
          if (k % blockSteps === 0) for (const r of recorders) await r.flush();
          progress?.step(k - 1, { i: k - 1, carry: undefined, y: undefined });
          continue;
        }
        const t = this.t0 + k * dt;
        const i = this.i0 + k;
        ts[k] = t;
        const perStep: tf.Tensor[] = [];
        const inputs = this.inputs.map((inp, j) => {
          if (fixed[j] !== null) return fixed[j];
          const v = this.stepInput(inp, t, i);
          perStep.push(v);
          return v;
        });
        const args = this.stepArgs(t, i);
        let outs: tf.Tensor[];
        try {
          outs = environ.context({ t, i, dt }, () => this.step(inputs, args));
          if (k === 0 && n > 1) {
            block = this.makeBlock(inputs, args);
            if (block !== null) {
              series.push(...this.seriesTensors());
              this.scanners = this.monitors.map((mon, j) =>
                mon.events ? new NonzeroScanner(outs[j].size) : null,
              );
            }
          }
        } finally {
          tf.dispose(perStep);
        }
        outs.forEach((o, j) => recorders[j].push(o));
        k++;
        if (k === 1) firstStep = (performance.now() - start) / 1000;
        if (k % blockSteps === 0 || block !== null) for (const r of recorders) await r.flush();
        progress?.step(k - 1, { i: k - 1, carry: undefined, y: undefined });
      }
      for (const r of recorders) await r.flush();
    } catch (e) {
      progress?.close();
      for (const r of recorders) r.dispose();
      this.t0 += k * dt;
      this.i0 += k;
      throw e;
    } finally {
      block?.dispose();
      for (const sc of this.scanners) sc?.dispose();
      this.scanners = [];
      this.seriesOf = [];
      tf.dispose(series);
      tf.dispose(fixed.filter((f): f is tf.Tensor => f !== null));
      this.monitorStates = [];
      this.inputTargets = [];
    }
    const seconds = (performance.now() - start) / 1000;
    this.timing = { total_s: seconds, first_step_s: firstStep };
    this.t0 += n * dt;
    this.i0 += n;
    const mon: Record<string, unknown> = { ts };
    this.monitors.forEach((m, j) => (mon[m.name] = recorders[j].finish(ts, dt)));
    this.mon = mon as Monitors<N>;
    return seconds;
  }

  /** The monitored states and input targets of the run in progress (resolved at its start). */
  private monitorStates: (State | null)[] = [];
  private inputTargets: (Dynamics | State)[] = [];

  /** One step: inputs, net.call(...args), the monitored values (clones where states own them). */
  private stepBody(inputs: tf.Tensor[], args: readonly unknown[]): tf.Tensor[] {
    this.inputs.forEach((inp, j) => applyInput(inp, this.inputTargets[j], inputs[j]));
    (this.net.call as (...a: unknown[]) => unknown).apply(this.net, args as unknown[]);
    for (const [j, inp] of this.inputs.entries()) {
      const target = this.inputTargets[j];
      if (isDynamics(target) && `${INPUT_LABEL} // ${inp.key}` in target.currentInputs) {
        target.sumCurrentInputs(0, [], INPUT_LABEL); // take the input back (the module owns it)
        throw new ArgumentError(
          `Runner: input '${inp.path}' was not consumed: ${target.describe()}.update() does not call ` +
            `sumCurrentInputs; give a state path (e.g. '${inp.path}.V') or pass the input through args`,
        );
      }
    }
    return this.monitors.map((m, j) => {
      const v = m.fn !== null ? m.fn() : this.monitorStates[j]!.value;
      if (!(v instanceof tf.Tensor)) {
        throw new TransformError(
          `Runner: monitor '${m.name}' returned ${describeValue(v)}, not a tensor`,
        );
      }
      return v;
    });
  }

  /** The block for this run's step, or null (with the reason in `blocker`). */
  private makeBlock(inputs: tf.Tensor[], args: readonly unknown[]): StepBlock | null {
    this.blocker = null;
    if (this.jitted === null) return null;
    if (this.options.blocks === false) {
      this.blocker = 'blocks are off (blocks: false)';
      return null;
    }
    const fn = this.inputs.find((inp) => inp.type === 'func');
    if (fn !== undefined) {
      this.blocker = `input '${fn.path}' is a function, evaluated in JS every step`;
      return null;
    }
    if (typeof this.options.args === 'function') {
      this.blocker = 'args is a function, evaluated in JS every step';
      return null;
    }
    const b = buildBlock(this.jitted.statefulFun, [inputs, args], ['t', 'i']);
    if (typeof b === 'string') {
      this.blocker = b;
      return null;
    }
    return b;
  }

  /** Per monitor: a nonzero scanner for event monitors during blocks (else null). */
  private scanners: (NonzeroScanner | null)[] = [];

  /** The 'iter' inputs as tensors [T, ...] (in input order; null for other inputs). */
  private seriesOf: (tf.Tensor | null)[] = [];
  private seriesTensors(): tf.Tensor[] {
    this.seriesOf = this.inputs.map((inp) => {
      if (inp.type !== 'iter') return null;
      const v = inp.value as tf.Tensor | readonly number[];
      return v instanceof tf.Tensor ? v : tf.tensor1d(v as number[], 'float32');
    });
    return this.seriesOf.filter(
      (t, j): t is tf.Tensor => t !== null && !(this.inputs[j].value instanceof tf.Tensor),
    );
  }

  /** Steps k … k + m − 1 in one block call; monitors are written into the recorders. */
  private runBlock(
    block: StepBlock,
    k: number,
    m: number,
    dt: number,
    fixed: (tf.Tensor | null)[],
    recorders: Recorder[],
  ): void {
    const scanners = this.scanners;
    const rows = new Map<string, { series: tf.Tensor; start: number }>();
    this.seriesOf.forEach((t, j) => {
      if (t !== null) rows.set(`0.${j}`, { series: t, start: this.i0 + k });
    });
    const t0 = this.t0;
    const i0 = this.i0 + k;
    const args = this.stepArgs(t0 + k * dt, i0);
    environ.context({ t: t0 + k * dt, i: i0, dt }, () =>
      block.run(m, {
        args: [fixed, args],
        rows,
        environ: { t: (q) => t0 + (k + q) * dt, i: (q) => i0 + q },
        sink: (_q, results, io) => {
          for (let j = 0; j < results.length; j++) {
            const r = recorders[j];
            const t = results[j];
            const sc = scanners[j];
            if (sc !== null && r instanceof EventRecorder) {
              r.pushIndices(sc.indices, sc.scan(t), t.shape);
            } else r.pushData(io.view(t) as HostData, t.shape);
          }
        },
      }),
    );
  }

  private stepInput(inp: InputPlan, t: number, i: number): tf.Tensor {
    if (inp.type === 'iter') {
      const series = inp.value as tf.Tensor | readonly number[];
      return series instanceof tf.Tensor
        ? tf.tidy(() => tf.squeeze(tf.slice(series, [i], [1]), [0]))
        : tf.scalar((series as readonly number[])[i]);
    }
    const fn = inp.value as (t: number, i: number) => number | readonly number[] | tf.Tensor;
    const v = fn(t, i);
    if (!(typeof v === 'number' || Array.isArray(v) || v instanceof tf.Tensor)) {
      throw new ArgumentError(
        `Runner: input '${inp.path}' function returned ${describeValue(v)}, not a number, array or tensor`,
      );
    }
    return v instanceof tf.Tensor ? tf.clone(v) : toTensor(v as number | readonly number[]);
  }

  private stepArgs(t: number, i: number): readonly unknown[] {
    const a = this.options.args;
    if (a === undefined) return [];
    const v = typeof a === 'function' ? a(t, i) : a;
    if (!Array.isArray(v)) {
      throw new ArgumentError(
        `Runner: args must be an array (or a function returning one), got ${describeValue(v)}`,
      );
    }
    return v;
  }

  /** 'iter' inputs must cover the run (rows i0 … i0 + n − 1). */
  private checkSeries(n: number): void {
    for (const inp of this.inputs) {
      if (inp.type !== 'iter') continue;
      const v = inp.value as tf.Tensor | readonly number[];
      const len = v instanceof tf.Tensor ? (v.shape[0] ?? 0) : v.length;
      if (len < this.i0 + n) {
        throw new ArgumentError(
          `Runner: input '${inp.path}' ('iter') has ${len} steps but the run needs rows ${this.i0}–${this.i0 + n - 1}; ` +
            `an 'iter' input is indexed by the global step i, which continues across runs`,
        );
      }
    }
  }

  private maybeInit(init: boolean | 'auto' | InitStateOptions): void {
    if (init === false) return;
    if (init === 'auto') {
      if (graphStates(this.net, HiddenState).size === 0) initAllStates(this.net);
      return;
    }
    initAllStates(this.net, init === true ? {} : init);
  }

  private planMonitors(monitors: RunnerOptions<N>['monitors']): MonitorPlan[] {
    if (monitors === undefined) return [];
    const entries: [string, MonitorEntry][] = Array.isArray(monitors)
      ? (monitors as readonly string[]).map((p) => [p, p])
      : monitors !== null && typeof monitors === 'object'
        ? Object.entries(monitors as Record<string, MonitorEntry>)
        : (() => {
            throw new ArgumentError(
              `Runner: monitors must be an array of state paths or an object, got ${describeValue(monitors)}`,
            );
          })();
    const seen = new Set<string>();
    return entries.map(([name, entry]) => {
      if (typeof name !== 'string' || name === 'ts') {
        throw new ArgumentError(
          `Runner: invalid monitor name ${describeValue(name)} ('ts' is the time axis)`,
        );
      }
      if (seen.has(name)) throw new ArgumentError(`Runner: monitor '${name}' is given twice`);
      seen.add(name);
      const spec: MonitorSpec =
        typeof entry === 'string'
          ? { path: entry }
          : typeof entry === 'function'
            ? { fn: entry }
            : entry !== null && typeof entry === 'object'
              ? entry
              : (() => {
                  throw new ArgumentError(
                    `Runner: monitor '${name}' must be a state path, a function or { path | fn, events? }, got ${describeValue(entry)}`,
                  );
                })();
      if ((spec.path === undefined) === (spec.fn === undefined)) {
        throw new ArgumentError(`Runner: monitor '${name}' needs exactly one of path and fn`);
      }
      if (spec.fn !== undefined && typeof spec.fn !== 'function') {
        throw new ArgumentError(
          `Runner: monitor '${name}'.fn must be a function, got ${describeValue(spec.fn)}`,
        );
      }
      let events = spec.events ?? false;
      if (spec.path !== undefined) {
        if (typeof spec.path !== 'string') {
          throw new ArgumentError(
            `Runner: monitor '${name}' path must be a string, got ${describeValue(spec.path)}`,
          );
        }
        const state = resolveStatePath(this.net, spec.path, `monitor '${spec.path}'`);
        const last = spec.path.split('.').pop();
        const spikeLike =
          last === 'spike' ||
          (state.rawValue instanceof tf.Tensor && state.rawValue.dtype === 'bool');
        events = spec.events ?? spikeLike;
      }
      if (!events && (name === 'spike' || name.endsWith('.spike'))) {
        throw new ArgumentError(
          `Runner: monitor '${name}' records values, but names ending in '.spike' are reserved for spike events; ` +
            `rename it or pass { events: true }`,
        );
      }
      return { name, path: spec.path ?? null, fn: spec.fn ?? null, events };
    });
  }

  private planInputs(inputs: readonly RunnerInput[]): InputPlan[] {
    if (!Array.isArray(inputs)) {
      throw new ArgumentError(
        `Runner: inputs must be an array of [target, value, type?, op?], got ${describeValue(inputs)}`,
      );
    }
    return inputs.map((entry, k) => {
      if (
        !Array.isArray(entry) ||
        entry.length < 2 ||
        entry.length > 4 ||
        typeof entry[0] !== 'string'
      ) {
        throw new ArgumentError(
          `Runner: inputs[${k}] must be [target path, value, type?, op?], got ${describeValue(entry)}`,
        );
      }
      const [path, value, typeArg, opArg] = entry as unknown as RunnerInput;
      const type = typeArg ?? (typeof value === 'function' ? 'func' : 'fix');
      const op = opArg ?? '+';
      if (!TYPES.includes(type)) {
        throw new ArgumentError(
          `Runner: input '${path}' type must be 'fix', 'iter' or 'func', got ${describeValue(type)}`,
        );
      }
      if (!OPS.includes(op)) {
        throw new ArgumentError(
          `Runner: input '${path}' op must be one of ${OPS.join(' ')}, got ${describeValue(op)}`,
        );
      }
      if ((type === 'func') !== (typeof value === 'function')) {
        throw new ArgumentError(
          `Runner: input '${path}': type 'func' needs a function value, and a function value needs type 'func'`,
        );
      }
      if (
        type !== 'func' &&
        !(typeof value === 'number' || Array.isArray(value) || value instanceof tf.Tensor)
      ) {
        throw new ArgumentError(
          `Runner: input '${path}' value must be a number, an array, a tensor or a function, got ${describeValue(value)}`,
        );
      }
      const target = walkPath(this.net, path);
      if (target.ok && isDynamics(target.value)) {
        if (op !== '+') {
          throw new ArgumentError(
            `Runner: input '${path}' is a module, which takes a current input (op '+'); for op '${op}' give a state path such as '${path}.V'`,
          );
        }
      } else if (!(target.ok && target.value instanceof State)) {
        const modules = this.net
          .namedModules()
          .filter(([, m]) => isDynamics(m))
          .map(([p]) => p);
        throw new ArgumentError(
          `Runner: input target '${path}' is neither a Dynamics module nor a state of ${this.net.constructor.name}. ` +
            `${listing('modules', modules, path)} ${listing('state paths', statePaths(this.net), path)}`,
        );
      }
      return { path, value, type, op, key: `input.${k}` };
    });
  }

  private emptyMonitors(): Monitors<N> {
    const ts = new Float32Array(0);
    const dt = this.options.dt ?? environ.get<number>(environ.DT, 0.1);
    const mon: Record<string, unknown> = { ts };
    for (const m of this.monitors) {
      mon[m.name] = m.events
        ? new SpikeEvents(ts, [0], dt, new Int32Array(0), new Int32Array(0))
        : new Trace(ts, [0], dt, new Float32Array(0));
    }
    return mon as Monitors<N>;
  }
}

/** Apply one input: a current input on a module, or `state = state op x` on a state. */
function applyInput(inp: InputPlan, target: Dynamics | State, x: tf.Tensor): void {
  if (isDynamics(target)) {
    // a fresh handle (zero-copy): the module may take ownership and dispose it when consumed
    target.addCurrentInput(inp.key, tf.clone(x), INPUT_LABEL);
    return;
  }
  const old = target.value as tf.Tensor;
  const y = tf.cast(x, old.dtype);
  const ops = {
    '=': () => tf.add(tf.zerosLike(old), y),
    '+': () => tf.add(old, y),
    '-': () => tf.sub(old, y),
    '*': () => tf.mul(old, y),
    '/': () => tf.div(old, y),
  };
  target.value = ops[inp.op]();
}

function toTensor(v: number | readonly number[] | tf.Tensor): tf.Tensor {
  if (v instanceof tf.Tensor) return tf.clone(v);
  return tf.tensor(v as number | number[], undefined, 'float32');
}

function barFor(bar: ProgressBar, n: number, dt: number): ProgressBar {
  if (bar.desc !== undefined || bar.freq !== undefined || bar.count !== undefined) return bar;
  return new ProgressBar({
    desc: `Simulating ${Math.round(n * dt * 1000) / 1000} ms (${n.toLocaleString('en-US')} steps)`,
  });
}

function checkOptions(options: RunnerOptions<string>): void {
  const known = [
    'monitors',
    'inputs',
    'args',
    'jit',
    'progressBar',
    'dt',
    'initStates',
    'blockSteps',
    'blocks',
  ];
  for (const k of Object.keys(options)) {
    if (!known.includes(k)) {
      throw new ArgumentError(`Runner: unknown option '${k}'; known options: ${known.join(', ')}`);
    }
  }
  if (
    options.dt !== undefined &&
    !(typeof options.dt === 'number' && options.dt > 0 && Number.isFinite(options.dt))
  ) {
    throw new ArgumentError(
      `Runner: dt must be a positive number of ms, got ${describeValue(options.dt)}`,
    );
  }
  const b = options.blockSteps;
  if (b !== undefined && !(Number.isInteger(b) && b > 0)) {
    throw new ArgumentError(
      `Runner: blockSteps must be a positive integer, got ${describeValue(b)}`,
    );
  }
  if (options.blocks !== undefined && typeof options.blocks !== 'boolean') {
    throw new ArgumentError(
      `Runner: blocks must be a boolean, got ${describeValue(options.blocks)}`,
    );
  }
  if (options.jit !== undefined && typeof options.jit !== 'boolean') {
    throw new ArgumentError(`Runner: jit must be a boolean, got ${describeValue(options.jit)}`);
  }
}
