/**
 * The etrace compiler on small hand-written steps: hidden groups (union–find over element-wise
 * paths, stop-gradient cuts, deterministic order), weight → group relations (plural form, dropped
 * and non-etrace weights), the text of showGraph, and the typed errors of spec brainscale §2.6.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { tf } from '../../src/backend/tf';
import { Module, type InitStateOptions } from '../../src/graph';
import * as random from '../../src/random';
import { HiddenGroupState, HiddenState, ParamState, ShortTermState } from '../../src/state';
import { D_RTRL } from '../../src/etrace/algorithms';
import { compileETraceGraph, pathTuple } from '../../src/etrace/compiler';
import { ETraceParam } from '../../src/etrace/params';
import { MatMulOp } from '../../src/etrace/ops';
import { stopGradient } from '../../src/surrogate';
import { CompilationError, NotSupportedError } from '../../src/errors';

const lin = (i: number, o: number) =>
  new ETraceParam({ weight: random.normal(0, 1, [i, o]) }, new MatMulOp());

/** Two leaky layers and a readout: three groups, three relations. */
class TwoLayer extends Module {
  w1 = lin(3, 4);
  w2 = lin(4, 4);
  w3 = lin(4, 2);
  h1!: HiddenState;
  h2!: HiddenState;
  out!: HiddenState;
  spk!: ShortTermState;
  override initState(): void {
    this.h1 = new HiddenState(tf.zeros([4]));
    this.h2 = new HiddenState(tf.zeros([4]));
    this.out = new HiddenState(tf.zeros([2]));
    this.spk = new ShortTermState(tf.zeros([4]));
  }
  override update(x: tf.Tensor): tf.Tensor {
    this.h1.value = tf.add(tf.mul(this.h1.value, 0.9), this.w1.execute(x));
    const s = tf.tanh(this.h1.value);
    this.spk.value = s;
    this.h2.value = tf.add(tf.mul(this.h2.value, 0.8), this.w2.execute(s));
    this.out.value = tf.add(
      tf.mul(this.out.value, 0.5),
      this.w3.execute(tf.sigmoid(this.h2.value)),
    );
    return this.out.value;
  }
}

let warn: ReturnType<typeof vi.spyOn>;
beforeEach(() => {
  random.seed(0);
  warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
});
afterEach(() => warn.mockRestore());

describe('hidden groups and relations', () => {
  it('finds one group per layer, in order of appearance, and prints the brainscale text', () => {
    const net = new TwoLayer();
    net.initState();
    const alg = new D_RTRL(net).compileGraph(tf.ones([3]));
    const g = alg.graph!;
    expect(g.groups.map((x) => x.members.map((m) => m.path.join('.')))).toEqual([
      ['h1'],
      ['h2'],
      ['out'],
    ]);
    expect(g.relations.map((r) => [r.path.join('.'), r.groups.map((x) => x.index)])).toEqual([
      ['w1', [0]],
      ['w2', [1]],
      ['w3', [2]],
    ]);
    expect(alg.showGraph()).toBe(
      [
        '='.repeat(120),
        'The hidden groups are:',
        '',
        "   Group 0: [('h1',)]",
        "   Group 1: [('h2',)]",
        "   Group 2: [('out',)]",
        '',
        '',
        'The dynamic (non-hidden) states are:',
        '',
        "   Dynamic state 0: ('spk',)",
        '',
        '',
        'The weight parameters which are associated with the hidden states are:',
        '',
        "   Weight 0: ('w1',)  is associated with hidden group 0",
        "   Weight 1: ('w2',)  is associated with hidden group 1",
        "   Weight 2: ('w3',)  is associated with hidden group 2",
        '',
        '',
      ].join('\n'),
    );
    // compiling leaves the states unchanged
    expect(Array.from(net.h1.value.dataSync())).toEqual([0, 0, 0, 0]);
    alg.dispose();
  });

  it('merges states linked element-wise (also through a HiddenGroupState), cuts at stopGradient', () => {
    class Merged extends Module {
      w = lin(3, 4);
      a!: HiddenState;
      b!: HiddenGroupState;
      c!: HiddenState;
      override initState(): void {
        this.a = new HiddenState(tf.zeros([4]));
        this.b = new HiddenGroupState(tf.zeros([4, 2]));
        this.c = new HiddenState(tf.zeros([4]));
      }
      override update(x: tf.Tensor): tf.Tensor {
        const y = this.w.execute(x);
        this.a.value = tf.add(tf.mul(this.a.value, 0.5), y); // a ← a, y
        const b = this.b.value;
        this.b.value = tf.add(tf.mul(b, 0.5), tf.expandDims(tf.mul(this.a.value, 1), -1)); // b ← a
        // c reads b only through a stop-gradient: its own group
        this.c.value = tf.add(tf.mul(this.c.value, 0.1), stopGradient(tf.sum(b, -1)));
        return this.c.value;
      }
    }
    const net = new Merged();
    net.initState();
    const g = compileETraceGraph(net, [tf.ones([3])]);
    expect(g.groups.map((x) => x.members.map((m) => pathTuple(m.path)))).toEqual([
      ["('a',)", "('b',)"],
      ["('c',)"],
    ]);
    expect(g.groups[0].numState).toBe(3);
    expect(g.relations[0].groups.map((x) => x.index)).toEqual([0]);
  });

  it('a weight feeding two groups uses the plural form; an unconnected weight is non-etrace', () => {
    class Fan extends Module {
      w = lin(3, 4);
      ro = lin(4, 2);
      p!: HiddenState;
      q!: HiddenState;
      override initState(): void {
        this.p = new HiddenState(tf.zeros([4]));
        this.q = new HiddenState(tf.zeros([4]));
      }
      override update(x: tf.Tensor): tf.Tensor {
        const y = this.w.execute(x);
        this.p.value = tf.add(tf.mul(this.p.value, 0.5), y);
        this.q.value = tf.add(tf.mul(this.q.value, 0.2), tf.relu(y));
        return this.ro.execute(tf.add(this.p.value, this.q.value));
      }
    }
    const net = new Fan();
    net.initState();
    const alg = new D_RTRL(net).compileGraph(tf.ones([3]));
    const text = alg.showGraph();
    expect(text).toContain("   Weight 0: ('w',)  is associated with hidden groups [0, 1]");
    expect(text).toContain("The non-etrace weight parameters are:\n\n   Weight 0: ('ro',)");
    expect(net.ro.isEtrace).toBe(false);
    expect(warn.mock.calls.flat().join('\n')).toMatch(
      /\('ro',\) is not associated with any hidden state/,
    );
    alg.dispose();
  });
});

