/**
 * bench/peers: the peer simulators and frameworks the benchmarks are compared with.
 * - Brian2 (COBA network): measured on this machine when `/usr/bin/python3 -c "import brian2"`
 *   works (Debian: python3-brian python3-brian-lib cython3 python3-dev; never installed by the
 *   benchmarks or the tests), by running bench/peers/coba_brian2.py (cpp_standalone and cython)
 *   at the same scales and duration as bench/coba.ts; otherwise the figures documented in
 *   shared/peers/coba.md, labelled "reference (not run here)".
 * - PyTorch 1.13 CPU, brainstate 0.5.4 and brainscale 0.1.0 on JAX CPU: not installable here;
 *   their figures measured earlier on a 2-core machine like this one are kept as references.
 * `comparisons` pairs a benchmark's RESULT figures with the peer figure of the same
 * configuration (ratio = ours / peer: above 1 means brainstate-ts is slower).
 *
 *   npx tsx bench/peers.ts [--scales 1,2,4] [--duration 1000] [--targets cpp_standalone,cython]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isMain, parseArgs, printTable } from './common';

export type PeerSource = 'measured' | 'reference';

/** A peer figure documented earlier (not run by this script). */
export interface PeerReference {
  benchmark: 'coba' | 'bptt' | 'transforms' | 'online';
  peer: string;
  /** The configuration, in the benchmark's own terms. */
  config: Record<string, number | string>;
  metric: string;
  value: number;
  unit: string;
  note: string;
}

const COBA_MD = 'shared/peers/coba.md (Brian2 2.5.1, 2-core machine, 1 s biological, run only)';
const ISSUE = 'issue 7 (2-core machine)';

/** The documented peer figures. */
export const REFERENCES: PeerReference[] = [
  ...(
    [
      [1, 0.56, 1.29],
      [2, 1.21, 2.24],
      [4, 2.6, 4.19],
    ] as const
  ).flatMap(([scale, cpp, cython]): PeerReference[] => [
    {
      benchmark: 'coba',
      peer: 'Brian2 cpp_standalone',
      config: { scale, duration_ms: 1000 },
      metric: 'run_s',
      value: cpp,
      unit: 's',
      note: COBA_MD,
    },
    {
      benchmark: 'coba',
      peer: 'Brian2 cython',
      config: { scale, duration_ms: 1000 },
      metric: 'run_s',
      value: cython,
      unit: 's',
      note: COBA_MD + ', warm cache',
    },
  ]),
  {
    benchmark: 'coba',
    peer: 'brainstate 0.5.4 (JAX CPU)',
    config: { scale: 1, duration_ms: 1000 },
    metric: 'run_s',
    value: 2.39,
    unit: 's',
    note: 'shared/peers/coba.md',
  },
  ...(
    [
      [256, 100, 0.13],
      [1024, 100, 2.5],
      [256, 500, 0.6],
      [1024, 500, 7.5],
    ] as const
  ).map(([hidden, T, s]): PeerReference => ({
    benchmark: 'bptt',
    peer: 'PyTorch 1.13 CPU',
    config: { batch: 64, hidden, T },
    metric: 'step_s',
    value: s,
    unit: 's',
    note: `${ISSUE}; recurrent LIF B64 I100 O10, Adam`,
  })),
  {
    benchmark: 'bptt',
    peer: 'brainstate 0.5.4 (JAX CPU)',
    config: { batch: 64, hidden: 256, T: 100 },
    metric: 'step_s',
    value: 0.126,
    unit: 's',
    note: 'bench/bptt.ts header',
  },
  {
    benchmark: 'transforms',
    peer: 'PyTorch 1.13 CPU',
    config: { batch: 64, input: 100, hidden: 256, T: 100 },
    metric: 'bptt.step_s',
    value: 0.13,
    unit: 's',
    note: `${ISSUE}; BPTT train step, recurrent LIF B64 I100 H256 T100`,
  },
  {
    benchmark: 'online',
    peer: 'brainscale 0.1.0 (JAX CPU)',
    config: { algorithm: 'es_d_rtrl', batch: 64, hidden: 256 },
    metric: 'step_ms',
    value: 2.15,
    unit: 'ms/step',
    note: `${ISSUE}; LIF_Delta_Net B64 I100 H256`,
  },
  {
    benchmark: 'online',
    peer: 'brainscale 0.1.0 (JAX CPU)',
    config: { algorithm: 'd_rtrl', batch: 64, hidden: 256 },
    metric: 'step_ms',
    value: 132,
    unit: 'ms/step',
    note: `${ISSUE}; LIF_Delta_Net B64 I100 H256`,
  },
  {
    benchmark: 'online',
    peer: 'brainscale 0.1.0 (JAX CPU)',
    config: { algorithm: 'bptt', batch: 64, hidden: 256, T: 100 },
    metric: 'step_ms',
    value: 1.26,
    unit: 'ms/step',
    note: `${ISSUE}; LIF_Delta_Net B64 I100 H256: 126 ms per T=100 sequence`,
  },
];

