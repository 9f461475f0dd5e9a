/**
 * The built-in ETraceOps (src/etrace/ops.ts), unbatched and batched (lead = [3]): forward against a
 * direct tfjs computation; weightVjp against tf.grads of Σ dy ⊙ forward; the trace identities
 * traceGrad(traceInstant(x, df), δ) = weightVjp(x, df ⊙ δ) and
 * traceGrad(traceScale(traceInstant(x, df), d), δ) = weightVjp(x, df ⊙ d ⊙ δ) (which make D-RTRL
 * exact), with masks and weight functions (applied once, derivative at the true weight); trace
 * shapes; ConvOp against a float64 finite-difference gradient; typed errors; no tensor leaks.
 */
import { describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf';
import { ArgumentError, NotSupportedError } from '../../src/errors';
import type { ETraceOp, ParamTree, TraceTree } from '../../src/etrace/op';
import { ConvOp, ElemWiseOp, LoraOp, MatMulOp, ScaleOp, SpMatMulOp } from '../../src/etrace/ops';
import { resolvePadding } from '../../src/nn/layers/convOps';
import { expectClose, randomTensor, referenceConv } from '../nn/layersHelpers';

// ---- helpers ---------------------------------------------------------------------------------

function flat(w: ParamTree): { keys: string[] | null; ts: tf.Tensor[] } {
  if (w instanceof tf.Tensor) return { keys: null, ts: [w] };
  const keys = Object.keys(w);
  return { keys, ts: keys.map((k) => w[k]) };
}

function unflat(keys: string[] | null, ts: tf.Tensor[]): ParamTree {
  if (keys === null) return ts[0];
  return Object.fromEntries(keys.map((k, i) => [k, ts[i]]));
}

/** tf.grads of Σ dy ⊙ op.forward(x, w) w.r.t. every leaf of w. */
function autodiff(op: ETraceOp, x: tf.Tensor | null, dy: tf.Tensor, w: ParamTree): ParamTree {
  const { keys, ts } = flat(w);
  const gs = tf.grads((...a: tf.Tensor[]) => tf.sum(tf.mul(op.forward(x, unflat(keys, a)), dy)))(
    ts,
  );
  return unflat(keys, gs);
}

function expectTree(
  actual: ParamTree,
  expected: ParamTree,
  what: string,
  rtol = 1e-4,
  atol = 1e-5,
) {
  const a = flat(actual);
  const e = flat(expected);
  expect(a.keys, `${what} keys`).toEqual(e.keys);
  a.ts.forEach((t, i) => {
    const key = `${what}.${e.keys?.[i] ?? 'value'}`;
    expect(t.shape, `${key} shape`).toEqual(e.ts[i].shape);
    expectClose(t.dataSync(), e.ts[i].dataSync(), rtol, atol, key);
  });
}

function shapesOf(t: TraceTree): Record<string, number[]> {
  return Object.fromEntries(Object.entries(t).map(([k, v]) => [k, v.shape]));
}

function expectArgumentError(fn: () => unknown, ...parts: string[]): void {
  let err: unknown = null;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err, `expected an ArgumentError mentioning ${parts.join(', ')}`).toBeInstanceOf(
    ArgumentError,
  );
  for (const p of parts) expect((err as Error).message).toContain(p);
}

// ---- cases -----------------------------------------------------------------------------------

interface Fixture {
  op: ETraceOp;
  x: tf.Tensor | null;
  w: ParamTree;
  /** The hidden shape (y's shape; for ElemWiseOp the batched hidden shape). */
  hidden: number[];
  /** Direct tfjs computation of the forward value. */
  ref: () => tf.Tensor;
  traceShapes: Record<string, number[]>;
  cleanup?: () => void;
}

interface Case {
  name: string;
  make: (lead: number[]) => Fixture;
}

const I = 4;
const O = 5;

function matmulCase(
  name: string,
  options: ConstructorParameters<typeof MatMulOp>[0],
  effective: (W: tf.Tensor) => tf.Tensor,
  bias: boolean,
  bare = false,
): Case {
  return {
    name,
    make: (lead) => {
      // eventInput: a spike-like x (about half of the entries zero, the rest any value)
      const x = options?.eventInput
        ? tf.tidy(() => {
            const v = randomTensor([...lead, I], 1);
            return tf.mul(v, tf.cast(tf.greater(randomTensor([...lead, I], 9), 0), 'float32'));
          })
        : randomTensor([...lead, I], 1);
      const W = randomTensor([I, O], 2);
      const b = randomTensor([O], 3);
      const w: ParamTree = bare ? W : bias ? { weight: W, bias: b } : { weight: W };
      const traceShapes: Record<string, number[]> = { weight: [...lead, I, O] };
      if (bias) traceShapes.bias = [...lead, O];
      return {
        op: new MatMulOp(options),
        x,
        w,
        hidden: [...lead, O],
        ref: () => {
          const y = tf.reshape(tf.matMul(tf.reshape(x, [-1, I]), effective(W)), [...lead, O]);
          return bias ? tf.add(y, b) : y;
        },
        traceShapes,
      };
    },
  };
}

