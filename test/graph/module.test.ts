import { afterEach, describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf';
import { ArgumentError, NotImplementedError } from '../../src/errors';
import { Module, ParamDescriber, pipe, states } from '../../src/graph';
import { ParamState } from '../../src/state';
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

describe('Module', () => {
  it('has a read-only name and validated sizes (a number becomes [n])', () => {
    const m = keep(new Linear(3, 4, { name: 'fc' }));
    expect(m.name).toBe('fc');
    expect(() => {
      (m as unknown as { name: string }).name = 'other';
    }).toThrow(TypeError);
    expect(m.inSize).toEqual([3]);
    m.outSize = [2, 2];
    expect(m.outSize).toEqual([2, 2]);
    expect(new Module().name).toBeNull();
    for (const bad of [0, -1, 1.5, [], [2, 0], 'x']) {
      expect(() => {
        m.inSize = bad as number;
      }).toThrow(ArgumentError);
    }
    expect(() => {
      m.inSize = 0;
    }).toThrow(/Linear\.inSize must be a positive integer/);
    expect(() => new Module(3 as unknown as string)).toThrow(ArgumentError);
  });

  it('keeps its bookkeeping out of traversal', () => {
    const m = keep(new Linear(3, 4, { name: 'fc' }));
    expect(states(m).keys()).toEqual(['bias', 'weight']);
    expect(Object.keys(m)).not.toContain('name');
  });

  it('update() throws a typed error naming the class; call() runs update; pipe chains', () => {
    class Bare extends Module {}
    expect(() => new Bare().call()).toThrow(NotImplementedError);
    expect(() => new Bare().update()).toThrow(/Bare\.update\(\) is not implemented/);
    const l1 = keep(new Linear(2, 3));
    const l2 = keep(new Linear(3, 1));
    const x = tf.ones([1, 2]);
    const y = l1.call(x);
    expect(y.shape).toEqual([1, 3]);
    const z = tf.tidy(() => pipe(x, l1, l2) as tf.Tensor);
    expect(Array.from(z.dataSync())).toEqual([6]);
    tf.dispose([x, y, z]);
  });

  it('introspection: children, modules, parameters, states, nodes', () => {
    const model = keep(new Model());
    expect(model.namedChildren().map(([k]) => k)).toEqual(['a', 'b', 'c.0', 'c.1', 'd.x', 'd.y']);
    expect(model.children()[0]).toBe(model.a);
    const named = model.namedModules();
    expect(named.map(([k]) => k)).toEqual(['a', 'b.sub', 'b', 'c.0', 'c.1', 'd.x', 'd.y', '']);
    expect(model.modules({ includeSelf: false })).toHaveLength(7);
    expect(model.namedModules({ prefix: 'net' }).at(-1)).toEqual(['net', model]);
    expect(model.namedModules({ prefix: 'net' })[0][0]).toBe('net.a');
    expect(model.parameters()).toHaveLength(12);
    expect(model.parameters().every((p) => p instanceof ParamState)).toBe(true);
    expect(model.parameters({ recurse: false })).toHaveLength(0);
    expect(model.a.namedParameters({ recurse: false }).map(([k]) => k)).toEqual(['bias', 'weight']);
    expect(model.states(ParamState).size).toBe(12);
    expect(model.nodes(Rate).keys()).toEqual(['b.sub']);
  });

  it('initState and resetState are no-ops by default', () => {
    const m = new Module();
    expect(m.initState({ batchSize: 2 })).toBeUndefined();
    expect(m.resetState()).toBeUndefined();
  });
});

describe('Module.desc / ParamDescriber (spec §2.6)', () => {
  class Syn extends Module {
    constructor(
      readonly size: number,
      readonly options: { tau?: number; g?: number } = {},
    ) {
      super();
      this.inSize = size;
    }
  }

  it('builds the module with extra args; a trailing options object goes last and is merged', () => {
    const d = Syn.desc({ tau: 5 });
    expect(d).toBeInstanceOf(ParamDescriber);
    const s = d.build(10, { g: 2 });
    expect(s).toBeInstanceOf(Syn);
    expect(s.size).toBe(10);
    expect(s.options).toEqual({ tau: 5, g: 2 });
    expect(Syn.desc(4).build().size).toBe(4);
  });

  it('identifiers are equal for equal class and arguments', () => {
    expect(Syn.desc({ tau: 5, g: 1 }).identifier).toBe(Syn.desc({ g: 1, tau: 5 }).identifier);
    expect(Syn.desc({ tau: 5 }).identifier).not.toBe(Syn.desc({ tau: 6 }).identifier);
    class Syn2 extends Syn {}
    expect(Syn2.desc({ tau: 5 }).identifier).not.toBe(Syn.desc({ tau: 5 }).identifier);
    expect(Syn2.desc().describes(Syn)).toBe(true);
    expect(Syn.desc().describes(Syn2)).toBe(false);
    expect(String(Syn.desc(3, { tau: 5 }))).toBe('ParamDescriber(Syn(3, tau=5))');
  });
});
