/**
 * The seeds' E/I network (seeds 000 and 002; ../shared/peers/coba.md): 3200 excitatory and 800
 * inhibitory LIF neurons with a 5 ms refractory period, exponential conductance-based synapses
 * (COBA, τ_e = 5 ms, τ_i = 10 ms), random connectivity with p = 0.02 propagated event by event,
 * a constant input of 20 mV, dt = 0.1 ms. Prints the firing rates and run time, writes a raster
 * PNG to out/ei-raster.png, and ends with one `RESULT {json}` line.
 *
 *   npx tsx examples/ei-coba.ts [--scale 1] [--duration 1000] [--seed 42] [--no-plot] [--progress]
 */
import { mkdirSync } from 'node:fs';
import { disposeAll, environ, getPlatform, nn, random, Runner, tf, viz } from '../src';
import { isMain, parseArgs } from '../bench/common';

/** The E/I COBA network, written as in API.md §1. */
export class EINet extends nn.Module {
  E: nn.LIFRef;
  I: nn.LIFRef;
  E2E: nn.AlignPostProj;
  E2I: nn.AlignPostProj;
  I2E: nn.AlignPostProj;
  I2I: nn.AlignPostProj;

  constructor(scale = 1) {
    super();
    const nE = Math.round(3200 * scale);
    const nI = Math.round(800 * scale);
    const pars = {
      V_rest: -60,
      V_th: -50,
      V_reset: -60,
      tau: 20,
      tau_ref: 5,
      V_initializer: nn.init.Normal(-55, 2),
    };
    this.E = new nn.LIFRef(nE, pars);
    this.I = new nn.LIFRef(nI, pars);
    const exc = (post: nn.LIFRef) =>
      new nn.AlignPostProj({
        comm: new nn.EventFixedProb(nE, post.numel, { prob: 0.02, weight: 0.6 / scale }),
        syn: nn.Expon.desc({ tau: 5 }),
        out: nn.COBA.desc({ E: 0 }),
        post,
      });
    const inh = (post: nn.LIFRef) =>
      new nn.AlignPostProj({
        comm: new nn.EventFixedProb(nI, post.numel, { prob: 0.02, weight: 6.7 / scale }),
        syn: nn.Expon.desc({ tau: 10 }),
        out: nn.COBA.desc({ E: -80 }),
        post,
      });
    this.E2E = exc(this.E);
    this.E2I = exc(this.I);
    this.I2E = inh(this.E);
    this.I2I = inh(this.I);
  }

  override update(): void {
    // spikes of the previous step drive the synapses; then the neurons integrate
    const eSpike = this.E.spike.value;
    const iSpike = this.I.spike.value;
    this.E2E.call(eSpike);
    this.E2I.call(eSpike);
    this.I2E.call(iSpike);
    this.I2I.call(iSpike);
    this.E.call();
    this.I.call();
  }
}

export interface EICobaOptions {
  scale: number;
  duration: number;
  seed: number;
  plot: string | null;
  progressBar?: boolean;
}

export interface EICobaResult {
  scale: number;
  rate_E_Hz: number;
  rate_I_Hz: number;
  run_s: number;
  /** The first step of the run alone: tracing the step, generating its kernels, the block. */
  compile_s: number;
  setup_s: number;
  steps: number;
  spikes: number;
  platform: string;
}

/** Build, run and measure the network. */
export async function runEICoba(o: EICobaOptions): Promise<EICobaResult> {
  random.seed(o.seed);
  environ.set({ dt: 0.1 });
  const t0 = performance.now();
  const net = new EINet(o.scale);
  const runner = new Runner(net, {
    monitors: ['E.spike', 'I.spike'],
    inputs: [
      ['E', 20],
      ['I', 20],
    ],
    jit: true,
    progressBar: o.progressBar ?? false,
  });
  const setup_s = (performance.now() - t0) / 1000;
  const run_s = await runner.run(o.duration);
  const eSpikes = runner.mon['E.spike'];
  const iSpikes = runner.mon['I.spike'];
  const rate = (count: number, n: number) => count / n / (o.duration / 1000);
  const result: EICobaResult = {
    scale: o.scale,
    rate_E_Hz: rate(eSpikes.count, net.E.numel),
    rate_I_Hz: rate(iSpikes.count, net.I.numel),
    run_s,
    compile_s: runner.lastRunTiming.first_step_s,
    setup_s,
    steps: runner.mon.ts.length,
    spikes: eSpikes.count + iSpikes.count,
    platform: getPlatform(),
  };
  if (o.plot !== null) {
    mkdirSync('out', { recursive: true });
    await viz.rasterPlot(runner.mon.ts, eSpikes, {
      file: o.plot,
      title: `E/I COBA network, excitatory population (${net.E.numel} neurons, ${result.rate_E_Hz.toFixed(1)} Hz)`,
    });
  }
  disposeAll(net);
  return result;
}

if (isMain(import.meta.url)) {
  const a = parseArgs(process.argv.slice(2));
  const num = (k: string, d: number) => (typeof a[k] === 'string' ? Number(a[k]) : d);
  const o: EICobaOptions = {
    scale: num('scale', 1),
    duration: num('duration', 1000),
    seed: num('seed', 42),
    plot: a['no-plot'] ? null : 'out/ei-raster.png',
    progressBar: a.progress === true,
  };
  const r = await runEICoba(o);
  console.log(
    `E/I COBA network, scale ${r.scale} (${r.platform}), ${o.duration} ms biological time`,
  );
  console.log(`  rate E ${r.rate_E_Hz.toFixed(2)} Hz   (Brian2: 21.3 ± 1.5 Hz at scale 1)`);
  console.log(`  rate I ${r.rate_I_Hz.toFixed(2)} Hz   (Brian2: 21.4 ± 0.6 Hz at scale 1)`);
  console.log(
    `  setup ${r.setup_s.toFixed(2)} s, run ${r.run_s.toFixed(3)} s (${r.steps} steps, ${r.spikes} spikes; ` +
      `the first step, which traces and compiles the step, took ${r.compile_s.toFixed(3)} s)`,
  );
  if (o.plot) console.log(`  raster: ${o.plot}`);
  console.log(
    `RESULT ${JSON.stringify({ scale: r.scale, rate_E_Hz: r.rate_E_Hz, rate_I_Hz: r.rate_I_Hz, run_s: r.run_s, compile_s: r.compile_s, setup_s: r.setup_s })}`,
  );
  tf.disposeVariables();
}
