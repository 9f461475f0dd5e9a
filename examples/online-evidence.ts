/**
 * Online learning (brainscale) on the evidence-accumulation task of train-bptt-evidence.ts: the
 * same shortened task (7 cues of 10 ms, 50 ms delay, 20 ms recall; T = 175 steps) and the same
 * recurrent LIF network, built from etrace layers (brainscale's LIF_Delta_Net: LIF + DeltaProj of
 * an etrace Linear on [input spikes, own spikes] + an etrace LeakyRateReadout).
 *
 * Online trainers (D_RTRL, ES_D_RTRL, Hybrid): per batch, reset the states and the traces, run the
 * steps before the recall period through `alg.update` without a gradient (warm-up: the traces
 * still advance), then take one `grad` per recall step of that step's cross-entropy, average the
 * gradients over the recall steps, clip them to global norm 1 and make one Adam step. Memory does
 * not grow with T. Both kinds of step are compiled with `jit` (after their first call they replay
 * the recorded forward, trace and backward kernels, fused); `--eager` runs them op by op. `--algorithm bptt` trains the same model with the gradient through the whole
 * sequence (loss = mean cross-entropy over the recall steps). Accuracy = argmax of the mean
 * readout over the recall period. Ends with one `RESULT {json}` line.
 *
 *   npx tsx examples/online-evidence.ts [--algorithm es_d_rtrl|d_rtrl|hybrid|bptt] [--iters 300]
 *       [--batch 64] [--hidden 100] [--seed 0] [--budget-s 540] [--target 0.95] [--decay 0.9]
 *       [--lr 5e-3] [--eval-every 20] [--test-size 512] [--eager]
 */
import {
  data,
  environ,
  etrace,
  grad,
  init,
  initAllStates,
  jit,
  losses,
  optim,
  ParamState,
  random,
  surrogate,
  tf,
} from '../src';
import { isMain, parseArgs, peakBytes } from '../bench/common';
import type { EvidenceOptions, EvidenceResult } from './train-bptt-evidence';

const enn = etrace.nn;

export type OnlineAlgorithm = 'd_rtrl' | 'es_d_rtrl' | 'hybrid' | 'bptt';
export const ALGORITHMS: readonly OnlineAlgorithm[] = ['d_rtrl', 'es_d_rtrl', 'hybrid', 'bptt'];

export interface ETraceRSNNOptions {
  nIn: number;
  nHidden: number;
  nOut: number;
  /** Membrane time constant (ms). Default 10. */
  tau?: number;
  /** Readout time constant (ms). Default 10. */
  tauOut?: number;
  /** KaimingNormal scale of the input/recurrent weights. Default 2. */
  gain?: number;
  /**
   * The input is spikes: the Linear walks the non-zeros of [x, own spikes] and the readout those
   * of the spikes (etrace `eventInput`). Default true; false: dense matMuls (same values up to
   * float32 summation order).
   */
  eventInput?: boolean;
}

/**
 * brainscale's LIF_Delta_Net with etrace layers (the etrace twin of examples/rsnn.ts): a LIF
 * population driven through a DeltaProj by one etrace Linear on [input spikes, own spikes of the
 * previous step], and an etrace LeakyRateReadout. `update(x)` is one step and returns the readout.
 */
export class ETraceRSNN extends enn.Module {
  neu: etrace.nn.LIF;
  syn: etrace.nn.DeltaProj;
  out: etrace.nn.LeakyRateReadout;

  constructor(o: ETraceRSNNOptions) {
    super();
    this.neu = new enn.LIF(o.nHidden, {
      tau: o.tau ?? 10,
      V_th: 1,
      spkFun: new surrogate.ReluGrad(),
      spkReset: 'soft',
    });
    this.syn = new enn.DeltaProj({
      comm: new enn.Linear(o.nIn + o.nHidden, o.nHidden, {
        wInit: init.KaimingNormal(o.gain ?? 2),
        eventInput: o.eventInput ?? true,
      }),
      post: this.neu,
    });
    this.out = new enn.LeakyRateReadout(o.nHidden, o.nOut, {
      tau: o.tauOut ?? 10,
      eventInput: o.eventInput ?? true,
    });
  }

