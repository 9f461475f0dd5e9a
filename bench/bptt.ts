/**
 * bench/bptt: one BPTT training step (forward through forLoop, backward, Adam update) of the
 * recurrent LIF SNN of examples/rsnn.ts: batch 64, input 100, hidden 256 and 1024, 10 outputs,
 * T = 100 and 500. Reports the step time (min over reps) and the peak tensor bytes (tfjs's
 * counter, and the bytes of distinct buffers). Peers on the
 * same 2-core machine: PyTorch 1.13 CPU 0.13 s (H256,T100), 2.5 s (H1024,T100), 0.60 s
 * (H256,T500), 7.5 s (H1024,T500); brainstate 0.5.4 on JAX CPU 0.126 s (H256,T100).
 *
 *   npx tsx bench/bptt.ts [--configs 256x100,1024x100,256x500,1024x500] [--batch 64] [--reps 3]
 *                         [--checkpoint]   (recompute the loop in chunks: checkpointedForLoop,
 *                                           base 16; automatic past ~2 GB of plain BPTT buffers)
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
  /** Peak of tfjs's byte counter (counts every tensor, also those sharing a buffer). */
  peak_bytes: number;
  /** Peak bytes of distinct buffers (what the step really holds; see peakBufferBytes). */
  peak_buffer_bytes: number;
  loss: number;
  checkpointed: boolean;
}

const PYTORCH: Record<string, number> = {
  '256x100': 0.13,
  '1024x100': 2.5,
  '256x500': 0.6,
  '1024x500': 7.5,
};

interface EngineBuffers {
  state: { tensorInfo: { has(dataId: object): boolean } };
  trackTensor(a: tf.Tensor, backend: unknown): void;
  removeDataId(dataId: object, backend: unknown): void;
}

/**
 * Peak bytes of the distinct tensor buffers allocated while `fn` runs (relative to before).
 * tfjs's own counter (`tf.memory().numBytes`, bench/common peakBytes) adds a tensor's size for
 * every tensor, so tensors sharing one buffer (reshapes, the tape's saved inputs) count many
 * times; here a buffer counts once, from the tensor that created it until the backend frees it.
 */
export function peakBufferBytes(fn: () => void): number {
  const e = tf.engine() as unknown as EngineBuffers;
  const sizes = new WeakMap<object, number>();
  let live = 0;
  let peak = 0;
  const track = e.trackTensor;
  const remove = e.removeDataId;
  e.trackTensor = function (this: EngineBuffers, a: tf.Tensor, backend: unknown) {
    const fresh = !this.state.tensorInfo.has(a.dataId);
    track.call(this, a, backend);
    if (fresh && a.dtype !== 'string' && a.dtype !== 'complex64') {
      const b = a.size * (a.dtype === 'bool' ? 1 : 4);
      sizes.set(a.dataId, b);
      live += b;
      if (live > peak) peak = live;
    }
  };
  e.removeDataId = function (this: EngineBuffers, dataId: object, backend: unknown) {
    const b = sizes.get(dataId);
    if (b !== undefined) {
      live -= b;
      sizes.delete(dataId);
    }
    remove.call(this, dataId, backend);
  };
  try {
    fn();
  } finally {
    e.trackTensor = track;
    e.removeDataId = remove;
  }
  return peak;
}

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
      () =>
        losses.softmaxCrossEntropy(
          tf.mean(net.forward(xs, c.checkpointed ? { checkpoint: 16 } : {}), 0),
          labels,
        ),
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
  const bufferPeak = peakBufferBytes(step);
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
    peak_buffer_bytes: bufferPeak,
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
    // plain BPTT keeps every step's saved activations: ~hidden·batch·T·40 bytes of buffers
    // (1.2 GB measured at H1024·T500); past ~2 GB recompute in chunks instead
    const checkpointed = a.checkpoint === true || hidden * batch * T * 40 > 2e9;
    rows.push(bpttStep({ hidden, T, batch, input: 100, output: 10, reps, checkpointed }));
    console.error(`done H${hidden} T${T}`);
  }
  printTable(`BPTT train step, recurrent LIF SNN, B${batch} I100 O10, Adam (${getPlatform()})`, [
    ...rows.map((r) => ({
      hidden: r.hidden,
      T: r.T,
      step_s: r.step_s,
      peak_MiB: r.peak_bytes / 2 ** 20,
      buffers_MiB: r.peak_buffer_bytes / 2 ** 20,
      checkpointed: r.checkpointed ? 'yes' : 'no',
      pytorch_1_13_cpu_s: PYTORCH[`${r.hidden}x${r.T}`] ?? NaN,
    })),
  ]);
  console.log(`wrote ${writeResults('bptt', { platform: getPlatform(), rows })}`);
  for (const r of rows) {
    console.log(
      `RESULT ${JSON.stringify({ hidden: r.hidden, T: r.T, batch: r.batch, step_s: r.step_s, peak_bytes: r.peak_bytes, peak_buffer_bytes: r.peak_buffer_bytes, checkpointed: r.checkpointed })}`,
    );
  }
}
