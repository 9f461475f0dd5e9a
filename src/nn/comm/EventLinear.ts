/**
 * Event-driven communication layers (spec §6): y = Σ over the presynaptic neurons that spiked of
 * their weight rows, computed by the registered `BstCSREvent` kernel, which visits only the rows
 * of non-zero inputs (O(#spikes · fan-out) instead of O(nPre · nPost) for a dense product).
 * - `EventCSRLinear(conn, { weight })` on any CSR connectivity;
 * - `EventFixedProb(nPre, nPost, { prob, weight, seed, allowSelf })` draws the connectivity with
 *   `FixedProb` (each pair independently with probability `prob`).
 * The weight is homogeneous (a number) or per synapse, held by the ParamState `weight` (shape []
 * or [nnz]) and trainable: gradients flow to the weight and, straight through, to the spikes.
 * Output equals the dense product `f(x) @ W` (f(s) = s ≠ 0 with `floatAsEvent`, else s).
 */
import type { tf } from '../../backend/tf';
import { ParamState } from '../../state';
import { FixedProb, type CSRLike } from '../connectivity';
import { checkCount, checkFlag, checkProbability } from '../connectivity/Connector';
import type { SeedOrKey } from '../../random';
import { CSRLayer, synapseWeight, type SynapseWeight } from './csrLayer';

/** Options of EventCSRLinear. */
export interface EventCSRLinearOptions {
  /** A number (homogeneous), nnz per-synapse values, or an initializer called with [nnz]. */
  weight: SynapseWeight;
  /** Count any non-zero input as a spike of 1 (default true); false multiplies by the value. */
  floatAsEvent?: boolean;
  name?: string;
}

/** Event-driven propagation through a CSR connectivity. */
export class EventCSRLinear extends CSRLayer {
  /** The synaptic weight: shape [] (homogeneous) or [nnz]. */
  weight: ParamState;
  readonly floatAsEvent: boolean;

  constructor(conn: CSRLike, options: EventCSRLinearOptions) {
    super(conn, options?.name);
    const where = new.target.name;
    this.floatAsEvent = checkFlag(options?.floatAsEvent ?? true, 'floatAsEvent', where);
    this.weight = new ParamState(synapseWeight(options?.weight, this.conn.nnz, where));
  }

  /** Spikes [..., nPre] (float32, bool or int32) → postsynaptic input [..., nPost] float32. */
  override update(x: tf.Tensor | tf.TensorLike): tf.Tensor {
    return this.propagate(x, this.weight.value, this.floatAsEvent);
  }
}

/** Options of EventFixedProb. */
export interface EventFixedProbOptions extends EventCSRLinearOptions {
  /** Connection probability of each pair, in [0, 1]. */
  prob: number;
  /** Seed of the connectivity (default: the default random state). */
  seed?: SeedOrKey | null;
  /** Keep the pairs i → i (default true). */
  allowSelf?: boolean;
}

/** Event-driven propagation through a random FixedProb connectivity. */
export class EventFixedProb extends EventCSRLinear {
  readonly prob: number;

  constructor(nPre: number, nPost: number, options: EventFixedProbOptions) {
    const { prob, seed, allowSelf, ...rest } = options ?? ({} as EventFixedProbOptions);
    // Checked here so that the messages name this layer.
    checkProbability(prob, 'prob', 'EventFixedProb');
    checkCount(nPre, 'nPre', 'EventFixedProb');
    checkCount(nPost, 'nPost', 'EventFixedProb');
    super(FixedProb(prob, { seed, allowSelf }).build(nPre, nPost), rest);
    this.prob = prob;
  }
}
