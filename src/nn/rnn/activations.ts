/**
 * The activation functions an RNN cell can be given by name (spec §5.10: "`activation` is a name
 * or a callable"), and `resolveActivation`, which turns a name or a function into a function.
 * The names follow the reference libraries (`'relu'`, `'tanh'`, `'leaky_relu'`, …).
 */
import { tf } from '../../backend/tf';
import { ArgumentError, describeValue } from '../../errors';
import * as layers from '../layers/activations';

/** An element-wise function on tensors. */
export type ActivationFunction = (x: tf.Tensor) => tf.Tensor;

/** The activations known by name, with their definitions (the layers' functions; leaky_relu slope 0.01, gelu tanh form). */
export const ACTIVATIONS = {
  identity: (x: tf.Tensor) => x,
  relu: (x: tf.Tensor) => layers.relu(x),
  tanh: (x: tf.Tensor) => layers.tanh(x),
  sigmoid: (x: tf.Tensor) => layers.sigmoid(x),
  elu: (x: tf.Tensor) => layers.elu(x),
  selu: (x: tf.Tensor) => tf.selu(x),
  softplus: (x: tf.Tensor) => layers.softplus(x),
  silu: (x: tf.Tensor) => layers.silu(x),
  swish: (x: tf.Tensor) => layers.silu(x),
  leaky_relu: (x: tf.Tensor) => layers.leakyRelu(x, 0.01),
  // JAX's default (tanh-approximate) gelu
  gelu: (x: tf.Tensor) => layers.gelu(x, true),
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
