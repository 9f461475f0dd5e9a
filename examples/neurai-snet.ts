/**
 * Seed 001's network (NeurAI's SNet tutorial) in brainstate-ts: two groups of 100 exponential
 * LIF neurons (ExpLIF), a 1000 Hz Poisson generator driving the first one-to-one with weight
 * 1000, a DC generator (amplitude 50, on from 0.5 to 1.5 ms) driving the second one-to-one, and a
 * FixedTotalNum(80, no multi-connections) projection from the first to the second with weight 5
 * and a 2-step delay. Monitors lif0.spike and lif0.V; writes a raster and a voltage plot.
 *
 * Synapses are NeurAI's static synapses: a presynaptic spike adds `weight` to the postsynaptic
 * input current for one step (a CurrentProj with a CUBA output), so with τ = 20 ms and dt = 0.1 ms
 * one spike of weight w moves V by about w·dt/τ mV. NeurAI does not print its ExpLIF's
 * spike-initiation parameters; we use Δ_T = 2 mV and V_T = −54 mV with the cut-off V_th = −50 mV.
 *
 *   npx tsx examples/neurai-snet.ts [--duration 5] [--seed 0] [--no-plot]
 */
import { mkdirSync } from 'node:fs';
import { disposeAll, environ, nn, random, Runner, tf, viz } from '../src';
import { isMain, parseArgs } from '../bench/common';

const EXP_LIF = {
  V_rest: -60,
  V_th: -50,
  V_reset: -60,
  tau: 20,
  I_e: 0,
  delta_T: 2,
  V_T: -54,
  V_initializer: -55,
};

/** The SimNet of seed 001. */
export class SimNet extends nn.Module {
  lif0 = new nn.ExpLIF(100, EXP_LIF);
  lif1 = new nn.ExpLIF(100, EXP_LIF);
  poisson = new nn.PoissonSpike(100, 1000);
  dc = new nn.DCGenerator(100, { amplitude: 50, start: 0.5, stop: 1.5 });
  synapse0: nn.CurrentProj;
  dcConn: nn.CurrentProj;
  synapse1: nn.CurrentProj;

  constructor() {
    super();
    const oneToOne = (post: nn.Dynamics, weight: number) =>
      new nn.EventCSRLinear(nn.One2One().build(100, post.numel), { weight, floatAsEvent: false });
    this.synapse0 = new nn.CurrentProj({
      comm: oneToOne(this.lif0, 1000),
      out: new nn.CUBA(),
      post: this.lif0,
    });
    this.dcConn = new nn.CurrentProj({
      comm: oneToOne(this.lif1, 1),
      out: new nn.CUBA(),
      post: this.lif1,
    });
    this.synapse1 = new nn.CurrentProj({
      modules: [this.lif0.prefetchDelay('spike', { steps: 2 })],
      comm: new nn.EventCSRLinear(nn.FixedTotalNum(80, { allowMultiConn: false }).build(100, 100), {
        weight: 5,
      }),
      out: new nn.CUBA(),
      post: this.lif1,
    });
  }

  override update(): void {
    this.synapse0.call(this.poisson.call());
    this.dcConn.call(this.dc.call());
    this.synapse1.call();
    this.lif0.call();
    this.lif1.call();
  }
}

export interface SNetResult {
  duration_ms: number;
  lif0_spikes: number;
  lif1_spikes: number;
  lif0_rate_Hz: number;
  lif1_rate_Hz: number;
  run_s: number;
}

export async function runSNet(o: {
  duration: number;
  seed: number;
  plots: boolean;
}): Promise<SNetResult> {
  random.seed(o.seed);
  environ.set({ dt: 0.1 });
  const net = new SimNet();
  const runner = new Runner(net, { monitors: ['lif0.spike', 'lif0.V', 'lif1.spike'], jit: true });
  const run_s = await runner.run(o.duration);
  const s0 = runner.mon['lif0.spike'];
  const s1 = runner.mon['lif1.spike'];
  if (o.plots) {
    mkdirSync('out', { recursive: true });
    await viz.rasterPlot(runner.mon.ts, s0, {
      file: 'out/snet-lif0-raster.png',
      title: 'ExpLIF_0.spike',
    });
    await viz.linePlot(runner.mon.ts, runner.mon['lif0.V'].column(0), {
      file: 'out/snet-lif0-v.png',
      xlabel: 'Time (ms)',
      ylabel: 'ExpLIF_0.V (mV)',
      title: 'ExpLIF_0.v (neuron 0)',
    });
  }
  disposeAll(net);
  const hz = (n: number) => n / 100 / (o.duration / 1000);
  return {
    duration_ms: o.duration,
    lif0_spikes: s0.count,
    lif1_spikes: s1.count,
    lif0_rate_Hz: hz(s0.count),
    lif1_rate_Hz: hz(s1.count),
    run_s,
  };
}

if (isMain(import.meta.url)) {
  const a = parseArgs(process.argv.slice(2));
  const r = await runSNet({
    duration: typeof a.duration === 'string' ? Number(a.duration) : 5,
    seed: typeof a.seed === 'string' ? Number(a.seed) : 0,
    plots: !a['no-plot'],
  });
  console.log(
    `seed 001 SNet, ${r.duration_ms} ms: lif0 ${r.lif0_spikes} spikes, lif1 ${r.lif1_spikes} spikes, run ${r.run_s.toFixed(3)} s`,
  );
  console.log(`RESULT ${JSON.stringify(r)}`);
  tf.disposeVariables();
}
