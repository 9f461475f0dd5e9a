/**
 * bench/all: every benchmark in one command (`npm run bench`). Runs bench/transforms, event, coba,
 * bptt, online and fusion (those that exist, then any other bench/*.ts that prints a RESULT
 * line) each in its own child process with a time limit, streams their output, parses their
 * `RESULT {json}` lines, runs the peers that can run here (Brian2 for the COBA network, when
 * /usr/bin/python3 can import brian2; bench/peers.ts) and writes
 *   <out>/summary.json  all RESULT lines, machine info, peers and comparisons;
 *   <out>/summary.md    one Markdown table per benchmark, ratio columns against the peers, and a
 *                       peers section (figures not measured here are labelled as references).
 * Ends with one `RESULT {json}` line. Exits 1 when a benchmark failed or timed out.
 *
 *   npx tsx bench/all.ts [--only coba,bptt] [--quick] [--no-peers] [--out bench/results]
 *                        [--timeout SECONDS (per benchmark)] [--platform wasm|cpu] [--list]
 *
 * --quick passes small sizes to each benchmark (a run of a minute or two) and leaves the
 * benchmarks' own bench/results/<name>.json files as they were.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, platform, release, arch, totalmem } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';
import { isMain, parseArgs } from './common';
import {
  REFERENCES,
  brian2Available,
  comparisons,
  peerFiguresForRow,
  runBrian2Coba,
  type Brian2Run,
  type Comparison,
} from './peers';

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const ROOT = dirname(BENCH_DIR);

/**
 * One benchmark: its arguments for a full run (one child process per entry: a configuration
 * that may exhaust the wasm heap runs on its own, so a crash loses only its rows), for a quick
 * run, and the time limit of one child (seconds).
 */
interface BenchSpec {
  name: string;
  full: string[][];
  quick: string[];
  timeoutS: number;
}

const FULL_COBA = { scales: [1, 2, 4], duration: 1000 };
const QUICK_COBA = { scales: [1], duration: 100 };

/** The known benchmarks, in order. Others found under bench/ run with no arguments. */
const KNOWN: BenchSpec[] = [
  {
    name: 'transforms',
    full: [[]],
    quick: '--n 400 --batch 8 --hidden 32 --T 20 --reps 2 --lifCalls 50'.split(' '),
    timeoutS: 900,
  },
  {
    name: 'event',
    full: [[]],
    quick: '--n 1000 --reps 3 --calls 20 --denseCalls 2'.split(' '),
    timeoutS: 900,
  },
  {
    name: 'coba',
    full: [['--scales', FULL_COBA.scales.join(','), '--duration', String(FULL_COBA.duration)]],
    quick: ['--scales', QUICK_COBA.scales.join(','), '--duration', String(QUICK_COBA.duration)],
    timeoutS: 1800,
  },
  {
    name: 'bptt',
    // H1024·T500 alone: it may run out of wasm heap
    full: [
      ['--configs', '256x100,1024x100,256x500'],
      ['--configs', '1024x500'],
    ],
    quick: '--configs 64x20 --batch 8 --reps 1'.split(' '),
    timeoutS: 3600,
  },
  {
    name: 'online',
    full: [[]],
    quick: '--T 10,20 --batch 4 --hidden 16'.split(' '),
    timeoutS: 3600,
  },
  { name: 'fusion', full: [['--save']], quick: '--sizes 4000 --reps 3'.split(' '), timeoutS: 1800 },
  { name: 'blocks', full: [[]], quick: '--n 400 --T 50 --reps 2'.split(' '), timeoutS: 900 },
];

/** Files under bench/ that are not benchmarks. */
const NOT_BENCHMARKS = new Set(['all', 'common', 'peers']);

/** The benchmarks present: the known ones that exist, then other bench/*.ts printing RESULT. */
export function discoverBenchmarks(): BenchSpec[] {
  const present = KNOWN.filter((b) => existsSync(join(BENCH_DIR, `${b.name}.ts`)));
  const known = new Set(KNOWN.map((b) => b.name));
  const others = readdirSync(BENCH_DIR)
    .filter((f) => f.endsWith('.ts'))
    .map((f) => f.slice(0, -3))
    .filter((n) => !known.has(n) && !NOT_BENCHMARKS.has(n))
    .filter((n) => {
      const src = readFileSync(join(BENCH_DIR, `${n}.ts`), 'utf8');
      return src.includes('isMain(') && src.includes('RESULT ');
    })
    .sort()
    .map((name): BenchSpec => ({ name, full: [[]], quick: [], timeoutS: 1800 }));
  return [...present, ...others];
}

