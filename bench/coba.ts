/**
 * bench/coba: the E/I COBA network (examples/ei-coba.ts) at several scales: wall time of 1 s of
 * biological time (run only), setup time, rates and peak RSS. Each scale runs in its own child
 * process so peak RSS is per scale. Peers measured on the same 2-core machine
 * (../shared/peers/coba.md) are printed alongside.
 *
 *   npx tsx bench/coba.ts [--scales 1,2,4] [--duration 1000] [--seed 42]
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { isMain, parseArgs, printTable, writeResults } from './common';
import { runEICoba } from '../examples/ei-coba';

export interface CobaRun {
  scale: number;
  /** The whole run (1 s of biological time), its first step included. */
  run_s: number;
  /** The first step: tracing, kernel generation and the block build (Brian2's build analogue). */
  compile_s: number;
  /** run_s − compile_s: the steady simulation (Brian2's run-only analogue). */
  steady_run_s: number;
  setup_s: number;
  rate_E_Hz: number;
  rate_I_Hz: number;
  peak_rss_MiB: number;
  platform: string;
}

const PEERS: Record<number, Record<string, number>> = {
  1: { brian2_cpp_standalone_s: 0.56, brian2_cython_s: 1.29, brainstate_jax_cpu_s: 2.39 },
  2: { brian2_cpp_standalone_s: 1.21, brian2_cython_s: 2.24 },
  4: { brian2_cpp_standalone_s: 2.6, brian2_cython_s: 4.19 },
};

/** One scale in this process (used by the child and by the smoke test). */
export async function runCobaScale(
  scale: number,
  duration: number,
  seed: number,
): Promise<CobaRun> {
  const r = await runEICoba({ scale, duration, seed, plot: null });
  return {
    scale,
    run_s: r.run_s,
    compile_s: r.compile_s,
    steady_run_s: r.run_s - r.compile_s,
    setup_s: r.setup_s,
    rate_E_Hz: r.rate_E_Hz,
    rate_I_Hz: r.rate_I_Hz,
    peak_rss_MiB: process.resourceUsage().maxRSS / 1024,
    platform: r.platform,
  };
}

/** Run one scale in a child process and parse its RESULT line. */
function runChild(scale: number, duration: number, seed: number): CobaRun {
  const self = fileURLToPath(import.meta.url);
  const out = spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      self,
      '--child',
      '--scale',
      String(scale),
      '--duration',
      String(duration),
      '--seed',
      String(seed),
    ],
    { encoding: 'utf8', env: process.env, maxBuffer: 1 << 24 },
  );
  const line = out.stdout.split('\n').find((l) => l.startsWith('RESULT '));
  if (out.status !== 0 || line === undefined) {
    throw new Error(
      `bench/coba: the scale-${scale} child failed (status ${out.status}):\n${out.stderr}`,
    );
  }
  return JSON.parse(line.slice('RESULT '.length)) as CobaRun;
}

if (isMain(import.meta.url)) {
  const a = parseArgs(process.argv.slice(2));
  const duration = typeof a.duration === 'string' ? Number(a.duration) : 1000;
  const seed = typeof a.seed === 'string' ? Number(a.seed) : 42;
  if (a.child === true) {
    const r = await runCobaScale(Number(a.scale), duration, seed);
    console.log(`RESULT ${JSON.stringify(r)}`);
  } else {
    const scales = (typeof a.scales === 'string' ? a.scales : '1,2,4').split(',').map(Number);
    const runs = scales.map((s) => runChild(s, duration, seed));
    printTable(`E/I COBA network, ${duration} ms of biological time (${runs[0]?.platform})`, [
      ...runs.map((r) => ({
        scale: r.scale,
        neurons: 4000 * r.scale,
        run_s: r.run_s,
        compile_s: r.compile_s,
        steady_run_s: r.steady_run_s,
        setup_s: r.setup_s,
        rate_E_Hz: r.rate_E_Hz,
        rate_I_Hz: r.rate_I_Hz,
        peak_rss_MiB: r.peak_rss_MiB,
        brian2_cpp_s: PEERS[r.scale]?.brian2_cpp_standalone_s ?? NaN,
        brian2_cython_s: PEERS[r.scale]?.brian2_cython_s ?? NaN,
      })),
    ]);
    console.log('brainstate 0.5.4 on JAX CPU, scale 1: 2.39 s (peers/coba.md)');
    const file = writeResults('coba', { duration_ms: duration, seed, runs, peers: PEERS });
    console.log(`wrote ${file}`);
    for (const r of runs) {
      console.log(
        `RESULT ${JSON.stringify({ scale: r.scale, run_s: r.run_s, compile_s: r.compile_s, steady_run_s: r.steady_run_s, setup_s: r.setup_s, rate_E_Hz: r.rate_E_Hz, rate_I_Hz: r.rate_I_Hz, peak_rss_MiB: r.peak_rss_MiB })}`,
      );
    }
  }
}
