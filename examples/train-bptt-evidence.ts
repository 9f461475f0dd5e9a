/**
 * Train a recurrent LIF SNN with BPTT on a shortened evidence-accumulation (cue) task
 * (Bellec et al. 2020): 7 cues of 10 ms from a left or right Poisson population, a 50 ms delay,
 * a 20 ms recall period; answer the side that had more cues. The loss is the softmax
 * cross-entropy of the leaky readout averaged over the recall period. Prints progress, writes
 * loss/accuracy plots to out/, ends with one `RESULT {json}` line.
 *
 *   npx tsx examples/train-bptt-evidence.ts [--iters 400] [--batch 64] [--hidden 100] [--seed 0]
 *                                           [--budget-s 540] [--target 0.95] [--no-plot]
 */
import { mkdirSync } from 'node:fs';
import {
  data,
  environ,
  grad,
  initAllStates,
  losses,
  optim,
  ParamState,
  random,
  tf,
  viz,
} from '../src';
import { isMain, parseArgs } from '../bench/common';
import { RSNN } from './rsnn';

export interface EvidenceOptions {
  iters: number;
  batch: number;
  hidden: number;
  seed: number;
  /** Stop when this much wall time (s) has passed. */
  budgetS: number;
  /** Stop early once the test accuracy reaches this. */
  target: number;
  evalEvery: number;
  testSize: number;
  plots: boolean;
  /** A shorter task for smoke tests. */
  small?: boolean;
}

export interface EvidenceResult {
  test_accuracy: number;
  train_loss: number;
  iterations: number;
  wall_s: number;
  T: number;
  hidden: number;
}

export async function trainEvidence(o: EvidenceOptions): Promise<EvidenceResult> {
  const t0 = performance.now();
  random.seed(o.seed);
  environ.set({ dt: 1 });
  const task = new data.EvidenceAccumulation(
    o.small
      ? { cueSteps: 4, gapSteps: 2, delaySteps: 6, recallSteps: 6, nCues: 3, seed: o.seed }
      : { cueSteps: 10, gapSteps: 5, delaySteps: 50, recallSteps: 20, seed: o.seed },
  );
  const recall = o.small ? 6 : 20;
  const net = new RSNN({ nIn: task.nIn, nHidden: o.hidden, nOut: 2, tau: 20, tauOut: 20 });
  const weights = net.states(ParamState);
  const opt = new optim.Adam({ lr: 5e-3 });
  opt.registerTrainableWeights(weights);

  /** Mean readout over the recall period: [B, 2]. */
  const logitsOf = (x: tf.Tensor) => {
    const ys = net.forward(x);
    return tf.mean(ys.slice([task.T - recall, 0, 0], [recall, -1, -1]), 0);
  };
  const test = task.testSet(o.testSize);
  const evaluate = (): number => {
    initAllStates(net, { batchSize: o.testSize });
    return tf.tidy(() => losses.accuracy(logitsOf(test.x), test.y).dataSync()[0]);
  };

  const curve: { it: number; loss: number; acc: number | null }[] = [];
  let acc = 0;
  let lossValue = NaN;
  let it = 0;
  for (; it < o.iters; it++) {
    const { x, y } = task.batch(o.batch);
    initAllStates(net, { batchSize: o.batch });
    const [grads, loss] = grad(() => losses.softmaxCrossEntropy(logitsOf(x), y), {
      gradStates: weights,
      returnValue: true,
    })();
    opt.update(grads);
    lossValue = loss.dataSync()[0];
    tf.dispose([...Object.values(grads), loss, x, y]);
    let testAcc: number | null = null;
    if ((it + 1) % o.evalEvery === 0 || it === o.iters - 1) {
      testAcc = acc = evaluate();
      console.log(
        `iter ${String(it + 1).padStart(4)}  loss ${lossValue.toFixed(4)}  test accuracy ${(100 * acc).toFixed(1)} %  (${((performance.now() - t0) / 1000).toFixed(0)} s)`,
      );
    }
    curve.push({ it: it + 1, loss: lossValue, acc: testAcc });
    if (testAcc !== null && testAcc >= o.target) {
      it++;
      break;
    }
    if ((performance.now() - t0) / 1000 > o.budgetS) {
      it++;
      acc = evaluate();
      break;
    }
  }
  const wall_s = (performance.now() - t0) / 1000;
  if (o.plots) {
    mkdirSync('out', { recursive: true });
    await viz.linePlot(
      curve.map((c) => c.it),
      curve.map((c) => c.loss),
      {
        file: 'out/evidence-loss.png',
        xlabel: 'Iteration',
        ylabel: 'Cross-entropy',
        title: 'BPTT on the evidence task: training loss',
      },
    );
    const evals = curve.filter((c) => c.acc !== null);
    await viz.linePlot(
      evals.map((c) => c.it),
      evals.map((c) => 100 * (c.acc as number)),
      {
        file: 'out/evidence-accuracy.png',
        xlabel: 'Iteration',
        ylabel: 'Test accuracy (%)',
        title: 'BPTT on the evidence task: test accuracy',
      },
    );
  }
  tf.dispose([test.x, test.y]);
  for (const [, s] of net.states()) s.dispose();
  for (const [, s] of opt.states()) s.dispose();
  return {
    test_accuracy: acc,
    train_loss: lossValue,
    iterations: it,
    wall_s,
    T: task.T,
    hidden: o.hidden,
  };
}

if (isMain(import.meta.url)) {
  const a = parseArgs(process.argv.slice(2));
  const num = (k: string, d: number) => (typeof a[k] === 'string' ? Number(a[k]) : d);
  const r = await trainEvidence({
    iters: num('iters', 400),
    batch: num('batch', 64),
    hidden: num('hidden', 100),
    seed: num('seed', 0),
    budgetS: num('budget-s', 540),
    target: num('target', 0.95),
    evalEvery: num('eval-every', 20),
    testSize: num('test-size', 512),
    plots: !a['no-plot'],
  });
  console.log(
    `final test accuracy ${(100 * r.test_accuracy).toFixed(1)} % after ${r.iterations} iterations, ${r.wall_s.toFixed(0)} s (T = ${r.T})`,
  );
  console.log(`RESULT ${JSON.stringify(r)}`);
}