/** One Brian2 run of bench/peers/coba_brian2.py. */
export interface Brian2Run {
  target: string;
  scale: number;
  duration_ms: number;
  status: 'ok' | 'failed';
  run_only_s: number;
  build_plus_run_s: number;
  rate_E_Hz: number;
  rate_I_Hz: number;
  n_syn: number;
  brian2: string;
  error?: string;
}

export interface Brian2Options {
  scales: number[];
  duration: number;
  seed: number;
  targets: string[];
  python: string;
  /** Per run, seconds. */
  timeoutS: number;
  /** Print one line per run. */
  verbose?: boolean;
}

const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'peers', 'coba_brian2.py');

/** True when `python -c "import brian2"` works. */
export function brian2Available(python = '/usr/bin/python3'): boolean {
  const r = spawnSync(python, ['-c', 'import brian2'], { stdio: 'ignore', timeout: 60_000 });
  return r.status === 0;
}

/** Run the Brian2 COBA reference for each target and scale (in a temporary build directory). */
export function runBrian2Coba(o: Brian2Options): Brian2Run[] {
  const runs: Brian2Run[] = [];
  const work = mkdtempSync(join(tmpdir(), 'brainstate-brian2-'));
  try {
    for (const target of o.targets) {
      for (const scale of o.scales) {
        const args = [
          SCRIPT,
          '--target',
          target,
          '--scale',
          String(scale),
          '--duration',
          String(o.duration),
          '--seed',
          String(o.seed),
          '--build-dir',
          join(work, 'standalone'),
        ];
        const out = spawnSync(o.python, args, {
          cwd: work,
          encoding: 'utf8',
          timeout: o.timeoutS * 1000,
          maxBuffer: 1 << 26,
        });
        const line = (out.stdout ?? '').split('\n').find((l) => l.startsWith('RESULT '));
        let run: Brian2Run;
        if (out.status === 0 && line !== undefined) {
          const r = JSON.parse(line.slice('RESULT '.length)) as Record<string, number | string>;
          run = {
            target,
            scale,
            duration_ms: o.duration,
            status: 'ok',
            run_only_s: Number(r.run_only_s),
            build_plus_run_s: Number(r.build_plus_run_s),
            rate_E_Hz: Number(r.rate_E_Hz),
            rate_I_Hz: Number(r.rate_I_Hz),
            n_syn: Number(r.n_syn),
            brian2: String(r.brian2),
          };
        } else {
          const why = out.error ? String(out.error) : `exit ${out.status}`;
          const tail = (out.stderr ?? '').trim().split('\n').slice(-5).join('\n');
          run = {
            target,
            scale,
            duration_ms: o.duration,
            status: 'failed',
            run_only_s: NaN,
            build_plus_run_s: NaN,
            rate_E_Hz: NaN,
            rate_I_Hz: NaN,
            n_syn: NaN,
            brian2: '',
            error: `${why}: ${tail}`,
          };
        }
        if (o.verbose) {
          console.log(
            run.status === 'ok'
              ? `[peers] Brian2 ${run.brian2} ${target} scale ${scale}: run-only ${run.run_only_s.toFixed(3)} s, ` +
                  `build+run ${run.build_plus_run_s.toFixed(2)} s, E ${run.rate_E_Hz.toFixed(2)} Hz, I ${run.rate_I_Hz.toFixed(2)} Hz`
              : `[peers] Brian2 ${target} scale ${scale} failed: ${run.error}`,
          );
        }
        runs.push(run);
      }
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return runs;
}

/** One pairing of a brainstate-ts figure with a peer's figure of the same configuration. */
export interface Comparison {
  benchmark: string;
  config: string;
  metric: string;
  ours: number;
  peer: string;
  peer_value: number;
  unit: string;
  source: PeerSource;
  /** ours / peer: above 1 means brainstate-ts is slower. */
  ratio: number;
}

type Row = Record<string, unknown>;

const num = (v: unknown): number => (typeof v === 'number' ? v : NaN);

function matches(config: Record<string, number | string>, row: Row): boolean {
  return Object.entries(config).every(([k, v]) => row[k] === undefined || row[k] === v);
}

function get(obj: unknown, path: string): unknown {
  let cur = obj;
  for (const k of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Row)[k];
  }
  return cur;
}

function describe(config: Record<string, number | string>): string {
  return Object.entries(config)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
}

/** Peer figures for one row of a benchmark's RESULT lines (same configuration only). */
export function peerFiguresForRow(
  benchmark: string,
  row: Row,
  ctx: { cobaDurationMs: number; brian2: Brian2Run[] | null },
): { peer: string; value: number; unit: string; source: PeerSource; metric: string }[] {
  const out: { peer: string; value: number; unit: string; source: PeerSource; metric: string }[] =
    [];
  if (benchmark === 'coba') {
    const measured = (ctx.brian2 ?? []).filter(
      (r) => r.status === 'ok' && r.scale === row.scale && r.duration_ms === ctx.cobaDurationMs,
    );
    for (const r of measured) {
      // our whole run (first step = trace and compile included), and the steady part: Brian2's
      // run-only time excludes its code generation and compilation
      for (const metric of ['run_s', 'steady_run_s']) {
        if (get(row, metric) === undefined) continue;
        out.push({
          peer: `Brian2 ${r.brian2} ${r.target}`,
          value: r.run_only_s,
          unit: 's',
          source: 'measured',
          metric,
        });
      }
    }
    const measuredTargets = new Set(measured.map((r) => r.target));
    const full = { ...row, duration_ms: ctx.cobaDurationMs };
    for (const ref of REFERENCES.filter((x) => x.benchmark === 'coba')) {
      const target = ref.peer.startsWith('Brian2 ') ? ref.peer.slice('Brian2 '.length) : null;
      if (target !== null && measuredTargets.has(target)) continue;
      if (!matches(ref.config, full) || row.scale !== ref.config.scale) continue;
      out.push({
        peer: ref.peer,
        value: ref.value,
        unit: ref.unit,
        source: 'reference',
        metric: ref.metric,
      });
    }
    return out;
  }
  for (const ref of REFERENCES.filter((x) => x.benchmark === benchmark)) {
    // every configuration key must be present in the row and equal
    const ok = Object.entries(ref.config).every(([k, v]) => get(row, k) === v);
    if (!ok) continue;
    out.push({
      peer: ref.peer,
      value: ref.value,
      unit: ref.unit,
      source: 'reference',
      metric: ref.metric,
    });
  }
  return out;
}

/** The rows of a benchmark's RESULT lines that carry comparable figures. */
function comparableRows(benchmark: string, lines: unknown[]): Row[] {
  if (benchmark === 'online') {
    return lines.flatMap((l) => {
      const r = l as Row;
      const rows = Array.isArray(r.rows) ? (r.rows as Row[]) : [];
      return rows
        .filter((x) => x.status === 'ok')
        .map((x) => ({ batch: r.batch, hidden: r.hidden, ...x }));
    });
  }
  if (benchmark === 'transforms') {
    return lines.map((l) => {
      const b = (l as Row).bptt as Row | undefined;
      return { ...(b ?? {}), bptt: b };
    });
  }
  return lines.filter((l): l is Row => l !== null && typeof l === 'object');
}

/** All comparisons of the benchmarks' RESULT lines with the peers. */
export function comparisons(
  results: Record<string, unknown[]>,
  ctx: { cobaDurationMs: number; brian2: Brian2Run[] | null },
): Comparison[] {
  const out: Comparison[] = [];
  for (const [benchmark, lines] of Object.entries(results)) {
    for (const row of comparableRows(benchmark, lines)) {
      for (const p of peerFiguresForRow(benchmark, row, ctx)) {
        const ours = num(get(row, p.metric));
        if (!Number.isFinite(ours)) continue;
        const config =
          benchmark === 'coba'
            ? describe({ scale: num(row.scale), duration_ms: ctx.cobaDurationMs })
            : benchmark === 'online'
              ? describe({
                  algorithm: String(row.algorithm),
                  ...(row.mode !== undefined ? { mode: String(row.mode) } : {}),
                  T: num(row.T),
                })
              : describe({ hidden: num(row.hidden), T: num(row.T) });
        out.push({
          benchmark,
          config,
          metric: p.metric,
          ours,
          peer: p.peer,
          peer_value: p.value,
          unit: p.unit,
          source: p.source,
          ratio: ours / p.value,
        });
      }
    }
  }
  return out;
}

if (isMain(import.meta.url)) {
  const a = parseArgs(process.argv.slice(2));
  const python = typeof a.python === 'string' ? a.python : '/usr/bin/python3';
  if (!brian2Available(python)) {
    console.log(`${python} cannot import brian2: references only (not run here)`);
    printTable(
      'Peer references (not run here)',
      REFERENCES.map((r) => ({
        benchmark: r.benchmark,
        peer: r.peer,
        config: describe(r.config),
        value: r.value,
        unit: r.unit,
      })),
    );
    console.log(`RESULT ${JSON.stringify({ brian2: null, references: REFERENCES })}`);
  } else {
    const runs = runBrian2Coba({
      scales: (typeof a.scales === 'string' ? a.scales : '1,2,4').split(',').map(Number),
      duration: typeof a.duration === 'string' ? Number(a.duration) : 1000,
      seed: typeof a.seed === 'string' ? Number(a.seed) : 42,
      targets: (typeof a.targets === 'string' ? a.targets : 'cpp_standalone,cython').split(','),
      python,
      timeoutS: 600,
      verbose: true,
    });
    printTable(
      'Brian2 COBA (measured here)',
      runs.map((r) => ({
        target: r.target,
        scale: r.scale,
        run_only_s: r.run_only_s,
        build_plus_run_s: r.build_plus_run_s,
        rate_E_Hz: r.rate_E_Hz,
        rate_I_Hz: r.rate_I_Hz,
      })),
    );
    console.log(`RESULT ${JSON.stringify({ brian2: runs })}`);
  }
}
