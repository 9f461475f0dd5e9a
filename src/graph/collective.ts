/**
 * Collective operations over every module of a tree (spec §2.7): `callAllFns` calls one method
 * on all modules (children before parents; methods given a level in `static callOrder` run
 * afterwards, by level), and on top of it `initAllStates` (returns the states it created),
 * `resetAllStates` and `assignStateValues`.
 */
import { ArgumentError, GraphError, describeValue } from '../errors';
import { State, catchNewStates, type NewStateCatcher, type StateValue } from '../state';
import { toPredicate, type Filter } from './filters';
import { iterLeaf, iterNode } from './iter';
import { Module, type InitStateOptions } from './module';
import { className } from './node';
import { dottedPath, describePath, type Path } from './path';
import { states } from './states';

/** What `callAllFns` does for a module without the method. */
export type FnIfNotExist = 'raise' | 'pass' | 'warn';

/** Options of `callAllFns`. */
export interface CallAllOptions {
  /** Modules matching this filter (path, module) are skipped. */
  nodeToExclude?: Filter;
  /** A module without the method: 'raise' (GraphError, the default), 'pass' (skip) or 'warn' (warn and skip). */
  fnIfNotExist?: FnIfNotExist;
}

/** Options of `initAllStates` / `resetAllStates`: the per-module options plus which modules to skip. */
export interface InitAllOptions extends InitStateOptions {
  /** Modules matching this filter are skipped. */
  nodeToExclude?: Filter;
  /** `initAllStates` only: tag every state created with this tag. */
  tag?: string;
}

const MAX_LEVEL = 10;

/** The call-order level of `fnName` for a module's class (the nearest class of the chain that lists it). */
function callOrderOf(module: Module, fnName: string): number | undefined {
  for (
    let c: object | null = module.constructor;
    c && c !== Function.prototype;
    c = Object.getPrototypeOf(c)
  ) {
    if (!Object.hasOwn(c, 'callOrder')) continue;
    const table = (c as { callOrder?: Partial<Record<string, number>> }).callOrder;
    if (table && Object.hasOwn(table, fnName)) {
      const level = table[fnName];
      if (level === undefined) return undefined;
      if (!Number.isInteger(level) || level < 0 || level >= MAX_LEVEL) {
        throw new ArgumentError(
          `${(c as { name: string }).name}.callOrder.${fnName} must be an integer level in [0, ${MAX_LEVEL}), got ${describeValue(level)}`,
        );
      }
      return level;
    }
  }
  return undefined;
}

/**
 * Call `fnName(...args)` on every Module of `target` (post-order: children first, the root
 * last). Methods with a `callOrder` level run after the others, sorted by level (stable).
 * A single non-array `args` is wrapped as one argument.
 */
export function callAllFns(
  target: unknown,
  fnName: string,
  args: readonly unknown[] = [],
  options: CallAllOptions = {},
): void {
  if (typeof fnName !== 'string' || fnName === '') {
    throw new ArgumentError(
      `callAllFns: fnName must be a method name, got ${describeValue(fnName)}`,
    );
  }
  const mode = options.fnIfNotExist ?? 'raise';
  if (mode !== 'raise' && mode !== 'pass' && mode !== 'warn') {
    throw new ArgumentError(
      `callAllFns: fnIfNotExist must be 'raise', 'pass' or 'warn', got ${describeValue(mode)}`,
    );
  }
  const argList = Array.isArray(args) ? args : [args];
  const exclude = options.nodeToExclude === undefined ? null : toPredicate(options.nodeToExclude);

  const ordered: [number, Module, (...a: unknown[]) => unknown][] = [];
  for (const [path, node] of [...iterNode(target)]) {
    if (!(node instanceof Module)) continue;
    if (exclude?.(path, node)) continue;
    const fn = (node as unknown as Record<string, unknown>)[fnName];
    if (fn === undefined) {
      const msg = `callAllFns: ${className(node)} at ${describePath(path)} has no method '${fnName}'`;
      if (mode === 'raise')
        throw new GraphError(`${msg} (pass { fnIfNotExist: 'pass' } to skip such modules)`);
      if (mode === 'warn') console.warn(`${msg}; skipped`);
      continue;
    }
    if (typeof fn !== 'function') {
      throw new GraphError(
        `callAllFns: '${fnName}' of ${className(node)} at ${describePath(path)} is not a function (${describeValue(fn)})`,
      );
    }
    const level = callOrderOf(node, fnName);
    if (level === undefined) (fn as (...a: unknown[]) => unknown).apply(node, argList);
    else ordered.push([level, node, fn as (...a: unknown[]) => unknown]);
  }
  ordered.sort((a, b) => a[0] - b[0]); // Array.prototype.sort is stable
  for (const [, node, fn] of ordered) fn.apply(node, argList);
}