  override update(x: tf.Tensor): tf.Tensor {
    this.syn.call(tf.concat([x, this.neu.spike.value], -1));
    return this.out.call(this.neu.call());
  }
}

/**
 * Step t of a time-major tensor [T, ...]: a slice of the contiguous block t (a copy of the step's
 * size) and a reshape dropping the time axis. Measured (tfjs 4.22, [T, 64, 100]): ~10 µs per
 * step on wasm and cpu for T = 100 … 5000, where a gather costs ~0.18 ms on wasm and grows with T
 * on cpu (2 ms at T = 1000). Take it outside `grad`: on the tape, its gradient would be of the
 * whole [T, ...] input.
 */
export function stepOf(xs: tf.Tensor, t: number): tf.Tensor {
  return tf.tidy(() =>
    tf.reshape(
      tf.slice(xs, [t, ...xs.shape.slice(1).map(() => 0)], [1, ...xs.shape.slice(1)]),
      xs.shape.slice(1),
    ),
  );
}

/** Every step of xs [T, ...] (see stepOf), for a loop under `grad`. The caller disposes them. */
export function stepsOf(xs: tf.Tensor): tf.Tensor[] {
  return Array.from({ length: xs.shape[0] }, (_, t) => stepOf(xs, t));
}

/** The online learner for `name` (null for bptt). */
export function makeAlgorithm(
  name: OnlineAlgorithm,
  net: object,
  decay = 0.9,
): etrace.ETraceVjpAlgorithm | null {
  switch (name) {
    case 'd_rtrl':
      return new etrace.D_RTRL(net);
    case 'es_d_rtrl':
      return new etrace.ES_D_RTRL(net, { decay });
    case 'hybrid':
      return new etrace.HybridDimVjpAlgorithm(net, { decay });
    case 'bptt':
      return null;
    default:
      throw new Error(
        `unknown algorithm '${String(name)}'; expected one of ${ALGORITHMS.join(', ')}`,
      );
  }
}

/** A gradient tree: a tensor or a plain object of them. */
type Tree = tf.Tensor | { [k: string]: Tree };

/** a + b leaf by leaf (frees a and b). */
export function addTrees(a: Tree | null, b: Tree): Tree {
  if (a === null) return b;
  if (a instanceof tf.Tensor) {
    const s = tf.add(a, b as tf.Tensor);
    tf.dispose([a, b as tf.Tensor]);
    return s;
  }
  const out: { [k: string]: Tree } = {};
  for (const k of Object.keys(a)) out[k] = addTrees(a[k], (b as { [k: string]: Tree })[k]);
  return out;
}

/** s·a leaf by leaf (frees a). */
export function scaleTree(a: Tree, s: number): Tree {
  if (a instanceof tf.Tensor) {
    const r = tf.mul(a, s);
    a.dispose();
    return r;
  }
  return Object.fromEntries(Object.entries(a).map(([k, v]) => [k, scaleTree(v, s)]));
}

export interface OnlineEvidenceOptions extends Omit<EvidenceOptions, 'plots'> {
  algorithm: OnlineAlgorithm;
  /** ES-D-RTRL / Hybrid decay α. */
  decay: number;
  /** Adam learning rate. */
  lr: number;
  /** Run the online steps op by op instead of compiled with jit (default false). */
  eager?: boolean;
}

export interface OnlineEvidenceResult extends EvidenceResult {
  algorithm: OnlineAlgorithm;
  /**
   * Peak tensor bytes of the training iterations above what was resident before training began
   * (weights, optimizer moments, test set): the traces, the batch, the gradient tape.
   */
  peak_bytes: number;
  /** Mean wall time of one training iteration (a whole sequence), ms. */
  iter_ms: number;
  batch: number;
  /** Chance level of the task. */
  chance: number;
  /** The online steps ran compiled (jit). */
  compiled: boolean;
}

