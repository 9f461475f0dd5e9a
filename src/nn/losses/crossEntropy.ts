/**
 * softmaxCrossEntropy: the classification loss −Σ_c y_c·log softmax(logits)_c per sample, with
 * integer class labels (y one-hot) or dense one-hot / probability rows. log softmax is computed
 * as logits − logSumExp(logits) (max-shifted: no overflow for large logits, no log(0)), and the
 * gradient with respect to the logits is softmax(logits) − y (divided by the number of samples
 * under the default 'mean' reduction).
 */
import { tf } from '../../backend/tf';
import { stopGradient } from '../../surrogate/kernels';
import {
  checkLogits,
  checkReduction,
  classTargets,
  oneHotRows,
  reduce,
  type ClassificationOptions,
  type Labels,
} from './labels';

/**
 * Softmax cross-entropy of `logits` [..., numClasses] against `labels`: class indices of shape
 * [...] (an int32 tensor, a number or a number[]) or one-hot/probability rows of the logits'
 * shape. Reduction over all samples: 'mean' (default), 'sum', or 'none' (shape [...]).
 *
 * ```ts
 * const loss = losses.softmaxCrossEntropy(out, [3, 0, 9]);   // scalar, mean over 3 samples
 * ```
 */
export function softmaxCrossEntropy(
  logits: tf.Tensor,
  labels: Labels,
  options: ClassificationOptions = {},
): tf.Tensor {
  const where = 'softmaxCrossEntropy';
  const reduction = checkReduction(where, options.reduction);
  return tf.tidy(() => {
    const z = checkLogits(where, logits);
    const target = classTargets(where, z, labels, options.checkLabels ?? true);
    const numClasses = z.shape[z.rank - 1];
    const y = target.kind === 'index' ? oneHotRows(target.indices, numClasses) : target.probs;
    // log softmax = z − m − log Σ exp(z − m) with the row max m held constant: the same
    // values as tf.logSumExp, and the same gradient (m cancels), without the max's gradient
    // kernels (an Equal mask and friends per call)
    const m = stopGradient(tf.max(z, -1, true));
    const shifted = tf.sub(z, m);
    const logProbs = tf.sub(shifted, tf.log(tf.sum(tf.exp(shifted), -1, true)));
    const perSample = tf.neg(tf.sum(tf.mul(y, logProbs), -1));
    return reduce(perSample, reduction);
  });
}
