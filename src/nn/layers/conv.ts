/**
 * Convolution layers Conv1d / Conv2d / Conv3d (spec §5.9), channels-last: `inSize` is the
 * sample shape `[...spatial, C]`, the kernel is `[...kernelSize, C/groups, outChannels]`, and
 * `outSize = [...outSpatial, outChannels]` is computed at construction. The input is one sample
 * `[...inSize]` or a batch `[B, ...inSize]` (anything else is an ArgumentError). One ParamState
 * `weight` holds `{ weight, bias? }` as for Linear. Gradients run on every backend (convOps.ts).
 */
import { tf } from '../../backend/tf';
import { ArgumentError, describeValue } from '../../errors';
import { Module, type Size } from '../../graph';
import { XavierNormal, type NumberArray } from '../../init';
import { ParamState } from '../../state';
import { paramTensor, type TensorInit } from '../comm/paramTensor';
import { checkSampleShape, floatInput, layerLabel } from './base';
import {
  convValid,
  resolvePadding,
  spreadWithZeros,
  tupleOf,
  windowOutput,
  type Padding,
  type WindowGeometry,
} from './convOps';

/** Options of the convolution layers. */
export interface ConvOptions {
  /** Step per spatial axis (default 1). */
  stride?: number | readonly number[];
  /** 'SAME' (default: output = ceil(input/stride)), 'VALID', an amount, or per-axis amounts / [low, high] pairs. */
  padding?: Padding;
  /** Kernel dilation per spatial axis (default 1; upstream's rhsDilation). */
  dilation?: number | readonly number[];
  /** Channel groups (default 1): inChannels and outChannels must both be multiples. */
  groups?: number;
  /** Kernel initializer for shape [...kernelSize, C/groups, outChannels] (default XavierNormal()). */
  wInit?: TensorInit;
  /** Bias initializer for shape [outChannels]; null (default): no bias. */
  bInit?: TensorInit | null;
  /** A fixed mask broadcastable to the kernel shape, multiplying the kernel. */
  wMask?: tf.Tensor | NumberArray | null;
  name?: string;
}

/** The parameters of a convolution: the kernel and, if any, the bias. */
export interface ConvParams {
  [key: string]: tf.Tensor;
  weight: tf.Tensor;
}

/** Base of Conv1d/2d/3d: a convolution over `numSpatial` axes. */
export class Conv extends Module {
  /** Number of spatial axes. */
  readonly numSpatial: number;
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernelSize: readonly number[];
  readonly stride: readonly number[];
  readonly dilation: readonly number[];
  /** Resolved `[low, high]` padding per spatial axis. */
  readonly padding: readonly (readonly [number, number])[];
  readonly groups: number;
  weight: ParamState<ConvParams>;
  /** The kernel mask (float32, kept; not trained), or null. */
  readonly wMask: tf.Tensor | null;

  protected constructor(
    numSpatial: number,
    inSize: Size,
    outChannels: number,
    kernelSize: number | readonly number[],
    options: ConvOptions = {},
  ) {
    super(options.name);
    this.inSize = inSize;
    const where = layerLabel(this);
    const shape = this.inSize!;
    if (shape.length !== numSpatial + 1) {
      throw new ArgumentError(
        `${where}: inSize must be [...spatial, channels] with ${numSpatial} spatial extents (channels last), got [${shape.join(', ')}]`,
      );
    }
    if (!Number.isInteger(outChannels) || outChannels <= 0) {
      throw new ArgumentError(
        `${where}: outChannels must be a positive integer, got ${describeValue(outChannels)}`,
      );
    }
    const groups = options.groups ?? 1;
    const inChannels = shape[numSpatial];
    if (
      !Number.isInteger(groups) ||
      groups <= 0 ||
      inChannels % groups !== 0 ||
      outChannels % groups !== 0
    ) {
      throw new ArgumentError(
        `${where}: groups must be a positive integer dividing both the input channels (${inChannels}) and outChannels (${outChannels}), got ${describeValue(groups)}`,
      );
    }
    this.numSpatial = numSpatial;
    this.inChannels = inChannels;
    this.outChannels = outChannels;
    this.groups = groups;
    this.kernelSize = tupleOf(where, 'kernelSize', kernelSize, numSpatial);
    this.stride = tupleOf(where, 'stride', options.stride ?? 1, numSpatial);
    this.dilation = tupleOf(where, 'dilation', options.dilation ?? 1, numSpatial);
    const spatial = shape.slice(0, numSpatial);
    const pads = resolvePadding(
      where,
      options.padding ?? 'SAME',
      spatial,
      this.kernelSize,
      this.stride,
      this.dilation,
    );
    this.padding = pads;
    const out = windowOutput(where, spatial, this.geometry());
    this.outSize = [...out, outChannels];

    const kernelShape = [...this.kernelSize, inChannels / groups, outChannels];
    const params: ConvParams = {
      weight: paramTensor(options.wInit ?? XavierNormal(), kernelShape, `${where}: wInit`),
    };
    if (options.bInit != null) {
      params.bias = paramTensor(options.bInit, [outChannels], `${where}: bInit`);
    }
    this.weight = new ParamState(params);
    const mask = options.wMask ?? null;
    this.wMask = mask === null ? null : tf.keep(paramTensor(mask, kernelShape, `${where}: wMask`));
  }

