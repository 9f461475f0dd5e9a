/**
 * The built-in surrogates of spec §7: one class per surrogate derivative g(x), with the spec's
 * defaults, plus a function form `name(x, ...params)` = `new Name({...}).call(x)`. x is the
 * scaled voltage (e.g. (V − V_th)/(V_th − V_reset)); the forward pass is always Heaviside.
 *
 * g is written with differentiable tf ops. Comparisons are all `greaterEqual` (the only tfjs
 * comparison with a registered gradient), with the branches ordered to give the spec's
 * conventions at the breakpoints, and every branch that `where` discards is kept finite, so
 * second-order gradients through g have no 0·∞ NaNs.
 *
 * Where this differs from upstream brainstate, or keeps an upstream quirk (spec §7, bug list):
 * - GaussianGrad (fixed): upstream computes exp(−x²·σ²/2), multiplying by σ²; here g is the
 *   textbook α·exp(−x²/(2σ²))/(√(2π)·σ), α times the N(0, σ²) density, so ∫g = α.
 * - PiecewiseQuadratic (fixed): upstream's code, copied by the spec table, computes α − (αx)².
 *   That is not the derivative of its own piecewise-quadratic surrogateFun, jumps from α − 1 to 0
 *   at |x| = 1/α when α ≠ 1, and integrates to 2 − 2/(3α) instead of 1. Upstream's docstring
 *   gives the derivative α − α²|x|, used here (continuous, area 1, equal to surrogateFun').
 * - surrogateFun of Arctan and ERF (fixed; the spec lists none, and the spike never uses them):
 *   upstream calls arctan2 with one argument and takes erf(−αx)/2; here they are the
 *   antiderivatives of g, arctan(π/2·αx)/π + 1/2 and (1 + erf(αx))/2.
 * - PiecewiseLeakyRelu (kept): g = 1/w inside [−w, w], and a surrogateFun of slope 1/(2w) there,
 *   both as in the spec and upstream: g is twice that function's derivative inside the window.
 * - QPseudoSpike (kept): the spec's (1 + 2|x|/(α+1))^(−α), with no surrogateFun (upstream's uses
 *   α − 1 and is not an antiderivative of g).
 */
import { tf } from '../backend/tf';
import { Surrogate } from './base';
import { registerSurrogate } from './registry';

type T = tf.Tensor;
const SQRT_PI = Math.sqrt(Math.PI);
const SQRT_2PI = Math.sqrt(2 * Math.PI);

const ge = (a: T | number, b: T | number): T => tf.greaterEqual(a, b);

/** exp(−k·|x|) */
const expAbs = (x: T, k: number): T => tf.exp(tf.mul(tf.abs(x), -k));

/** The N(mean, sd²) density at x. */
function normalPdf(x: T, mean: number, sd: number): T {
  const d = mean === 0 ? x : tf.sub(x, mean);
  return tf.mul(tf.exp(tf.mul(tf.square(d), -1 / (2 * sd * sd))), 1 / (SQRT_2PI * sd));
}

/** σ(αx)·(1 − σ(αx))·α, the derivative of σ(αx). */
function sigmoidGrad(x: T, alpha: number): T {
  const s = tf.sigmoid(tf.mul(x, alpha));
  return tf.mul(tf.mul(s, tf.sub(1, s)), alpha);
}

// ---------------------------------------------------------------------------------------------

/** Sigmoid surrogate: g(x) = α·σ(αx)·(1 − σ(αx)); surrogateFun σ(αx). α > 0, default 4. */
export class Sigmoid extends Surrogate {
  readonly alpha: number;
  constructor({ alpha = 4 }: { alpha?: number } = {}) {
    super([['alpha', alpha, 'positive']]);
    this.alpha = alpha;
  }
  protected computeGrad(x: T): T {
    return sigmoidGrad(x, this.alpha);
  }
  protected override computeFun(x: T): T {
    return tf.sigmoid(tf.mul(x, this.alpha));
  }
}

/** Spike with the Sigmoid surrogate. */
export function sigmoid(x: T | tf.TensorLike, alpha?: number): T {
  return new Sigmoid({ alpha }).call(x);
}

