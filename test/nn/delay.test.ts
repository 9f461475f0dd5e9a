/**
 * Delays and prefetch (spec §5.1–5.2, §10.30–31): the ring buffer (write pointer, d = 0 is the
 * latest write, the init fill before any write), entries in ms and steps, interpolation,
 * updateEvery, StateWithDelay through `prefetchDelay` (the spec's 1 ms / 20 steps → 10 test),
 * `outputDelay`, typed errors (negative delays, duplicate and unknown entries), and no leaks.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf';
import * as environ from '../../src/environ';
import { ArgumentError, KeyNotFoundError, StateError } from '../../src/errors';
import { initAllStates, resetAllStates } from '../../src/graph';
import { forLoop } from '../../src/compile';
import { grad } from '../../src/augment';
import * as init from '../../src/init';
import { Dynamics } from '../../src/nn/dynamics';
import { HiddenState } from '../../src/state';
import { Delay, LIF, Prefetch, StateWithDelay, timeToSteps } from '../../src/nn/neurons';
import { checkNoTensorLeaks, disposeGraph } from '../graph/fixtures';

checkNoTensorLeaks();

beforeAll(() => environ.set({ dt: 0.1 }));
afterAll(() => environ.reset());

/** V += 1 per step (the spec's counter). */
class Counter extends Dynamics {
  V: HiddenState | null = null;
  override initState({ batchSize }: { batchSize?: number } = {}) {
    const zeros = tf.zeros(this.stateShape(batchSize));
    if (this.V) this.V.reinitialize(zeros);
    else this.V = new HiddenState(zeros);
  }
  override update() {
    this.V!.value = tf.add(this.V!.value, 1);
    return this.V!.value;
  }
}

/** The first element of what `read` returns, with its temporaries freed (state values are kept by their states). */
const first = (read: () => tf.Tensor | number) =>
  tf.tidy(() => {
    const t = read();
    return typeof t === 'number' ? t : t.dataSync()[0];
  });

/** Write 1, 2, …, n into the delay (each in tf.tidy), filling the sample shape. */
function writeCount(d: Delay, n: number, shape: number[]): void {
  for (let k = 1; k <= n; k++) tf.tidy(() => void d.update(tf.fill(shape, k)));
}

