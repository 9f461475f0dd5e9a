/**
 * The copying task with a GRU trained online (brainscale's 100-gru-on-copying-task.py): 10 random
 * symbols (1…8, one-hot over 10 inputs), `lag` blank steps, then 10 cue steps during which the
 * network must output the symbols in order (T = lag + 20). GRUNet = etrace GRUCell(10 → hidden) +
 * an etrace Linear readout (hidden → 10). Online (default D_RTRL): per batch, reset the states and
 * traces, run the first T − 10 steps through `alg.update` without a gradient (warm-up, the traces
 * advance), then take one `grad` per response step of that step's cross-entropy, average, one
 * Adam step (no clipping, as upstream). `--algorithm bptt`: the gradient through the whole
 * sequence. As upstream, compiling warns that Wr and the readout are not etrace weights (they get
 * the gradient of the current step). Chance: loss ln 8 ≈ 2.08, accuracy 1/8. Ends with one
 * `RESULT {json}` line.
 *
 *   npx tsx examples/copy-gru.ts [--algorithm d_rtrl|es_d_rtrl|hybrid|bptt] [--iters 200] [--lag 200]
 *       [--hidden 200] [--batch 128] [--lr 1e-3] [--seed 0] [--decay 0.9] [--budget-s 540]
 *       [--eval-every 20] [--test-size 256]
 */
import { data, etrace, grad, initAllStates, losses, optim, ParamState, random, tf } from '../src';
import { isMain, parseArgs } from '../bench/common';
import {
  ALGORITHMS,
  PeakTracker,
  addTrees,
  makeAlgorithm,
  scaleTree,
  stepOf,
  stepsOf,
  type OnlineAlgorithm,
} from './online-evidence';

const enn = etrace.nn;

/** GRUCell(nIn → nHidden) + Linear readout (nHidden → nOut); `update(x)` returns the logits. */
export class GRUNet extends enn.Module {
  cell: etrace.nn.GRUCell;
  readout: etrace.nn.Linear;
  constructor(nIn: number, nHidden: number, nOut: number) {
    super();
    this.cell = new enn.GRUCell(nIn, nHidden);
    this.readout = new enn.Linear(nHidden, nOut);
  }
  override update(x: tf.Tensor): tf.Tensor {
    return this.readout.call(this.cell.call(x));
  }
}

export interface CopyGruOptions {
  algorithm: OnlineAlgorithm;
  iters: number;
  lag: number;
  hidden: number;
  batch: number;
  lr: number;
  seed: number;
  decay: number;
  budgetS: number;
  evalEvery: number;
  testSize: number;
}

export interface CopyGruResult {
  algorithm: OnlineAlgorithm;
  /** Fraction of response symbols reproduced on the test set. */
  test_accuracy: number;
  /** Mean cross-entropy over the response steps of the test set. */
  test_loss: number;
  /** Training loss of the last batch. */
  final_loss: number;
  iterations: number;
  wall_s: number;
  iter_ms: number;
  /** Peak tensor bytes of the training iterations above what was resident before training. */
  peak_bytes: number;
  T: number;
  lag: number;
  hidden: number;
  batch: number;
}

