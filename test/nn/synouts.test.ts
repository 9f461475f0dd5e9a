/** Synaptic outputs: the COBA, CUBA and MgBlock formulas, binding, describers and errors. */
import { describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf';
import { ArgumentError } from '../../src/errors';
import { COBA, CUBA, MgBlock, SynOut, UnboundConductanceError } from '../../src/nn/synouts';
import { checkNoTensorLeaks } from '../graph/fixtures';

checkNoTensorLeaks();

function values(out: SynOut, g: number[], V: number[]): number[] {
  return tf.tidy(() => {
    out.bindCond(tf.tensor(g));
    const I = out.call(tf.tensor(V));
    out.unbindCond();
    return Array.from(I.dataSync());
  });
}

describe('synaptic outputs', () => {
  it('COBA gives g·(E − V)', () => {
    const ex = new COBA({ E: 0 });
    const inh = new COBA({ E: -80 });
    expect(values(ex, [1, 0.5, 2], [-60, -50, 10])).toEqual([60, 25, -20]);
    expect(values(inh, [1, 0.5, 2], [-60, -50, 10])).toEqual([-20, -15, -180]);
  });

  it('CUBA gives g·scale and ignores V', () => {
    expect(values(new CUBA(), [1, -2, 3], [0, 100, -100])).toEqual([1, -2, 3]);
    expect(values(new CUBA({ scale: 2.5 }), [1, -2, 3], [0, 0, 0])).toEqual([2.5, -5, 7.5]);
    const cuba = new CUBA();
    cuba.bindCond(4);
    expect(tf.tidy(() => cuba.call().dataSync()[0])).toBe(4);
  });

  it('MgBlock gives g·(E − V) / (1 + (cc_Mg/β)·exp(α·(V_offset − V)))', () => {
    const V = [-80, -40, 0, 20];
    const g = [1, 2, 0.5, 1];
    const def = values(new MgBlock(), g, V);
    V.forEach((v, i) => {
      const expected = (g[i] * (0 - v)) / (1 + (1.2 / 3.57) * Math.exp(0.062 * (0 - v)));
      expect(def[i]).toBeCloseTo(expected, 4);
    });
    const custom = values(
      new MgBlock({ E: 10, cc_Mg: 2, alpha: 0.1, beta: 4, V_offset: -5 }),
      g,
      V,
    );
    V.forEach((v, i) => {
      const expected = (g[i] * (10 - v)) / (1 + (2 / 4) * Math.exp(0.1 * (-5 - v)));
      expect(custom[i]).toBeCloseTo(expected, 4);
    });
  });

  it('works with a batch axis and tensor parameters', () => {
    const E = tf.tensor([0, -80]);
    const out = new COBA({ E });
    const I = tf.tidy(() => {
      out.bindCond(tf.ones([3, 2]));
      return Array.from(out.call(tf.fill([3, 2], -60)).dataSync());
    });
    expect(I).toEqual([60, -20, 60, -20, 60, -20]);
    E.dispose();
  });

  it('calling without a bound conductance is a typed error naming the output', () => {
    const out = new COBA({ E: 0, name: 'exc' });
    expect(() => out.call(0)).toThrow(UnboundConductanceError);
    expect(() => out.call(0)).toThrow(
      /COBA\(name='exc'\): no conductance is bound; bind one first with bindCond/,
    );
    out.bindCond(1);
    expect(out.boundCond).toBe(1);
    out.unbindCond();
    expect(() => out.call(0)).toThrow(UnboundConductanceError);
  });

  it('a disposed bound conductance is reported, not read', () => {
    const out = new CUBA();
    const g = tf.ones([2]);
    out.bindCond(g);
    g.dispose();
    expect(() => out.call()).toThrow(/was disposed/);
  });

  it('bad arguments: COBA needs E, V is required for conductance-based outputs', () => {
    expect(() => new COBA({} as { E: number })).toThrow(/reversal potential E \(mV\) is required/);
    expect(() => new COBA({ E: Number.NaN })).toThrow(ArgumentError);
    const out = new COBA({ E: 0 });
    out.bindCond(1);
    expect(() => out.call()).toThrow(/needs the membrane potential V/);
    expect(() => out.bindCond('1' as unknown as number)).toThrow(
      /expected a tensor or a finite number/,
    );
  });

  it('describers build outputs and identify equal settings', () => {
    const a = COBA.desc({ E: 0 });
    const b = COBA.desc({ E: 0 });
    const c = COBA.desc({ E: -80 });
    expect(a.identifier).toBe(b.identifier);
    expect(a.identifier).not.toBe(c.identifier);
    const built = c.build();
    expect(built).toBeInstanceOf(COBA);
    expect(built.E).toBe(-80);
    expect(a.describes(SynOut)).toBe(true);
  });
});
