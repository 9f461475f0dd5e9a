/**
 * The synaptic outputs of spec §5.6 (units: g in nS and V, E in mV give pA; in the normalised
 * COBA network g is dimensionless and the current is in mV, as the seeds use it):
 * - COBA({ E }):  g·(E − V), conductance-based with reversal potential E;
 * - CUBA({ scale = 1 }):  g·scale, current-based (V is ignored);
 * - MgBlock({ E = 0, cc_Mg = 1.2, alpha = 0.062, beta = 3.57, V_offset = 0 }):
 *   g·(E − V) / (1 + (cc_Mg/beta)·exp(alpha·(V_offset − V))), the NMDA magnesium block.
 */
import { tf } from '../../backend/tf';
import { ArgumentError } from '../../errors';
import { SynOut, numberOrTensor, requireV, type TensorOrNumber } from './synout';

export interface COBAOptions {
  /** Reversal potential E (mV), required: e.g. 0 excitatory, −80 inhibitory. A number or a tensor broadcastable to the post neurons. */
  E: TensorOrNumber;
  name?: string;
}

export interface CUBAOptions {
  /** Factor from conductance to current. Default 1. */
  scale?: TensorOrNumber;
  name?: string;
}

export interface MgBlockOptions {
  /** Reversal potential (mV). Default 0. */
  E?: TensorOrNumber;
  /** Extracellular Mg²⁺ concentration (mM). Default 1.2. */
  cc_Mg?: TensorOrNumber;
  /** Voltage sensitivity of the block (1/mV). Default 0.062. */
  alpha?: TensorOrNumber;
  /** Mg²⁺ half-block concentration (mM). Default 3.57. */
  beta?: TensorOrNumber;
  /** Voltage offset (mV). Default 0. */
  V_offset?: TensorOrNumber;
  name?: string;
}

/** Conductance-based output: g·(E − V). */
export class COBA extends SynOut {
  /** Reversal potential (mV). */
  readonly E: TensorOrNumber;

  constructor(options: COBAOptions) {
    super(options?.name);
    if (options == null || options.E === undefined) {
      throw new ArgumentError(
        `${this.describe()}: the reversal potential E (mV) is required, e.g. COBA({ E: 0 })`,
      );
    }
    this.E = numberOrTensor(options.E, 'E', this.describe());
  }

  current(g: TensorOrNumber, V: TensorOrNumber | undefined): tf.Tensor {
    return tf.mul(g, tf.sub(this.E, requireV(V, this.describe())));
  }
}

/** Current-based output: g·scale (the membrane potential is ignored). */
export class CUBA extends SynOut {
  readonly scale: TensorOrNumber;

  constructor(options: CUBAOptions = {}) {
    super(options.name);
    this.scale = numberOrTensor(options.scale ?? 1, 'scale', this.describe());
  }

  current(g: TensorOrNumber): tf.Tensor {
    return tf.mul(g, this.scale);
  }
}

/** Conductance-based output with the voltage-dependent magnesium block of NMDA receptors. */
export class MgBlock extends SynOut {
  readonly E: TensorOrNumber;
  readonly cc_Mg: TensorOrNumber;
  readonly alpha: TensorOrNumber;
  readonly beta: TensorOrNumber;
  readonly V_offset: TensorOrNumber;

  constructor(options: MgBlockOptions = {}) {
    super(options.name);
    const where = this.describe();
    this.E = numberOrTensor(options.E ?? 0, 'E', where);
    this.cc_Mg = numberOrTensor(options.cc_Mg ?? 1.2, 'cc_Mg', where);
    this.alpha = numberOrTensor(options.alpha ?? 0.062, 'alpha', where);
    this.beta = numberOrTensor(options.beta ?? 3.57, 'beta', where);
    this.V_offset = numberOrTensor(options.V_offset ?? 0, 'V_offset', where);
  }

  current(g: TensorOrNumber, V: TensorOrNumber | undefined): tf.Tensor {
    const v = requireV(V, this.describe());
    const block = tf.add(
      1,
      tf.mul(tf.div(this.cc_Mg, this.beta), tf.exp(tf.mul(this.alpha, tf.sub(this.V_offset, v)))),
    );
    return tf.div(tf.mul(g, tf.sub(this.E, v)), block);
  }
}
