import { describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf';
import {
  forLoop,
  ProgressBar,
  type ProgressDescription,
  type ProgressWriter,
} from '../../src/compile';
import { TransformError } from '../../src/errors';

/** Count what a bar draws: the values passed to update, and start/stop calls. */
function counter(): ProgressWriter & { starts: number; updates: number[]; stops: number } {
  const w = {
    starts: 0,
    updates: [] as number[],
    stops: 0,
    start: () => void w.starts++,
    update: (value: number) => void w.updates.push(value),
    stop: () => void w.stops++,
  };
  return w;
}

/** Run a bar over n iterations the way a loop does. */
function drive(bar: ProgressBar, n: number): void {
  const run = bar.start(n);
  for (let k = 0; k < n; k++) run.step(k, { i: k, carry: undefined, y: undefined });
}

describe('ProgressBar (spec §3.6)', () => {
  it('updates every freq iterations and closes with the remainder', () => {
    const w = counter();
    drive(new ProgressBar({ freq: 4, writer: w }), 10);
    expect(w.starts).toBe(1);
    expect(w.updates).toEqual([4, 8, 10]);
    expect(w.stops).toBe(1);
    const w2 = counter();
    drive(new ProgressBar({ freq: 5, writer: w2 }), 10);
    expect(w2.updates).toEqual([5, 10]); // no remainder: no extra update
  });

  it('count gives freq = floor(n / count); the default is about every 5 %', () => {
    const w = counter();
    drive(new ProgressBar({ count: 3, writer: w }), 10); // freq 3, remainder 1
    expect(w.updates).toEqual([3, 6, 9, 10]);
    const w2 = counter();
    drive(new ProgressBar({ writer: w2 }), 100); // n > 20: freq = 5
    expect(w2.updates.length).toBe(20);
    expect(w2.updates.at(-1)).toBe(100);
    const w3 = counter();
    drive(new ProgressBar({ writer: w3 }), 7); // n ≤ 20: every iteration
    expect(w3.updates).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(new ProgressBar().schedule(1000)).toEqual({ freq: 50, remainder: 0 });
    expect(new ProgressBar().schedule(47)).toEqual({ freq: 2, remainder: 1 });
  });

  it('validates its options', () => {
    const err = (f: () => unknown, pattern: RegExp) => {
      expect(f).toThrow(TransformError);
      expect(f).toThrow(pattern);
    };
    err(() => new ProgressBar({ freq: 2, count: 3 }), /give freq or count, not both/);
    err(() => new ProgressBar({ freq: 0 }), /freq must be a positive integer, got 0/);
    err(() => new ProgressBar({ freq: -3 }), /freq must be a positive integer/);
    err(() => new ProgressBar({ freq: 1.5 }), /freq must be a positive integer/);
    err(() => new ProgressBar({ count: 0 }), /count must be a positive integer/);
    err(
      () => new ProgressBar({ freq: 11 }).schedule(10),
      /freq=11 is larger than the number of iterations \(10\)/,
    );
    err(
      () => new ProgressBar({ count: 11 }).schedule(10),
      /count=11 is larger than the number of iterations/,
    );
    err(
      () => new ProgressBar({ desc: ['x'] as unknown as ProgressDescription }),
      /desc must be a string or a \[format string, function\] pair/,
    );
    err(
      () => new ProgressBar({ desc: [1, () => ({})] as unknown as ProgressDescription }),
      /desc must be a string or a \[format string, function\] pair/,
    );
    err(() => new ProgressBar({ desc: 5 as unknown as string }), /desc must be a string/);
  });

  it('the description: default text, a fixed string, or a format filled from {i, carry, y}', () => {
    const seen: string[] = [];
    const writer: ProgressWriter = {
      start: (_n, d) => seen.push(d),
      update: (_v, d) => seen.push(d),
      stop: () => {},
    };
    drive(new ProgressBar({ freq: 1000, writer }), 1000);
    expect(seen).toEqual(['Running for 1,000 iterations', 'Running for 1,000 iterations']);
    seen.length = 0;
    drive(new ProgressBar({ freq: 2, desc: 'simulating', writer }), 2);
    expect(seen).toEqual(['simulating', 'simulating']);
    seen.length = 0;
    const xs = tf.tensor1d([0.5, 1.5, 2.5, 3.5]);
    const ys = forLoop((x: tf.Tensor) => tf.mul(x, 2), xs, {
      progressBar: new ProgressBar({
        freq: 2,
        desc: ['step {i}: y={y:.2f} {missing}', ({ i, y }) => ({ i, y })],
        writer,
      }),
    });
    expect(seen).toEqual(['step : y= ', 'step 1: y=3.00 {missing}', 'step 3: y=7.00 {missing}']);
    tf.dispose([xs, ys]);
  });

  it('a loop that throws closes its bar', () => {
    const w = counter();
    const xs = tf.ones([5]);
    expect(() =>
      forLoop(
        (x: tf.Tensor) => {
          if (w.updates.length === 2) throw new Error('stop');
          return x;
        },
        xs,
        { progressBar: new ProgressBar({ freq: 1, writer: w }) },
      ),
    ).toThrow('stop');
    expect(w.stops).toBe(1);
    xs.dispose();
  });
});
