/**
 * bench/online: memory and speed of online learning against BPTT (brainscale's 003 benchmark,
 * scaled): the LIF_Delta_Net of examples/online-evidence.ts (LIF + DeltaProj of an etrace Linear
 * on [input, own spikes] + etrace LeakyRateReadout), input 100 Bernoulli(0.05) spikes, hidden 256,
 * 10 outputs, batch 64, for T = 100, 200, 500, 1000 (the Linear and the readout take spikes:
 * their products walk the non-zeros, etrace `eventInput`):
 * - BPTT: one gradient through the whole sequence (a loop of `net.update` on the tape, the input
 *   steps sliced before the tape — see examples/online-evidence.ts `stepOf`; loss =
 *   cross-entropy of the time-mean readout, labels as one-hot rows built once) + Adam; an out-of-memory error is reported as OOM (and the longer
 *   sequences are skipped, as upstream stops at the first failure);
 * - D_RTRL and ES_D_RTRL(α = 0.9): per step, `grad` of the cross-entropy of `alg.update(x_t)`,
 *   accumulated (nothing of earlier steps is kept), one Adam step per sequence. Each runs twice:
 *   mode 'jit' compiles that step (`jit` of the function taking the gradient: after the first
 *   call, a fused replay of the forward, Jacobian, trace and backward kernels — what brainscale's
 *   jitted train step does) and mode 'eager' runs it op by op.
 * Each algorithm first runs one untimed warm-up sequence at the shortest T (at most 100 steps
 * online). Per row: the time per step (ms; online: the median over the sequence's steps, robust to a busy
 * machine; BPTT: sequence time / T) and the peak tensor bytes over the
 * whole sequence (tfjs's byte counter sampled on every allocation, bench/common peakBytes — a
 * peak, not a point sample; counted above what existed before: the weights and the input). The
 * online peaks must not grow with T. Peers (brainscale 0.1.0 on JAX CPU, this machine):
 * ES_D_RTRL 2.15 ms/step, D_RTRL 132 ms/step, BPTT 126 ms per T = 100 sequence.
 *
 *   npx tsx bench/online.ts [--T 100,200,500,1000] [--batch 64] [--hidden 256] [--input 100]
 *                           [--algorithms bptt,d_rtrl,es_d_rtrl] [--decay 0.9] [--modes jit,eager]
 */
import {
  environ,
  etrace,
  getPlatform,
  grad,
  initAllStates,
  jit,
  losses,
  optim,
  ParamState,
  random,
  tf,
} from '../src';
import {
  ETraceRSNN,
  addTrees,
  stepOf,
  stepsOf,
  type OnlineAlgorithm,
} from '../examples/online-evidence';
import { isMain, parseArgs, peakBytes, printTable, writeResults } from './common';

export type BenchAlgorithm = Exclude<OnlineAlgorithm, 'hybrid'>;
/** How the online step runs: compiled (jit replay) or op by op. BPTT rows are 'eager'. */
export type StepMode = 'jit' | 'eager';

export interface OnlineBenchOptions {
  Ts: number[];
  batch: number;
  input: number;
  hidden: number;
  output: number;
  algorithms: BenchAlgorithm[];
  /** ES_D_RTRL decay. */
  decay: number;
  /** Modes of the online algorithms (default both, jit first). */
  modes?: StepMode[];
  /** Print a line per finished row (to stderr). */
  verbose?: boolean;
}

export interface OnlineBenchRow {
  algorithm: BenchAlgorithm;
  mode: StepMode;
  T: number;
  /** 'ok', or 'OOM' (out of memory), or 'skipped' (a shorter T ran out of memory). */
  status: 'ok' | 'OOM' | 'skipped';
  /** Time per step, ms: online the median over the steps after two warm-up steps; BPTT the sequence time / T (NaN unless ok). */
  step_ms: number;
  /** Mean time per step, ms (the same as step_ms for BPTT). */
  step_mean_ms: number;
  /** Time of the whole sequence (forward, backward/traces, Adam), s. */
  seq_s: number;
  /** Peak tensor bytes over the sequence. */
  peak_bytes: number;
  /** Mean loss (online: over the steps; BPTT: of the time-mean readout). */
  loss: number;
  error?: string;
}

