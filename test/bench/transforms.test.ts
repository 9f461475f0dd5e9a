import { describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf';
import { runTransformsBench } from '../../bench/transforms';

describe('bench/transforms smoke test (tiny sizes)', () => {
  it('runs both workloads and reports their figures without leaking tensors', () => {
    const before = tf.memory().numTensors;
    const r = runTransformsBench({
      n: 64,
      batch: 2,
      input: 5,
      hidden: 8,
      output: 3,
      T: 12,
      reps: 1,
      lifCalls: 5,
    });
    expect(r.lif.eager_us_per_call).toBeGreaterThan(0);
    expect(r.lif.jit_us_per_call).toBeGreaterThan(0);
    expect(r.lif.kernels_per_step).toBeGreaterThan(5);
    expect(r.bptt.step_s).toBeGreaterThan(0);
    expect(r.bptt.peak_bytes).toBeGreaterThan(0);
    expect(r.bptt.checkpointed_peak_bytes).toBeGreaterThan(0);
    expect(tf.memory().numTensors).toBe(before);
  });
});
