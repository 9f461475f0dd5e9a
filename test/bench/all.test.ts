/**
 * Smoke test of bench/all: a quick run of bench/transforms only, without peers, into a temporary
 * results directory (a child process, so it runs in the wasm project only), and the pure parts
 * (flattening, Markdown, peer comparisons) on made-up RESULT lines.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  combine,
  flatten,
  markdownTable,
  renderBenchmark,
  type BenchOutcome,
} from '../../bench/all';
import { REFERENCES, comparisons } from '../../bench/peers';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const onCpu = process.env.BRAINSTATE_PLATFORM === 'cpu';

describe.skipIf(onCpu)('bench/all (quick, transforms only, no peers)', () => {
  it('runs the benchmark in a child, writes summary.json / summary.md and a RESULT line', () => {
    const out = mkdtempSync(join(tmpdir(), 'brainstate-bench-all-'));
    const own = join(ROOT, 'bench', 'results', 'transforms.json');
    const before = existsSync(own) ? readFileSync(own, 'utf8') : null;
    try {
      const r = spawnSync(
        process.execPath,
        [
          '--import',
          'tsx',
          join(ROOT, 'bench', 'all.ts'),
          '--quick',
          '--only',
          'transforms',
          '--no-peers',
          '--out',
          out,
        ],
        { cwd: ROOT, encoding: 'utf8', timeout: 55_000, env: process.env },
      );
      expect(r.status, r.stderr).toBe(0);
      // one RESULT line of its own, at the end; the child's is echoed with a prefix
      const lines = r.stdout.trim().split('\n');
      const line = lines.at(-1);
      expect(line?.startsWith('RESULT ')).toBe(true);
      expect(lines.filter((l) => l.startsWith('RESULT '))).toHaveLength(1);
      expect(r.stdout).toContain('[transforms] RESULT {');
      const result = JSON.parse(line!.slice('RESULT '.length));
      expect(result.ok).toBe(true);
      expect(result.quick).toBe(true);
      expect(result.benchmarks.transforms.status).toBe('ok');
      expect(result.brian2).toBeNull();

      const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
      expect(Object.keys(summary.benchmarks)).toEqual(['transforms']);
      const t = summary.benchmarks.transforms;
      expect(t.status).toBe('ok');
      expect(t.results).toHaveLength(1);
      expect(t.results[0].bptt.step_s).toBeGreaterThan(0);
      expect(t.results[0].lif.eager_us_per_call).toBeGreaterThan(0);
      expect(summary.peers).toBeNull();
      for (const k of ['cpu_model', 'cores', 'node', 'tfjs', 'platform', 'date']) {
        expect(summary.machine[k]).toBeTruthy();
      }
      expect(summary.machine.tfjs).toBe('4.22.0');

      const md = readFileSync(join(out, 'summary.md'), 'utf8');
      expect(md).toContain('# brainstate-ts benchmarks');
      expect(md).toContain('## transforms');
      expect(md).toMatch(/\| bptt\.step_s \| [0-9.e-]+ \|/);
      expect(md).not.toContain('## Peers');
      // a quick run leaves the benchmark's own results file as it was
      expect(existsSync(own) ? readFileSync(own, 'utf8') : null).toBe(before);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});

describe('bench/all rendering and bench/peers comparisons', () => {
  it('flattens nested RESULT objects and renders tables', () => {
    expect(flatten({ a: 1, b: { c: 2, peak_bytes: 2 ** 21 }, d: [1, 2] })).toEqual({
      a: 1,
      'b.c': 2,
      'b.peak_MiB': 2,
    });
    expect(markdownTable([{ x: 1, y: 0.123456 }, { x: 2 }])).toBe(
      '| x | y |\n| --- | --- |\n| 1 | 0.1235 |\n| 2 | — |',
    );
  });

  it('pairs COBA and BPTT rows with the documented references of the same configuration', () => {
    const results = {
      coba: [
        { scale: 1, run_s: 5.6 },
        { scale: 8, run_s: 20 },
      ],
      bptt: [{ hidden: 256, T: 100, batch: 64, step_s: 0.26 }],
      online: [
        {
          batch: 64,
          hidden: 256,
          rows: [
            { algorithm: 'es_d_rtrl', T: 100, status: 'ok', step_ms: 4.3 },
            { algorithm: 'bptt', T: 200, status: 'ok', step_ms: 3 },
          ],
        },
      ],
    };
    const c = comparisons(results, { cobaDurationMs: 1000, brian2: null });
    const cpp = c.find((x) => x.benchmark === 'coba' && x.peer === 'Brian2 cpp_standalone');
    expect(cpp?.source).toBe('reference');
    expect(cpp?.ratio).toBeCloseTo(10);
    expect(c.filter((x) => x.config.includes('scale=8'))).toEqual([]);
    const torch = c.find((x) => x.benchmark === 'bptt' && x.peer === 'PyTorch 1.13 CPU');
    expect(torch?.ratio).toBeCloseTo(2);
    const es = c.filter((x) => x.benchmark === 'online');
    expect(es.map((x) => x.config)).toEqual(['algorithm=es_d_rtrl T=100']);
    expect(es[0].ratio).toBeCloseTo(2);
    // another duration: no reference applies
    expect(comparisons(results, { cobaDurationMs: 100, brian2: null }).length).toBe(c.length - 3);
    // a measured Brian2 run replaces the reference of its target
    const measured = comparisons(
      { coba: [{ scale: 1, run_s: 3 }] },
      {
        cobaDurationMs: 1000,
        brian2: [
          {
            target: 'cpp_standalone',
            scale: 1,
            duration_ms: 1000,
            status: 'ok',
            run_only_s: 0.3,
            build_plus_run_s: 6,
            rate_E_Hz: 20,
            rate_I_Hz: 21,
            n_syn: 320000,
            brian2: '2.5.1',
          },
        ],
      },
    );
    expect(measured.filter((x) => x.source === 'measured').map((x) => x.ratio)).toEqual([
      expect.closeTo(10),
    ]);
    expect(measured.some((x) => x.peer === 'Brian2 cpp_standalone')).toBe(false);
    expect(REFERENCES.some((r) => r.peer === 'brainscale 0.1.0 (JAX CPU)')).toBe(true);
  });

  it('combines the child processes of one benchmark', () => {
    const part = (status: BenchOutcome['status'], n: number): BenchOutcome => ({
      status,
      exit_code: status === 'ok' ? 0 : 1,
      wall_s: 1,
      args: [['--configs', `${n}`]],
      results: status === 'ok' ? [{ n }] : [],
      loadavg: [n, n],
      ...(status === 'ok' ? {} : { error: 'OOM' }),
    });
    const c = combine([part('ok', 1), part('failed', 2)]);
    expect(c.status).toBe('partial');
    expect(c.results).toEqual([{ n: 1 }]);
    expect(c.args).toEqual([
      ['--configs', '1'],
      ['--configs', '2'],
    ]);
    expect(c.wall_s).toBe(2);
    expect(c.loadavg).toEqual([1, 2]);
    expect(c.error).toContain('--configs 2: failed: OOM');
    expect(combine([part('ok', 1), part('ok', 2)]).status).toBe('ok');
    expect(combine([part('timeout', 1), part('failed', 2)]).status).toBe('timeout');
  });

  it('renders a benchmark with ratio columns', () => {
    const o: BenchOutcome = {
      status: 'ok',
      exit_code: 0,
      wall_s: 12,
      args: [[]],
      loadavg: [1, 1],
      results: [
        { scale: 1, run_s: 5.6, setup_s: 0.1 },
        { scale: 2, run_s: 7, setup_s: 0.1 },
      ],
    };
    const md = renderBenchmark('coba', o, { cobaDurationMs: 1000, brian2: null });
    expect(md).toContain('| scale | run_s | setup_s | brian2_cpp_standalone_run_s |');
    expect(md).toContain('| 1 | 5.600 | 0.1000 | 0.5600* | 10.00 |');
  });
});