/**
 * Piecewise quadratic: surrogateFun 0 below −1/α, 1 above 1/α, (−α|x|/2 + 1)·αx + 1/2 between
 * (the piecewise quadratic), and g(x) = its derivative α − α²|x| for |x| ≤ 1/α, else 0 (a
 * triangle of area 1). α > 0, default 1. Fixes upstream's g = α − α²x² (see the file header).
 */
export class PiecewiseQuadratic extends Surrogate {
  readonly alpha: number;
  constructor({ alpha = 1 }: { alpha?: number } = {}) {
    super([['alpha', alpha, 'positive']]);
    this.alpha = alpha;
  }
  protected computeGrad(x: T): T {
    const a = this.alpha;
    return tf.mul(tf.relu(tf.sub(1, tf.mul(tf.abs(x), a))), a);
  }
  protected override computeFun(x: T): T {
    const a = this.alpha;
    const mid = tf.add(tf.mul(tf.add(tf.mul(tf.abs(x), -a / 2), 1), tf.mul(x, a)), 0.5);
    return tf.where(ge(x, -1 / a), tf.where(ge(1 / a, x), mid, 1), 0);
  }
}

/** Spike with the PiecewiseQuadratic surrogate. */
export function piecewiseQuadratic(x: T | tf.TensorLike, alpha?: number): T {
  return new PiecewiseQuadratic({ alpha }).call(x);
}

/**
 * Piecewise exponential: g(x) = (α/2)·exp(−α|x|); surrogateFun e^{αx}/2 for x < 0,
 * 1 − e^{−αx}/2 for x ≥ 0. α > 0, default 1.
 */
export class PiecewiseExp extends Surrogate {
  readonly alpha: number;
  constructor({ alpha = 1 }: { alpha?: number } = {}) {
    super([['alpha', alpha, 'positive']]);
    this.alpha = alpha;
  }
  protected computeGrad(x: T): T {
    return tf.mul(expAbs(x, this.alpha), this.alpha / 2);
  }
  protected override computeFun(x: T): T {
    const half = tf.mul(expAbs(x, this.alpha), 0.5);
    return tf.where(ge(x, 0), tf.sub(1, half), half);
  }
}

/** Spike with the PiecewiseExp surrogate. */
export function piecewiseExp(x: T | tf.TensorLike, alpha?: number): T {
  return new PiecewiseExp({ alpha }).call(x);
}

/** Soft sign: g(x) = α / (2·(1 + |αx|)²); surrogateFun x/(2/α + 2|x|) + 1/2. α > 0, default 1. */
export class SoftSign extends Surrogate {
  readonly alpha: number;
  constructor({ alpha = 1 }: { alpha?: number } = {}) {
    super([['alpha', alpha, 'positive']]);
    this.alpha = alpha;
  }
  protected computeGrad(x: T): T {
    const a = this.alpha;
    return tf.div(a / 2, tf.square(tf.add(tf.abs(tf.mul(x, a)), 1)));
  }
  protected override computeFun(x: T): T {
    return tf.add(tf.div(x, tf.add(tf.mul(tf.abs(x), 2), 2 / this.alpha)), 0.5);
  }
}

/** Spike with the SoftSign surrogate. */
export function softSign(x: T | tf.TensorLike, alpha?: number): T {
  return new SoftSign({ alpha }).call(x);
}

/**
 * Arctan: g(x) = α / (2·(1 + (π/2·αx)²)); surrogateFun arctan(π/2·αx)/π + 1/2.
 * α > 0, default 1.
 */
export class Arctan extends Surrogate {
  readonly alpha: number;
  constructor({ alpha = 1 }: { alpha?: number } = {}) {
    super([['alpha', alpha, 'positive']]);
    this.alpha = alpha;
  }
  protected computeGrad(x: T): T {
    const a = this.alpha;
    return tf.div(a / 2, tf.add(tf.square(tf.mul(x, (Math.PI / 2) * a)), 1));
  }
  protected override computeFun(x: T): T {
    return tf.add(tf.div(tf.atan(tf.mul(x, (Math.PI / 2) * this.alpha)), Math.PI), 0.5);
  }
}

/** Spike with the Arctan surrogate. */
export function arctan(x: T | tf.TensorLike, alpha?: number): T {
  return new Arctan({ alpha }).call(x);
}

