/**
 * StatefulFunction: run a function on States and learn what it reads and writes (spec §1.6).
 * One trace per cache key (argument shapes/dtypes, static argument values, and the shapes/dtypes
 * of the states it touched — a state whose shape changed makes the entry stale). A trace records
 * the Program (recorder.ts) and the states in first-access order. `call` executes eagerly inside
 * tf.tidy, keeping only the results and the new state values; the first call per key is also the
 * trace. On an exception every touched state gets its value back.
 */
import { tf } from '../backend/tf';
import { TransformError } from '../errors';
import { State, StateTraceStack, ownerCount } from '../state';
import { isPlainObject, treeSignature, type StateValue } from '../state/tree';
import { dumpProgram } from './dump';
import type { Program } from './program';
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
}

export interface CacheStats {
  /** Number of traces made (first calls and recompiles). */
  compiles: number;
  hits: number;
  size: number;
}

/** A function over States whose reads/writes are discovered and cached per signature. */
export class StatefulFunction<A extends unknown[], R> {
  readonly name: string;
  private readonly staticArgnums: ReadonlySet<number>;
  private readonly cache = new Map<string, TraceEntry>();
  private readonly options: StatefulOptions;
  private warnedHostRead = false;
  readonly stats: CacheStats = { compiles: 0, hits: 0, size: 0 };

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

  private store(entry: TraceEntry): TraceEntry {
    this.stats.compiles++;
    this.cache.set(entry.key, entry);
    const max = this.options.maxCacheSize ?? 128;
    while (this.cache.size > max) this.cache.delete(this.cache.keys().next().value as string);
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
    const key = this.cacheKey(args);
    const hit = this.lookup(key);
    if (hit) this.stats.hits++;
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
  clearCache(): void {
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
