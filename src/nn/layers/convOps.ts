/**
 * Channels-last convolution over 1–3 spatial axes with a gradient that works on every backend.
 * tfjs 4.22's wasm backend has the Conv2D/Conv3D forward kernels but no Conv2DBackpropFilter (nor
 * the depthwise backprops), tfjs has no gradient for dilated Conv3D, and no backprop kernel has a
 * gradient of its own. `convValid` is a customGrad whose forward is the backend's Conv2D/Conv3D
 * kernel and whose gradients are two more `convValid` calls (input and kernel gradients are
 * themselves convolutions), so first- and higher-order gradients run on the fast forward kernel
 * everywhere. Padding, grouping and combined stride+dilation are expressed around it with
 * differentiable ops. Also here: padding and output-extent rules shared with pooling.
 */
import { tf } from '../../backend/tf';
import { ArgumentError, describeValue } from '../../errors';

/** Padding: 'SAME' (output = ceil(in/stride)), 'VALID', one amount for every side, one per axis, or `[low, high]` per axis. */
export type Padding =
  'SAME' | 'VALID' | 'same' | 'valid' | number | readonly (number | readonly [number, number])[];

/** The resolved geometry of a convolution or pooling window over `n` spatial axes. */
export interface WindowGeometry {
  /** Window (kernel) extent per spatial axis. */
  kernel: number[];
  /** Step per spatial axis. */
  strides: number[];
  /** Kernel dilation per spatial axis (1 = dense). */
  dilations: number[];
  /** `[low, high]` zero padding per spatial axis. */
  pads: [number, number][];
}

/** A positive integer, or one per spatial axis, as an array of `n` integers. */
export function tupleOf(where: string, what: string, value: unknown, n: number): number[] {
  const arr = typeof value === 'number' ? new Array<number>(n).fill(value) : value;
  if (
    !Array.isArray(arr) ||
    arr.length !== n ||
    !arr.every((v) => typeof v === 'number' && Number.isInteger(v) && v > 0)
  ) {
    throw new ArgumentError(
      `${where}: ${what} must be a positive integer or ${n} positive integers, got ${
        Array.isArray(value) ? JSON.stringify(value) : describeValue(value)
      }`,
    );
  }
  return [...arr];
}

/** The `[low, high]` padding per spatial axis for the input extents `inSpatial`. */
export function resolvePadding(
  where: string,
  padding: Padding,
  inSpatial: readonly number[],
  kernel: readonly number[],
  strides: readonly number[],
  dilations: readonly number[],
): [number, number][] {
  const n = inSpatial.length;
  if (typeof padding === 'string') {
    const mode = padding.toUpperCase();
    if (mode === 'VALID') return inSpatial.map(() => [0, 0]);
    if (mode === 'SAME') {
      // As TensorFlow/JAX: out = ceil(in/stride); the odd extra pad goes to the high side.
      return inSpatial.map((len, i) => {
        const out = Math.ceil(len / strides[i]);
        const span = (kernel[i] - 1) * dilations[i] + 1;
        const total = Math.max((out - 1) * strides[i] + span - len, 0);
        const low = Math.floor(total / 2);
        return [low, total - low];
      });
    }
  } else if (typeof padding === 'number') {
    if (Number.isInteger(padding) && padding >= 0) return inSpatial.map(() => [padding, padding]);
  } else if (Array.isArray(padding) && padding.length === n) {
    const pads = padding.map((p): [number, number] | null => {
      if (typeof p === 'number') return [p, p];
      if (Array.isArray(p) && p.length === 2) return [p[0], p[1]];
      return null;
    });
    if (pads.every((p) => p !== null && p.every((v) => Number.isInteger(v) && v >= 0))) {
      return pads as [number, number][];
    }
  }
  throw new ArgumentError(
    `${where}: padding must be 'SAME', 'VALID', a non-negative integer, or ${n} integers or [low, high] pairs, got ${
      Array.isArray(padding) ? JSON.stringify(padding) : describeValue(padding)
    }`,
  );
}

/** Output extents of a window over `inSpatial` (an ArgumentError if the window does not fit). */
export function windowOutput(
  where: string,
  inSpatial: readonly number[],
  g: WindowGeometry,
): number[] {
  return inSpatial.map((len, i) => {
    const span = (g.kernel[i] - 1) * g.dilations[i] + 1;
    const padded = len + g.pads[i][0] + g.pads[i][1];
    if (padded < span) {
      throw new ArgumentError(
        `${where}: the window (extent ${span} after dilation) is larger than the padded input (${padded}) along spatial axis ${i}`,
      );
    }
    return Math.floor((padded - span) / g.strides[i]) + 1;
  });
}

/** Spatial axes 1..n of a rank-(n+2) tensor. */
function spatialAxes(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i + 1);
}

