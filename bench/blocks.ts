/**
 * bench/blocks: multi-step compilation. A LIF step (N = 4000, an input row per step from
 * xs [T, N]) over T steps three ways: an eager forLoop, a loop of jitted calls, and
 * `forLoop(jit(step), xs)`, which runs step 0 as a jitted call and the other T − 1 steps in one
 * block call (block.ts: fused kernel in place on ping-pong state buffers, the xs row copied in,
 * the spikes written straight into the stacked ys). Reports µs per step (min over reps).
 *
 *   npx tsx bench/blocks.ts [--n 4000] [--T 2000] [--reps 5]
 */
import { tf } from '../src/backend/tf';
import { getPlatform } from '../src/backend/platform';
import { forLoop, jit } from '../src/compile';
import { HiddenState } from '../src/state';
import * as random from '../src/random';
import { interleave, isMain, parseArgs, printTable, writeResults } from './common';

export interface BlocksBenchOptions {
  n: number;
  T: number;
  reps: number;
}

export function blocksBench(o: BlocksBenchOptions) {
  random.seed(0);
  const V = new HiddenState(random.normal(-55, 2, [o.n]), { name: 'V' });
  const xs = tf.tidy(() => tf.add(20, random.normal(0, 5, [o.T, o.n])));
  const step = (inp: tf.Tensor) => {
    const v = tf.add(V.value, tf.mul(0.1 / 20, tf.sub(tf.add(-60, inp), V.value)));
    const spike = tf.cast(tf.greaterEqual(v, -50), 'float32');
    V.value = tf.where(tf.cast(spike, 'bool'), tf.fill([o.n], -60), v);
    return spike;
  };
  const jitted = jit(step, { name: 'lif_step_blocks' });
  const rows = tf.tidy(() => tf.unstack(xs));
  const eager = () => tf.dispose(forLoop(step, xs));
  const calls = () => {
    for (const r of rows) jitted(r).dispose();
  };
  const blocks = () => tf.dispose(forLoop(jitted, xs));
  const t = interleave({ eager, calls, blocks }, o.reps);
  // the three give the same spikes from the same start
  const start = tf.clone(V.value);
  V.value = tf.clone(start);
  const a = forLoop(step, xs);
  V.value = tf.clone(start);
  const b = forLoop(jitted, xs);
  const maxDiff = tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
  const spikes = tf.tidy(() => tf.sum(b).dataSync()[0]);
  tf.dispose([a, b, start, xs, ...rows]);
  V.dispose();
  const per = (ms: number) => (ms * 1000) / o.T;
  return {
    platform: getPlatform(),
    n: o.n,
    T: o.T,
    eager_us_per_step: per(t.eager.min_ms),
    jit_calls_us_per_step: per(t.calls.min_ms),
    block_us_per_step: per(t.blocks.min_ms),
    block_speedup_vs_eager: t.eager.min_ms / t.blocks.min_ms,
    jit_calls_speedup_vs_eager: t.eager.min_ms / t.calls.min_ms,
    max_abs_diff_vs_eager: maxDiff,
    spikes,
  };
}

if (isMain(import.meta.url)) {
  const a = parseArgs(process.argv.slice(2));
  const num = (k: string, d: number) => (typeof a[k] === 'string' ? Number(a[k]) : d);
  const r = blocksBench({ n: num('n', 4000), T: num('T', 2000), reps: num('reps', 5) });
  printTable(`LIF step, N = ${r.n}, T = ${r.T} (${r.platform}): µs per step`, [
    { variant: 'eager forLoop', us_per_step: r.eager_us_per_step.toFixed(2), speedup: '1.0' },
    {
      variant: 'jitted call per step',
      us_per_step: r.jit_calls_us_per_step.toFixed(2),
      speedup: r.jit_calls_speedup_vs_eager.toFixed(1),
    },
    {
      variant: 'forLoop(jit(step)) in blocks',
      us_per_step: r.block_us_per_step.toFixed(2),
      speedup: r.block_speedup_vs_eager.toFixed(1),
    },
  ]);
  console.log(`max |blocks − eager| = ${r.max_abs_diff_vs_eager}, ${r.spikes} spikes`);
  writeResults('blocks', r);
  console.log(`RESULT ${JSON.stringify(r)}`);
}
