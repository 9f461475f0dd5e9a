/**
 * Communication layers: event-driven and sparse CSR propagation equal the dense product
 * (bool / float spikes, batched and unbatched, scalar and per-synapse weights, repeated
 * synapses), on the wasm module, the JS loops and a generic (read-back) backend; gradients w.r.t.
 * spikes and weights equal those of the dense matrix (also second order); Linear's shapes, mask
 * and bias; typed errors; no tensor leaks over 2000 calls.
 */
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { afterEach, describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf';
import { defaultPlatform, getPlatform, setPlatform } from '../../src/backend/platform';
import { ArgumentError } from '../../src/errors';
import { Constant, Normal } from '../../src/init';
import {
  CSR_EVENT_KERNEL,
  CSR_TRANSPOSE_KERNEL,
  CSR_WEIGHT_GRAD_KERNEL,
  CSRLinear,
  EventCSRLinear,
  EventFixedProb,
  Linear,
  SparseLinear,
  csrKernelImplementation,
  csrMatMul,
  csrMatMulTranspose,
  setWasmCSRMode,
  type CSRTensors,
} from '../../src/nn/comm';
import { CSR, FixedProb, FixedTotalNum } from '../../src/nn/connectivity';
import { HiddenState, ParamState } from '../../src/state';
import { jit, makeIR } from '../../src/compile';
import { Xoshiro128, keyFromSeed } from '../../src/random';

const onWasm = getPlatform() === 'wasm';
/** Kernel implementations to run every equality test on. */
const MODES: ('module' | 'js')[] = onWasm ? ['module', 'js'] : ['module'];

afterEach(() => {
  setWasmCSRMode('module');
});

function rng(seed: number): Xoshiro128 {
  return new Xoshiro128(keyFromSeed(seed));
}

/** 0/1 spikes with probability `rate`, as a Float32Array of `n` values. */
function spikeArray(n: number, rate: number, seed: number): Float32Array {
  const g = rng(seed);
  return Float32Array.from({ length: n }, () => (g.nextFloat32() < rate ? 1 : 0));
}

function floatArray(n: number, seed: number, integer = false): Float32Array {
  const g = rng(seed);
  return Float32Array.from({ length: n }, () =>
    integer ? g.nextBelow(7) - 3 : g.nextFloat32() * 2 - 1,
  );
}

function upload(c: CSR): CSRTensors {
  return {
    nPre: c.nPre,
    nPost: c.nPost,
    indptr: tf.tensor1d(c.indptr, 'int32'),
    indices: tf.tensor1d(c.indices, 'int32'),
  };
}

function release(d: CSRTensors): void {
  tf.dispose([d.indptr, d.indices]);
}

/** Dense reference f(x) @ W over the last axis, and the error bound 1e-6 · (|f(x)| @ |W|). */
function denseRef(x: tf.Tensor, W: tf.Tensor): { y: Float32Array; bound: Float32Array } {
  return tf.tidy(() => {
    const xf = tf.reshape(tf.cast(x, 'float32'), [-1, W.shape[0]]);
    const y = tf.matMul(xf, W).dataSync() as Float32Array;
    const bound = tf.matMul(tf.abs(xf), tf.abs(W)).dataSync() as Float32Array;
    return { y: y.slice(), bound: bound.map((b) => 1e-6 * b + 1e-30) };
  });
}

function expectWithin(actual: ArrayLike<number>, ref: { y: Float32Array; bound: Float32Array }) {
  expect(actual.length).toBe(ref.y.length);
  for (let i = 0; i < ref.y.length; i++) {
    if (!(Math.abs(actual[i] - ref.y[i]) <= ref.bound[i])) {
      throw new Error(`element ${i}: ${actual[i]} vs dense ${ref.y[i]} (bound ${ref.bound[i]})`);
    }
  }
}

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol = 1e-5): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const scale = Math.max(1, Math.abs(expected[i]));
    if (!(Math.abs(actual[i] - expected[i]) <= tol * scale)) {
      throw new Error(`element ${i}: ${actual[i]} vs ${expected[i]}`);
    }
  }
}