export function trainCopyGru(o: CopyGruOptions): CopyGruResult {
  const t0 = performance.now();
  random.seed(o.seed);
  const task = new data.CopyingTask({ delaySteps: o.lag, seed: o.seed });
  const T = task.T;
  const L = task.copyLength;
  const net = new GRUNet(task.nIn, o.hidden, task.nOut);
  initAllStates(net, { batchSize: o.batch });
  const weights = net.states(ParamState);
  const opt = new optim.Adam({ lr: o.lr });
  opt.registerTrainableWeights(weights);
  const alg = makeAlgorithm(o.algorithm, net, o.decay);

  const test = task.testSet(o.testSize);
  const evaluate = (): { acc: number; loss: number } => {
    initAllStates(net, { batchSize: o.testSize });
    const outs: tf.Tensor[] = [];
    for (let t = 0; t < T; t++) {
      const out = tf.tidy(() => net.update(stepOf(test.x, t)));
      if (t >= T - L) outs.push(out);
      else out.dispose();
    }
    const [acc, loss] = tf.tidy(() => {
      const logits = tf.reshape(tf.stack(outs), [L * o.testSize, task.nOut]);
      const labels = tf.reshape(test.y, [-1]);
      return [
        losses.accuracy(logits, labels).dataSync()[0],
        losses.softmaxCrossEntropy(logits, labels).dataSync()[0],
      ];
    });
    tf.dispose(outs);
    return { acc, loss };
  };

  const trainOnline = (alg: etrace.ETraceVjpAlgorithm, x: tf.Tensor, y: tf.Tensor): number => {
    initAllStates(net, { batchSize: o.batch });
    if (!alg.isCompiled) {
      const x0 = tf.tidy(() => tf.gather(x, 0));
      alg.compileGraph(x0);
      x0.dispose();
    } else alg.resetState();
    let acc: Parameters<typeof addTrees>[0] = null;
    let lossSum = 0;
    for (let t = 0; t < T; t++) {
      const xt = stepOf(x, t);
      if (t < T - L) tf.dispose(alg.update(xt));
      else {
        const yt = stepOf(y, t - (T - L));
        const [g, loss] = grad(() => losses.softmaxCrossEntropy(alg.update(xt), yt), {
          gradStates: weights,
          returnValue: true,
        })() as unknown as [Parameters<typeof addTrees>[1], tf.Tensor];
        lossSum += loss.dataSync()[0];
        tf.dispose([loss, yt]);
        acc = addTrees(acc, g);
      }
      xt.dispose();
    }
    const mean = scaleTree(acc!, 1 / L);
    opt.update(mean as never);
    tf.dispose(mean as never);
    return lossSum / L;
  };

  const trainBptt = (x: tf.Tensor, y: tf.Tensor): number => {
    initAllStates(net, { batchSize: o.batch });
    const xs = stepsOf(x);
    const ys = stepsOf(y);
    const [g, loss] = grad(
      () => {
        let total: tf.Tensor | null = null;
        for (let t = 0; t < T; t++) {
          const out = net.update(xs[t]);
          if (t < T - L) continue;
          const ce = losses.softmaxCrossEntropy(out, ys[t - (T - L)]);
          total = total === null ? ce : tf.add(total, ce);
        }
        return tf.div(total!, L);
      },
      { gradStates: weights, returnValue: true },
    )() as unknown as [Parameters<typeof addTrees>[1], tf.Tensor];
    opt.update(g as never);
    const l = loss.dataSync()[0];
    tf.dispose([g as never, loss, ...xs, ...ys]);
    return l;
  };

  let final = NaN;
  let ev = { acc: 0, loss: NaN };
  let it = 0;
  let trainMs = 0;
  const mem = new PeakTracker();
  for (; it < o.iters; it++) {
    const { x, y, targets } = task.batch(o.batch);
    const s0 = performance.now();
    final = mem.run(() => (alg ? trainOnline(alg, x, y) : trainBptt(x, y)));
    trainMs += performance.now() - s0;
    tf.dispose([x, y, targets]);
    const last = it === o.iters - 1;
    const over = (performance.now() - t0) / 1000 > o.budgetS;
    if ((it + 1) % o.evalEvery === 0 || last || over) {
      ev = evaluate();
      console.log(
        `${o.algorithm} iter ${String(it + 1).padStart(4)}  train loss ${final.toFixed(4)}  test loss ${ev.loss.toFixed(4)}  ` +
          `test accuracy ${(100 * ev.acc).toFixed(1)} %  (${((performance.now() - t0) / 1000).toFixed(0)} s)`,
      );
    }
    if (over) {
      it++;
      break;
    }
  }
  const wall_s = (performance.now() - t0) / 1000;
  alg?.dispose();
  tf.dispose([test.x, test.y, test.targets]);
  for (const [, s] of net.states()) s.dispose();
  for (const [, s] of opt.states()) s.dispose();
  return {
    algorithm: o.algorithm,
    test_accuracy: ev.acc,
    test_loss: ev.loss,
    final_loss: final,
    iterations: it,
    wall_s,
    iter_ms: trainMs / Math.max(it, 1),
    peak_bytes: mem.peak,
    T,
    lag: o.lag,
    hidden: o.hidden,
    batch: o.batch,
  };
}

if (isMain(import.meta.url)) {
  const a = parseArgs(process.argv.slice(2));
  const num = (k: string, d: number) => (typeof a[k] === 'string' ? Number(a[k]) : d);
  const algorithm = (typeof a.algorithm === 'string' ? a.algorithm : 'd_rtrl') as OnlineAlgorithm;
  if (!ALGORITHMS.includes(algorithm)) {
    throw new Error(`--algorithm must be one of ${ALGORITHMS.join(', ')}, got '${algorithm}'`);
  }
  const r = trainCopyGru({
    algorithm,
    iters: num('iters', 200),
    lag: num('lag', 200),
    hidden: num('hidden', 200),
    batch: num('batch', 128),
    lr: num('lr', 1e-3),
    seed: num('seed', 0),
    decay: num('decay', 0.9),
    budgetS: num('budget-s', 540),
    evalEvery: num('eval-every', 20),
    testSize: num('test-size', 256),
  });
  console.log(
    `${r.algorithm}: test loss ${r.test_loss.toFixed(3)} (chance ln 8 = 2.079), accuracy ${(100 * r.test_accuracy).toFixed(1)} % ` +
      `(chance 12.5 %) after ${r.iterations} iterations, ${r.wall_s.toFixed(0)} s (${r.iter_ms.toFixed(0)} ms/iteration, T = ${r.T}), ` +
      `peak ${(r.peak_bytes / 2 ** 20).toFixed(1)} MiB`,
  );
  console.log(`RESULT ${JSON.stringify(r)}`);
}
