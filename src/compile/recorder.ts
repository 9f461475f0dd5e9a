/**
 * The recorder: a hook on the tfjs engine (`runKernelFunc` for every kernel and customGrad call,
 * `makeTensor` for constants, `readSync`/`read` for host reads) that turns what tfjs executes
 * into a `Program` (research/tfjs.md §5). It relies on tfjs-core internals, so the version is
 * pinned and golden tests pin the output. Recordings nest: an outer recording sees the kernels
 * of an inner one. Kernels nested inside a registered kernel are backend internals and skipped;
 * kernels inside a customGrad's forward function become that equation's body.
 */
import { tf } from '../backend/tf';
import { sharedHandle, withoutTape } from '../backend/engine';
import { TransformError } from '../errors';
import {
  setReadObserver,
  setTensorReadObserver,
  type ReadObserver,
  type TensorReadObserver,
} from '../environ';
import { setDrawObserver, type DrawObserver } from '../random';
import { activeTraces, type State } from '../state';
import { tensorLeaves, type StateValue } from '../state/tree';
import {
  Program,
  Var,
  type Annotation,
  type Constant,
  type Equation,
  type HostRead,
  type InputSource,
  type ProgramInput,
  type ProgramOutput,
} from './program';

/** What to do when traced code reads tensor data back to JS (dataSync, array, data). */
export type HostReadPolicy = 'record' | 'throw';

export interface RecordOptions {
  name?: string;
  /** Tensors passed as arguments, with their paths ('0', '1.x', …). */
  args?: readonly (readonly [string, tf.Tensor])[];
  onHostRead?: HostReadPolicy;
  /**
   * Ordinals (definition order) of vars whose tensors the recording keeps: each is cloned when
   * defined (off the tape, unrecorded) and handed over by `takeKept()`. The etrace executor uses it
   * to get one step's intermediate values without re-running the step.
   */
  keep?: ReadonlySet<number>;
}

interface KernelParams {
  kernelName?: string;
  inputs: Record<string, tf.Tensor>;
  attrs?: Record<string, unknown>;
}

interface OpenCall {
  kernel: string;
  registered: boolean;
  inputs: [string, Var][];
  attrs: Record<string, unknown>;
  body: Equation[];
}

interface EngineInternals {
  runKernelFunc(kp: KernelParams): tf.Tensor | tf.Tensor[];
  makeTensor(values: unknown, shape: number[], dtype: tf.DataType, backend?: unknown): tf.Tensor;
  readSync(dataId: object): unknown;
  read(dataId: object): Promise<unknown>;
}

let nextVarId = 0;

/** One recording in progress. */
export class Recording {
  readonly name: string;
  private vars = new Map<number, Var>();
  private byDataId = new WeakMap<object, Var>();
  /** Every var defined on a data buffer (a reshape shares its input's buffer). */
  private sameBuffer = new WeakMap<object, Var[]>();
  private inputs: ProgramInput[] = [];
  private pendingInputs = new Map<Var, tf.Tensor>();
  private constants: Constant[] = [];
  private top: Equation[] = [];
  private stack: OpenCall[] = [];
  private annotations: Annotation[] = [];
  private hostReads: HostRead[] = [];
  private readonly argPaths = new Map<tf.Tensor, string>();
  readonly onHostRead: HostReadPolicy;
  private readonly ordinals = new Map<Var, number>();
  private readonly keep: ReadonlySet<number> | null;
  private kept = new Map<number, tf.Tensor>();

  constructor(options: RecordOptions) {
    this.name = options.name ?? 'fn';
    this.onHostRead = options.onHostRead ?? 'record';
    this.keep = options.keep ?? null;
    for (const [path, t] of options.args ?? []) {
      if (this.argPaths.has(t)) continue;
      this.argPaths.set(t, path);
      this.varOf(t); // arguments are inputs even if only read back to JS
    }
  }

