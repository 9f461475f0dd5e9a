/**
 * bench/fusion: one LIF step (7 tfjs kernels: V·e + I·(1 − e), spike(V − θ), V − θ·spike) eager
 * vs the fused kernel that src/compile/fusion generates from its recorded IR (issue 7):
 * - eager: the step's tfjs kernels (inside tf.tidy, the old V disposed),
 * - fused, registered: one `BstFused_…` tfjs kernel call (allocates the 2 outputs),
 * - fused, in place: the kernel's wasm function called on the existing V and spike buffers
 *   (`bindFusedInPlace`: no tfjs dispatch, no allocation),
 * - the same two with the generated JS kernel instead of wasm SIMD (wasm platform only).
 * µs per step, median / min over interleaved rounds, at N = 4000 and N = 100 000 (`--sizes`).
 * Checks that every variant's step equals the eager step bit for bit.
 * Usage: npx tsx bench/fusion.ts [--platform wasm|cpu] [--sizes 4000,100000] [--reps 15] [--save]
 * (`--save` writes bench/results/fusion-<platform>.json)
 */
import { tf } from '../src/backend/tf';
import { getPlatform, isPlatform, setPlatform } from '../src/backend/platform';
import { makeIR } from '../src/compile';
import {
  bindFusedInPlace,
  compileGroup,
  fusedImplementation,
  partition,
  runFused,
  setFusionWasmMode,
  wasmSimdSupported,
  type FusedKernel,
} from '../src/compile/fusion';
import { runSpike } from '../src/surrogate/kernels';
import { interleave, isMain, parseArgs, printTable, writeResults, type Timing } from './common';

const DECAY = Math.exp(-0.1 / 10);
const V_TH = 1;

/** One LIF step with soft reset: 7 kernels. */
export function lifStep(V: tf.Tensor, I: tf.Tensor): [tf.Tensor, tf.Tensor] {
  const v = tf.add(tf.mul(V, DECAY), tf.mul(I, 1 - DECAY));
  const s = runSpike(tf.sub(v, V_TH), 'ReluGrad', [0.3, 1]);
  return [s, tf.sub(v, tf.mul(s, V_TH))];
}

export interface FusionBenchOptions {
  sizes: number[];
  reps: number;
}

export const FULL: FusionBenchOptions = { sizes: [4000, 100_000], reps: 15 };

export interface FusionBenchSize {
  n: number;
  steps_per_round: number;
  kernels_eager: number;
  eager_us: number;
  fused_registered_us: number;
  fused_inplace_us: number;
  fused_js_registered_us: number | null;
  fused_js_inplace_us: number | null;
  /** eager / fused, medians. */
  speedup_registered: number;
  speedup_inplace: number;
  /** Largest |difference| of one step's V and spikes between any variant and eager. */
  max_abs_diff: number;
  min_us: Record<string, number>;
}

export interface FusionBenchResult {
  platform: string;
  wasm_simd: boolean;
  implementation: string;
  wasm_module_bytes: number;
  sizes: FusionBenchSize[];
}

function perStep(t: Timing, steps: number): { median: number; min: number } {
  return { median: (t.median_ms * 1000) / steps, min: (t.min_ms * 1000) / steps };
}

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  const x = a.dataSync();
  const y = b.dataSync();
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i] - y[i]));
  return m;
}

/** The fused kernel of the LIF step at size n, with its inputs in [V, I] order. */
function fusedLif(n: number): { kernel: FusedKernel; order: number[] } {
  const V = tf.zeros([n]);
  const I = tf.zeros([n]);
  const program = makeIR(lifStep, { name: 'lif' })(V, I);
  const plan = partition(program);
  if (plan.groups.length !== 1 || plan.unfused.length !== 0) {
    throw new Error(`bench/fusion: expected one fused group, got\n${plan.toString()}`);
  }
  const g = plan.groups[0];
  const kernel = compileGroup(g);
  const vars = program.inputs.map((i) => i.var);
  // outputs must be [spike, V']
  const [sVar, vVar] = program.outputs.map((o) => o.var);
  if (g.outputs[0] !== sVar || g.outputs[1] !== vVar) throw new Error('unexpected output order');
  tf.dispose([V, I]);
  return { kernel, order: g.inputs.map((v) => vars.indexOf(v)) };
}