const MASK = tf.keep(
  tf.tensor2d([1, 0, 1, 1, 0, 0, 1, 1, 1, 0, 1, 1, 0, 1, 1, 1, 0, 1, 1, 1], [I, O]),
);
const SIGN = tf.keep(
  tf.tensor2d([1, -1, 1, 1, -1, -1, 1, 1, -1, 1, 1, -1, 1, 1, -1, 1, -1, 1, 1, -1], [I, O]),
);

function convCase(
  name: string,
  spatialDims: 1 | 2,
  spatial: number[],
  kernel: number[],
  cin: number,
  cout: number,
  opts: { strides?: number; dilations?: number; padding: 'same' | 'valid' },
  extra: { mask?: boolean; abs?: boolean; bias: boolean },
): Case {
  return {
    name,
    make: (lead) => {
      const x = randomTensor([...lead, ...spatial, cin], 11);
      const W = randomTensor([...kernel, cin, cout], 12);
      const b = randomTensor([cout], 13);
      const mask = extra.mask
        ? tf.cast(tf.greater(randomTensor([...kernel, cin, cout], 14), -0.3), 'float32')
        : null;
      const op = new ConvOp({
        spatialDims,
        ...opts,
        weightMask: mask,
        ...(extra.abs ? { weightFn: tf.abs } : {}),
      });
      const effective = (): tf.Tensor => {
        const m = mask === null ? W : tf.mul(W, mask);
        return extra.abs ? tf.abs(m) : m;
      };
      const ref = (): tf.Tensor => {
        const xb = lead.length === 0 ? tf.expandDims(x, 0) : x;
        const s = opts.strides ?? 1;
        const dl = opts.dilations ?? 1;
        let y =
          spatialDims === 1
            ? tf.conv1d(xb as tf.Tensor3D, effective() as tf.Tensor3D, s, opts.padding, 'NWC', dl)
            : tf.conv2d(xb as tf.Tensor4D, effective() as tf.Tensor4D, s, opts.padding, 'NHWC', dl);
        if (extra.bias) y = tf.add(y, b);
        return lead.length === 0 ? tf.squeeze(y, [0]) : y;
      };
      const y0 = ref();
      const hidden = y0.shape;
      const P = hidden.slice(lead.length, -1).reduce((p, d) => p * d, 1);
      y0.dispose();
      const K = kernel.reduce((p, d) => p * d, 1);
      const traceShapes: Record<string, number[]> = { weight: [...lead, P, K, cin, cout] };
      if (extra.bias) traceShapes.bias = [...lead, P, cout];
      return {
        op,
        x,
        w: (extra.bias ? { weight: W, bias: b } : { weight: W }) as ParamTree,
        hidden,
        ref,
        traceShapes,
        cleanup: () => mask?.dispose(),
      };
    },
  };
}

// A CSR pattern over 4 inputs and 5 outputs: row r lists the output columns of input r.
const CSR = {
  indptr: [0, 2, 3, 3, 6],
  indices: [0, 3, 2, 1, 3, 4],
  shape: [4, 5] as [number, number],
};

function denseOfCsr(data: tf.Tensor): tf.Tensor {
  const d = data.dataSync();
  const dense = new Float32Array(CSR.shape[0] * CSR.shape[1]);
  for (let r = 0; r < CSR.shape[0]; r++) {
    for (let k = CSR.indptr[r]; k < CSR.indptr[r + 1]; k++) {
      dense[r * CSR.shape[1] + CSR.indices[k]] += d[k];
    }
  }
  return tf.tensor2d(dense, CSR.shape);
}

function sparseCase(name: string, abs: boolean, bias: boolean): Case {
  return {
    name,
    make: (lead) => {
      const nnz = CSR.indices.length;
      const x = randomTensor([...lead, CSR.shape[0]], 21);
      const data = randomTensor([nnz], 22);
      const b = randomTensor([CSR.shape[1]], 23);
      const op = new SpMatMulOp({ ...CSR, ...(abs ? { weightFn: tf.abs } : {}) });
      const traceShapes: Record<string, number[]> = { weight: [...lead, nnz] };
      if (bias) traceShapes.bias = [...lead, CSR.shape[1]];
      return {
        op,
        x,
        w: (bias ? { weight: data, bias: b } : { weight: data }) as ParamTree,
        hidden: [...lead, CSR.shape[1]],
        ref: () => {
          const dense = denseOfCsr(abs ? tf.abs(data) : data);
          const y = tf.reshape(tf.matMul(tf.reshape(x, [-1, CSR.shape[0]]), dense), [
            ...lead,
            CSR.shape[1],
          ]);
          return bias ? tf.add(y, b) : y;
        },
        traceShapes,
        cleanup: () => op.dispose(),
      };
    },
  };
}

