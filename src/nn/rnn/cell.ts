/**
 * RNNCell: the base of the rate RNN cells (spec §5.10, brainscale §4). A cell maps an input
 * x [batch?, numIn] and its hidden states (HiddenStates [batch?, numOut], made by `initState`
 * from `stateInit`, zeros by default) to the next hidden state, one step per `update(x)`. The
 * gates are `Linear` layers on the concatenation [x, h]; the base checks inputs against the
 * states' shapes (a typed error instead of a tfjs concat failure) and runs each step in a
 * `tf.tidy`, so only the new state values and the output survive a step. The tensor a cell
 * returns is its new h itself, owned by the state (as a neuron's spikes are): do not dispose it,
 * and clone it to keep it past the next step.
 */
import { tf } from '../../backend/tf';
import { ArgumentError, KeyNotFoundError, describeValue } from '../../errors';
import type { InitStateOptions } from '../../graph';
import { ZeroInit } from '../../init';
import { HiddenState } from '../../state';
import { paramTensor, type TensorInit } from '../comm/paramTensor';
import { Dynamics } from '../dynamics';

/** Options every RNN cell accepts. */
export interface RNNCellOptions {
  /** Weight initializer of the gate layers (default: the cell's, e.g. XavierNormal()). */
  wInit?: TensorInit;
  /** Bias initializer of the gate layers (default ZeroInit()); null: no biases. */
  bInit?: TensorInit | null;
  /** Initial value of the hidden states: a number, tensor, initializer or function (default ZeroInit()). */
  stateInit?: TensorInit;
  /** A name for messages. */
  name?: string;
}

/** Throw unless `n` is a positive integer; returns it. */
export function checkCount(owner: string, name: string, n: unknown): number {
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n <= 0) {
    throw new ArgumentError(
      `${owner}: ${name} must be a positive integer, got ${describeValue(n)}`,
    );
  }
  return n;
}

/**
 * A new float32 tensor [batch?, ...varshape] for a state's initial value (a tensor given with
 * exactly that shape is copied, so the state never owns the caller's tensor).
 */
export function initialValue(
  where: string,
  init: TensorInit,
  varshape: readonly number[],
  batchSize?: number,
): tf.Tensor {
  const shape = batchSize === undefined ? [...varshape] : [batchSize, ...varshape];
  let value: tf.Tensor;
  try {
    value = paramTensor(init, shape, where);
  } catch (e) {
    throw new ArgumentError(`${where}: ${(e as Error).message}`);
  }
  return value === init ? tf.clone(value) : value;
}

/** Create a hidden state, or re-initialise the existing one (same State object, new value). */
export function hiddenState(
  current: HiddenState | undefined,
  name: string,
  value: tf.Tensor,
): HiddenState {
  if (current instanceof HiddenState) {
    current.reinitialize(value);
    return current;
  }
  return new HiddenState(value, { name });
}

/** Base class of the rate RNN cells: sizes, state creation, input checks. */
export abstract class RNNCell extends Dynamics {
  /** Number of input features (the last axis of x). */
  readonly numIn: number;
  /** Number of hidden units (the last axis of h). */
  readonly numOut: number;
  /** Initial value of the hidden states. */
  readonly stateInit: TensorInit;

  constructor(numIn: number, numOut: number, options: RNNCellOptions = {}) {
    super(1, options.name);
    this.numIn = checkCount(this.describe(), 'numIn', numIn);
    this.numOut = checkCount(this.describe(), 'numOut', numOut);
    this.inSize = numIn;
    this.outSize = numOut;
    this.stateInit = options.stateInit ?? ZeroInit();
  }

  /** The shape of one sample of the output (= [numOut]). */
  override get varshape(): number[] {
    return [...this.outSize!];
  }

  /** Create the hidden states for `batchSize` samples (none: no batch axis). */
  abstract override initState(options?: InitStateOptions): void;

  /** Re-initialise the hidden states from `stateInit`. */
  override resetState(options: InitStateOptions = {}): void {
    this.initState(options);
  }

  /** One step: x [batch?, numIn] → the new hidden state [batch?, numOut] (the output). */
  abstract override update(x: tf.Tensor): tf.Tensor;

  /** A state made (or re-made) from `stateInit` with `size` units (default numOut). */
  protected makeHidden(
    current: HiddenState | undefined,
    name: string,
    batchSize?: number,
    size = this.numOut,
  ): HiddenState {
    const where = `${this.describe()}: stateInit of '${name}'`;
    return hiddenState(current, name, initialValue(where, this.stateInit, [size], batchSize));
  }

  /** The value of a state, or a KeyNotFoundError if `initState` has not run. */
  protected stateValue(state: HiddenState | undefined, name: string): tf.Tensor {
    if (!(state instanceof HiddenState)) {
      throw new KeyNotFoundError(
        `${this.describe()}: no state '${name}' yet; call initAllStates(cell, { batchSize }) first`,
      );
    }
    return state.value;
  }

  /**
   * The input as float32, checked to be [...lead, numIn] where `lead` is the leading shape of
   * the state value `like` ([batch] or []).
   */
  protected checkInput(x: unknown, like: tf.Tensor, size = this.numIn): tf.Tensor {
    const expected = [...like.shape.slice(0, -1), size];
    if (!(x instanceof tf.Tensor)) {
      throw new ArgumentError(
        `${this.describe()}.update: the input must be a tensor of shape [${expected.join(', ')}], got ${describeValue(x)}`,
      );
    }
    if (!tf.util.arraysEqual(x.shape, expected)) {
      throw new ArgumentError(
        `${this.describe()}.update: the input must have shape [${expected.join(', ')}] ` +
          `(the states have shape [${like.shape.join(', ')}]), got [${x.shape.join(', ')}]`,
      );
    }
    if (x.dtype === 'string' || x.dtype === 'complex64') {
      throw new ArgumentError(
        `${this.describe()}.update: the input must be numeric, got a ${x.dtype} tensor`,
      );
    }
    return x.dtype === 'float32' ? x : tf.cast(x, 'float32');
  }
}

/** [a, b] along the last axis. */
export function concatLast(a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  return tf.concat([a, b], -1);
}

/** (1 − g)⊙old + g⊙candidate: the convex update of the gated cells. */
export function interpolate(g: tf.Tensor, old: tf.Tensor, candidate: tf.Tensor): tf.Tensor {
  return tf.add(tf.mul(tf.sub(1, g), old), tf.mul(g, candidate));
}
