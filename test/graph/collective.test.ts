import { afterEach, describe, expect, it, vi } from 'vitest';
import { tf } from '../../src/backend/tf';
import { ArgumentError, GraphError } from '../../src/errors';
import {
  Module,
  PathContains,
  assignStateValues,
  callAllFns,
  initAllStates,
  resetAllStates,
  states,
  type InitStateOptions,
} from '../../src/graph';
import { HiddenState, ParamState } from '../../src/state';
import { Linear, Rate, disposeGraph, checkNoTensorLeaks } from './fixtures';

checkNoTensorLeaks();

const made: unknown[] = [];
afterEach(() => {
  made.splice(0).forEach(disposeGraph);
});
function keep<T>(x: T): T {
  made.push(x);
  return x;
}

const log: string[] = [];

class Leaf extends Module {
  constructor(readonly label: string) {
    super();
  }
  ping(x: number): void {
    log.push(`${this.label}:${x}`);
  }
}
class Late extends Leaf {
  static override callOrder = { ping: 2 };
}
class Later extends Leaf {
  static override callOrder = { ping: 5 };
}
class Tree extends Module {
  z = new Later('later');
  b = new Late('late');
  a = new Leaf('a');
  constructor() {
    super();
  }
  ping(x: number): void {
    log.push(`root:${x}`);
  }
}

describe('callAllFns (spec §10.32)', () => {
  it('calls children before parents; callOrder methods run afterwards sorted by level', () => {
    log.length = 0;
    callAllFns(new Tree(), 'ping', [1]);
    expect(log).toEqual(['a:1', 'root:1', 'late:1', 'later:1']);
  });

  it('callOrder is inherited and a level out of [0, 10) is an ArgumentError', () => {
    class SubLate extends Late {}
    log.length = 0;
    callAllFns([new SubLate('sub'), new Leaf('x')], 'ping', [0]);
    expect(log).toEqual(['x:0', 'sub:0']);
    class Bad extends Leaf {
      static override callOrder = { ping: 10 };
    }
    expect(() => callAllFns(new Bad('bad'), 'ping', [0])).toThrow(ArgumentError);
    expect(() => callAllFns(new Bad('bad'), 'ping', [0])).toThrow(/Bad\.callOrder\.ping/);
  });

  it('nodeToExclude skips modules matching a filter; a single non-array arg is wrapped', () => {
    log.length = 0;
    callAllFns(new Tree(), 'ping', 7 as unknown as unknown[], {
      nodeToExclude: new PathContains('z'),
    });
    expect(log).toEqual(['a:7', 'root:7', 'late:7']);
    log.length = 0;
    callAllFns(new Tree(), 'ping', [3], { nodeToExclude: Late }); // Later is not a Late
    expect(log).toEqual(['a:3', 'root:3', 'later:3']);
  });

  it("fnIfNotExist: 'raise' names the module, 'pass' skips, 'warn' warns", () => {
    const tree = { t: new Tree(), plain: new Module() };
    expect(() => callAllFns(tree, 'ping', [1])).toThrow(GraphError);
    expect(() => callAllFns(tree, 'ping', [1])).toThrow(/Module at 'plain' has no method 'ping'/);
    log.length = 0;
    callAllFns(tree, 'ping', [1], { fnIfNotExist: 'pass' });
    expect(log).toHaveLength(4);
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    callAllFns(tree, 'ping', [1], { fnIfNotExist: 'warn' });
    expect(warn).toHaveBeenCalledOnce();
    expect(String(warn.mock.calls[0][0])).toContain("'plain'");
    warn.mockRestore();
    expect(() =>
      callAllFns(tree, 'ping', [1], { fnIfNotExist: 'ignore' as unknown as 'pass' }),
    ).toThrow(/fnIfNotExist must be/);
  });
});

