/** Small module trees shared by the graph tests, and helpers that free tensors and check for leaks. */
import { afterAll, beforeAll, expect } from 'vitest';
import { tf } from '../../src/backend/tf';
import { Module, states, type InitStateOptions } from '../../src/graph';
import { HiddenState, ParamState } from '../../src/state';

/** weight [din, dout], bias [dout], a static `a = 1`, and a null attribute. */
export class Linear extends Module {
  weight: ParamState;
  bias: ParamState;
  a = 1;
  nothing: null = null;
  constructor(din: number, dout: number, options: { name?: string } = {}) {
    super(options.name);
    this.inSize = din;
    this.outSize = dout;
    this.weight = new ParamState(tf.ones([din, dout]));
    this.bias = new ParamState(tf.zeros([dout]));
  }
  override update(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => tf.add(tf.matMul(x, this.weight.value), this.bias.value));
  }
}

/** A rate neuron group: creates its hidden state `V` of shape [batch, n] in initState. */
export class Rate extends Module {
  V: HiddenState | null = null;
  constructor(readonly n: number) {
    super();
    this.inSize = n;
    this.outSize = n;
  }
  override initState(options: InitStateOptions = {}): void {
    const shape = options.batchSize === undefined ? [this.n] : [options.batchSize, this.n];
    this.V = new HiddenState(tf.zeros(shape));
  }
  override resetState(): void {
    if (this.V) this.V.value = tf.zerosLike(this.V.value);
  }
}

/** The spec §10 item 14 model: a, b (with b.sub), c = [c0, c1], d = { x, y }. */
export class Model extends Module {
  a = new Linear(1, 2);
  b = new Linear(2, 3);
  c = [new Linear(3, 4), new Linear(4, 5)];
  d = { x: new Linear(5, 6), y: new Linear(6, 7) };
  constructor() {
    super();
    (this.b as Linear & { sub?: Module }).sub = new Rate(3);
  }
}

/** Release the tensors of every state of a graph. */
export function disposeGraph(root: unknown): void {
  for (const s of states(root).values()) s.dispose();
}

/** Check that a test file leaves `tf.memory().numTensors` as it found it. */
export function checkNoTensorLeaks(): void {
  let before = 0;
  beforeAll(() => {
    before = tf.memory().numTensors;
  });
  afterAll(() => {
    expect(tf.memory().numTensors).toBe(before);
  });
}
