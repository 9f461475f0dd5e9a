/**
 * Special functions in float64 for the samplers: the normal CDF `ndtr` and its inverse `ndtri`
 * (truncated normals by inverse CDF), `erf`/`erfc`, and `logGamma` (Poisson rejection sampling).
 * `ndtri` is Wichura's AS241 (PPND16, relative error ~1e-16) and is cheap enough to call per
 * sample; `ndtr` is exact to ~1e-15 relative, also in the far lower tail, and is called per draw.
 */

const SQRT1_2 = Math.SQRT1_2;
const TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI);
const ONE_OVER_SQRT_PI = 1 / Math.sqrt(Math.PI);
const LOG_2PI = Math.log(2 * Math.PI);
/** Below this argument erfc = 1 − erf (series), above it the continued fraction converges fast. */
const ERFC_SWITCH = 1;

/** erf(x) by the series 2/√π · e^{−x²} · Σ 2ⁿx^{2n+1}/(1·3·…·(2n+1)) (all terms positive). */
function erfSeries(x: number): number {
  const x2 = x * x;
  let term = x;
  let sum = x;
  for (let n = 1; n < 200; n++) {
    term *= (2 * x2) / (2 * n + 1);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return TWO_OVER_SQRT_PI * Math.exp(-x2) * sum;
}

/** erfc(x) for x ≥ ERFC_SWITCH by the continued fraction e^{−x²}/√π · 1/(x + ½/(x + 1/(x + 3/2/(x + …)))) (modified Lentz). */
function erfcContinuedFraction(x: number): number {
  const tiny = 1e-300;
  let f = x;
  let c = x;
  let d = 0;
  for (let k = 1; k < 500; k++) {
    const a = k / 2;
    d = x + a * d;
    d = Math.abs(d) < tiny ? 1 / tiny : 1 / d;
    c = x + a / c;
    if (Math.abs(c) < tiny) c = tiny;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return (ONE_OVER_SQRT_PI * Math.exp(-x * x)) / f;
}

/** The error function erf(x). */
export function erf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const ax = Math.abs(x);
  const v = ax < ERFC_SWITCH ? erfSeries(ax) : 1 - erfcContinuedFraction(ax);
  return x < 0 ? -v : v;
}

/** The complementary error function erfc(x) = 1 − erf(x), accurate in relative terms for large x. */
export function erfc(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x === Infinity) return 0;
  if (x === -Infinity) return 2;
  const ax = Math.abs(x);
  const v = ax < ERFC_SWITCH ? 1 - erfSeries(ax) : erfcContinuedFraction(ax);
  return x < 0 ? 2 - v : v;
}

/** The standard normal CDF Φ(x), accurate in relative terms in the lower tail. */
export function ndtr(x: number): number {
  return 0.5 * erfc(-x * SQRT1_2);
}

/** The standard normal density φ(x). */
export function normalPdf(x: number): number {
  return Math.exp(-0.5 * x * x) / Math.sqrt(2 * Math.PI);
}

// AS241 coefficients (Wichura 1988, Applied Statistics 37:477–484), lowest degree first, as the
// shortest doubles equal to the published 20-digit values.
const A = [
  3.3871328727963665, 133.14166789178438, 1971.5909503065513, 13731.69376550946, 45921.95393154987,
  67265.7709270087, 33430.57558358813, 2509.0809287301227,
];
const B = [
  1, 42.31333070160091, 687.1870074920579, 5394.196021424751, 21213.794301586597, 39307.89580009271,
  28729.085735721943, 5226.495278852854,
];
const C = [
  1.4234371107496835, 4.630337846156546, 5.769497221460691, 3.6478483247632045, 1.2704582524523684,
  0.2417807251774506, 0.022723844989269184, 0.0007745450142783414,
];
const D = [
  1, 2.053191626637759, 1.6763848301838038, 0.6897673349851, 0.14810397642748008,
  0.015198666563616457, 0.0005475938084995345, 1.0507500716444169e-9,
];
const E = [
  6.657904643501103, 5.463784911164114, 1.7848265399172913, 0.29656057182850487,
  0.026532189526576124, 0.0012426609473880784, 2.7115555687434876e-5, 2.0103343992922881e-7,
];
const F = [
  1, 0.599832206555888, 0.1369298809227358, 0.014875361290850615, 0.0007868691311456133,
  1.8463183175100548e-5, 1.421511758316446e-7, 2.0442631033899397e-15,
];

function poly(c: readonly number[], x: number): number {
  let v = c[c.length - 1];
  for (let i = c.length - 2; i >= 0; i--) v = v * x + c[i];
  return v;
}

/**
 * The inverse of the standard normal CDF: ndtri(p) = x with Φ(x) = p. ndtri(0) = −∞,
 * ndtri(1) = +∞, NaN outside [0, 1]. Relative accuracy ~1e-16 (AS241); in the lower tail it is
 * accurate for p down to the smallest doubles, so callers should work in the lower tail.
 */
export function ndtri(p: number): number {
  if (!(p >= 0 && p <= 1)) return NaN;
  if (p === 0) return -Infinity;
  if (p === 1) return Infinity;
  const q = p - 0.5;
  if (Math.abs(q) <= 0.425) {
    const r = 0.180625 - q * q;
    return (q * poly(A, r)) / poly(B, r);
  }
  let r = Math.sqrt(-Math.log(q < 0 ? p : 1 - p));
  let x: number;
  if (r <= 5) {
    r -= 1.6;
    x = poly(C, r) / poly(D, r);
  } else {
    r -= 5;
    x = poly(E, r) / poly(F, r);
  }
  return q < 0 ? -x : x;
}

// Stirling series coefficients B₂ₖ / (2k(2k−1)), k = 1 … 10.
const STIRLING = [
  1 / 12,
  -1 / 360,
  1 / 1260,
  -1 / 1680,
  1 / 1188,
  -691 / 360360,
  1 / 156,
  -3617 / 122400,
  43867 / 244188,
  -174611 / 125400,
];

/** log Γ(x) for x > 0 (Stirling series after shifting x up to ≥ 7; absolute error ~1e-15). */
export function logGamma(x: number): number {
  if (x === 1 || x === 2) return 0;
  const n = x < 7 ? Math.floor(7 - x) : 0;
  let x0 = x + n;
  const x2 = 1 / (x0 * x0);
  let series = STIRLING[9];
  for (let k = 8; k >= 0; k--) series = series * x2 + STIRLING[k];
  let value = series / x0 + 0.5 * LOG_2PI + (x0 - 0.5) * Math.log(x0) - x0;
  for (let k = 1; k <= n; k++) {
    x0 -= 1;
    value -= Math.log(x0);
  }
  return value;
}
