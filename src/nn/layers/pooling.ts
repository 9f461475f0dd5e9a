/**
 * Pooling layers MaxPool1d/2d and AvgPool1d/2d (spec §5.9), channels last: windows slide over
 * the `poolDim` axes just before the channel axis (or the last `poolDim` axes with
 * `channelAxis: null`); any leading axes are batch axes. The stride defaults to the window, the
 * padding to 'VALID'. Average pooling divides by the number of real (not padding) elements in a
 * window in every padding mode. The sample shape is optional: with `inSize`, the layer checks its
 * input and knows its `outSize`; inside a Sequential it takes the previous layer's size.
 */
import { tf } from '../../backend/tf';
import { ArgumentError, describeValue } from '../../errors';
import { Module, type Size } from '../../graph';
import { floatInput, layerLabel, prod } from './base';
import { resolvePadding, tupleOf, windowOutput, type Padding } from './convOps';

/** Options of the pooling layers. */
export interface PoolOptions {
  /** Step per pooled axis (default: the window size). */
  stride?: number | readonly number[];
  /** 'VALID' (default), 'SAME', an amount, or per-axis amounts / [low, high] pairs. */
  padding?: Padding;
  /** −1 (default): the last axis holds channels; null: no channel axis. */
  channelAxis?: -1 | null;
  /** The sample shape (optional): checked on input, gives outSize. */
  inSize?: Size;
  name?: string;
}

type PoolKind = 'max' | 'avg';

/** Base of the pooling layers: a `kind` window reduction over `poolDim` axes. */
export class Pool extends Module {
  readonly kind: PoolKind;
  readonly poolDim: number;
  readonly kernelSize: readonly number[];
  readonly stride: readonly number[];
  readonly padding: Padding;
  readonly channelAxis: -1 | null;

  protected constructor(
    kind: PoolKind,
    poolDim: number,
    kernelSize: number | readonly number[],
    options: PoolOptions = {},
  ) {
    super(options.name);
    const where = layerLabel(this);
    this.kind = kind;
    this.poolDim = poolDim;
    this.kernelSize = tupleOf(where, 'kernelSize', kernelSize, poolDim);
    this.stride = tupleOf(where, 'stride', options.stride ?? this.kernelSize, poolDim);
    this.padding = options.padding ?? 'VALID';
    const channelAxis = options.channelAxis === undefined ? -1 : options.channelAxis;
    if (channelAxis !== -1 && channelAxis !== null) {
      throw new ArgumentError(
        `${where}: channelAxis must be -1 (channels last) or null (no channel axis), got ${describeValue(channelAxis)}`,
      );
    }
    this.channelAxis = channelAxis;
    if (options.inSize != null) this.adoptInSize(options.inSize);
    else this.geometry(this.kernelSize); // checks the padding now rather than at the first call
  }

  /** Number of trailing axes the layer works on (pooled axes and the channel axis, if any). */
  private get sampleRank(): number {
    return this.poolDim + (this.channelAxis === null ? 0 : 1);
  }

  /** The window geometry for these pooled extents (checks the padding). */
  private geometry(spatial: readonly number[]) {
    const dilations = new Array<number>(this.poolDim).fill(1);
    const pads = resolvePadding(
      layerLabel(this),
      this.padding,
      spatial,
      this.kernelSize,
      this.stride,
      dilations,
    );
    pads.forEach(([low, high], i) => {
      if (low >= this.kernelSize[i] || high >= this.kernelSize[i]) {
        throw new ArgumentError(
          `${layerLabel(this)}: padding [${low}, ${high}] along pooled axis ${i} must be smaller than the window (${this.kernelSize[i]}), so that every window holds a real element`,
        );
      }
    });
    return { kernel: [...this.kernelSize], strides: [...this.stride], dilations, pads };
  }

  /** The output sample shape for an input sample shape (its last `poolDim` (+1) axes are pooled). */
  outSizeFor(inSize: Size): number[] {
    const where = layerLabel(this);
    const shape = typeof inSize === 'number' ? [inSize] : [...inSize];
    const r = this.sampleRank;
    if (shape.length < r) {
      throw new ArgumentError(
        `${where}: needs at least ${r} axes (${this.poolDim} pooled${this.channelAxis === null ? '' : ' and channels'}), got [${shape.join(', ')}]`,
      );
    }
    const first = shape.length - r;
    const spatial = shape.slice(first, first + this.poolDim);
    const out = windowOutput(where, spatial, this.geometry(spatial));
    return [...shape.slice(0, first), ...out, ...shape.slice(first + this.poolDim)];
  }

