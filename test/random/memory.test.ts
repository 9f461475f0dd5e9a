/** No tensor leaks: many draws (disposing the outputs) leave tf.memory().numTensors unchanged. */
import { expect, test } from 'vitest';
import { tf } from '../../src/backend/tf';
import * as random from '../../src/random';

test('1000 rounds of every distribution leak no tensors', () => {
  random.seed(0);
  const loc = tf.tensor1d([0, 1, 2]);
  const p = tf.tensor1d([0.2, 0.5, 0.8]);
  const rows = tf.tensor2d([
    [1, 2],
    [3, 4],
    [5, 6],
  ]);
  const before = tf.memory().numTensors;
  for (let i = 0; i < 1000; i++) {
    tf.dispose([
      random.rand(3),
      random.randn(2, 2),
      random.uniform(0, 2, [3]),
      random.uniform(loc, 5, [2, 3]),
      random.normal(loc, 2, [3]),
      random.bernoulli(p, [3]),
      random.bernoulli(0.5, [3]),
      random.poisson(loc, [3]),
      random.poisson(20, [3]),
      random.randint(0, 10, [3]),
      random.permutation(rows),
      random.permutation(4),
      random.choice(rows, [2]),
      random.choice(5, [2], { replace: false, p: [0.2, 0.2, 0.2, 0.2, 0.2] }),
      random.exponential(loc, [3]),
      random.truncatedNormal(-1, 1, [3]),
    ]);
  }
  expect(tf.memory().numTensors).toBe(before);
  tf.dispose([loc, p, rows]);
});
