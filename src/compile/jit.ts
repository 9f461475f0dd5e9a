/**
 * jit and makeIR. `jit(fn)` caches one trace per signature (spec §3.1): it discovers the states
 * fn reads and writes, records the Program, runs fn inside tf.tidy so only results and new state
 * values survive, and restores states if fn throws. Stage 1 executes the user function on every
 * call (correctness first); the recorded Program is what later stages replay and fuse.
 * `makeIR(fn)(...args)` returns the Program of one call without side effects.
 */
import { StatefulFunction, type StatefulOptions } from './statefulFunction';
import type { Program } from './program';

/** A jitted function: callable, plus its cache and IR. */
export interface Jitted<A extends unknown[], R> {
  (...args: A): R;
  /** The underlying StatefulFunction (states, cache, programs). */
  readonly statefulFun: StatefulFunction<A, R>;
  /** The original function. */
  readonly originFun: (...args: A) => R;
  /** Number of traces so far (first calls per signature and recompiles after state shape changes). */
  readonly compileCount: number;
  /** The Program for these arguments (traces without side effects if not cached). */
  program(...args: A): Program;
  /** Drop every cached trace. */
  clearCache(): void;
}

/** Compile a stateful function: see the file header. */
export function jit<A extends unknown[], R>(
  fn: (...args: A) => R,
  options: StatefulOptions = {},
): Jitted<A, R> {
  const sf = new StatefulFunction(fn, options);
  const jitted = ((...args: A): R => sf.call(...args)) as Jitted<A, R>;
  Object.defineProperties(jitted, {
    statefulFun: { value: sf },
    originFun: { value: fn },
    compileCount: { get: () => sf.stats.compiles },
    program: { value: (...args: A) => sf.getProgram(...args) },
    clearCache: { value: () => sf.clearCache() },
    name: { value: `jit(${sf.name})` },
  });
  return jitted;
}

/** `makeIR(fn)(...args)`: the Program of fn on these arguments (states are left unchanged). */
export function makeIR<A extends unknown[], R>(
  fn: (...args: A) => R,
  options: StatefulOptions = {},
): (...args: A) => Program {
  return (...args: A) => new StatefulFunction(fn, options).getProgram(...args);
}
