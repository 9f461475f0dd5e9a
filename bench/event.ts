/**
 * bench/event: event-driven CSR propagation vs a dense matMul (issue 4 item 5: ≥ 100× faster at
 * 2 % connectivity). A FixedProb(prob) connectivity n × n and a spike vector with
 * round(rate · n) active neurons; µs per call of
 * - the registered event kernel (`csrMatMul`, per-synapse and homogeneous weight),
 * - the layer (`EventFixedProb.call`, homogeneous weight, reading its ParamState),
 * - on wasm, the same kernel as JS loops on heap views instead of the wasm module,
 * - dense `tf.matMul([1, n] · [n, n])` with the same weights,
 * and optionally (`--grad`) one gradient w.r.t. spikes and weights, event vs dense (timed
 * separately). Median / min over interleaved rounds. Checks that event and dense outputs agree.
 * Usage: npx tsx bench/event.ts [--platform wasm|cpu] [--n 4000] [--prob 0.02] [--rate 0.02]
 *        [--reps 11] [--calls 200] [--denseCalls 10] [--grad] [--seed 0]
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tf } from '../src/backend/tf';
import { getPlatform, isPlatform, setPlatform } from '../src/backend/platform';
import { FixedProb } from '../src/nn/connectivity';
import {
  EventFixedProb,
  csrKernelImplementation,
  csrMatMul,
  setWasmCSRMode,
  type CSRTensors,
} from '../src/nn/comm';
import { Xoshiro128, keyFromSeed } from '../src/random';
import {
  interleave,
  isMain,
  parseArgs,
  printTable,
  time,
  writeResults,
  type Timing,
} from './common';

export interface EventBenchOptions {
  n: number;
  prob: number;
  /** Fraction of presynaptic neurons spiking. */
  rate: number;
  /** Interleaved rounds. */
  reps: number;
  /** Event-kernel calls per timed round. */
  calls: number;
  /** Dense matMul calls per timed round. */
  denseCalls: number;
  /** Also time one gradient (spikes and weights). */
  grad: boolean;
  seed: number;
}

export const FULL: EventBenchOptions = {
  n: 4000,
  prob: 0.02,
  rate: 0.02,
  reps: 11,
  calls: 200,
  denseCalls: 10,
  grad: false,
  seed: 0,
};

export interface EventBenchRow {
  variant: string;
  median_us: number;
  min_us: number;
}

export interface EventBenchResult {
  platform: string;
  implementation: string;
  n: number;
  prob: number;
  nnz: number;
  spiking: number;
  build_ms: number;
  max_abs_diff: number;
  event_us: number;
  event_homo_us: number;
  layer_us: number;
  event_js_us: number | null;
  dense_us: number;
  /** dense / event, medians. */
  speedup: number;
  /** dense / event, minima. */
  speedup_min: number;
  grad_event_us: number | null;
  grad_dense_us: number | null;
  rows: EventBenchRow[];
}

function perCall(t: Timing, calls: number): { median: number; min: number } {
  return { median: (t.median_ms * 1000) / calls, min: (t.min_ms * 1000) / calls };
}

