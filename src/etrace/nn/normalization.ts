/**
 * Etrace normalisation layers (brainscale spec §4): BatchNorm0d/1d/2d, LayerNorm, RMSNorm and
 * GroupNorm with the constructors and options of src/nn/layers/normalization.ts, whose checks and
 * statistics (batchNormalize, layerNormalize, …) they call. The affine parameters are ONE parameter `weight` = `{ scale, bias }` (either
 * may be absent) bound to a diagonal `ScaleOp` (y = x̂ ⊙ scale + bias) with grad 'full', so the
 * online learners trace them; running statistics stay non-hidden BatchStates.
 */
import { tf } from '../../backend/tf';
import { Module, type Size } from '../../graph';
import { Constant, ZeroInit } from '../../init';
import { paramTensor, type TensorInit } from '../../nn/comm/paramTensor';
import { fitFlag, floatInput, layerLabel } from '../../nn/layers/base';
import {
  batchNormalize,
  batchNormSettings,
  checkPositive,
  groupCount,
  groupNormalize,
  layerNormalize,
  perSampleAxes,
  rmsNormalize,
} from '../../nn/layers/normalization';
import { BatchState } from '../../state';
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
    this.numSpatial = numSpatial;
    const settings = batchNormSettings(where, numSpatial, shape, options);
    this.featureAxis = settings.featureAxis;
    this.epsilon = settings.epsilon;
    this.momentum = settings.momentum;
    this.trackRunningStats = settings.trackRunningStats;
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
      const { y } = batchNormalize(this, t, fit, where);
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
      const y = layerNormalize(t, this.inSize!, this.reductionAxes, this.epsilon, where);
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
      const y = rmsNormalize(t, this.inSize!, this.reductionAxes, this.epsilon, where);
      return applyAffine(y, this.weight);
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
    const groups = groupCount(where, channels, options);
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
      const y = groupNormalize(t, this.inSize!, this.numGroups, this.epsilon, where);
      return applyAffine(y, this.weight);
    });
  }
}