  private define(t: tf.Tensor): Var {
    const v = new Var(nextVarId++, t.shape.slice(), t.dtype);
    this.vars.set(t.id, v);
    this.byDataId.set(t.dataId, v);
    const same = this.sameBuffer.get(t.dataId);
    if (same) same.push(v);
    else this.sameBuffer.set(t.dataId, [v]);
    const ordinal = this.ordinals.size;
    this.ordinals.set(v, ordinal);
    if (this.keep?.has(ordinal)) this.kept.set(ordinal, quietClone(t));
    return v;
  }

  /** Number of vars defined so far. */
  get numVars(): number {
    return this.ordinals.size;
  }

  /** The kernel names of the top-level equations recorded so far, in order. */
  kernelNames(): string[] {
    return this.top.map((e) => e.kernel);
  }

  /** The kept tensors by ordinal (see RecordOptions.keep); the caller owns them. */
  takeKept(): Map<number, tf.Tensor> {
    const k = this.kept;
    this.kept = new Map();
    return k;
  }

  /** Dispose kept tensors nobody took (e.g. when the recorded call threw). */
  disposeKept(): void {
    for (const t of this.kept.values()) t.dispose();
    this.kept.clear();
  }

  /** The var of a tensor; a tensor not produced inside becomes an input. */
  varOf(t: tf.Tensor): Var {
    const known = this.vars.get(t.id);
    if (known) return known;
    // a second handle on a recorded buffer with the same shape and dtype (the tape's saves,
    // backend/engine.ts sharedHandle) is the same value: tensors are immutable while recording.
    // (Reshapes share buffers too, under other shapes: those are other vars.)
    const alias = this.sameBuffer
      .get(t.dataId)
      ?.find((v) => v.dtype === t.dtype && tf.util.arraysEqual([...v.shape], t.shape));
    if (alias !== undefined) {
      this.vars.set(t.id, alias);
      return alias;
    }
    const v = this.define(t);
    this.pendingInputs.set(v, t);
    return v;
  }

  private get insideKernel(): boolean {
    const top = this.stack[this.stack.length - 1];
    return top !== undefined && top.registered;
  }

  beginCall(kp: KernelParams): OpenCall | null {
    if (this.insideKernel || suspended > 0) return null;
    const inputs: [string, Var][] = [];
    for (const [k, t] of Object.entries(kp.inputs ?? {}))
      if (t != null) inputs.push([k, this.varOf(t)]);
    const call: OpenCall = {
      kernel: kp.kernelName ?? 'CustomGrad',
      registered: kp.kernelName != null,
      inputs,
      attrs: copyAttrs(kp.attrs),
      body: [],
    };
    this.stack.push(call);
    return call;
  }

  endCall(call: OpenCall | null, out: tf.Tensor | tf.Tensor[] | undefined): void {
    if (call === null) return;
    this.stack.pop();
    if (out === undefined) return; // the kernel threw
    const tensors = Array.isArray(out) ? out : [out];
    // A customGrad returns the tensors its body produced: remember which body vars they were.
    const bodyOutputs = call.registered ? [] : tensors.map((t) => this.varOf(t));
    const outs = tensors.map((t) => this.define(t));
    const eq: Equation = {
      kernel: call.kernel,
      inputs: call.inputs,
      outputs: outs,
      attrs: call.attrs,
      ...(call.registered ? {} : { body: call.body, bodyOutputs }),
    };
    (this.stack.length ? this.stack[this.stack.length - 1].body : this.top).push(eq);
  }

  constant(t: tf.Tensor, values: unknown): void {
    if (this.insideKernel || suspended > 0) return;
    const v = this.define(t);
    const copy = ArrayBuffer.isView(values)
      ? (values as tf.TypedArray).slice()
      : Array.from(values as ArrayLike<number | string>);
    this.constants.push({ var: v, values: copy as Constant['values'] });
  }

