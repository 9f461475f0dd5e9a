/**
 * Dropout (spec §5.9). `prob` is the KEEP probability, as upstream: while training (the
 * environment's `fit` flag, which must be set) each element is kept with probability `prob` and
 * scaled by 1/prob, so the expectation is unchanged; in evaluation, or with prob ≥ 1, the layer
 * is the identity. Masks are drawn from src/random (the default RandomState, or one given as
 * `rng`), so a seed fixes them. `DropoutFixed` draws its mask once per `initState` and keeps it
 * across time steps (for spiking networks trained over time).
 */
import { tf } from '../../backend/tf';
import { ArgumentError, describeValue } from '../../errors';
import type { InitStateOptions, Size } from '../../graph';
import { DEFAULT, type RandomState } from '../../random';
import { ShortTermState } from '../../state';
import { ElementWiseBlock, fitFlag, floatInput, layerLabel, normalizeAxes } from './base';

function checkProb(where: string, prob: unknown): number {
  if (typeof prob !== 'number' || !(prob > 0 && prob <= 1)) {
    throw new ArgumentError(
      `${where}: prob is the keep probability and must be in (0, 1], got ${describeValue(prob)}`,
    );
  }
  return prob;
}

/** Options of Dropout. */
export interface DropoutOptions {
  /** Axes of the input along which the mask is shared (size 1 in the mask), e.g. [0] for one mask across the batch. */
  broadcastDims?: readonly number[];
  /** The random state the masks are drawn from (default: the global one). */
  rng?: RandomState;
  name?: string;
}

/** Keep each element with probability `prob` and scale kept ones by 1/prob while training. */
export class Dropout extends ElementWiseBlock {
  /** The keep probability. */
  readonly prob: number;
  readonly broadcastDims: readonly number[];
  /** The random state masks come from, or null for the global one. */
  rng: RandomState | null;

  constructor(prob = 0.5, options: DropoutOptions = {}) {
    super(options.name);
    this.prob = checkProb(layerLabel(this), prob);
    this.broadcastDims = [...(options.broadcastDims ?? [])];
    this.rng = options.rng ?? null;
  }

  /** x → x·mask/prob while training (fit = true), x otherwise. */
  override update(x: tf.Tensor | tf.TensorLike): tf.Tensor {
    const where = layerLabel(this);
    const fit = fitFlag(where);
    return tf.tidy(() => {
      const t = floatInput(x, where);
      if (!fit || this.prob >= 1) return t === x ? tf.clone(t) : t;
      const shared = normalizeAxes(where, 'broadcastDims', this.broadcastDims, t.rank);
      const maskShape = t.shape.map((d, i) => (shared.includes(i) ? 1 : d));
      const keep = (this.rng ?? DEFAULT).bernoulli(this.prob, maskShape);
      return tf.mul(t, tf.mul(tf.cast(keep, 'float32'), 1 / this.prob));
    });
  }
}

/**
 * Dropout with a mask fixed between `initState` calls: `initState({ batchSize })` draws a mask of
 * shape [batchSize?, ...inSize]; while training, `update(x)` returns x·mask/prob (x must have the
 * mask's shape), otherwise x.
 */
export class DropoutFixed extends ElementWiseBlock {
  readonly prob: number;
  /** The keep mask (float32 0/1), created by initState. */
  mask: ShortTermState | null = null;
  rng: RandomState | null;

  constructor(inSize: Size, prob = 0.5, options: Omit<DropoutOptions, 'broadcastDims'> = {}) {
    super(options.name);
    this.inSize = inSize;
    this.outSize = inSize;
    this.prob = checkProb(layerLabel(this), prob);
    this.rng = options.rng ?? null;
  }

  /** Draw a new mask of shape [batchSize?, ...inSize]. */
  override initState(options: InitStateOptions = {}): void {
    const shape = [...(options.batchSize != null ? [options.batchSize] : []), ...this.inSize!];
    const mask = tf.tidy(() =>
      tf.cast((this.rng ?? DEFAULT).bernoulli(this.prob, shape), 'float32'),
    );
    if (this.mask === null) this.mask = new ShortTermState(mask);
    else this.mask.reinitialize(mask);
  }

  /** Draw a new mask (same as initState). */
  override resetState(options: InitStateOptions = {}): void {
    this.initState(options);
  }

  /** x → x·mask/prob while training (fit = true), x otherwise. */
  override update(x: tf.Tensor | tf.TensorLike): tf.Tensor {
    const where = layerLabel(this);
    const fit = fitFlag(where);
    return tf.tidy(() => {
      const t = floatInput(x, where);
      if (!fit || this.prob >= 1) return t === x ? tf.clone(t) : t;
      if (this.mask === null) {
        throw new ArgumentError(
          `${where}: the mask does not exist yet; call initState({ batchSize }) (or initAllStates) first`,
        );
      }
      const mask = this.mask.value;
      if (!tf.util.arraysEqual(mask.shape, t.shape)) {
        throw new ArgumentError(
          `${where}: the input shape [${t.shape.join(', ')}] differs from the mask shape [${mask.shape.join(', ')}] drawn by initState`,
        );
      }
      return tf.mul(t, tf.mul(mask, 1 / this.prob));
    });
  }
}