const CASES: Case[] = [
  matmulCase('MatMulOp', {}, (W) => W, true),
  matmulCase('MatMulOp bare weight', {}, (W) => W, false, true),
  matmulCase('MatMulOp mask', { weightMask: MASK }, (W) => tf.mul(W, MASK), true),
  matmulCase(
    'MatMulOp tanh weightFn (applied once)',
    { weightFn: tf.tanh },
    (W) => tf.tanh(W),
    true,
  ),
  matmulCase(
    'MatMulOp mask + sin weightFn after the mask',
    { weightMask: MASK, weightFn: tf.sin },
    (W) => tf.sin(tf.mul(W, MASK)),
    false,
  ),
  matmulCase(
    'MatMulOp SignedWLinear config: x @ (|W| ⊙ sign)',
    { weightMask: SIGN, weightFn: tf.abs, applyWeightFnBeforeMask: true },
    (W) => tf.mul(tf.abs(W), SIGN),
    true,
  ),
  matmulCase('MatMulOp eventInput', { eventInput: true }, (W) => W, true),
  matmulCase(
    'MatMulOp eventInput + mask + tanh weightFn',
    { eventInput: true, weightMask: MASK, weightFn: tf.tanh },
    (W) => tf.tanh(tf.mul(W, MASK)),
    false,
  ),
  {
    name: 'LoraOp',
    make: (lead) => {
      const r = 2;
      const x = randomTensor([...lead, I], 31);
      const B = randomTensor([I, r], 32);
      const A = randomTensor([r, O], 33);
      const b = randomTensor([O], 34);
      return {
        op: new LoraOp({ alpha: 0.5 }),
        x,
        w: { B, A, bias: b },
        hidden: [...lead, O],
        ref: () =>
          tf.add(
            tf.mul(
              tf.reshape(tf.matMul(tf.matMul(tf.reshape(x, [-1, I]), B), A), [...lead, O]),
              0.5,
            ),
            b,
          ),
        traceShapes: { weight: [...lead, I, O], bias: [...lead, O] },
      };
    },
  },
  {
    name: 'ElemWiseOp sigmoid',
    make: (lead) => {
      const w = randomTensor([O], 41);
      return {
        op: new ElemWiseOp((v) => tf.sigmoid(v as tf.Tensor)),
        x: null,
        w,
        hidden: [...lead, O],
        ref: () => tf.sigmoid(w),
        traceShapes: { y: [...lead, O] },
      };
    },
  },
  {
    name: 'ElemWiseOp dict a·exp(b)',
    make: (lead) => {
      const a = randomTensor([O], 42);
      const b = randomTensor([O], 43);
      const fn = (v: ParamTree): tf.Tensor => {
        const d = v as { a: tf.Tensor; b: tf.Tensor };
        return tf.mul(d.a, tf.exp(d.b));
      };
      return {
        op: new ElemWiseOp(fn),
        x: null,
        w: { a, b },
        hidden: [...lead, O],
        ref: () => tf.mul(a, tf.exp(b)),
        traceShapes: { y: [...lead, O] },
      };
    },
  },
  {
    name: 'ElemWiseOp identity',
    make: (lead) => {
      const w = randomTensor([O], 44);
      return {
        op: new ElemWiseOp(),
        x: null,
        w,
        hidden: [...lead, O],
        ref: () => tf.clone(w),
        traceShapes: { y: [...lead, O] },
      };
    },
  },
  {
    name: 'ScaleOp scale + bias over [2, 4]',
    make: (lead) => {
      const x = randomTensor([...lead, 2, 4], 51);
      const scale = randomTensor([4], 52);
      const bias = randomTensor([2, 4], 53);
      return {
        op: new ScaleOp(),
        x,
        w: { scale, bias },
        hidden: [...lead, 2, 4],
        ref: () => tf.add(tf.mul(x, scale), bias),
        traceShapes: { scale: [...lead, 2, 4], bias: [...lead, 2, 4] },
      };
    },
  },
  {
    name: 'ScaleOp scale only',
    make: (lead) => {
      const x = randomTensor([...lead, 4], 54);
      const scale = randomTensor([4], 55);
      return {
        op: new ScaleOp(),
        x,
        w: { scale },
        hidden: [...lead, 4],
        ref: () => tf.mul(x, scale),
        traceShapes: { scale: [...lead, 4] },
      };
    },
  },
  convCase(
    'ConvOp 1d stride 2 same, bias',
    1,
    [7],
    [3],
    2,
    3,
    { strides: 2, padding: 'same' },
    {
      bias: true,
    },
  ),
  convCase(
    'ConvOp 2d valid dilation 2, mask + abs',
    2,
    [6, 5],
    [2, 2],
    2,
    3,
    { dilations: 2, padding: 'valid' },
    { mask: true, abs: true, bias: true },
  ),
  convCase(
    'ConvOp 2d stride 2 same, no bias',
    2,
    [5, 5],
    [3, 3],
    2,
    2,
    { strides: 2, padding: 'same' },
    {
      bias: false,
    },
  ),
  sparseCase('SpMatMulOp', false, true),
  sparseCase('SpMatMulOp abs weightFn', true, false),
];