  /** Fix the sample shape (Sequential calls this with the previous layer's size). */
  adoptInSize(inSize: Size): void {
    const out = this.outSizeFor(inSize);
    this.inSize = inSize;
    this.outSize = out;
  }

  /** x [...batch, ...pooled, C] → [...batch, ...pooledOut, C]. */
  override update(x: tf.Tensor | tf.TensorLike): tf.Tensor {
    const where = layerLabel(this);
    return tf.tidy(() => {
      const t = floatInput(x, where);
      const sample = this.inSize;
      if (sample !== null) {
        const n = sample.length;
        if (t.rank < n || !tf.util.arraysEqual(t.shape.slice(t.rank - n), [...sample])) {
          throw new ArgumentError(
            `${where}: expected an input of shape [..., ${sample.join(', ')}], got [${t.shape.join(', ')}]`,
          );
        }
      }
      const outSample = this.outSizeFor(t.shape.slice(Math.max(0, t.rank - this.sampleRank)));
      const r = this.sampleRank;
      const lead = t.shape.slice(0, t.rank - r);
      const spatial = t.shape.slice(t.rank - r, t.rank - r + this.poolDim);
      const channels = this.channelAxis === null ? 1 : t.shape[t.rank - 1];
      // tfjs pools take [N, H, W, C]: fold the leading axes into N, a 1-d window into W.
      const as2d = this.poolDim === 1 ? [1, spatial[0]] : spatial;
      const x4 = tf.reshape(t, [prod(lead), as2d[0], as2d[1], channels]) as tf.Tensor4D;
      const kernel = (this.poolDim === 1 ? [1, this.kernelSize[0]] : this.kernelSize) as [
        number,
        number,
      ];
      const strides = (this.poolDim === 1 ? [1, this.stride[0]] : this.stride) as [number, number];
      const y = this.pool(x4, kernel, strides, spatial);
      return tf.reshape(y, [...lead, ...outSample.slice(outSample.length - r)]);
    });
  }

  private pool(
    x: tf.Tensor4D,
    kernel: [number, number],
    strides: [number, number],
    spatial: readonly number[],
  ): tf.Tensor4D {
    const mode = typeof this.padding === 'string' ? this.padding.toUpperCase() : null;
    if (mode === 'VALID') {
      return this.kind === 'max'
        ? tf.maxPool(x, kernel, strides, 'valid')
        : tf.avgPool(x, kernel, strides, 'valid');
    }
    // tfjs 4.22's AvgPool with 'same' averages over the real elements, but its gradient divides
    // by the whole window: so average pooling pads explicitly in every mode but VALID.
    if (mode === 'SAME' && this.kind === 'max') return tf.maxPool(x, kernel, strides, 'same');
    const pads = this.geometry(spatial).pads;
    const pads2d = this.poolDim === 1 ? [[0, 0], pads[0]] : pads;
    const padding: [number, number][] = [
      [0, 0],
      ...pads2d.map(([a, b]): [number, number] => [a, b]),
      [0, 0],
    ];
    if (this.kind === 'max') {
      return tf.maxPool(tf.pad(x, padding, -Infinity) as tf.Tensor4D, kernel, strides, 'valid');
    }
    // Mean over the real elements: the zero-padded window sum over the window's real count.
    const sums = tf.avgPool(tf.pad(x, padding) as tf.Tensor4D, kernel, strides, 'valid');
    const ones = tf.ones([1, x.shape[1], x.shape[2], 1]);
    const counts = tf.avgPool(tf.pad(ones, padding) as tf.Tensor4D, kernel, strides, 'valid');
    return tf.div(sums, counts);
  }
}

/** Max pooling over one axis: x [..., L, C] → [..., L', C]. */
export class MaxPool1d extends Pool {
  constructor(kernelSize: number | readonly number[], options: PoolOptions = {}) {
    super('max', 1, kernelSize, options);
  }
}

/** Max pooling over two axes: x [..., H, W, C] → [..., H', W', C]. */
export class MaxPool2d extends Pool {
  constructor(kernelSize: number | readonly number[], options: PoolOptions = {}) {
    super('max', 2, kernelSize, options);
  }
}

/** Average pooling over one axis: x [..., L, C] → [..., L', C]. */
export class AvgPool1d extends Pool {
  constructor(kernelSize: number | readonly number[], options: PoolOptions = {}) {
    super('avg', 1, kernelSize, options);
  }
}

/** Average pooling over two axes: x [..., H, W, C] → [..., H', W', C]. */
export class AvgPool2d extends Pool {
  constructor(kernelSize: number | readonly number[], options: PoolOptions = {}) {
    super('avg', 2, kernelSize, options);
  }
}
