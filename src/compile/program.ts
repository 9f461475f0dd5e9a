/**
 * The recorded IR. A `Program` is what tfjs actually executed while a function ran: typed vars,
 * equations (one per kernel call, with its attrs; customGrad calls keep their forward body),
 * constants (tensors made from JS values inside the function), inputs (state values read,
 * arguments, captured tensors) and outputs (state values written, results), plus annotations
 * that higher layers attach (hidden state old/new, weight ops, stop-gradient, random draws).
 * Printing (jaxpr-like text) lives here; DOT export in dot.ts, evaluation in interpreter.ts.
 */
import type { tf } from '../backend/tf';
import type { State } from '../state';
import type { StateValue } from '../state/tree';

/** A value in a program: one tensor of a fixed shape and dtype. */
export class Var {
  constructor(
    readonly id: number,
    readonly shape: readonly number[],
    readonly dtype: tf.DataType,
  ) {}

  /** `f32[3,4]` */
  get type(): string {
    return `${shortDtype(this.dtype)}[${this.shape.join(',')}]`;
  }
}

export function shortDtype(d: tf.DataType): string {
  switch (d) {
    case 'float32':
      return 'f32';
    case 'int32':
      return 'i32';
    case 'bool':
      return 'bool';
    case 'complex64':
      return 'c64';
    default:
      return d;
  }
}

/** One kernel call. `inputs` keep the kernel's input names in call order. */
export interface Equation {
  readonly kernel: string;
  readonly inputs: readonly (readonly [string, Var])[];
  readonly outputs: readonly Var[];
  readonly attrs: Readonly<Record<string, unknown>>;
  /** For a customGrad call: the kernels its forward function ran. */
  readonly body?: readonly Equation[];
  /** For a customGrad call: the vars (inside the body, or inputs) its outputs are. */
  readonly bodyOutputs?: readonly Var[];
}

/** Where a program input comes from. */
export type InputSource =
  | { readonly kind: 'state'; readonly state: State<StateValue>; readonly leaf: number }
  | { readonly kind: 'arg'; readonly path: string }
  | { readonly kind: 'captured'; readonly tensor: tf.Tensor };

export interface ProgramInput {
  readonly var: Var;
  readonly source: InputSource;
}

/** A tensor created from JS values inside the function; `values` is a private copy. */
export interface Constant {
  readonly var: Var;
  readonly values: tf.TypedArray | readonly number[] | readonly string[];
}

export type OutputTarget =
  | { readonly kind: 'state'; readonly state: State<StateValue>; readonly leaf: number }
  | { readonly kind: 'result'; readonly path: string };

export interface ProgramOutput {
  readonly var: Var;
  readonly target: OutputTarget;
}

/**
 * Meaning that is not in the kernels, attached by framework code while recording
 * (`annotate` in recorder.ts): `kind` says what (e.g. 'hidden', 'weightOp', 'stopGradient',
 * 'random'), `vars` the vars involved in a kind-specific order, `data` anything else.
 */
export interface Annotation {
  readonly kind: string;
  readonly vars: readonly Var[];
  readonly data: Readonly<Record<string, unknown>>;
  /** Number of top-level equations recorded before the annotation was made. */
  readonly at: number;
}

/** A data-dependent host read (dataSync/array/data) of a traced value. */
export interface HostRead {
  readonly var: Var;
  /** Number of equations recorded before the read. */
  readonly atEquation: number;
}

/** The IR of one traced call. */
export class Program {
  constructor(
    readonly name: string,
    readonly inputs: readonly ProgramInput[],
    readonly constants: readonly Constant[],
    readonly equations: readonly Equation[],
    readonly outputs: readonly ProgramOutput[],
    readonly annotations: readonly Annotation[],
    readonly hostReads: readonly HostRead[],
    /**
     * Each var's ordinal: the order in which the recording defined it. Two recordings of the same
     * code on same-shaped data define their vars in the same order, so an ordinal names "the same
     * value" across calls (the etrace executor maps per-step tensors this way).
     */
    readonly ordinals: ReadonlyMap<Var, number> = new Map(),
  ) {}

  /** Number of kernel calls, counting customGrad bodies. */
  get numKernels(): number {
    const count = (eqs: readonly Equation[]): number =>
      eqs.reduce((n, e) => n + (e.body ? count(e.body) : 1), 0);
    return count(this.equations);
  }

  /** Every var defined in the program (inputs, constants, equation outputs, nested too). */
  allVars(): Var[] {
    const out: Var[] = [...this.inputs.map((i) => i.var), ...this.constants.map((c) => c.var)];
    const walk = (eqs: readonly Equation[]): void => {
      for (const e of eqs) {
        if (e.body) walk(e.body);
        out.push(...e.outputs);
      }
    };
    walk(this.equations);
    return out;
  }

  /** Annotations of one kind. */
  annotationsOf(kind: string): Annotation[] {
    return this.annotations.filter((a) => a.kind === kind);
  }

