/**
 * CSRLayer: the common base of the sparse (SparseLinear) and event-driven (EventCSRLinear,
 * EventFixedProb) communication layers. It holds the host connectivity `conn` (a CSR, shown in
 * the repr), its copy on the backend (two int32 tensors created once, kept out of every tidy, and
 * shared by clones), and turns a user's weight (a number, one value per synapse, or an
 * initializer) into a float32 tensor of shape [] (homogeneous) or [nnz].
 */
import { tf } from '../../backend/tf';
import { ArgumentError, describeValue } from '../../errors';
import { Module } from '../../graph';
import { isInitializer, param, type InitFunction, type Initializer } from '../../init';
import type { ParamState, StateValue } from '../../state';
import { CSR, type CSRLike } from '../connectivity';
import { csrMatMul, type CSRTensors } from './csrKernels';

/**
 * A synaptic weight: one number for every synapse (homogeneous), one value per synapse (an
 * array or tensor of length nnz, in CSR order), a scalar tensor, or an initializer / function
 * called with [nnz].
 */
export type SynapseWeight = number | tf.Tensor | ArrayLike<number> | Initializer | InitFunction;

const DEVICE = Symbol('brainstate.nn.csrTensors');

/** The weight as a float32 tensor of shape [] or [nnz]; the message names the layer. */
export function synapseWeight(weight: SynapseWeight, nnz: number, where: string): tf.Tensor {
  if (typeof weight === 'number') {
    if (!Number.isFinite(weight)) {
      throw new ArgumentError(`${where}: the weight must be finite, got ${weight}`);
    }
    return tf.scalar(weight, 'float32');
  }
  let t: tf.Tensor;
  if (weight instanceof tf.Tensor) t = weight;
  else if (isInitializer(weight) || typeof weight === 'function') t = param(weight, [nnz]);
  else if (weight !== null && typeof weight === 'object' && typeof weight.length === 'number') {
    t = tf.tensor1d(Float32Array.from(weight), 'float32');
  } else {
    throw new ArgumentError(
      `${where}: the weight must be a number, ${nnz} per-synapse values or an initializer, got ${describeValue(weight)}`,
    );
  }
  if (!(t.rank === 0 || (t.rank === 1 && t.size === nnz))) {
    throw new ArgumentError(
      `${where}: the weight must be a scalar or have one value per synapse [${nnz}], got shape [${t.shape.join(', ')}]`,
    );
  }
  return t.dtype === 'float32' ? t : tf.tidy(() => tf.cast(t, 'float32'));
}

/** Base class of the layers computing y = f(x) @ W on a CSR connectivity. */
export abstract class CSRLayer extends Module {
  /** The connectivity (host side). */
  readonly conn: CSR;
  private [DEVICE]: CSRTensors;

  constructor(conn: CSRLike, name?: string) {
    super(name);
    const csr = CSR.from(conn);
    if (csr.nPre === 0 || csr.nPost === 0) {
      throw new ArgumentError(
        `${new.target.name}: the connectivity must have nPre > 0 and nPost > 0, got ${String(csr)}`,
      );
    }
    this.conn = csr;
    this.inSize = csr.nPre;
    this.outSize = csr.nPost;
    this[DEVICE] = {
      nPre: csr.nPre,
      nPost: csr.nPost,
      indptr: tf.keep(tf.tensor1d(csr.indptr, 'int32')),
      indices: tf.keep(tf.tensor1d(csr.indices, 'int32')),
    };
  }

  /** The connectivity as backend tensors (for the kernels). */
  get connTensors(): CSRTensors {
    return this[DEVICE];
  }

  /** Number of synapses. */
  get nnz(): number {
    return this.conn.nnz;
  }

  /**
   * y = f(x) @ W with the given weight tensor: x [..., nPre] (a tensor or nested arrays) →
   * [..., nPost]. The input's last axis is checked (ArgumentError naming the layer).
   */
  protected propagate(
    x: tf.Tensor | tf.TensorLike,
    weight: tf.Tensor,
    asEvent: boolean,
  ): tf.Tensor {
    if (!(x instanceof tf.Tensor)) {
      return tf.tidy(() => this.propagate(tf.tensor(x as tf.TensorLike), weight, asEvent));
    }
    if (x.rank === 0 || x.shape[x.rank - 1] !== this.conn.nPre) {
      throw new ArgumentError(
        `${this.constructor.name}: the input must have shape [..., ${this.conn.nPre}] (nPre), got [${x.shape.join(', ')}]`,
      );
    }
    return csrMatMul(x, this[DEVICE], weight, { asEvent });
  }

  /** The trainable weight tensor's state (set by subclasses). */
  abstract weight: ParamState<StateValue>;

  /**
   * Free the layer's tensors: the backend connectivity (shared with clones of this layer) and the
   * weight state. The layer cannot be called afterwards.
   */
  dispose(): void {
    tf.dispose([this[DEVICE].indptr, this[DEVICE].indices]);
    this.weight.dispose();
  }
}