describe('the CSR kernels are registered', () => {
  it('for cpu and wasm, with gradients', () => {
    for (const kernel of [CSR_EVENT_KERNEL, CSR_TRANSPOSE_KERNEL, CSR_WEIGHT_GRAD_KERNEL]) {
      expect(tf.getKernel(kernel, 'cpu')).toBeDefined();
      expect(tf.getKernel(kernel, 'wasm')).toBeDefined();
      expect(tf.getGradient(kernel)).toBeDefined();
    }
  });

  it('use the wasm module on wasm, the JS loops on cpu', () => {
    expect(csrKernelImplementation()).toBe(
      onWasm ? 'wasm module on the tfjs heap' : 'JS loops on cpu arrays',
    );
  });
});

describe.each(MODES)('event propagation equals dense propagation (%s)', (mode) => {
  const nPre = 37;
  const nPost = 29;
  const conn = FixedProb(0.3, { seed: 5 }).build(nPre, nPost);

  it.each([
    ['unbatched', [nPre]],
    ['batched', [4, nPre]],
    ['rank 3', [2, 3, nPre]],
  ] as const)('%s, bool and float spikes, scalar and per-synapse weights', (_, shape) => {
    setWasmCSRMode(mode);
    const dev = upload(conn);
    const size = shape.reduce((a, b) => a * b, 1);
    const spikes = spikeArray(size, 0.3, 1);
    for (const integer of [true, false]) {
      const wv = floatArray(conn.nnz, 2, integer);
      for (const weight of [tf.tensor1d(wv), tf.scalar(integer ? 3 : 0.37)]) {
        const W = tf.tensor2d(conn.toDense(weight.rank === 0 ? weight.dataSync()[0] : wv), [
          nPre,
          nPost,
        ]);
        for (const dtype of ['float32', 'bool'] as const) {
          const x = tf.tensor(dtype === 'bool' ? spikes.map((v) => v) : spikes, [...shape], dtype);
          for (const asEvent of [true, false]) {
            const y = csrMatMul(x, dev, weight, { asEvent });
            expect(y.shape).toEqual([...shape.slice(0, -1), nPost]);
            expect(y.dtype).toBe('float32');
            const ref = denseRef(x, W);
            if (integer) expect(Array.from(y.dataSync())).toEqual(Array.from(ref.y));
            else expectWithin(y.dataSync(), ref);
            y.dispose();
          }
          x.dispose();
        }
        tf.dispose([W, weight]);
      }
    }
    release(dev);
  });

  it('float inputs: asEvent false multiplies by the value, asEvent true counts non-zeros as 1', () => {
    setWasmCSRMode(mode);
    const dev = upload(conn);
    const xv = floatArray(3 * nPre, 3).map((v, i) => (i % 3 === 0 ? 0 : v));
    const wv = floatArray(conn.nnz, 4);
    const x = tf.tensor2d(xv, [3, nPre]);
    const w = tf.tensor1d(wv);
    const W = tf.tensor2d(conn.toDense(wv), [nPre, nPost]);
    const y = csrMatMul(x, dev, w);
    expectWithin(y.dataSync(), denseRef(x, W));
    const yEvent = csrMatMul(x, dev, w, { asEvent: true });
    const events = tf.cast(tf.notEqual(x, 0), 'float32');
    expectWithin(yEvent.dataSync(), denseRef(events, W));
    tf.dispose([x, w, W, y, yEvent, events]);
    release(dev);
  });

  it('int32 spikes are cast; repeated synapses add; an all-zero input gives zeros', () => {
    setWasmCSRMode(mode);
    const multi = FixedTotalNum(400, { allowMultiConn: true, seed: 8 }).build(10, 6);
    const dev = upload(multi);
    const wv = floatArray(multi.nnz, 9, true);
    const w = tf.tensor1d(wv);
    const W = tf.tensor2d(multi.toDense(wv), [10, 6]);
    const x = tf.tensor2d(spikeArray(20, 0.5, 10), [2, 10], 'int32');
    const y = csrMatMul(x, dev, w, { asEvent: true });
    expect(Array.from(y.dataSync())).toEqual(Array.from(denseRef(x, W).y));
    const zeros = tf.zeros([3, 10]);
    const y0 = csrMatMul(zeros, dev, w);
    expect(Array.from(y0.dataSync())).toEqual(new Array(18).fill(0));
    tf.dispose([w, W, x, y, zeros, y0]);
    release(dev);
  });

  it('the transpose product equals dy @ Wᵀ', () => {
    setWasmCSRMode(mode);
    const dev = upload(conn);
    const wv = floatArray(conn.nnz, 11);
    const dy = tf.tensor2d(floatArray(2 * nPost, 12), [2, nPost]);
    for (const w of [tf.tensor1d(wv), tf.scalar(-0.6)]) {
      const W = tf.tensor2d(conn.toDense(w.rank === 0 ? -0.6 : wv), [nPre, nPost]);
      const dx = csrMatMulTranspose(dy, dev, w);
      const ref = tf.matMul(dy, W, false, true);
      expectClose(dx.dataSync(), ref.dataSync());
      tf.dispose([w, W, dx, ref]);
    }
    dy.dispose();
    release(dev);
  });
});

