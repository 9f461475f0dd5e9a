/**
 * Normalisation layers (spec §5.9): BatchNorm0d/1d/2d/3d with running statistics, LayerNorm,
 * RMSNorm and GroupNorm. Axes are given relative to the sample shape `inSize` (negative counts
 * from its end); the input is `[...leading, ...inSize]`. Learned parameters live in one ParamState
 * `weight` = `{ scale, bias }` (either may be absent), so their path is `(…, 'weight')`.
 * Variances are two-pass, E[(x − E[x])²], which equals upstream's clamped E[x²] − E[x]² in exact
 * arithmetic and does not cancel catastrophically in float32.
 */
import { tf } from '../../backend/tf';
import { ArgumentError, describeValue } from '../../errors';
import { Module, type Size } from '../../graph';
import { Constant, ZeroInit } from '../../init';
import { BatchState, ParamState } from '../../state';
import { stopGradient } from '../../surrogate';
import { paramTensor, type TensorInit } from '../comm/paramTensor';
import {
  checkSampleShape,
  fitFlag,
  floatInput,
  layerLabel,
  normalizeAxes,
  normalizeAxis,
} from './base';

/** The learned parameters of a normalisation layer (`scale` multiplies, `bias` adds). */
export interface NormParams {
  [key: string]: tf.Tensor;
}

/** Which affine parameters to create and how to initialise them. */
interface AffineSpec {
  useScale: boolean;
  useBias: boolean;
  scaleInit?: TensorInit;
  biasInit?: TensorInit;
}

/** `{ scale, bias }` of `shape` as one ParamState, or null when neither is used. */
function affineParams(
  where: string,
  shape: number[],
  spec: AffineSpec,
): ParamState<NormParams> | null {
  const params: NormParams = {};
  if (spec.useScale) {
    params.scale = paramTensor(spec.scaleInit ?? Constant(1), shape, `${where}: scaleInit`);
  }
  if (spec.useBias) {
    params.bias = paramTensor(spec.biasInit ?? ZeroInit(), shape, `${where}: biasInit`);
  }
  return Object.keys(params).length > 0 ? new ParamState(params) : null;
}

/** `y·scale + bias` with whichever parameters exist. */
function affine(y: tf.Tensor, params: ParamState<NormParams> | null, shape?: number[]): tf.Tensor {
  if (params === null) return y;
  const { scale, bias } = params.value;
  const fit = (p: tf.Tensor): tf.Tensor => (shape ? tf.reshape(p, shape) : p);
  let out = y;
  if (scale !== undefined) out = tf.mul(out, fit(scale));
  if (bias !== undefined) out = tf.add(out, fit(bias));
  return out;
}

/** A positive finite number, else an ArgumentError naming `what`. */
export function checkPositive(where: string, what: string, v: unknown): number {
  if (typeof v !== 'number' || !(v > 0) || !Number.isFinite(v)) {
    throw new ArgumentError(`${where}: ${what} must be a positive number, got ${describeValue(v)}`);
  }
  return v;
}

/** The input with `sample` as its trailing shape (any leading axes), else an ArgumentError. */
function checkTrailingShape(where: string, x: tf.Tensor, sample: readonly number[]): void {
  const n = sample.length;
  if (x.rank < n || !tf.util.arraysEqual(x.shape.slice(x.rank - n), [...sample])) {
    throw new ArgumentError(
      `${where}: expected an input of shape [..., ${sample.join(', ')}], got [${x.shape.join(', ')}]`,
    );
  }
}

/** BatchNorm's checked settings from its options (shared with the etrace BatchNorm). */
export function batchNormSettings(
  where: string,
  numSpatial: number,
  shape: readonly number[],
  options: {
    featureAxis?: number;
    epsilon?: number;
    momentum?: number;
    trackRunningStats?: boolean;
  },
): { featureAxis: number; epsilon: number; momentum: number; trackRunningStats: boolean } {
  if (shape.length !== numSpatial + 1) {
    throw new ArgumentError(
      `${where}: inSize must have ${numSpatial + 1} entries (${numSpatial} spatial and one feature axis), got [${shape.join(', ')}]`,
    );
  }
  const featureAxis = normalizeAxis(where, 'featureAxis', options.featureAxis ?? -1, shape.length);
  const epsilon = checkPositive(where, 'epsilon', options.epsilon ?? 1e-5);
  const momentum = options.momentum ?? 0.99;
  if (typeof momentum !== 'number' || !(momentum >= 0 && momentum <= 1)) {
    throw new ArgumentError(`${where}: momentum must be in [0, 1], got ${describeValue(momentum)}`);
  }
  return { featureAxis, epsilon, momentum, trackRunningStats: options.trackRunningStats ?? true };
}