/** Run the benchmark on the current platform; disposes everything it creates. */
export function runEventBench(o: EventBenchOptions): EventBenchResult {
  const { n } = o;
  const t0 = performance.now();
  const conn = FixedProb(o.prob, { seed: o.seed }).build(n, n);
  const buildMs = performance.now() - t0;
  const gen = new Xoshiro128(keyFromSeed(o.seed + 1));
  const weights = Float32Array.from({ length: conn.nnz }, () => gen.nextFloat32());
  // Exactly round(rate · n) spiking neurons, at random positions.
  const spiking = Math.round(o.rate * n);
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = gen.nextBelow(i + 1);
    [order[i], order[j]] = [order[j], order[i]];
  }
  const spikes = new Float32Array(n);
  for (let q = 0; q < spiking; q++) spikes[order[q]] = 1;

  const layer = new EventFixedProb(n, n, { prob: o.prob, seed: o.seed, weight: 0.5 });
  const dev: CSRTensors = layer.connTensors;
  const x = tf.tensor2d(spikes, [1, n]);
  const w = tf.tensor1d(weights);
  const wHomo = tf.scalar(0.5);
  const dense = tf.tensor2d(conn.toDense(weights), [n, n]);

  const yEvent = csrMatMul(x, dev, w, { asEvent: true });
  const yDense = tf.matMul(x, dense);
  const maxAbsDiff = tf.tidy(() => tf.max(tf.abs(tf.sub(yEvent, yDense))).dataSync()[0]);
  tf.dispose([yEvent, yDense]);

  const repeat = (calls: number, f: () => tf.Tensor) => () => {
    for (let i = 0; i < calls; i++) f().dispose();
  };
  const onWasm = getPlatform() === 'wasm';
  const fns: Record<string, () => void> = {
    event: repeat(o.calls, () => csrMatMul(x, dev, w, { asEvent: true })),
    eventHomo: repeat(o.calls, () => csrMatMul(x, dev, wHomo, { asEvent: true })),
    layer: repeat(o.calls, () => layer.call(x)),
  };
  if (onWasm) {
    fns.eventJs = () => {
      const previous = setWasmCSRMode('js');
      try {
        repeat(o.calls, () => csrMatMul(x, dev, w, { asEvent: true }))();
      } finally {
        setWasmCSRMode(previous);
      }
    };
  }
  fns.dense = repeat(o.denseCalls, () => tf.matMul(x, dense));
  const timings = interleave(fns, o.reps, 2);
  const t = (name: string) => perCall(timings[name], name === 'dense' ? o.denseCalls : o.calls);

  let gradEvent: { median: number; min: number } | null = null;
  let gradDense: { median: number; min: number } | null = null;
  if (o.grad) {
    const ct = tf.tidy(() => tf.randomNormal([1, n], 0, 1, 'float32', o.seed));
    const eventGrad = tf.grads((xs: tf.Tensor, ws: tf.Tensor) =>
      tf.sum(tf.mul(csrMatMul(xs, dev, ws, { asEvent: true }), ct)),
    );
    const denseGrad = tf.grads((xs: tf.Tensor, ws: tf.Tensor) =>
      tf.sum(tf.mul(tf.matMul(xs, ws), ct)),
    );
    // Timed one after the other, not interleaved: the dense gradient allocates 64 MB arrays
    // whose garbage collection would otherwise land in the event rounds.
    const eventCalls = Math.max(1, Math.round(o.calls / 10));
    const calls = Math.max(1, Math.round(o.denseCalls / 2));
    const rounds = Math.max(3, Math.round(o.reps / 2));
    const g = {
      gradEvent: time(() => {
        for (let i = 0; i < eventCalls; i++) tf.dispose(eventGrad([x, w]));
      }, rounds),
      gradDense: time(() => {
        for (let i = 0; i < calls; i++) tf.dispose(denseGrad([x, dense]));
      }, rounds),
    };
    gradEvent = perCall(g.gradEvent, eventCalls);
    gradDense = perCall(g.gradDense, calls);
    ct.dispose();
  }
  const implementation = csrKernelImplementation();
  tf.dispose([x, w, wHomo, dense]);
  layer.dispose();

  const names: Record<string, string> = {
    event: 'event CSR kernel, per-synapse w',
    eventHomo: 'event CSR kernel, scalar w',
    layer: 'EventFixedProb.call (scalar w)',
    eventJs: 'event CSR, JS loops on wasm heap',
    dense: `dense tf.matMul [1,${n}]·[${n},${n}]`,
  };
  const rows: EventBenchRow[] = Object.keys(fns).map((k) => ({
    variant: names[k],
    median_us: t(k).median,
    min_us: t(k).min,
  }));
  if (gradEvent && gradDense) {
    rows.push({
      variant: 'grad (spikes, w): event',
      median_us: gradEvent.median,
      min_us: gradEvent.min,
    });
    rows.push({
      variant: 'grad (spikes, w): dense',
      median_us: gradDense.median,
      min_us: gradDense.min,
    });
  }
  return {
    platform: getPlatform(),
    implementation,
    n,
    prob: o.prob,
    nnz: conn.nnz,
    spiking,
    build_ms: buildMs,
    max_abs_diff: maxAbsDiff,
    event_us: t('event').median,
    event_homo_us: t('eventHomo').median,
    layer_us: t('layer').median,
    event_js_us: onWasm ? t('eventJs').median : null,
    dense_us: t('dense').median,
    speedup: t('dense').median / t('event').median,
    speedup_min: t('dense').min / t('event').min,
    grad_event_us: gradEvent?.median ?? null,
    grad_dense_us: gradDense?.median ?? null,
    rows,
  };
}

/** The platform entries of an earlier bench/results/event.json, or {}. */
function readPrevious(): Record<string, unknown> {
  const file = join(dirname(fileURLToPath(import.meta.url)), 'results', 'event.json');
  if (!existsSync(file)) return {};
  try {
    const data = JSON.parse(readFileSync(file, 'utf8')) as unknown;
    return data !== null && typeof data === 'object' ? (data as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (typeof args.platform === 'string') {
    if (!isPlatform(args.platform)) throw new Error(`unknown platform ${args.platform}`);
    await setPlatform(args.platform);
  }
  const num = (key: keyof EventBenchOptions) =>
    typeof args[key] === 'string' ? Number(args[key]) : (FULL[key] as number);
  const o: EventBenchOptions = {
    n: num('n'),
    prob: num('prob'),
    rate: num('rate'),
    reps: num('reps'),
    calls: num('calls'),
    denseCalls: num('denseCalls'),
    grad: args.grad === true,
    seed: num('seed'),
  };
  const r = runEventBench(o);
  printTable(
    `event-driven CSR vs dense, ${r.platform} (${r.implementation}): n=${r.n}, p=${r.prob}, nnz=${r.nnz}, ` +
      `${r.spiking} spiking (${((100 * r.spiking) / r.n).toFixed(1)} %), µs per call`,
    r.rows.map((row) => ({ ...row })),
  );
  console.log(
    `\nspeedup dense/event: ${r.speedup.toFixed(0)}× (medians), ${r.speedup_min.toFixed(0)}× (minima); ` +
      `max |event − dense| = ${r.max_abs_diff}; FixedProb build ${r.build_ms.toFixed(1)} ms`,
  );
  const { rows, ...summary } = r;
  // One file for all platforms: this run replaces its platform's entry.
  const previous = readPrevious();
  const file = writeResults('event', {
    ...previous,
    [r.platform]: { options: o, ...summary, rows },
  });
  console.log(`wrote ${file}`);
  console.log(`RESULT ${JSON.stringify(summary)}`);
}

if (isMain(import.meta.url)) await main();
