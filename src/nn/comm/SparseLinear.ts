/**
 * SparseLinear (spec §5.9): a trainable linear layer whose weight matrix is sparse with a fixed
 * CSR pattern, y = x @ W_csr (+ b). The weights live in one ParamState `weight` holding
 * `{ weight: [] or [nnz], bias?: [nPost] }`, like Linear. The product runs on the same registered
 * CSR kernels as the event layers with events off (the input's value multiplies the weight; rows
 * with x = 0 are still skipped), so it works on every backend, including wasm, which lacks
 * UnsortedSegmentSum, and is differentiable w.r.t. x, the weights and the bias.
 */
import { tf } from '../../backend/tf';
import { ParamState } from '../../state';
import type { CSRLike } from '../connectivity';
import { CSRLayer, synapseWeight, type SynapseWeight } from './csrLayer';
import { paramTensor, type TensorInit } from './paramTensor';

/** Options of SparseLinear. */
export interface SparseLinearOptions {
  /** A number (homogeneous), nnz per-synapse values, or an initializer called with [nnz]. */
  weight: SynapseWeight;
  /** Bias initializer (shape [nPost]); default null: no bias. */
  bInit?: TensorInit | null;
  name?: string;
}

/** The parameters of a SparseLinear. */
export interface SparseLinearParams {
  [key: string]: tf.Tensor;
  weight: tf.Tensor;
}

/** y = x @ W_csr (+ b) with a trainable sparse weight. */
export class SparseLinear extends CSRLayer {
  weight: ParamState<SparseLinearParams>;

  constructor(conn: CSRLike, options: SparseLinearOptions) {
    super(conn, options?.name);
    const where = new.target.name;
    const params: SparseLinearParams = {
      weight: synapseWeight(options?.weight, this.conn.nnz, where),
    };
    const bInit = options?.bInit ?? null;
    if (bInit !== null) params.bias = paramTensor(bInit, [this.conn.nPost], `${where}: bInit`);
    this.weight = new ParamState(params);
  }

  /** x [..., nPre] → y [..., nPost]. */
  override update(x: tf.Tensor | tf.TensorLike): tf.Tensor {
    const { weight, bias } = this.weight.value;
    if (bias === undefined) return this.propagate(x, weight, false);
    return tf.tidy(() => tf.add(this.propagate(x, weight, false), bias));
  }
}

/** The same layer under its CSR name. */
export const CSRLinear = SparseLinear;
export type CSRLinear = SparseLinear;