/** The state of a BatchNorm layer that its normalisation reads and updates. */
export interface BatchNormLike {
  readonly inSize: readonly number[] | null;
  readonly featureAxis: number;
  readonly epsilon: number;
  readonly momentum: number;
  runningMean: BatchState | null;
  runningVar: BatchState | null;
}

/**
 * (x − μ)/sqrt(σ² + ε) per feature, with batch statistics (updating the running ones) when
 * fitting or without running statistics, else the running ones; and the broadcast shape of one
 * feature vector. Call inside tf.tidy.
 */
export function batchNormalize(
  layer: BatchNormLike,
  t: tf.Tensor,
  fit: boolean,
  where: string,
): { y: tf.Tensor; bshape: number[] } {
  const { batched } = checkSampleShape(where, t, layer.inSize!);
  const axis = layer.featureAxis + (batched ? 1 : 0);
  const reduce = t.shape.map((_, i) => i).filter((i) => i !== axis);
  const bshape = t.shape.map((d, i) => (i === axis ? d : 1));
  let mean: tf.Tensor;
  let variance: tf.Tensor;
  if (layer.runningMean !== null && layer.runningVar !== null && !fit) {
    mean = tf.reshape(layer.runningMean.value, bshape);
    variance = tf.reshape(layer.runningVar.value, bshape);
  } else {
    const m = tf.moments(t, reduce, true);
    mean = m.mean;
    variance = m.variance;
    if (layer.runningMean !== null && layer.runningVar !== null) {
      const keep = layer.momentum;
      const batchMean = stopGradient(tf.reshape(mean, [-1]));
      const batchVar = stopGradient(tf.reshape(variance, [-1]));
      layer.runningMean.value = tf.add(
        tf.mul(layer.runningMean.value, keep),
        tf.mul(batchMean, 1 - keep),
      );
      layer.runningVar.value = tf.add(
        tf.mul(layer.runningVar.value, keep),
        tf.mul(batchVar, 1 - keep),
      );
    }
  }
  return { y: tf.mul(tf.sub(t, mean), tf.rsqrt(tf.add(variance, layer.epsilon))), bshape };
}

/** (x − E[x])/sqrt(Var[x] + ε) over the sample axes `reductionAxes` (LayerNorm). In tf.tidy. */
export function layerNormalize(
  t: tf.Tensor,
  sample: readonly number[],
  reductionAxes: readonly number[],
  epsilon: number,
  where: string,
): tf.Tensor {
  checkTrailingShape(where, t, sample);
  const lead = t.rank - sample.length;
  const { mean, variance } = tf.moments(
    t,
    reductionAxes.map((a) => a + lead),
    true,
  );
  return tf.mul(tf.sub(t, mean), tf.rsqrt(tf.add(variance, epsilon)));
}

/** x/sqrt(E[x²] + ε) over the sample axes `reductionAxes` (RMSNorm). In tf.tidy. */
export function rmsNormalize(
  t: tf.Tensor,
  sample: readonly number[],
  reductionAxes: readonly number[],
  epsilon: number,
  where: string,
): tf.Tensor {
  checkTrailingShape(where, t, sample);
  const lead = t.rank - sample.length;
  const ms = tf.mean(
    tf.square(t),
    reductionAxes.map((a) => a + lead),
    true,
  );
  return tf.mul(t, tf.rsqrt(tf.add(ms, epsilon)));
}

/** GroupNorm's number of groups from numGroups / groupSize, checked. */
export function groupCount(
  where: string,
  channels: number,
  options: { numGroups?: number; groupSize?: number },
): number {
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
  return groups;
}

/**
 * Each of the `groups` channel groups normalised over its channels and all spatial positions of
 * one sample (GroupNorm, channels last); the result has t's shape. In tf.tidy.
 */