/**
 * The peak tensor bytes of the calls it runs (bench/common peakBytes: sampled on every
 * allocation), above the bytes resident when the tracker was made.
 */
export class PeakTracker {
  private readonly base = tf.memory().numBytes;
  /** The peak so far (bytes above the base). */
  peak = 0;
  run<R>(fn: () => R): R {
    const before = tf.memory().numBytes;
    const { peak, result } = peakBytes(fn);
    this.peak = Math.max(this.peak, before + peak - this.base);
    return result;
  }
}

/** Train and evaluate. */
export function trainOnlineEvidence(o: OnlineEvidenceOptions): OnlineEvidenceResult {
  const t0 = performance.now();
  random.seed(o.seed);
  environ.set({ dt: 1 });
  // the task of train-bptt-evidence.ts
  const task = new data.EvidenceAccumulation(
    o.small
      ? { cueSteps: 4, gapSteps: 2, delaySteps: 6, recallSteps: 6, nCues: 3, seed: o.seed }
      : { cueSteps: 10, gapSteps: 5, delaySteps: 50, recallSteps: 20, seed: o.seed },
  );
  const recall = o.small ? 6 : 20;
  const T = task.T;
  const net = new ETraceRSNN({ nIn: task.nIn, nHidden: o.hidden, nOut: 2, tau: 20, tauOut: 20 });
  initAllStates(net, { batchSize: o.batch });
  const weights = net.states(ParamState);
  const opt = new optim.Adam({ lr: o.lr, clipNorm: 1 });
  opt.registerTrainableWeights(weights);
  const alg = makeAlgorithm(o.algorithm, net, o.decay);

  const test = task.testSet(o.testSize);
  const evaluate = (): number => {
    initAllStates(net, { batchSize: o.testSize });
    let sum: tf.Tensor | null = null;
    for (let t = 0; t < T; t++) {
      if (t < T - recall) {
        tf.tidy(() => void net.update(stepOf(test.x, t)));
        continue;
      }
      const prev: tf.Tensor | null = sum;
      sum = tf.tidy(() => {
        const out = net.update(stepOf(test.x, t));
        return prev === null ? tf.clone(out) : tf.add(prev, out);
      });
      prev?.dispose();
    }
    const acc = tf.tidy(() => losses.accuracy(sum!, test.y).dataSync()[0]);
    sum!.dispose();
    return acc;
  };

  // the two online steps: without a gradient (warm-up), and the gradient of one step's loss
  const compiled = alg !== null && o.eager !== true;
  const warmStep = (xt: tf.Tensor) => alg!.update(xt);
  // (the task's labels are valid by construction: checking their range would read them back to
  // JS, and a step that reads data back cannot be replayed)
  const gradStep = (xt: tf.Tensor, y: tf.Tensor) =>
    grad(() => losses.softmaxCrossEntropy(alg!.update(xt), y, { checkLabels: false }), {
      gradStates: weights,
      returnValue: true,
    })() as unknown as [Tree, tf.Tensor];
  const warm = compiled ? jit(warmStep) : warmStep;
  const gradOf = compiled ? jit(gradStep) : gradStep;

  /** One training iteration on a batch; returns the mean recall loss. */
  const trainOnline = (alg: etrace.ETraceVjpAlgorithm, x: tf.Tensor, y: tf.Tensor): number => {
    initAllStates(net, { batchSize: o.batch });
    if (!alg.isCompiled) {
      const x0 = tf.tidy(() => tf.gather(x, 0));
      alg.compileGraph(x0);
      x0.dispose();
    } else alg.resetState();
    let acc: Tree | null = null;
    let lossSum = 0;
    for (let t = 0; t < T; t++) {
      const xt = stepOf(x, t);
      if (t < T - recall) tf.dispose(warm(xt));
      else {
        const [g, loss] = gradOf(xt, y);
        lossSum += loss.dataSync()[0];
        loss.dispose();
        acc = addTrees(acc, g);
      }
      xt.dispose();
    }
    const mean = scaleTree(acc!, 1 / recall);
    opt.update(mean as never);
    tf.dispose(mean as never);
    return lossSum / recall;
  };

  const trainBptt = (x: tf.Tensor, y: tf.Tensor): number => {
    initAllStates(net, { batchSize: o.batch });
    const xs = stepsOf(x);
    const [g, loss] = grad(
      () => {
        let L: tf.Tensor | null = null;
        for (let t = 0; t < T; t++) {
          const out = net.update(xs[t]);
          if (t < T - recall) continue;
          const ce = losses.softmaxCrossEntropy(out, y);
          L = L === null ? ce : tf.add(L, ce);
        }
        return tf.div(L!, recall);
      },
      { gradStates: weights, returnValue: true },
    )() as unknown as [Tree, tf.Tensor];
    opt.update(g as never);
    const l = loss.dataSync()[0];
    tf.dispose([g as never, loss, ...xs]);
    return l;
  };

  let acc = 0;
  let lossValue = NaN;
  let it = 0;
  let trainMs = 0;
  const mem = new PeakTracker();
  for (; it < o.iters; it++) {
    const { x, y } = task.batch(o.batch);
    const s0 = performance.now();
    lossValue = mem.run(() => (alg ? trainOnline(alg, x, y) : trainBptt(x, y)));
    trainMs += performance.now() - s0;
    tf.dispose([x, y]);
    let evaluated = false;
    if ((it + 1) % o.evalEvery === 0 || it === o.iters - 1) {
      acc = evaluate();
      evaluated = true;
      console.log(
        `${o.algorithm} iter ${String(it + 1).padStart(4)}  loss ${lossValue.toFixed(4)}  test accuracy ${(100 * acc).toFixed(1)} %  (${((performance.now() - t0) / 1000).toFixed(0)} s)`,
      );
    }
    if (evaluated && acc >= o.target) {
      it++;
      break;
    }
    if ((performance.now() - t0) / 1000 > o.budgetS) {
      it++;
      if (!evaluated) acc = evaluate();
      break;
    }
  }
  const wall_s = (performance.now() - t0) / 1000;
  alg?.dispose();
  tf.dispose([test.x, test.y]);
  for (const [, s] of net.states()) s.dispose();
  for (const [, s] of opt.states()) s.dispose();
  return {
    algorithm: o.algorithm,
    test_accuracy: acc,
    train_loss: lossValue,
    iterations: it,
    wall_s,
    iter_ms: trainMs / Math.max(it, 1),
    peak_bytes: mem.peak,
    T,
    hidden: o.hidden,
    batch: o.batch,
    chance: 0.5,
    compiled,
  };
}

