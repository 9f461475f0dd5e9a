import { describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf';
import { Module, disposeAll } from '../../src/graph';
import { ParamState } from '../../src/state';

class WithIndices extends Module {
  w = new ParamState(tf.ones([3]));
  private readonly indices = tf.tensor([0, 2], undefined, 'int32');
  dispose(): void {
    this.indices.dispose();
  }
}
class Net extends Module {
  a = new WithIndices();
  b = [new WithIndices()];
  shared = new ParamState(tf.zeros([2]));
  alias = this.shared;
}

describe('disposeAll', () => {
  it('frees every state and calls each module dispose(), once per shared object', () => {
    const before = tf.memory().numTensors;
    const net = new Net();
    expect(tf.memory().numTensors).toBe(before + 5);
    disposeAll(net);
    expect(tf.memory().numTensors).toBe(before);
    disposeAll(net); // idempotent
    expect(tf.memory().numTensors).toBe(before);
  });
});
