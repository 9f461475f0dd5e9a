/**
 * Projections: AlignPostProj merging (shared conductances per post and synapse type), instance
 * mode, the update order of spec §5.7 (a spike computed in step n changes post V in step n+1),
 * DeltaProj and CurrentProj, the bad-input errors, and flat memory over 2000 steps of a small
 * E/I COBA network. The neurons here are tiny test Dynamics, independent of src/nn/neurons.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf';
import { forLoop } from '../../src/compile';
import * as environ from '../../src/environ';
import { ArgumentError } from '../../src/errors';
import {
  Module,
  initAllStates,
  resetAllStates,
  states,
  type InitStateOptions,
} from '../../src/graph';
import { Dynamics } from '../../src/nn/dynamics';
import {
  AlignPostHook,
  AlignPostProj,
  CurrentProj,
  DeltaProj,
  Projection,
} from '../../src/nn/projections';
import { DualExpon, Expon, STP } from '../../src/nn/synapses';
import { COBA, CUBA } from '../../src/nn/synouts';
import { HiddenState, ShortTermState } from '../../src/state';
import { checkNoTensorLeaks, disposeGraph } from '../graph/fixtures';

checkNoTensorLeaks();

beforeAll(() => environ.set({ dt: 1 }));
afterAll(() => environ.reset());

const made: unknown[] = [];
afterEach(() => made.splice(0).forEach(disposeGraph));
function keep<T>(x: T): T {
  made.push(x);
  return x;
}

/** A neuron group for tests: V ← V + dt·(current inputs)(V) + x, then the delta inputs; spikes where V ≥ V_th (then V ← V_reset). */
class TestNeuron extends Dynamics {
  V!: HiddenState;
  spike!: ShortTermState;
  constructor(
    n: number,
    readonly V0 = -60,
    readonly V_th = Infinity,
    readonly V_reset = -60,
  ) {
    super(n);
  }
  override initState(options: InitStateOptions = {}): void {
    this.V = new HiddenState(tf.fill(this.stateShape(options.batchSize), this.V0));
    this.spike = new ShortTermState(tf.zeros(this.stateShape(options.batchSize)));
  }
  override update(x: tf.Tensor | number = 0): tf.Tensor {
    const [V, spike] = tf.tidy(() => {
      const V0 = this.V.value;
      const I = this.sumCurrentInputs(x, [V0]);
      const V1 = this.sumDeltaInputs(tf.add(V0, tf.mul(I, environ.getDt())));
      const spk = tf.greaterEqual(V1, this.V_th);
      return [tf.where(spk, tf.scalar(this.V_reset), V1), tf.cast(spk, 'float32')];
    });
    this.V.value = V;
    this.spike.value = spike;
    return this.spike.value;
  }
}

/** A presynaptic source whose spikes for each step are given. */
class Source extends Dynamics {
  spike!: ShortTermState;
  override initState(options: InitStateOptions = {}): void {
    this.spike = new ShortTermState(tf.zeros(this.stateShape(options.batchSize)));
  }
  override update(s: tf.Tensor): tf.Tensor {
    this.spike.value = tf.clone(s);
    return this.spike.value;
  }
}

/** A dense connection layer: y = x @ W. */
class Dense extends Module {
  W: tf.Tensor;
  constructor(nIn: number, nOut: number, w = 1) {
    super();
    this.inSize = nIn;
    this.outSize = nOut;
    this.W = tf.keep(tf.fill([nIn, nOut], w));
  }
  override update(x: tf.Tensor): tf.Tensor {
    return tf
      .matMul(x.rank === 1 ? x.expandDims(0) : x, this.W)
      .reshape(x.rank === 1 ? [this.outSize![0]] : [x.shape[0], this.outSize![0]]);
  }
}

const V = (n: TestNeuron): number[] => Array.from(n.V.value.dataSync());