function checkBatchSize(options: InitStateOptions, where: string): void {
  const b = options.batchSize;
  if (b !== undefined && b !== null && !(Number.isInteger(b) && b > 0)) {
    throw new ArgumentError(
      `${where}: batchSize must be a positive integer, got ${describeValue(b)}`,
    );
  }
}

function perModuleOptions(options: InitAllOptions): InitStateOptions {
  const rest: InitStateOptions & Partial<InitAllOptions> = { ...options };
  delete rest.nodeToExclude;
  delete rest.tag;
  return rest;
}

/**
 * Call `initState(options)` on every Module of `target` (projections etc. after neurons, by
 * their call order) and return the catcher of the states created (tagged with `options.tag`).
 */
export function initAllStates(
  target: unknown,
  options: InitAllOptions = {},
): NewStateCatcher<void> {
  checkBatchSize(options, 'initAllStates');
  const moduleOptions = perModuleOptions(options);
  return catchNewStates(
    () =>
      callAllFns(target, 'initState', [moduleOptions], { nodeToExclude: options.nodeToExclude }),
    options.tag === undefined ? {} : { tag: options.tag },
  );
}

/** Call `resetState(options)` on every Module of `target`. */
export function resetAllStates(target: unknown, options: InitAllOptions = {}): void {
  checkBatchSize(options, 'resetAllStates');
  callAllFns(target, 'resetState', [perModuleOptions(options)], {
    nodeToExclude: options.nodeToExclude,
  });
}

/** A dict of state values keyed by dotted path (or a Map / iterable of [key or path, value]). */
export type StateValueDict =
  Readonly<Record<string, StateValue>> | Iterable<readonly [string | Path, StateValue]>;

/**
 * Assign values to the states of `target` by dotted path (`.value =`, so shapes are checked);
 * later dicts win. Returns `[unexpectedKeys, missingKeys]`, both sorted: keys that name no state,
 * and states that got no value.
 */
export function assignStateValues(
  target: unknown,
  ...dicts: StateValueDict[]
): [string[], string[]] {
  const all = states(target);
  const given = new Map<string, StateValue>();
  for (const d of dicts) {
    const entries: Iterable<readonly [string | Path, StateValue]> =
      Symbol.iterator in Object(d)
        ? (d as Iterable<readonly [string | Path, StateValue]>)
        : Object.entries(d);
    for (const [k, v] of entries) given.set(typeof k === 'string' ? k : dottedPath(k), v);
  }
  for (const [k, v] of given) {
    const state = all.get(k);
    if (state) state.value = v;
  }
  const unexpected = [...given.keys()].filter((k) => !all.has(k)).sort();
  const missing = all
    .keys()
    .filter((k) => !given.has(k))
    .sort();
  return [unexpected, missing];
}

/**
 * Free everything a model holds: every module's own `dispose()` (for tensors that are not
 * states, e.g. connectivity indices), then every state's tensors. The model must not be used
 * afterwards.
 */
export function disposeAll(target: unknown): void {
  for (const [, node] of iterNode(target)) {
    const d = (node as { dispose?: unknown }).dispose;
    if (typeof d === 'function') (d as () => void).call(node);
  }
  for (const [, leaf] of iterLeaf(target)) if (leaf instanceof State) leaf.dispose();
}