describe.each(MODES)('gradients equal the dense-matrix gradients (%s)', (mode) => {
  const nPre = 23;
  const nPost = 19;
  const conn = FixedProb(0.35, { seed: 21 }).build(nPre, nPost);
  const rows = conn.rowIds();

  /** Per-synapse dW entries of a dense gradient [nPre, nPost]. */
  function atSynapses(dW: Float32Array | Int32Array | Uint8Array): number[] {
    return Array.from(conn.indices, (j, k) => dW[rows[k] * nPost + j]);
  }

  it.each([
    ['per-synapse', false, [3, nPre]],
    ['scalar', true, [3, nPre]],
    ['per-synapse, unbatched', false, [nPre]],
    ['scalar, rank 3', true, [2, 2, nPre]],
  ] as const)('w.r.t. spikes and weights: %s', (_, homo, shape) => {
    setWasmCSRMode(mode);
    const dev = upload(conn);
    const size = shape.reduce((a, b) => a * b, 1);
    const outShape = [...shape.slice(0, -1), nPost];
    for (const binary of [true, false]) {
      const x = tf.tensor(binary ? spikeArray(size, 0.4, 22) : floatArray(size, 22), [...shape]);
      const ct = tf.tensor(
        floatArray(
          outShape.reduce((a, b) => a * b, 1),
          23,
        ),
        outShape,
      );
      const wv = floatArray(conn.nnz, 24);
      const w = homo ? tf.scalar(0.7) : tf.tensor1d(wv);
      const W = tf.tensor2d(conn.toDense(homo ? 0.7 : wv), [nPre, nPost]);
      // Straight-through for events: with 0/1 spikes the event and value forms agree with dense.
      for (const asEvent of binary ? [true, false] : [false]) {
        const [dx, dw] = tf.grads((xs: tf.Tensor, ws: tf.Tensor) =>
          tf.sum(tf.mul(csrMatMul(xs, dev, ws, { asEvent }), ct)),
        )([x, w]);
        const [dxRef, dWRef] = tf.grads((xs: tf.Tensor, Ws: tf.Tensor) =>
          tf.sum(tf.mul(tf.reshape(tf.matMul(tf.reshape(xs, [-1, nPre]), Ws), outShape), ct)),
        )([x, W]);
        expect(dx.shape).toEqual(x.shape);
        expect(dw.shape).toEqual(w.shape);
        expectClose(dx.dataSync(), dxRef.dataSync());
        const perSynapse = atSynapses(dWRef.dataSync());
        expectClose(dw.dataSync(), homo ? [perSynapse.reduce((a, b) => a + b, 0)] : perSynapse);
        tf.dispose([dx, dw, dxRef, dWRef]);
      }
      tf.dispose([x, ct, w, W]);
    }
    release(dev);
  });

  it('second order: the gradient of a spike gradient w.r.t. the weights', () => {
    setWasmCSRMode(mode);
    const dev = upload(conn);
    const x = tf.tensor2d(spikeArray(2 * nPre, 0.5, 31), [2, nPre]);
    const ct = tf.tensor2d(floatArray(2 * nPost, 32), [2, nPost]);
    const r2 = tf.tensor2d(floatArray(2 * nPre, 33), [2, nPre]);
    const wv = floatArray(conn.nnz, 34);
    const w = tf.tensor1d(wv);
    const W = tf.tensor2d(conn.toDense(wv), [nPre, nPost]);
    const outer = (forward: (xs: tf.Tensor, ws: tf.Tensor) => tf.Tensor) =>
      tf.grad((ws: tf.Tensor) => {
        const dx = tf.grad((xs: tf.Tensor) => tf.sum(tf.mul(forward(xs, ws), ct)))(x);
        // Also through the weight gradient: d/dw Σ (∂L/∂w) — zero for a linear layer but exercised.
        return tf.sum(tf.mul(dx, r2));
      });
    const dw = outer((xs, ws) => csrMatMul(xs, dev, ws, { asEvent: true }))(w);
    const dWRef = outer((xs, Ws) => tf.matMul(xs, Ws))(W);
    expectClose(dw.dataSync(), atSynapses(dWRef.dataSync()));
    // d/dspikes of Σ (∂L/∂w) ⊙ r: the weight-gradient kernel's own gradient.
    const rw = tf.tensor1d(floatArray(conn.nnz, 35));
    const rW = tf.tensor2d(conn.toDense(rw.dataSync()), [nPre, nPost]);
    const xf = tf.tensor2d(floatArray(2 * nPre, 36), [2, nPre]);
    const viaWeight = (
      forward: (xs: tf.Tensor, ws: tf.Tensor) => tf.Tensor,
      wt: tf.Tensor,
      r: tf.Tensor,
    ) =>
      tf.grads((xs: tf.Tensor, cts: tf.Tensor) => {
        const g = tf.grad((ws: tf.Tensor) => tf.sum(tf.mul(forward(xs, ws), cts)))(wt);
        return tf.sum(tf.mul(g, r));
      });
    const [gx, gct] = viaWeight((xs, ws) => csrMatMul(xs, dev, ws), w, rw)([xf, ct]);
    const [gxRef, gctRef] = viaWeight((xs, Ws) => tf.matMul(xs, Ws), W, rW)([xf, ct]);
    expectClose(gx.dataSync(), gxRef.dataSync());
    expectClose(gct.dataSync(), gctRef.dataSync());
    tf.dispose([x, ct, r2, w, W, dw, dWRef, rw, rW, xf, gx, gct, gxRef, gctRef]);
    release(dev);
  });
});

