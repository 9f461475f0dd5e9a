/**
 * Etrace normalisation layers (brainscale spec §4): BatchNorm0d/1d/2d, LayerNorm, RMSNorm and
 * GroupNorm with the constructors, options, statistics and messages of src/nn/layers/
 * normalization.ts. The affine parameters are ONE parameter `weight` = `{ scale, bias }` (either
 * may be absent) bound to a diagonal `ScaleOp` (y = x̂ ⊙ scale + bias) with grad 'full', so the
 * online learners trace them; running statistics stay non-hidden BatchStates.
 */
import { tf } from '../../backend/tf';
import { ArgumentError, describeValue } from '../../errors';
import { Module, type Size } from '../../graph';
import { Constant, ZeroInit } from '../../init';
import { paramTensor, type TensorInit } from '../../nn/comm/paramTensor';
import {
  checkSampleShape,
  fitFlag,
  floatInput,
  layerLabel,
  normalizeAxes,
  normalizeAxis,
} from '../../nn/layers/base';
import { BatchState } from '../../state';
import { stopGradient } from '../../surrogate';
import { ScaleOp } from '../ops';
import {
  checkParamOptions,
  disposeParam,
  layerParam,
  type ETraceLayerOptions,
  type LayerParam,
} from './param';

/** The learned parameters of a normalisation layer (`scale` multiplies, `bias` adds). */
export interface NormParams {
  [key: string]: tf.Tensor;
}

interface AffineSpec extends ETraceLayerOptions {
  useScale: boolean;
  useBias: boolean;
  scaleInit?: TensorInit;
  biasInit?: TensorInit;
}

/** `{ scale, bias }` of `shape` as one ScaleOp parameter (grad 'full' by default), or null. */
function affineParam(
  where: string,
  shape: number[],
  spec: AffineSpec,
): LayerParam<NormParams> | null {
  const params: NormParams = {};
  if (spec.useScale) {
    params.scale = paramTensor(spec.scaleInit ?? Constant(1), shape, `${where}: scaleInit`);
  }
  if (spec.useBias) {
    params.bias = paramTensor(spec.biasInit ?? ZeroInit(), shape, `${where}: biasInit`);
  }
  if (Object.keys(params).length === 0) return null;
  return layerParam(where, params, new ScaleOp(), {
    paramType: spec.paramType,
    grad: spec.grad ?? 'full',
  });
}

function applyAffine(y: tf.Tensor, p: LayerParam<NormParams> | null): tf.Tensor {
  return p === null ? y : p.execute(y);
}

function checkPositive(where: string, what: string, v: unknown): number {
  if (typeof v !== 'number' || !(v > 0) || !Number.isFinite(v)) {
    throw new ArgumentError(`${where}: ${what} must be a positive number, got ${describeValue(v)}`);
  }
  return v;
}

