/** The draw hook: every draw reports its kind, shape, key and a redraw function to the observer. */
import { afterEach, expect, test } from 'vitest';
import { tf } from '../../src/backend/tf';
import * as random from '../../src/random';
import type { DrawEvent } from '../../src/random';

afterEach(() => {
  random.setDrawObserver(null);
});

test('the observer sees every draw with its key; redraw with the same key reproduces it', () => {
  const events: DrawEvent[] = [];
  expect(random.setDrawObserver((e) => events.push(e))).toBeNull();
  const rng = new random.RandomState(1);
  const k = rng.value;
  const x = rng.normal(2, 3, [4]);
  const b = random.bernoulli(0.5, [2], { key: [5, 6] });
  expect(events.map((e) => e.kind)).toEqual(['normal', 'bernoulli']);
  expect(events[0].key).toEqual(random.threefrySplit(k, 2)[1]);
  expect(events[0].params).toEqual({ loc: 2, scale: 3 });
  expect(events[0].shape).toEqual([4]);
  expect(events[0].output).toBe(x);
  expect(events[1].dtype).toBe('bool');
  expect(events[1].key).toEqual([5, 6]);
  const again = events[0].redraw(events[0].key);
  expect(Array.from(again.dataSync())).toEqual(Array.from(x.dataSync()));
  const other = events[0].redraw([9, 9]);
  expect(Array.from(other.dataSync())).not.toEqual(Array.from(x.dataSync()));
  tf.dispose([x, b, again, other]);
});