/** A projection-like module whose initState must run after the neurons (level 2): it sizes its weight from them. */
class Proj extends Module {
  static override callOrder = { initState: 2 };
  weight: ParamState | null = null;
  seenPost: number[] | null = null;
  constructor(readonly post: Rate) {
    super();
  }
  override initState(): void {
    this.seenPost = this.post.V ? this.post.V.shape : null;
    const n = this.post.V!.shape.at(-1)!;
    this.weight?.dispose();
    this.weight = new ParamState(tf.ones([n, n]));
  }
}

class Net extends Module {
  proj: Proj; // alphabetically before `rate`: it would run first without callOrder
  rate = new Rate(3);
  readout = new Linear(3, 2);
  constructor() {
    super();
    this.proj = new Proj(this.rate);
  }
}

describe('initAllStates / resetAllStates', () => {
  it('creates [batch, n] hidden states, returns the catcher, respects callOrder', () => {
    const net = keep(new Net());
    const caught = initAllStates(net, { batchSize: 4, tag: 'init' });
    expect(caught.length).toBe(2);
    expect(caught.at(0)).toBe(net.rate.V);
    expect(caught.at(1)).toBe(net.proj.weight);
    expect(caught.getByTag('init')).toHaveLength(2);
    expect(net.rate.V).toBeInstanceOf(HiddenState);
    expect(net.rate.V!.shape).toEqual([4, 3]);
    expect(net.rate.V!.hasTag('init')).toBe(true);
    expect(net.proj.seenPost).toEqual([4, 3]);
    expect(states(net, HiddenState).keys()).toEqual(['proj.post.V']); // first path of the shared Rate
    expect(states(net, ParamState).keys()).toEqual([
      'proj.weight',
      'readout.bias',
      'readout.weight',
    ]);
    expect(net.proj.weight!.shape).toEqual([3, 3]);
  });

  it('passes the options through, and without batchSize there is no batch axis', () => {
    const seen: (InitStateOptions | undefined)[] = [];
    class Spy extends Module {
      override initState(options?: InitStateOptions): void {
        seen.push(options);
      }
    }
    initAllStates(new Spy(), { batchSize: 2, nodeToExclude: null });
    expect(seen).toEqual([{ batchSize: 2 }]);
    const r = keep(new Rate(5));
    initAllStates(r);
    expect(r.V!.shape).toEqual([5]);
  });

  it('resetAllStates calls resetState everywhere', () => {
    const net = keep(new Net());
    initAllStates(net, { batchSize: 2 });
    net.rate.V!.value = tf.onesLike(net.rate.V!.value);
    resetAllStates(net);
    expect(Array.from(net.rate.V!.value.dataSync())).toEqual([0, 0, 0, 0, 0, 0]);
  });

  it('a bad batchSize is an ArgumentError naming batchSize', () => {
    const net = keep(new Net());
    for (const bad of [0, -2, 1.5, Number.NaN, '4']) {
      expect(() => initAllStates(net, { batchSize: bad as number })).toThrow(ArgumentError);
      expect(() => initAllStates(net, { batchSize: bad as number })).toThrow(
        /batchSize must be a positive integer/,
      );
    }
    expect(() => resetAllStates(net, { batchSize: 0 })).toThrow(/resetAllStates: batchSize/);
    expect(net.rate.V).toBeNull();
  });
});

describe('assignStateValues', () => {
  it('assigns by dotted key, later dicts win, and returns [unexpected, missing] sorted', () => {
    const m = keep(new Linear(1, 2));
    const a = tf.fill([2], 1);
    const b = tf.fill([2], 2);
    const [unexpected, missing] = assignStateValues(
      m,
      { bias: a, zz: a, aa: a },
      new Map([['bias', b]]),
    );
    expect(unexpected).toEqual(['aa', 'zz']);
    expect(missing).toEqual(['weight']);
    expect(Array.from(m.bias.value.dataSync())).toEqual([2, 2]);
    const wrong = tf.zeros([3]);
    expect(() => assignStateValues(m, { bias: wrong })).toThrow(/shape/);
    tf.dispose([a, wrong]);
  });
});
