/**
 * The fused dense-trace kernels (src/etrace/traceKernels.ts): the embedded binary is the WAT
 * compiled by wabt; the update agrees bit for bit with the unfused tfjs ops (traceScale +
 * traceInstant), in place or into another buffer; the contraction agrees with sum(mul) within
 * float tolerance; the wasm module and the JS loops agree bit for bit; nothing leaks.
 */
import { expectAssembled } from '../assembled';
import { afterEach, describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf';
import { getPlatform } from '../../src/backend/platform';
import {
  TRACE_WAT,
  denseTraceGrad,
  denseTraceUpdate,
  denseTraceUpdateInto,
  flushSubnormal,
  scaleAddInto,
  setFusedTraceKernels,
  setTraceKernelMode,
  traceKernelImplementation,
} from '../../src/etrace/traceKernels';
import { TRACE_WASM_BASE64 } from '../../src/etrace/traceWasmBinary';
import { LoraOp, MatMulOp } from '../../src/etrace/ops';
import { makeIR } from '../../src/compile';

afterEach(() => {
  setTraceKernelMode('module');
  setFusedTraceKernels(true);
});

function unfusedUpdate(e: tf.Tensor, d: tf.Tensor, x: tf.Tensor | null, df: tf.Tensor) {
  return tf.tidy(() =>
    x === null
      ? tf.add(tf.mul(e, d), df)
      : tf.add(
          tf.mul(e, tf.expandDims(d, -2)),
          tf.mul(tf.expandDims(x, -1), tf.expandDims(df, -2)),
        ),
  );
}

function bits(t: tf.Tensor): Uint32Array {
  return new Uint32Array(new Float32Array(t.dataSync()).buffer);
}

function expectBitEqual(a: tf.Tensor, b: tf.Tensor): void {
  expect(a.shape).toEqual(b.shape);
  const x = bits(a);
  const y = bits(b);
  let diff = -1;
  for (let i = 0; i < x.length; i++) {
    if (x[i] !== y[i]) {
      diff = i;
      break;
    }
  }
  expect(diff).toBe(-1);
}

function expectClose(a: tf.Tensor, b: tf.Tensor, tol = 1e-5): void {
  expect(a.shape).toEqual(b.shape);
  const x = a.dataSync();
  const y = b.dataSync();
  let worst = 0;
  for (let i = 0; i < x.length; i++) {
    worst = Math.max(worst, Math.abs(x[i] - y[i]) / (1 + Math.abs(y[i])));
  }
  expect(worst).toBeLessThan(tol);
}

describe('the trace wasm module', () => {
  it('is the WAT source compiled by wabt 1.0.39 (simd, bulk memory)', async () => {
    await expectAssembled(TRACE_WAT, TRACE_WASM_BASE64, 'src/etrace/traceWasmBinary.ts', {
      simd: true,
      bulk_memory: true,
    });
  });

  it('runs on this backend', () => {
    expect(traceKernelImplementation()).toBe(
      getPlatform() === 'wasm' ? 'wasm module on the tfjs heap' : 'JS loops on cpu arrays',
    );
  });
});

describe.each([
  // lead, I, O (O not a multiple of 4 exercises the scalar tail)
  [[3], 5, 7],
  [[2, 2], 4, 8],
  [[], 6, 3],
  [[5], 1, 1],
])('dense trace kernels, lead %j, I %i, O %i', (lead, I, O) => {
  const make = () => ({
    e: tf.randomNormal([...lead, I, O]),
    eb: tf.randomNormal([...lead, O]),
    d: tf.randomUniform([...lead, O]),
    // spikes and real values
    x: tf.mul(
      tf.randomNormal([...lead, I]),
      tf.cast(tf.randomUniform([...lead, I]).greater(0.5), 'float32'),
    ),
    df: tf.randomNormal([...lead, O]),
    delta: tf.randomNormal([...lead, O]),
  });

  it('update: bit-identical to the unfused ops, into another buffer and in place', () => {
    const v = make();
    const ref = unfusedUpdate(v.e, v.d, v.x, v.df);
    const refB = unfusedUpdate(v.eb, v.d, null, v.df);
    const out = tf.zeros(v.e.shape);
    expect(denseTraceUpdateInto(v.e, v.d, v.x, v.df, out)).toBe(true);
    expectBitEqual(out, ref);
    const outB = tf.zeros(v.eb.shape);
    expect(denseTraceUpdateInto(v.eb, v.d, null, v.df, outB)).toBe(true);
    expectBitEqual(outB, refB);
    // in place
    const e2 = tf.mul(v.e, 1); // its own buffer (a clone may share the data)
    expect(denseTraceUpdateInto(e2, v.d, v.x, v.df, e2)).toBe(true);
    expectBitEqual(e2, ref);
    tf.dispose([ref, refB, out, outB, e2, ...Object.values(v)]);
  });

  it('grad: Σ_lead e ⊙ delta within float tolerance of sum(mul)', () => {
    const v = make();
    const n = lead.length;
    const axes = Array.from({ length: n }, (_, i) => i);
    const ref = tf.tidy(() => {
      const p = tf.mul(v.e, tf.expandDims(v.delta, -2));
      return n ? tf.sum(p, axes) : p;
    });
    const refB = tf.tidy(() => (n ? tf.sum(tf.mul(v.eb, v.delta), axes) : tf.mul(v.eb, v.delta)));
    const g = denseTraceGrad(v.e, v.delta)!;
    const gb = denseTraceGrad(v.eb, v.delta, true)!;
    expectClose(g, ref);
    expectClose(gb, refB);
    tf.dispose([ref, refB, g, gb, ...Object.values(v)]);
  });

  it('update into a new tensor (registered kernel): bit-identical to the unfused ops; recordable', () => {
    const v = make();
    const ref = unfusedUpdate(v.e, v.d, v.x, v.df);
    const refB = unfusedUpdate(v.eb, v.d, null, v.df);
    const before = Array.from(v.e.dataSync());
    const out = denseTraceUpdate(v.e, v.d, v.x, v.df)!;
    const outB = denseTraceUpdate(v.eb, v.d, null, v.df)!;
    expectBitEqual(out, ref);
    expectBitEqual(outB, refB);
    expect(Array.from(v.e.dataSync())).toEqual(before); // e is not written
    // a recording sees the kernels (the in-place ones step aside: they would be invisible)
    const p = makeIR((e: tf.Tensor, delta: tf.Tensor) => {
      expect(denseTraceUpdateInto(e, v.d, v.x, v.df, e)).toBe(false);
      return [denseTraceUpdate(e, v.d, v.x, v.df)!, denseTraceGrad(e, delta)!];
    })(v.e, v.delta);
    expect(p.equations.map((q) => q.kernel)).toEqual(['BstDenseTraceUpdate', 'BstDenseTraceGrad']);
    tf.dispose([ref, refB, out, outB, ...Object.values(v)]);
  });

  it.runIf(getPlatform() === 'wasm')('the wasm module and the JS loops agree bit for bit', () => {
    const v = make();
    const a = tf.zeros(v.e.shape);
    const b = tf.zeros(v.e.shape);
    denseTraceUpdateInto(v.e, v.d, v.x, v.df, a);
    const g1 = denseTraceGrad(v.e, v.delta)!;
    const n1 = denseTraceUpdate(v.e, v.d, v.x, v.df)!;
    setTraceKernelMode('js');
    expect(traceKernelImplementation()).toBe('JS loops on wasm heap views');
    denseTraceUpdateInto(v.e, v.d, v.x, v.df, b);
    const g2 = denseTraceGrad(v.e, v.delta)!;
    const n2 = denseTraceUpdate(v.e, v.d, v.x, v.df)!;
    expectBitEqual(a, b);
    expectBitEqual(g1, g2);
    expectBitEqual(n1, n2);
    tf.dispose([a, b, g1, g2, n1, n2, ...Object.values(v)]);
  });
});

describe('dense trace kernels: guards and leaks', () => {
  it('refuses to write into a buffer another tensor shares, and non-float32 operands', () => {
    const e = tf.ones([2, 3, 4]);
    const d = tf.ones([2, 4]);
    const x = tf.ones([2, 3]);
    const view = tf.reshape(e, [6, 4]); // shares e's data on both backends
    expect(denseTraceUpdateInto(e, d, x, d, e)).toBe(false);
    view.dispose();
    const xi = tf.ones([2, 3], 'int32');
    expect(denseTraceUpdateInto(e, d, xi, d, e)).toBe(false);
    expect(denseTraceUpdateInto(e, d, x, d, e)).toBe(true);
    expect(Array.from(e.dataSync()).every((v) => v === 2)).toBe(true);
    tf.dispose([e, d, x, xi]);
  });

  it('many in-place updates and contractions leak nothing and match MatMulOp.traceScale + traceInstant', () => {
    const op = new MatMulOp();
    const w = { weight: tf.randomNormal([5, 6]), bias: tf.zeros([6]) };
    let ref = { weight: tf.zeros([4, 5, 6]), bias: tf.zeros([4, 6]) };
    const buf = { weight: tf.zeros([4, 5, 6]), bias: tf.zeros([4, 6]) };
    const before = tf.memory().numTensors;
    for (let t = 0; t < 50; t++) {
      const [x, d, df, delta] = tf.tidy(() => [
        tf.randomUniform([4, 5]),
        tf.randomUniform([4, 6]),
        tf.randomNormal([4, 6]),
        tf.randomNormal([4, 6]),
      ]);
      expect(op.traceUpdateInto(buf, d, x, df, w, buf)).toBe(true);
      const next = tf.tidy(() => {
        const s = op.traceScale(ref, d);
        const p = op.traceInstant(x, df, w);
        return { weight: tf.add(s.weight, p.weight), bias: tf.add(s.bias, p.bias) };
      });
      tf.dispose([ref.weight, ref.bias]);
      ref = next as typeof ref;
      const g = op.traceGrad(buf, delta, w) as { weight: tf.Tensor; bias: tf.Tensor };
      tf.dispose([g.weight, g.bias, x, d, df, delta]);
      expect(tf.memory().numTensors).toBe(before);
    }
    expectBitEqual(buf.weight, ref.weight);
    expectBitEqual(buf.bias, ref.bias);
    tf.dispose([ref.weight, ref.bias, buf.weight, buf.bias, w.weight, w.bias]);
  });
});

describe('ops: the fused backward step (traceGradUpdate)', () => {
  const cases: [string, () => { op: MatMulOp | LoraOp; w: Record<string, tf.Tensor> }][] = [
    [
      'MatMulOp with bias',
      () => ({ op: new MatMulOp(), w: { weight: tf.randomNormal([5, 6]), bias: tf.zeros([6]) } }),
    ],
    [
      'MatMulOp with weightFn abs',
      () => ({ op: new MatMulOp({ weightFn: tf.abs }), w: { weight: tf.randomNormal([5, 6]) } }),
    ],
    [
      'LoraOp',
      () => ({
        op: new LoraOp({ alpha: 0.5 }),
        w: { B: tf.randomNormal([5, 2]), A: tf.randomNormal([2, 6]), bias: tf.zeros([6]) },
      }),
    ],
  ];
  it.each(cases)(
    '%s: the gradient of traceGrad and the trace of traceScale + traceInstant',
    (_, make) => {
      const { op, w } = make();
      const hasBias = 'bias' in w;
      const trace: Record<string, tf.Tensor> = { weight: tf.randomNormal([4, 5, 6]) };
      if (hasBias) trace.bias = tf.randomNormal([4, 6]);
      const [x, d, df, delta] = [
        tf.randomUniform([4, 5]),
        tf.randomUniform([4, 6]),
        tf.randomNormal([4, 6]),
        tf.randomNormal([4, 6]),
      ];
      const refG = op.traceGrad(trace, delta, w) as Record<string, tf.Tensor>;
      const refT = tf.tidy(() => {
        const s = op.traceScale(trace, d);
        const p = op.traceInstant(x, df, w);
        return Object.fromEntries(Object.keys(s).map((k) => [k, tf.add(s[k], p[k])]));
      });
      const before = tf.memory().numTensors;
      const g = op.traceGradUpdate(trace, delta, w, d, x, df) as Record<string, tf.Tensor>;
      expect(g).not.toBeNull();
      expect(tf.memory().numTensors).toBe(before + Object.keys(g).length);
      for (const k of Object.keys(refG)) expectClose(g[k], refG[k]);
      for (const k of Object.keys(refT)) expectBitEqual(trace[k], refT[k]);
      // a trace whose data another tensor shares is not written
      const view = tf.reshape(trace.weight, [20, 6]);
      expect(op.traceGradUpdate(trace, delta, w, d, x, df)).toBeNull();
      for (const k of Object.keys(refT)) expectBitEqual(trace[k], refT[k]);
      tf.dispose([
        view,
        x,
        d,
        df,
        delta,
        ...Object.values(trace),
        ...Object.values(refG),
        ...Object.values(refT),
        ...Object.values(g),
        ...Object.values(w),
      ]);
    },
  );
});

describe('scaleAddInto (the ES-D-RTRL trace steps)', () => {
  it.each([[7], [64 * 5 + 3]])('bit-identical to the tfjs ops, n = %i', (n) => {
    const [a, b, c] = [tf.randomNormal([n]), tf.randomUniform([n]), tf.randomNormal([n])];
    const alpha = 0.9;
    const ref1 = tf.tidy(() => tf.add(tf.mul(tf.mul(b, a), alpha), tf.mul(c, 1 - alpha)));
    const ref2 = tf.tidy(() => tf.add(tf.mul(a, alpha), c));
    const out1 = tf.zeros([n]);
    const out2 = tf.mul(a, 1);
    expect(scaleAddInto(a, b, c, alpha, 1 - alpha, out1)).toBe(true);
    expect(scaleAddInto(out2, null, c, alpha, 1, out2)).toBe(true); // in place
    expectBitEqual(out1, ref1);
    expectBitEqual(out2, ref2);
    if (getPlatform() === 'wasm') {
      setTraceKernelMode('js');
      const js = tf.zeros([n]);
      expect(scaleAddInto(a, b, c, alpha, 1 - alpha, js)).toBe(true);
      expectBitEqual(js, ref1);
      js.dispose();
    }
    // switched off: nothing runs
    setFusedTraceKernels(false);
    expect(scaleAddInto(a, b, c, alpha, 1 - alpha, out1)).toBe(false);
    setFusedTraceKernels(true);
    tf.dispose([a, b, c, ref1, ref2, out1, out2]);
  });
});

describe('subnormal trace values are flushed to +0 (as XLA on CPU does)', () => {
  const TINY = 2 ** -126;
  // products and sums landing below 2⁻¹²⁶, at 0 and above, negative, NaN; 9 lanes (a SIMD tail)
  const eVals = [1e-30, -1e-30, 3e-20, 1, 0, 2 ** -120, NaN, -(2 ** -125), 5e-39];
  const dVals = [1e-10, 1e-10, 1e-19, 0.5, 1, 2 ** -7, 1, 0.5, 1];

  it('every kernel (module and JS loops) and flushSubnormal of the ops agree bit for bit', () => {
    const n = eVals.length;
    const e = tf.tensor1d(eVals);
    const d = tf.tensor1d(dVals);
    const zero = tf.zeros([n]);
    const ref = flushSubnormal(tf.mul(e, d)); // x = 0: the instant term is +0
    const got = ref.dataSync();
    expect(Array.from(got).map((v) => v !== 0 && Math.abs(v) < TINY)).not.toContain(true);
    expect(Number.isNaN(got[6])).toBe(true);
    expect(got[0]).toBe(0);
    expect(Object.is(got[1], 0)).toBe(true); // +0, not −0
    expect(got[3]).toBe(0.5);
    const modes = getPlatform() === 'wasm' ? (['module', 'js'] as const) : (['js'] as const);
    for (const mode of modes) {
      setTraceKernelMode(mode);
      // bias trace [1, n]: out = e·d + df with df = 0
      const out = tf.zeros([1, n]);
      const e2 = tf.reshape(e, [1, n]);
      const d2 = tf.reshape(d, [1, n]);
      const z2 = tf.reshape(zero, [1, n]);
      expect(denseTraceUpdateInto(e2, d2, null, z2, out)).toBe(true);
      expectBitEqual(tf.reshape(out, [n]), ref);
      const fresh = denseTraceUpdate(e2, d2, null, z2)!;
      expectBitEqual(tf.reshape(fresh, [n]), ref);
      const sa = tf.zeros([n]);
      expect(scaleAddInto(e, d, zero, 1, 1, sa)).toBe(true);
      expectBitEqual(sa, ref);
      tf.dispose([out, e2, d2, z2, fresh, sa]);
    }
    tf.dispose([e, d, zero, ref]);
  });
});