  hostRead(dataId: object): void {
    let v = this.byDataId.get(dataId);
    if (v === undefined) {
      // a state value read back before any kernel used it
      for (const frame of activeTraces()) {
        for (const st of frame.states) {
          const t = tensorLeaves(st.rawValue).find((x) => x.dataId === dataId);
          if (t) v = this.varOf(t);
        }
      }
    }
    // reading a constant back does not depend on the call's data
    if (v === undefined || this.constants.some((c) => c.var === v)) return;
    this.hostReads.push({ var: v, atEquation: this.top.length });
    if (this.onHostRead === 'throw') {
      throw new TransformError(
        `${this.name}: reads a traced tensor (${v.type}) back to JS (dataSync/array/data) while being traced; ` +
          `the result would depend on this call's data. Keep the computation in tensors (tf.where, cond) ` +
          `or run the function without jit.`,
      );
    }
  }

  annotate(kind: string, tensors: readonly tf.Tensor[], data: Record<string, unknown>): void {
    this.annotations.push({
      kind,
      vars: tensors.map((t) => this.varOf(t)),
      data: { ...data },
      at: this.top.length,
    });
  }

  /** Close the recording: resolve inputs against the traced states and build the Program. */
  finish(
    result: unknown,
    states: readonly State<StateValue>[],
    originals: readonly StateValue[],
    written: readonly State<StateValue>[],
  ): Program {
    const stateOf = new Map<tf.Tensor, InputSource>();
    states.forEach((s, i) => {
      tensorLeaves(originals[i]).forEach((t, leaf) => {
        if (!stateOf.has(t)) stateOf.set(t, { kind: 'state', state: s, leaf });
      });
    });
    const outputs: ProgramOutput[] = [];
    for (const s of written) {
      tensorLeaves(s.rawValue).forEach((t, leaf) => {
        outputs.push({ var: this.varOf(t), target: { kind: 'state', state: s, leaf } });
      });
    }
    for (const [path, t] of flattenTensors(result)) {
      outputs.push({ var: this.varOf(t), target: { kind: 'result', path } });
    }
    for (const [v, t] of this.pendingInputs) {
      const argPath = this.argPaths.get(t);
      const source: InputSource =
        argPath !== undefined
          ? { kind: 'arg', path: argPath }
          : (stateOf.get(t) ?? { kind: 'captured', tensor: t });
      this.inputs.push({ var: v, source });
    }
    this.pendingInputs.clear();
    const order = (s: InputSource): number => (s.kind === 'state' ? 0 : s.kind === 'arg' ? 1 : 2);
    const inputs = this.inputs.sort((a, b) => order(a.source) - order(b.source));
    return new Program(
      this.name,
      inputs,
      this.constants,
      this.top,
      outputs,
      this.annotations,
      this.hostReads,
      this.ordinals,
    );
  }
}

let suspended = 0;

/**
 * A clone that no recording sees and no gradient tape records, sharing the data buffer
 * (backend/engine.ts sharedHandle: wasm's Identity would copy it). The in-place writers refuse
 * shared buffers, so sharing is safe.
 */
function quietClone(t: tf.Tensor): tf.Tensor {
  suspended++;
  try {
    return withoutTape(() => tf.keep(t.dtype === 'string' ? t.clone() : sharedHandle(t)));
  } finally {
    suspended--;
  }
}

/** `[path, tensor]` for every tensor in a result tree (arrays, plain objects, Maps ignored). */
export function flattenTensors(x: unknown, prefix = ''): [string, tf.Tensor][] {
  const out: [string, tf.Tensor][] = [];
  const walk = (v: unknown, path: string): void => {
    if (v instanceof tf.Tensor) out.push([path === '' ? '0' : path, v]);
    else if (Array.isArray(v))
      v.forEach((e, i) => walk(e, path === '' ? String(i) : `${path}.${i}`));
    else if (v !== null && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
      for (const [k, e] of Object.entries(v)) walk(e, path === '' ? k : `${path}.${k}`);
    }
  };
  walk(x, prefix);
  return out;
}

function copyAttrs(attrs: Record<string, unknown> | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(attrs ?? {})) {
    out[k] = Array.isArray(v)
      ? v.slice()
      : ArrayBuffer.isView(v)
        ? (v as tf.TypedArray).slice()
        : v;
  }
  return out;
}

