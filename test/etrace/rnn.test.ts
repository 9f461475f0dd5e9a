/**
 * Etrace recurrent cells (brainscale spec §4): GRUCell and MiniGRU outputs equal a direct
 * computation from their weights (batched and unbatched); D_RTRL compiles the GRU into one hidden
 * group {h} with Wz and Wh as etrace weights and Wr not (it reaches h only through Wh's input,
 * brainscale's documented result); single-step D_RTRL gradients of a one-step loss equal plain
 * backprop; no tensor leaks.
 */
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { tf } from '../../src/backend/tf';
import { grad } from '../../src/augment';
import { ArgumentError } from '../../src/errors';
import { seed } from '../../src/random';
import { D_RTRL, ES_D_RTRL } from '../../src/etrace/algorithms';
import { ETraceParam } from '../../src/etrace/params';
import * as enn from '../../src/etrace/nn';
import { ParamState } from '../../src/state';
import { checkNoTensorLeaks } from '../graph/fixtures';

checkNoTensorLeaks();
beforeAll(() => seed(3));

let warn: ReturnType<typeof vi.spyOn>;
beforeEach(() => {
  warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
});
afterEach(() => warn.mockRestore());

type Lin = { weight: tf.Tensor; bias: tf.Tensor };
const p = (l: enn.Linear): Lin => l.weight.value as unknown as Lin;
/** x @ W + b for x [n] or [B, n]. */
function dense(x: tf.Tensor, l: enn.Linear): tf.Tensor {
  const x2 = x.rank === 1 ? tf.expandDims(x, 0) : x;
  const y = tf.add(tf.matMul(x2 as tf.Tensor2D, p(l).weight as tf.Tensor2D), p(l).bias);
  return x.rank === 1 ? tf.squeeze(y, [0]) : y;
}

function expectClose(a: tf.Tensor, b: tf.Tensor, tol = 1e-5): void {
  expect(a.shape).toEqual(b.shape);
  const x = a.dataSync();
  const y = b.dataSync();
  for (let i = 0; i < x.length; i++) {
    expect(Math.abs(x[i] - y[i])).toBeLessThanOrEqual(tol * (1 + Math.abs(y[i])));
  }
}

/** Random non-zero biases (the default is zero), so the test sees them. */
function randomBiases(...ls: enn.Linear[]): void {
  for (const l of ls) {
    const v = p(l);
    l.weight.value = { weight: v.weight, bias: tf.randomNormal(v.bias.shape, 0, 0.3) } as never;
  }
}

function freeStates(m: enn.Module): void {
  for (const [, s] of m.states()) s.dispose();
}

