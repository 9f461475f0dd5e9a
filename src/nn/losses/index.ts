/**
 * Losses and metrics for training (issue 5 item 4): softmax cross-entropy with integer or
 * one-hot labels, mean squared error, and accuracy. The lead exposes this folder as the
 * top-level `losses` namespace.
 */
export { softmaxCrossEntropy } from './crossEntropy';
export { mse, type MSEOptions } from './mse';
export { accuracy } from './accuracy';
export type { ClassificationOptions, Labels, Reduction } from './labels';