/**
 * Nonzero sign log: g(x) = 1 / (1/α + |x|); surrogateFun s(x)·log(|αx| + 1) with s(x) = 1 for
 * x ≥ 0, −1 for x < 0. α > 0, default 1.
 */
export class NonzeroSignLog extends Surrogate {
  readonly alpha: number;
  constructor({ alpha = 1 }: { alpha?: number } = {}) {
    super([['alpha', alpha, 'positive']]);
    this.alpha = alpha;
  }
  protected computeGrad(x: T): T {
    return tf.reciprocal(tf.add(tf.abs(x), 1 / this.alpha));
  }
  protected override computeFun(x: T): T {
    const mag = tf.log1p(tf.abs(tf.mul(x, this.alpha)));
    return tf.where(ge(x, 0), mag, tf.neg(mag));
  }
}

/** Spike with the NonzeroSignLog surrogate. */
export function nonzeroSignLog(x: T | tf.TensorLike, alpha?: number): T {
  return new NonzeroSignLog({ alpha }).call(x);
}

/** Error function: g(x) = (α/√π)·exp(−α²x²); surrogateFun (1 + erf(αx))/2. α > 0, default 1. */
export class ERF extends Surrogate {
  readonly alpha: number;
  constructor({ alpha = 1 }: { alpha?: number } = {}) {
    super([['alpha', alpha, 'positive']]);
    this.alpha = alpha;
  }
  protected computeGrad(x: T): T {
    const a = this.alpha;
    return tf.mul(tf.exp(tf.neg(tf.square(tf.mul(x, a)))), a / SQRT_PI);
  }
  protected override computeFun(x: T): T {
    return tf.mul(tf.add(tf.erf(tf.mul(x, this.alpha)), 1), 0.5);
  }
}

/** Spike with the ERF surrogate. */
export function erf(x: T | tf.TensorLike, alpha?: number): T {
  return new ERF({ alpha }).call(x);
}

/**
 * Piecewise leaky ReLU: g(x) = 1/w for |x| ≤ w, else c; surrogateFun x/(2w) + 1/2 on [−w, w],
 * slope c outside (continuous). c finite (default 0.01), w > 0 (default 1).
 */
export class PiecewiseLeakyRelu extends Surrogate {
  readonly c: number;
  readonly w: number;
  constructor({ c = 0.01, w = 1 }: { c?: number; w?: number } = {}) {
    super([
      ['c', c, 'finite'],
      ['w', w, 'positive'],
    ]);
    this.c = c;
    this.w = w;
  }
  protected computeGrad(x: T): T {
    return tf.where(ge(this.w, tf.abs(x)), 1 / this.w, this.c);
  }
  protected override computeFun(x: T): T {
    const { c, w } = this;
    const mid = tf.add(tf.mul(x, 1 / (2 * w)), 0.5);
    const cx = tf.mul(x, c);
    return tf.where(ge(x, -w), tf.where(ge(w, x), mid, tf.add(cx, 1 - c * w)), tf.add(cx, c * w));
  }
}

/** Spike with the PiecewiseLeakyRelu surrogate. */
export function piecewiseLeakyRelu(x: T | tf.TensorLike, c?: number, w?: number): T {
  return new PiecewiseLeakyRelu({ c, w }).call(x);
}

/**
 * Square-wave Fourier series: with ω = 2π/T, g(x) = (4/T)·[cos(ωx) + Σ_{i=2}^{n−1} cos((2i−1)ωx)];
 * surrogateFun 1/2 + (2/π)·[sin(ωx) + Σ_{i=2}^{n−1} sin((2i−1)ωx)/(2i−1)]. n integer ≥ 1
 * (default 2: the first term only), t_period T > 0 (default 8).
 */