export function groupNormalize(
  t: tf.Tensor,
  sample: readonly number[],
  groups: number,
  epsilon: number,
  where: string,
): tf.Tensor {
  const { batched } = checkSampleShape(where, t, sample);
  const channels = sample[sample.length - 1];
  // [lead?, ...spatial, C] → [lead?, ...spatial, G, C/G]; reduce over spatial and C/G.
  const grouped = tf.reshape(t, [...t.shape.slice(0, -1), groups, channels / groups]);
  const first = batched ? 1 : 0;
  const reduce = grouped.shape.map((_, i) => i).filter((i) => i >= first && i !== grouped.rank - 2);
  const { mean, variance } = tf.moments(grouped, reduce, true);
  const y = tf.mul(tf.sub(grouped, mean), tf.rsqrt(tf.add(variance, epsilon)));
  return tf.reshape(y, t.shape);
}

// ---------------------------------------------------------------------------------------------
// BatchNorm

/** Options of BatchNorm0d/1d/2d/3d. */
export interface BatchNormOptions {
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
  /** Scale initializer (default 1). */
  scaleInit?: TensorInit;
  /** Bias initializer (default 0). */
  biasInit?: TensorInit;
  name?: string;
}

/**
 * Batch normalisation over `numSpatial` spatial axes: y = (x − μ)/sqrt(σ² + ε)·scale + bias per
 * feature. The mode comes from the environment's `fit` flag, which must be set: with fit = true,
 * μ and σ² are the statistics over every non-feature axis (batch included) and the running
 * statistics are updated; with fit = false the running statistics are used. Without
 * `trackRunningStats`, batch statistics are used in both modes.
 */
export class BatchNorm extends Module {
  readonly numSpatial: number;
  /** The feature axis as an index into inSize. */
  readonly featureAxis: number;
  readonly epsilon: number;
  readonly momentum: number;
  readonly trackRunningStats: boolean;
  /** Running mean per feature (init 0), or null without trackRunningStats. */
  runningMean: BatchState | null;
  /** Running (biased) variance per feature (init 1), or null without trackRunningStats. */
  runningVar: BatchState | null;
  /** `{ scale, bias }` per feature, or null when not affine. */
  weight: ParamState<NormParams> | null;

  protected constructor(numSpatial: number, inSize: Size, options: BatchNormOptions = {}) {
    super(options.name);
    this.inSize = inSize;
    this.outSize = inSize;
    const where = layerLabel(this);
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
    const useAffine = options.affine ?? true;
    this.weight = affineParams(where, [features], {
      useScale: useAffine,
      useBias: useAffine,
      scaleInit: options.scaleInit,
      biasInit: options.biasInit,
    });
  }

