/**
 * Etrace convolutions `Conv1d` / `Conv2d` (brainscale spec §4), channels-last as the plain layers
 * of src/nn/layers/conv.ts: `inSize` is the sample shape `[...spatial, C]`, the kernel is
 * `[...kernelSize, C, outChannels]`, `outSize = [...outSpatial, outChannels]` is computed at
 * construction, and the input is `[...inSize]` or `[B, ...inSize]`. The parameter `weight` =
 * `{ weight, bias? }` is bound to a `ConvOp` with the resolved `[low, high]` padding, so 'SAME'
 * means what it means for the plain layers (output = ceil(input/stride)). No channel groups.
 */
import { tf } from '../../backend/tf';
import { ArgumentError, describeValue } from '../../errors';
import { Module, type Size } from '../../graph';
import { XavierNormal, type NumberArray } from '../../init';
import { paramTensor, type TensorInit } from '../../nn/comm/paramTensor';
import { checkSampleShape, floatInput, layerLabel } from '../../nn/layers/base';
import { resolvePadding, tupleOf, windowOutput, type Padding } from '../../nn/layers/convOps';
import { ConvOp } from '../ops';
import {
  checkParamOptions,
  disposeParam,
  layerParam,
  type ETraceLayerOptions,
  type LayerParam,
} from './param';

/** Options of the convolution layers. */
export interface ConvOptions extends ETraceLayerOptions {
  /** Step per spatial axis (default 1). */
  stride?: number | readonly number[];
  /** 'SAME' (default: output = ceil(input/stride)), 'VALID', an amount, or per-axis amounts / [low, high] pairs. */
  padding?: Padding;
  /** Kernel dilation per spatial axis (default 1). */
  dilation?: number | readonly number[];
  /** Kernel initializer for shape [...kernelSize, C, outChannels] (default XavierNormal()). */
  wInit?: TensorInit;
  /** Bias initializer for shape [outChannels]; null (default): no bias. */
  bInit?: TensorInit | null;
  /** A fixed mask broadcastable to the kernel shape, multiplying the kernel. */
  wMask?: tf.Tensor | NumberArray | null;
}

/** The parameters of a convolution: the kernel and, if any, the bias [outChannels]. */
export interface ConvParams {
  [key: string]: tf.Tensor;
  weight: tf.Tensor;
}

/** Base of Conv1d/Conv2d: a convolution over `numSpatial` axes as one ConvOp call. */
export class Conv extends Module {
  readonly numSpatial: 1 | 2;
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernelSize: readonly number[];
  readonly stride: readonly number[];
  readonly dilation: readonly number[];
  /** Resolved `[low, high]` padding per spatial axis. */
  readonly padding: readonly (readonly [number, number])[];
  weight: LayerParam<ConvParams>;
  /** The kernel mask (float32, kept; not trained), or null. */
  readonly wMask: tf.Tensor | null;

  protected constructor(
    numSpatial: 1 | 2,
    inSize: Size,
    outChannels: number,
    kernelSize: number | readonly number[],
    options: ConvOptions = {},
  ) {
    super(options.name);
    this.inSize = inSize;
    const where = layerLabel(this);
    checkParamOptions(where, options);
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
    const groups = (options as { groups?: unknown }).groups;
    if (groups !== undefined && groups !== 1) {
      throw new ArgumentError(
        `${where}: channel groups are not supported by the etrace convolution, got groups ${describeValue(groups)}`,
      );
    }
    this.numSpatial = numSpatial;
    this.inChannels = shape[numSpatial];
    this.outChannels = outChannels;
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
    const out = windowOutput(where, spatial, {
      kernel: [...this.kernelSize],
      strides: [...this.stride],
      dilations: [...this.dilation],
      pads,
    });
    this.outSize = [...out, outChannels];

    const kernelShape = [...this.kernelSize, this.inChannels, outChannels];
    const mask = options.wMask ?? null;
    this.wMask = mask === null ? null : tf.keep(paramTensor(mask, kernelShape, `${where}: wMask`));
    const params: ConvParams = {
      weight: paramTensor(options.wInit ?? XavierNormal(), kernelShape, `${where}: wInit`),
    };
    if (options.bInit != null) {
      params.bias = paramTensor(options.bInit, [outChannels], `${where}: bInit`);
    }
    const op = new ConvOp({
      spatialDims: numSpatial,
      strides: [...this.stride],
      padding: pads.map(([a, b]): [number, number] => [a, b]),
      dilations: [...this.dilation],
      ...(this.wMask === null ? {} : { weightMask: this.wMask }),
    });
    this.weight = layerParam(where, params, op, options);
  }

  /** Free the layer's tensors (parameter and mask). */
  dispose(): void {
    disposeParam(this.weight);
    this.wMask?.dispose();
  }

  /** x [...inSize] or [B, ...inSize] → [...outSize] or [B, ...outSize]. */
  override update(x: tf.Tensor | tf.TensorLike): tf.Tensor {
    const where = layerLabel(this);
    return tf.tidy(() => {
      const t = floatInput(x, where);
      checkSampleShape(where, t, this.inSize!);
      return this.weight.execute(t);
    });
  }
}

/** 1-D convolution: inSize [length, channels], kernel [k, C, outChannels]. */
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

/** 2-D convolution: inSize [height, width, channels], kernel [kh, kw, C, outChannels]. */
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