// ---- generic checks --------------------------------------------------------------------------

describe.each([
  ['unbatched', [] as number[]],
  ['batched', [3]],
])('ETraceOps, %s', (_label, lead) => {
  describe.each(CASES.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    it('forward equals the direct computation', () => {
      tf.tidy(() => {
        const f = c.make(lead);
        expect(f.op.name).toBe(f.op.constructor.name);
        expectTree(f.op.forward(f.x, f.w), f.ref(), 'forward');
        f.cleanup?.();
      });
    });

    it('weightVjp equals tf.grads of Σ dy ⊙ forward', () => {
      tf.tidy(() => {
        const f = c.make(lead);
        const dy = randomTensor(f.hidden, 61);
        expectTree(f.op.weightVjp(f.x, dy, f.w), autodiff(f.op, f.x, dy, f.w), 'weightVjp');
        f.cleanup?.();
      });
    });

    it('traceGrad(traceInstant) and traceGrad(traceScale(traceInstant)) equal weightVjp', () => {
      tf.tidy(() => {
        const f = c.make(lead);
        const df = randomTensor(f.hidden, 62);
        const d = randomTensor(f.hidden, 63);
        const delta = randomTensor(f.hidden, 64);
        const phi = f.op.traceInstant(f.x, df, f.w);
        expect(shapesOf(phi)).toEqual(f.traceShapes);
        const y = f.op.forward(f.x, f.w);
        const example = f.x === null ? tf.zeros(f.hidden) : y;
        expect(shapesOf(f.op.traceZeros(f.x, example, f.w))).toEqual(f.traceShapes);
        // The identity that makes traces exact, checked against autodiff of the forward too.
        const g1 = f.op.traceGrad(phi, delta, f.w);
        expectTree(g1, f.op.weightVjp(f.x, tf.mul(df, delta), f.w), 'traceGrad(φ)');
        expectTree(g1, autodiff(f.op, f.x, tf.mul(df, delta), f.w), 'traceGrad(φ) vs autodiff');
        const scaled = f.op.traceScale(phi, d);
        expect(shapesOf(scaled)).toEqual(f.traceShapes);
        const g2 = f.op.traceGrad(scaled, delta, f.w);
        const ct = tf.mul(tf.mul(df, d), delta);
        expectTree(g2, f.op.weightVjp(f.x, ct, f.w), 'traceGrad(scale(φ))');
        expectTree(g2, autodiff(f.op, f.x, ct, f.w), 'traceGrad(scale(φ)) vs autodiff');
        // Linearity of traces: ε = scale(φ1) + φ2 gives the sum of the two gradients.
        const df2 = randomTensor(f.hidden, 65);
        const phi2 = f.op.traceInstant(f.x, df2, f.w);
        const sum: Record<string, tf.Tensor> = {};
        for (const k of Object.keys(phi)) sum[k] = tf.add(scaled[k], phi2[k]);
        const g3 = f.op.traceGrad(sum, delta, f.w);
        const ct3 = tf.add(ct, tf.mul(df2, delta));
        expectTree(g3, autodiff(f.op, f.x, ct3, f.w), 'traceGrad(scale(φ1) + φ2)');
        f.cleanup?.();
      });
    });

    it('does not leak tensors over 50 calls of every method', () => {
      const f = c.make(lead);
      const df = randomTensor(f.hidden, 66);
      const y = f.x === null ? tf.zeros(f.hidden) : f.op.forward(f.x, f.w);
      const round = (): void => {
        tf.dispose(f.op.forward(f.x, f.w));
        tf.dispose(f.op.weightVjp(f.x, df, f.w) as tf.TensorContainer);
        tf.dispose(f.op.traceZeros(f.x, y, f.w) as tf.TensorContainer);
        const phi = f.op.traceInstant(f.x, df, f.w);
        const s = f.op.traceScale(phi, df);
        tf.dispose(f.op.traceGrad(s, df, f.w) as tf.TensorContainer);
        tf.dispose(phi as tf.TensorContainer);
        tf.dispose(s as tf.TensorContainer);
      };
      round();
      const before = tf.memory().numTensors;
      for (let i = 0; i < 50; i++) round();
      expect(tf.memory().numTensors).toBe(before);
      // Results are owned by the caller: disposing them leaves the inputs intact.
      const phi = f.op.traceInstant(f.x, df, f.w);
      tf.dispose(phi as tf.TensorContainer);
      expect(df.isDisposed).toBe(false);
      tf.dispose([df, y, ...(f.x ? [f.x] : []), ...flat(f.w).ts]);
      f.cleanup?.();
    });
  });
});

