import { afterEach, describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf';
import { GraphError, ArgumentError } from '../../src/errors';
import { Module, Node, classifyValue, iterLeaf, iterNode, invisibleAttrsOf } from '../../src/graph';
import { ParamState, State, TreefyState } from '../../src/state';
import { Linear, Model, disposeGraph, checkNoTensorLeaks } from './fixtures';

checkNoTensorLeaks();

const made: unknown[] = [];
afterEach(() => {
  made.splice(0).forEach(disposeGraph);
});
function keep<T>(x: T): T {
  made.push(x);
  return x;
}

describe('value classification', () => {
  it('classifies nodes, pytrees, empties, states, refs and statics', () => {
    const s = keep(new State(tf.zeros([1])));
    const ref = TreefyState.of(s);
    expect(classifyValue(new Node())).toBe('node');
    expect(classifyValue([1])).toBe('pytree');
    expect(classifyValue({ a: 1 })).toBe('pytree');
    expect(classifyValue(Object.create(null))).toBe('pytree');
    expect(classifyValue(new Map())).toBe('pytree');
    expect(classifyValue(null)).toBe('empty');
    expect(classifyValue(undefined)).toBe('empty');
    expect(classifyValue(s)).toBe('state');
    expect(classifyValue(ref)).toBe('stateRef');
    for (const v of [1, 'x', () => 1, new Set(), new Date(), s.rawValue])
      expect(classifyValue(v)).toBe('static');
    ref.dispose();
  });

  it('children are own enumerable string keys, sorted, minus graphInvisibleAttrs merged along the chain', () => {
    const internal = Symbol('internal');
    class A extends Node {
      static override graphInvisibleAttrs = ['hiddenA'];
      z = 1;
      b = 2;
      hiddenA = 3;
      [internal] = 4;
    }
    class B extends A {
      static override graphInvisibleAttrs = ['hiddenB'];
      hiddenB = 5;
      a = 6;
    }
    expect([...invisibleAttrsOf(B)].sort()).toEqual(['hiddenA', 'hiddenB']);
    expect([...iterLeaf(new B())].map(([p]) => p)).toEqual([['a'], ['b'], ['z']]);
  });
});

describe('iterLeaf', () => {
  it('visits a shared module once: 3 leaves, null attributes yield nothing (spec §10.13)', () => {
    const m = keep(new Linear(2, 3));
    const leaves = [...iterLeaf([m, m])];
    expect(leaves.map(([p]) => p)).toEqual([
      [0, 'a'],
      [0, 'bias'],
      [0, 'weight'],
    ]);
    expect(leaves[1][1]).toBe(m.bias);
  });

  it('yields a shared State once, at its first path, and records the path hint', () => {
    const m = keep(new Linear(2, 2));
    const holder = { tied: m.weight, m };
    const paths = [...iterLeaf(holder)]
      .filter(([, v]) => v instanceof State)
      .map(([p]) => p.join('.'));
    expect(paths).toEqual(['tied', 'm.bias']);
    expect(m.weight.pathHint).toBe('tied');
  });

  it('allowedHierarchy: leaves have their owner node level', () => {
    const model = keep(new Model());
    const own = [...iterLeaf(model, { allowedHierarchy: [0, 0] })];
    expect(own).toEqual([]); // Model has no leaves of its own
    const level1 = [...iterLeaf(model, { allowedHierarchy: [1, 1] })].map(([p]) => p.join('.'));
    expect(level1).toContain('a.weight');
    expect(level1).toContain('c.0.bias');
    expect(level1).not.toContain('b.sub.V'); // level 2
    expect(() => [...iterLeaf(model, { allowedHierarchy: [2, 1] })]).toThrow(ArgumentError);
  });
});

describe('iterNode', () => {
  it('gives 8 nodes for [model, model], post-order with the root last (spec §10.14)', () => {
    const model = keep(new Model());
    const found = [...iterNode([model, model])].map(([p, n]) => [p.join('.'), n.constructor.name]);
    expect(found).toEqual([
      ['0.a', 'Linear'],
      ['0.b.sub', 'Rate'],
      ['0.b', 'Linear'],
      ['0.c.0', 'Linear'],
      ['0.c.1', 'Linear'],
      ['0.d.x', 'Linear'],
      ['0.d.y', 'Linear'],
      ['0', 'Model'],
    ]);
    const rootLast = [...iterNode(model)];
    expect(rootLast.at(-1)).toEqual([[], model]);
  });

  it('allowedHierarchy [1, 1] gives the direct children, including those in arrays and objects', () => {
    const model = keep(new Model());
    const direct = [...iterNode(model, { allowedHierarchy: [1, 1] })].map(([p]) => p.join('.'));
    expect(direct).toEqual(['a', 'b', 'c.0', 'c.1', 'd.x', 'd.y']);
  });
});

describe('cycles', () => {
  class Parent extends Module {
    child: Child;
    constructor() {
      super();
      this.child = new Child(this);
    }
  }
  class Child extends Module {
    w = new ParamState(tf.zeros([1]));
    constructor(public parent: Module) {
      super();
    }
  }
  class HiddenParentChild extends Child {
    static override graphInvisibleAttrs = ['parent'];
  }

  it('a back-reference is a GraphError naming both paths and the fix', () => {
    const p = new Parent();
    let err: unknown;
    try {
      Array.from(iterLeaf(p));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(GraphError);
    const msg = (err as Error).message;
    expect(msg).toContain("'child.parent'");
    expect(msg).toContain('<root>');
    expect(msg).toContain("list 'parent' in `static graphInvisibleAttrs` of Child");
    expect(() => [...iterNode(p)]).toThrow(GraphError);
    p.child.w.dispose();
  });

  it('a cycle through a pytree is caught too; sharing (a DAG) is fine', () => {
    const list: unknown[] = [];
    list.push({ again: list });
    expect(() => [...iterLeaf(list)]).toThrow(/'0\.again' refers back to its ancestor <root>/);
    const shared = keep(new Linear(1, 1));
    expect([...iterNode({ x: shared, y: [shared] })]).toHaveLength(1);
  });

  it('listing the back-reference in graphInvisibleAttrs makes the graph acyclic', () => {
    class P extends Module {
      child = new HiddenParentChild(this);
    }
    const p = keep(new P());
    expect([...iterNode(p)].map(([path]) => path.join('.'))).toEqual(['child', '']);
  });
});
