/** Smoke tests of the examples and of bench/coba at small sizes (the full sizes run as scripts). */
import { describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf';
import { runEICoba } from '../../examples/ei-coba';
import { runSNet } from '../../examples/neurai-snet';
import { runCobaScale } from '../../bench/coba';

describe('examples (small sizes)', () => {
  it('ei-coba: a 200-neuron version runs, spikes and reports its figures without leaking', async () => {
    const before = tf.memory().numTensors;
    const r = await runEICoba({ scale: 0.05, duration: 50, seed: 1, plot: null });
    expect(r.steps).toBe(500);
    expect(r.rate_E_Hz).toBeGreaterThan(1);
    expect(r.rate_I_Hz).toBeGreaterThan(1);
    expect(r.run_s).toBeGreaterThan(0);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('neurai-snet: seed 001 network runs for 5 ms; the Poisson-driven group fires', async () => {
    const r = await runSNet({ duration: 5, seed: 0, plots: false });
    expect(r.lif0_spikes).toBeGreaterThan(10);
    expect(r.lif1_spikes).toBeGreaterThanOrEqual(0);
  });

  it('bench/coba: one small scale in process', async () => {
    const r = await runCobaScale(0.05, 20, 2);
    expect(r.peak_rss_MiB).toBeGreaterThan(10);
    expect(r.run_s).toBeGreaterThan(0);
  });
});