// ---- op-specific checks ----------------------------------------------------------------------

describe('MatMulOp', () => {
  it('applies the weight function once and keeps the sign (SignedWLinear config)', () => {
    tf.tidy(() => {
      const x = randomTensor([2, I], 71);
      const W = randomTensor([I, O], 72);
      const signed = new MatMulOp({
        weightMask: SIGN,
        weightFn: tf.abs,
        applyWeightFnBeforeMask: true,
      });
      const y = signed.forward(x, { weight: W });
      expectTree(y, tf.matMul(x, tf.mul(tf.abs(W), SIGN)), 'signed');
      // Some outputs are negative: the sign survived.
      expect(y.min().dataSync()[0]).toBeLessThan(0);
      const exp = new MatMulOp({ weightFn: tf.exp });
      expectTree(exp.forward(x, W), tf.matMul(x, tf.exp(W)), 'exp once');
    });
  });

  it('works inside another gradient tape (weight-function VJPs are isolated)', () => {
    tf.tidy(() => {
      const op = new MatMulOp({ weightFn: tf.tanh, weightMask: MASK });
      const x = randomTensor([3, I], 73);
      const W = randomTensor([I, O], 74);
      const delta = randomTensor([3, O], 75);
      const expected = op.traceGrad(op.traceInstant(x, delta, W), delta, W) as tf.Tensor;
      const gx = tf.grad((xx: tf.Tensor) => {
        const g = op.traceGrad(op.traceInstant(x, delta, W), delta, W) as tf.Tensor;
        expectTree(g, expected, 'inside tape');
        return tf.sum(op.forward(xx, W));
      })(x);
      expect(gx.shape).toEqual([3, I]);
    });
  });

  it('eventInput: forward and tape gradients equal the dense op at a spiking size, via the event kernels', () => {
    // B64, [100 input + 256 hidden] spikes (~2 % non-zero) → 256, as in bench/online.ts
    const [B, K, N] = [64, 356, 256];
    const x = tf.tidy(() =>
      tf.cast(tf.less(tf.randomUniform([B, K], 0, 1, 'float32', 5), 0.023), 'float32'),
    );
    const W = randomTensor([K, N], 81);
    const b = randomTensor([N], 82);
    const dy = randomTensor([B, N], 83);
    const ev = new MatMulOp({ eventInput: true });
    const dense = new MatMulOp();
    expect(ev.eventInput).toBe(true);
    expect(dense.eventInput).toBe(false);
    const run = (op: MatMulOp) =>
      tf.tidy(() => {
        const f = (xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) =>
          tf.sum(tf.mul(op.forward(xx, { weight: ww, bias: bb }), dy));
        const [gx, gw, gb] = tf.grads(f)([x, W, b]);
        return [op.forward(x, { weight: W, bias: b }), gx, gw, gb];
      });
    const names: string[] = [];
    const eng = tf.engine() as unknown as { runKernel(n: string, ...a: unknown[]): unknown };
    const orig = eng.runKernel;
    eng.runKernel = function (n: string, ...a: unknown[]) {
      names.push(n);
      return orig.call(this, n, ...a);
    };
    let e: tf.Tensor[];
    try {
      e = run(ev);
    } finally {
      eng.runKernel = orig;
    }
    expect(names).toContain('BstEventMatMul');
    expect(names).toContain('BstEventMatMulT'); // the tape's weight gradient walks the events
    expect(names.filter((n) => n === 'BatchMatMul').length).toBeGreaterThan(0); // dx = dy·Wᵀ
    const d = run(dense);
    const what = ['forward', 'dx', 'dW', 'db'];
    e.forEach((t, i) => {
      expect(t.shape).toEqual(d[i].shape);
      expectClose(t.dataSync(), d[i].dataSync(), 1e-5, 1e-6, `eventInput ${what[i]}`);
    });
    // no leaks over repeated forward + gradient calls
    tf.dispose([...e, ...d]);
    tf.dispose(run(ev));
    const before = tf.memory().numTensors;
    for (let i = 0; i < 20; i++) tf.dispose(run(ev));
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, W, b, dy]);
  });

  it('eventInput: an integer x falls back to the dense product; a non-boolean option is an error', () => {
    tf.tidy(() => {
      const op = new MatMulOp({ eventInput: true });
      const W = randomTensor([I, O], 84);
      const xi = tf.tensor2d([[0, 1, 0, 2]], [1, I], 'int32');
      expectTree(op.forward(xi, W), tf.matMul(tf.cast(xi, 'float32'), W), 'int32 x');
      expectArgumentError(
        () => new MatMulOp({ eventInput: 1 as unknown as boolean }),
        'MatMulOp',
        'eventInput',
      );
    });
  });

  it('raises ArgumentError naming the op', () => {
    tf.tidy(() => {
      const op = new MatMulOp();
      const W = tf.zeros([I, O]);
      expectArgumentError(() => op.forward(tf.zeros([2, 3]), W), 'MatMulOp', '[..., 4]');
      expectArgumentError(
        () => op.forward(tf.zeros([2, I]), { bias: tf.zeros([O]) }),
        'MatMulOp',
        "'weight'",
      );
      expectArgumentError(
        () => op.forward(tf.zeros([2, I]), { weight: W, bias: tf.zeros([3]) }),
        'MatMulOp',
        'bias',
      );
      expectArgumentError(
        () => op.forward(tf.zeros([2, I]), { weight: W, extra: W }),
        'MatMulOp',
        "'extra'",
      );
      expectArgumentError(() => op.forward(null, W), 'MatMulOp', 'x');
      expectArgumentError(
        () => op.traceInstant(tf.zeros([2, I]), tf.zeros([O]), W),
        'MatMulOp',
        'df',
      );
      expectArgumentError(
        () => new MatMulOp({ weightMask: tf.zeros([3, 3]) }).forward(tf.zeros([I]), W),
        'MatMulOp',
        'mask',
      );
      expectArgumentError(
        () => new MatMulOp({ weightFn: 3 as unknown as (w: tf.Tensor) => tf.Tensor }),
        'MatMulOp',
        'weightFn',
      );
      const phi = op.traceInstant(tf.zeros([2, I]), tf.zeros([2, O]), W);
      expectArgumentError(() => op.traceGrad(phi, tf.zeros([O]), W), 'MatMulOp', 'delta');
    });
  });
});

