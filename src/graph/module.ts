/**
 * Module: the base of every model component (spec §2.5). A Module is a Node with an optional
 * name, input/output sizes, an `update()` step (`call` runs it), introspection over its
 * sub-modules and states, and `initState` / `resetState` hooks that `initAllStates` /
 * `resetAllStates` call on every module of a tree. Its own bookkeeping (name, sizes) lives under
 * symbol keys, so it is never a child in traversal, split or state paths.
 */
import { ArgumentError, NotImplementedError, describeValue } from '../errors';
import { ParamState, type State, type StateValue } from '../state';
import { ParamDescriber, type ModuleClass } from './describer';
import type { Filter } from './filters';
import type { FlatDict } from './flatDict';
import type { TraversalOptions } from './iter';
import { Node, className } from './node';
import { dottedPath } from './path';
import { reprExtras } from './repr';
import { nodes as graphNodes, states as graphStates, type FiltersAndOptions } from './states';

/** Options of `initState` / `resetState` (and of `initAllStates` / `resetAllStates`). */
export interface InitStateOptions {
  /** Size of the leading batch axis of the states to create; omitted = no batch axis. */
  batchSize?: number;
}

/** A size given as one number or a shape. */
export type Size = number | readonly number[];

const NAME = Symbol('brainstate.module.name');
const IN_SIZE = Symbol('brainstate.module.inSize');
const OUT_SIZE = Symbol('brainstate.module.outSize');

function toShape(value: Size, what: string, owner: string): readonly number[] {
  const shape =
    typeof value === 'number' ? [value] : Array.isArray(value) ? [...(value as number[])] : null;
  if (!shape || shape.length === 0 || !shape.every((n) => Number.isInteger(n) && n > 0)) {
    throw new ArgumentError(
      `${owner}.${what} must be a positive integer or a non-empty array of positive integers, got ${
        Array.isArray(value) ? JSON.stringify(value) : describeValue(value)
      }`,
    );
  }
  return Object.freeze(shape);
}

/** Base class of model components. Subclasses override `update()` and, if they have states, `initState()`. */
export class Module extends Node {
  /**
   * Call-order levels of methods run by `callAllFns` (e.g. `{ initState: 2 }`): methods with a
   * level run after all the others, sorted by level (0–9). Merged along the class chain.
   */
  static callOrder: Partial<Record<string, number>> = {};

  private [NAME]: string | null;
  private [IN_SIZE]: readonly number[] | null = null;
  private [OUT_SIZE]: readonly number[] | null = null;

  constructor(name?: string) {
    super();
    if (name != null && typeof name !== 'string') {
      throw new ArgumentError(
        `${new.target.name}: name must be a string, got ${describeValue(name)}`,
      );
    }
    this[NAME] = name ?? null;
  }

  /** The module's name (read-only; set by the constructor), or null. */
  get name(): string | null {
    return this[NAME];
  }

  /** The input shape, e.g. `[100]` (a number is stored as `[n]`), or null if not set. */
  get inSize(): readonly number[] | null {
    return this[IN_SIZE];
  }
  set inSize(value: Size | null) {
    this[IN_SIZE] = value === null ? null : toShape(value, 'inSize', className(this));
  }

  /** The output shape, e.g. `[10]`, or null if not set. */
  get outSize(): readonly number[] | null {
    return this[OUT_SIZE];
  }
  set outSize(value: Size | null) {
    this[OUT_SIZE] = value === null ? null : toShape(value, 'outSize', className(this));
  }

  /** One step of the module. Subclasses override it; the base throws. */
  update(...args: unknown[]): unknown {
    void args;
    throw new NotImplementedError(
      `${className(this)}.update() is not implemented: a Module subclass must override update()`,
    );
  }

  /** Run `update` with the arguments. */
  call<M extends Module>(this: M, ...args: Parameters<M['update']>): ReturnType<M['update']> {
    return (this.update as (...a: unknown[]) => unknown).apply(this, args) as ReturnType<
      M['update']
    >;
  }