export interface OnlineBenchResult {
  platform: string;
  options: OnlineBenchOptions;
  rows: OnlineBenchRow[];
  /**
   * Per online algorithm (key `es_d_rtrl` for the jit rows, `es_d_rtrl eager` for the eager ones):
   * peak bytes at the longest T / at the shortest T (flat: ≈ 1).
   */
  memory_ratio: Record<string, number>;
}

export const PEERS = {
  brainscale_0_1_0_jax_cpu: {
    es_d_rtrl_ms_per_step: 2.15,
    d_rtrl_ms_per_step: 132,
    bptt_ms_per_T100_sequence: 126,
  },
};

/** An out-of-memory error of either backend (wasm heap, JS heap, array sizes). */
export function isOutOfMemory(e: unknown): boolean {
  const m = e instanceof Error ? `${e.name} ${e.message}` : String(e);
  return /out of memory|OOM|memory access out of bounds|Cannot enlarge memory|Array buffer allocation failed|Invalid typed array length|Invalid array length|WebAssembly\.Memory|allocation failed/i.test(
    m,
  );
}

const paramsOf = (n: ETraceRSNN) => n.states(ParamState);

function median(xs: number[]): number {
  const v = [...xs].sort((a, b) => a - b);
  return v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
}

interface Setup {
  net: ETraceRSNN;
  weights: ReturnType<typeof paramsOf>;
  opt: optim.Adam;
  xs: tf.Tensor;
  labels: tf.Tensor;
  /** The labels as one-hot float32 rows [batch, output] (built once: per step the loss reads them). */
  targets: tf.Tensor;
  free(): void;
}

function setup(o: OnlineBenchOptions, T: number): Setup {
  random.seed(0);
  environ.set({ dt: 1 });
  const net = new ETraceRSNN({ nIn: o.input, nHidden: o.hidden, nOut: o.output });
  initAllStates(net, { batchSize: o.batch });
  const weights = paramsOf(net);
  const opt = new optim.Adam({ lr: 1e-3, clipNorm: 1 });
  opt.registerTrainableWeights(weights);
  const xs = tf.tidy(() => tf.cast(random.bernoulli(0.05, [T, o.batch, o.input]), 'float32'));
  const labels = random.randint(0, o.output, [o.batch]);
  const targets = tf.tidy(() => tf.cast(tf.oneHot(labels, o.output), 'float32'));
  return {
    net,
    weights,
    opt,
    xs,
    labels,
    targets,
    free() {
      for (const [, s] of net.states()) s.dispose();
      for (const [, s] of opt.states()) s.dispose();
      tf.dispose([xs, labels, targets]);
    },
  };
}

/** One online sequence: per step a gradient, accumulated; Adam at the end. */
function onlineSequence(
  s: Setup,
  name: 'd_rtrl' | 'es_d_rtrl',
  mode: StepMode,
  o: OnlineBenchOptions,
  T: number,
): OnlineBenchRow {
  const make = () =>
    name === 'd_rtrl' ? new etrace.D_RTRL(s.net) : new etrace.ES_D_RTRL(s.net, { decay: o.decay });
  let alg: etrace.ETraceVjpAlgorithm | null = null;
  const gradStep = (x: tf.Tensor) =>
    grad(() => losses.softmaxCrossEntropy(alg!.update(x), s.targets), {
      gradStates: s.weights,
      returnValue: true,
    })() as unknown as [Parameters<typeof addTrees>[1], tf.Tensor];
  const onlineStep = mode === 'jit' ? jit(gradStep) : gradStep;
  const runStep = (t: number): number => {
    const x = stepOf(s.xs, t);
    const [g, loss] = onlineStep(x);
    acc = addTrees(acc, g);
    const l = loss.dataSync()[0];
    tf.dispose([x, loss]);
    return l;
  };
  let acc: Parameters<typeof addTrees>[0] = null;
  const stepMs: number[] = [];
  let lossSum = 0;
  const warm = Math.min(2, T - 1);
  const t0 = performance.now();
  const { peak } = peakBytes(() => {
    alg = make();
    const x0 = stepOf(s.xs, 0);
    alg.compileGraph(x0);
    x0.dispose();
    for (let t = 0; t < T; t++) {
      const a = performance.now();
      lossSum += runStep(t);
      if (t >= warm) stepMs.push(performance.now() - a);
    }
    s.opt.update(acc as never);
    tf.dispose(acc as never);
    alg.dispose();
  });
  const seq = (performance.now() - t0) / 1000;
  return {
    algorithm: name,
    mode,
    T,
    status: 'ok',
    step_ms: median(stepMs),
    step_mean_ms: stepMs.reduce((x, y) => x + y, 0) / stepMs.length,
    seq_s: seq,
    peak_bytes: peak,
    loss: lossSum / T,
  };
}

