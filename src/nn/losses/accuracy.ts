/**
 * accuracy: the fraction of samples whose arg-max logit is the label (for one-hot/probability
 * rows, the label's arg-max), as a float32 scalar tensor, so it can be computed inside loops and
 * jitted steps; read it with `.dataSync()[0]`. Ties go to the lowest class index.
 */
import { tf } from '../../backend/tf';
import {
  checkLogits,
  checkReduction,
  classTargets,
  reduce,
  type ClassificationOptions,
  type Labels,
} from './labels';

/**
 * Classification accuracy of `logits` [..., numClasses] against `labels` (as for
 * softmaxCrossEntropy): 'mean' (default) the fraction correct, 'sum' the number correct,
 * 'none' 1/0 per sample.
 */
export function accuracy(
  logits: tf.Tensor,
  labels: Labels,
  options: ClassificationOptions = {},
): tf.Tensor {
  const where = 'accuracy';
  const reduction = checkReduction(where, options.reduction);
  return tf.tidy(() => {
    const z = checkLogits(where, logits);
    const target = classTargets(where, z, labels, options.checkLabels ?? true);
    const truth = target.kind === 'index' ? target.indices : tf.argMax(target.probs, -1);
    const correct = tf.cast(tf.equal(tf.argMax(z, -1), truth), 'float32');
    return reduce(correct, reduction);
  });
}