  private geometry(): WindowGeometry {
    return {
      kernel: [...this.kernelSize],
      strides: [...this.stride],
      dilations: [...this.dilation],
      pads: this.padding.map(([a, b]) => [a, b]),
    };
  }

  /** Free the layer's tensors (weight state and mask). */
  dispose(): void {
    this.weight.dispose();
    this.wMask?.dispose();
  }

  /** The kernel the convolution applies: masked, block-diagonal over groups, dilated if needed. */
  private effectiveKernel(w: tf.Tensor): { kernel: tf.Tensor; dilations: number[] } {
    const n = this.numSpatial;
    let k = this.wMask === null ? w : tf.mul(w, this.wMask);
    if (this.groups > 1) {
      // [...k, Cin/g, Cout] → [...k, Cin, Cout], zero outside the diagonal blocks: one dense
      // convolution (g× the multiply-adds) instead of g sliced ones, since tfjs has no grouped
      // kernel and the depthwise kernels have no backprops on wasm.
      const g = this.groups;
      const gIn = this.inChannels / g;
      const gOut = this.outChannels / g;
      const blocks = tf.reshape(k, [...this.kernelSize, 1, gIn, g, gOut]);
      const eye = tf.reshape(tf.eye(g), [g, 1, g, 1]);
      k = tf.reshape(tf.mul(blocks, eye), [...this.kernelSize, this.inChannels, this.outChannels]);
    }
    const strided = this.stride.some((s) => s > 1);
    const dilated = this.dilation.some((d) => d > 1);
    if (strided && dilated) {
      // tfjs convolutions take strides or dilations, not both: spread the kernel taps instead.
      const flat = tf.reshape(k, [1, ...this.kernelSize, this.inChannels * this.outChannels]);
      const spread = spreadWithZeros(flat, this.dilation);
      k = tf.reshape(spread, [...spread.shape.slice(1, n + 1), this.inChannels, this.outChannels]);
      return { kernel: k, dilations: new Array<number>(n).fill(1) };
    }
    return { kernel: k, dilations: [...this.dilation] };
  }

  /** x [...inSize] or [B, ...inSize] → [...outSize] or [B, ...outSize]. */
  override update(x: tf.Tensor | tf.TensorLike): tf.Tensor {
    const where = layerLabel(this);
    const { weight, bias } = this.weight.value;
    return tf.tidy(() => {
      const t = floatInput(x, where);
      const { batched } = checkSampleShape(where, t, this.inSize!);
      let xb = batched ? t : tf.expandDims(t, 0);
      if (this.padding.some(([a, b]) => a > 0 || b > 0)) {
        xb = tf.pad(xb, [
          [0, 0],
          ...this.padding.map(([a, b]): [number, number] => [a, b]),
          [0, 0],
        ]);
      }
      const { kernel, dilations } = this.effectiveKernel(weight);
      let y = convValid(xb, kernel, this.stride, dilations);
      if (bias !== undefined) y = tf.add(y, bias);
      return batched ? y : tf.squeeze(y, [0]);
    });
  }
}

/** 1-D convolution: inSize [length, channels], kernel [k, C/groups, outChannels]. */
export class Conv1d extends Conv {
  constructor(
    inSize: Size,
    outChannels: number,
    kernelSize: number | readonly number[],
    options: ConvOptions = {},
  ) {
    super(1, inSize, outChannels, kernelSize, options);
  }
}

/** 2-D convolution: inSize [height, width, channels], kernel [kh, kw, C/groups, outChannels]. */
export class Conv2d extends Conv {
  constructor(
    inSize: Size,
    outChannels: number,
    kernelSize: number | readonly number[],
    options: ConvOptions = {},
  ) {
    super(2, inSize, outChannels, kernelSize, options);
  }
}

/** 3-D convolution: inSize [depth, height, width, channels], kernel [kd, kh, kw, C/groups, outChannels]. */
export class Conv3d extends Conv {
  constructor(
    inSize: Size,
    outChannels: number,
    kernelSize: number | readonly number[],
    options: ConvOptions = {},
  ) {
    super(3, inSize, outChannels, kernelSize, options);
  }
}