function benchSize(n: number, reps: number): FusionBenchSize {
  const steps = Math.max(5, Math.round(2_000_000 / n));
  const { kernel, order } = fusedLif(n);
  const I = tf.tidy(() => tf.mul(tf.randomNormal([n], 1, 1, 'float32', 1), 0.5));
  const V0 = tf.tidy(() => tf.randomUniform([n], -0.5, 1, 'float32', 2));
  const ins = (V: tf.Tensor) => order.map((k) => [V, I][k]);
  const onWasm = getPlatform() === 'wasm';

  // correctness: one step of every variant against eager
  const [sE, vE] = tf.tidy(() => lifStep(V0, I));
  let diff = 0;
  const check = (s: tf.Tensor, v: tf.Tensor) => {
    diff = Math.max(diff, maxAbsDiff(s, sE), maxAbsDiff(v, vE));
  };
  const [sR, vR] = runFused(kernel, ins(V0));
  check(sR, vR);
  const Vp = tf.tensor1d(V0.dataSync().slice());
  const Sp = tf.zeros([n]);
  bindFusedInPlace(kernel, ins(Vp), [Sp, Vp])();
  check(Sp, Vp);
  tf.dispose([sR, vR, Vp, Sp]);

  // state per variant
  let Veager = V0.clone();
  let Vreg = V0.clone();
  let Vjs = V0.clone();
  const Vin = tf.tensor1d(V0.dataSync().slice());
  const Sin = tf.zeros([n]);
  const VinJs = tf.tensor1d(V0.dataSync().slice());
  const SinJs = tf.zeros([n]);
  const inPlace = bindFusedInPlace(kernel, ins(Vin), [Sin, Vin]);
  let inPlaceJs: (() => void) | null = null;
  if (onWasm) {
    const previous = setFusionWasmMode('js');
    inPlaceJs = bindFusedInPlace(kernel, ins(VinJs), [SinJs, VinJs]);
    setFusionWasmMode(previous);
  }

  const fns: Record<string, () => void> = {
    eager: () => {
      for (let k = 0; k < steps; k++) {
        const [s, v] = tf.tidy(() => lifStep(Veager, I));
        s.dispose();
        Veager.dispose();
        Veager = v;
      }
    },
    registered: () => {
      for (let k = 0; k < steps; k++) {
        const [s, v] = runFused(kernel, ins(Vreg));
        s.dispose();
        Vreg.dispose();
        Vreg = v;
      }
    },
    inplace: () => {
      for (let k = 0; k < steps; k++) inPlace();
    },
  };
  if (onWasm && inPlaceJs) {
    const js = inPlaceJs;
    fns.jsRegistered = () => {
      const previous = setFusionWasmMode('js');
      try {
        for (let k = 0; k < steps; k++) {
          const [s, v] = runFused(kernel, ins(Vjs));
          s.dispose();
          Vjs.dispose();
          Vjs = v;
        }
      } finally {
        setFusionWasmMode(previous);
      }
    };
    fns.jsInplace = () => {
      for (let k = 0; k < steps; k++) js();
    };
  }
  const before = tf.memory().numTensors;
  const timings = interleave(fns, reps, 2);
  if (tf.memory().numTensors !== before) throw new Error('bench/fusion: tensors leaked');
  const t = (name: string) => perStep(timings[name], steps);
  tf.dispose([I, V0, sE, vE, Veager, Vreg, Vjs, Vin, Sin, VinJs, SinJs]);
  const min_us: Record<string, number> = {};
  for (const k of Object.keys(fns)) min_us[k] = t(k).min;
  return {
    n,
    steps_per_round: steps,
    kernels_eager: 7,
    eager_us: t('eager').median,
    fused_registered_us: t('registered').median,
    fused_inplace_us: t('inplace').median,
    fused_js_registered_us: onWasm ? t('jsRegistered').median : null,
    fused_js_inplace_us: onWasm ? t('jsInplace').median : null,
    speedup_registered: t('eager').median / t('registered').median,
    speedup_inplace: t('eager').median / t('inplace').median,
    max_abs_diff: diff,
    min_us,
  };
}

/** Run the benchmark on the current platform; disposes everything it creates. */
export function runFusionBench(o: FusionBenchOptions): FusionBenchResult {
  const { kernel } = fusedLif(o.sizes[0]);
  const sizes = o.sizes.map((n) => benchSize(n, o.reps));
  return {
    platform: getPlatform(),
    wasm_simd: wasmSimdSupported(),
    implementation: fusedImplementation(kernel),
    wasm_module_bytes: kernel.wasm.bytes.length,
    sizes,
  };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (typeof args.platform === 'string') {
    if (!isPlatform(args.platform)) throw new Error(`unknown platform ${args.platform}`);
    await setPlatform(args.platform);
  }
  const o: FusionBenchOptions = {
    sizes: typeof args.sizes === 'string' ? args.sizes.split(',').map(Number) : FULL.sizes.slice(),
    reps: typeof args.reps === 'string' ? Number(args.reps) : FULL.reps,
  };
  const r = runFusionBench(o);
  const fmt = (x: number | null) => (x === null ? '–' : x);
  const rows = r.sizes.flatMap((s) => [
    { N: s.n, variant: 'eager tfjs (7 kernels)', median_us: s.eager_us, min_us: s.min_us.eager },
    {
      N: s.n,
      variant: 'fused, registered kernel',
      median_us: s.fused_registered_us,
      min_us: s.min_us.registered,
    },
    {
      N: s.n,
      variant: 'fused, in place',
      median_us: s.fused_inplace_us,
      min_us: s.min_us.inplace,
    },
    ...(s.fused_js_registered_us === null
      ? []
      : [
          {
            N: s.n,
            variant: 'fused JS, registered kernel',
            median_us: fmt(s.fused_js_registered_us),
            min_us: s.min_us.jsRegistered,
          },
          {
            N: s.n,
            variant: 'fused JS, in place',
            median_us: fmt(s.fused_js_inplace_us),
            min_us: s.min_us.jsInplace,
          },
        ]),
  ]);
  printTable(
    `LIF step, eager vs fused, ${r.platform} (${r.implementation}; module ${r.wasm_module_bytes} B), µs per step`,
    rows as Record<string, string | number>[],
  );
  for (const s of r.sizes) {
    console.log(
      `N=${s.n}: speedup ${s.speedup_registered.toFixed(1)}× registered, ` +
        `${s.speedup_inplace.toFixed(1)}× in place; max |diff| vs eager ${s.max_abs_diff}`,
    );
  }
  if (args.save === true) console.log(`wrote ${writeResults(`fusion-${r.platform}`, r)}`);
  console.log(`RESULT ${JSON.stringify(r)}`);
}

if (isMain(import.meta.url)) await main();
