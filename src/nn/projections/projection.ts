/**
 * Projection: the base of the modules that carry activity from one population to another
 * (spec §5.7). A projection threads its input through `modules` (e.g. a delay accessor or a
 * prefetch of presynaptic spikes; a State stands for its value), maps it with `comm` (a
 * connection layer: any function or Module with `call(x)`), and hands the result to the post
 * population (as a synaptic jump, a delta input or a bound conductance, per subclass).
 * Each projection has a unique default name (`AlignPostProj0`, `DeltaProj1` …), which is also the
 * key of what it registers on the post population. `post` is a back-reference: it belongs to
 * the network, not to the projection, so graph traversal does not enter it from here.
 */
import { tf } from '../../backend/tf';
import { ArgumentError, describeValue } from '../../errors';
import { Module } from '../../graph';
import { State } from '../../state';
import { Dynamics, type Callable } from '../dynamics';

/** A step of a projection's input chain: a function, a Module (its `call`), or a State (its value). */
export type ProjectionModule = Callable | State<tf.Tensor>;

/** The connection layer of a projection: a function `x => y` or a Module with `call(x)`. */
export type Comm = Callable;

/** Options shared by all projections. */
export interface ProjectionOptions {
  /** Applied in order to the `update` arguments before `comm` (delay accessors, prefetches, States). */
  modules?: readonly ProjectionModule[];
  /** The projection's name (default: the class name and a counter, e.g. `AlignPostProj0`). */
  name?: string;
}

const counters = new Map<string, number>();

/** The next unique default name for a projection class: `AlignPostProj0`, `AlignPostProj1` … */
export function uniqueProjectionName(prefix: string): string {
  const n = counters.get(prefix) ?? 0;
  counters.set(prefix, n + 1);
  return `${prefix}${n}`;
}

/** True for a function or a Module. */
export function isCallable(x: unknown): x is Callable {
  return typeof x === 'function' || x instanceof Module;
}

/** Call a function, or a Module's `call`. */
export function invokeCallable(fn: Callable, args: readonly unknown[]): unknown {
  return fn instanceof Module ? fn.call(...args) : (fn as (...a: unknown[]) => unknown)(...args);
}

/** A short description of a comm for messages. */
function describeComm(comm: Callable): string {
  if (comm instanceof Module) {
    const sizes = [
      comm.inSize && `inSize=[${comm.inSize.join(', ')}]`,
      comm.outSize && `outSize=[${comm.outSize.join(', ')}]`,
    ]
      .filter(Boolean)
      .join(', ');
    return `${comm.constructor.name}${sizes ? `(${sizes})` : ''}`;
  }
  return describeValue(comm);
}

function describePost(post: Dynamics): string {
  return `${post.describe()} of varshape [${post.varshape.join(', ')}]`;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** Base class of projections: default `update` calls every direct child module with the same arguments. */
export class Projection extends Module {
  static override graphInvisibleAttrs: readonly string[] = ['post'];

  constructor(name: string | undefined, prefix: string) {
    if (name != null && typeof name !== 'string') {
      throw new ArgumentError(`${prefix}: name must be a string, got ${describeValue(name)}`);
    }
    super(name ?? uniqueProjectionName(prefix));
  }

  /** Call every direct child module with the arguments (ArgumentError if there is none). */
  override update(...args: unknown[]): unknown {
    const children = this.children();
    if (children.length === 0) {
      throw new ArgumentError(
        `${this.describe()}: has no child modules to update; override update() or add modules`,
      );
    }
    let out: unknown;
    for (const child of children) out = child.call(...args);
    return out;
  }

  /** `AlignPostProj 'E2E'`, for messages. */
  describe(): string {
    return `${this.constructor.name} '${this.name}'`;
  }

  // ---- helpers for subclasses ---------------------------------------------------------------

  /** Check `post` is a Dynamics (ArgumentError naming this projection otherwise). */
  protected checkPost(post: unknown): Dynamics {
    if (!(post instanceof Dynamics)) {
      throw new ArgumentError(
        `${this.describe()}: post must be a Dynamics (a neuron group or another stepped population), got ${describeValue(post)}`,
      );
    }
    return post;
  }

  /** Check `comm` is callable and, when it declares `outSize`, that it matches `varshape`. */
  protected checkComm(comm: unknown, varshape: readonly number[], target: string): Callable {
    if (!isCallable(comm)) {
      throw new ArgumentError(
        `${this.describe()}: comm must be a function or a Module with call(x) (e.g. a Linear or EventFixedProb layer), got ${describeValue(comm)}`,
      );
    }
    if (comm instanceof Module && comm.outSize !== null && !sameShape(comm.outSize, varshape)) {
      throw new ArgumentError(
        `${this.describe()}: size mismatch: comm ${describeComm(comm)} produces [${comm.outSize.join(', ')}] but ${target} has varshape [${varshape.join(', ')}]`,
      );
    }
    return comm;
  }

  /** Check the input chain. */
  protected checkModules(modules: unknown): ProjectionModule[] {
    if (modules === undefined) return [];
    if (!Array.isArray(modules)) {
      throw new ArgumentError(
        `${this.describe()}: modules must be an array, got ${describeValue(modules)}`,
      );
    }
    modules.forEach((m, i) => {
      if (!isCallable(m) && !(m instanceof State)) {
        throw new ArgumentError(
          `${this.describe()}: modules[${i}] must be a function, a Module or a State, got ${describeValue(m)}`,
        );
      }
    });
    return [...(modules as ProjectionModule[])];
  }

  /** Thread the `update` arguments through `modules`: each gets the previous result (the first, the arguments). */
  protected threadInput(modules: readonly ProjectionModule[], args: readonly unknown[]): unknown {
    let values: readonly unknown[] = args;
    for (const m of modules) values = [m instanceof State ? m.value : invokeCallable(m, values)];
    return values[0];
  }

  /** `comm(x)`, checked to be a tensor (or number) whose trailing axes are `varshape`. */
  protected communicate(comm: Callable, x: unknown, post: Dynamics): tf.Tensor | number {
    const y = invokeCallable(comm, [x]);
    if (typeof y === 'number') return y;
    if (!(y instanceof tf.Tensor)) {
      throw new ArgumentError(
        `${this.describe()}: comm ${describeComm(comm)} returned ${describeValue(y)}, expected a tensor`,
      );
    }
    const varshape = post.varshape;
    if (
      y.rank > 0 &&
      (y.rank < varshape.length || !sameShape(y.shape.slice(y.rank - varshape.length), varshape))
    ) {
      throw new ArgumentError(
        `${this.describe()}: size mismatch: comm ${describeComm(comm)} returned shape [${y.shape.join(', ')}] but post ${describePost(post)} needs [batch?, ${varshape.join(', ')}]`,
      );
    }
    return y;
  }
}
