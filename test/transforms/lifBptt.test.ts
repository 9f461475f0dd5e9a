/**
 * BPTT through 200 steps of a recurrent LIF network with a surrogate spike: grad(forLoop(step))
 * against an independent float64 reference written as plain JS loops (forward and a hand-written
 * backward pass with the same ReluGrad surrogate). The spike trains must match exactly first, so
 * the gradient comparison is between the same computation graphs.
 */
import { describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf';
import { HiddenState, ParamState } from '../../src/state';
import { forLoop } from '../../src/compile';
import { grad } from '../../src/augment';
import { ReluGrad } from '../../src/surrogate';
import * as random from '../../src/random';

const T = 200;
const B = 2;
const NI = 3;
const NH = 6;
const NO = 2;
const DECAY = 0.9;
const ALPHA = 0.3;
const WIDTH = 1;

type Mat = Float64Array; // row-major

function matmul(a: Mat, b: Mat, n: number, k: number, m: number): Mat {
  const out = new Float64Array(n * m);
  for (let i = 0; i < n; i++)
    for (let p = 0; p < k; p++) {
      const av = a[i * k + p];
      if (av === 0) continue;
      for (let j = 0; j < m; j++) out[i * m + j] += av * b[p * m + j];
    }
  return out;
}

/** Forward and hand-written backward in float64; returns spikes, loss and the three gradients. */
function reference(x: Mat[], win: Mat, wrec: Mat, wout: Mat, c: Mat[]) {
  const us: Mat[] = [];
  const ss: Mat[] = [new Float64Array(B * NH)];
  let V = new Float64Array(B * NH);
  let loss = 0;
  for (let t = 0; t < T; t++) {
    const a = matmul(x[t], win, B, NI, NH);
    const r = matmul(ss[t], wrec, B, NH, NH);
    const u = new Float64Array(B * NH);
    const s = new Float64Array(B * NH);
    const Vn = new Float64Array(B * NH);
    for (let i = 0; i < B * NH; i++) {
      u[i] = DECAY * V[i] + a[i] + r[i];
      s[i] = u[i] - 1 >= 0 ? 1 : 0;
      Vn[i] = u[i] - s[i];
    }
    const y = matmul(s, wout, B, NH, NO);
    for (let i = 0; i < B * NO; i++) loss += y[i] * c[t][i];
    us.push(u);
    ss.push(s);
    V = Vn;
  }
  const gWin = new Float64Array(NI * NH);
  const gWrec = new Float64Array(NH * NH);
  const gWout = new Float64Array(NH * NO);
  let dV: Float64Array = new Float64Array(B * NH);
  let daNext: Float64Array = new Float64Array(B * NH);
  for (let t = T - 1; t >= 0; t--) {
    const s = ss[t + 1];
    const sPrev = ss[t];
    const u = us[t];
    const ds = new Float64Array(B * NH);
    for (let b = 0; b < B; b++)
      for (let h = 0; h < NH; h++) {
        let acc = -dV[b * NH + h];
        for (let o = 0; o < NO; o++) acc += c[t][b * NO + o] * wout[h * NO + o];
        for (let j = 0; j < NH; j++) acc += daNext[b * NH + j] * wrec[h * NH + j];
        ds[b * NH + h] = acc;
      }
    const du = new Float64Array(B * NH);
    for (let i = 0; i < B * NH; i++) {
      const g = ALPHA * Math.max(WIDTH - Math.abs(u[i] - 1), 0);
      du[i] = dV[i] + ds[i] * g;
    }
    for (let b = 0; b < B; b++) {
      for (let h = 0; h < NH; h++) {
        for (let o = 0; o < NO; o++) gWout[h * NO + o] += s[b * NH + h] * c[t][b * NO + o];
        for (let i = 0; i < NI; i++) gWin[i * NH + h] += x[t][b * NI + i] * du[b * NH + h];
        for (let j = 0; j < NH; j++) gWrec[j * NH + h] += sPrev[b * NH + j] * du[b * NH + h];
      }
    }
    dV = Float64Array.from(du, (d) => DECAY * d);
    daNext = du;
  }
  return { spikes: ss.slice(1), loss, gWin, gWrec, gWout };
}

function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num / Math.max(den, 1e-30));
}

