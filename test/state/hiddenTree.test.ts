/**
 * HiddenTreeState (brainscale spec §1.1, §6.1): a record of same-shaped float32 tensors stored as
 * one stacked tensor [..., S]; varshape, numState, get/set by name, getTree, copies keep the
 * names, typed errors, no leaks.
 */
import { describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf';
import { ArgumentError, StateError } from '../../src/errors';
import { HiddenGroupState, HiddenState, HiddenTreeState, TreefyState } from '../../src/state';
import { checkNoTensorLeaks } from '../graph/fixtures';

checkNoTensorLeaks();

const arr = (t: tf.Tensor) => Array.from(t.dataSync());

/** A HiddenTreeState from a record; the record's tensors stay the caller's, so free them. */
function make(
  rec: Record<string, tf.Tensor>,
  options?: ConstructorParameters<typeof HiddenTreeState>[1],
): HiddenTreeState {
  const s = new HiddenTreeState(rec, options);
  tf.dispose(Object.values(rec));
  return s;
}

describe('HiddenTreeState', () => {
  it("TreeState {'v','i'} of [10,10] → varshape (10,10), numState 2 (spec §6.1)", () => {
    const v = tf.fill([10, 10], 1);
    const i = tf.fill([10, 10], 2);
    const s = new HiddenTreeState({ v, i }, { name: 'tree' });
    expect(s).toBeInstanceOf(HiddenGroupState);
    expect(s).toBeInstanceOf(HiddenState);
    expect(s.varshape).toEqual([10, 10]);
    expect(s.numState).toBe(2);
    expect(s.names).toEqual(['v', 'i']);
    expect(s.value.shape).toEqual([10, 10, 2]);
    // the caller keeps its tensors
    expect(v.isDisposed || i.isDisposed).toBe(false);
    tf.dispose([v, i]);
    s.dispose();
  });

  it('gets and sets variables by name (and index); getTree returns the record', () => {
    const s = make({ V: tf.fill([2, 3], 1), I: tf.fill([2, 3], 2) });
    const V = s.getValue('V');
    const I = s.getValue(1);
    expect(arr(V)).toEqual(Array(6).fill(1));
    expect(arr(I)).toEqual(Array(6).fill(2));
    const five = tf.fill([2, 3], 5);
    s.setValue({ I: five });
    const I2 = s.getValue('I');
    expect(arr(I2)).toEqual(Array(6).fill(5));
    const V2 = s.getValue('V');
    expect(arr(V2)).toEqual(Array(6).fill(1));
    const tree = s.getTree();
    expect(Object.keys(tree)).toEqual(['V', 'I']);
    expect(arr(tree.I)).toEqual(Array(6).fill(5));
    expect(() => s.getValue('a')).toThrow(/unknown variable 'a'/);
    const wrong = tf.zeros([3, 2]);
    expect(() => s.setValue({ V: wrong })).toThrow(StateError);
    tf.dispose([V, V2, I, I2, five, wrong, ...Object.values(tree)]);
    s.dispose();
  });

  it('copies, replacements and snapshots keep the names', () => {
    const s = make({ a: tf.zeros([4]), b: tf.ones([4]) }, { tag: 't' });
    const c = s.copy();
    expect(c).toBeInstanceOf(HiddenTreeState);
    expect(c.names).toEqual(['a', 'b']);
    expect(c.hasTag('t')).toBe(true);
    const r = s.replace(tf.zeros([4, 2])) as HiddenTreeState;
    expect(r.names).toEqual(['a', 'b']);
    const snap = TreefyState.of(s);
    const back = snap.toState() as HiddenTreeState;
    expect(back).toBeInstanceOf(HiddenTreeState);
    expect(back.names).toEqual(['a', 'b']);
    const b = back.getValue('b');
    expect(arr(b)).toEqual([1, 1, 1, 1]);
    b.dispose();
    snap.dispose();
    [s, c, r, back].forEach((x) => x.dispose());
  });

  it('rejects empty records, non-tensors, mismatched shapes and non-float32 values', () => {
    expect(() => new HiddenTreeState({})).toThrow(/empty/);
    expect(() => new HiddenTreeState({})).toThrow(StateError);
    expect(() => new HiddenTreeState(null as never)).toThrow(StateError);
    const a = tf.zeros([2, 3]);
    expect(() => new HiddenTreeState([a] as never)).toThrow(/record of tensors/);
    const b = tf.zeros([3, 2]);
    const n = tf.zeros([2, 3], 'int32');
    const sc = tf.scalar(1);
    expect(() => new HiddenTreeState({ a, x: 1 as never })).toThrow(/'x' must be a tensor/);
    expect(() => new HiddenTreeState({ a, b })).toThrow(/'a' is \[2, 3\] but 'b' is \[3, 2\]/);
    expect(() => new HiddenTreeState({ a, n })).toThrow(/'n' must be float32/);
    expect(() => new HiddenTreeState({ sc })).toThrow(/rank ≥ 1/);
    expect(() => new HiddenTreeState({ a }, { names: ['z'] })).toThrow(ArgumentError);
    expect(a.isDisposed).toBe(false);
    tf.dispose([a, b, n, sc]);
  });
});
