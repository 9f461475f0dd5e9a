/**
 * The engine helpers of src/backend/engine.ts that change how the tape uses memory:
 * - frugalGradients: the same gradients (bit for bit) as tfjs's engine.gradients, a lower peak
 *   (saved tensors and cotangents freed during the reverse pass), no leaks, the caller's dy and
 *   aliased cotangents left alone, errors as tfjs reports them, nested use falls back, branches
 *   that only feed a stop-gradient skipped;
 * - memoDuringBackward: a weight's transpose computed once per reverse pass, same values;
 * - shareTapeSaves: saving a tensor for the backward pass adds no buffer on wasm.
 */
import { describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf';
import { frugalGradients, isolatedGradients, memoDuringBackward } from '../../src/backend/engine';
import { stopGradient } from '../../src/surrogate';

const isWasm = tf.getBackend() === 'wasm';

/** A small recurrent computation: h_t = tanh(h_{t-1}·W + x_t), loss = Σ h_T² + Σ_t mean(h_t). */
function rnn(W: tf.Tensor, xs: tf.Tensor[], h0: tf.Tensor): tf.Tensor {
  let h = h0;
  let acc: tf.Tensor = tf.scalar(0);
  for (const x of xs) {
    h = tf.tanh(tf.add(tf.matMul(h, W), x));
    acc = tf.add(acc, tf.mean(h));
  }
  return tf.add(acc, tf.sum(tf.square(h)));
}

function fixtures(T: number, n = 16, b = 4) {
  const W = tf.mul(tf.randomNormal([n, n], 0, 1, 'float32', 1), 0.3);
  const h0 = tf.randomNormal([b, n], 0, 1, 'float32', 2);
  const xs = Array.from({ length: T }, (_, t) => tf.randomNormal([b, n], 0, 1, 'float32', 10 + t));
  return { W, h0, xs };
}

/** Peak tfjs bytes while fn runs. */
function peakOf(fn: () => void): number {
  const e = tf.engine() as unknown as {
    state: { numBytes: number };
    makeTensorFromTensorInfo: (...a: unknown[]) => tf.Tensor;
  };
  const base = e.state.numBytes;
  let peak = base;
  const orig = e.makeTensorFromTensorInfo;
  e.makeTensorFromTensorInfo = function (this: unknown, ...a: unknown[]) {
    const t = orig.apply(this, a);
    peak = Math.max(peak, e.state.numBytes);
    return t;
  };
  try {
    fn();
  } finally {
    e.makeTensorFromTensorInfo = orig;
  }
  return peak - base;
}

describe('frugalGradients', () => {
  it('gives the same value and gradients as engine.gradients, bit for bit', () => {
    const { W, h0, xs } = fixtures(12);
    const f = () => rnn(W, xs, h0);
    const stock = tf.engine().gradients(f, [W, h0], undefined, true);
    const ours = frugalGradients(f, [W, h0]);
    expect(ours.value.dataSync()).toEqual(stock.value.dataSync());
    expect(ours.grads[0]!.dataSync()).toEqual(stock.grads[0].dataSync());
    expect(ours.grads[1]!.dataSync()).toEqual(stock.grads[1].dataSync());
    tf.dispose([W, h0, ...xs, stock.value, ...stock.grads, ours.value, ...ours.grads]);
  });

  it('peaks lower than engine.gradients on a long chain, and leaks nothing', () => {
    const { W, h0, xs } = fixtures(60, 64, 32);
    const f = () => rnn(W, xs, h0);
    const before = tf.memory().numTensors;
    const stockPeak = peakOf(() => {
      const r = tf.engine().gradients(f, [W], undefined, true);
      tf.dispose([r.value, ...r.grads]);
    });
    expect(tf.memory().numTensors).toBe(before);
    const ourPeak = peakOf(() => {
      const r = frugalGradients(f, [W]);
      tf.dispose([r.value, ...r.grads.filter((g): g is tf.Tensor => g !== undefined)]);
    });
    expect(tf.memory().numTensors).toBe(before);
    expect(ourPeak).toBeLessThan(stockPeak * 0.8);
    tf.dispose([W, h0, ...xs]);
  });

  it('leaves the caller dy alone and survives gradients that return dy itself', () => {
    const x = tf.tensor1d([1, 2, 3]);
    const passThrough = tf.customGrad(((a: tf.Tensor, save: tf.GradSaveFunc) => {
      save([a]);
      return { value: tf.mul(a, 2), gradFunc: (dy: tf.Tensor) => [dy] };
    }) as unknown as Parameters<typeof tf.customGrad>[0]);
    const dy = tf.tensor1d([0.5, 1, 2]);
    const r = frugalGradients(() => tf.mul(passThrough(tf.mul(x, 1)) as tf.Tensor, 1), [x], dy);
    expect(dy.isDisposed).toBe(false);
    expect(Array.from(r.grads[0]!.dataSync())).toEqual([0.5, 1, 2]);
    tf.dispose([x, dy, r.value, r.grads[0]!]);
  });

  it('gives undefined for unconnected inputs and reports missing gradients like tfjs', () => {
    const x = tf.scalar(2);
    const z = tf.scalar(3);
    const r = frugalGradients(() => tf.mul(x, x), [x, z]);
    expect(r.grads[1]).toBeUndefined();
    expect(r.grads[0]!.dataSync()[0]).toBe(4);
    tf.dispose([r.value, r.grads[0]!]);
    const before = tf.memory().numTensors;
    expect(() =>
      frugalGradients(() => tf.cast(tf.greater(tf.mul(x, 1), 1), 'float32'), [x]),
    ).toThrow(/gradient/i);
    expect(tf.memory().numTensors).toBe(before);
    // the tape is gone after the failure: a new gradient works
    const again = frugalGradients(() => tf.mul(x, 3), [x]);
    expect(again.grads[0]!.dataSync()[0]).toBe(3);
    tf.dispose([x, z, again.value, again.grads[0]!]);
  });

  it('skips the branches that only feed a stop-gradient: same gradients, none of their kernels', () => {
    const x = tf.tensor2d([
      [0.5, -1, 2],
      [3, 0.25, -2],
    ]);
    // a softmax with its row max held constant: the max's gradient (an Equal mask) is dead
    const f = () => {
      const m = stopGradient(tf.max(x, -1, true));
      const z = tf.sub(x, m);
      return tf.sum(tf.sub(z, tf.log(tf.sum(tf.exp(z), -1, true))));
    };
    const ref = tf.engine().gradients(f, [x], undefined, true);
    const seen: string[] = [];
    const eng = tf.engine() as unknown as { runKernelFunc(kp: { kernelName?: string }): unknown };
    const orig = eng.runKernelFunc;
    eng.runKernelFunc = function (kp) {
      if (kp.kernelName) seen.push(kp.kernelName);
      return orig.call(this, kp);
    };
    let r: ReturnType<typeof frugalGradients>;
    try {
      r = frugalGradients(f, [x]);
    } finally {
      eng.runKernelFunc = orig;
    }
    expect(Array.from(r.grads[0]!.dataSync())).toEqual(Array.from(ref.grads[0].dataSync()));
    expect(seen.filter((k) => k === 'Max')).toHaveLength(1); // the forward one only
    expect(seen).not.toContain('Equal');
    // an input reached only through a stop-gradient is unconnected
    const only = frugalGradients(() => tf.sum(stopGradient(tf.mul(x, 2))), [x]);
    expect(only.grads[0]).toBeUndefined();
    tf.dispose([x, ref.value, ...ref.grads, r.value, r.grads[0]!, only.value]);
  });

  it('nested inside a gradient (higher order) it is engine.gradients: the Hessian still works', () => {
    const x = tf.scalar(1.5);
    // d/dx of (d/dx x³) = 6x, through tf.grad (outer) and our frugal pass (inner, recorded)
    const g2 = tf.grad((a: tf.Tensor) => {
      const inner = frugalGradients(() => tf.pow(a, 3), [a]);
      return inner.grads[0]!;
    })(x);
    expect(g2.dataSync()[0]).toBeCloseTo(9, 5);
    tf.dispose([x, g2]);
  });

  it('isolatedGradients inside a backward pass computes a fresh VJP', () => {
    const x = tf.tensor1d([1, 2]);
    const viaIsolated = tf.customGrad(((a: tf.Tensor, save: tf.GradSaveFunc) => {
      save([a]);
      return {
        value: tf.square(a),
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => [
          isolatedGradients(() => tf.square(saved[0]), [saved[0]], dy).grads[0]!,
        ],
      };
    }) as unknown as Parameters<typeof tf.customGrad>[0]);
    const g = frugalGradients(() => tf.sum(viaIsolated(x) as tf.Tensor), [x]);
    expect(Array.from(g.grads[0]!.dataSync())).toEqual([2, 4]);
    tf.dispose([x, g.value, g.grads[0]!]);
  });
});

describe('memoDuringBackward', () => {
  it('outside a reverse pass just computes', () => {
    const w = tf.tensor2d([1, 2, 3, 4], [2, 2]);
    const a = memoDuringBackward(w.dataId, 'T', () => tf.transpose(w));
    const b = memoDuringBackward(w.dataId, 'T', () => tf.transpose(w));
    expect(a).not.toBe(b);
    tf.dispose([w, a, b]);
  });

  it('computes a weight transpose once per pass in the matMul gradient, same values', () => {
    const { W, h0, xs } = fixtures(20);
    let transposes = 0;
    const k = tf.getKernel('Transpose', tf.getBackend()) as tf.KernelConfig;
    const orig = k.kernelFunc;
    (k as { kernelFunc: tf.KernelFunc }).kernelFunc = (args) => {
      const perm = (args.attrs as { perm: number[] }).perm;
      if ((args.inputs.x as tf.TensorInfo).shape.join() === '16,16' && perm.join() === '1,0') {
        transposes++;
      }
      return orig(args);
    };
    try {
      const f = () => rnn(W, xs, h0);
      const stock = tf.engine().gradients(f, [W], undefined, true);
      const n = transposes;
      transposes = 0;
      const ours = frugalGradients(f, [W]);
      expect(n).toBeGreaterThanOrEqual(19);
      expect(transposes).toBe(1);
      expect(ours.grads[0]!.dataSync()).toEqual(stock.grads[0].dataSync());
      tf.dispose([stock.value, ...stock.grads, ours.value, ours.grads[0]!]);
    } finally {
      (k as { kernelFunc: tf.KernelFunc }).kernelFunc = orig;
    }
    tf.dispose([W, h0, ...xs]);
  });
});

describe('shareTapeSaves', () => {
  it.runIf(isWasm)('saving inputs for the backward pass adds no buffer and no Identity', () => {
    const x = tf.randomNormal([256, 256]);
    let identities = 0;
    const k = tf.getKernel('Identity', 'wasm') as tf.KernelConfig;
    const orig = k.kernelFunc;
    (k as { kernelFunc: tf.KernelFunc }).kernelFunc = (args) => {
      identities++;
      return orig(args);
    };
    let buffersInForward = 0;
    try {
      const r = frugalGradients(() => {
        const b0 = tf.memory().numDataBuffers;
        const y = tf.mul(x, x); // Multiply saves both inputs
        buffersInForward = tf.memory().numDataBuffers - b0;
        return tf.sum(y);
      }, [x]);
      expect(Array.from(r.grads[0]!.dataSync().slice(0, 3))).toEqual(
        Array.from(tf.tidy(() => tf.mul(x, 2).dataSync().slice(0, 3))),
      );
      tf.dispose([r.value, r.grads[0]!]);
    } finally {
      (k as { kernelFunc: tf.KernelFunc }).kernelFunc = orig;
    }
    expect(identities).toBe(0);
    expect(buffersInForward).toBe(1); // y only; the saved x's share x's buffer
    x.dispose();
  });
});
