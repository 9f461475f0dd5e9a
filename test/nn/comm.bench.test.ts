import { describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf';
import { runEventBench } from '../../bench/event';

describe('bench/event smoke test (tiny sizes)', () => {
  it('times event vs dense propagation, checks they agree, and leaks no tensors', () => {
    const before = tf.memory().numTensors;
    const r = runEventBench({
      n: 200,
      prob: 0.05,
      rate: 0.05,
      reps: 2,
      calls: 3,
      denseCalls: 2,
      grad: true,
      seed: 1,
    });
    expect(r.nnz).toBeGreaterThan(0);
    expect(r.spiking).toBe(10);
    expect(r.max_abs_diff).toBeLessThan(1e-5);
    expect(r.event_us).toBeGreaterThan(0);
    expect(r.dense_us).toBeGreaterThan(0);
    expect(r.speedup).toBeGreaterThan(0);
    expect(r.grad_event_us).toBeGreaterThan(0);
    expect(r.rows.length).toBe(r.platform === 'wasm' ? 7 : 6);
    expect(tf.memory().numTensors).toBe(before);
  });
});
