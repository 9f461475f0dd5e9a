/** Smoke test of bench/online at tiny sizes. */
import { describe, expect, it, vi } from 'vitest';
import { tf } from '../../src/backend/tf';
import { isOutOfMemory, runOnlineBench } from '../../bench/online';

describe('bench/online (tiny)', () => {
  it('runs BPTT, D_RTRL and ES_D_RTRL for two T, reports time and peak bytes, leaks nothing', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const before = tf.memory().numTensors;
    const r = runOnlineBench({
      Ts: [6, 12],
      batch: 2,
      input: 5,
      hidden: 8,
      output: 3,
      algorithms: ['bptt', 'd_rtrl', 'es_d_rtrl'],
      decay: 0.9,
    });
    warn.mockRestore();
    expect(r.rows.map((x) => `${x.algorithm}@${x.T}`)).toEqual([
      'bptt@6',
      'bptt@12',
      'd_rtrl@6',
      'd_rtrl@12',
      'es_d_rtrl@6',
      'es_d_rtrl@12',
    ]);
    for (const row of r.rows) {
      expect(row.status).toBe('ok');
      expect(row.step_ms).toBeGreaterThan(0);
      expect(row.peak_bytes).toBeGreaterThan(0);
      expect(Number.isFinite(row.loss)).toBe(true);
    }
    // online memory does not grow with T
    expect(r.memory_ratio.d_rtrl).toBeLessThan(1.1);
    expect(r.memory_ratio.es_d_rtrl).toBeLessThan(1.1);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('recognises out-of-memory errors', () => {
    expect(isOutOfMemory(new RangeError('Array buffer allocation failed'))).toBe(true);
    expect(isOutOfMemory(new Error('Aborted(OOM)'))).toBe(true);
    expect(isOutOfMemory(new Error('shapes do not match'))).toBe(false);
  });
});