describe('LoraOp', () => {
  it('B and A gradients from traces equal autodiff over a two-step recurrence', () => {
    tf.tidy(() => {
      // h_t = d ⊙ h_{t-1} + y_t with y_t = α x_t B A: the trace ε_t = d ⊙ ε_{t-1} + φ_t gives
      // ∂(Σ δ ⊙ h_2)/∂{B, A} exactly (no upstream B bug).
      const op = new LoraOp({ alpha: 2 });
      const x1 = randomTensor([3, I], 81);
      const x2 = randomTensor([3, I], 82);
      const w = { B: randomTensor([I, 2], 83), A: randomTensor([2, O], 84) };
      const d = randomTensor([3, O], 85, 0.2, 0.9);
      const delta = randomTensor([3, O], 86);
      const ones = tf.onesLike(delta);
      const eps = op.traceScale(op.traceInstant(x1, ones, w), d);
      const phi2 = op.traceInstant(x2, ones, w);
      const trace = { weight: tf.add(eps.weight, phi2.weight) };
      const g = op.traceGrad(trace, delta, w);
      const [gB, gA] = tf.grads((B: tf.Tensor, A: tf.Tensor) => {
        const h1 = op.forward(x1, { B, A });
        const h2 = tf.add(tf.mul(d, h1), op.forward(x2, { B, A }));
        return tf.sum(tf.mul(delta, h2));
      })([w.B, w.A]);
      expectTree(g, { B: gB, A: gA }, 'lora');
    });
  });

  it('raises ArgumentError naming the op', () => {
    tf.tidy(() => {
      const op = new LoraOp();
      const B = tf.zeros([I, 2]);
      const A = tf.zeros([2, O]);
      expectArgumentError(() => op.forward(tf.zeros([I]), { B }), 'LoraOp', "'A'");
      expectArgumentError(() => op.forward(tf.zeros([I]), B), 'LoraOp', 'dict');
      expectArgumentError(
        () => op.forward(tf.zeros([I]), { B, A: tf.zeros([3, O]) }),
        'LoraOp',
        '[r, O]',
      );
      expectArgumentError(() => op.forward(tf.zeros([3]), { B, A }), 'LoraOp', 'x');
      expectArgumentError(() => new LoraOp({ alpha: NaN }), 'LoraOp', 'alpha');
    });
  });
});