describe('a backend without zero-copy access (generic read-back path)', () => {
  it('computes the same products and gradients', async () => {
    const name = 'bst-csr-generic-test';
    const start = getPlatform();
    const conn = FixedProb(0.4, { seed: 41 }).build(12, 9);
    const wv = floatArray(conn.nnz, 42, true);
    const xv = spikeArray(24, 0.5, 43);
    const expected = (() => {
      const W = conn.toDense(wv);
      const out = new Array<number>(18).fill(0);
      for (let b = 0; b < 2; b++) {
        for (let i = 0; i < 12; i++)
          for (let j = 0; j < 9; j++) out[b * 9 + j] += xv[b * 12 + i] * W[i * 9 + j];
      }
      return out;
    })();
    tf.registerBackend(name, () => {
      const backend = new MathBackendCPU();
      (backend as unknown as { firstUse: boolean }).firstUse = false;
      return backend;
    });
    try {
      await tf.setBackend(name);
      const dev = upload(conn);
      const x = tf.tensor2d(xv, [2, 12]);
      const w = tf.tensor1d(wv);
      const y = csrMatMul(x, dev, w, { asEvent: true });
      expect(tf.getKernel(CSR_EVENT_KERNEL, name)).toBeDefined();
      expect(Array.from(y.dataSync())).toEqual(expected);
      const dy = tf.tensor2d(new Float32Array(18).fill(1), [2, 9]);
      const dx = csrMatMulTranspose(dy, dev, w);
      const rowSums = Array.from({ length: 12 }, (_, i) =>
        wv.slice(conn.indptr[i], conn.indptr[i + 1]).reduce((a, b) => a + b, 0),
      );
      expect(Array.from(dx.dataSync())).toEqual([...rowSums, ...rowSums]);
      tf.dispose([x, w, y, dy, dx]);
      release(dev);
    } finally {
      await setPlatform(start ?? defaultPlatform());
      tf.removeBackend(name);
      for (const k of [CSR_EVENT_KERNEL, CSR_TRANSPOSE_KERNEL, CSR_WEIGHT_GRAD_KERNEL]) {
        tf.unregisterKernel(k, name);
      }
    }
  });
});

