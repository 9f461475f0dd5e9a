/** Tiny Dynamics models for the Runner and input tests (the real neurons live in src/nn/neurons). */
import { tf } from '../../src/backend/tf';
import * as environ from '../../src/environ';
import { Module } from '../../src/graph';
import { Dynamics } from '../../src/nn/dynamics';
import { HiddenState, ShortTermState } from '../../src/state';

/**
 * A leaky integrator with threshold: exact exponential-Euler step
 * V ← V∞ + (V − V∞)·e^(−dt/τ), V∞ = V_rest + I; spike where V ≥ V_th, then V ← V_reset.
 */
export class ToyLIF extends Dynamics {
  V: HiddenState | null = null;
  spike: ShortTermState | null = null;
  constructor(
    size: number,
    readonly pars: {
      tau?: number;
      V_rest?: number;
      V_th?: number;
      V_reset?: number;
      V0?: number;
    } = {},
  ) {
    super(size);
  }
  override initState({ batchSize }: { batchSize?: number } = {}): void {
    this.V = new HiddenState(tf.fill(this.stateShape(batchSize), this.pars.V0 ?? 0));
    this.spike = new ShortTermState(tf.zeros(this.stateShape(batchSize)));
  }
  override update(x: tf.Tensor | number = 0): tf.Tensor {
    const { tau = 10, V_rest = 0, V_th = Infinity, V_reset = 0 } = this.pars;
    const dt = environ.getDt();
    const I = this.sumCurrentInputs(x, [this.V!.value]);
    const Vinf = tf.add(V_rest, I);
    const V = tf.add(Vinf, tf.mul(tf.sub(this.V!.value, Vinf), Math.exp(-dt / tau)));
    const s = tf.cast(tf.greaterEqual(V, V_th), 'float32');
    this.spike!.value = s;
    this.V!.value = tf.where(tf.cast(s, 'bool'), tf.fill(V.shape, V_reset), V);
    return this.spike!.value;
  }
}

/** Two toy groups; E is driven by the Runner's inputs, I by E's spikes. */
export class ToyNet extends Module {
  E: ToyLIF;
  I: ToyLIF;
  constructor(nE = 4, nI = 2, pars: ConstructorParameters<typeof ToyLIF>[1] = {}) {
    super();
    this.E = new ToyLIF(nE, pars);
    this.I = new ToyLIF(nI, pars);
  }
  override update(): void {
    const drive = tf.mul(tf.sum(this.E.spike!.value), 1);
    this.E.call();
    this.I.call(drive);
  }
}
