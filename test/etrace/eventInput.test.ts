/**
 * etrace `eventInput` (MatMulOp forward by the event walk of src/backend/eventMatMul.ts, on the
 * Linear and the LeakyRateReadout) inside the online learners: the LIF_Delta_Net of
 * examples/online-evidence.ts with the event products gives the same per-step outputs and
 * gradients as with the dense products (equal up to float32 summation order: 1e-5 relative),
 * under ES_D_RTRL and D_RTRL; the compiled graph is the same (showGraph); memory is flat over the
 * steps.
 */
import { describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf';
import * as environ from '../../src/environ';
import { D_RTRL, ES_D_RTRL, type ETraceVjpAlgorithm } from '../../src/etrace';
import { LeakyRateReadout, Linear } from '../../src/etrace/nn';
import { initAllStates } from '../../src/graph';
import * as random from '../../src/random';
import { grad } from '../../src/augment';
import { ParamState } from '../../src/state';
import { ArgumentError } from '../../src/errors';
import { ETraceRSNN } from '../../examples/online-evidence';
import { expectClose } from '../nn/layersHelpers';

const [B, I, H, O, T] = [8, 20, 32, 4, 12];

type Grads = Record<string, tf.Tensor | Record<string, tf.Tensor>>;

function leaves(g: Grads): [string, tf.Tensor][] {
  const out: [string, tf.Tensor][] = [];
  for (const [k, v] of Object.entries(g)) {
    if (v instanceof tf.Tensor) out.push([k, v]);
    else for (const [kk, t] of Object.entries(v)) out.push([`${k}.${kk}`, t]);
  }
  return out;
}

/** Per step: the output and the flattened gradients of a linear function of the output. */
function run(
  eventInput: boolean,
  make: (net: ETraceRSNN) => ETraceVjpAlgorithm,
  xs: tf.Tensor,
  onStep?: (t: number) => void,
): { graph: string; outs: Float32Array[]; grads: Map<string, Float32Array>[] } {
  random.seed(3);
  environ.set({ dt: 1 });
  const net = new ETraceRSNN({ nIn: I, nHidden: H, nOut: O, gain: 6, eventInput });
  initAllStates(net, { batchSize: B });
  const weights = net.states(ParamState);
  const alg = make(net);
  const x0 = tf.tidy(() => tf.gather(xs, 0));
  alg.compileGraph(x0);
  x0.dispose();
  const outs: Float32Array[] = [];
  const grads: Map<string, Float32Array>[] = [];
  for (let t = 0; t < xs.shape[0]; t++) {
    const x = tf.tidy(() => tf.gather(xs, t));
    let out: Float32Array | null = null;
    const [g, l] = grad(
      () => {
        const y = alg.update(x);
        out = y.dataSync().slice() as Float32Array;
        return tf.sum(tf.mul(y, tf.linspace(-1, 1, O)));
      },
      { gradStates: weights, returnValue: true },
    )() as unknown as [Grads, tf.Tensor];
    outs.push(out!);
    grads.push(new Map(leaves(g).map(([k, v]) => [k, v.dataSync().slice() as Float32Array])));
    tf.dispose([x, l, g as unknown as tf.Tensor]);
    onStep?.(t);
  }
  const graph = alg.showGraph();
  alg.dispose();
  for (const [, s] of net.states()) s.dispose();
  return { graph, outs, grads };
}

describe('etrace eventInput in the online learners', () => {
  const algs: [string, (n: ETraceRSNN) => ETraceVjpAlgorithm][] = [
    ['ES_D_RTRL', (n) => new ES_D_RTRL(n, { decay: 0.9 })],
    ['D_RTRL', (n) => new D_RTRL(n)],
  ];
  for (const [name, make] of algs) {
    it(`${name}: outputs and gradients equal the dense products' (1e-5 relative), same graph`, () => {
      const xs = tf.tidy(() =>
        tf.cast(tf.less(tf.randomUniform([T, B, I], 0, 1, 'float32', 11), 0.2), 'float32'),
      );
      const ev = run(true, make, xs);
      const de = run(false, make, xs);
      xs.dispose();
      expect(ev.graph).toBe(de.graph);
      let nonZero = 0;
      for (let t = 0; t < T; t++) {
        expectClose(ev.outs[t], de.outs[t], 1e-5, 1e-6, `${name} output step ${t}`);
        expect([...ev.grads[t].keys()]).toEqual([...de.grads[t].keys()]);
        for (const [k, v] of de.grads[t]) {
          const e = ev.grads[t].get(k)!;
          const scale = Math.max(...Array.from(v, Math.abs));
          if (scale > 0) nonZero++;
          // relative to the gradient's size (sums of many terms in another order)
          expectClose(e, v, 1e-5, 1e-5 * scale, `${name} grad ${k} step ${t}`);
        }
      }
      expect(nonZero).toBeGreaterThan(T); // the check compared non-zero gradients
    });
  }

  it('memory is flat over the steps (ES_D_RTRL, eventInput)', () => {
    const xs = tf.tidy(() =>
      tf.cast(tf.less(tf.randomUniform([T, B, I], 0, 1, 'float32', 12), 0.2), 'float32'),
    );
    const counts: number[] = [];
    run(
      true,
      (n) => new ES_D_RTRL(n, { decay: 0.9 }),
      xs,
      () => counts.push(tf.memory().numTensors),
    );
    xs.dispose();
    expect(new Set(counts.slice(2)).size).toBe(1);
  });

  it('Linear and LeakyRateReadout reject a non-boolean eventInput before allocating anything', () => {
    const before = tf.memory().numTensors;
    const bad = 'yes' as unknown as boolean;
    expect(() => new Linear(3, 2, { eventInput: bad })).toThrow(ArgumentError);
    expect(() => new LeakyRateReadout(3, 2, { eventInput: bad })).toThrow(ArgumentError);
    expect(tf.memory().numTensors).toBe(before);
    const l = new Linear(3, 2, { eventInput: true });
    const r = new LeakyRateReadout(3, 2, { eventInput: true });
    const d = new Linear(3, 2);
    const flag = (p: unknown) => (p as { op: { eventInput: boolean } }).op.eventInput;
    expect(flag(l.weight)).toBe(true);
    expect(flag(r.weight)).toBe(true);
    expect(flag(d.weight)).toBe(false);
    l.dispose();
    r.dispose();
    d.dispose();
  });
});