describe('EventFixedProb and EventCSRLinear', () => {
  it('match the dense product of their own connectivity and weights', () => {
    const layer = new EventFixedProb(40, 30, { prob: 0.2, weight: 0.5, seed: 3 });
    expect(layer.inSize).toEqual([40]);
    expect(layer.outSize).toEqual([30]);
    expect(layer.weight).toBeInstanceOf(ParamState);
    expect(layer.weight.value.shape).toEqual([]);
    const same = FixedProb(0.2, { seed: 3 }).build(40, 30);
    expect(layer.conn.indices.join()).toBe(same.indices.join());
    const x = tf.tensor2d(spikeArray(80, 0.3, 4), [2, 40]);
    const y = layer.call(x);
    const W = tf.tensor2d(same.toDense(0.5), [40, 30]);
    expect(Array.from(y.dataSync())).toEqual(Array.from(denseRef(x, W).y));
    // Unbatched input and plain arrays.
    const y1 = layer.call(Array.from(spikeArray(40, 0.3, 5)));
    expect(y1.shape).toEqual([30]);
    tf.dispose([x, y, W, y1]);
    layer.dispose();
  });

  it('takes per-synapse weights from arrays, tensors and initializers', () => {
    const conn = FixedProb(0.3, { seed: 6 }).build(20, 10);
    const fromArray = new EventCSRLinear(conn, {
      weight: Array.from({ length: conn.nnz }, (_, k) => k),
    });
    expect(fromArray.weight.value.shape).toEqual([conn.nnz]);
    const fromInit = new EventCSRLinear(conn, { weight: Normal(0, 1) });
    expect(fromInit.weight.value.shape).toEqual([conn.nnz]);
    const fromConst = new EventCSRLinear(conn, { weight: Constant(2) });
    const x = tf.ones([20]);
    const y = fromConst.call(x);
    expect(Array.from(y.dataSync())).toEqual(Array.from(conn.fanIn(), (f) => 2 * f));
    expect(fromConst.floatAsEvent).toBe(true);
    tf.dispose([x, y]);
    [fromArray, fromInit, fromConst].forEach((l) => l.dispose());
  });

  it('prob 0 gives zeros', () => {
    const layer = new EventFixedProb(10, 8, { prob: 0, weight: 1, seed: 1 });
    expect(layer.nnz).toBe(0);
    const y = layer.call(tf.ones([3, 10]));
    expect(Array.from(y.dataSync())).toEqual(new Array(24).fill(0));
    y.dispose();
    layer.dispose();
  });

  it('trains: gradients reach the weight state through the layer', () => {
    const layer = new EventFixedProb(16, 12, { prob: 0.5, weight: Normal(0, 1), seed: 2 });
    const x = tf.tensor2d(spikeArray(32, 0.5, 3), [2, 16]);
    const w = layer.weight.value;
    const g = tf.grad((ws: tf.Tensor) => {
      layer.weight.value = ws;
      return tf.sum(layer.call(x));
    });
    const dw = g(w);
    // d Σy / dw_k = number of batch rows in which synapse k's neuron spiked.
    const xs = x.dataSync();
    const rows = layer.conn.rowIds();
    expect(Array.from(dw.dataSync())).toEqual(Array.from(rows, (i) => xs[i] + xs[16 + i]));
    tf.dispose([x, dw]);
    layer.dispose();
  });

  it('typed errors name the layer and the value', () => {
    expect(() => new EventFixedProb(10, 10, { prob: 1.2, weight: 1 })).toThrow(ArgumentError);
    expect(() => new EventFixedProb(10, 10, { prob: 1.2, weight: 1 })).toThrow(
      /EventFixedProb: prob must be a probability in \[0, 1\], got 1\.2/,
    );
    expect(() => new EventFixedProb(10, 2.5, { prob: 0.1, weight: 1 })).toThrow(
      /EventFixedProb: nPost .* 2\.5/,
    );
    expect(() => new EventFixedProb(10, 10, { prob: -0.5, weight: 1 })).toThrow(/-0\.5/);
    const conn = FixedProb(0.5, { seed: 1 }).build(6, 4);
    expect(() => new EventCSRLinear(conn, { weight: [1, 2] })).toThrow(
      new RegExp(`EventCSRLinear: .*\\[${conn.nnz}\\].*got shape \\[2\\]`),
    );
    expect(() => new EventCSRLinear(conn, { weight: NaN })).toThrow(
      /EventCSRLinear: the weight must be finite/,
    );
    expect(() => new EventCSRLinear(conn, { weight: 'a' as unknown as number })).toThrow(
      ArgumentError,
    );
    expect(
      () => new EventCSRLinear(conn, { weight: 1, floatAsEvent: 0 as unknown as boolean }),
    ).toThrow(/floatAsEvent/);
    const layer = new EventCSRLinear(conn, { weight: 1 });
    const x = tf.ones([2, 5]);
    expect(() => layer.call(x)).toThrow(/EventCSRLinear: the input must have shape \[\.\.\., 6\]/);
    expect(() => layer.call(tf.scalar(1))).toThrow(ArgumentError);
    x.dispose();
    layer.dispose();
    const dev = upload(conn);
    const bad = tf.tensor1d([1, 2]);
    expect(() => csrMatMul(tf.ones([6]), dev, bad)).toThrow(/csrMatMul: the weight/);
    bad.dispose();
    release(dev);
  });
});