function checkTrailingShape(where: string, x: tf.Tensor, sample: readonly number[]): void {
  const n = sample.length;
  if (x.rank < n || !tf.util.arraysEqual(x.shape.slice(x.rank - n), [...sample])) {
    throw new ArgumentError(
      `${where}: expected an input of shape [..., ${sample.join(', ')}], got [${x.shape.join(', ')}]`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// BatchNorm

/** Options of BatchNorm0d/1d/2d/3d. */
export interface BatchNormOptions extends ETraceLayerOptions {
  /** The feature (channel) axis of inSize (default −1, channels last). */
  featureAxis?: number;
  /** Keep running mean/var as BatchStates and use them in evaluation (default true). */
  trackRunningStats?: boolean;
  /** Added to the variance (default 1e-5). */
  epsilon?: number;
  /** running = momentum·running + (1 − momentum)·batch statistic (default 0.99). */
  momentum?: number;
  /** Learn a per-feature scale and bias (default true). */
  affine?: boolean;
  scaleInit?: TensorInit;
  biasInit?: TensorInit;
}

/**
 * Batch normalisation over `numSpatial` spatial axes, as the plain BatchNorm (the environment's
 * `fit` flag picks batch or running statistics). `weight` is `{ scale, bias }` of shape [C]
 * (channels last), or inSize with 1 on the other axes when featureAxis is not the last axis.
 */
export class BatchNorm extends Module {
  readonly numSpatial: number;
  /** The feature axis as an index into inSize. */
  readonly featureAxis: number;
  readonly epsilon: number;
  readonly momentum: number;
  readonly trackRunningStats: boolean;
  runningMean: BatchState | null;
  runningVar: BatchState | null;
  /** `{ scale, bias }` per feature bound to ScaleOp, or null when not affine. */
  weight: LayerParam<NormParams> | null;

  protected constructor(numSpatial: number, inSize: Size, options: BatchNormOptions = {}) {
    super(options.name);
    this.inSize = inSize;
    this.outSize = inSize;
    const where = layerLabel(this);
    checkParamOptions(where, options);
    const shape = this.inSize!;
    if (shape.length !== numSpatial + 1) {
      throw new ArgumentError(
        `${where}: inSize must have ${numSpatial + 1} entries (${numSpatial} spatial and one feature axis), got [${shape.join(', ')}]`,
      );
    }
    this.numSpatial = numSpatial;
    this.featureAxis = normalizeAxis(where, 'featureAxis', options.featureAxis ?? -1, shape.length);
    this.epsilon = checkPositive(where, 'epsilon', options.epsilon ?? 1e-5);
    const momentum = options.momentum ?? 0.99;
    if (typeof momentum !== 'number' || !(momentum >= 0 && momentum <= 1)) {
      throw new ArgumentError(
        `${where}: momentum must be in [0, 1], got ${describeValue(momentum)}`,
      );
    }
    this.momentum = momentum;
    this.trackRunningStats = options.trackRunningStats ?? true;
    const features = shape[this.featureAxis];
    this.runningMean = this.trackRunningStats ? new BatchState(tf.zeros([features])) : null;
    this.runningVar = this.trackRunningStats ? new BatchState(tf.ones([features])) : null;
    const last = this.featureAxis === shape.length - 1;
    const paramShape = last ? [features] : shape.map((d, i) => (i === this.featureAxis ? d : 1));
    const useAffine = options.affine ?? true;
    this.weight = affineParam(where, paramShape, {
      ...options,
      useScale: useAffine,
      useBias: useAffine,
    });
  }

  dispose(): void {
    disposeParam(this.weight);
    this.runningMean?.dispose();
    this.runningVar?.dispose();
  }

  /** x [...inSize] or [B, ...inSize] → the same shape. */
  override update(x: tf.Tensor | tf.TensorLike): tf.Tensor {
    const where = layerLabel(this);
    const fit = fitFlag(where);
    return tf.tidy(() => {
      const t = floatInput(x, where);
      const { batched } = checkSampleShape(where, t, this.inSize!);
      const axis = this.featureAxis + (batched ? 1 : 0);
      const reduce = t.shape.map((_, i) => i).filter((i) => i !== axis);
      const bshape = t.shape.map((d, i) => (i === axis ? d : 1));
      let mean: tf.Tensor;
      let variance: tf.Tensor;
      if (this.runningMean !== null && this.runningVar !== null && !fit) {
        mean = tf.reshape(this.runningMean.value, bshape);
        variance = tf.reshape(this.runningVar.value, bshape);
      } else {
        const m = tf.moments(t, reduce, true);
        mean = m.mean;
        variance = m.variance;
        if (this.runningMean !== null && this.runningVar !== null) {
          const keep = this.momentum;
          const batchMean = stopGradient(tf.reshape(mean, [-1]));
          const batchVar = stopGradient(tf.reshape(variance, [-1]));
          this.runningMean.value = tf.add(
            tf.mul(this.runningMean.value, keep),
            tf.mul(batchMean, 1 - keep),
          );
          this.runningVar.value = tf.add(
            tf.mul(this.runningVar.value, keep),
            tf.mul(batchVar, 1 - keep),
          );
        }
      }
      const y = tf.mul(tf.sub(t, mean), tf.rsqrt(tf.add(variance, this.epsilon)));
      return applyAffine(y, this.weight);
    });
  }
}

/** BatchNorm over features only: inSize [C], input [C] or [B, C]. */
export class BatchNorm0d extends BatchNorm {
  constructor(inSize: Size, options: BatchNormOptions = {}) {
    super(0, inSize, options);
  }
}

/** BatchNorm over one spatial axis: inSize [L, C], input [L, C] or [B, L, C]. */
export class BatchNorm1d extends BatchNorm {
  constructor(inSize: Size, options: BatchNormOptions = {}) {
    super(1, inSize, options);
  }
}

/** BatchNorm over two spatial axes: inSize [H, W, C], input [H, W, C] or [B, H, W, C]. */
export class BatchNorm2d extends BatchNorm {
  constructor(inSize: Size, options: BatchNormOptions = {}) {
    super(2, inSize, options);
  }
}

/** BatchNorm over three spatial axes: inSize [D, H, W, C], input [D, H, W, C] or [B, D, H, W, C]. */
export class BatchNorm3d extends BatchNorm {
  constructor(inSize: Size, options: BatchNormOptions = {}) {
    super(3, inSize, options);
  }
}

// ---------------------------------------------------------------------------------------------
// LayerNorm, RMSNorm

/** Options of LayerNorm. */
export interface LayerNormOptions extends ETraceLayerOptions {
  /** Axes of inSize to normalise over (default −1). */
  reductionAxes?: number | readonly number[];
  /** Axes of inSize that get their own scale and bias (default −1). */
  featureAxes?: number | readonly number[];
  /** Added to the variance (default 1e-6). */
  epsilon?: number;
  useBias?: boolean;
  useScale?: boolean;
  scaleInit?: TensorInit;
  biasInit?: TensorInit;
}

function perSampleAxes(
  where: string,
  sample: readonly number[],
  options: { reductionAxes?: number | readonly number[]; featureAxes?: number | readonly number[] },
): { reduction: number[]; paramShape: number[] } {
  const reduction = normalizeAxes(
    where,
    'reductionAxes',
    options.reductionAxes ?? -1,
    sample.length,
  );
  const features = normalizeAxes(where, 'featureAxes', options.featureAxes ?? -1, sample.length);
  return { reduction, paramShape: sample.map((d, i) => (features.includes(i) ? d : 1)) };
}

/** Layer normalisation: y = (x − E[x])/sqrt(Var[x] + ε)·scale + bias over `reductionAxes`. */
export class LayerNorm extends Module {
  readonly reductionAxes: readonly number[];
  readonly epsilon: number;
  /** `{ scale, bias }` shaped like inSize with 1 on non-feature axes (ScaleOp), or null. */
  weight: LayerParam<NormParams> | null;

  constructor(inSize: Size, options: LayerNormOptions = {}) {
    super(options.name);
    this.inSize = inSize;
    this.outSize = inSize;
    const where = layerLabel(this);
    checkParamOptions(where, options);
    const { reduction, paramShape } = perSampleAxes(where, this.inSize!, options);
    this.reductionAxes = reduction;
    this.epsilon = checkPositive(where, 'epsilon', options.epsilon ?? 1e-6);
    this.weight = affineParam(where, paramShape, {
      ...options,
      useScale: options.useScale ?? true,
      useBias: options.useBias ?? true,
    });
  }

  dispose(): void {
    disposeParam(this.weight);
  }

  /** x [..., ...inSize] → the same shape. */
  override update(x: tf.Tensor | tf.TensorLike): tf.Tensor {
    const where = layerLabel(this);
    return tf.tidy(() => {
      const t = floatInput(x, where);
      const sample = this.inSize!;
      checkTrailingShape(where, t, sample);
      const lead = t.rank - sample.length;
      const { mean, variance } = tf.moments(
        t,
        this.reductionAxes.map((a) => a + lead),
        true,
      );
      const y = tf.mul(tf.sub(t, mean), tf.rsqrt(tf.add(variance, this.epsilon)));
      return applyAffine(y, this.weight);
    });
  }
}

/** Options of RMSNorm. */
export type RMSNormOptions = Omit<LayerNormOptions, 'useBias' | 'biasInit'>;

/** Root-mean-square normalisation: y = x/sqrt(E[x²] + ε)·scale (no centring, no bias). */
export class RMSNorm extends Module {
  readonly reductionAxes: readonly number[];
  readonly epsilon: number;
  /** `{ scale }` shaped like inSize with 1 on non-feature axes (ScaleOp), or null. */
  weight: LayerParam<NormParams> | null;

  constructor(inSize: Size, options: RMSNormOptions = {}) {
    super(options.name);
    this.inSize = inSize;
    this.outSize = inSize;
    const where = layerLabel(this);
    checkParamOptions(where, options);
    const { reduction, paramShape } = perSampleAxes(where, this.inSize!, options);
    this.reductionAxes = reduction;
    this.epsilon = checkPositive(where, 'epsilon', options.epsilon ?? 1e-6);
    this.weight = affineParam(where, paramShape, {
      ...options,
      useScale: options.useScale ?? true,
      useBias: false,
    });
  }

  dispose(): void {
    disposeParam(this.weight);
  }

  /** x [..., ...inSize] → the same shape. */
  override update(x: tf.Tensor | tf.TensorLike): tf.Tensor {
    const where = layerLabel(this);
    return tf.tidy(() => {
      const t = floatInput(x, where);
      const sample = this.inSize!;
      checkTrailingShape(where, t, sample);
      const lead = t.rank - sample.length;
      const ms = tf.mean(
        tf.square(t),
        this.reductionAxes.map((a) => a + lead),
        true,
      );
      return applyAffine(tf.mul(t, tf.rsqrt(tf.add(ms, this.epsilon))), this.weight);
    });
  }
}

// ---------------------------------------------------------------------------------------------
// GroupNorm

/** Options of GroupNorm: give `numGroups` (default 32) or `groupSize`, not both. */
export interface GroupNormOptions extends ETraceLayerOptions {
  numGroups?: number;
  groupSize?: number;
  /** Added to the variance (default 1e-6). */
  epsilon?: number;
  useBias?: boolean;
  useScale?: boolean;
  scaleInit?: TensorInit;
  biasInit?: TensorInit;
}

/**
 * Group normalisation, channels last: the C channels of inSize [...spatial, C] split into groups,
 * each normalised over its channels and all spatial positions of one sample; then the per-channel
 * `weight` = `{ scale, bias }` [C] (ScaleOp). Input [...inSize] or [B, ...inSize].
 */
export class GroupNorm extends Module {
  readonly numGroups: number;
  readonly epsilon: number;
  weight: LayerParam<NormParams> | null;

  constructor(inSize: Size, options: GroupNormOptions = {}) {
    super(options.name);
    this.inSize = inSize;
    this.outSize = inSize;
    const where = layerLabel(this);
    checkParamOptions(where, options);
    const channels = this.inSize![this.inSize!.length - 1];
    if (options.numGroups != null && options.groupSize != null) {
      throw new ArgumentError(`${where}: give numGroups or groupSize, not both`);
    }
    const groups =
      options.groupSize != null ? channels / options.groupSize : (options.numGroups ?? 32);
    if (!Number.isInteger(groups) || groups <= 0 || channels % groups !== 0) {
      throw new ArgumentError(
        `${where}: the ${channels} channels must split evenly into groups, got ${
          options.groupSize != null
            ? `groupSize ${describeValue(options.groupSize)}`
            : `numGroups ${describeValue(groups)}`
        }`,
      );
    }
    this.numGroups = groups;
    this.epsilon = checkPositive(where, 'epsilon', options.epsilon ?? 1e-6);
    this.weight = affineParam(where, [channels], {
      ...options,
      useScale: options.useScale ?? true,
      useBias: options.useBias ?? true,
    });
  }

  dispose(): void {
    disposeParam(this.weight);
  }

  /** x [...inSize] or [B, ...inSize] → the same shape. */
  override update(x: tf.Tensor | tf.TensorLike): tf.Tensor {
    const where = layerLabel(this);
    return tf.tidy(() => {
      const t = floatInput(x, where);
      const sample = this.inSize!;
      const { batched } = checkSampleShape(where, t, sample);
      const channels = sample[sample.length - 1];
      const g = this.numGroups;
      const grouped = tf.reshape(t, [...t.shape.slice(0, -1), g, channels / g]);
      const first = batched ? 1 : 0;
      const reduce = grouped.shape
        .map((_, i) => i)
        .filter((i) => i >= first && i !== grouped.rank - 2);
      const { mean, variance } = tf.moments(grouped, reduce, true);
      const y = tf.mul(tf.sub(grouped, mean), tf.rsqrt(tf.add(variance, this.epsilon)));
      return applyAffine(tf.reshape(y, t.shape), this.weight);
    });
  }
}