export interface BenchOutcome {
  /** 'partial': some of several child processes failed. */
  status: 'ok' | 'failed' | 'timeout' | 'partial';
  exit_code: number | null;
  wall_s: number;
  /** The arguments of each child process. */
  args: string[][];
  /** The parsed `RESULT {json}` lines, in order. */
  results: unknown[];
  /** 1-minute load average before and after (other work on the machine skews the timings). */
  loadavg: [number, number];
  error?: string;
}

let current: ReturnType<typeof spawn> | null = null;

function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

/** Run one benchmark script as a child process, streaming its output. */
export function runBenchmark(
  spec: BenchSpec,
  args: string[],
  opts: { timeoutS: number; env: NodeJS.ProcessEnv },
): Promise<BenchOutcome> {
  const file = join(BENCH_DIR, `${spec.name}.ts`);
  const t0 = performance.now();
  const load0 = loadavg()[0];
  return new Promise((resolve) => {
    // its own process group, so a timeout ends the grandchildren (bench/coba spawns one per scale)
    const child = spawn(process.execPath, ['--import', 'tsx', file, ...args], {
      cwd: ROOT,
      env: opts.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    current = child;
    const results: unknown[] = [];
    const badLines: string[] = [];
    let stderrTail = '';
    let pending = '';
    const onLine = (line: string) => {
      if (!line.startsWith('RESULT ')) return;
      try {
        results.push(JSON.parse(line.slice('RESULT '.length)));
      } catch {
        badLines.push(line);
      }
    };
    child.stdout.setEncoding('utf8');
    // echoed line by line; the child's RESULT lines get a prefix, so that the only line of this
    // script's output starting with `RESULT ` is its own summary
    const echo = (line: string) =>
      process.stdout.write((line.startsWith('RESULT ') ? `[${spec.name}] ` : '') + line + '\n');
    child.stdout.on('data', (chunk: string) => {
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        echo(line);
        onLine(line);
      }
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      process.stderr.write(chunk);
      stderrTail = (stderrTail + chunk).slice(-4000);
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      console.error(`[all] ${spec.name}: time limit of ${opts.timeoutS} s reached, stopping it`);
      killGroup(child.pid, 'SIGTERM');
      setTimeout(() => killGroup(child.pid, 'SIGKILL'), 5000).unref();
    }, opts.timeoutS * 1000);
    const finish = (code: number | null, err?: Error) => {
      clearTimeout(timer);
      current = null;
      if (pending) {
        echo(pending);
        onLine(pending);
      }
      const wall_s = (performance.now() - t0) / 1000;
      const ok = !timedOut && !err && code === 0 && results.length > 0 && !badLines.length;
      const outcome: BenchOutcome = {
        status: timedOut ? 'timeout' : ok ? 'ok' : 'failed',
        exit_code: code,
        wall_s,
        args: [args],
        results,
        loadavg: [round2(load0), round2(loadavg()[0])],
      };
      if (!ok) {
        outcome.error = timedOut
          ? `time limit of ${opts.timeoutS} s reached`
          : err
            ? String(err)
            : badLines.length
              ? `unparsable RESULT line: ${badLines[0].slice(0, 200)}`
              : code === 0
                ? 'no RESULT line'
                : `exit ${code}: ${stderrTail.trim().split('\n').slice(-8).join('\n')}`;
      }
      resolve(outcome);
    };
    child.on('error', (err) => finish(null, err));
    child.on('close', (code) => finish(code));
  });
}

const round2 = (x: number) => Math.round(x * 100) / 100;

/** One outcome of a benchmark's child processes. */
export function combine(parts: BenchOutcome[]): BenchOutcome {
  if (parts.length === 1) return parts[0];
  const bad = parts.filter((p) => p.status !== 'ok');
  const errors = bad.map((p) => `${p.args[0].join(' ')}: ${p.status}: ${p.error ?? ''}`);
  return {
    status: !bad.length ? 'ok' : bad.length < parts.length ? 'partial' : bad[0].status,
    exit_code: bad.length ? bad[bad.length - 1].exit_code : 0,
    wall_s: parts.reduce((t, p) => t + p.wall_s, 0),
    args: parts.flatMap((p) => p.args),
    results: parts.flatMap((p) => p.results),
    loadavg: [parts[0].loadavg[0], parts[parts.length - 1].loadavg[1]],
    ...(errors.length ? { error: errors.join('\n') } : {}),
  };
}

export interface MachineInfo {
  cpu_model: string;
  cores: number;
  total_mem_GiB: number;
  node: string;
  tfjs: string;
  platform: string;
  arch: string;
  os_release: string;
  brainstate_platform: string;
  loadavg_start: number[];
  git_commit: string | null;
  git_dirty: boolean | null;
  date: string;
}

function packageVersion(name: string): string {
  try {
    const pkg = JSON.parse(
      readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8'),
    ) as { version: string };
    return pkg.version;
  } catch {
    return 'unknown';
  }
}

function git(args: string[]): string | null {
  try {
    return execFileSync('git', args, { cwd: ROOT, encoding: 'utf8', stdio: 'pipe' }).trim();
  } catch {
    return null;
  }
}

export function machineInfo(brainstatePlatform: string): MachineInfo {
  const c = cpus();
  const status = git(['status', '--porcelain']);
  return {
    cpu_model: c[0]?.model ?? 'unknown',
    cores: c.length,
    total_mem_GiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    tfjs: packageVersion('@tensorflow/tfjs-core'),
    platform: platform(),
    arch: arch(),
    os_release: release(),
    brainstate_platform: brainstatePlatform,
    loadavg_start: loadavg().map(round2),
    git_commit: git(['rev-parse', '--short', 'HEAD']),
    git_dirty: status === null ? null : status.length > 0,
    date: new Date().toISOString(),
  };
}

// ---------------------------------------------------------------------------------------------
// Markdown

type Cell = string | number | boolean | null | undefined;
type Row = Record<string, Cell>;

function fmt(v: Cell): string {
  if (v === null || v === undefined) return '—';
  if (typeof v === 'number') {
    if (Number.isNaN(v)) return '—';
    if (Number.isInteger(v)) return String(v);
    const a = Math.abs(v);
    return a >= 1e5 || a < 1e-3 ? v.toExponential(3) : v.toPrecision(4);
  }
  return String(v).replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

/** Flatten nested objects to dotted keys; `*peak*_bytes` become `*_MiB`; arrays are left out. */
export function flatten(obj: Record<string, unknown>, prefix = ''): Row {
  const out: Row = {};
  for (const [k, v] of Object.entries(obj)) {
    const key = prefix + k;
    if (v !== null && typeof v === 'object') {
      if (!Array.isArray(v)) Object.assign(out, flatten(v as Record<string, unknown>, key + '.'));
    } else if (typeof v === 'number' && key.endsWith('_bytes') && key.includes('peak')) {
      out[key.slice(0, -'_bytes'.length) + '_MiB'] = v / 2 ** 20;
    } else {
      out[key] = v as Cell;
    }
  }
  return out;
}

export function markdownTable(rows: Row[]): string {
  if (!rows.length) return '';
  const cols: string[] = [];
  for (const r of rows) for (const k of Object.keys(r)) if (!cols.includes(k)) cols.push(k);
  const lines = [
    `| ${cols.join(' | ')} |`,
    `| ${cols.map(() => '---').join(' | ')} |`,
    ...rows.map((r) => `| ${cols.map((c) => fmt(r[c])).join(' | ')} |`),
  ];
  return lines.join('\n');
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

const peerColumn = (peer: string) =>
  peer
    .toLowerCase()
    .replace(/\(.*?\)/g, '')
    .replace(/\s\d+(\.\d+)+/g, '')
    .trim()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_|_$/g, '');

/** Ratio columns for a row of a benchmark: `<peer>` (value, `*` = reference) and `×<peer>`. */
function withPeerColumns(
  benchmark: string,
  row: Row,
  context: Record<string, unknown>,
  ctx: { cobaDurationMs: number; brian2: Brian2Run[] | null } | null,
): Row {
  if (!ctx) return row;
  const figures = peerFiguresForRow(benchmark, { ...context, ...row }, ctx);
  const out: Row = { ...row };
  for (const f of figures) {
    const ours = row[f.metric];
    if (typeof ours !== 'number') continue;
    const col = peerColumn(f.peer);
    const metric = f.metric.split('.').pop()!;
    // the peer's figure once per peer; one ratio per compared metric (run_s, steady_run_s, …)
    const value = `${col}_${figures
      .find((g) => g.peer === f.peer)!
      .metric.split('.')
      .pop()}`;
    out[value] ??= f.source === 'reference' ? `${fmt(f.value)}*` : f.value;
    const first = figures.find((g) => g.peer === f.peer)!.metric === f.metric;
    out[first ? `×${col}` : `×${col} (${metric})`] = ours / f.value;
  }
  return out;
}

/** Markdown for one benchmark's RESULT lines. */
export function renderBenchmark(
  name: string,
  o: BenchOutcome,
  ctx: { cobaDurationMs: number; brian2: Brian2Run[] | null } | null,
): string {
  const parts = [
    `## ${name}`,
    '',
    o.args
      .map((args) => `\`npx tsx bench/${name}.ts${args.length ? ' ' + args.join(' ') : ''}\``)
      .join(', ') + ` — ${o.status}, ${o.wall_s.toFixed(1)} s wall`,
    '',
  ];
  if (o.error) parts.push('```', o.error, '```', '');
  const lines = o.results.filter(isRecord);
  if (!lines.length) return parts.join('\n');
  const flat = lines.every((l) => Object.values(l).every((v) => v === null || !isObj(v)));
  if (lines.length > 1 || (flat && Object.keys(lines[0]).length <= 10)) {
    // one row per RESULT line
    parts.push(markdownTable(lines.map((l) => withPeerColumns(name, flatten(l), {}, ctx))));
  } else {
    const l = lines[0];
    const arrays = Object.entries(l).filter(
      ([k, v]) => k !== 'peers' && Array.isArray(v) && v.every(isRecord),
    );
    const rest = Object.fromEntries(
      Object.entries(l).filter(([k, v]) => k !== 'peers' && !Array.isArray(v)),
    );
    if (arrays.length) {
      const caption = Object.entries(flatten(rest))
        .map(([k, v]) => `${k} = ${fmt(v)}`)
        .join(', ');
      if (caption) parts.push(caption, '');
      for (const [k, v] of arrays) {
        if (arrays.length > 1) parts.push(`**${k}**`, '');
        const rows = (v as Record<string, unknown>[]).map((r) =>
          withPeerColumns(name, flatten(r), rest, ctx),
        );
        parts.push(markdownTable(rows), '');
      }
    } else {
      // one key/value table (dotted keys), with peer rows where a peer exists
      const f = flatten(rest);
      const rows: Row[] = Object.entries(f).map(([k, v]) => ({ metric: k, value: v }));
      if (ctx) {
        const row = { ...(isRecord(l.bptt) ? l.bptt : {}), ...l };
        for (const p of peerFiguresForRow(name, row as Record<string, unknown>, ctx)) {
          const ours = f[p.metric];
          if (typeof ours !== 'number') continue;
          rows.push({ metric: `${p.metric}: ${p.peer} (${p.source})`, value: p.value });
          rows.push({ metric: `${p.metric} × ${p.peer}`, value: ours / p.value });
        }
      }
      parts.push(markdownTable(rows));
    }
  }
  parts.push('');
  return parts.join('\n');
}

const isObj = (v: unknown) => v !== null && typeof v === 'object';

export interface Summary {
  machine: MachineInfo;
  options: { quick: boolean; only: string[] | null; peers: boolean; out: string };
  benchmarks: Record<string, BenchOutcome>;
  peers: {
    brian2: { available: boolean; runs: Brian2Run[] | null; note: string };
    references: typeof REFERENCES;
    comparisons: Comparison[];
  } | null;
}

export function renderMarkdown(s: Summary): string {
  const m = s.machine;
  const ctx = s.peers
    ? { cobaDurationMs: cobaDuration(s.options.quick), brian2: s.peers.brian2.runs }
    : null;
  const parts = [
    '# brainstate-ts benchmarks',
    '',
    `${m.date}, ${m.cpu_model} (${m.cores} cores, ${m.total_mem_GiB} GiB), ${m.platform} ${m.arch}, ` +
      `node ${m.node}, tfjs ${m.tfjs}, backend ${m.brainstate_platform}, ` +
      `commit ${m.git_commit ?? '?'}${m.git_dirty ? ' (dirty)' : ''}, load average at start ` +
      `${m.loadavg_start.join(' / ')}${s.options.quick ? '. **Quick run (small sizes).**' : '.'}`,
    '',
    markdownTable(
      Object.entries(s.benchmarks).map(([name, o]) => ({
        benchmark: name,
        status: o.status,
        wall_s: o.wall_s,
        results: o.results.length,
        'load avg (start → end)': o.loadavg ? `${o.loadavg[0]} → ${o.loadavg[1]}` : undefined,
      })),
    ),
    '',
  ];
  if (ctx) {
    parts.push(
      'Peer columns: the peer figure of the same configuration (`*` = documented reference, not ' +
        'run here) and `×peer` = brainstate-ts / peer (above 1: brainstate-ts is slower).',
      '',
    );
  }
  for (const [name, o] of Object.entries(s.benchmarks)) parts.push(renderBenchmark(name, o, ctx));
  if (s.peers) {
    const p = s.peers;
    parts.push('## Peers', '');
    parts.push(`Brian2: ${p.brian2.note}`, '');
    if (p.brian2.runs?.length) {
      parts.push(
        markdownTable(
          p.brian2.runs.map((r) => ({
            brian2: r.brian2,
            target: r.target,
            scale: r.scale,
            duration_ms: r.duration_ms,
            status: r.status,
            run_only_s: r.run_only_s,
            build_plus_run_s: r.build_plus_run_s,
            rate_E_Hz: r.rate_E_Hz,
            rate_I_Hz: r.rate_I_Hz,
            synapses: r.n_syn,
          })),
        ),
        '',
      );
    }
    if (p.comparisons.length) {
      parts.push('### Comparisons (ratio = brainstate-ts / peer)', '');
      parts.push(
        markdownTable(
          p.comparisons.map((c) => ({
            benchmark: c.benchmark,
            config: c.config,
            metric: c.metric,
            'brainstate-ts': c.ours,
            peer: c.peer,
            peer_value: c.peer_value,
            unit: c.unit,
            source: c.source === 'measured' ? 'measured here' : 'reference (not run here)',
            ratio: c.ratio,
          })),
        ),
        '',
      );
    }
    parts.push('### Documented peer figures (references, not run here)', '');
    parts.push(
      markdownTable(
        p.references.map((r) => ({
          benchmark: r.benchmark,
          peer: r.peer,
          config: Object.entries(r.config)
            .map(([k, v]) => `${k}=${v}`)
            .join(' '),
          metric: r.metric,
          value: r.value,
          unit: r.unit,
          source: r.note,
        })),
      ),
      '',
    );
  }
  return parts.join('\n');
}

const cobaDuration = (quick: boolean) => (quick ? QUICK_COBA.duration : FULL_COBA.duration);

// ---------------------------------------------------------------------------------------------

const USAGE =
  'usage: npx tsx bench/all.ts [--only a,b] [--quick] [--no-peers] [--out DIR] ' +
  '[--timeout SECONDS] [--platform wasm|cpu] [--python /usr/bin/python3] [--list]';

/** Run the benchmarks and peers; writes summary.json / summary.md; returns the summary. */
export async function main(argv: string[]): Promise<{ summary: Summary | null; ok: boolean }> {
  const a = parseArgs(argv);
  for (const k of Object.keys(a)) {
    if (
      !['only', 'quick', 'no-peers', 'out', 'timeout', 'platform', 'python', 'list'].includes(k)
    ) {
      throw new Error(`bench/all: unknown option --${k}\n${USAGE}`);
    }
  }
  const quick = a.quick === true;
  const peersOn = a['no-peers'] !== true;
  const out = typeof a.out === 'string' ? a.out : join(BENCH_DIR, 'results');
  const python = typeof a.python === 'string' ? a.python : '/usr/bin/python3';
  const available = discoverBenchmarks();
  if (a.list === true) {
    for (const b of available) {
      const runs = quick ? [b.quick] : b.full;
      console.log(`${b.name}\t${runs.map((r) => r.join(' ') || '(defaults)').join(' ; ')}`);
    }
    return { summary: null, ok: true };
  }
  let only: string[] | null = null;
  if (typeof a.only === 'string') {
    only = a.only.split(',').filter(Boolean);
    const unknown = only.filter(
      (n) => !available.some((b) => b.name === n) && !KNOWN.some((b) => b.name === n),
    );
    if (unknown.length) throw new Error(`bench/all: unknown benchmark(s) ${unknown.join(', ')}`);
    for (const n of only.filter((n) => !available.some((b) => b.name === n))) {
      console.warn(`[all] bench/${n}.ts does not exist yet: skipped`);
    }
  }
  const selected = available.filter((b) => only === null || only.includes(b.name));
  const env: NodeJS.ProcessEnv = { ...process.env };
  if (typeof a.platform === 'string') env.BRAINSTATE_PLATFORM = a.platform;
  const machine = machineInfo(env.BRAINSTATE_PLATFORM ?? 'wasm');

  const benchmarks: Record<string, BenchOutcome> = {};
  for (const spec of selected) {
    const timeoutS =
      typeof a.timeout === 'string' ? Number(a.timeout) : quick ? 300 : spec.timeoutS;
    const parts: BenchOutcome[] = [];
    for (const [i, args] of (quick ? [spec.quick] : spec.full).entries()) {
      console.log(`\n[all] ===== ${spec.name}: npx tsx bench/${spec.name}.ts ${args.join(' ')}`);
      // a quick run must not replace the benchmark's own full-size results file, nor a second
      // child (one more configuration) the first one's
      const own = join(BENCH_DIR, 'results', `${spec.name}.json`);
      const keep = quick || i > 0;
      const saved = keep && existsSync(own) ? readFileSync(own) : null;
      parts.push(await runBenchmark(spec, args, { timeoutS, env }));
      if (keep) {
        if (saved) writeFileSync(own, saved);
        else rmSync(own, { force: true });
      }
    }
    const o = combine(parts);
    benchmarks[spec.name] = o;
    console.log(
      `[all] ${spec.name}: ${o.status} in ${o.wall_s.toFixed(1)} s, ${o.results.length} RESULT line(s)` +
        (o.error ? `\n[all] ${o.error}` : ''),
    );
  }

  let peers: Summary['peers'] = null;
  if (peersOn) {
    const duration = cobaDuration(quick);
    const scales = (quick ? QUICK_COBA : FULL_COBA).scales;
    let runs: Brian2Run[] | null = null;
    let note: string;
    if (!selected.some((b) => b.name === 'coba')) {
      note = 'not run (bench/coba not selected); figures below are references.';
    } else if (!brian2Available(python)) {
      note =
        `not run here (\`${python} -c "import brian2"\` fails; Debian: python3-brian ` +
        'python3-brian-lib cython3 python3-dev). The COBA figures are the documented references ' +
        '(shared/peers/coba.md), not run here.';
    } else {
      const targets = quick ? ['cpp_standalone'] : ['cpp_standalone', 'cython'];
      console.log(`\n[all] ===== peers: Brian2 COBA (${targets.join(', ')}), scales ${scales}`);
      runs = runBrian2Coba({
        scales,
        duration,
        seed: 42,
        targets,
        python,
        timeoutS: 600,
        verbose: true,
      });
      note =
        `measured here with bench/peers/coba_brian2.py (${targets.join(', ')}, ${duration} ms, ` +
        'seed 42, run-only time as reported by Brian2).';
    }
    const results = Object.fromEntries(Object.entries(benchmarks).map(([n, o]) => [n, o.results]));
    peers = {
      brian2: { available: runs !== null, runs, note },
      references: REFERENCES,
      comparisons: comparisons(results, { cobaDurationMs: duration, brian2: runs }),
    };
  }

  const summary: Summary = {
    machine,
    options: { quick, only, peers: peersOn, out: relative(ROOT, out) || '.' },
    benchmarks,
    peers,
  };
  mkdirSync(out, { recursive: true });
  const jsonFile = join(out, 'summary.json');
  const mdFile = join(out, 'summary.md');
  writeFileSync(jsonFile, JSON.stringify(summary, null, 2) + '\n');
  writeFileSync(mdFile, renderMarkdown(summary) + '\n');
  console.log(`\n[all] wrote ${jsonFile}\n[all] wrote ${mdFile}`);
  const ok = Object.values(benchmarks).every((o) => o.status === 'ok');
  console.log(
    `RESULT ${JSON.stringify({
      ok,
      quick,
      summary_json: jsonFile,
      summary_md: mdFile,
      benchmarks: Object.fromEntries(
        Object.entries(benchmarks).map(([n, o]) => [
          n,
          { status: o.status, wall_s: Math.round(o.wall_s * 10) / 10, results: o.results.length },
        ]),
      ),
      brian2: peers ? (peers.brian2.available ? 'measured' : 'reference') : null,
      ratios: (peers?.comparisons ?? []).map((c) => ({
        benchmark: c.benchmark,
        config: c.config,
        peer: c.peer,
        source: c.source,
        ratio: Math.round(c.ratio * 100) / 100,
      })),
    })}`,
  );
  return { summary, ok };
}

if (isMain(import.meta.url)) {
  const stop = (signal: NodeJS.Signals) => {
    killGroup(current?.pid, 'SIGTERM');
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  try {
    const { ok } = await main(process.argv.slice(2));
    process.exitCode = ok ? 0 : 1;
  } catch (e) {
    console.error(e instanceof Error ? e.message : e);
    process.exitCode = 2;
  }
}
