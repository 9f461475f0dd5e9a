/**
 * Dense layers that reparametrise Linear's weight (spec §5.9): `SignedWLinear`, y = x @ (|W| ⊙
 * sign), whose effective weights keep the sign they are given however W is trained (Dale's law);
 * and `ScaledWSLinear`, y = x @ Ŵ + b with weight standardisation
 * Ŵ = (W − mean)/sqrt(max(var·fanIn, eps)) · gain (mean and var over the input axis, per output).
 * Both are Linear subclasses: the same `weight` ParamState dict, options, mask and checks; only
 * the weight the product uses differs.
 */
import { tf } from '../../backend/tf';
import { ArgumentError } from '../../errors';
import type { Size } from '../../graph';
import { KaimingNormal, type NumberArray } from '../../init';
import { Linear, type LinearOptions } from '../comm';
import { paramTensor } from '../comm/paramTensor';
import { floatInput, layerLabel } from './base';

/**
 * x [..., in] @ w [in, out] (+ bias) → [..., out]: Linear's product, for layers that transform
 * the weight first.
 */
function dense(
  where: string,
  x: tf.Tensor | tf.TensorLike,
  w: tf.Tensor,
  bias?: tf.Tensor,
): tf.Tensor {
  const [nIn, nOut] = w.shape;
  const t = floatInput(x, where);
  if (t.rank === 0 || t.shape[t.rank - 1] !== nIn) {
    throw new ArgumentError(
      `${where}: the input must have shape [..., ${nIn}], got [${t.shape.join(', ')}]`,
    );
  }
  const y =
    t.rank === 2
      ? tf.matMul(t, w)
      : tf.reshape(tf.matMul(tf.reshape(t, [-1, nIn]), w), [...t.shape.slice(0, -1), nOut]);
  return bias === undefined ? y : tf.add(y, bias);
}

/** Options of SignedWLinear. */
export interface SignedWLinearOptions extends LinearOptions {
  /** Signs broadcastable to [in, out] (e.g. +1 excitatory rows, −1 inhibitory rows); default all +1. */
  wSign?: tf.Tensor | NumberArray | number | null;
}

/**
 * Dense layer with sign-constrained weights: y = x @ (|W| ⊙ sign ⊙ mask) (+ b). Default wInit
 * KaimingNormal(), no bias (bInit null) as upstream.
 */
export class SignedWLinear extends Linear {
  /** The fixed signs (float32 [in, out], kept; not trained), or null for all +1. */
  readonly wSign: tf.Tensor | null;

  constructor(inSize: Size, outSize: Size, options: SignedWLinearOptions = {}) {
    const { wSign, ...rest } = options;
    super(inSize, outSize, { wInit: KaimingNormal(), ...rest, bInit: options.bInit ?? null });
    const [nIn, nOut] = this.weight.rawValue.weight.shape;
    this.wSign =
      wSign == null ? null : tf.keep(paramTensor(wSign, [nIn, nOut], `${layerLabel(this)}: wSign`));
  }

  override dispose(): void {
    super.dispose();
    this.wSign?.dispose();
  }

  /** The weight the product uses: |W| ⊙ sign ⊙ mask. */
  effectiveWeight(): tf.Tensor {
    const { weight } = this.weight.value;
    return tf.tidy(() => {
      let w = tf.abs(weight);
      if (this.wSign !== null) w = tf.mul(w, this.wSign);
      return this.wMask === null ? w : tf.mul(w, this.wMask);
    });
  }

  override update(x: tf.Tensor | tf.TensorLike): tf.Tensor {
    const { bias } = this.weight.value;
    return tf.tidy(() => dense(layerLabel(this), x, this.effectiveWeight(), bias));
  }
}

/** Options of ScaledWSLinear. */
export interface ScaledWSLinearOptions extends LinearOptions {
  /** Learn a per-output gain [1, out] (initialised to 1), stored as `weight.gain` (default true). */
  wsGain?: boolean;
  /** Lower bound of var·fanIn under the square root (default 1e-4). */
  eps?: number;
}

/**
 * Dense layer with weight standardisation (Brock et al. 2021): y = x @ (Ŵ ⊙ mask) + b with
 * Ŵ = (W − mean)/sqrt(max(var·fanIn, eps)) · gain. Default wInit KaimingNormal(), bias 0.
 */
export class ScaledWSLinear extends Linear {
  readonly eps: number;

  constructor(inSize: Size, outSize: Size, options: ScaledWSLinearOptions = {}) {
    const { wsGain = true, eps = 1e-4, ...rest } = options;
    super(inSize, outSize, rest);
    if (!(typeof eps === 'number' && eps > 0 && Number.isFinite(eps))) {
      throw new ArgumentError(`${layerLabel(this)}: eps must be a positive number, got ${eps}`);
    }
    this.eps = eps;
    if (wsGain) {
      const nOut: number = this.weight.rawValue.weight.shape[1]!;
      this.weight.reinitialize({ ...this.weight.rawValue, gain: tf.ones([1, nOut]) });
    }
  }

  /** The weight the product uses: standardised, times the gain, times the mask. */
  effectiveWeight(): tf.Tensor {
    const { weight, gain } = this.weight.value;
    return tf.tidy(() => {
      const fanIn = weight.shape[0];
      const { mean, variance } = tf.moments(weight, 0, true);
      let scale = tf.rsqrt(tf.maximum(tf.mul(variance, fanIn), this.eps));
      if (gain !== undefined) scale = tf.mul(scale, gain);
      const w = tf.mul(tf.sub(weight, mean), scale);
      return this.wMask === null ? w : tf.mul(w, this.wMask);
    });
  }

  override update(x: tf.Tensor | tf.TensorLike): tf.Tensor {
    const { bias } = this.weight.value;
    return tf.tidy(() => dense(layerLabel(this), x, this.effectiveWeight(), bias));
  }
}
