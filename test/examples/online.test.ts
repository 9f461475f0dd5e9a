/** Smoke tests of the online-learning examples (online-evidence, copy-gru) at tiny sizes. */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { tf } from '../../src/backend/tf';
import { trainOnlineEvidence, type OnlineAlgorithm } from '../../examples/online-evidence';
import { trainCopyGru } from '../../examples/copy-gru';

let warn: ReturnType<typeof vi.spyOn>;
let log: ReturnType<typeof vi.spyOn>;
beforeEach(() => {
  warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
  log = vi.spyOn(console, 'log').mockImplementation(() => {});
});
afterEach(() => {
  warn.mockRestore();
  log.mockRestore();
});

const finite = (...xs: number[]) => xs.every((x) => Number.isFinite(x));

/** online-evidence at tiny sizes: 3 iterations of the short task, batch 4, hidden 8. */
const TINY = {
  iters: 3,
  batch: 4,
  hidden: 8,
  budgetS: 60,
  target: 1.1,
  evalEvery: 3,
  testSize: 8,
  small: true,
  decay: 0.9,
  lr: 5e-3,
};

describe('examples/online-evidence (tiny)', () => {
  for (const algorithm of ['es_d_rtrl', 'd_rtrl', 'hybrid', 'bptt'] as OnlineAlgorithm[]) {
    it(`${algorithm}: a few iterations on the short task, RESULT fields finite, no leaks`, () => {
      const before = tf.memory().numTensors;
      const r = trainOnlineEvidence({ ...TINY, algorithm, seed: 0 });
      expect(r.algorithm).toBe(algorithm);
      expect(r.iterations).toBe(3);
      expect(finite(r.test_accuracy, r.train_loss, r.wall_s, r.peak_bytes, r.iter_ms)).toBe(true);
      expect(r.test_accuracy).toBeGreaterThanOrEqual(0);
      expect(r.test_accuracy).toBeLessThanOrEqual(1);
      expect(r.peak_bytes).toBeGreaterThan(0);
      expect(tf.memory().numTensors).toBe(before);
    });
  }
});

describe('examples/online-evidence: compiled and op-by-op steps', () => {
  it.each(['es_d_rtrl', 'd_rtrl'] as OnlineAlgorithm[])('%s: the same losses', (algorithm) => {
    const run = (eager: boolean) => trainOnlineEvidence({ ...TINY, algorithm, seed: 1, eager });
    const compiled = run(false);
    const eager = run(true);
    expect([compiled.compiled, eager.compiled]).toEqual([true, false]);
    expect(Math.abs(compiled.train_loss - eager.train_loss)).toBeLessThan(1e-5);
    expect(compiled.test_accuracy).toBe(eager.test_accuracy);
  });
});

describe('examples/copy-gru (tiny)', () => {
  for (const algorithm of ['d_rtrl', 'bptt'] as OnlineAlgorithm[]) {
    it(`${algorithm}: a few iterations with a short lag, RESULT fields finite, no leaks`, () => {
      const before = tf.memory().numTensors;
      const r = trainCopyGru({
        algorithm,
        iters: 2,
        lag: 4,
        hidden: 8,
        batch: 4,
        lr: 1e-3,
        seed: 0,
        decay: 0.9,
        budgetS: 60,
        evalEvery: 2,
        testSize: 8,
      });
      expect(r.algorithm).toBe(algorithm);
      expect(r.iterations).toBe(2);
      expect(r.T).toBe(24);
      expect(
        finite(r.test_accuracy, r.test_loss, r.final_loss, r.wall_s, r.peak_bytes, r.iter_ms),
      ).toBe(true);
      expect(r.peak_bytes).toBeGreaterThan(0);
      expect(tf.memory().numTensors).toBe(before);
    });
  }
});
