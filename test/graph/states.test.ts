import { afterEach, describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf';
import { GraphError } from '../../src/errors';
import {
  FlatDict,
  Module,
  PathContains,
  disposeNested,
  nodes,
  states,
  treefyStates,
  type NestedStates,
} from '../../src/graph';
import {
  HiddenState,
  ParamState,
  State,
  disposeStateDict,
  loadStateDict,
  stateDict,
  type StateValue,
} from '../../src/state';
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

function countLeaves(nested: NestedStates): number {
  return Object.values(nested).reduce<number>(
    (n, v) =>
      n + (v && Object.getPrototypeOf(v) === Object.prototype ? countLeaves(v as NestedStates) : 1),
    0,
  );
}

describe('states() / nodes()', () => {
  it('a shared State is yielded once, and the count equals treefyStates (spec §10.15)', () => {
    class Tied extends Module {
      l1 = new Linear(2, 2);
      l2 = new Linear(2, 2);
      constructor() {
        super();
        this.l2.weight.dispose();
        this.l2.weight = this.l1.weight;
      }
    }
    const m = new Tied();
    const all = states(m);
    expect(all.keys()).toEqual(['l1.bias', 'l1.weight', 'l2.bias']);
    const refs = treefyStates(m);
    expect(countLeaves(refs)).toBe(all.size);
    disposeNested(refs);
    disposeGraph(m);
  });

  it('filters select; k ≥ 2 filters give k FlatDicts with first-match-wins, the rest dropped', () => {
    const model = keep(new Model());
    (model.b as unknown as { sub: Rate }).sub.initState({ batchSize: 2 });
    const params = states(model, ParamState);
    expect(params.size).toBe(12);
    const [hidden, inC, rest] = states(model, HiddenState, new PathContains('c'), ParamState);
    expect(hidden.keys()).toEqual(['b.sub.V']);
    expect(inC.keys()).toEqual(['c.0.bias', 'c.0.weight', 'c.1.bias', 'c.1.weight']);
    expect(rest.size).toBe(8);
    const [onlyHidden] = states(model, HiddenState, 'no-such-tag');
    expect(onlyHidden.size).toBe(1);
    expect(states(model, ParamState, { allowedHierarchy: [1, 1] }).size).toBe(12);
    expect(states(model, { allowedHierarchy: [2, 2] }).keys()).toEqual(['b.sub.V']);
  });

  it('nodes() selects by Node class and gives the root as key ""', () => {
    const model = keep(new Model());
    const all = nodes(model);
    expect(all.size).toBe(8);
    expect(all.get('')).toBe(model);
    expect(all.get(['c', 1])).toBe(model.c[1]);
    expect(nodes(model, Rate).keys()).toEqual(['b.sub']);
  });
});

describe('FlatDict', () => {
  const w = () => new ParamState(tf.ones([2]));
  it('is ordered, keyed by dotted path, keeps the paths, and is immutable', () => {
    const a = w();
    const b = new State(tf.zeros([1]));
    const d = new FlatDict<State<StateValue>>([
      [['layers', 0, 'w'], a],
      [['V'], b],
    ]);
    expect(d.size).toBe(2);
    expect(d.keys()).toEqual(['layers.0.w', 'V']);
    expect(d.paths()).toEqual([['layers', 0, 'w'], ['V']]);
    expect(d.get('layers.0.w')).toBe(a);
    expect(d.get(['layers', 0, 'w'])).toBe(a);
    expect(d.has('V')).toBe(true);
    expect([...d]).toEqual([
      ['layers.0.w', a],
      ['V', b],
    ]);
    expect(Object.isFrozen(d)).toBe(true);
    expect(d.toNested()).toEqual({ layers: { 0: { w: a } }, V: b });
    expect(Object.isFrozen(d.toNested())).toBe(true);
    a.dispose();
    b.dispose();
  });

  it('filter is non-exhaustive, split is exhaustive, merge lets later entries win', () => {
    const a = w();
    const b = new State(tf.zeros([1]));
    const d = new FlatDict<State<StateValue>>([
      [['a'], a],
      [['b'], b],
    ]);
    expect(d.filter(ParamState).keys()).toEqual(['a']);
    const [p, rest] = d.split(ParamState, true);
    expect([p.keys(), rest.keys()]).toEqual([['a'], ['b']]);
    let err: unknown;
    try {
      d.split(ParamState);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(GraphError);
    expect((err as Error).message).toContain("'b'");
    expect((err as Error).message).toContain('use true as the last filter to match the rest');
    const merged = d.merge(new FlatDict([[['a'], b]]));
    expect(merged.get('a')).toBe(b);
    expect(merged.keys()).toEqual(['a', 'b']);
    a.dispose();
    b.dispose();
  });

  it('works with stateDict / loadStateDict, and toValues snapshots', () => {
    const m = keep(new Linear(2, 3));
    const dict = states(m).toValues();
    expect(Object.keys(dict)).toEqual(['bias', 'weight']);
    expect(Object.isFrozen(dict)).toBe(true);
    const viaState = stateDict(states(m));
    m.bias.value = tf.ones([3]);
    loadStateDict(states(m), dict);
    expect(Array.from(m.bias.value.dataSync())).toEqual([0, 0, 0]);
    disposeStateDict(dict);
    disposeStateDict(viaState);
  });
});