  /** x [...inSize] or [B, ...inSize] → the same shape. */
  override update(x: tf.Tensor | tf.TensorLike): tf.Tensor {
    const where = layerLabel(this);
    const fit = fitFlag(where);
    return tf.tidy(() => {
      const t = floatInput(x, where);
      const { y, bshape } = batchNormalize(this, t, fit, where);
      return affine(y, this.weight, bshape);
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
export interface LayerNormOptions {
  /** Axes of inSize to normalise over (default −1). */
  reductionAxes?: number | readonly number[];
  /** Axes of inSize that get their own scale and bias (default −1). */
  featureAxes?: number | readonly number[];
  /** Added to the variance (default 1e-6). */
  epsilon?: number;
  /** Learn a bias (default true). */
  useBias?: boolean;
  /** Learn a scale (default true). */
  useScale?: boolean;
  scaleInit?: TensorInit;
  biasInit?: TensorInit;
  name?: string;
}

/** Normalisation axes and parameter shape of LayerNorm/RMSNorm, from inSize and the options. */
export function perSampleAxes(
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

/** Layer normalisation: y = (x − E[x])/sqrt(Var[x] + ε)·scale + bias, statistics per sample over `reductionAxes`. */
export class LayerNorm extends Module {
  /** Normalised axes, as indices into inSize. */
  readonly reductionAxes: readonly number[];
  readonly epsilon: number;
  /** `{ scale, bias }` shaped like inSize with 1 on non-feature axes, or null. */
  weight: ParamState<NormParams> | null;

  constructor(inSize: Size, options: LayerNormOptions = {}) {
    super(options.name);
    this.inSize = inSize;
    this.outSize = inSize;
    const where = layerLabel(this);
    const { reduction, paramShape } = perSampleAxes(where, this.inSize!, options);
    this.reductionAxes = reduction;
    this.epsilon = checkPositive(where, 'epsilon', options.epsilon ?? 1e-6);
    this.weight = affineParams(where, paramShape, {
      useScale: options.useScale ?? true,
      useBias: options.useBias ?? true,
      scaleInit: options.scaleInit,
      biasInit: options.biasInit,
    });
  }

  /** x [..., ...inSize] → the same shape. */
  override update(x: tf.Tensor | tf.TensorLike): tf.Tensor {
    const where = layerLabel(this);
    return tf.tidy(() => {
      const t = floatInput(x, where);
      const y = layerNormalize(t, this.inSize!, this.reductionAxes, this.epsilon, where);
      return affine(y, this.weight);
    });
  }
}

/** Options of RMSNorm. */
export type RMSNormOptions = Omit<LayerNormOptions, 'useBias' | 'biasInit'>;

/** Root-mean-square normalisation: y = x/sqrt(E[x²] + ε)·scale (no centring, no bias). */
export class RMSNorm extends Module {
  readonly reductionAxes: readonly number[];
  readonly epsilon: number;
  /** `{ scale }` shaped like inSize with 1 on non-feature axes, or null. */
  weight: ParamState<NormParams> | null;

  constructor(inSize: Size, options: RMSNormOptions = {}) {
    super(options.name);
    this.inSize = inSize;
    this.outSize = inSize;
    const where = layerLabel(this);
    const { reduction, paramShape } = perSampleAxes(where, this.inSize!, options);
    this.reductionAxes = reduction;
    this.epsilon = checkPositive(where, 'epsilon', options.epsilon ?? 1e-6);
    this.weight = affineParams(where, paramShape, {
      useScale: options.useScale ?? true,
      useBias: false,
      scaleInit: options.scaleInit,
    });
  }

  /** x [..., ...inSize] → the same shape. */
  override update(x: tf.Tensor | tf.TensorLike): tf.Tensor {
    const where = layerLabel(this);
    return tf.tidy(() => {
      const t = floatInput(x, where);
      const y = rmsNormalize(t, this.inSize!, this.reductionAxes, this.epsilon, where);
      return affine(y, this.weight);
    });
  }
}

// ---------------------------------------------------------------------------------------------
// GroupNorm

/** Options of GroupNorm: give `numGroups` (default 32) or `groupSize`, not both. */
export interface GroupNormOptions {
  /** Number of channel groups (default 32 unless groupSize is given). */
  numGroups?: number;
  /** Channels per group (instead of numGroups). */
  groupSize?: number;
  /** Added to the variance (default 1e-6). */
  epsilon?: number;
  useBias?: boolean;
  useScale?: boolean;
  scaleInit?: TensorInit;
  biasInit?: TensorInit;
  name?: string;
}

/**
 * Group normalisation (Wu & He 2018), channels last: the C channels of inSize [...spatial, C]
 * are split into groups, each normalised over its channels and all spatial positions of one
 * sample; then a per-channel scale and bias. Input [...inSize] or [B, ...inSize].
 */
export class GroupNorm extends Module {
  readonly numGroups: number;
  readonly epsilon: number;
  /** `{ scale, bias }` per channel, or null. */
  weight: ParamState<NormParams> | null;

  constructor(inSize: Size, options: GroupNormOptions = {}) {
    super(options.name);
    this.inSize = inSize;
    this.outSize = inSize;
    const where = layerLabel(this);
    const channels = this.inSize![this.inSize!.length - 1];
    const groups = groupCount(where, channels, options);
    this.numGroups = groups;
    this.epsilon = checkPositive(where, 'epsilon', options.epsilon ?? 1e-6);
    this.weight = affineParams(where, [channels], {
      useScale: options.useScale ?? true,
      useBias: options.useBias ?? true,
      scaleInit: options.scaleInit,
      biasInit: options.biasInit,
    });
  }

  /** x [...inSize] or [B, ...inSize] → the same shape. */
  override update(x: tf.Tensor | tf.TensorLike): tf.Tensor {
    const where = layerLabel(this);
    return tf.tidy(() => {
      const t = floatInput(x, where);
      const y = groupNormalize(t, this.inSize!, this.numGroups, this.epsilon, where);
      return affine(y, this.weight);
    });
  }
}