describe('GRUCell', () => {
  it('equals z = σ(Wz[x,h]), r = σ(Wr[x,h]), ĥ = tanh(Wh[x, r⊙h]), h = (1−z)h + zĥ', () => {
    for (const batch of [2, undefined]) {
      const cell = new enn.GRUCell(3, 4);
      expect(cell.Wz.weight).toBeInstanceOf(ETraceParam);
      expect(p(cell.Wz).weight.shape).toEqual([7, 4]);
      randomBiases(cell.Wz, cell.Wr, cell.Wh);
      cell.initState({ batchSize: batch });
      let h = batch ? tf.randomNormal([batch, 4]) : tf.randomNormal([4]);
      cell.h.value = tf.clone(h);
      for (let t = 0; t < 3; t++) {
        const x = tf.randomNormal(batch ? [batch, 3] : [3]);
        const ref = tf.tidy(() => {
          const xh = tf.concat([x, h], -1);
          const z = tf.sigmoid(dense(xh, cell.Wz));
          const r = tf.sigmoid(dense(xh, cell.Wr));
          const c = tf.tanh(dense(tf.concat([x, tf.mul(r, h)], -1), cell.Wh));
          return tf.add(tf.mul(tf.sub(1, z), h), tf.mul(z, c));
        });
        const out = cell.update(x);
        expectClose(out, ref);
        tf.dispose([x, h]);
        h = ref;
      }
      h.dispose();
      freeStates(cell);
    }
  });

  it('takes act as a name or a function; errors name the cell', () => {
    const cell = new enn.GRUCell(2, 3, { act: 'relu', name: 'gru' });
    const f = new enn.GRUCell(2, 3, { act: (x) => tf.mul(x, 0), bInit: null });
    expect(Object.keys(f.Wh.weight.value)).toEqual(['weight']);
    f.initState({ batchSize: 1 });
    const x = tf.ones([1, 2]);
    // candidate 0 and h 0: the new h is 0 whatever z is
    expect(Array.from(f.update(x).dataSync())).toEqual([0, 0, 0]);
    expect(() => new enn.GRUCell(2, 3, { act: 'nope' as never })).toThrow(ArgumentError);
    cell.initState({ batchSize: 2 });
    expect(() => cell.update(x)).toThrow(
      /GRUCell\(name='gru'\)\.update: the input must have shape \[2, 2\]/,
    );
    x.dispose();
    freeStates(cell);
    freeStates(f);
  });

  it('D_RTRL compiles it into one group {h}; Wz and Wh are etrace weights, Wr is not', () => {
    const cell = new enn.GRUCell(3, 5);
    cell.initState({ batchSize: 2 });
    const x = tf.randomNormal([2, 3]);
    const alg = new D_RTRL(cell).compileGraph(x);
    const g = alg.graph!;
    expect(g.groups.length).toBe(1);
    expect(g.groups[0].members.map((m) => m.path.join('.'))).toEqual(['h']);
    expect(g.groups[0].numState).toBe(1);
    expect(g.relations.map((r) => r.path.join('.'))).toEqual(['Wz.weight', 'Wh.weight']);
    expect((cell.Wz.weight as ETraceParam).isEtrace).toBe(true);
    expect((cell.Wh.weight as ETraceParam).isEtrace).toBe(true);
    expect((cell.Wr.weight as ETraceParam).isEtrace).toBe(false);
    expect(g.nonEtraceParams.map((q) => q.path.join('.'))).toEqual(['Wr.weight']);
    expect(
      warn.mock.calls.some((c) => /Wr.*not associated with any hidden state/.test(String(c[0]))),
    ).toBe(true);
    expect(alg.showGraph()).toContain("('h',)");
    x.dispose();
    alg.dispose();
    freeStates(cell);
  });

  it('single-step D_RTRL: the gradient of the first step equals plain backprop; later steps run', () => {
    const cell = new enn.GRUCell(3, 4);
    randomBiases(cell.Wz, cell.Wr, cell.Wh);
    cell.initState({ batchSize: 2 });
    const h0 = tf.randomNormal([2, 4]);
    const xs = [tf.randomNormal([2, 3]), tf.randomNormal([2, 3])];
    const c = tf.randomNormal([2, 4]);
    const weights = cell.states(ParamState);
    const loss = (y: tf.Tensor) => tf.sum(tf.mul(y, c));
    cell.h.value = tf.clone(h0);
    const ref = grad(() => loss(cell.update(xs[0])), {
      gradStates: weights,
    })() as unknown as Record<string, Lin>;
    for (const alg of [new D_RTRL(cell), new ES_D_RTRL(cell, { decay: 0.5 })]) {
      cell.h.value = tf.clone(h0);
      alg.compileGraph(xs[0]);
      const before = tf.memory().numTensors;
      const g1 = grad(() => loss(alg.update(xs[0])), {
        gradStates: weights,
      })() as unknown as Record<string, Lin>;
      for (const k of Object.keys(ref)) {
        expectClose(g1[k].weight, ref[k].weight);
        expectClose(g1[k].bias, ref[k].bias);
      }
      const g2 = grad(() => loss(alg.update(xs[1])), {
        gradStates: weights,
      })() as unknown as Record<string, Lin>;
      for (const k of Object.keys(g2))
        expect(g2[k].weight.dataSync().every(Number.isFinite)).toBe(true);
      tf.dispose([g1, g2] as unknown as tf.Tensor[]);
      // the algorithms keep one spare buffer per trace (written in place by the fused updates):
      // the count settles after two steps and stays flat
      const settled = tf.memory().numTensors;
      expect(settled - before).toBeLessThanOrEqual(6);
      for (let t = 0; t < 3; t++) {
        tf.dispose(
          grad(() => loss(alg.update(xs[t % 2])), {
            gradStates: weights,
          })() as unknown as tf.Tensor,
        );
        expect(tf.memory().numTensors).toBe(settled);
      }
      alg.dispose();
      expect(tf.memory().numTensors).toBeLessThan(before);
    }
    tf.dispose([ref as unknown as tf.Tensor, h0, c, ...xs]);
    freeStates(cell);
  });
});

