/**
 * Block execution (src/compile/block.ts): runs of many steps of a jitted step per call must
 * leave states, monitors and random streams exactly as the step-by-step replay and the eager
 * step do; blockers are reported; nothing leaks. The nonzero scan (heapScan.ts) agrees with a
 * JS loop and its wasm binary is its WAT source.
 */
import { expectAssembled } from '../assembled';
import { beforeEach, describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf';
import { buildBlock, StepBlock } from '../../src/compile/block';
import { NonzeroScanner } from '../../src/compile/heapScan';
import { SCAN_WAT } from '../../src/compile/heapScanSource';
import { SCAN_WASM_BASE64 } from '../../src/compile/heapScanBinary';
import { jit } from '../../src/compile/jit';
import { forLoop } from '../../src/compile/loops';
import { ProgressBar, type ProgressWriter } from '../../src/compile/progress';
import * as environ from '../../src/environ';
import { ArgumentError } from '../../src/errors';
import { Module } from '../../src/graph';
import { PoissonSpike, sectionInput } from '../../src/nn/inputs';
import { Runner, SpikeEvents, Trace } from '../../src/nn/runner';
import * as random from '../../src/random';
import { ShortTermState } from '../../src/state';
import { EINet } from '../../examples/ei-coba';
import { ToyLIF, ToyNet } from '../nn/runnerFixtures';

beforeEach(() => {
  environ.set({ dt: 0.1 });
  random.seed(7);
});

type Mode = 'blocks' | 'chunked' | 'steps' | 'eager';
/** 'chunked': blocks of `blockSteps` steps (a progress bar is shown, to a silent writer). */
const silent: ProgressWriter = { start: () => {}, update: () => {}, stop: () => {} };
const modeOptions = (m: Mode) =>
  m === 'blocks'
    ? {}
    : m === 'chunked'
      ? { progressBar: new ProgressBar({ writer: silent }) }
      : m === 'steps'
        ? { blocks: false }
        : { jit: false };

function eventsOf(e: SpikeEvents) {
  return { steps: Array.from(e.steps), indices: Array.from(e.indices) };
}

describe('block execution', () => {
  it('E/I COBA network: spike events and final states are bit-identical in blocks, step by step and eagerly', async () => {
    const run = async (mode: Mode) => {
      random.seed(3);
      const net = new EINet(0.25);
      const runner = new Runner(net, {
        monitors: ['E.spike', 'I.spike', 'E.V'],
        inputs: [
          ['E', 20],
          ['I', 20],
        ],
        blockSteps: 37,
        ...modeOptions(mode),
      });
      await runner.run(60);
      await runner.run(25); // a second run continues the time
      const out = {
        E: eventsOf(runner.mon['E.spike'] as SpikeEvents),
        I: eventsOf(runner.mon['I.spike'] as SpikeEvents),
        V: Array.from((runner.mon['E.V'] as Trace).data.slice(-800)),
        ts: Array.from(runner.mon.ts),
        finalV: Array.from(net.E.V.value.dataSync()),
        blocker: runner.blockBlocker,
      };
      tf.disposeVariables();
      return out;
    };
    const blocks = await run('blocks');
    expect(blocks.blocker).toBeNull();
    expect(blocks.E.steps.length).toBeGreaterThan(20); // the network is active
    const chunked = await run('chunked');
    const steps = await run('steps');
    const eager = await run('eager');
    for (const other of [chunked, steps, eager]) {
      expect(blocks.E).toEqual(other.E);
      expect(blocks.I).toEqual(other.I);
      expect(blocks.V).toEqual(other.V);
      expect(blocks.ts).toEqual(other.ts);
      expect(blocks.finalV).toEqual(other.finalV);
    }
  });

  it("value monitors, 'fix' and 'iter' inputs and a reduction kernel (dispatched in the block) match the eager run", async () => {
    const run = async (mode: Mode) => {
      const net = new ToyNet(5, 3, { tau: 10, V_th: 0.5, V_reset: 0 });
      const series = sectionInput([0.3, 2, 0.8], [4, 6, 10]);
      const runner = new Runner(net, {
        monitors: ['E.V', 'E.spike', 'I.V'],
        inputs: [
          ['E', 1.5],
          ['E.V', series, 'iter', '+'],
        ],
        blockSteps: 16,
        ...modeOptions(mode),
      });
      await runner.run(20);
      const out = {
        EV: Array.from((runner.mon['E.V'] as Trace).data),
        IV: Array.from((runner.mon['I.V'] as Trace).data),
        spikes: eventsOf(runner.mon['E.spike'] as SpikeEvents),
        blocker: runner.blockBlocker,
      };
      series.dispose();
      return out;
    };
    const blocks = await run('blocks');
    expect(blocks.blocker).toBeNull();
    expect(blocks.spikes.steps.length).toBeGreaterThan(0);
    expect(blocks).toEqual(await run('eager'));
  });

  it('random draws take fresh keys every step, exactly as the step-by-step replay does', async () => {
    class Driven extends Module {
      P = new PoissonSpike(50, 400);
      L = new ToyLIF(50, { tau: 5, V_th: 0.9 });
      override update(): void {
        this.P.call();
        this.L.call(tf.mul(this.P.spike.value, 4));
      }
    }
    const run = async (mode: Mode) => {
      random.seed(11);
      const net = new Driven();
      const runner = new Runner(net, {
        monitors: ['P.spike', 'L.spike'],
        blockSteps: 25,
        ...modeOptions(mode),
      });
      await runner.run(10);
      return {
        P: eventsOf(runner.mon['P.spike'] as SpikeEvents),
        L: eventsOf(runner.mon['L.spike'] as SpikeEvents),
        blocker: runner.blockBlocker,
      };
    };
    const blocks = await run('blocks');
    expect(blocks.blocker).toBeNull();
    const steps = await run('steps');
    expect(blocks).toEqual({ ...steps, blocker: null });
    // ~400 Hz · 0.1 ms · 50 neurons · 100 steps = 200 spikes, and different at every step
    expect(blocks.P.steps.length).toBeGreaterThan(120);
    expect(new Set(blocks.P.steps).size).toBeGreaterThan(60);
  });

  it('states written from each other (a swap) read their old values: ping-pong buffers', () => {
    class Swap extends Module {
      a = new ShortTermState<tf.Tensor>(tf.tensor1d([1, 2, 3]));
      b = new ShortTermState<tf.Tensor>(tf.tensor1d([10, 20, 30]));
      c = new ShortTermState<tf.Tensor>(tf.tensor1d([0, 0, 0]));
      override update(): void {
        const na = tf.mul(this.b.value, 2);
        const nb = tf.add(this.a.value, 1);
        this.a.value = na;
        this.b.value = nb;
        this.c.value = na; // the new a, through no kernel of its own
      }
    }
    const reference = new Swap();
    const expected = [];
    for (let k = 0; k < 7; k++) {
      reference.update();
      expected.push(Array.from(reference.a.value.dataSync()));
    }
    const m = new Swap();
    const step = jit(() => {
      m.update();
      return [m.a.value];
    });
    tf.dispose(step());
    const block = buildBlock(step.statefulFun, []);
    expect(block).toBeInstanceOf(StepBlock);
    const seen: number[][] = [];
    (block as StepBlock).run(6, {
      args: [],
      sink: (_k, r, io) => seen.push(Array.from(io.view(r[0]))),
    });
    expect(seen).toEqual(expected.slice(1));
    expect(Array.from(m.a.value.dataSync())).toEqual(expected[6]);
    expect(Array.from(m.c.value.dataSync())).toEqual(expected[6]);
    expect(Array.from(m.b.value.dataSync())).toEqual(Array.from(reference.b.value.dataSync()));
    (block as StepBlock).dispose();
  });

  it('reports why a run goes step by step: a function input, a JS-number read of t', async () => {
    const net = new ToyNet(3, 2, { tau: 10 });
    const r1 = new Runner(net, {
      monitors: ['E.V'],
      inputs: [['E', (t: number) => t / 10, 'func']],
    });
    await r1.run(2);
    expect(r1.blockBlocker).toMatch(/input 'E' is a function/);
    class ReadsT extends Module {
      L = new ToyLIF(3, { tau: 10 });
      override update(): void {
        this.L.call(environ.get<number>('t') / 100);
      }
    }
    const net2 = new ReadsT();
    const r2 = new Runner(net2, { monitors: ['L.V'] });
    await r2.run(2);
    expect(r2.blockBlocker).toMatch(/environ 't' as a JS number.*environ\.scalar\('t'\)/);
    // still exact: V follows the input t/100 step by step
    expect(r2.mon['L.V'].numSteps).toBe(20);
  });

  it('leaks no tensors over many block runs; bad n and missing arguments are ArgumentErrors', async () => {
    const net = new EINet(0.1);
    const runner = new Runner(net, { monitors: ['E.spike', 'E.V'], inputs: [['E', 20]] });
    await runner.run(5);
    const before = tf.memory().numTensors;
    for (let r = 0; r < 5; r++) await runner.run(30);
    expect(tf.memory().numTensors).toBe(before);
    expect(runner.blockBlocker).toBeNull();

    const s = new ShortTermState(tf.zeros([4]));
    const f = jit((x: tf.Tensor) => {
      s.value = tf.add(s.value, x);
      return [];
    });
    const x = tf.ones([4]);
    f(x);
    const block = buildBlock(f.statefulFun, [x]) as StepBlock;
    expect(() => block.run(0, { args: [x] })).toThrow(ArgumentError);
    expect(() => block.run(2, { args: [] })).toThrow(/argument 0 is missing/);
    block.run(3, { args: [x] });
    expect(Array.from(s.value.dataSync())).toEqual([4, 4, 4, 4]);
    block.dispose();
    expect(() => block.run(1, { args: [x] })).toThrow(/disposed/);
    x.dispose();
  });
});

describe('forLoop over a jitted step (blocks)', () => {
  const lif = (n: number) => {
    const V = new ShortTermState<tf.Tensor>(tf.linspace(-58, -51, n));
    const step = (x: tf.Tensor, g: { gain: tf.Tensor }) => {
      const v = tf.add(V.value, tf.mul(0.05, tf.sub(tf.add(-60, tf.mul(x, g.gain)), V.value)));
      const spike = tf.cast(tf.greaterEqual(v, -50), 'float32');
      V.value = tf.where(tf.cast(spike, 'bool'), tf.fill([n], -60), v);
      return { spike, v };
    };
    return { V, step };
  };

  it('gives the stacked outputs and final state of the eager loop, bit for bit, for trees of xs', () => {
    const T = 40;
    const xs = tf.tidy(() => tf.add(20, tf.mul(8, tf.sin(tf.reshape(tf.range(0, T * 6), [T, 6])))));
    const gains = {
      gain: tf.tidy(() => tf.add(1, tf.mul(0.01, tf.reshape(tf.range(0, T * 6), [T, 6])))),
    };
    const a = lif(6);
    const eager = forLoop(a.step, xs, gains);
    const b = lif(6);
    const jitted = jit(b.step);
    const blocked = forLoop(jitted, xs, gains);
    expect(blocked.spike.shape).toEqual([T, 6]);
    expect(Array.from(blocked.spike.dataSync())).toEqual(Array.from(eager.spike.dataSync()));
    expect(Array.from(blocked.v.dataSync())).toEqual(Array.from(eager.v.dataSync()));
    expect(Array.from(b.V.value.dataSync())).toEqual(Array.from(a.V.value.dataSync()));
    expect(tf.sum(blocked.spike).dataSync()[0]).toBeGreaterThan(0);
    // the block ran T − 1 steps: the jitted function itself was called once (step 0)
    expect(jitted.replayCount + jitted.compileCount).toBeLessThanOrEqual(2);
    tf.dispose([blocked.spike, blocked.v]);
    // later loops (the trace is cached now) leave nothing behind but their outputs
    const before = tf.memory().numTensors;
    for (let r = 0; r < 3; r++) {
      const again = forLoop(jitted, xs, gains);
      tf.dispose([again.spike, again.v]);
    }
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([xs, gains.gain, eager.spike, eager.v]);
  });

  it('bool and int32 states and outputs are copied with their own element sizes', () => {
    const make = () => {
      const count = new ShortTermState<tf.Tensor>(tf.zeros([5], 'int32'));
      const flag = new ShortTermState<tf.Tensor>(tf.zeros([5], 'bool'));
      const step = (x: tf.Tensor) => {
        const up = tf.greater(x, 0.5);
        flag.value = tf.logicalXor(flag.value, up);
        count.value = tf.add(count.value, tf.cast(up, 'int32'));
        return [flag.value, count.value, tf.cast(up, 'int32')];
      };
      return { count, flag, step };
    };
    const xs = tf.tidy(() => tf.sin(tf.reshape(tf.range(0, 60), [12, 5])));
    const a = make();
    const eager = forLoop(a.step, xs);
    const b = make();
    const blocked = forLoop(jit(b.step), xs);
    for (let i = 0; i < 3; i++) {
      expect(blocked[i].dtype).toBe(eager[i].dtype);
      expect(Array.from(blocked[i].dataSync())).toEqual(Array.from(eager[i].dataSync()));
    }
    expect(Array.from(b.count.value.dataSync())).toEqual(Array.from(a.count.value.dataSync()));
    expect(Array.from(b.flag.value.dataSync())).toEqual(Array.from(a.flag.value.dataSync()));
    tf.dispose([...eager, ...blocked, xs]);
  });

  it('random draws equal one jitted call per row; a step returning a number takes the ordinary loop', () => {
    const s = new ShortTermState<tf.Tensor>(tf.zeros([8]));
    const noisy = jit((x: tf.Tensor) => {
      s.value = tf.add(tf.mul(s.value, 0.5), tf.add(x, random.normal(0, 1, [8])));
      return s.value;
    });
    const xs = tf.tidy(() => tf.reshape(tf.range(0, 80), [10, 8]));
    noisy(tf.zeros([8])).dispose(); // traced: every later call is a replay
    random.seed(5);
    const start = tf.clone(s.value);
    const blocked = forLoop(noisy, xs);
    s.value = tf.clone(start);
    random.seed(5);
    const rows = tf.unstack(xs).map((r) => {
      const y = noisy(r);
      r.dispose();
      return y;
    });
    const manual = tf.stack(rows);
    expect(Array.from(blocked.dataSync())).toEqual(Array.from(manual.dataSync()));
    tf.dispose([blocked, manual, ...rows, start]);

    const counter = new ShortTermState<tf.Tensor>(tf.zeros([2]));
    const withNumber = jit((x: tf.Tensor) => {
      counter.value = tf.add(counter.value, x);
      return [counter.value, 3];
    });
    const out = forLoop(withNumber, tf.ones([5, 2]));
    expect(out[0].shape).toEqual([5, 2]);
    expect(Array.from(out[1].dataSync())).toEqual([3, 3, 3, 3, 3]);
    expect(Array.from(counter.value.dataSync())).toEqual([5, 5]);
    tf.dispose([out[0], out[1], xs]);
  });
});

describe('NonzeroScanner', () => {
  it('is the WAT source compiled by wabt 1.0.39 (simd)', async () => {
    await expectAssembled(SCAN_WAT, SCAN_WASM_BASE64, 'src/compile/heapScanBinary.ts');
  });

  it.each(['float32', 'int32', 'bool'] as const)(
    '%s: the indices of the non-zero elements, in order, at every length and position',
    (dtype) => {
      const scanner = new NonzeroScanner(80);
      for (const n of [0, 1, 3, 4, 5, 15, 16, 17, 33, 80]) {
        const values: number[] = Array.from({ length: n }, (_, i) =>
          i % 7 === 3 || i === n - 1 ? (dtype === 'float32' ? (i % 2 ? -2.5 : 1e-40) : 1) : 0,
        );
        if (dtype === 'float32' && n > 2) {
          values[1] = -0; // zero
          values[2] = NaN; // not zero
        }
        const t = tf.tensor(values, [n], dtype);
        const c = scanner.scan(t);
        const got = Array.from(scanner.indices.slice(0, c));
        const truth = Array.from(t.dataSync()).flatMap((v, i) => (v !== 0 ? [i] : []));
        expect(got).toEqual(truth);
        t.dispose();
      }
      expect(() => scanner.scan(tf.zeros([81]))).toThrow(ArgumentError);
      scanner.dispose();
    },
  );
});