export class SquarewaveFourierSeries extends Surrogate {
  readonly n: number;
  readonly t_period: number;
  constructor({ n = 2, t_period = 8 }: { n?: number; t_period?: number } = {}) {
    super([
      ['n', n, 'positiveInteger'],
      ['t_period', t_period, 'positive'],
    ]);
    this.n = n;
    this.t_period = t_period;
  }
  private series(x: T, term: (kx: T) => T, weight: (k: number) => number): T {
    const w = (2 * Math.PI) / this.t_period;
    let sum = term(tf.mul(x, w));
    for (let i = 2; i < this.n; i++) {
      const k = 2 * i - 1;
      sum = tf.add(sum, tf.mul(term(tf.mul(x, k * w)), weight(k)));
    }
    return sum;
  }
  protected computeGrad(x: T): T {
    return tf.mul(
      this.series(x, tf.cos, () => 1),
      4 / this.t_period,
    );
  }
  protected override computeFun(x: T): T {
    return tf.add(
      tf.mul(
        this.series(x, tf.sin, (k) => 1 / k),
        2 / Math.PI,
      ),
      0.5,
    );
  }
}

/** Spike with the SquarewaveFourierSeries surrogate. */
export function squarewaveFourierSeries(x: T | tf.TensorLike, n?: number, t_period?: number): T {
  return new SquarewaveFourierSeries({ n, t_period }).call(x);
}

/**
 * S2NN: g(x) = α·σ(αx)·(1 − σ(αx)) for x < 0, β/(x + 1) for x ≥ 0; surrogateFun σ(αx) for x < 0,
 * β·log(|x + 1| + ε) + 1/2 for x ≥ 0. α > 0 (default 4), β finite (default 1), ε ≥ 0
 * (default 1e-8, used only in surrogateFun).
 */
export class S2NN extends Surrogate {
  readonly alpha: number;
  readonly beta: number;
  readonly epsilon: number;
  constructor({
    alpha = 4,
    beta = 1,
    epsilon = 1e-8,
  }: { alpha?: number; beta?: number; epsilon?: number } = {}) {
    super([
      ['alpha', alpha, 'positive'],
      ['beta', beta, 'finite'],
      ['epsilon', epsilon, 'nonNegative'],
    ]);
    this.alpha = alpha;
    this.beta = beta;
    this.epsilon = epsilon;
  }
  protected computeGrad(x: T): T {
    // max(x, 0) keeps the x ≥ 0 branch finite where it is discarded (x ≤ −1).
    const pos = tf.div(this.beta, tf.add(tf.maximum(x, 0), 1));
    return tf.where(ge(x, 0), pos, sigmoidGrad(x, this.alpha));
  }
  protected override computeFun(x: T): T {
    const pos = tf.add(
      tf.mul(tf.log(tf.add(tf.abs(tf.add(tf.maximum(x, 0), 1)), this.epsilon)), this.beta),
      0.5,
    );
    return tf.where(ge(x, 0), pos, tf.sigmoid(tf.mul(x, this.alpha)));
  }
}

/** Spike with the S2NN surrogate. */
export function s2nn(x: T | tf.TensorLike, alpha?: number, beta?: number, epsilon?: number): T {
  return new S2NN({ alpha, beta, epsilon }).call(x);
}

/** q-PseudoSpike: g(x) = (1 + 2|x|/(α + 1))^(−α). α > 0 (tail fatness), default 2. */
export class QPseudoSpike extends Surrogate {
  readonly alpha: number;
  constructor({ alpha = 2 }: { alpha?: number } = {}) {
    super([['alpha', alpha, 'positive']]);
    this.alpha = alpha;
  }
  protected computeGrad(x: T): T {
    const a = this.alpha;
    return tf.pow(tf.add(tf.mul(tf.abs(x), 2 / (a + 1)), 1), -a);
  }
}

/** Spike with the QPseudoSpike surrogate. */
export function qPseudoSpike(x: T | tf.TensorLike, alpha?: number): T {
  return new QPseudoSpike({ alpha }).call(x);
}

/**
 * Leaky ReLU: g(x) = α for x < 0, β for x ≥ 0; surrogateFun αx or βx. α, β finite
 * (defaults 0.1 and 1).
 */
export class LeakyRelu extends Surrogate {
  readonly alpha: number;
  readonly beta: number;
  constructor({ alpha = 0.1, beta = 1 }: { alpha?: number; beta?: number } = {}) {
    super([
      ['alpha', alpha, 'finite'],
      ['beta', beta, 'finite'],
    ]);
    this.alpha = alpha;
    this.beta = beta;
  }
  protected computeGrad(x: T): T {
    return tf.where(ge(x, 0), this.beta, this.alpha);
  }
  protected override computeFun(x: T): T {
    return tf.mul(x, this.computeGrad(x));
  }
}

