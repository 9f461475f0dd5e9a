/**
 * Shared helpers for the benchmarks: timing (median / min over repetitions), peak tensor bytes,
 * a printed table, the JSON file under bench/results/, and the final `RESULT {json}` line.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tf } from '../src/backend/tf';

export interface Timing {
  median_ms: number;
  min_ms: number;
  reps: number;
}

/** Time `fn` `reps` times after `warmup` untimed calls. */
export function time(fn: () => void, reps: number, warmup = 1): Timing {
  for (let i = 0; i < warmup; i++) fn();
  const ms: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    fn();
    ms.push(performance.now() - t0);
  }
  ms.sort((a, b) => a - b);
  return { median_ms: ms[Math.floor(ms.length / 2)], min_ms: ms[0], reps };
}

/** Time several variants interleaved round by round (fair under a noisy machine). */
export function interleave(
  fns: Record<string, () => void>,
  reps: number,
  warmup = 1,
): Record<string, Timing> {
  const names = Object.keys(fns);
  for (const n of names) for (let i = 0; i < warmup; i++) fns[n]();
  const ms: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  for (let r = 0; r < reps; r++) {
    for (const n of names) {
      const t0 = performance.now();
      fns[n]();
      ms[n].push(performance.now() - t0);
    }
  }
  return Object.fromEntries(
    names.map((n) => {
      const v = ms[n].sort((a, b) => a - b);
      return [n, { median_ms: v[Math.floor(v.length / 2)], min_ms: v[0], reps }];
    }),
  );
}

/** Peak bytes of tensor memory while `fn` runs (tfjs's own byte counter), and fn's result. */
export function peakBytes<R>(fn: () => R): { peak: number; result: R } {
  const e = tf.engine() as unknown as { state: { numBytes: number } };
  const base = e.state.numBytes;
  let peak = base;
  const orig = tf.engine().makeTensorFromTensorInfo;
  // sample the counter on every tensor creation (cheap: a compare)
  const eng = tf.engine() as unknown as {
    makeTensorFromTensorInfo: typeof orig;
    makeTensor: (...a: unknown[]) => tf.Tensor;
  };
  const origMake = eng.makeTensor;
  eng.makeTensorFromTensorInfo = function (this: unknown, ...args: Parameters<typeof orig>) {
    const t = orig.apply(this, args);
    if (e.state.numBytes > peak) peak = e.state.numBytes;
    return t;
  };
  eng.makeTensor = function (this: unknown, ...args: unknown[]) {
    const t = origMake.apply(this, args);
    if (e.state.numBytes > peak) peak = e.state.numBytes;
    return t;
  };
  try {
    const result = fn();
    return { peak: peak - base, result };
  } finally {
    eng.makeTensorFromTensorInfo = orig;
    eng.makeTensor = origMake;
  }
}

/** Print rows as an aligned table. */
export function printTable(title: string, rows: Record<string, string | number>[]): void {
  if (!rows.length) return;
  const cols = Object.keys(rows[0]);
  const fmt = (v: string | number) =>
    typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toPrecision(4)) : v;
  const widths = cols.map((c) => Math.max(c.length, ...rows.map((r) => fmt(r[c]).length)));
  console.log(`\n${title}`);
  console.log(cols.map((c, i) => c.padEnd(widths[i])).join('  '));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of rows) console.log(cols.map((c, i) => fmt(r[c]).padEnd(widths[i])).join('  '));
}

/** Write bench/results/<name>.json and return its path. */
export function writeResults(name: string, data: unknown): string {
  const dir = join(dirname(fileURLToPath(import.meta.url)), 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify(data, null, 2) + '\n');
  return file;
}

/** True when this module is the script being run (not imported by a smoke test). */
export function isMain(metaUrl: string): boolean {
  return process.argv[1] != null && fileURLToPath(metaUrl) === process.argv[1];
}

/** Parse `--key value` and `--flag` arguments. */
export function parseArgs(argv: string[]): Record<string, string | true> {
  const out: Record<string, string | true> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) continue;
    const next = argv[i + 1];
    if (next !== undefined && !next.startsWith('--')) {
      out[a.slice(2)] = next;
      i++;
    } else out[a.slice(2)] = true;
  }
  return out;
}
