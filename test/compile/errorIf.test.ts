import { describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf';
import { jitErrorIf } from '../../src/compile';
import { TransformError } from '../../src/errors';

describe('jitErrorIf (spec §3.8)', () => {
  it('does nothing when the condition is false anywhere', () => {
    const z = tf.zeros([3]);
    const f = tf.tensor1d([false, false], 'bool');
    expect(() => jitErrorIf(false, 'never')).not.toThrow();
    expect(() => jitErrorIf(0, 'never')).not.toThrow();
    expect(() => jitErrorIf(z, 'never')).not.toThrow();
    expect(() => jitErrorIf(f, 'never')).not.toThrow();
    expect(() => jitErrorIf(tf.zeros([0]), 'never')).not.toThrow();
    tf.dispose([z, f]);
  });

  it('throws a TransformError when any element is true, with {} / {0} / {name} formatting', () => {
    const v = tf.tensor1d([0, 0, 1]);
    expect(() => jitErrorIf(v, 'bad value')).toThrow(TransformError);
    expect(() => jitErrorIf(true, 'got {} and {}', 1, tf.tensor1d([2, 3]))).toThrow(
      'got 1 and [2, 3]',
    );
    expect(() => jitErrorIf(1, 'second {1}, first {0}', 'a', 'b')).toThrow('second b, first a');
    expect(() =>
      jitErrorIf(tf.scalar(true, 'bool'), 'V={v} at t={t}', { v: tf.scalar(2.5), t: 3 }),
    ).toThrow('V=2.5 at t=3');
    v.dispose();
  });

  it('printf-style placeholders and message functions', () => {
    expect(() => jitErrorIf(true, 'step %d of %s (%.f%%)', 3.7, 'run')).toThrow(
      'step 3 of run (%.f%)',
    );
    expect(() => jitErrorIf(true, '%f', 0.5)).toThrow('0.500000');
    expect(() => jitErrorIf(true, (a, b) => `custom ${String(a)}-${String(b)}`, 1, 2)).toThrow(
      'custom 1-2',
    );
  });

  it('validates the condition and the message', () => {
    expect(() => jitErrorIf('yes' as unknown as boolean, 'x')).toThrow(
      /must be a boolean, a number or a tensor/,
    );
    expect(() => jitErrorIf(true, 3 as unknown as string)).toThrow(
      /message must be a string or a function/,
    );
  });
});