describe('prefetch and prefetchDelay (spec §5.1)', () => {
  it('a 1 ms delay at dt = 0.1 ms after 20 steps of V += 1 gives 10; {steps: 3} gives 17', () => {
    const c = new Counter(2);
    const at1ms = c.prefetchDelay('V', 1);
    const at3 = c.prefetchDelay('V', { steps: 3 });
    const now = c.prefetch('V');
    initAllStates(c);
    for (let k = 0; k < 20; k++) tf.tidy(() => void c.call());
    expect(tf.tidy(() => Array.from((at1ms.call() as tf.Tensor).dataSync()))).toEqual([10, 10]);
    expect(first(() => at3.call())).toBe(17);
    expect(first(() => now.call())).toBe(20);
    expect(first(() => c.prefetchDelay('V').call())).toBe(20); // no delay: the current value
    expect(first(() => now.delay.at(1).call())).toBe(10); // prefetch.delay.at(t) shares the hook
    expect(Object.keys(c.afterUpdates)).toEqual(['V-prefetch-delay']);
    disposeGraph(c);
  });

  it('one StateWithDelay per item, registered as an after-update (found by initAllStates, after the state)', () => {
    const c = new Counter(3);
    const a = c.prefetchDelay('V', 0.5);
    const b = c.prefetchDelay('V', 0.5);
    c.prefetchDelay('V', 1.2);
    expect(Object.keys(c.afterUpdates)).toEqual(['V-prefetch-delay']);
    const d = c.getAfterUpdate('V-prefetch-delay') as StateWithDelay;
    expect(d).toBeInstanceOf(StateWithDelay);
    expect(a.delay).toBe(d);
    expect(b.entry).toBe(a.entry);
    expect([...d.entries]).toEqual([
      ['0.5 ms', 5],
      ['1.2 ms', 12],
    ]);
    expect(d.maxLength).toBe(13);
    initAllStates(c, { batchSize: 2 });
    expect([...c.states().keys()]).toEqual([
      'V',
      'afterUpdates.V-prefetch-delay.history',
      'afterUpdates.V-prefetch-delay.writePtr',
    ]);
    expect(d.history!.shape).toEqual([13, 2, 3]); // the state's batch axis is copied
    // the accessors hide their back-references from the graph
    expect([...new Prefetch(c, 'V').states().keys()]).toEqual([]);
    disposeGraph(c);
  });

  it('prefetchDelay of a neuron spike state: delayed spikes as projections read them', () => {
    const n = new LIF(2, { tau: 5, V_th: 1 });
    const delayed = n.prefetchDelay('spike', { steps: 2 });
    initAllStates(n);
    const out: number[] = [];
    const seen: number[] = [];
    for (let k = 0; k < 60; k++) {
      tf.tidy(() => {
        out.push(n.call(3).dataSync()[0]);
        seen.push((delayed.call() as tf.Tensor).dataSync()[0]);
      });
    }
    const t0 = out.indexOf(1);
    expect(t0).toBeGreaterThan(0);
    expect(seen.indexOf(1)).toBe(t0 + 2);
    disposeGraph(n);
  });

  it('prefetch of a missing item or a non-state attribute is a typed error', () => {
    const c = new Counter(1);
    initAllStates(c);
    expect(() => c.prefetch('U').call()).toThrow(KeyNotFoundError);
    expect(() => c.prefetch('U').call()).toThrow(/Counter has no attribute 'U'/);
    expect(() => c.prefetch('afterUpdates').call()).toThrow(ArgumentError);
    const s = c.prefetchDelay('W', 1); // registering is lazy: the target is checked at initState
    expect(s.delay).not.toBeNull();
    expect(() => initAllStates(c)).toThrow(
      /StateWithDelay\('W' of Counter\): Counter\.W must be a State/,
    );
    disposeGraph(c);
  });

  it('outputDelay delays what update returns', () => {
    const c = new Counter(1);
    const out = c.outputDelay({ steps: 4 });
    expect(c.outputDelay(0.4).entry).toBe('0.4 ms');
    initAllStates(c);
    for (let k = 0; k < 10; k++) tf.tidy(() => void c.call());
    expect(first(() => out.call())).toBe(6);
    disposeGraph(c);
  });
});