if (isMain(import.meta.url)) {
  const a = parseArgs(process.argv.slice(2));
  const num = (k: string, d: number) => (typeof a[k] === 'string' ? Number(a[k]) : d);
  const algorithm = (
    typeof a.algorithm === 'string' ? a.algorithm : 'es_d_rtrl'
  ) as OnlineAlgorithm;
  if (!ALGORITHMS.includes(algorithm)) {
    throw new Error(`--algorithm must be one of ${ALGORITHMS.join(', ')}, got '${algorithm}'`);
  }
  const r = trainOnlineEvidence({
    algorithm,
    iters: num('iters', 300),
    batch: num('batch', 64),
    hidden: num('hidden', 100),
    seed: num('seed', 0),
    budgetS: num('budget-s', 540),
    target: num('target', 0.95),
    evalEvery: num('eval-every', 20),
    testSize: num('test-size', 512),
    decay: num('decay', 0.9),
    lr: num('lr', 5e-3),
    eager: a.eager === true || a.eager === 'true',
  });
  console.log(
    `${r.algorithm}: test accuracy ${(100 * r.test_accuracy).toFixed(1)} % (chance 50 %) after ${r.iterations} iterations, ` +
      `${r.wall_s.toFixed(0)} s (${r.iter_ms.toFixed(0)} ms/iteration${r.compiled ? ', compiled' : ''}, T = ${r.T}), peak ${(r.peak_bytes / 2 ** 20).toFixed(1)} MiB`,
  );
  console.log(`RESULT ${JSON.stringify(r)}`);
}