describe('errors (spec §2.6)', () => {
  it('a transition that mixes neurons', () => {
    class Mixing extends Module {
      w = lin(3, 4);
      h!: HiddenState;
      override initState(): void {
        this.h = new HiddenState(tf.zeros([4]));
      }
      override update(x: tf.Tensor): tf.Tensor {
        const h = this.h.value;
        this.h.value = tf.add(tf.add(tf.mul(h, 0.5), tf.mean(tf.mul(h, 1))), this.w.execute(x));
        return this.h.value;
      }
    }
    const net = new Mixing();
    net.initState();
    expect(() => compileETraceGraph(net, [tf.ones([3])])).toThrow(NotSupportedError);
    expect(() => compileETraceGraph(net, [tf.ones([3])])).toThrow(
      /group 0 \(\('h',\)\) passes \('h',\) through Mean, which mixes neurons.*weight op/,
    );
  });

  it('a parameter written in the step', () => {
    class Writes extends Module {
      w = lin(3, 4);
      h!: HiddenState;
      override initState(): void {
        this.h = new HiddenState(tf.zeros([4]));
      }
      override update(x: tf.Tensor): tf.Tensor {
        this.h.value = tf.add(this.h.value, this.w.execute(x));
        this.w.value = { weight: tf.mul((this.w.value as { weight: tf.Tensor }).weight, 0.99) };
        return this.h.value;
      }
    }
    const net = new Writes();
    net.initState();
    expect(() => compileETraceGraph(net, [tf.ones([3])])).toThrow(
      new NotSupportedError(
        "compileGraph: the step writes the parameter ('w',); parameters must not change inside a model step (update them with an optimizer between steps)",
      ),
    );
    expect(net.w).toBeInstanceOf(ParamState);
  });

  it('two hidden states in one equation', () => {
    class Two extends Module {
      w = lin(3, 4);
      V!: HiddenState;
      g!: HiddenState;
      override initState(): void {
        this.V = new HiddenState(tf.zeros([4]));
        this.g = new HiddenState(tf.zeros([4]));
      }
      override update(x: tf.Tensor): tf.Tensor {
        this.g.value = tf.add(tf.mul(this.V.value, this.g.value), this.w.execute(x));
        this.V.value = tf.mul(this.V.value, 0.9);
        return this.V.value;
      }
    }
    const net = new Two();
    net.initState();
    expect(() => compileETraceGraph(net, [tf.ones([3])])).toThrow(CompilationError);
    expect(() => compileETraceGraph(net, [tf.ones([3])])).toThrow(
      /Multiply reads \('V',\) and \('g',\) directly; only one hidden state.*intermediate operation/,
    );
  });

  it('a hidden state read but never written; a step that changes its kernels', () => {
    class ReadOnly extends Module {
      w = lin(3, 4);
      h!: HiddenState;
      k!: HiddenState;
      override initState(): void {
        this.h = new HiddenState(tf.zeros([4]));
        this.k = new HiddenState(tf.zeros([4]));
      }
      override update(x: tf.Tensor): tf.Tensor {
        this.h.value = tf.add(tf.mul(this.k.value, 1), this.w.execute(x));
        return this.h.value;
      }
    }
    const ro = new ReadOnly();
    ro.initState();
    expect(() => compileETraceGraph(ro, [tf.ones([3])])).toThrow(
      /hidden state \('k',\) is read but never written/,
    );

    class Branchy extends Module {
      w = lin(3, 4);
      h!: HiddenState;
      override initState(): void {
        this.h = new HiddenState(tf.zeros([4]));
      }
      override update(x: tf.Tensor): tf.Tensor {
        const y = this.w.execute(x);
        const big = tf.sum(x).dataSync()[0] > 10;
        this.h.value = big ? tf.add(this.h.value, tf.relu(y)) : tf.add(this.h.value, y);
        return this.h.value;
      }
    }
    const br = new Branchy();
    br.initState();
    const alg = new D_RTRL(br).compileGraph(tf.ones([3]));
    tf.dispose(alg.update(tf.ones([3])));
    expect(() => alg.update(tf.fill([3], 5))).toThrow(
      /ran different kernels than the compiled step/,
    );
    expect(() => new D_RTRL(br).showGraph()).toThrow(/call compileGraph\(x0\)/);
    expect(() => alg.getEtraceOf('nope')).toThrow(
      /'nope' has no eligibility trace; traced weights: w/,
    );
  });
});

// keep the InitStateOptions import used for modules with batch options in other files
export type { InitStateOptions };