/** Spike with the LeakyRelu surrogate. */
export function leakyRelu(x: T | tf.TensorLike, alpha?: number, beta?: number): T {
  return new LeakyRelu({ alpha, beta }).call(x);
}

/**
 * Log-tailed ReLU: g(x) = 1/x for x > 1, 1 for 0 < x ≤ 1, α for x ≤ 0; surrogateFun log x,
 * x, αx on the same pieces. α finite, default 0.
 */
export class LogTailedRelu extends Surrogate {
  readonly alpha: number;
  constructor({ alpha = 0 }: { alpha?: number } = {}) {
    super([['alpha', alpha, 'finite']]);
    this.alpha = alpha;
  }
  protected computeGrad(x: T): T {
    const tail = tf.reciprocal(tf.maximum(x, 1));
    return tf.where(ge(0, x), this.alpha, tf.where(ge(1, x), 1, tail));
  }
  protected override computeFun(x: T): T {
    const tail = tf.log(tf.maximum(x, 1));
    return tf.where(ge(0, x), tf.mul(x, this.alpha), tf.where(ge(1, x), x, tail));
  }
}

/** Spike with the LogTailedRelu surrogate. */
export function logTailedRelu(x: T | tf.TensorLike, alpha?: number): T {
  return new LogTailedRelu({ alpha }).call(x);
}

/**
 * ReLU-shaped (triangular) gradient: g(x) = α·max(w − |x|, 0). α > 0 (default 0.3), width
 * w > 0 (default 1). The default spike function of IF, LIF and ALIF.
 */
export class ReluGrad extends Surrogate {
  readonly alpha: number;
  readonly width: number;
  constructor({ alpha = 0.3, width = 1 }: { alpha?: number; width?: number } = {}) {
    super([
      ['alpha', alpha, 'positive'],
      ['width', width, 'positive'],
    ]);
    this.alpha = alpha;
    this.width = width;
  }
  protected computeGrad(x: T): T {
    return tf.mul(tf.relu(tf.sub(this.width, tf.abs(x))), this.alpha);
  }
}

/** Spike with the ReluGrad surrogate. */
export function reluGrad(x: T | tf.TensorLike, alpha?: number, width?: number): T {
  return new ReluGrad({ alpha, width }).call(x);
}

/**
 * Gaussian gradient: g(x) = α·exp(−x²/(2σ²)) / (√(2π)·σ), α times the N(0, σ²) density, so it
 * integrates to α. σ > 0 (default 0.5), α > 0 (default 0.5). Fixes upstream, which multiplies
 * x² by σ² in the exponent instead of dividing (see the file header).
 */
export class GaussianGrad extends Surrogate {
  readonly sigma: number;
  readonly alpha: number;
  constructor({ sigma = 0.5, alpha = 0.5 }: { sigma?: number; alpha?: number } = {}) {
    super([
      ['sigma', sigma, 'positive'],
      ['alpha', alpha, 'positive'],
    ]);
    this.sigma = sigma;
    this.alpha = alpha;
  }
  protected computeGrad(x: T): T {
    return tf.mul(normalPdf(x, 0, this.sigma), this.alpha);
  }
}

/** Spike with the GaussianGrad surrogate. */
export function gaussianGrad(x: T | tf.TensorLike, sigma?: number, alpha?: number): T {
  return new GaussianGrad({ sigma, alpha }).call(x);
}

/**
 * Multi-Gaussian gradient: g(x) = scale·[(1+h)·N(x; 0, σ) − h·N(x; σ, sσ) − h·N(x; −σ, sσ)],
 * N(x; μ, sd) the normal density. h ≥ 0 (default 0.15), s > 0 (default 6), σ > 0 (default 0.5),
 * scale > 0 (default 0.5).
 */
