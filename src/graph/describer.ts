/**
 * ParamDescriber: delayed construction of a module (spec §2.6). `Linear.desc(10)` records the
 * class and arguments; `describer.build(5)` constructs it with extra arguments, as
 * `Sequential` does when it knows the previous layer's size. A trailing plain object is an
 * options object (Python's keyword arguments): it always goes last, merged with a trailing
 * options object of `build` (which wins). Two describers with the same `identifier` describe
 * the same module type (projections merge such synapses).
 */
import { isTensor } from '../state';
import type { Module } from './module';

/** A Module subclass, constructed with any arguments. */
export type ModuleClass<M extends Module = Module> = new (...args: never[]) => M;

function isOptions(x: unknown): x is Record<string, unknown> {
  if (x === null || typeof x !== 'object') return false;
  const proto = Object.getPrototypeOf(x);
  return proto === Object.prototype || proto === null;
}

function splitOptions(args: readonly unknown[]): [unknown[], Record<string, unknown> | null] {
  const last = args[args.length - 1];
  return isOptions(last) ? [args.slice(0, -1), last] : [[...args], null];
}

const identities = new WeakMap<object, number>();
let nextIdentity = 0;
function identity(o: object): number {
  let id = identities.get(o);
  if (id === undefined) identities.set(o, (id = nextIdentity++));
  return id;
}

/** A canonical token: primitives by value, arrays and options structurally (keys sorted), other objects by identity. */
function token(v: unknown): string {
  if (v === undefined) return 'undefined';
  if (v === null || typeof v === 'boolean' || typeof v === 'number') return String(v);
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v === 'symbol') return v.toString();
  if (Array.isArray(v)) return `[${v.map(token).join(',')}]`;
  if (isOptions(v)) {
    const keys = Object.keys(v).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${token(v[k])}`).join(',')}}`;
  }
  const o = v as object;
  const name = typeof o === 'function' ? o.name : (o.constructor?.name ?? 'Object');
  return `<${name}#${identity(o)}>`;
}

/** A short readable form of an argument for the repr. */
function show(v: unknown): string {
  if (typeof v === 'string') return `'${v}'`;
  if (Array.isArray(v)) return `[${v.map(show).join(', ')}]`;
  if (isTensor(v)) return `Tensor(${v.dtype}[${v.shape.join(',')}])`;
  if (typeof v === 'function') return v.name || '<function>';
  if (v !== null && typeof v === 'object') {
    if (isOptions(v))
      return `{${Object.entries(v)
        .map(([k, x]) => `${k}: ${show(x)}`)
        .join(', ')}}`;
    return `<${(v as object).constructor?.name ?? 'Object'}>`;
  }
  return String(v);
}

/** A recorded module class and constructor arguments, built later with `build(...extra)`. */
export class ParamDescriber<M extends Module = Module> {
  private identifierValue: string | null = null;

  constructor(
    /** The module class to build. */
    readonly cls: ModuleClass<M>,
    /** The recorded arguments (a trailing plain object is the options object). */
    readonly args: readonly unknown[],
  ) {
    Object.freeze(this.args);
  }

  /** Construct the module: `new cls(...args, ...extra, {...options, ...extraOptions})`. */
  build(...extra: unknown[]): M {
    const [pos, opts] = splitOptions(this.args);
    const [extraPos, extraOpts] = splitOptions(extra);
    const all: unknown[] = [...pos, ...extraPos];
    if (opts || extraOpts) all.push({ ...opts, ...extraOpts });
    return Reflect.construct(this.cls, all) as M;
  }

  /** Equal for describers of the same class with equal arguments (objects compared by identity). */
  get identifier(): string {
    return (this.identifierValue ??= `${this.cls.name}#${identity(this.cls)}(${this.args.map(token).join(',')})`);
  }

  /** True if this describes `cls` or a subclass of it. */
  describes(cls: abstract new (...args: never[]) => Module): boolean {
    return this.cls === cls || this.cls.prototype instanceof cls;
  }

  /** `ParamDescriber(Linear(10, tau=20))`. */
  toString(): string {
    const [pos, opts] = splitOptions(this.args);
    const parts = [
      ...pos.map(show),
      ...Object.entries(opts ?? {}).map(([k, v]) => `${k}=${show(v)}`),
    ];
    return `ParamDescriber(${this.cls.name}(${parts.join(', ')}))`;
  }
}