const active: Recording[] = [];
let previousDrawObserver: DrawObserver | null = null;
let previousReadObserver: ReadObserver | null = null;
let previousTensorObserver: TensorReadObserver | null = null;
let original: Pick<EngineInternals, 'runKernelFunc' | 'makeTensor' | 'readSync' | 'read'> | null =
  null;

function engine(): EngineInternals {
  return tf.engine() as unknown as EngineInternals;
}

function install(): void {
  const e = engine();
  original = {
    runKernelFunc: e.runKernelFunc,
    makeTensor: e.makeTensor,
    readSync: e.readSync,
    read: e.read,
  };
  const orig = original;
  e.runKernelFunc = function (this: EngineInternals, kp: KernelParams) {
    const calls = active.map((r) => r.beginCall(kp));
    let out: tf.Tensor | tf.Tensor[] | undefined;
    try {
      out = orig.runKernelFunc.call(this, kp);
      return out;
    } finally {
      for (let i = active.length - 1; i >= 0; i--) active[i].endCall(calls[i] ?? null, out);
    }
  };
  e.makeTensor = function (this: EngineInternals, values, shape, dtype, backend) {
    const t = orig.makeTensor.call(this, values, shape, dtype, backend);
    for (const r of active) r.constant(t, values);
    return t;
  };
  e.readSync = function (this: EngineInternals, dataId: object) {
    for (const r of active) r.hostRead(dataId);
    return orig.readSync.call(this, dataId);
  };
  e.read = function (this: EngineInternals, dataId: object) {
    for (const r of active) r.hostRead(dataId);
    return orig.read.call(this, dataId);
  };
  // Random draws are made on the host (a constant to the engine): say what they are, so a
  // replay can draw again with a fresh key.
  // Values read from environ are baked into the program as constants: note them, so a replay
  // can check they still hold.
  previousReadObserver = setReadObserver((key, value) => {
    previousReadObserver?.(key, value);
    annotate('environ', [], { key, value });
  });
  previousTensorObserver = setTensorReadObserver((key, t) => {
    previousTensorObserver?.(key, t);
    annotate('environInput', [t], { key });
  });
  previousDrawObserver = setDrawObserver((d) => {
    previousDrawObserver?.(d);
    annotate('random', [d.output], {
      kind: d.kind,
      params: d.params,
      key: d.key,
      redraw: d.redraw,
    });
  });
}

function uninstall(): void {
  if (original === null) return;
  const e = engine();
  e.runKernelFunc = original.runKernelFunc;
  e.makeTensor = original.makeTensor;
  e.readSync = original.readSync;
  e.read = original.read;
  original = null;
  setDrawObserver(previousDrawObserver);
  previousDrawObserver = null;
  setReadObserver(previousReadObserver);
  previousReadObserver = null;
  setTensorReadObserver(previousTensorObserver);
  previousTensorObserver = null;
}

/** Start a recording (nested recordings are allowed; end them in reverse order). */
export function startRecording(options: RecordOptions = {}): Recording {
  const r = new Recording(options);
  if (active.length === 0) install();
  active.push(r);
  return r;
}

/** Stop a recording (it must be the innermost). */
export function stopRecording(r: Recording): void {
  const i = active.lastIndexOf(r);
  if (i !== active.length - 1) {
    throw new TransformError(`stopRecording(${r.name}): recordings must end innermost first`);
  }
  active.pop();
  if (active.length === 0) uninstall();
}

/** True while any recording is active. */
export function isRecording(): boolean {
  return active.length > 0;
}

/**
 * Attach meaning to the vars of `tensors` in every active recording (no-op when not recording).
 * Framework code uses it for what kernels do not say: 'hidden' (old, new), 'weightOp' (x, w, y),
 * 'stopGradient', 'random'.
 */
export function annotate(
  kind: string,
  tensors: readonly tf.Tensor[],
  data: Record<string, unknown> = {},
): void {
  for (const r of active) r.annotate(kind, tensors, data);
}