describe('AlignPostProj merging', () => {
  it('projections with the same synapse and output describers onto one post share ONE conductance', () => {
    const post = keep(new TestNeuron(3));
    const a = new AlignPostProj({
      comm: (x: tf.Tensor) => tf.mul(x, 1),
      syn: Expon.desc({ tau: 5 }),
      out: COBA.desc({ E: 0 }),
      post,
    });
    const b = new AlignPostProj({
      comm: (x: tf.Tensor) => tf.mul(x, 2),
      syn: Expon.desc({ tau: 5 }),
      out: COBA.desc({ E: 0 }),
      post,
    });
    expect(a.syn).toBe(b.syn);
    expect(a.out).toBe(b.out);
    expect(Object.keys(post.beforeUpdates)).toHaveLength(1);
    expect(Object.values(post.currentInputs)).toEqual([a.out]);
    const created = initAllStates({ post, a, b });
    // V and spike of post, and one g
    expect(created.length).toBe(3);
    const gPaths = states({ post, a, b })
      .keys()
      .filter((k) => k.endsWith('.g'));
    expect(gPaths).toHaveLength(1);
    expect(gPaths[0]).toMatch(/^post\.beforeUpdates\..*\.syn\.g$/);
    tf.tidy(() => {
      a.call(tf.ones([3]));
      b.call(tf.ones([3]));
      post.call(0);
    });
    expect(Array.from((a.syn as Expon).g.value.dataSync())).toEqual([3, 3, 3]);
  });

  it('different time constants, outputs or labels give separate synapses; the key is "{label}{syn} // {out}"', () => {
    const post = keep(new TestNeuron(2));
    const comm = (x: tf.Tensor) => x;
    const e5 = new AlignPostProj({
      comm,
      syn: Expon.desc({ tau: 5 }),
      out: COBA.desc({ E: 0 }),
      post,
    });
    const e10 = new AlignPostProj({
      comm,
      syn: Expon.desc({ tau: 10 }),
      out: COBA.desc({ E: -80 }),
      post,
    });
    const e5inh = new AlignPostProj({
      comm,
      syn: Expon.desc({ tau: 5 }),
      out: COBA.desc({ E: -80 }),
      post,
    });
    const labelled = new AlignPostProj({
      comm,
      syn: Expon.desc({ tau: 5 }),
      out: COBA.desc({ E: 0 }),
      post,
      label: 'L',
    });
    const same = new AlignPostProj({
      comm,
      syn: Expon.desc({ tau: 5 }),
      out: COBA.desc({ E: 0 }),
      post,
    });
    expect(new Set([e5.syn, e10.syn, e5inh.syn, labelled.syn]).size).toBe(4);
    expect(same.syn).toBe(e5.syn);
    expect(Object.keys(post.beforeUpdates)).toHaveLength(4);
    const key = AlignPostProj.mergeKey(Expon.desc({ tau: 5 }), COBA.desc({ E: 0 }), 'L');
    expect(key).toMatch(/^LExpon#\d+\(\{"tau":5\}\) \/\/ COBA#\d+\(\{"E":0\}\)$/);
    expect(post.getBeforeUpdate(key)).toBeInstanceOf(AlignPostHook);
    expect(Object.keys(post.currentInputs)).toContain(`L // ${labelled.name}`);
    expect((e5.syn as Expon).tau).toBe(5);
    expect((e10.syn as Expon).tau).toBe(10);
    initAllStates(post);
    expect(e5.syn.varshape).toEqual([2]);
  });

  it('a describer with its own size must match post', () => {
    const post = keep(new TestNeuron(3));
    const ok = new AlignPostProj({
      comm: (x: tf.Tensor) => x,
      syn: Expon.desc(3, { tau: 5 }),
      out: CUBA.desc(),
      post,
    });
    expect(ok.syn.varshape).toEqual([3]);
    expect(
      () =>
        new AlignPostProj({
          comm: (x: tf.Tensor) => x,
          syn: Expon.desc(4, { tau: 2 }),
          out: CUBA.desc(),
          post,
        }),
    ).toThrow(
      /AlignPostProj 'AlignPostProj\d+': size mismatch: synapse ParamDescriber\(Expon\(4, tau=2\)\) has varshape \[4\] but post TestNeuron has \[3\]/,
    );
  });
});

/** Pre spikes at step `spikeStep`; returns V of post after each step and g just before each post.call. */
function orderRun(mode: 'merging' | 'instance', spikeStep: number, steps: number) {
  const pre = new Source(3);
  const post = new TestNeuron(3, -60);
  const comm = new Dense(3, 3, 0.5 / 3); // each post neuron gets 0.5 per presynaptic spike volley
  const proj =
    mode === 'merging'
      ? new AlignPostProj({ comm, syn: Expon.desc({ tau: 5 }), out: COBA.desc({ E: 0 }), post })
      : new AlignPostProj({ comm, syn: new Expon(3, { tau: 5 }), out: new COBA({ E: 0 }), post });
  const net = keep({ pre, post, proj, comm });
  initAllStates(net);
  const Vs: number[][] = [];
  const gBefore: number[] = [];
  for (let n = 0; n < steps; n++) {
    tf.tidy(() => {
      proj.call(pre.spike.value); // spikes of the previous step
      if (mode === 'merging') gBefore.push((proj.syn as Expon).g.value.dataSync()[0]);
      post.call(0);
      pre.call(tf.fill([3], n === spikeStep ? 1 : 0)); // this step's spikes
    });
    Vs.push(V(post));
  }
  comm.W.dispose();
  return { Vs, gBefore, proj };
}

describe('AlignPostProj update order', () => {
  for (const mode of ['merging', 'instance'] as const) {
    it(`${mode}: a spike computed in step n changes post V first in step n+1, by g·(E − V)·dt`, () => {
      const { Vs, gBefore } = orderRun(mode, 3, 7);
      for (let n = 0; n <= 3; n++) expect(Vs[n]).toEqual([-60, -60, -60]);
      // step 4: g decays (0), the queued jump 0.5 is added, out(V) = 0.5·(0 − (−60)) = 30
      expect(Vs[4][0]).toBeCloseTo(-30, 5);
      const e = Math.exp(-1 / 5);
      expect(Vs[5][0]).toBeCloseTo(-30 + 0.5 * e * 30, 4);
      if (mode === 'merging') {
        // the projection only queues: the synapse is stepped by post's before-update
        expect(gBefore[4]).toBe(0);
        expect(gBefore[5]).toBeCloseTo(0.5, 6);
      }
    });
  }

  it('merging and instance modes give the same trajectory', () => {
    const a = orderRun('merging', 1, 12).Vs;
    const b = orderRun('instance', 1, 12).Vs;
    expect(b).toEqual(a);
  });

  it('instance mode: the projection owns the synapse (a child, its states reachable from it)', () => {
    const post = new TestNeuron(2);
    const proj = new AlignPostProj({
      comm: (x: tf.Tensor) => x,
      syn: new DualExpon(2),
      out: new CUBA(),
      post,
    });
    keep({ post, proj });
    expect(proj.merging).toBe(false);
    initAllStates({ post, proj });
    const keys = states({ proj }).keys();
    expect(keys).toEqual(['proj.syn.g_decay', 'proj.syn.g_rise']);
    expect(post.beforeUpdates).toEqual({});
    expect(Object.values(post.currentInputs)).toEqual([proj.out]);
  });
});

describe('modules, DeltaProj and CurrentProj', () => {
  it('modules are threaded before comm: callables get the previous result, a State gives its value', () => {
    const pre = new Source(2);
    const post = new TestNeuron(2, 0);
    const seen: number[][] = [];
    const net = keep({ pre, post });
    initAllStates(net);
    const chained = new DeltaProj({
      modules: [pre.spike, (x: tf.Tensor) => (seen.push(Array.from(x.dataSync())), tf.mul(x, 10))],
      comm: (x: tf.Tensor) => tf.add(x, 1),
      post,
    });
    tf.tidy(() => {
      pre.call(tf.tensor([1, 0]));
      chained.call();
      post.call(0);
    });
    expect(seen).toEqual([[1, 0]]);
    expect(V(post)).toEqual([11, 1]);
  });

  it('DeltaProj jumps post after integration; CurrentProj binds comm(x) to its output', () => {
    const post = keep(new TestNeuron(2, 0));
    const delta = new DeltaProj({ comm: (x: tf.Tensor) => tf.mul(x, 2), post });
    const out = new CUBA({ scale: 3 });
    const current = new CurrentProj({ comm: (x: tf.Tensor) => x, out, post });
    expect(Object.values(post.currentInputs)).toEqual([out]);
    initAllStates(post);
    tf.tidy(() => {
      delta.call(tf.tensor([1, 2]));
      current.call(tf.tensor([0.5, 1]));
      post.call(0);
    });
    // V = 0 + dt·(3·[0.5, 1]) + 2·[1, 2]
    expect(V(post)).toEqual([3.5, 7]);
    tf.tidy(() => {
      current.call(tf.tensor([0, 0]));
      post.call(0);
    });
    expect(V(post)).toEqual([3.5, 7]); // delta inputs are consumed once
    // the projection co-owns the bound conductance past the step's tidy, until reset
    const bound = out.boundCond as tf.Tensor;
    expect(bound.isDisposed).toBe(false);
    resetAllStates(current);
    expect(bound.isDisposed).toBe(true);
    expect(out.boundCond).toBe(null);
  });
});

describe('names and errors', () => {
  it('each projection gets a unique default name unless given one', () => {
    const post = keep(new TestNeuron(2));
    const mk = (name?: string) =>
      new AlignPostProj({
        comm: (x: tf.Tensor) => x,
        syn: Expon.desc(),
        out: CUBA.desc(),
        post,
        name,
      });
    const [p, q] = [mk(), mk()];
    expect(p.name).toMatch(/^AlignPostProj\d+$/);
    expect(q.name).toMatch(/^AlignPostProj\d+$/);
    expect(p.name).not.toBe(q.name);
    expect(mk('E2E').name).toBe('E2E');
    expect(new DeltaProj({ comm: (x: tf.Tensor) => x, post }).name).toMatch(/^DeltaProj\d+$/);
  });

  it('bad inputs are ArgumentErrors naming the projection', () => {
    const post = keep(new TestNeuron(3));
    const comm = (x: tf.Tensor) => x;
    const syn = Expon.desc({ tau: 5 });
    const out = COBA.desc({ E: 0 });
    const base = { comm, syn, out, post, name: 'P' };
    const bad = (o: Record<string, unknown>) => () => new AlignPostProj({ ...base, ...o } as never);
    expect(bad({ post: {} })).toThrow(ArgumentError);
    expect(bad({ post: {} })).toThrow(/AlignPostProj 'P': post must be a Dynamics/);
    expect(bad({ comm: 5 })).toThrow(/AlignPostProj 'P': comm must be a function or a Module/);
    expect(bad({ out: new COBA({ E: 0 }) })).toThrow(
      /AlignPostProj 'P': syn is a describer \(merging mode\), so out must be a describer too/,
    );
    expect(bad({ syn: new Expon(3) })).toThrow(
      /AlignPostProj 'P': syn is a synapse instance, so out must be a SynOut instance/,
    );
    expect(bad({ syn: COBA.desc({ E: 0 }) })).toThrow(
      /AlignPostProj 'P': syn must be an align-post synapse .* got ParamDescriber\(COBA\(E=0\)\)/,
    );
    expect(bad({ syn: STP.desc() })).toThrow(/syn must be an align-post synapse/);
    expect(bad({ syn: new STP(3), out: new CUBA() })).toThrow(
      /syn must be an align-post synapse .* got a STP instance/,
    );
    expect(bad({ out: Expon.desc() })).toThrow(/AlignPostProj 'P': out must describe a SynOut/);
    expect(bad({ syn: 'Expon' })).toThrow(/syn must be an align-post synapse describer/);
    expect(bad({ modules: [3] })).toThrow(/modules\[0\] must be a function, a Module or a State/);
    expect(bad({ syn: new Expon(4), out: new CUBA() })).toThrow(
      /size mismatch: synapse Expon has varshape \[4\] but post TestNeuron has \[3\]/,
    );
    expect(() => new DeltaProj({ comm, post: 'N' as never })).toThrow(
      /DeltaProj '\w+': post must be a Dynamics/,
    );
    expect(() => new CurrentProj({ comm, out: COBA.desc({ E: 0 }) as never, post })).toThrow(
      /CurrentProj '\w+': out must be a SynOut instance/,
    );
  });

  it('a projection between mismatched sizes: at construction when comm declares outSize, else at the first call', () => {
    const post = keep(new TestNeuron(3));
    const dense = new Dense(4, 5);
    expect(
      () =>
        new AlignPostProj({ comm: dense, syn: Expon.desc(), out: CUBA.desc(), post, name: 'E2E' }),
    ).toThrow(
      /AlignPostProj 'E2E': size mismatch: comm Dense\(inSize=\[4\], outSize=\[5\]\) produces \[5\] but post TestNeuron has varshape \[3\]/,
    );
    dense.W.dispose();
    initAllStates(post);
    const proj = new AlignPostProj({
      comm: (x: tf.Tensor) => tf.concat([x, x]),
      syn: Expon.desc(),
      out: CUBA.desc(),
      post,
      name: 'I2E',
    });
    const x = tf.ones([3]);
    expect(() => tf.tidy(() => proj.call(x))).toThrow(
      /AlignPostProj 'I2E': size mismatch: comm function \w+ returned shape \[6\] but post TestNeuron of varshape \[3\] needs \[batch\?, 3\]/,
    );
    const delta = new DeltaProj({ comm: () => 'x', post, name: 'D' });
    expect(() => delta.call(x)).toThrow(
      /DeltaProj 'D': comm function \w+ returned "x", expected a tensor/,
    );
    x.dispose();
  });

  it('the Projection base calls its child modules, and needs at least one', () => {
    class Logger extends Module {
      seen: unknown[] = [];
      override update(x: unknown): void {
        this.seen.push(x);
      }
    }
    class Pair extends Projection {
      a = new Logger();
      b = new Logger();
      constructor() {
        super(undefined, 'Pair');
      }
    }
    const p = new Pair();
    p.call(7);
    expect([p.a.seen, p.b.seen]).toEqual([[7], [7]]);
    expect(p.name).toMatch(/^Pair\d+$/);
    expect(() => new Projection('empty', 'Projection').update()).toThrow(
      /Projection 'empty': has no child modules to update/,
    );
  });

  it('an instance SynOut registered twice on the same post is refused', () => {
    const post = keep(new TestNeuron(2));
    const out = new CUBA();
    new AlignPostProj({ comm: (x: tf.Tensor) => x, syn: new Expon(2), out, post });
    expect(
      () => new AlignPostProj({ comm: (x: tf.Tensor) => x, syn: new Expon(2), out, post }),
    ).toThrow(/already a current input of post/);
  });
});

/** The seeds' E/I COBA network in miniature: 4 projections, 2 shared Expon per post group. */
class EINet extends Module {
  E = new TestNeuron(8, -55, -50, -60);
  I = new TestNeuron(2, -55, -50, -60);
  wE = tf.keep(tf.randomUniform([8, 10], 0, 0.02, 'float32', 1));
  wI = tf.keep(tf.randomUniform([2, 10], 0, 0.2, 'float32', 2));
  E2E = new AlignPostProj({
    comm: (x: tf.Tensor) => this.dense(x, this.wE, 0, 8),
    syn: Expon.desc({ tau: 5 }),
    out: COBA.desc({ E: 0 }),
    post: this.E,
  });
  E2I = new AlignPostProj({
    comm: (x: tf.Tensor) => this.dense(x, this.wE, 8, 2),
    syn: Expon.desc({ tau: 5 }),
    out: COBA.desc({ E: 0 }),
    post: this.I,
  });
  I2E = new AlignPostProj({
    comm: (x: tf.Tensor) => this.dense(x, this.wI, 0, 8),
    syn: Expon.desc({ tau: 10 }),
    out: COBA.desc({ E: -80 }),
    post: this.E,
  });
  I2I = new AlignPostProj({
    comm: (x: tf.Tensor) => this.dense(x, this.wI, 8, 2),
    syn: Expon.desc({ tau: 10 }),
    out: COBA.desc({ E: -80 }),
    post: this.I,
  });
  /** Columns [begin, begin + size) of x @ w: one tidy, so even eager steps leave nothing behind. */
  private dense(x: tf.Tensor, w: tf.Tensor, begin: number, size: number): tf.Tensor {
    return tf.tidy(() => tf.slice(tf.matMul(x.expandDims(0), w).squeeze([0]), [begin], [size]));
  }
  override update(input: number): tf.Tensor {
    this.E2E.call(this.E.spike.value);
    this.E2I.call(this.E.spike.value);
    this.I2E.call(this.I.spike.value);
    this.I2I.call(this.I.spike.value);
    this.E.call(input);
    this.I.call(input);
    return this.E.spike.value;
  }
  dispose(): void {
    this.wE.dispose();
    this.wI.dispose();
  }
}

describe('memory', () => {
  it('2000 steps of a 4-projection E/I network: zero tensor growth (tf.tidy steps), and it spikes', () => {
    environ.context({ dt: 0.1 }, () => {
      const net = keep(new EINet());
      initAllStates(net);
      expect(Object.keys(net.E.beforeUpdates)).toHaveLength(2);
      let spikes = 0;
      tf.tidy(() => void net.update(2)); // first step outside the count
      const before = tf.memory().numTensors;
      for (let i = 0; i < 2000; i++) {
        spikes += tf.tidy(() => tf.sum(net.update(2)).dataSync()[0]);
      }
      expect(tf.memory().numTensors).toBe(before);
      expect(spikes).toBeGreaterThan(0);
      net.dispose();
    });
  });

  it('eager steps without tf.tidy: zero growth (inputs, states and outputs own their tensors)', () => {
    environ.context({ dt: 0.1 }, () => {
      const net = keep(new EINet());
      initAllStates(net);
      net.update(2);
      const before = tf.memory().numTensors;
      for (let i = 0; i < 200; i++) net.update(2);
      expect(tf.memory().numTensors).toBe(before);
      net.dispose();
    });
  });

  it('2000 steps under forLoop: zero tensor growth', () => {
    environ.context({ dt: 0.1 }, () => {
      const net = keep(new EINet());
      initAllStates(net);
      const before = tf.memory().numTensors;
      const spikes = forLoop(() => net.update(2), { length: 2000 });
      expect(spikes.shape).toEqual([2000, 8]);
      spikes.dispose();
      expect(tf.memory().numTensors).toBe(before);
      net.dispose();
    });
  });
});
