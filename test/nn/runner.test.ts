/** Runner: inputs, monitors (values and spike events), time bookkeeping, errors, memory. */
import { beforeEach, describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf';
import { ProgressBar, type ProgressWriter } from '../../src/compile';
import * as environ from '../../src/environ';
import { ArgumentError, KeyNotFoundError } from '../../src/errors';
import { Module } from '../../src/graph';
import { Dynamics } from '../../src/nn/dynamics';
import { sectionInput } from '../../src/nn/inputs';
import { Runner, SpikeEvents, Trace } from '../../src/nn/runner';
import * as random from '../../src/random';
import { HiddenState, ShortTermState } from '../../src/state';
import { ToyLIF, ToyNet } from './runnerFixtures';

beforeEach(() => {
  environ.set({ dt: 0.1 });
  random.seed(7);
});

/** V after step k of the exponential-Euler integrator with constant input I from V0. */
const closedForm = (k: number, I: number, V0 = 0, tau = 10, dt = 0.1) =>
  I + (V0 - I) * Math.exp((-(k + 1) * dt) / tau);

describe('Runner', () => {
  it.each([true, false])(
    'jit=%s: a constant current into a module gives the closed-form V trace; ts are the step times',
    async (jit) => {
      const net = new ToyNet(3, 2, { tau: 10 });
      const runner = new Runner(net, { monitors: ['E.V', 'E.spike'], inputs: [['E', 20]], jit });
      const seconds = await runner.run(20);
      expect(seconds).toBeGreaterThan(0);
      const V = runner.mon['E.V'];
      expect(V).toBeInstanceOf(Trace);
      expect(V.shape).toEqual([3]);
      expect(V.numSteps).toBe(200);
      expect(runner.mon.ts.length).toBe(200);
      for (let k = 0; k < 200; k++) {
        expect(runner.mon.ts[k]).toBeCloseTo(k * 0.1, 5);
        for (const j of [0, 2]) expect(V.column(j)[k]).toBeCloseTo(closedForm(k, 20), 4);
      }
      expect(runner.mon['E.spike']).toBeInstanceOf(SpikeEvents);
      expect(runner.mon['E.spike'].count).toBe(0);
      // a second run continues the time and the state
      await runner.run(5);
      expect(runner.mon.ts[0]).toBeCloseTo(20, 5);
      expect(runner.currentTime).toBeCloseTo(25, 9);
      expect(runner.currentStep).toBe(250);
      expect(runner.mon['E.V'].column(1)[49]).toBeCloseTo(closedForm(249, 20), 4);
    },
  );

  it('spike events round-trip to the dense raster; counts, rates and times', async () => {
    const net = new ToyNet(5, 2, { tau: 10, V_th: 1, V_reset: 0 });
    const drive = [0, 5, 10, 20, 40];
    const runner = new Runner(net, {
      monitors: { 'E.spike': 'E.spike', dense: { path: 'E.spike', events: false } },
      inputs: [['E', drive]],
    });
    await runner.run(30);
    const ev = runner.mon['E.spike'];
    const dense = runner.mon.dense as Trace;
    expect(ev.count).toBeGreaterThan(10);
    expect(Array.from(ev.toDense())).toEqual(Array.from(dense.data));
    const counts = ev.counts();
    expect(counts[0]).toBe(0);
    for (let j = 1; j < 5; j++) expect(counts[j]).toBeGreaterThan(counts[j - 1]);
    expect(ev.rates()[4]).toBeCloseTo(counts[4] / 0.03, 6);
    for (let k = 0; k < ev.count; k++) {
      expect(ev.times[k]).toBe(runner.mon.ts[ev.steps[k]]);
      expect(dense.at(ev.steps[k])[ev.indices[k]]).toBe(1);
    }
    const t = ev.toTensor();
    expect(t.shape).toEqual([300, 5]);
    t.dispose();
  });

  it('inputs: state paths with ops, iter series, functions of (t, i), and update args', async () => {
    const net = new ToyNet(2, 1, { tau: 1e9 }); // no leak: V integrates (1 − e^(−dt/τ))·(I − V)
    const series = sectionInput([1, 2], [0.5, 0.5]); // 5 steps of 1, then 5 of 2
    const seen: [number, number][] = [];
    const runner = new Runner(net, {
      monitors: ['I.V'],
      inputs: [
        ['E.V', 1, 'fix', '='],
        ['E.V', series, 'iter', '+'],
        [
          'I.V',
          (t: number, i: number) => {
            seen.push([t, i]);
            return i;
          },
        ],
      ],
    });
    const eV = () => Array.from(net.E.V!.value.dataSync());
    await runner.run(0.5);
    expect(eV()[0]).toBeCloseTo(2, 3); // set to 1, then + 1
    await expect(runner.run(1)).rejects.toThrow(
      /'iter'\) has 10 steps but the run needs rows 5–14/,
    );
    series.dispose();
    expect(seen.map(([, i]) => i)).toEqual([0, 1, 2, 3, 4]);
    expect(seen[3][0]).toBeCloseTo(0.3, 9);
    // I.V accumulated 0 + 1 + 2 + 3 + 4 (plus E's zero spikes)
    expect(runner.mon['I.V'].column(0)[4]).toBeCloseTo(10, 3);

    class Driven extends Module {
      E = new ToyLIF(2, { tau: 10 });
      override update(I: tf.Tensor | number) {
        this.E.call(I);
      }
    }
    const net2 = new Driven();
    const r2 = new Runner(net2, {
      monitors: ['E.V'],
      args: (t: number) => [tf.scalar(t < 1 ? 20 : 0)],
    });
    await r2.run(2);
    const v = r2.mon['E.V'].column(0);
    expect(v[9]).toBeCloseTo(closedForm(9, 20), 4);
    expect(v[19]).toBeLessThan(v[10]); // decays once the input stops
  });

  it('unknown monitor paths fail up front with the available state paths', () => {
    const net = new ToyNet();
    const attempt = () => new Runner(net, { monitors: ['E.spik'] });
    expect(attempt).toThrow(KeyNotFoundError);
    expect(attempt).toThrow(
      /monitor 'E\.spik' is not a state path of ToyNet: 'E' \(ToyLIF\) has no attribute 'spik'\. Available state paths: 'E\.V', 'E\.spike', 'I\.V', 'I\.spike'\. Did you mean 'E\.spike'\?/,
    );
    expect(() => new Runner(net, { monitors: ['X.V'] })).toThrow(
      /the network \(ToyNet\) has no attribute 'X'/,
    );
    expect(() => new Runner(net, { monitors: ['E'] })).toThrow(/it is a ToyLIF, not a State/);
    expect(() => new Runner(net, { inputs: [['Q', 1]] })).toThrow(/Available modules: 'E', 'I'/);
    expect(() => new Runner(net, { inputs: [['E', 1, 'fix', '=']] })).toThrow(
      /give a state path such as 'E\.V'/,
    );
    expect(() => new Runner(net, { monitors: { 'x.spike': 'E.V' } })).toThrow(
      /reserved for spike events/,
    );
    expect(() => new Runner(net, { monitor: ['E.V'] } as never)).toThrow(
      /unknown option 'monitor'/,
    );
  });

  it('a module that ignores current inputs is reported, not silently skipped', async () => {
    class Deaf extends Dynamics {
      V = new HiddenState(tf.zeros([2]));
      override update() {
        this.V.value = tf.add(this.V.value, 1);
      }
    }
    class Net extends Module {
      D = new Deaf(2);
      override update() {
        this.D.call();
      }
    }
    const net = new Net();
    const runner = new Runner(net, { inputs: [['D', 5]] });
    const before = tf.memory().numTensors;
    await expect(runner.run(1)).rejects.toThrow(
      /input 'D' was not consumed: Deaf\.update\(\) does not call sumCurrentInputs/,
    );
    expect(tf.memory().numTensors).toBe(before);
  });

  it('function monitors, bool states as events, progress bar updates', async () => {
    class Gate extends Dynamics {
      on = new ShortTermState(tf.zeros([3], 'bool'));
      override update() {
        const i = environ.get<number>('i');
        this.on.value = tf.tensor([i % 2 === 0, false, true]);
      }
    }
    const log: string[] = [];
    const writer: ProgressWriter = {
      start: (n) => log.push(`start ${n}`),
      update: (v) => log.push(`update ${v}`),
      stop: () => log.push('stop'),
    };
    const gate = new Gate(3);
    const runner = new Runner(gate, {
      monitors: { on: 'on', total: () => tf.sum(tf.cast(gate.on.value, 'int32')) },
      progressBar: new ProgressBar({ freq: 5, writer }),
    });
    await runner.run(1);
    const on = runner.mon.on as SpikeEvents;
    expect(on).toBeInstanceOf(SpikeEvents);
    expect(on.count).toBe(15);
    expect(Array.from(on.counts())).toEqual([5, 0, 10]);
    expect(Array.from((runner.mon.total as Trace).data)).toEqual([2, 1, 2, 1, 2, 1, 2, 1, 2, 1]);
    expect(log).toEqual(['start 10', 'update 5', 'update 10', 'stop']);
  });

  it('zero tensor growth over 2000 steps (jit and eager), bounded during the run', async () => {
    for (const jit of [true, false]) {
      const net = new ToyNet(50, 10, { tau: 10, V_th: 1 });
      const counts: number[] = [];
      const runner = new Runner(net, {
        monitors: {
          'E.spike': 'E.spike',
          'E.V': 'E.V',
          live: () => {
            counts.push(tf.memory().numTensors);
            return tf.scalar(0);
          },
        },
        inputs: [['E', (t: number) => (t < 100 ? 15 : 5)]],
        jit,
        blockSteps: 100,
      });
      await runner.run(1); // warm up (jit trace)
      const before = tf.memory().numTensors;
      counts.length = 0;
      await runner.run(200); // 2000 steps
      expect(tf.memory().numTensors).toBe(before);
      expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(3 * 100 + 10);
      expect(runner.mon['E.spike'].count).toBeGreaterThan(0);
    }
  });

  it('auto-initialises a fresh network; dt option; bad durations', async () => {
    const net = new ToyNet(2, 1);
    expect(net.E.V).toBeNull();
    const runner = new Runner(net, { monitors: ['E.V'], dt: 0.5, inputs: [['E', 1]] });
    expect(net.E.V).not.toBeNull();
    await runner.run(2);
    expect(Array.from(runner.mon.ts)).toEqual([0, 0.5, 1, 1.5]);
    expect(runner.mon['E.V'].column(0)[0]).toBeCloseTo(closedForm(0, 1, 0, 10, 0.5), 5);
    await expect(runner.run(0)).rejects.toThrow(ArgumentError);
    await expect(runner.run(0.1)).rejects.toThrow(/less than one step/);
  });
});
