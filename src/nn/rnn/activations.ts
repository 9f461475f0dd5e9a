/**
 * The activation functions an RNN cell can be given by name (spec §5.10: "`activation` is a name
 * or a callable"), and `resolveActivation`, which turns a name or a function into a function.
 * The names follow the reference libraries (`'relu'`, `'tanh'`, `'leaky_relu'`, …).
 */
import { tf } from '../../backend/tf';
import { ArgumentError, describeValue } from '../../errors';

/** An element-wise function on tensors. */
export type ActivationFunction = (x: tf.Tensor) => tf.Tensor;

/** The activations known by name, with their definitions (leaky_relu slope 0.01, gelu tanh form). */
export const ACTIVATIONS = {
  identity: (x: tf.Tensor) => x,
  relu: (x: tf.Tensor) => tf.relu(x),
  tanh: (x: tf.Tensor) => tf.tanh(x),
  sigmoid: (x: tf.Tensor) => tf.sigmoid(x),
  elu: (x: tf.Tensor) => tf.elu(x),
  selu: (x: tf.Tensor) => tf.selu(x),
  softplus: (x: tf.Tensor) => tf.softplus(x),
  silu: (x: tf.Tensor) => tf.mul(x, tf.sigmoid(x)),
  swish: (x: tf.Tensor) => tf.mul(x, tf.sigmoid(x)),
  leaky_relu: (x: tf.Tensor) => tf.leakyRelu(x, 0.01),
  // 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), JAX's default (approximate) gelu
  gelu: (x: tf.Tensor) =>
    tf.mul(
      tf.mul(x, 0.5),
      tf.add(1, tf.tanh(tf.mul(tf.add(x, tf.mul(tf.pow(x, 3), 0.044715)), Math.sqrt(2 / Math.PI)))),
    ),
} satisfies Record<string, ActivationFunction>;

/** The name of a built-in activation. */
export type ActivationName = keyof typeof ACTIVATIONS;

/** An activation: a built-in name or a function. */
export type Activation = ActivationName | ActivationFunction;

/** The function for `activation` (ArgumentError naming `owner` and the known names otherwise). */
export function resolveActivation(owner: string, activation: Activation): ActivationFunction {
  if (typeof activation === 'function') return activation;
  if (typeof activation === 'string' && Object.hasOwn(ACTIVATIONS, activation)) {
    return ACTIVATIONS[activation];
  }
  throw new ArgumentError(
    `${owner}: unknown activation ${describeValue(activation)}; give a function or one of ${Object.keys(ACTIVATIONS).join(', ')}`,
  );
}
