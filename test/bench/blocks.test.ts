import { describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf';
import { blocksBench } from '../../bench/blocks';

describe('bench/blocks smoke test (tiny sizes)', () => {
  it('runs the three variants, agrees with the eager loop and leaks nothing', () => {
    const before = tf.memory().numTensors;
    const r = blocksBench({ n: 64, T: 30, reps: 1 });
    expect(r.eager_us_per_step).toBeGreaterThan(0);
    expect(r.jit_calls_us_per_step).toBeGreaterThan(0);
    expect(r.block_us_per_step).toBeGreaterThan(0);
    expect(r.max_abs_diff_vs_eager).toBe(0);
    expect(r.spikes).toBeGreaterThan(0);
    expect(tf.memory().numTensors).toBe(before);
  });
});
