/**
 * Linear (spec §5.9): the dense layer y = x @ (W ⊙ mask) + b over the last axis. One ParamState
 * `weight` holds `{ weight: [in, out], bias: [out] }` (no bias key with `bInit: null`), so its
 * path is `(…, 'weight')` and its gradient is a dict. `inSize` and `outSize` may be shapes; all
 * but their last dimensions must agree, and the input has shape [..., inSize[-1]].
 */
import { tf } from '../../backend/tf';
import { ArgumentError } from '../../errors';
import { Module, type Size } from '../../graph';
import { KaimingNormal, ZeroInit, type NumberArray } from '../../init';
import { ParamState } from '../../state';
import { paramTensor, type TensorInit } from './paramTensor';

/** Options of Linear. */
export interface LinearOptions {
  /** Weight initializer for shape [in, out] (default KaimingNormal()). */
  wInit?: TensorInit;
  /** Bias initializer for shape [out] (default ZeroInit()); null: no bias. */
  bInit?: TensorInit | null;
  /** A fixed mask broadcastable to [in, out] multiplying the weight (e.g. 0/1 connectivity). */
  wMask?: tf.Tensor | NumberArray | null;
  name?: string;
}

/** The parameters of a Linear. */
export interface LinearParams {
  [key: string]: tf.Tensor;
  weight: tf.Tensor;
}

/** Dense linear layer. */
export class Linear extends Module {
  weight: ParamState<LinearParams>;
  /** The weight mask (float32, kept; not trained), or null. */
  readonly wMask: tf.Tensor | null;

  constructor(inSize: Size, outSize: Size, options: LinearOptions = {}) {
    super(options.name);
    this.inSize = inSize;
    this.outSize = outSize;
    const inShape = this.inSize!;
    const outShape = this.outSize!;
    const nIn = inShape[inShape.length - 1];
    const nOut = outShape[outShape.length - 1];
    if (!tf.util.arraysEqual(inShape.slice(0, -1), outShape.slice(0, -1))) {
      throw new ArgumentError(
        `Linear: inSize [${inShape.join(', ')}] and outSize [${outShape.join(', ')}] must agree on all but the last dimension`,
      );
    }
    const params: LinearParams = {
      weight: paramTensor(options.wInit ?? KaimingNormal(), [nIn, nOut], 'Linear: wInit'),
    };
    const bInit = options.bInit === undefined ? ZeroInit() : options.bInit;
    if (bInit !== null) params.bias = paramTensor(bInit, [nOut], 'Linear: bInit');
    this.weight = new ParamState(params);
    const mask = options.wMask ?? null;
    this.wMask = mask === null ? null : tf.keep(paramTensor(mask, [nIn, nOut], 'Linear: wMask'));
  }

  /** Free the layer's tensors (weight state and mask). The layer cannot be called afterwards. */
  dispose(): void {
    this.weight.dispose();
    this.wMask?.dispose();
  }

  /** x [..., in] → y [..., out]. */
  override update(x: tf.Tensor | tf.TensorLike): tf.Tensor {
    const { weight, bias } = this.weight.value;
    const [nIn, nOut] = weight.shape;
    return tf.tidy(() => {
      let t = x instanceof tf.Tensor ? x : tf.tensor(x as tf.TensorLike);
      if (t.rank === 0 || t.shape[t.rank - 1] !== nIn) {
        throw new ArgumentError(
          `Linear: the input must have shape [..., ${nIn}], got [${t.shape.join(', ')}]`,
        );
      }
      if (t.dtype !== 'float32') t = tf.cast(t, 'float32');
      const w = this.wMask === null ? weight : tf.mul(weight, this.wMask);
      const lead = t.shape.slice(0, -1);
      let y =
        t.rank === 2
          ? tf.matMul(t, w)
          : tf.reshape(tf.matMul(tf.reshape(t, [-1, nIn]), w), [...lead, nOut]);
      if (bias !== undefined) y = tf.add(y, bias);
      return y;
    });
  }
}
