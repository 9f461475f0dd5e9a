/**
 * Train a spiking MLP with BPTT on Poisson-encoded MNIST (the 10 000 digits of the `mnist`
 * package, split 8000 / 2000): 784 Poisson inputs → Linear → 512 LIF neurons (surrogate
 * spikes) → leaky rate readout (10), T = 25 steps of 1 ms, pixel rates up to 200 Hz. The loss is
 * the cross-entropy of the readout averaged over time. Prints progress, writes loss/accuracy
 * plots to out/, ends with one `RESULT {json}` line.
 *
 *   npx tsx examples/train-bptt-mnist.ts [--epochs 8] [--batch 100] [--hidden 512] [--T 25]
 *                                        [--seed 0] [--lr 2e-3] [--budget-s 540] [--no-plot]
 */
import { mkdirSync } from 'node:fs';
import {
  data,
  environ,
  forLoop,
  grad,
  initAllStates,
  losses,
  nn,
  optim,
  ParamState,
  random,
  surrogate,
  tf,
  viz,
} from '../src';
import { isMain, parseArgs } from '../bench/common';

/** Poisson spikes → Linear → LIF → leaky readout. */
export class SpikingMLP extends nn.Module {
  fc: nn.Linear;
  neu: nn.LIF;
  out: nn.LeakyRateReadout;
  constructor(nIn: number, nHidden: number, nOut: number) {
    super();
    this.fc = new nn.Linear(nIn, nHidden, { wInit: nn.init.KaimingNormal(4) });
    this.neu = new nn.LIF(nHidden, {
      tau: 10,
      V_th: 1,
      spkFun: new surrogate.ReluGrad(),
      spkReset: 'soft',
    });
    this.out = new nn.LeakyRateReadout(nHidden, nOut, { tau: 10 });
  }
  override update(x: tf.Tensor): tf.Tensor {
    return this.out.call(this.neu.call(this.fc.call(x)));
  }
  /** Mean readout over time of spikes xs [T, B, 784] → logits [B, 10]. */
  logits(xs: tf.Tensor): tf.Tensor {
    return tf.mean(forLoop((x: tf.Tensor) => this.update(x), xs) as tf.Tensor, 0);
  }
}

export interface MnistTrainOptions {
  epochs: number;
  batch: number;
  hidden: number;
  T: number;
  seed: number;
  budgetS: number;
  plots: boolean;
  /** Adam learning rate (default 2e-3). */
  lr?: number;
  /** Use only this many training / test images (smoke tests). */
  trainLimit?: number;
  testLimit?: number;
}

export interface MnistTrainResult {
  test_accuracy: number;
  train_loss: number;
  epochs: number;
  iterations: number;
  wall_s: number;
}

export async function trainMnist(o: MnistTrainOptions): Promise<MnistTrainResult> {
  const t0 = performance.now();
  random.seed(o.seed);
  environ.set({ dt: 1 });
  const mnist = await data.loadMnist();
  const net = new SpikingMLP(784, o.hidden, 10);
  const weights = net.states(ParamState);
  const opt = new optim.Adam({ lr: o.lr ?? 2e-3 });
  opt.registerTrainableWeights(weights);
  const encode = (x: tf.Tensor) => data.poissonEncode(x, o.T, 200, 1);

  const testN = Math.min(o.testLimit ?? mnist.test.size, mnist.test.size);
  const evaluate = (): number => {
    let correct = 0;
    for (let s = 0; s < testN; s += 500) {
      const { x, y } = mnist.test.tensors(s, Math.min(s + 500, testN));
      const xs = encode(x);
      initAllStates(net, { batchSize: x.shape[0] });
      correct += tf.tidy(() => losses.accuracy(net.logits(xs), y).dataSync()[0]) * x.shape[0];
      tf.dispose([x, y, xs]);
    }
    return correct / testN;
  };

  const curve: { it: number; loss: number }[] = [];
  const accCurve: { epoch: number; acc: number }[] = [];
  let it = 0;
  let lossValue = NaN;
  let acc = 0;
  let epoch = 0;
  const trainN = Math.min(o.trainLimit ?? mnist.train.size, mnist.train.size);
  const train =
    trainN < mnist.train.size
      ? new data.MnistSplit(
          mnist.train.features.subarray(0, trainN * 784),
          mnist.train.labels.subarray(0, trainN),
        )
      : mnist.train;
  const loader = train.loader({ batchSize: o.batch, seed: o.seed });
  outer: for (; epoch < o.epochs;) {
    for (const { x, y } of loader) {
      const xs = encode(x);
      initAllStates(net, { batchSize: x.shape[0] });
      const [grads, loss] = grad(() => losses.softmaxCrossEntropy(net.logits(xs), y), {
        gradStates: weights,
        returnValue: true,
      })();
      opt.update(grads);
      lossValue = loss.dataSync()[0];
      tf.dispose([...Object.values(grads), loss, x, y, xs]);
      curve.push({ it: ++it, loss: lossValue });
      if (it % 20 === 0) {
        console.log(
          `epoch ${epoch + 1} iter ${it}  loss ${lossValue.toFixed(4)}  (${((performance.now() - t0) / 1000).toFixed(0)} s)`,
        );
      }
      if ((performance.now() - t0) / 1000 > o.budgetS) {
        // out of time within an epoch: evaluate what was trained
        acc = evaluate();
        accCurve.push({ epoch: epoch + 1, acc });
        console.log(`time budget reached: test accuracy ${(100 * acc).toFixed(2)} %`);
        break outer;
      }
    }
    epoch++;
    acc = evaluate();
    accCurve.push({ epoch, acc });
    console.log(
      `epoch ${epoch}: test accuracy ${(100 * acc).toFixed(2)} %  (${((performance.now() - t0) / 1000).toFixed(0)} s)`,
    );
  }
  const wall_s = (performance.now() - t0) / 1000;
  if (o.plots) {
    mkdirSync('out', { recursive: true });
    await viz.linePlot(
      curve.map((c) => c.it),
      curve.map((c) => c.loss),
      {
        file: 'out/mnist-loss.png',
        xlabel: 'Iteration',
        ylabel: 'Cross-entropy',
        title: 'Spiking MLP on Poisson MNIST: training loss',
      },
    );
    await viz.linePlot(
      accCurve.map((c) => c.epoch),
      accCurve.map((c) => 100 * c.acc),
      {
        file: 'out/mnist-accuracy.png',
        xlabel: 'Epoch',
        ylabel: 'Test accuracy (%)',
        title: 'Spiking MLP on Poisson MNIST: test accuracy',
      },
    );
  }
  for (const [, s] of net.states()) s.dispose();
  for (const [, s] of opt.states()) s.dispose();
  return {
    test_accuracy: acc,
    train_loss: lossValue,
    epochs: accCurve.length,
    iterations: it,
    wall_s,
  };
}

if (isMain(import.meta.url)) {
  const a = parseArgs(process.argv.slice(2));
  const num = (k: string, d: number) => (typeof a[k] === 'string' ? Number(a[k]) : d);
  const r = await trainMnist({
    epochs: num('epochs', 8),
    batch: num('batch', 100),
    hidden: num('hidden', 512),
    T: num('T', 25),
    seed: num('seed', 0),
    budgetS: num('budget-s', 540),
    lr: num('lr', 2e-3),
    plots: !a['no-plot'],
  });
  console.log(
    `final test accuracy ${(100 * r.test_accuracy).toFixed(2)} % after ${r.epochs} epochs (${r.iterations} iterations), ${r.wall_s.toFixed(0)} s`,
  );
  console.log(`RESULT ${JSON.stringify(r)}`);
}
