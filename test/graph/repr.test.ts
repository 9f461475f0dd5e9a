import { afterEach, describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf';
import { Module, Node, prettyRepr, treeSummary } from '../../src/graph';
import { ParamState, State } from '../../src/state';
import { Linear, disposeGraph, checkNoTensorLeaks } from './fixtures';

checkNoTensorLeaks();

const made: unknown[] = [];
afterEach(() => {
  made.splice(0).forEach(disposeGraph);
});
function keep<T>(x: T): T {
  made.push(x);
  return x;
}

describe('pretty repr (spec §2.5, §10.20)', () => {
  it('Module() is empty; null attributes and invisible attributes are hidden', () => {
    expect(String(new Module())).toBe('Module()');
    class WithHidden extends Node {
      static override graphInvisibleAttrs = ['cache'];
      cache = { big: 1 };
      gone = null;
      _weight = 3;
    }
    expect(String(new WithHidden())).toBe('WithHidden(\n  _weight=3\n)');
  });

  it('shows name, sizes, states abstractly, nested containers, repeated objects as Class(...)', () => {
    class Net extends Module {
      l = keep(new Linear(3, 4, { name: 'fc' }));
      list: unknown[];
      d = { k: 'v' };
      s = keep(new State(tf.zeros([2]), { name: 'st', tag: 'x' }));
      constructor() {
        super();
        this.list = [this.l, 2];
      }
    }
    const text = String(new Net());
    expect(text).toBe(
      [
        'Net(',
        "  d={\n    'k': 'v'\n  },",
        '  l=Linear(',
        "    name='fc',",
        '    inSize=[3],',
        '    outSize=[4],',
        '    a=1,',
        '    bias=ParamState(float32[4]),',
        '    weight=ParamState(float32[3,4])',
        '  ),',
        '  list=[Linear(...), 2],',
        "  s=State(float32[2], name='st', tag=['x'])",
        ')',
      ].join('\n'),
    );
  });

  it('treeSummary lists states with class, dtype, shape, size and totals', () => {
    const m = keep(new Linear(3, 4));
    const text = treeSummary(m);
    const lines = text.split('\n');
    expect(lines[0]).toMatch(/^path\s+type\s+dtype\s+shape\s+size$/);
    expect(lines[1]).toMatch(/^bias\s+ParamState\s+float32\s+\[4\]\s+4$/);
    expect(lines[2]).toMatch(/^weight\s+ParamState\s+float32\s+\[3,4\]\s+12$/);
    expect(lines[3]).toBe('total: 2 states, 16 elements (ParamState: 2 states, 16 elements)');
    const p = new ParamState(tf.zeros([1]));
    expect(prettyRepr(p)).toBe('ParamState(float32[1])');
    p.dispose();
  });
});
