/**
 * jit and makeIR. `jit(fn)` caches one trace per signature (spec §3.1): it discovers the states
 * fn reads and writes, records the Program, runs fn inside tf.tidy so only results and new state
 * values survive, and restores states if fn throws. Later calls with the same signature replay
 * the recorded Program (statefulFunction.ts `replay`): the user function does not run again,
 * random draws take fresh keys, and calls that cannot be replayed (host reads, changed environ
 * values, non-tensor state writes) run fn eagerly instead. At top level a replay that is one fused
 * element-wise kernel calls it directly, writing in place the state buffers the jit owns (see
 * StatefulOptions.inPlace: unobservable by default; `{ inPlace: false }` turns it off).
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
  /** Number of calls answered by replaying a recorded program. */
  readonly replayCount: number;
  /** Why the trace for these arguments cannot be replayed (null if it can, or is not traced yet). */
  replayBlocker(...args: A): string | null;
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
    replayCount: { get: () => sf.stats.replays },
    replayBlocker: {
      value: (...args: A) => {
        const e = sf.entryFor(...args);
        return e && typeof e.replay === 'string' ? e.replay : null;
      },
    },
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
