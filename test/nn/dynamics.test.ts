import { describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf';
import { Module } from '../../src/graph';
import { Dynamics, notReceiveUpdateOutput, receiveUpdateInput } from '../../src/nn/dynamics';
import { HiddenState } from '../../src/state';
import { ArgumentError, KeyNotFoundError } from '../../src/errors';

class Leaky extends Dynamics {
  V: HiddenState | null = null;
  override initState({ batchSize }: { batchSize?: number } = {}) {
    this.V = new HiddenState(tf.zeros(this.stateShape(batchSize)));
  }
  override update(x: tf.Tensor | number = 0) {
    const I = this.sumCurrentInputs(x, [this.V!.value]);
    this.V!.value = this.sumDeltaInputs(tf.add(tf.mul(0.5, this.V!.value), I));
    return this.V!.value;
  }
}

describe('Dynamics (spec §5.1, §10.30)', () => {
  it('sizes: varshape = inSize, stateShape with and without batch', () => {
    const d = new Leaky([3, 2]);
    expect(d.varshape).toEqual([3, 2]);
    expect(d.numel).toBe(6);
    expect(d.stateShape()).toEqual([3, 2]);
    expect(d.stateShape(4)).toEqual([4, 3, 2]);
    expect(() => new Leaky(0)).toThrow(ArgumentError);
    expect(() => new Leaky([])).toThrow(/non-empty array of positive integers/);
  });

  it('call runs before-updates, update, after-updates with the input/output flags', () => {
    const log: string[] = [];
    const d = new Leaky(2);
    d.initState();
    d.addBeforeUpdate('plain', (...a: unknown[]) => log.push(`before(${a.length})`));
    d.addBeforeUpdate(
      'withInput',
      receiveUpdateInput((...a: unknown[]) => log.push(`beforeIn(${a.length})`)),
    );
    d.addAfterUpdate('out', (...a: unknown[]) => log.push(`after(${a.length})`));
    d.addAfterUpdate(
      'noOut',
      notReceiveUpdateOutput((...a: unknown[]) => log.push(`afterNoOut(${a.length})`)),
    );
    tf.tidy(() => void d.call(1));
    expect(log).toEqual(['before(0)', 'beforeIn(1)', 'after(1)', 'afterNoOut(0)']);
    expect(() => d.addBeforeUpdate('plain', () => 0)).toThrow(/has been registered already/);
    expect(() => d.getAfterUpdate('missing')).toThrow(KeyNotFoundError);
    expect(d.hasBeforeUpdate('plain')).toBe(true);
    d.V!.dispose();
  });

  it('current inputs: callables stay and receive the args; values are consumed once; labels filter', () => {
    const d = new Leaky(2);
    d.initState();
    const seen: number[] = [];
    d.addCurrentInput('syn', (V: tf.Tensor) => {
      seen.push(V.shape[0]);
      return tf.onesLike(V);
    });
    d.addCurrentInput('ext', tf.fill([2], 10));
    const v1 = tf.tidy(() => Array.from((d.call(0) as tf.Tensor).dataSync()));
    expect(v1).toEqual([11, 11]); // 0.5*0 + 1 + 10
    const v2 = tf.tidy(() => Array.from((d.call(0) as tf.Tensor).dataSync()));
    expect(v2).toEqual([6.5, 6.5]); // 0.5*11 + 1, the value input was consumed
    expect(seen).toEqual([2, 2]);
    const other = () => tf.ones([2]);
    expect(() => d.addCurrentInput('syn', other)).toThrow(/registered already with another object/);
    d.addCurrentInput('a', tf.fill([2], 1), 'L1');
    d.addCurrentInput('b', tf.fill([2], 2), 'L2');
    const onlyL1 = tf.tidy(() => Array.from(d.sumCurrentInputs(0, [d.V!.value], 'L1').dataSync()));
    expect(onlyL1).toEqual([1, 1]); // the callable 'syn' (no label) is skipped; L1's value consumed
    expect(Object.keys(d.currentInputs)).toEqual(['syn', 'L2 // b']);
    tf.tidy(() => d.sumCurrentInputs(0, [], 'L2')); // consumes (and frees) the queued value
    d.V!.dispose();
  });

  it('delta inputs are added after integration and accumulate within a step', () => {
    const d = new Leaky(1);
    d.initState({ batchSize: 2 });
    d.addDeltaInput('p0', tf.fill([2, 1], 1));
    d.addDeltaInput('p0', tf.fill([2, 1], 2)); // a second jump queued under the same key adds up
    const v = tf.tidy(() => Array.from((d.call(0) as tf.Tensor).dataSync()));
    expect(v).toEqual([3, 3]);
    expect(Object.keys(d.deltaInputs)).toEqual([]);
    expect(() => d.getInput('p0')).toThrow(/no input 'p0'/);
    d.V!.dispose();
  });

  it('hooks and inputs that are modules are part of the graph', () => {
    class Probe extends Module {
      override update() {
        return 0;
      }
    }
    const d = new Leaky(2);
    d.addAfterUpdate('probe', new Probe());
    d.initState();
    expect([...d.nodes(Probe).keys()]).toEqual(['afterUpdates.probe']);
    expect([...d.states().keys()]).toEqual(['V']);
    d.V!.dispose();
  });

  it('zero tensor leaks over 2000 steps', () => {
    const d = new Leaky(16);
    d.initState({ batchSize: 4 });
    d.addCurrentInput('syn', (V: tf.Tensor) => tf.mul(V, -0.1));
    const before = tf.memory().numTensors;
    for (let i = 0; i < 2000; i++) {
      d.addDeltaInput('kick', tf.fill([4, 16], 0.01));
      tf.tidy(() => void d.call(1));
    }
    expect(tf.memory().numTensors).toBe(before);
    d.V!.dispose();
  });
});
