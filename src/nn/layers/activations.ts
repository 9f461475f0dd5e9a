/**
 * Activation functions (spec §5.9) and their module forms, shape-preserving `ElementWiseBlock`s
 * usable in a Sequential: relu, sigmoid, tanh, silu (= swish), elu, gelu, softplus, leakyRelu,
 * softmax, logSoftmax. Each returns a new tensor and is differentiable to any order (sigmoid,
 * tanh, elu and softmax use the corrected gradients of src/backend; logSoftmax is x −
 * logSumExp(x) rather than tf.logSoftmax, whose customGrad breaks second derivatives).
 */
import { tf } from '../../backend/tf';
import { logSoftmax as logSoftmaxOp } from '../../backend/gradients';
import { ElementWiseBlock, floatInput, layerLabel } from './base';

type Input = tf.Tensor | tf.TensorLike;

/** Apply `f` to the input as a float32 tensor, in a tidy scope. */
function elementwise(where: string, x: Input, f: (t: tf.Tensor) => tf.Tensor): tf.Tensor {
  return tf.tidy(() => f(floatInput(x, where)));
}

/** max(x, 0). */
export function relu(x: Input): tf.Tensor {
  return elementwise('relu', x, tf.relu);
}

/** 1/(1 + e^−x). */
export function sigmoid(x: Input): tf.Tensor {
  return elementwise('sigmoid', x, tf.sigmoid);
}

/** The hyperbolic tangent. */
export function tanh(x: Input): tf.Tensor {
  return elementwise('tanh', x, tf.tanh);
}

/** x·sigmoid(x) (the sigmoid linear unit, also called swish). */
export function silu(x: Input): tf.Tensor {
  return elementwise('silu', x, (t) => tf.mul(t, tf.sigmoid(t)));
}

/** Alias of silu. */
export const swish = silu;

/** x for x > 0, alpha·(e^x − 1) otherwise. */
export function elu(x: Input, alpha = 1): tf.Tensor {
  return elementwise('elu', x, (t) =>
    alpha === 1
      ? tf.elu(t)
      : tf.add(tf.relu(t), tf.mul(tf.expm1(tf.neg(tf.relu(tf.neg(t)))), alpha)),
  );
}

/**
 * The Gaussian error linear unit x·Φ(x) (exact, with erf), or with `approximate` its tanh form
 * 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
 */
export function gelu(x: Input, approximate = false): tf.Tensor {
  return elementwise('gelu', x, (t) => {
    if (approximate) {
      const inner = tf.mul(
        tf.add(t, tf.mul(tf.mul(t, tf.square(t)), 0.044715)),
        Math.sqrt(2 / Math.PI),
      );
      return tf.mul(tf.mul(t, 0.5), tf.add(tf.tanh(inner), 1));
    }
    return tf.mul(tf.mul(t, 0.5), tf.add(tf.erf(tf.mul(t, Math.SQRT1_2)), 1));
  });
}

/** log(1 + e^x). */
export function softplus(x: Input): tf.Tensor {
  return elementwise('softplus', x, tf.softplus);
}

/** x for x > 0, negativeSlope·x otherwise. */
export function leakyRelu(x: Input, negativeSlope = 0.01): tf.Tensor {
  return elementwise('leakyRelu', x, (t) => tf.leakyRelu(t, negativeSlope));
}

/** e^x / Σ e^x along `axis` (default the last). */
export function softmax(x: Input, axis = -1): tf.Tensor {
  return elementwise('softmax', x, (t) =>
    axis === -1 || axis === t.rank - 1 ? tf.softmax(t) : tf.exp(logSoftmaxOp(t, axis)),
  );
}

/** x − log Σ e^x along `axis` (default the last). */
export function logSoftmax(x: Input, axis = -1): tf.Tensor {
  return elementwise('logSoftmax', x, (t) => logSoftmaxOp(t, axis));
}

/** Options shared by the activation modules. */
export interface ActivationOptions {
  name?: string;
}

/** Base of the activation modules: `update(x)` applies `activation`. */
export abstract class ActivationBlock extends ElementWiseBlock {
  protected abstract activation(x: tf.Tensor): tf.Tensor;

  override update(x: Input): tf.Tensor {
    const where = layerLabel(this);
    return tf.tidy(() => this.activation(floatInput(x, where)));
  }
}

/** Module form of relu. */
export class ReLU extends ActivationBlock {
  constructor(options: ActivationOptions = {}) {
    super(options.name);
  }
  protected activation(x: tf.Tensor): tf.Tensor {
    return relu(x);
  }
}

/** Module form of sigmoid. */
export class Sigmoid extends ActivationBlock {
  constructor(options: ActivationOptions = {}) {
    super(options.name);
  }
  protected activation(x: tf.Tensor): tf.Tensor {
    return sigmoid(x);
  }
}

/** Module form of tanh. */
export class Tanh extends ActivationBlock {
  constructor(options: ActivationOptions = {}) {
    super(options.name);
  }
  protected activation(x: tf.Tensor): tf.Tensor {
    return tanh(x);
  }
}

/** Module form of silu (swish). */
export class SiLU extends ActivationBlock {
  constructor(options: ActivationOptions = {}) {
    super(options.name);
  }
  protected activation(x: tf.Tensor): tf.Tensor {
    return silu(x);
  }
}

/** Module form of elu. */
export class ELU extends ActivationBlock {
  constructor(
    readonly alpha = 1,
    options: ActivationOptions = {},
  ) {
    super(options.name);
  }
  protected activation(x: tf.Tensor): tf.Tensor {
    return elu(x, this.alpha);
  }
}

/** Module form of gelu (exact unless `approximate`). */
export class GELU extends ActivationBlock {
  constructor(
    readonly approximate = false,
    options: ActivationOptions = {},
  ) {
    super(options.name);
  }
  protected activation(x: tf.Tensor): tf.Tensor {
    return gelu(x, this.approximate);
  }
}

/** Module form of softplus. */
export class Softplus extends ActivationBlock {
  constructor(options: ActivationOptions = {}) {
    super(options.name);
  }
  protected activation(x: tf.Tensor): tf.Tensor {
    return softplus(x);
  }
}

/** Module form of leakyRelu. */
export class LeakyReLU extends ActivationBlock {
  constructor(
    readonly negativeSlope = 0.01,
    options: ActivationOptions = {},
  ) {
    super(options.name);
  }
  protected activation(x: tf.Tensor): tf.Tensor {
    return leakyRelu(x, this.negativeSlope);
  }
}

/** Module form of softmax along `axis`. */
export class Softmax extends ActivationBlock {
  constructor(
    readonly axis = -1,
    options: ActivationOptions = {},
  ) {
    super(options.name);
  }
  protected activation(x: tf.Tensor): tf.Tensor {
    return softmax(x, this.axis);
  }
}

/** Module form of logSoftmax along `axis`. */
export class LogSoftmax extends ActivationBlock {
  constructor(
    readonly axis = -1,
    options: ActivationOptions = {},
  ) {
    super(options.name);
  }
  protected activation(x: tf.Tensor): tf.Tensor {
    return logSoftmax(x, this.axis);
  }
}