describe('ElemWiseOp', () => {
  it('a y without the batch axis broadcasts to the hidden shape', () => {
    tf.tidy(() => {
      const op = new ElemWiseOp((v) => tf.exp(v as tf.Tensor));
      const w = randomTensor([O], 91);
      // traceZeros takes a hidden-shaped example (as the executor passes) or fn(w)'s shape.
      expect(op.traceZeros(null, tf.zeros([3, O]), w).y.shape).toEqual([3, O]);
      expect(op.traceZeros(null, tf.zeros([O]), w).y.shape).toEqual([O]);
      const df = randomTensor([3, O], 92);
      const delta = randomTensor([3, O], 93);
      const g = op.traceGrad(op.traceInstant(null, df, w), delta, w) as tf.Tensor;
      expectTree(g, tf.mul(tf.exp(w), tf.sum(tf.mul(df, delta), 0)), 'elemwise grad');
      // A trace without the batch axis broadcasts against hidden-shaped factors.
      const small = op.traceInstant(null, tf.onesLike(w), w);
      const scaled = op.traceScale(small, df);
      expect(scaled.y.shape).toEqual([3, O]);
      expectTree(op.traceGrad(small, delta, w), op.weightVjp(null, delta, w), 'broadcast trace');
    });
  });

  it('raises ArgumentError naming the op', () => {
    tf.tidy(() => {
      const op = new ElemWiseOp();
      const w = tf.zeros([O]);
      expectArgumentError(() => op.forward(null, { a: w, b: w }), 'ElemWiseOp', 'tensor');
      expectArgumentError(() => op.weightVjp(null, tf.zeros([3]), w), 'ElemWiseOp', 'broadcast');
      const phi = op.traceInstant(null, tf.zeros([3, O]), w);
      expectArgumentError(() => op.traceGrad(phi, tf.zeros([O]), w), 'ElemWiseOp', 'delta');
      expectArgumentError(
        () => new ElemWiseOp(5 as unknown as () => tf.Tensor),
        'ElemWiseOp',
        'fn',
      );
    });
  });
});

describe('ScaleOp', () => {
  it('raises ArgumentError naming the op', () => {
    tf.tidy(() => {
      const op = new ScaleOp();
      const x = tf.zeros([3, 4]);
      expectArgumentError(() => op.forward(x, {}), 'ScaleOp', "'scale' or a 'bias'");
      expectArgumentError(() => op.forward(x, { scale: tf.zeros([3]) }), 'ScaleOp', 'scale');
      expectArgumentError(
        () => op.forward(x, { scale: tf.zeros([2, 3, 4]) }),
        'ScaleOp',
        'broadcast',
      );
      expectArgumentError(() => op.forward(x, tf.zeros([4])), 'ScaleOp', 'dict');
    });
  });
});

describe('SpMatMulOp', () => {
  it('raises ArgumentError naming the op', () => {
    tf.tidy(() => {
      expectArgumentError(
        () => new SpMatMulOp({ ...CSR, indptr: [0, 2, 3, 6] }),
        'SpMatMulOp',
        'indptr',
      );
      expectArgumentError(
        () => new SpMatMulOp({ ...CSR, indices: [0, 3, 2, 1, 3, 5] }),
        'SpMatMulOp',
        'indices',
      );
      expectArgumentError(
        () => new SpMatMulOp({ ...CSR, shape: [4, 0] as [number, number] }),
        'SpMatMulOp',
        'shape',
      );
      const op = new SpMatMulOp(CSR);
      expectArgumentError(() => op.forward(tf.zeros([4]), tf.zeros([5])), 'SpMatMulOp', '[6]');
      expectArgumentError(() => op.forward(tf.zeros([5]), tf.zeros([6])), 'SpMatMulOp', 'x');
      op.dispose();
    });
  });
});

// ---- ConvOp against float64 finite differences ------------------------------------------------

interface ConvFd {
  name: string;
  spatial: number[];
  kernel: number[];
  strides: number;
  dilations: number;
  padding: 'same' | 'valid';
}

const CONV_FD: ConvFd[] = [
  {
    name: '1d stride 2 same',
    spatial: [8],
    kernel: [3],
    strides: 2,
    dilations: 1,
    padding: 'same',
  },
  {
    name: '1d valid dilation 2',
    spatial: [9],
    kernel: [3],
    strides: 1,
    dilations: 2,
    padding: 'valid',
  },
  {
    name: '1d stride 2 dilation 2 same',
    spatial: [9],
    kernel: [2],
    strides: 2,
    dilations: 2,
    padding: 'same',
  },
  {
    name: '2d stride 2 same',
    spatial: [5, 6],
    kernel: [3, 2],
    strides: 2,
    dilations: 1,
    padding: 'same',
  },
  {
    name: '2d valid dilation 2',
    spatial: [6, 5],
    kernel: [2, 2],
    strides: 1,
    dilations: 2,
    padding: 'valid',
  },
  {
    name: '2d stride 2 dilation 2 valid',
    spatial: [7, 7],
    kernel: [2, 2],
    strides: 2,
    dilations: 2,
    padding: 'valid',
  },
];