describe('under the transforms', () => {
  it('is one BstCSREvent equation in the IR, and jit replays it without leaks', () => {
    const layer = new EventFixedProb(50, 40, { prob: 0.2, weight: 0.5, seed: 1 });
    const g = new HiddenState(tf.zeros([40]));
    const step = (s: tf.Tensor) => {
      g.value = tf.add(tf.mul(g.value, 0.9), layer.call(s));
      return g.value;
    };
    const s = tf.tensor1d(spikeArray(50, 0.2, 1));
    const ir = makeIR(step)(s).toString();
    expect(ir).toMatch(/BstCSREvent\[nPost=40, asEvent=true\]/);
    const eager = Array.from(tf.tidy(() => step(s)).dataSync());
    g.value = tf.zeros([40]);
    const fast = jit(step);
    const first = fast(s);
    const last = Array.from(first.dataSync());
    first.dispose();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 50; i++) fast(s).dispose();
    expect(last).toEqual(eager);
    expect(tf.memory().numTensors).toBe(before);
    s.dispose();
    g.dispose();
    layer.dispose();
  });
});

describe('SparseLinear (CSRLinear)', () => {
  it('y = x @ W_csr + b, differentiable w.r.t. x, weights and bias', () => {
    const conn = FixedProb(0.4, { seed: 51 }).build(14, 9);
    const wv = floatArray(conn.nnz, 52);
    const layer = new SparseLinear(conn, { weight: wv, bInit: Constant(0.25) });
    expect(CSRLinear).toBe(SparseLinear);
    expect(Object.keys(layer.weight.value).sort()).toEqual(['bias', 'weight']);
    const x = tf.tensor2d(floatArray(3 * 14, 53), [3, 14]);
    const W = tf.tensor2d(conn.toDense(wv), [14, 9]);
    const y = layer.call(x);
    const ref = tf.tidy(() => tf.add(tf.matMul(x, W), 0.25));
    expectClose(y.dataSync(), ref.dataSync());
    const { weight, bias } = layer.weight.value;
    const [dx, dw, db] = tf.grads((xs: tf.Tensor, ws: tf.Tensor, bs: tf.Tensor) => {
      layer.weight.value = { weight: ws, bias: bs };
      return tf.sum(tf.square(layer.call(xs)));
    })([x, weight, bias]);
    const [dxRef, dWRef, dbRef] = tf.grads((xs: tf.Tensor, Ws: tf.Tensor, bs: tf.Tensor) =>
      tf.sum(tf.square(tf.add(tf.matMul(xs, Ws), bs))),
    )([x, W, bias]);
    expectClose(dx.dataSync(), dxRef.dataSync());
    expectClose(db.dataSync(), dbRef.dataSync());
    const rows = conn.rowIds();
    const dWv = dWRef.dataSync();
    expectClose(
      dw.dataSync(),
      Array.from(conn.indices, (j, k) => dWv[rows[k] * 9 + j]),
    );
    tf.dispose([x, W, y, ref, dx, dw, db, dxRef, dWRef, dbRef]);
    layer.dispose();
  });

  it('without bias and with a scalar weight', () => {
    const conn = FixedProb(0.5, { seed: 54 }).build(8, 5);
    const layer = new CSRLinear(conn, { weight: 2 });
    expect(Object.keys(layer.weight.value)).toEqual(['weight']);
    const x = tf.tensor1d([1, 2, 3, 4, 5, 6, 7, 8]);
    const y = layer.call(x);
    const W = tf.tensor2d(conn.toDense(2), [8, 5]);
    expect(Array.from(y.dataSync())).toEqual(Array.from(denseRef(x, W).y));
    tf.dispose([x, y, W]);
    layer.dispose();
  });
});