  /** The States under this module (see graph `states()`), optionally filtered. */
  states(options?: TraversalOptions): FlatDict<State<StateValue>>;
  states(filter: Filter, options?: TraversalOptions): FlatDict<State<StateValue>>;
  states(first: Filter, second: Filter, ...rest: FiltersAndOptions): FlatDict<State<StateValue>>[];
  states(...args: FiltersAndOptions): FlatDict<State<StateValue>> | FlatDict<State<StateValue>>[] {
    return graphStates(this, ...args);
  }

  /** The Nodes under this module, the module itself last (see graph `nodes()`), optionally filtered. */
  nodes(options?: TraversalOptions): FlatDict<Node>;
  nodes(filter: Filter, options?: TraversalOptions): FlatDict<Node>;
  nodes(first: Filter, second: Filter, ...rest: FiltersAndOptions): FlatDict<Node>[];
  nodes(...args: FiltersAndOptions): FlatDict<Node> | FlatDict<Node>[] {
    return graphNodes(this, ...args);
  }

  /** The direct child modules (also those inside arrays, objects and Maps held by this module). */
  children(): Module[] {
    return this.namedChildren().map(([, m]) => m);
  }

  /** The direct child modules with their dotted paths, e.g. `['layers.0', m]`. */
  namedChildren(): [string, Module][] {
    return graphNodes(this, Module, { allowedHierarchy: [1, 1] }).entries() as [string, Module][];
  }

  /** All modules of the tree (children before parents; this module last unless `includeSelf` is false). */
  modules(options: { includeSelf?: boolean } = {}): Module[] {
    return this.namedModules(options).map(([, m]) => m);
  }

  /** All modules with their dotted paths (this module is `''`, or `prefix`). */
  namedModules(options: { prefix?: string; includeSelf?: boolean } = {}): [string, Module][] {
    const { prefix = '', includeSelf = true } = options;
    const out: [string, Module][] = [];
    for (const [path, m] of graphNodes(this, Module).pathEntries()) {
      if (path.length === 0 && !includeSelf) continue;
      const key = dottedPath(path);
      out.push([prefix && key ? `${prefix}.${key}` : prefix || key, m as Module]);
    }
    return out;
  }

  /** The ParamStates of the tree; with `recurse: false` only this module's own (hierarchy [0, 0]). */
  parameters(options: { recurse?: boolean } = {}): ParamState<StateValue>[] {
    return this.namedParameters(options).map(([, p]) => p);
  }

  /** The ParamStates with their dotted paths. */
  namedParameters(options: { recurse?: boolean } = {}): [string, ParamState<StateValue>][] {
    const selected =
      options.recurse === false
        ? graphStates(this, ParamState, { allowedHierarchy: [0, 0] })
        : graphStates(this, ParamState);
    return selected.entries() as [string, ParamState<StateValue>][];
  }

  /** Create this module's states (e.g. `[batchSize, n]` hidden states). A no-op by default. */
  initState(options?: InitStateOptions): void {
    void options;
  }

  /** Reset this module's states to their initial values. A no-op by default. */
  resetState(options?: InitStateOptions): void {
    void options;
  }

  /**
   * A describer of this class with recorded arguments; `describer.build(...extra)` constructs
   * `new this(...args, ...extra)` (a trailing options object is merged and goes last).
   */
  static desc<M extends Module>(this: ModuleClass<M>, ...args: unknown[]): ParamDescriber<M> {
    return new ParamDescriber(this, args);
  }

  /** Name and sizes, shown first in the repr when set. */
  [reprExtras](): [string, unknown][] {
    return [
      ['name', this[NAME]],
      ['inSize', this[IN_SIZE]],
      ['outSize', this[OUT_SIZE]],
    ];
  }
}

/** Apply modules in order: `pipe(x, l1, l2)` = `l2.call(l1.call(x))` (Python's `x >> l1 >> l2`). */
export function pipe(x: unknown, ...modules: Module[]): unknown {
  return modules.reduce<unknown>((acc, m) => m.call(acc), x);
}
