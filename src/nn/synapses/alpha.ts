/**
 * Alpha: the alpha-function synapse (spec §5.5).
 *
 *   τ dh/dt = −h + I,   τ dg/dt = −g + h,   inputs (x, delta inputs) jump h;  output g.
 *
 * A unit jump of h at t = 0 gives g(t) = (t/τ)·e^{−t/τ}: peak 1/e at t = τ (the upstream
 * normalisation; scale the weights by e for a unit peak). One step of `environ.dt` is the exact
 * solution of the linear system: with e = exp(−dt/τ),
 *   g ← (g + h·dt/τ)·e,   h ← h·e   (plus the exact response to current inputs I held over the
 *   step), then h jumps by the delta inputs and x.
 */
import { tf } from '../../backend/tf';
import { getDt } from '../../environ';
import type { InitStateOptions, Size } from '../../graph';
import { ZeroInit } from '../../init';
import type { HiddenState } from '../../state';
import {
  DecayFactor,
  Synapse,
  hasInputs,
  positive,
  type StateInit,
  type SynapseInput,
} from './synapse';

export interface AlphaOptions {
  /** Time constant τ of both stages (ms), > 0. Default 8. */
  tau?: number;
  /** Initial g and h. Default `ZeroInit()`. */
  gInitializer?: StateInit;
  name?: string;
}

/** Alpha-function conductance: a second-order linear filter of the input; output g. */
export class Alpha extends Synapse {
  static override readonly alignPost = true;

  /** Time constant (ms). */
  readonly tau: number;
  readonly gInitializer: StateInit;
  /** The conductance (the output). */
  g!: HiddenState;
  /** The first stage, which the inputs jump. */
  h!: HiddenState;
  readonly #decay: DecayFactor;

  constructor(size: Size, options: AlphaOptions = {}) {
    super(size, options.name);
    this.tau = positive(options.tau ?? 8, 'tau', this.describe());
    this.gInitializer = options.gInitializer ?? ZeroInit();
    this.#decay = new DecayFactor(this.tau);
  }

  override initState(options: InitStateOptions = {}): void {
    this.g = this.makeHidden(this.g, this.gInitializer, options.batchSize, 'g');
    this.h = this.makeHidden(this.h, this.gInitializer, options.batchSize, 'h');
  }

  override resetState(options: InitStateOptions = {}): void {
    this.resetHidden(this.g, this.gInitializer, options.batchSize, 'g');
    this.resetHidden(this.h, this.gInitializer, options.batchSize, 'h');
  }

  /** Advance g and h exactly over one step, then jump h by the delta inputs and `x`; returns g. */
  override update(x?: SynapseInput): tf.Tensor {
    const g = this.need(this.g, 'g');
    const h = this.need(this.h, 'h');
    const dt = getDt();
    const e = this.#decay.at(dt);
    const [gNew, hNew] = tf.tidy(() => {
      const h0 = h.value;
      let gn = tf.mul(tf.add(g.value, tf.mul(h0, dt / this.tau)), e);
      let hn = tf.mul(h0, e);
      if (hasInputs(this.currentInputs)) {
        // exact for I constant over the step (shift h and g by I: the same homogeneous solution)
        const I = this.sumCurrentInputs(0);
        hn = tf.add(hn, tf.mul(I, 1 - e));
        gn = tf.add(gn, tf.mul(I, 1 - e - (e * dt) / this.tau));
      }
      hn = this.sumDeltaInputs(hn);
      return [gn, x === undefined ? hn : tf.add(hn, x)];
    });
    g.value = gNew;
    h.value = hNew;
    return g.value;
  }
}