export class MultiGaussianGrad extends Surrogate {
  readonly h: number;
  readonly s: number;
  readonly sigma: number;
  readonly scale: number;
  constructor({
    h = 0.15,
    s = 6,
    sigma = 0.5,
    scale = 0.5,
  }: { h?: number; s?: number; sigma?: number; scale?: number } = {}) {
    super([
      ['h', h, 'nonNegative'],
      ['s', s, 'positive'],
      ['sigma', sigma, 'positive'],
      ['scale', scale, 'positive'],
    ]);
    this.h = h;
    this.s = s;
    this.sigma = sigma;
    this.scale = scale;
  }
  protected computeGrad(x: T): T {
    const { h, s, sigma } = this;
    const center = tf.mul(normalPdf(x, 0, sigma), 1 + h);
    const sides = tf.add(normalPdf(x, sigma, s * sigma), normalPdf(x, -sigma, s * sigma));
    return tf.mul(tf.sub(center, tf.mul(sides, h)), this.scale);
  }
}

/** Spike with the MultiGaussianGrad surrogate. */
export function multiGaussianGrad(
  x: T | tf.TensorLike,
  h?: number,
  s?: number,
  sigma?: number,
  scale?: number,
): T {
  return new MultiGaussianGrad({ h, s, sigma, scale }).call(x);
}

/**
 * Inverse square: g(x) = 1 / (α|x| + 1)². α > 0, default 100. The default spike function of the
 * Neuron base class.
 */
export class InvSquareGrad extends Surrogate {
  readonly alpha: number;
  constructor({ alpha = 100 }: { alpha?: number } = {}) {
    super([['alpha', alpha, 'positive']]);
    this.alpha = alpha;
  }
  protected computeGrad(x: T): T {
    return tf.reciprocal(tf.square(tf.add(tf.mul(tf.abs(x), this.alpha), 1)));
  }
}

/** Spike with the InvSquareGrad surrogate. */
export function invSquareGrad(x: T | tf.TensorLike, alpha?: number): T {
  return new InvSquareGrad({ alpha }).call(x);
}

/** SLAYER: g(x) = exp(−α|x|). α > 0, default 1. */
export class SlayerGrad extends Surrogate {
  readonly alpha: number;
  constructor({ alpha = 1 }: { alpha?: number } = {}) {
    super([['alpha', alpha, 'positive']]);
    this.alpha = alpha;
  }
  protected computeGrad(x: T): T {
    return expAbs(x, this.alpha);
  }
}

/** Spike with the SlayerGrad surrogate. */
export function slayerGrad(x: T | tf.TensorLike, alpha?: number): T {
  return new SlayerGrad({ alpha }).call(x);
}

// ---------------------------------------------------------------------------------------------

/** Every built-in surrogate class, with a factory from its params (in `paramNames` order). */
export const BUILTIN_SURROGATES: Readonly<Record<string, (p: readonly number[]) => Surrogate>> = {
  Sigmoid: ([alpha]) => new Sigmoid({ alpha }),
  PiecewiseQuadratic: ([alpha]) => new PiecewiseQuadratic({ alpha }),
  PiecewiseExp: ([alpha]) => new PiecewiseExp({ alpha }),
  SoftSign: ([alpha]) => new SoftSign({ alpha }),
  Arctan: ([alpha]) => new Arctan({ alpha }),
  NonzeroSignLog: ([alpha]) => new NonzeroSignLog({ alpha }),
  ERF: ([alpha]) => new ERF({ alpha }),
  PiecewiseLeakyRelu: ([c, w]) => new PiecewiseLeakyRelu({ c, w }),
  SquarewaveFourierSeries: ([n, t_period]) => new SquarewaveFourierSeries({ n, t_period }),
  S2NN: ([alpha, beta, epsilon]) => new S2NN({ alpha, beta, epsilon }),
  QPseudoSpike: ([alpha]) => new QPseudoSpike({ alpha }),
  LeakyRelu: ([alpha, beta]) => new LeakyRelu({ alpha, beta }),
  LogTailedRelu: ([alpha]) => new LogTailedRelu({ alpha }),
  ReluGrad: ([alpha, width]) => new ReluGrad({ alpha, width }),
  GaussianGrad: ([sigma, alpha]) => new GaussianGrad({ sigma, alpha }),
  MultiGaussianGrad: ([h, s, sigma, scale]) => new MultiGaussianGrad({ h, s, sigma, scale }),
  InvSquareGrad: ([alpha]) => new InvSquareGrad({ alpha }),
  SlayerGrad: ([alpha]) => new SlayerGrad({ alpha }),
};

for (const [name, factory] of Object.entries(BUILTIN_SURROGATES)) registerSurrogate(name, factory);