describe('GRUCell under D_RTRL: the documented diagonal approximation', () => {
  it('accumulated gradients equal a reference ν(h^{t−1})·ε^{t−1} + ∂L_t/∂θ with D = 1 − z', () => {
    const [B, NI, NH, T] = [2, 3, 4, 6];
    const cell = new enn.GRUCell(NI, NH);
    randomBiases(cell.Wz, cell.Wr, cell.Wh);
    cell.initState({ batchSize: B });
    const h0 = tf.randomNormal([B, NH], 0, 0.5);
    cell.h.value = tf.clone(h0);
    const xs = Array.from({ length: T }, () => tf.randomNormal([B, NI]));
    const cs = Array.from({ length: T }, () => tf.randomNormal([B, NH]));
    const weights = cell.states(ParamState);
    const alg = new D_RTRL(cell).compileGraph(xs[0]);
    const names = ['Wz.weight', 'Wr.weight', 'Wh.weight'];
    let online: Record<string, Lin> | null = null;
    for (let t = 0; t < T; t++) {
      const g = grad(() => tf.sum(tf.mul(alg.update(xs[t]), cs[t])), {
        gradStates: weights,
      })() as unknown as Record<string, Lin>;
      if (online === null) online = g;
      else {
        for (const k of names) {
          const next = {
            weight: tf.add(online[k].weight, g[k].weight),
            bias: tf.add(online[k].bias, g[k].bias),
          };
          tf.dispose([online[k].weight, online[k].bias, g[k].weight, g[k].bias]);
          online[k] = next;
        }
      }
    }
    alg.dispose();

    // reference, from the weights (unchanged) and the same inputs
    const ref = tf.tidy(() => {
      const [Wz, Wr, Wh] = [cell.Wz, cell.Wr, cell.Wh].map((l) => p(l));
      const step = (h: tf.Tensor, x: tf.Tensor, w: tf.Tensor[]) => {
        const [wz, bz, wr, br, wh, bh] = w;
        const xh = tf.concat([x, h], -1);
        const z = tf.sigmoid(tf.add(tf.matMul(xh, wz), bz));
        const r = tf.sigmoid(tf.add(tf.matMul(xh, wr), br));
        const xr = tf.concat([x, tf.mul(r, h)], -1);
        const c = tf.tanh(tf.add(tf.matMul(xr, wh), bh));
        return { hn: tf.add(tf.mul(tf.sub(1, z), h), tf.mul(z, c)), z, c, xh, xr };
      };
      const w = [Wz.weight, Wz.bias, Wr.weight, Wr.bias, Wh.weight, Wh.bias];
      const NX = NI + NH;
      let eZ = tf.zeros([B, NX, NH]);
      let eZb = tf.zeros([B, NH]);
      let eH = tf.zeros([B, NX, NH]);
      let eHb = tf.zeros([B, NH]);
      const acc = w.map((v) => tf.zerosLike(v));
      let h = h0;
      for (let t = 0; t < T; t++) {
        const L = (hh: tf.Tensor, ...ww: tf.Tensor[]) =>
          tf.sum(tf.mul(step(hh, xs[t], ww).hn, cs[t]));
        const [nu, ...direct] = tf.grads(L)([h, ...w]);
        // trace term (traces before the step) + the step's own gradient
        const term = (e: tf.Tensor) => tf.sum(tf.mul(e, tf.expandDims(nu, 1)), 0);
        const termB = (e: tf.Tensor) => tf.sum(tf.mul(e, nu), 0);
        const parts = [term(eZ), termB(eZb), null, null, term(eH), termB(eHb)];
        parts.forEach(
          (q, i) => (acc[i] = tf.add(acc[i], q === null ? direct[i] : tf.add(q, direct[i]))),
        );
        // traces: D = 1 − z (the element-wise path), df = ∂h/∂y of each gate
        const { hn, z, c, xh, xr } = step(h, xs[t], w);
        const D = tf.sub(1, z);
        const dfZ = tf.mul(tf.sub(c, h), tf.mul(z, tf.sub(1, z)));
        const dfH = tf.mul(z, tf.sub(1, tf.square(c)));
        const outer = (a: tf.Tensor, b: tf.Tensor) =>
          tf.mul(tf.expandDims(a, 2), tf.expandDims(b, 1));
        eZ = tf.add(tf.mul(eZ, tf.expandDims(D, 1)), outer(xh, dfZ));
        eZb = tf.add(tf.mul(eZb, D), dfZ);
        eH = tf.add(tf.mul(eH, tf.expandDims(D, 1)), outer(xr, dfH));
        eHb = tf.add(tf.mul(eHb, D), dfH);
        h = hn;
      }
      return acc;
    });
    names.forEach((k, i) => {
      expectClose(online![k].weight, ref[2 * i], 1e-4);
      expectClose(online![k].bias, ref[2 * i + 1], 1e-4);
    });
    tf.dispose([online as unknown as tf.Tensor, ref, h0, xs, cs] as unknown as tf.Tensor[]);
    freeStates(cell);
  });
});

describe('MiniGRU', () => {
  it('equals z = σ(Wz[x,h]), h = (1−z)h + z(Wx x); both weights are etrace', () => {
    const cell = new enn.MiniGRU(3, 4);
    randomBiases(cell.Wz, cell.Wx);
    cell.initState({ batchSize: 2 });
    let h = tf.randomNormal([2, 4]);
    cell.h.value = tf.clone(h);
    for (let t = 0; t < 3; t++) {
      const x = tf.randomNormal([2, 3]);
      const ref = tf.tidy(() => {
        const z = tf.sigmoid(dense(tf.concat([x, h], -1), cell.Wz));
        return tf.add(tf.mul(tf.sub(1, z), h), tf.mul(z, dense(x, cell.Wx)));
      });
      expectClose(cell.update(x), ref);
      tf.dispose([x, h]);
      h = ref;
    }
    const x = tf.randomNormal([2, 3]);
    const alg = new D_RTRL(cell).compileGraph(x);
    expect(alg.graph!.groups.length).toBe(1);
    expect(alg.graph!.relations.map((r) => r.path.join('.'))).toEqual(['Wz.weight', 'Wx.weight']);
    alg.dispose();
    tf.dispose([x, h]);
    freeStates(cell);
  });
});