describe('Delay (spec §5.2)', () => {
  it('time → steps: ⌈time/dt⌉, exact multiples stay exact (1 ms / 0.1 ms = 10)', () => {
    expect(timeToSteps(1, 0.1)).toBe(10);
    expect(timeToSteps(0.3, 0.1)).toBe(3);
    expect(timeToSteps(0.25, 0.1)).toBe(3);
    expect(timeToSteps(0, 0.1)).toBe(0);
    const d = new Delay({ shape: [1] }, { time: 2 });
    expect(d.maxLength).toBe(21);
    expect(d.maxTime).toBeCloseTo(2, 10);
    d.registerEntry('short', 0.5);
    expect(d.maxTime).toBeCloseTo(2, 10); // only grows
    d.registerEntry('long', { steps: 30 });
    expect(d.maxLength).toBe(31);
    expect(d.maxTime).toBeCloseTo(3, 10);
  });

  it('the write pointer advances mod maxLength; d = 0 is the latest write; the init fill before any write', () => {
    const d = new Delay({ shape: [3] }, { time: 0.4, init: -1 });
    initAllStates(d, { batchSize: 2 });
    expect(d.history!.shape).toEqual([5, 2, 3]);
    expect(first(() => d.retrieveAtStep(0))).toBe(-1);
    for (let k = 1; k <= 12; k++) {
      tf.tidy(() => void d.update(tf.fill([2, 3], k)));
      expect(first(() => d.writePtr!.value)).toBe(k % 5);
      expect(first(() => d.retrieveAtStep(0))).toBe(k);
      expect(first(() => d.retrieveAtStep(Math.min(4, k - 1)))).toBe(k - Math.min(4, k - 1));
    }
    expect(first(() => d.retrieveAtStep(4))).toBe(8);
    resetAllStates(d, { batchSize: 2 });
    expect(first(() => d.writePtr!.value)).toBe(0);
    expect(first(() => d.retrieveAtStep(0))).toBe(-1);
    disposeGraph(d);
  });

  it('entries: at(name), duplicates and unknown names are typed errors; latest = null', () => {
    const d = new Delay({ shape: [1] }, { entries: { a: 0.3, latest: null } });
    d.registerEntry('b', { steps: 1 });
    expect(() => d.registerEntry('a', 0.1)).toThrow(ArgumentError);
    expect(() => d.registerEntry('a', 0.1)).toThrow(/delay entry 'a' has been registered already/);
    initAllStates(d);
    writeCount(d, 6, [1]);
    expect(first(() => d.at('a'))).toBe(3);
    expect(first(() => d.at('b'))).toBe(5);
    expect(first(() => d.at('latest'))).toBe(6);
    expect(first(() => d.access('a').call())).toBe(3);
    expect(() => d.at('zzz')).toThrow(KeyNotFoundError);
    expect(() => d.at('zzz')).toThrow(
      /does not find delay entry 'zzz'; registered: 'a', 'latest', 'b'/,
    );
    expect(() => d.at(3 as unknown as string)).toThrow(ArgumentError);
    expect(() => d.registerEntry('c', { steps: 9 })).toThrow(StateError); // after initState
    disposeGraph(d);
  });

  it('negative delays are ArgumentErrors naming the module and the value', () => {
    expect(() => new Delay({ shape: [1] }, { time: -1, name: 'd1' })).toThrow(ArgumentError);
    expect(() => new Delay({ shape: [1] }, { time: -1, name: 'd1' })).toThrow(
      /Delay\(name='d1'\): time must be a non-negative time in ms.*got -1 \(a negative delay would read the future\)/,
    );
    const d = new Delay({ shape: [1] });
    expect(() => d.registerEntry('x', -0.5)).toThrow(
      /Delay: entry 'x' must be a non-negative time.*got -0.5/,
    );
    expect(() => d.registerEntry('x', { steps: -2 })).toThrow(
      /Delay: entry 'x' in steps must be a non-negative integer, got -2/,
    );
    const n = new LIF(3, { name: 'E' });
    expect(() => n.prefetchDelay('spike', -2)).toThrow(
      /StateWithDelay\('spike' of LIF\(name='E'\)\): entry '-2 ms' must be a non-negative time in ms.*got -2/,
    );
    initAllStates(d);
    expect(() => d.retrieveAtStep(-1)).toThrow(
      /retrieveAtStep: steps must be an integer in \[0, 1\), got -1/,
    );
    expect(() => d.retrieveAtTime(-1)).toThrow(ArgumentError);
    disposeGraph(d);
  });

  it('retrieveAtTime interpolates (linear by default, nearest, or a custom function)', () => {
    const lin = new Delay({ shape: [1] }, { time: 1 });
    const near = new Delay({ shape: [1] }, { time: 1, interpolation: 'round' });
    const custom = new Delay(
      { shape: [1] },
      {
        time: 1,
        interpolation: (at, steps) => tf.tidy(() => tf.mul(at(Math.floor(steps)), 100)),
      },
    );
    for (const d of [lin, near, custom]) {
      initAllStates(d);
      writeCount(d, 10, [1]);
    }
    expect(first(() => lin.retrieveAtTime(0.25))).toBeCloseTo(7.5, 5); // between 8 (2 back) and 7 (3 back)
    expect(first(() => lin.retrieveAtTime(0.3))).toBe(7);
    expect(first(() => near.retrieveAtTime(0.26))).toBe(7);
    expect(first(() => custom.retrieveAtTime(0.25))).toBe(800);
    expect(() => lin.retrieveAtTime(1.05)).toThrow(/exceeds the buffer/);
    expect(() => new Delay({ shape: [1] }, { interpolation: 'cubic-ish' as 'linear' })).toThrow(
      /unknown interpolation 'cubic-ish'/,
    );
    expect(() => new Delay({ shape: [1] }, { interpolation: 3 as unknown as 'linear' })).toThrow(
      /interpolation must be a method name or a function/,
    );
    for (const d of [lin, near, custom]) disposeGraph(d);
  });

  it('init as a number, a tensor, a function or an initializer; anything else is an error', () => {
    const t = tf.tensor([1, 2]);
    const cases: [unknown, number[]][] = [
      [null, [0, 0]],
      [3, [3, 3]],
      [t, [1, 2]],
      [(shape: number[]) => tf.fill(shape, 4), [4, 4]],
      [new init.Constant(5), [5, 5]],
    ];
    for (const [fill, expected] of cases) {
      const d = new Delay({ shape: [2] }, { time: 0.2, init: fill as null });
      initAllStates(d);
      expect(tf.tidy(() => Array.from(d.retrieveAtStep(2).dataSync()))).toEqual(expected);
      disposeGraph(d);
    }
    expect(t.isDisposed).toBe(false);
    t.dispose();
    expect(() => new Delay({ shape: [2] }, { init: 'zeros' as unknown as null })).toThrow(
      /init must be null, a number, a tensor, an initializer or a function/,
    );
  });

  it('updateEvery: writes every n-th step, delays count in slots; updateEvery < dt is an error', () => {
    expect(() => new Delay({ shape: [1] }, { updateEvery: 0.05 })).toThrow(
      /updateEvery must be a time ≥ dt = 0.1 ms/,
    );
    const d = new Delay({ shape: [1] }, { time: 0.6, updateEvery: 0.2 });
    expect(d.updateEverySteps).toBe(2);
    expect(d.maxLength).toBe(4); // 0.6 ms / 0.2 ms slots
    initAllStates(d);
    writeCount(d, 7, [1]); // slots written at steps 1, 3, 5, 7 (ptr 0, 2, 4, 6)
    expect(first(() => d.retrieveAtStep(0))).toBe(7);
    expect(first(() => d.retrieveAtStep(1))).toBe(5);
    expect(first(() => d.retrieveAtStep(3))).toBe(1);
    tf.tidy(() => void d.update(tf.fill([1], 8))); // held: no write at an odd pointer
    expect(first(() => d.retrieveAtStep(0))).toBe(7);
    disposeGraph(d);
  });

  it('update checks the value shape; retrieval before initState is a StateError', () => {
    const d = new Delay({ shape: [3] }, { time: 0.2 });
    expect(() => d.retrieveAtStep(0)).toThrow(/call initAllStates first/);
    initAllStates(d);
    expect(() => tf.tidy(() => d.update(tf.zeros([4])))).toThrow(
      /expected a value of shape \[3\], got \[4\]/,
    );
    disposeGraph(d);
  });

  it('a gradient flows from a delayed value back to what was written', () => {
    const d = new Delay({ shape: [2] }, { time: 0.3 });
    initAllStates(d);
    const x = tf.tensor([1, 2]);
    const g = grad((v: tf.Tensor) => {
      d.update(tf.mul(v, 3));
      d.update(tf.zeros([2]));
      return tf.sum(d.retrieveAtStep(1));
    })(x);
    expect(Array.from(g.dataSync())).toEqual([3, 3]);
    tf.dispose([x, g]);
    disposeGraph(d);
  });

  it('no tensor leaks over 2000 updates and reads, in tf.tidy and in forLoop', () => {
    const c = new Counter(4);
    const acc = c.prefetchDelay('V', 0.7);
    initAllStates(c, { batchSize: 2 });
    const before = tf.memory().numTensors;
    for (let k = 0; k < 2000; k++) {
      tf.tidy(() => {
        c.call();
        acc.call();
      });
    }
    expect(tf.memory().numTensors).toBe(before);
    const ys = forLoop(
      () => {
        c.call();
        return acc.call() as tf.Tensor;
      },
      { length: 100 },
    );
    expect(tf.tidy(() => ys.slice([99, 0, 0], [1, 1, 1]).dataSync()[0])).toBe(2093);
    ys.dispose();
    expect(tf.memory().numTensors).toBe(before);
    disposeGraph(c);
  });
});
