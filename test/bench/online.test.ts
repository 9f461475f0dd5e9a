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
    expect(r.rows.map((x) => `${x.algorithm}/${x.mode}@${x.T}`)).toEqual([
      'bptt/eager@6',
      'bptt/eager@12',
      'd_rtrl/jit@6',
      'd_rtrl/jit@12',
      'd_rtrl/eager@6',
      'd_rtrl/eager@12',
      'es_d_rtrl/jit@6',
      'es_d_rtrl/jit@12',
      'es_d_rtrl/eager@6',
      'es_d_rtrl/eager@12',
    ]);
    for (const row of r.rows) {
      expect(row.status).toBe('ok');
      expect(row.step_ms).toBeGreaterThan(0);
      expect(row.peak_bytes).toBeGreaterThan(0);
      expect(Number.isFinite(row.loss)).toBe(true);
    }
    // online memory does not grow with T
    for (const k of ['d_rtrl', 'd_rtrl eager', 'es_d_rtrl', 'es_d_rtrl eager']) {
      expect(r.memory_ratio[k]).toBeLessThan(1.1);
    }
    // the compiled and the op-by-op steps learn the same: equal mean losses
    for (const name of ['d_rtrl', 'es_d_rtrl']) {
      for (const T of [6, 12]) {
        const [j, e] = (['jit', 'eager'] as const).map(
          (m) => r.rows.find((x) => x.algorithm === name && x.mode === m && x.T === T)!.loss,
        );
        expect(Math.abs(j - e)).toBeLessThan(1e-5 * Math.max(1, Math.abs(e)));
      }
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('recognises out-of-memory errors', () => {
    expect(isOutOfMemory(new RangeError('Array buffer allocation failed'))).toBe(true);
    expect(isOutOfMemory(new Error('Aborted(OOM)'))).toBe(true);
    expect(isOutOfMemory(new Error('shapes do not match'))).toBe(false);
  });
});
