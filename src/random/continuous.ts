/**
 * Samplers of continuous distributions: uniform, normal, exponential and truncated normal. Each
 * checks its arguments, then takes one key (`takeKey`) and makes one float32 tensor through
 * `draw`. Number parameters are applied on the host while filling; tensor parameters are applied
 * with tfjs ops to a standard draw, so they broadcast like any tfjs operand.
 */
import { tf } from '../backend/tf';
import { ArgumentError } from '../errors';
import { isTensor } from '../state';
import { draw } from './draw';
import type { TakeKey } from './key';
import { checkNumber, finite, nonNegative, positive } from './params';
import { outputShape, type Param, type Size } from './shape';
import { ndtr, ndtri } from './special';

const F32 = new Float32Array(1);
const I32 = new Int32Array(F32.buffer);

/** The largest float32 strictly below the finite number `x`. */
function largestFloat32Below(x: number): number {
  const r = Math.fround(x);
  if (r < x) return r;
  if (r === 0) return -1.401298464324817e-45;
  F32[0] = r;
  I32[0] += r > 0 ? -1 : 1;
  return F32[0];
}

/** Standard uniform values on [0, 1), 24 random bits each. */
export function drawStandardUniform(shape: readonly number[], takeKey: TakeKey): tf.Tensor {
  return draw('uniform', shape, { low: 0, high: 1 }, takeKey(), (gen, n) => {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = gen.nextFloat32();
    return out;
  });
}

/** Uniform on [low, high). */
export function sampleUniform(
  low: Param,
  high: Param,
  size: Size | undefined,
  takeKey: TakeKey,
): tf.Tensor {
  const where = 'uniform';
  const shape = outputShape(size, { low, high }, where);
  if (isTensor(low) || isTensor(high)) {
    if (!isTensor(low)) checkNumber(where, 'low', low, finite, 'a finite number');
    if (!isTensor(high)) checkNumber(where, 'high', high, finite, 'a finite number');
    return tf.tidy(() =>
      tf.add(low, tf.mul(tf.sub(high, low), drawStandardUniform(shape, takeKey))),
    );
  }
  checkNumber(where, 'low', low, finite, 'a finite number');
  checkNumber(
    where,
    'high',
    high,
    (h) => Number.isFinite(h) && h >= low,
    `a finite number ≥ low (${low})`,
  );
  const top = high > low ? largestFloat32Below(high) : low;
  return draw(where, shape, { low, high }, takeKey(), (gen, n) => {
    const out = new Float32Array(n);
    const width = high - low;
    for (let i = 0; i < n; i++) {
      // Rounding to float32 can reach `high`: keep the interval half-open.
      const v = Math.fround(low + width * gen.nextFloat32());
      out[i] = v < high || width === 0 ? v : top;
    }
    return out;
  });
}

/** Standard normal values (Box–Muller in float64). */
export function drawStandardNormal(shape: readonly number[], takeKey: TakeKey): tf.Tensor {
  return draw('normal', shape, { loc: 0, scale: 1 }, takeKey(), (gen, n) => {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = gen.nextNormal();
    return out;
  });
}

/** Normal with mean `loc` and standard deviation `scale` (≥ 0). */
export function sampleNormal(
  loc: Param,
  scale: Param,
  size: Size | undefined,
  takeKey: TakeKey,
): tf.Tensor {
  const where = 'normal';
  const shape = outputShape(size, { loc, scale }, where);
  if (isTensor(loc) || isTensor(scale)) {
    if (!isTensor(loc)) checkNumber(where, 'loc', loc, finite, 'a finite number');
    if (!isTensor(scale)) checkNumber(where, 'scale', scale, nonNegative, 'a finite number ≥ 0');
    return tf.tidy(() => tf.add(loc, tf.mul(scale, drawStandardNormal(shape, takeKey))));
  }
  checkNumber(where, 'loc', loc, finite, 'a finite number');
  checkNumber(where, 'scale', scale, nonNegative, 'a finite number ≥ 0');
  if (loc === 0 && scale === 1) return drawStandardNormal(shape, takeKey);
  return draw(where, shape, { loc, scale }, takeKey(), (gen, n) => {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = loc + scale * gen.nextNormal();
    return out;
  });
}

/** Exponential with mean `scale` (≥ 0): −scale·log(1 − U). */
export function sampleExponential(
  scale: Param,
  size: Size | undefined,
  takeKey: TakeKey,
): tf.Tensor {
  const where = 'exponential';
  const shape = outputShape(size, { scale }, where);
  const fill = (s: number) => (gen: { nextFloat64(): number }, n: number) => {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = -s * Math.log1p(-gen.nextFloat64());
    return out;
  };
  if (isTensor(scale)) {
    return tf.tidy(() => tf.mul(scale, draw(where, shape, { scale: 1 }, takeKey(), fill(1))));
  }
  checkNumber(where, 'scale', scale, nonNegative, 'a finite number ≥ 0');
  return draw(where, shape, { scale }, takeKey(), fill(scale));
}

/**
 * Normal(loc, scale) restricted to the absolute window [lower, upper], by inverse CDF: U uniform
 * on (Φ(α), Φ(β)), x = loc + scale·Φ⁻¹(U) with α, β the standardised bounds. Windows above the
 * mean are sampled mirrored, so Φ is always evaluated in its accurate lower tail.
 */
export function sampleTruncatedNormal(
  lower: number,
  upper: number,
  size: Size | undefined,
  loc: number,
  scale: number,
  takeKey: TakeKey,
): tf.Tensor {
  const where = 'truncatedNormal';
  const shape = outputShape(size, {}, where);
  checkNumber(where, 'loc', loc, finite, 'a finite number');
  checkNumber(where, 'scale', scale, positive, 'a finite number > 0');
  checkNumber(where, 'lower', lower, (l) => l < Infinity, 'a number < +Infinity');
  checkNumber(where, 'upper', upper, (u) => u > lower, `a number > lower (${lower})`);
  const alpha = (lower - loc) / scale;
  const beta = (upper - loc) / scale;
  const mirrored = alpha > 0;
  const a = mirrored ? -beta : alpha;
  const b = mirrored ? -alpha : beta;
  const pa = ndtr(a);
  const pb = ndtr(b);
  if (!(pb - pa > 1e-300)) {
    throw new ArgumentError(
      `${where}: the window [${lower}, ${upper}] lies more than 37 standard deviations from loc=${loc}; its probability underflows`,
    );
  }
  return draw('truncated_normal', shape, { lower, upper, loc, scale }, takeKey(), (gen, n) => {
    const out = new Float32Array(n);
    const width = pb - pa;
    for (let i = 0; i < n; i++) {
      let z = ndtri(pa + width * gen.nextOpenFloat64());
      z = z < a ? a : z > b ? b : z;
      const x = loc + scale * (mirrored ? -z : z);
      out[i] = x < lower ? lower : x > upper ? upper : x;
    }
    return out;
  });
}
