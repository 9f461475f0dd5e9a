/**
 * SynOut: a synaptic output turns a conductance into a current for the post neurons (spec §5.6).
 * The synapse (or the align-post hook that updates it) binds its conductance with `bindCond(g)`
 * each step; the post population, which holds the output as a current input, then calls
 * `out.call(V)` with its membrane potential while integrating and gets the current.
 * Subclasses give the formula in `current(g, V)`.
 * The output only refers to the bound tensor (it holds no tensor of its own): the binder keeps
 * it alive for the step (a synapse state's value; CurrentProj co-owns what it binds).
 */
import { tf } from '../../backend/tf';
import { ArgumentError, BrainStateError, describeValue } from '../../errors';
import { Module } from '../../graph';

/** `call(V)` on a synaptic output before any conductance was bound with `bindCond(g)`. */
export class UnboundConductanceError extends BrainStateError {}

/** A conductance or a membrane potential: a tensor, or a number broadcast to every neuron. */
export type TensorOrNumber = tf.Tensor | number;

/** Base class of synaptic outputs: `bindCond(g)` then `call(V)` → current. */
export abstract class SynOut extends Module {
  #g: TensorOrNumber | null = null;

  constructor(name?: string) {
    super(name);
  }

  /** Bind the conductance to use until the next bind (a reference: valid while its owner keeps it). */
  bindCond(g: TensorOrNumber): void {
    if (!(g instanceof tf.Tensor) && !(typeof g === 'number' && Number.isFinite(g))) {
      throw new ArgumentError(
        `${this.describe()}.bindCond: expected a tensor or a finite number, got ${describeValue(g)}`,
      );
    }
    this.#g = g;
  }

  /** Forget the bound conductance. */
  unbindCond(): void {
    this.#g = null;
  }

  /** The bound conductance, or null. */
  get boundCond(): TensorOrNumber | null {
    return this.#g;
  }

  /** The current for membrane potential `V` from the bound conductance. */
  override update(V?: TensorOrNumber): tf.Tensor {
    const g = this.#g;
    if (g === null) {
      throw new UnboundConductanceError(
        `${this.describe()}: no conductance is bound; bind one first with bindCond(g) (a projection's synapse does this every step before its post neurons integrate)`,
      );
    }
    if (g instanceof tf.Tensor && g.isDisposed) {
      throw new UnboundConductanceError(
        `${this.describe()}: the bound conductance was disposed (bound in an earlier step?); bind the current one with bindCond(g)`,
      );
    }
    return tf.tidy(() => this.current(g, V));
  }

  /** The formula: current from conductance `g` and membrane potential `V`. */
  abstract current(g: TensorOrNumber, V: TensorOrNumber | undefined): tf.Tensor;

  /** `ClassName` or `ClassName(name='…')`, for messages. */
  describe(): string {
    return this.name != null
      ? `${this.constructor.name}(name='${this.name}')`
      : this.constructor.name;
  }
}

/** The membrane potential a conductance-based output needs. */
export function requireV(V: TensorOrNumber | undefined, where: string): TensorOrNumber {
  if (V === undefined) {
    throw new ArgumentError(`${where}: needs the membrane potential V: call(V)`);
  }
  return V;
}

/** A reversal potential or other parameter: a finite number or a tensor broadcastable to the neurons. */
export function numberOrTensor(value: unknown, what: string, where: string): TensorOrNumber {
  if (value instanceof tf.Tensor) return value;
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  throw new ArgumentError(
    `${where}: ${what} must be a finite number or a tensor, got ${describeValue(value)}`,
  );
}