/** One BPTT sequence: gradient through forLoop over all T steps, Adam. */
function bpttSequence(s: Setup, T: number): OnlineBenchRow {
  let loss = NaN;
  const t0 = performance.now();
  const { peak } = peakBytes(() => {
    const xs = stepsOf(s.xs);
    const [g, l] = grad(
      () => {
        let sum: tf.Tensor | null = null;
        for (let t = 0; t < T; t++) {
          const out = s.net.update(xs[t]);
          sum = sum === null ? out : tf.add(sum, out);
        }
        return losses.softmaxCrossEntropy(tf.div(sum!, T), s.targets);
      },
      { gradStates: s.weights, returnValue: true },
    )() as unknown as [Parameters<typeof addTrees>[1], tf.Tensor];
    s.opt.update(g as never);
    loss = l.dataSync()[0];
    tf.dispose([g as never, l, ...xs]);
  });
  const seq = (performance.now() - t0) / 1000;
  return {
    algorithm: 'bptt',
    mode: 'eager',
    T,
    status: 'ok',
    step_ms: (seq * 1000) / T,
    step_mean_ms: (seq * 1000) / T,
    seq_s: seq,
    peak_bytes: peak,
    loss,
  };
}

export function runOnlineBench(o: OnlineBenchOptions): OnlineBenchResult {
  const rows: OnlineBenchRow[] = [];
  const Ts = [...o.Ts].sort((a, b) => a - b);
  // cheapest first: ES_D_RTRL, D_RTRL, then BPTT (an out-of-memory failure of BPTT may leave the
  // wasm heap unusable, and runs after D_RTRL's large traces are measurably slower)
  const rank: Record<BenchAlgorithm, number> = { es_d_rtrl: 0, d_rtrl: 1, bptt: 2 };
  const order = [...o.algorithms].sort((a, b) => rank[a] - rank[b]);
  const modes = o.modes ?? ['jit', 'eager'];
  for (const m of modes) {
    if (m !== 'jit' && m !== 'eager') throw new Error(`modes: unknown '${String(m)}' (jit, eager)`);
  }
  const runs = order.flatMap((name): { name: BenchAlgorithm; mode: StepMode }[] =>
    name === 'bptt' ? [{ name, mode: 'eager' as StepMode }] : modes.map((mode) => ({ name, mode })),
  );
  const empty = (name: BenchAlgorithm, mode: StepMode, T: number, status: 'skipped' | 'OOM') => ({
    algorithm: name,
    mode,
    T,
    status,
    step_ms: NaN,
    step_mean_ms: NaN,
    seq_s: NaN,
    peak_bytes: NaN,
    loss: NaN,
  });
  for (const { name, mode } of runs) {
    {
      // one untimed warm-up sequence at the shortest T (kernel set-up, and the JS and wasm
      // engines' optimizing tiers: without it the first timed online sequence is ~2× slower)
      const w = setup(o, Ts[0]);
      if (name === 'bptt') bpttSequence(w, Ts[0]);
      else onlineSequence(w, name, mode, o, Math.min(Ts[0], 100));
      w.free();
    }
    let failed = false;
    for (const T of Ts) {
      if (failed) {
        rows.push(empty(name, mode, T, 'skipped'));
        continue;
      }
      const s = setup(o, T);
      try {
        rows.push(name === 'bptt' ? bpttSequence(s, T) : onlineSequence(s, name, mode, o, T));
      } catch (e) {
        if (!isOutOfMemory(e)) throw e;
        failed = true;
        rows.push({
          ...empty(name, mode, T, 'OOM'),
          error: e instanceof Error ? e.message.slice(0, 200) : String(e),
        });
      } finally {
        try {
          s.free();
        } catch {
          // after an OOM the states may be gone already
        }
      }
      const r = rows[rows.length - 1];
      if (o.verbose) {
        console.error(
          `${name}${name === 'bptt' ? '' : ` (${mode})`} T=${T}: ${r.status} ${r.step_ms.toFixed(2)} ms/step, peak ${(r.peak_bytes / 2 ** 20).toFixed(1)} MiB`,
        );
      }
    }
  }
  const memory_ratio: Record<string, number> = {};
  for (const { name, mode } of runs) {
    if (name === 'bptt') continue;
    const ok = rows.filter((r) => r.algorithm === name && r.mode === mode && r.status === 'ok');
    const key = mode === 'jit' ? name : `${name} eager`;
    if (ok.length >= 2) memory_ratio[key] = ok[ok.length - 1].peak_bytes / ok[0].peak_bytes;
  }
  const order2 = (r: OnlineBenchRow) =>
    o.algorithms.indexOf(r.algorithm) * 1e8 + modes.indexOf(r.mode) * 1e7 + r.T;
  rows.sort((a, b) => order2(a) - order2(b));
  return { platform: getPlatform(), options: o, rows, memory_ratio };
}

