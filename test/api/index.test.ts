import { describe, expect, it } from 'vitest';
import * as bst from '../../src';

describe('public entry', () => {
  it('exposes the layer namespaces and the most used names, sharing one tfjs engine', () => {
    for (const ns of [
      'state',
      'graph',
      'environ',
      'random',
      'init',
      'backend',
      'errors',
    ] as const) {
      expect(typeof bst[ns]).toBe('object');
    }
    expect(bst.tf.getBackend()).toBe(process.env.BRAINSTATE_PLATFORM ?? 'wasm');
    expect(bst.getPlatform()).toBe(bst.tf.getBackend());
    expect(bst.ParamState).toBe(bst.state.ParamState);
    expect(bst.Module).toBe(bst.graph.Module);
    expect(bst.jit).toBe(bst.compile.jit);
    expect(bst.grad).toBe(bst.augment.grad);
  });

  it('a small model end to end: module tree, init with batch size, states by filter, repr', () => {
    const { tf } = bst;
    class Leaky extends bst.Module {
      w = new bst.ParamState(bst.init.KaimingNormal().call([3, 3]));
      h: bst.HiddenState | null = null;
      override initState({ batchSize = 1 }: { batchSize?: number } = {}) {
        this.h = new bst.HiddenState(tf.zeros([batchSize, 3]));
      }
      override update(x: bst.tf.Tensor) {
        this.h!.value = tf.tanh(tf.add(tf.matMul(this.h!.value, this.w.value), x));
        return this.h!.value;
      }
    }
    class Net extends bst.Module {
      layers = [new Leaky(), new Leaky()];
    }
    bst.random.seed(0);
    const before = tf.memory().numTensors;
    const net = new Net();
    const caught = bst.initAllStates(net, { batchSize: 8 });
    expect(caught.length).toBe(2);
    expect([...bst.states(net, bst.HiddenState).keys()]).toEqual(['layers.0.h', 'layers.1.h']);
    expect([...net.states(bst.ParamState).keys()]).toEqual(['layers.0.w', 'layers.1.w']);
    const x = tf.ones([8, 3]);
    const shape = tf.tidy(() => {
      const y = net.layers[1].call(net.layers[0].call(x) as bst.tf.Tensor) as bst.tf.Tensor;
      return y.shape;
    });
    expect(shape).toEqual([8, 3]);
    expect(String(net)).toContain('HiddenState');
    x.dispose();
    for (const [, s] of net.states()) s.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('API.md section 2: transforms on stateful code', () => {
  it('reads as documented: jit, forLoop, grad with gradStates and returnValue, makeIR', () => {
    const { tf } = bst;
    bst.random.seed(3);
    const w = new bst.ParamState(bst.random.normal(0, 0.5, [3, 3]));
    const h = new bst.HiddenState(tf.zeros([3]));
    const step = (x: bst.tf.Tensor) => {
      h.value = tf.tanh(tf.add(tf.matMul(h.value.expandDims(0), w.value).squeeze(), x));
      return h.value;
    };
    const xs = bst.random.normal(0, 1, [5, 3]);
    const before = tf.memory().numTensors;
    const fast = bst.jit(step);
    const hs = bst.forLoop(fast, xs);
    expect(hs.shape).toEqual([5, 3]);
    const loss = () => tf.sum(bst.forLoop(step, xs));
    const [grads, value] = bst.grad(loss, { gradStates: { w }, returnValue: true })();
    expect(grads.w.shape).toEqual([3, 3]);
    expect(value.shape).toEqual([]);
    const ir = bst.makeIR(step)(tf.zeros([3]));
    expect(ir.toString()).toContain('Tanh');
    tf.dispose([hs, grads.w, value]);
    expect(tf.memory().numTensors).toBe(before + 1); // the tf.zeros passed to makeIR
    w.dispose();
    h.dispose();
    xs.dispose();
  });
});