describe('Linear', () => {
  it('has one ParamState {weight, bias} and maps [..., in] → [..., out]', () => {
    const layer = new Linear(5, 3);
    const { weight, bias } = layer.weight.value;
    expect(weight.shape).toEqual([5, 3]);
    expect(bias.shape).toEqual([3]);
    expect(Array.from(bias.dataSync())).toEqual([0, 0, 0]);
    for (const shape of [[5], [4, 5], [2, 3, 5]]) {
      const x = tf.randomNormal(shape);
      const y = layer.call(x);
      expect(y.shape).toEqual([...shape.slice(0, -1), 3]);
      const ref = tf.tidy(() =>
        tf.reshape(tf.add(tf.matMul(tf.reshape(x, [-1, 5]), weight), bias), [
          ...shape.slice(0, -1),
          3,
        ]),
      );
      expectClose(y.dataSync(), ref.dataSync(), 1e-6);
      tf.dispose([x, y, ref]);
    }
    layer.dispose();
  });

  it('bInit: null has no bias key; wMask multiplies the weight', () => {
    const mask = [
      [1, 0],
      [0, 1],
      [1, 1],
    ];
    const layer = new Linear(3, 2, { bInit: null, wInit: Constant(2), wMask: mask });
    expect(Object.keys(layer.weight.value)).toEqual(['weight']);
    const x = tf.tensor2d([[1, 10, 100]]);
    const y = layer.call(x);
    expect(Array.from(y.dataSync())).toEqual([2 + 200, 20 + 200]);
    const g = tf.grad((w: tf.Tensor) => {
      layer.weight.value = { weight: w };
      return tf.sum(layer.call(x));
    })(layer.weight.value.weight);
    // Masked entries get no gradient.
    expect(Array.from(g.dataSync())).toEqual([1, 0, 0, 10, 100, 100]);
    tf.dispose([x, y, g]);
    layer.dispose();
  });

  it('checks sizes and inputs', () => {
    expect(() => new Linear([2, 3], [4, 5])).toThrow(
      /Linear: inSize \[2, 3\] and outSize \[4, 5\]/,
    );
    const ok = new Linear([2, 3], [2, 5]);
    expect(ok.weight.value.weight.shape).toEqual([3, 5]);
    expect(() => ok.call(tf.ones([2, 4]))).toThrow(
      /Linear: the input must have shape \[\.\.\., 3\]/,
    );
    expect(() => new Linear(3, 2, { wMask: [[1, 0, 1]] })).toThrow(ArgumentError);
    ok.dispose();
  });
});

describe('no tensor leaks', () => {
  it('over 2000 forward and 2000 gradient calls', () => {
    const layer = new EventFixedProb(64, 48, { prob: 0.1, weight: Normal(0, 1), seed: 1 });
    const sparse = new SparseLinear(layer.conn, { weight: 0.5, bInit: 0 });
    const dense = new Linear(64, 48);
    const x = tf.tensor2d(spikeArray(2 * 64, 0.1, 2), [2, 64]);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 2000; i++) {
      layer.call(x).dispose();
      sparse.call(x).dispose();
      dense.call(x).dispose();
      tf.dispose(
        tf.grads((xs: tf.Tensor, ws: tf.Tensor) =>
          tf.sum(csrMatMul(xs, layer.connTensors, ws, { asEvent: true })),
        )([x, layer.weight.value]),
      );
    }
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
    [layer, sparse, dense].forEach((l) => l.dispose());
  });
});