  /** Jaxpr-like text: vars named a, b, c …, one equation per line. */
  toString(): string {
    const names = new VarNames();
    const lines: string[] = [];
    const label = (s: InputSource | OutputTarget): string => {
      if (s.kind === 'state')
        return `state ${s.state.describe()}${s.leaf > 0 ? `[${s.leaf}]` : ''}`;
      if (s.kind === 'arg') return `arg ${s.path}`;
      if (s.kind === 'captured') return 'captured';
      return `result ${s.path}`;
    };
    lines.push(`program ${this.name} {`);
    for (const i of this.inputs) lines.push(`  in    ${names.decl(i.var)}  ← ${label(i.source)}`);
    for (const c of this.constants)
      lines.push(`  const ${names.decl(c.var)} = ${formatValues(c.values, c.var)}`);
    const emit = (eqs: readonly Equation[], indent: string): void => {
      for (const e of eqs) {
        const outs = e.outputs.map((v) => names.decl(v)).join(' ');
        const ins = e.inputs.map(([, v]) => names.get(v)).join(' ');
        const attrs = formatAttrs(e.attrs);
        lines.push(`${indent}${outs} = ${e.kernel}${attrs} ${ins}`.trimEnd());
        if (e.body) {
          lines.push(`${indent}  {`);
          emit(e.body, indent + '    ');
          lines.push(`${indent}  }`);
        }
      }
    };
    emit(this.equations, '  ');
    for (const o of this.outputs) lines.push(`  out   ${names.get(o.var)}  → ${label(o.target)}`);
    for (const a of this.annotations) {
      if (a.kind === 'environ' || a.kind === 'weightOpBegin') continue; // bookkeeping, not shown
      const data = Object.keys(a.data).length ? ' ' + formatAttrs(a.data) : '';
      lines.push(`  @${a.kind}(${a.vars.map((v) => names.get(v)).join(', ')})${data}`);
    }
    for (const r of this.hostReads)
      lines.push(`  !host-read ${names.get(r.var)} after equation ${r.atEquation}`);
    lines.push('}');
    return lines.join('\n');
  }
}

/** Names vars a, b, …, z, ba, bb, … in order of first appearance. */
export class VarNames {
  private names = new Map<Var, string>();
  get(v: Var): string {
    let n = this.names.get(v);
    if (n === undefined) {
      n = varName(this.names.size);
      this.names.set(v, n);
    }
    return n;
  }
  decl(v: Var): string {
    return `${this.get(v)}:${v.type}`;
  }
}

function varName(i: number): string {
  const letters = 'abcdefghijklmnopqrstuvwxyz';
  let s = '';
  do {
    s = letters[i % 26] + s;
    i = Math.floor(i / 26);
  } while (i > 0);
  return s;
}

/** The shortest decimal that reads back as the same float32 (0.1, not 0.10000000149011612). */
function formatNumber(x: number): string {
  if (Number.isInteger(x) || !Number.isFinite(x) || Math.fround(x) !== x) return String(x);
  for (let p = 1; p <= 9; p++) {
    const s = Number(x.toPrecision(p));
    if (Math.fround(s) === x) return String(s);
  }
  return String(x);
}

function formatValues(values: Constant['values'], v: Var): string {
  const n = values.length;
  const shown = Array.from(values as ArrayLike<number | string>)
    .slice(0, 8)
    .map((x) => (typeof x === 'number' ? formatNumber(x) : JSON.stringify(x)));
  if (v.shape.length === 0) return shown[0] ?? '';
  return `[${shown.join(', ')}${n > 8 ? `, … (${n})` : ''}]`;
}

function formatAttrs(attrs: Readonly<Record<string, unknown>>): string {
  const keys = Object.keys(attrs).filter(
    (k) => attrs[k] !== undefined && attrs[k] !== null && typeof attrs[k] !== 'function',
  );
  if (!keys.length) return '';
  return `[${keys.map((k) => `${k}=${formatAttr(attrs[k])}`).join(', ')}]`;
}

function formatAttr(x: unknown): string {
  if (Array.isArray(x)) return `(${x.map(formatAttr).join(',')})`;
  if (typeof x === 'number') return formatNumber(x);
  if (typeof x === 'string') return x;
  if (typeof x === 'boolean') return String(x);
  if (
    x !== null &&
    typeof x === 'object' &&
    typeof (x as { describe?: unknown }).describe === 'function'
  ) {
    return String((x as { describe(): string }).describe());
  }
  if (x !== null && typeof x === 'object' && Object.getPrototypeOf(x) !== Object.prototype) {
    const name = (x as { name?: unknown }).name;
    return typeof name === 'string' ? name : (x.constructor?.name ?? 'object');
  }
  if (x !== null && typeof x === 'object') {
    return `{${Object.entries(x as Record<string, unknown>)
      .map(([k, v]) => `${k}:${formatAttr(v)}`)
      .join(',')}}`;
  }
  return String(x);
}