describe('BPTT through 200 steps of a recurrent LIF network (surrogate spikes)', () => {
  it('grad(forLoop) equals a float64 hand-written BPTT reference', () => {
    random.seed(11);
    const xs = tf.mul(random.uniform(0, 1, [T, B, NI]), 1.0);
    const cs = random.normal(0, 1, [T, B, NO]);
    const win = new ParamState(random.normal(0, 0.8, [NI, NH]), { name: 'win' });
    const wrec = new ParamState(random.normal(0, 0.3, [NH, NH]), { name: 'wrec' });
    const wout = new ParamState(random.normal(0, 1, [NH, NO]), { name: 'wout' });
    const V = new HiddenState(tf.zeros([B, NH]), { name: 'V' });
    const S = new HiddenState(tf.zeros([B, NH]), { name: 'S' });
    const spike = new ReluGrad({ alpha: ALPHA, width: WIDTH });
    const step = (x: tf.Tensor, c: tf.Tensor) => {
      const u = tf.add(
        tf.mul(DECAY, V.value),
        tf.add(tf.matMul(x, win.value), tf.matMul(S.value, wrec.value)),
      );
      const s = spike.call(tf.sub(u, 1));
      V.value = tf.sub(u, s);
      S.value = s;
      return [tf.sum(tf.mul(tf.matMul(s, wout.value), c)), s] as const;
    };
    const loss = () => {
      const [losses, spikes] = forLoop(step, xs, cs);
      spikeTrain = Array.from(spikes.dataSync());
      return tf.sum(losses);
    };
    let spikeTrain: number[] = [];
    const before = tf.memory().numTensors;
    const [grads, value] = grad(loss, {
      gradStates: { win, wrec, wout },
      returnValue: true,
    })() as unknown as [Record<'win' | 'wrec' | 'wout', tf.Tensor>, tf.Tensor];

    const f64 = (t: tf.Tensor) => Float64Array.from(t.dataSync());
    const sliceT = (a: tf.Tensor, t: number, n: number) => {
      const sl = tf.tidy(() => a.slice([t, 0, 0], [1, B, n]).reshape([B, n]));
      const out = f64(sl);
      sl.dispose();
      return out;
    };
    const xsArr = Array.from({ length: T }, (_, t) => sliceT(xs, t, NI));
    const csArr = Array.from({ length: T }, (_, t) => sliceT(cs, t, NO));
    const ref = reference(xsArr, f64(win.value), f64(wrec.value), f64(wout.value), csArr);

    // the same spike trains (otherwise the gradients would belong to different graphs)
    const refSpikes = ref.spikes.flatMap((s) => Array.from(s));
    expect(spikeTrain.length).toBe(refSpikes.length);
    const mismatches = spikeTrain.filter((s, i) => s !== refSpikes[i]).length;
    expect(mismatches).toBe(0);
    expect(refSpikes.reduce((a, b) => a + b, 0)).toBeGreaterThan(50); // the network does spike
    expect(value.dataSync()[0]).toBeCloseTo(ref.loss, 3);
    expect(relErr(grads.win.dataSync(), ref.gWin)).toBeLessThan(1e-4);
    expect(relErr(grads.wrec.dataSync(), ref.gWrec)).toBeLessThan(1e-4);
    expect(relErr(grads.wout.dataSync(), ref.gWout)).toBeLessThan(1e-5);
    // the hidden states hold their values after the forward pass
    expect(V.value.shape).toEqual([B, NH]);
    tf.dispose([grads.win, grads.wrec, grads.wout, value]);
    expect(tf.memory().numTensors).toBe(before);
    [win, wrec, wout, V, S].forEach((s) => s.dispose());
    tf.dispose([xs, cs]);
  });
});