if (isMain(import.meta.url)) {
  const a = parseArgs(process.argv.slice(2));
  const num = (k: string, d: number) => (typeof a[k] === 'string' ? Number(a[k]) : d);
  const list = (k: string, d: string) => (typeof a[k] === 'string' ? a[k] : d).split(',');
  const algorithms = list('algorithms', 'bptt,d_rtrl,es_d_rtrl') as BenchAlgorithm[];
  for (const n of algorithms) {
    if (!['bptt', 'd_rtrl', 'es_d_rtrl'].includes(n)) {
      throw new Error(`--algorithms: unknown '${n}' (bptt, d_rtrl, es_d_rtrl)`);
    }
  }
  const o: OnlineBenchOptions = {
    Ts: list('T', '100,200,500,1000').map(Number),
    batch: num('batch', 64),
    input: num('input', 100),
    hidden: num('hidden', 256),
    output: 10,
    algorithms,
    decay: num('decay', 0.9),
    modes: list('modes', 'jit,eager') as StepMode[],
    verbose: true,
  };
  const r = runOnlineBench(o);
  printTable(
    `Online learning vs BPTT, LIF_Delta_Net I${o.input} H${o.hidden} O${o.output} B${o.batch} (${r.platform}); per step and peak over the sequence`,
    r.rows.map((x) => ({
      algorithm: x.algorithm,
      mode: x.mode,
      T: x.T,
      status: x.status,
      step_ms: x.step_ms,
      step_mean_ms: x.step_mean_ms,
      seq_s: x.seq_s,
      peak_MiB: x.peak_bytes / 2 ** 20,
    })),
  );
  const p = PEERS.brainscale_0_1_0_jax_cpu;
  printTable('Peers: brainscale 0.1.0 (JAX CPU, this machine), I100 H256 B64', [
    { algorithm: 'es_d_rtrl', step_ms: p.es_d_rtrl_ms_per_step },
    { algorithm: 'd_rtrl', step_ms: p.d_rtrl_ms_per_step },
    { algorithm: 'bptt (T=100)', step_ms: p.bptt_ms_per_T100_sequence / 100 },
  ]);
  for (const [k, v] of Object.entries(r.memory_ratio)) {
    console.log(
      `${k}: peak at T=${Math.max(...o.Ts)} / peak at T=${Math.min(...o.Ts)} = ${v.toFixed(3)}`,
    );
  }
  console.log(`wrote ${writeResults('online', { ...r, peers: PEERS })}`);
  console.log(
    `RESULT ${JSON.stringify({
      platform: r.platform,
      batch: o.batch,
      hidden: o.hidden,
      rows: r.rows.map((x) => ({
        algorithm: x.algorithm,
        mode: x.mode,
        T: x.T,
        status: x.status,
        step_ms: x.step_ms,
        peak_bytes: x.peak_bytes,
      })),
      memory_ratio: r.memory_ratio,
      peers: PEERS,
    })}`,
  );
}