/** The backend's convolution kernel for unpadded input (`'valid'`); n = 1 runs as 2-D with height 1. */
function nativeConv(
  x: tf.Tensor,
  w: tf.Tensor,
  strides: readonly number[],
  dilations: readonly number[],
): tf.Tensor {
  const n = x.rank - 2;
  if (n === 1) {
    const [b, len, c] = x.shape;
    const [k, cIn, cOut] = w.shape as number[];
    const y = tf.conv2d(
      tf.reshape(x, [b, 1, len, c]) as tf.Tensor4D,
      tf.reshape(w, [1, k, cIn, cOut]) as tf.Tensor4D,
      [1, strides[0]],
      'valid',
      'NHWC',
      [1, dilations[0]],
    );
    return tf.reshape(y, [b, y.shape[2], y.shape[3]]);
  }
  if (n === 2) {
    return tf.conv2d(
      x as tf.Tensor4D,
      w as tf.Tensor4D,
      strides as [number, number],
      'valid',
      'NHWC',
      dilations as [number, number],
    );
  }
  return tf.conv3d(
    x as tf.Tensor5D,
    w as tf.Tensor5D,
    strides as [number, number, number],
    'valid',
    'NDHWC',
    dilations as [number, number, number],
  );
}

/** Insert `s − 1` zeros between neighbours along each spatial axis: [B, …O…, C] → [B, …(O−1)s+1…, C]. */
export function spreadWithZeros(dy: tf.Tensor, strides: readonly number[]): tf.Tensor {
  let t = dy;
  strides.forEach((s, i) => {
    if (s === 1) return;
    const shape = t.shape;
    const pre = shape.slice(0, i + 1).reduce((a, b) => a * b, 1);
    const len = shape[i + 1];
    const post = t.size / (pre * len);
    const spread = tf.pad(tf.reshape(t, [pre, len, 1, post]), [
      [0, 0],
      [0, 0],
      [0, s - 1],
      [0, 0],
    ]);
    const cut = tf.slice(
      tf.reshape(spread, [pre, len * s, post]),
      [0, 0, 0],
      [pre, (len - 1) * s + 1, post],
    );
    const next = [...shape];
    next[i + 1] = (len - 1) * s + 1;
    t = tf.reshape(cut, next);
  });
  return t;
}

/**
 * Convolution without padding, x [B, ...L, Cin] ⊛ w [...k, Cin, Cout] → [B, ...O, Cout], with
 * O = ⌊(L − (k−1)·d − 1)/s⌋ + 1, where strides or dilations are all 1. The forward pass is the
 * backend's Conv2D/Conv3D kernel; the gradient is two more calls of this function (so it works
 * on backends without the backprop kernels, and to any order):
 * - dx = (dy with s−1 zeros between neighbours, padded by (k−1)·d) ⊛ (w flipped, in/out swapped);
 * - dw = x viewed as [Cin, ...L, B] ⊛ dy viewed as [...O, B, Cout] with stride d and dilation s,
 *   cut to the kernel extent and viewed back as [...k, Cin, Cout].
 */
export function convValid(
  x: tf.Tensor,
  w: tf.Tensor,
  strides: readonly number[],
  dilations: readonly number[],
): tf.Tensor {
  const n = x.rank - 2;
  const axes = spatialAxes(n);
  const conv = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xIn, wIn, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    save([xIn, wIn]);
    return {
      value: nativeConv(xIn, wIn, strides, dilations),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, ws] = saved;
        const kernel = ws.shape.slice(0, n);
        // dx: a stride-1 convolution of the zero-upsampled, padded dy with the flipped kernel.
        const up = spreadWithZeros(dy, strides);
        // Padded to L + (k−1)·d, so the stride-1 output has the input's length L.
        const pads: [number, number][] = [[0, 0]];
        axes.forEach((ax, i) => {
          const low = (kernel[i] - 1) * dilations[i];
          pads.push([low, xs.shape[ax] - up.shape[ax]]);
        });
        pads.push([0, 0]);
        const flipped = tf.transpose(
          tf.reverse(
            ws,
            axes.map((a) => a - 1),
          ),
          [...axes.map((a) => a - 1), n + 1, n],
        );
        const dx = convValid(tf.pad(up, pads), flipped, new Array<number>(n).fill(1), dilations);
        // dw: batch and channel axes trade places; the kernel is dy.
        const xT = tf.transpose(xs, [n + 1, ...axes, 0]);
        const dyT = tf.transpose(dy, [...axes, 0, n + 1]);
        const full = convValid(xT, dyT, dilations, strides); // [Cin, ...k', Cout]
        const cut = tf.slice(full, new Array<number>(n + 2).fill(0), [
          full.shape[0],
          ...kernel,
          full.shape[n + 1],
        ]);
        const dw = tf.transpose(cut, [...axes, 0, n + 1]);
        return [dx, dw];
      },
    };
  });
  return conv(x, w) as tf.Tensor;
}