describe('ConvOp', () => {
  describe.each(CONV_FD.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    it.each([
      ['unbatched', [] as number[]],
      ['batched', [3]],
    ])('forward, weightVjp and traces match float64 references (%s)', (_l, lead) => {
      tf.tidy(() => {
        const n = c.spatial.length as 1 | 2;
        const cin = 2;
        const cout = 3;
        const op = new ConvOp({
          spatialDims: n,
          strides: c.strides,
          dilations: c.dilations,
          padding: c.padding,
        });
        const x = randomTensor([...lead, ...c.spatial, cin], 101);
        const wShape = [...c.kernel, cin, cout];
        const W = randomTensor(wShape, 102);
        const xShape = [lead[0] ?? 1, ...c.spatial, cin];
        const pads = resolvePadding(
          'test',
          c.padding,
          c.spatial,
          c.kernel,
          new Array<number>(n).fill(c.strides),
          new Array<number>(n).fill(c.dilations),
        );
        const geo = {
          strides: new Array<number>(n).fill(c.strides),
          dilations: new Array<number>(n).fill(c.dilations),
          pads,
          groups: 1,
        };
        const xData = x.dataSync();
        const wData = Float64Array.from(W.dataSync());
        const ref = referenceConv(xData, xShape, wData, wShape, geo);
        const y = op.forward(x, W);
        const outShape = lead.length === 0 ? ref.shape.slice(1) : ref.shape;
        expect(y.shape).toEqual(outShape);
        expectClose(y.dataSync(), ref.data, 1e-5, 1e-5, 'conv forward');
        // L(W) = Σ δ ⊙ conv(x, W) is linear in W: central differences with h = 1 are exact in
        // float64.
        const delta = randomTensor(outShape, 103);
        const dData = delta.dataSync();
        const loss = (wv: Float64Array): number => {
          const r = referenceConv(xData, xShape, wv, wShape, geo).data;
          let s = 0;
          for (let i = 0; i < r.length; i++) s += r[i] * dData[i];
          return s;
        };
        const fd = new Float64Array(wData.length);
        for (let j = 0; j < wData.length; j++) {
          const plus = Float64Array.from(wData);
          const minus = Float64Array.from(wData);
          plus[j] += 1;
          minus[j] -= 1;
          fd[j] = (loss(plus) - loss(minus)) / 2;
        }
        const g = op.weightVjp(x, delta, W) as tf.Tensor;
        expect(g.shape).toEqual(wShape);
        expectClose(g.dataSync(), fd, 1e-4, 1e-4, 'weightVjp vs finite differences');
        // D-RTRL trace with df = 1 and learning signal δ.
        const phi = op.traceInstant(x, tf.onesLike(delta), W);
        const P = outShape.slice(lead.length, -1).reduce((p, d) => p * d, 1);
        const K = c.kernel.reduce((p, d) => p * d, 1);
        expect(phi.weight.shape).toEqual([...lead, P, K, cin, cout]);
        const gt = op.traceGrad(phi, delta, W) as tf.Tensor;
        expectClose(gt.dataSync(), fd, 1e-4, 1e-4, 'traceGrad vs finite differences');
      });
    });
  });

  it('rejects groups ≠ 1 and bad inputs', () => {
    tf.tidy(() => {
      expect(() => new ConvOp({ spatialDims: 2, groups: 2 })).toThrow(NotSupportedError);
      expect(() => new ConvOp({ spatialDims: 2, groups: 2 })).toThrow(/ConvOp/);
      expectArgumentError(() => new ConvOp({ spatialDims: 3 as 2 }), 'ConvOp', 'spatialDims');
      expectArgumentError(() => new ConvOp({ spatialDims: 1, strides: 0 }), 'ConvOp', 'strides');
      expectArgumentError(
        () => new ConvOp({ spatialDims: 1, padding: 'full' as 'same' }),
        'ConvOp',
        'padding',
      );
      const op = new ConvOp({ spatialDims: 2 });
      const W = tf.zeros([3, 3, 2, 4]);
      expectArgumentError(() => op.forward(tf.zeros([5, 5, 3]), W), 'ConvOp', 'Cin = 2');
      expectArgumentError(() => op.forward(tf.zeros([5, 2]), W), 'ConvOp', 'x');
      expectArgumentError(
        () => op.forward(tf.zeros([5, 5, 2]), tf.zeros([3, 2, 4])),
        'ConvOp',
        'kernel',
      );
      const phi = op.traceInstant(tf.zeros([5, 5, 2]), tf.zeros([5, 5, 4]), W);
      expectArgumentError(() => op.traceGrad(phi, tf.zeros([4, 5, 4]), W), 'ConvOp', 'delta');
    });
  });
});
