/** Smoke tests of the training examples and bench/bptt at small sizes. */
import { describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf';
import { trainEvidence } from '../../examples/train-bptt-evidence';
import { trainMnist } from '../../examples/train-bptt-mnist';
import { bpttStep } from '../../bench/bptt';

describe('training examples (small sizes)', () => {
  it('train-bptt-evidence: a few iterations on a short task run and leak nothing', async () => {
    const before = tf.memory().numTensors;
    const r = await trainEvidence({
      iters: 4,
      batch: 8,
      hidden: 16,
      seed: 0,
      budgetS: 60,
      target: 1.1,
      evalEvery: 2,
      testSize: 16,
      plots: false,
      small: true,
    });
    expect(r.iterations).toBe(4);
    expect(Number.isFinite(r.train_loss)).toBe(true);
    expect(r.test_accuracy).toBeGreaterThanOrEqual(0);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('train-bptt-mnist: one short epoch on 200 digits', async () => {
    const r = await trainMnist({
      epochs: 1,
      batch: 50,
      hidden: 32,
      T: 4,
      seed: 0,
      budgetS: 60,
      plots: false,
      trainLimit: 200,
      testLimit: 100,
    });
    expect(r.iterations).toBe(4);
    expect(r.epochs).toBe(1);
    expect(r.test_accuracy).toBeGreaterThanOrEqual(0);
    expect(r.test_accuracy).toBeLessThanOrEqual(1);
    expect(Number.isFinite(r.train_loss)).toBe(true);
  });

  it('bench/bptt: one tiny configuration', () => {
    const before = tf.memory().numTensors;
    const r = bpttStep({ hidden: 16, T: 10, batch: 4, input: 5, output: 3, reps: 1 });
    expect(r.step_s).toBeGreaterThan(0);
    expect(r.peak_bytes).toBeGreaterThan(0);
    expect(Number.isFinite(r.loss)).toBe(true);
    expect(tf.memory().numTensors).toBe(before);
  });
});
