import { afterEach, describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf';
import { GraphError } from '../../src/errors';
import {
  FlatDict,
  GraphDef,
  Module,
  Node,
  clone,
  disposeNested,
  graphdef,
  popStates,
  states,
  treefyMerge,
  treefySplit,
  treefyStates,
  updateStates,
  type NestedStates,
} from '../../src/graph';
import { HiddenState, ParamState, State, TreefyState, ownerCount } from '../../src/state';
import { Linear, Model, Rate, disposeGraph, checkNoTensorLeaks } from './fixtures';

checkNoTensorLeaks();

const made: unknown[] = [];
afterEach(() => {
  made.splice(0).forEach(disposeGraph);
});
function keep<T>(x: T): T {
  made.push(x);
  return x;
}

/** Two layers with tied weights and a shared sub-module. */
class TiedNet extends Module {
  enc = new Linear(2, 2, { name: 'enc' });
  dec = new Linear(2, 2);
  shared: Linear;
  both: Linear[];
  constructor() {
    super('net');
    this.dec.weight.dispose();
    this.dec.weight = this.enc.weight;
    this.shared = new Linear(1, 1);
    this.both = [this.shared, this.shared];
  }
}

function values(t: tf.Tensor): number[] {
  return Array.from(t.dataSync());
}

describe('treefySplit / treefyMerge (spec §10.16)', () => {
  it('round-trips: split → merge → split gives an equal GraphDef and equal values', () => {
    const net = keep(new TiedNet());
    net.enc.weight.value = tf.tensor2d([
      [1, 2],
      [3, 4],
    ]);
    const [def, mapping] = treefySplit(net);
    const merged = keep(treefyMerge<TiedNet>(def, mapping));
    const [def2, mapping2] = treefySplit(merged);
    expect(def2.equals(def)).toBe(true);
    expect(def2.hash).toBe(def.hash);
    expect(Object.keys(mapping2)).toEqual(Object.keys(mapping));
    expect(values(merged.enc.weight.value)).toEqual([1, 2, 3, 4]);
    disposeNested(mapping, mapping2);
  });

  it('builds a new graph where tied weights and shared modules are one object again', () => {
    const net = keep(new TiedNet());
    const [def, mapping] = treefySplit(net);
    const merged = keep(treefyMerge<TiedNet>(def, mapping));
    disposeNested(mapping);
    expect(merged).toBeInstanceOf(TiedNet);
    expect(merged).not.toBe(net);
    expect(merged.enc).not.toBe(net.enc);
    expect(merged.enc.weight).not.toBe(net.enc.weight);
    expect(merged.dec.weight).toBe(merged.enc.weight);
    expect(merged.both[0]).toBe(merged.shared);
    expect(merged.both[1]).toBe(merged.shared);
    // internals (name, sizes) are copied; update() works on the new object
    expect(merged.name).toBe('net');
    expect(merged.enc.name).toBe('enc');
    expect(merged.enc.inSize).toEqual([2]);
    const x = tf.ones([1, 2]);
    const y = merged.enc.call(x);
    expect(y.shape).toEqual([1, 2]);
    tf.dispose([x, y]);
  });

  it('clone is independent of the original, with sharing preserved inside the clone', () => {
    const net = keep(new TiedNet());
    const copy = keep(clone(net));
    expect(copy.dec.weight).toBe(copy.enc.weight);
    copy.enc.weight.value = tf.fill([2, 2], 7);
    expect(values(net.enc.weight.value)).toEqual([1, 1, 1, 1]);
    expect(values(copy.dec.weight.value)).toEqual([7, 7, 7, 7]);
    expect(states(copy).size).toBe(states(net).size);
  });

  it('an invisible back-reference (parent link) is remapped to the new parent, not shared', () => {
    class Child extends Module {
      static override graphInvisibleAttrs = ['parent'];
      w = new ParamState(tf.zeros([1]));
      constructor(readonly parent: Module) {
        super();
      }
    }
    class Parent extends Module {
      child = new Child(this);
    }
    const p = keep(new Parent());
    const c = keep(clone(p));
    expect(c.child).not.toBe(p.child);
    expect(c.child.parent).toBe(c);
    expect(c.child.w).not.toBe(p.child.w);
    expect(graphdef(c).equals(graphdef(p))).toBe(true); // the parent link is an edge to the root in both
  });

  it('splits by filters into several mappings; non-exhaustive filters are a GraphError', () => {
    const model = keep(new Model());
    (model.b as unknown as { sub: Rate }).sub.initState({ batchSize: 1 });
    const [def, params, hidden] = treefySplit(model, ParamState, true);
    expect(Object.keys((params as NestedStates).a)).toEqual(['bias', 'weight']);
    expect(((hidden as NestedStates).b as NestedStates).sub).toHaveProperty('V');
    const merged = keep(treefyMerge<Model>(def, params, hidden));
    expect((merged.b as unknown as { sub: Rate }).sub.V).toBeInstanceOf(HiddenState);
    disposeNested(params, hidden);

    let err: unknown;
    try {
      treefySplit(model, ParamState);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(GraphError);
    expect((err as Error).message).toContain("'b.sub.V'");
    expect((err as Error).message).toContain('use true as the last filter to match the rest');
    expect(() => treefySplit(model, true, ParamState)).toThrow(/only be the last filter/);
  });

  it('a missing state path in merge is a GraphError naming the key', () => {
    const m = keep(new Linear(1, 2));
    const [def, params] = treefySplit(m);
    const partial = new FlatDict([[['weight'], (params as NestedStates).weight as TreefyState]]);
    expect(() => treefyMerge(def, partial)).toThrow(/expected key 'bias' in the state mapping/);
    expect(() => treefyMerge(def, {})).toThrow(GraphError);
    disposeNested(params);
  });

  it('the root must be a node or a container', () => {
    expect(() => treefySplit(3)).toThrow(GraphError);
    expect(() => graphdef('x')).toThrow(/root must be a Node/);
  });

  it('treefyStates filters non-exhaustively', () => {
    const model = keep(new Model());
    const refs = treefyStates(model, 'no-such-tag');
    expect(refs).toEqual({});
    const [w, b] = treefyStates(
      model,
      (p) => p.at(-1) === 'weight',
      (p) => p.at(-1) === 'bias',
    );
    expect(Object.keys(w)).toEqual(['a', 'b', 'c', 'd']);
    expect(((b as NestedStates).a as NestedStates).bias).toBeInstanceOf(TreefyState);
    disposeNested(w, b);
  });
});

describe('GraphDef (spec §10.19)', () => {
  it('equal structures compare and hash equal, and hashes work as set keys', () => {
    const a = keep(new Linear(2, 3));
    const b = keep(new Linear(2, 3));
    const c = keep(new Linear(2, 4)); // same attributes, different sizes in the internals
    const da = graphdef(a);
    const db = graphdef(b);
    expect(da).toBeInstanceOf(GraphDef);
    expect(da.equals(db)).toBe(true);
    expect(new Set([da.hash, db.hash]).size).toBe(1);
    expect(da.equals(graphdef(c))).toBe(false);
    expect(da.type).toBe(Linear);
    expect(da.statePaths).toEqual([['bias'], ['weight']]);
    expect(String(da)).toMatch(
      /^GraphDef\(type=Linear, nodes=1, containers=1, states=2, hash=[0-9a-f]{14}\)$/,
    );
  });

  it('statics: primitives by value, other objects by identity; arrays stay pytrees', () => {
    class Holder extends Node {
      constructor(
        public k: unknown,
        public list: unknown[] = [1, 2],
      ) {
        super();
      }
    }
    const fn = (): number => 1;
    expect(graphdef(new Holder(1)).equals(graphdef(new Holder(1)))).toBe(true);
    expect(graphdef(new Holder(1)).equals(graphdef(new Holder(2)))).toBe(false);
    expect(graphdef(new Holder(fn)).equals(graphdef(new Holder(fn)))).toBe(true);
    expect(graphdef(new Holder(fn)).equals(graphdef(new Holder(() => 1)))).toBe(false);
    expect(graphdef(new Holder(1, [1, 2])).equals(graphdef(new Holder(1, [1, 3])))).toBe(false);
    const h = new Holder(1);
    const c = clone(h);
    expect(c.list).toEqual([1, 2]);
    expect(c.list).not.toBe(h.list); // a new array, not a shared static
  });
});

describe('popStates / updateStates (spec §10.18)', () => {
  it('popStates needs a filter and removes every alias of the popped state', () => {
    const net = keep(new TiedNet());
    expect(() => popStates(net, ...([] as []))).toThrow(/expected at least one filter/);
    const weight = net.enc.weight;
    const popped = popStates(net, (p: readonly unknown[]) => p.join('.') === 'dec.weight');
    // first path of the tied weight is dec.weight (alphabetical: dec < enc); both aliases removed
    expect(popped).toEqual({ dec: { weight } });
    expect('weight' in net.dec).toBe(false);
    expect('weight' in net.enc).toBe(false);
    expect(states(net).has('enc.weight')).toBe(false);
    updateStates(net, popped);
    expect(net.dec.weight).toBe(weight);
    weight.dispose();
  });

  it('updateStates writes values, re-adds popped keys from TreefyStates and merges several mappings', () => {
    const m = keep(new Linear(1, 2));
    const [, snap] = treefySplit(m);
    const weightSnap = (snap as NestedStates).weight as TreefyState;
    const popped = popStates(m, 'no-tag', ParamState);
    expect(Object.keys(popped[1])).toEqual(['bias', 'weight']);
    const oldBias = popped[1].bias as State;
    oldBias.value = tf.fill([2], 5);
    updateStates(m, snap, { bias: oldBias });
    expect(m.weight).toBeInstanceOf(ParamState);
    expect(m.weight).not.toBe(weightSnap); // a live State made from the snapshot
    expect(m.bias).toBe(oldBias);
    expect(values(m.bias.value)).toEqual([5, 5]);
    (popped[1].weight as State).dispose();
    disposeNested(snap);
  });

  it('updateStates writes into existing states and rejects bad shapes of update', () => {
    const m = keep(new Linear(1, 2));
    const other = keep(new Linear(1, 2));
    other.bias.value = tf.fill([2], 3);
    const [, snap] = treefySplit(other);
    updateStates(m, snap);
    expect(values(m.bias.value)).toEqual([3, 3]);
    disposeNested(snap);

    const s = new ParamState(tf.zeros([2]));
    const ref = TreefyState.of(s);
    class Wrap extends Module {
      inner = new Linear(1, 1);
    }
    const w = keep(new Wrap());
    expect(() => updateStates(w, { inner: ref })).toThrow(
      /expected a sub-graph mapping for 'inner'.*got a leaf/,
    );
    expect(() => updateStates(w, { inner: { a: ref } })).toThrow(
      /trying to update the non-State attribute 'inner.a' \(1\) with a TreefyState/,
    );
    expect(() => updateStates(w, { inner: { weight: 3 } as never })).toThrow(GraphError);
    ref.dispose();
    s.dispose();
  });

  it('popping from an array is refused and leaves the graph unchanged', () => {
    const s = new ParamState(tf.zeros([1]));
    const holder = { list: [s], obj: { s } };
    expect(() => popStates(holder, ParamState)).toThrow(/cannot pop 'list.0' from an array/);
    expect(holder.obj.s).toBe(s);
    s.dispose();
  });
});

describe('tensor ownership of split results', () => {
  it('200 split/merge/clone/treefyStates cycles with disposal leak nothing', () => {
    const net = new TiedNet();
    const w = net.enc.weight.rawValue;
    const owners = ownerCount(w);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 200; i++) {
      const [def, params, rest] = treefySplit(net, ParamState, true);
      const merged = treefyMerge(def, params, rest);
      disposeNested(params, rest);
      disposeGraph(merged);
      const copy = clone(net);
      disposeGraph(copy);
      disposeNested(treefyStates(net));
    }
    expect(tf.memory().numTensors).toBe(before);
    expect(ownerCount(w)).toBe(owners);
    disposeGraph(net);
    expect(w.isDisposed).toBe(true);
  });

  it('a clone keeps its tensors alive after the original is disposed', () => {
    const before = tf.memory().numTensors;
    const net = new TiedNet();
    const copy = clone(net);
    disposeGraph(net);
    expect(values(copy.enc.weight.value)).toEqual([1, 1, 1, 1]);
    disposeGraph(copy);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('a failed split or merge leaks nothing', () => {
    const net = new TiedNet();
    const before = tf.memory().numTensors;
    const owners = ownerCount(net.enc.weight.rawValue);
    expect(() => treefySplit(net, HiddenState)).toThrow(GraphError);
    const [def, mapping] = treefySplit(net);
    const partial = { ...(mapping as NestedStates) };
    delete (partial as Record<string, unknown>).enc;
    expect(() => treefyMerge(def, partial)).toThrow(GraphError);
    disposeNested(mapping);
    expect(ownerCount(net.enc.weight.rawValue)).toBe(owners);
    expect(tf.memory().numTensors).toBe(before);
    disposeGraph(net);
  });
});
