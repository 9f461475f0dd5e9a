/**
 * Every built-in surrogate against an independent float64 implementation of its spec §7 formula:
 * the gradient of the spike (through the BstSpike kernel) is dy·g(x), `surrogateGrad` is g,
 * `surrogateFun` (where defined) is the spec's primitive and differentiates to g; defaults,
 * printing, equality, parameter validation and the function forms.
 */
import { describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf';
import { ArgumentError, NotSupportedError } from '../../src/errors';
import * as S from '../../src/surrogate';
import { expectClose, points, rng } from './helpers';

type Params = number[];
type SpikeFn = (x: tf.Tensor, ...p: number[]) => tf.Tensor;

interface Case {
  name: string;
  make: (p?: Params) => S.Surrogate;
  fn: SpikeFn;
  names: string[];
  /** The spec's defaults. */
  defaults: Params;
  /** Another valid parameter set. */
  alt: Params;
  /** g(x), float64. */
  g: (x: number, p: Params) => number;
  /** The spec's surrogateFun, float64 (undefined where the spec defines none). */
  f?: (x: number, p: Params) => number;
  /** Points where g or surrogateFun has a kink (excluded from d/dx surrogateFun = g). */
  kinks?: (p: Params) => number[];
  /** Invalid parameters: [param index, bad value]. */
  bad: [number, number][];
}

const sig = (z: number): number => 1 / (1 + Math.exp(-z));
const npdf = (x: number, mu: number, sd: number): number =>
  Math.exp(-((x - mu) ** 2) / (2 * sd * sd)) / (Math.sqrt(2 * Math.PI) * sd);
/** erf by its Taylor series (accurate to ~1e-14 for |z| ≤ 3). */
function erf64(z: number): number {
  let term = z;
  let sum = z;
  for (let n = 1; n < 80; n++) {
    term *= (-z * z) / n;
    sum += term / (2 * n + 1);
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}

function maker<C extends S.Surrogate>(
  Cls: new (o?: Record<string, number | undefined>) => C,
  names: string[],
): (p?: Params) => C {
  return (p) =>
    p === undefined ? new Cls() : new Cls(Object.fromEntries(names.map((n, i) => [n, p[i]])));
}

function mk(
  name: string,
  Cls: new (o?: Record<string, number | undefined>) => S.Surrogate,
  fn: SpikeFn,
  names: string[],
  rest: Omit<Case, 'name' | 'make' | 'fn' | 'names'>,
): Case {
  return { name, make: maker(Cls, names), fn, names, ...rest };
}

const CASES: Case[] = [
  mk('Sigmoid', S.Sigmoid, S.sigmoid, ['alpha'], {
    defaults: [4],
    alt: [1.5],
    g: (x, [a]) => a * sig(a * x) * (1 - sig(a * x)),
    f: (x, [a]) => sig(a * x),
    bad: [[0, 0]],
  }),
  mk('PiecewiseQuadratic', S.PiecewiseQuadratic, S.piecewiseQuadratic, ['alpha'], {
    defaults: [1],
    alt: [2],
    // α − α²|x|, the derivative of the spec's surrogateFun (upstream's code has α − α²x²).
    g: (x, [a]) => (Math.abs(x) > 1 / a ? 0 : a - a * a * Math.abs(x)),
    f: (x, [a]) => (x < -1 / a ? 0 : x > 1 / a ? 1 : ((-a * Math.abs(x)) / 2 + 1) * a * x + 0.5),
    kinks: ([a]) => [-1 / a, 1 / a],
    bad: [[0, -1]],
  }),
  mk('PiecewiseExp', S.PiecewiseExp, S.piecewiseExp, ['alpha'], {
    defaults: [1],
    alt: [3],
    g: (x, [a]) => (a / 2) * Math.exp(-a * Math.abs(x)),
    f: (x, [a]) => (x < 0 ? Math.exp(a * x) / 2 : 1 - Math.exp(-a * x) / 2),
    bad: [[0, 0]],
  }),
  mk('SoftSign', S.SoftSign, S.softSign, ['alpha'], {
    defaults: [1],
    alt: [2.5],
    g: (x, [a]) => a / (2 * (1 + Math.abs(a * x)) ** 2),
    f: (x, [a]) => x / (2 / a + 2 * Math.abs(x)) + 0.5,
    bad: [[0, -2]],
  }),
  mk('Arctan', S.Arctan, S.arctan, ['alpha'], {
    defaults: [1],
    alt: [0.5],
    g: (x, [a]) => a / (2 * (1 + ((Math.PI / 2) * a * x) ** 2)),
    f: (x, [a]) => Math.atan((Math.PI / 2) * a * x) / Math.PI + 0.5,
    bad: [[0, 0]],
  }),
  mk('NonzeroSignLog', S.NonzeroSignLog, S.nonzeroSignLog, ['alpha'], {
    defaults: [1],
    alt: [4],
    g: (x, [a]) => 1 / (1 / a + Math.abs(x)),
    f: (x, [a]) => (x < 0 ? -1 : 1) * Math.log(Math.abs(a * x) + 1),
    bad: [[0, 0]],
  }),
  mk('ERF', S.ERF, S.erf, ['alpha'], {
    defaults: [1],
    alt: [0.7],
    g: (x, [a]) => (a / Math.sqrt(Math.PI)) * Math.exp(-a * a * x * x),
    f: (x, [a]) => (1 + erf64(a * x)) / 2,
    bad: [[0, -1]],
  }),
  mk('PiecewiseLeakyRelu', S.PiecewiseLeakyRelu, S.piecewiseLeakyRelu, ['c', 'w'], {
    defaults: [0.01, 1],
    alt: [0.05, 2],
    g: (x, [c, w]) => (Math.abs(x) > w ? c : 1 / w),
    f: (x, [c, w]) => (x < -w ? c * x + c * w : x > w ? c * x - c * w + 1 : x / (2 * w) + 0.5),
    kinks: ([, w]) => [-w, w],
    bad: [
      [1, 0],
      [0, Infinity],
    ],
  }),
  mk(
    'SquarewaveFourierSeries',
    S.SquarewaveFourierSeries,
    S.squarewaveFourierSeries,
    ['n', 't_period'],
    {
      defaults: [2, 8],
      alt: [5, 4],
      g: (x, [n, T]) => {
        const w = (2 * Math.PI) / T;
        let s = Math.cos(w * x);
        for (let i = 2; i < n; i++) s += Math.cos((2 * i - 1) * w * x);
        return (4 / T) * s;
      },
      f: (x, [n, T]) => {
        const w = (2 * Math.PI) / T;
        let s = Math.sin(w * x);
        for (let i = 2; i < n; i++) s += Math.sin((2 * i - 1) * w * x) / (2 * i - 1);
        return 0.5 + (2 / Math.PI) * s;
      },
      bad: [
        [0, 2.5],
        [0, 0],
        [1, -8],
      ],
    },
  ),
  mk('S2NN', S.S2NN, S.s2nn, ['alpha', 'beta', 'epsilon'], {
    defaults: [4, 1, 1e-8],
    alt: [2, 0.5, 1e-6],
    g: (x, [a, b]) => (x < 0 ? a * sig(a * x) * (1 - sig(a * x)) : b / (x + 1)),
    f: (x, [a, b, e]) => (x < 0 ? sig(a * x) : b * Math.log(Math.abs(x + 1) + e) + 0.5),
    bad: [
      [0, 0],
      [2, -1e-8],
    ],
  }),
  mk('QPseudoSpike', S.QPseudoSpike, S.qPseudoSpike, ['alpha'], {
    defaults: [2],
    alt: [3.5],
    g: (x, [a]) => (1 + (2 * Math.abs(x)) / (a + 1)) ** -a,
    bad: [[0, 0]],
  }),
  mk('LeakyRelu', S.LeakyRelu, S.leakyRelu, ['alpha', 'beta'], {
    defaults: [0.1, 1],
    alt: [0, 2],
    g: (x, [a, b]) => (x < 0 ? a : b),
    f: (x, [a, b]) => (x < 0 ? a * x : b * x),
    bad: [[1, NaN]],
  }),
  mk('LogTailedRelu', S.LogTailedRelu, S.logTailedRelu, ['alpha'], {
    defaults: [0],
    alt: [0.2],
    g: (x, [a]) => (x > 1 ? 1 / x : x > 0 ? 1 : a),
    f: (x, [a]) => (x > 1 ? Math.log(x) : x > 0 ? x : a * x),
    kinks: () => [0, 1],
    bad: [[0, -Infinity]],
  }),
  mk('ReluGrad', S.ReluGrad, S.reluGrad, ['alpha', 'width'], {
    defaults: [0.3, 1],
    alt: [1, 0.5],
    g: (x, [a, w]) => a * Math.max(w - Math.abs(x), 0),
    bad: [
      [0, 0],
      [1, -1],
    ],
  }),
  mk('GaussianGrad', S.GaussianGrad, S.gaussianGrad, ['sigma', 'alpha'], {
    defaults: [0.5, 0.5],
    alt: [1.2, 2],
    // The textbook density (the fix of upstream's σ² in the numerator of the exponent).
    g: (x, [s, a]) => (a * Math.exp(-(x * x) / (2 * s * s))) / (Math.sqrt(2 * Math.PI) * s),
    bad: [
      [0, 0],
      [1, -0.5],
    ],
  }),
  mk('MultiGaussianGrad', S.MultiGaussianGrad, S.multiGaussianGrad, ['h', 's', 'sigma', 'scale'], {
    defaults: [0.15, 6, 0.5, 0.5],
    alt: [0.3, 3, 0.8, 1],
    g: (x, [h, s, sg, sc]) =>
      sc * ((1 + h) * npdf(x, 0, sg) - h * npdf(x, sg, s * sg) - h * npdf(x, -sg, s * sg)),
    bad: [
      [0, -0.1],
      [1, 0],
      [2, 0],
      [3, 0],
    ],
  }),
  mk('InvSquareGrad', S.InvSquareGrad, S.invSquareGrad, ['alpha'], {
    defaults: [100],
    alt: [2],
    g: (x, [a]) => 1 / (a * Math.abs(x) + 1) ** 2,
    bad: [[0, 0]],
  }),
  mk('SlayerGrad', S.SlayerGrad, S.slayerGrad, ['alpha'], {
    defaults: [1],
    alt: [5],
    g: (x, [a]) => Math.exp(-a * Math.abs(x)),
    bad: [[0, -1]],
  }),
];

// 31 evenly spaced points in [−3, 3] (they include 0 and ±1) plus breakpoints of the alt params.
const XS = points(-3, 3, 31, [0.5, -0.5, 0.25, -0.25, 2, 1e-3, -1e-3]);
const next = rng(7);
const WS = XS.map(() => Math.fround(0.5 + next()));

function withTensors<R>(f: (x: tf.Tensor, w: tf.Tensor) => R): R {
  const x = tf.tensor1d(XS);
  const w = tf.tensor1d(WS);
  try {
    return f(x, w);
  } finally {
    x.dispose();
    w.dispose();
  }
}

function read(t: tf.Tensor): Float32Array {
  const v = t.dataSync() as Float32Array;
  t.dispose();
  return v;
}

describe('surrogates: the spike gradient is dy·g(x) with the spec formula', () => {
  it('covers all 18 built-ins', () => {
    expect(CASES.map((c) => c.name).sort()).toEqual(Object.keys(S.BUILTIN_SURROGATES).sort());
  });

  for (const c of CASES) {
    describe(c.name, () => {
      it('has the spec defaults and parameter names', () => {
        const s = c.make();
        expect(s.name).toBe(c.name);
        expect(s.params).toEqual(c.defaults);
        expect(s.paramNames).toEqual(c.names);
      });

      for (const [label, p] of [
        ['defaults', c.defaults],
        ['alt', c.alt],
      ] as const) {
        it(`tf.grad(sum(call(x)·w)) = w·g(x) and surrogateGrad = g (${label} ${p.join(',')})`, () => {
          const s = c.make(p);
          const want = XS.map((x) => c.g(x, p));
          withTensors((x, w) => {
            const dx = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(s.call(v), w)))(x);
            expectClose(
              read(dx),
              want.map((g, i) => g * WS[i]),
              `${s} grad`,
            );
            expectClose(read(s.surrogateGrad(x)), want, `${s} surrogateGrad`);
          });
        });

        it(`the function form is the same spike (${label})`, () => {
          const s = c.make(p);
          withTensors((x, w) => {
            const viaFn = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(c.fn(v, ...p), w)))(x);
            const viaCls = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(s.call(v), w)))(x);
            expect(Array.from(read(viaFn))).toEqual(Array.from(read(viaCls)));
            const y = c.fn(x, ...p);
            expect(y.dtype).toBe('float32');
            expect(Array.from(read(y))).toEqual(XS.map((v) => (v >= 0 ? 1 : 0)));
          });
        });

        if (c.f !== undefined) {
          const f = c.f;
          it(`surrogateFun is the spec primitive (${label})`, () => {
            const s = c.make(p);
            expect(s.hasSurrogateFun).toBe(true);
            withTensors((x) => {
              expectClose(
                read(s.surrogateFun(x)),
                XS.map((v) => f(v, p)),
                `${s} surrogateFun`,
                1e-5,
                2e-6,
              );
            });
          });
        }
      }

      // PiecewiseLeakyRelu: the spec's g (1/w) is twice its surrogateFun's slope (1/(2w)).
      if (c.f !== undefined && c.name !== 'PiecewiseLeakyRelu') {
        it('d/dx surrogateFun = g away from kinks', () => {
          const p = c.alt;
          const s = c.make(p);
          const kinks = [0, ...(c.kinks?.(p) ?? [])];
          const xs = XS.filter((x) => kinks.every((k) => Math.abs(x - k) > 1e-6));
          const x = tf.tensor1d(xs);
          const d = tf.grad((v: tf.Tensor) => tf.sum(s.surrogateFun(v)))(x);
          expectClose(
            read(d),
            xs.map((v) => c.g(v, p)),
            `${s} d/dx surrogateFun`,
            2e-5,
            2e-6,
          );
          x.dispose();
        });
      }

      if (c.f === undefined) {
        it('defines no surrogateFun (the spec gives none) and says so', () => {
          const s = c.make();
          expect(s.hasSurrogateFun).toBe(false);
          expect(() => s.surrogateFun([1, 2])).toThrow(NotSupportedError);
          expect(() => s.surrogateFun([1, 2])).toThrow(/defines no surrogateFun/);
        });
      }

      it('rejects invalid parameters with an ArgumentError naming the parameter', () => {
        for (const [i, v] of c.bad) {
          const p = c.defaults.slice();
          p[i] = v;
          expect(() => c.make(p), `${c.names[i]}=${v}`).toThrow(ArgumentError);
          expect(() => c.make(p)).toThrow(new RegExp(`${c.name}: parameter ${c.names[i]} must be`));
          expect(() => c.fn(tf.scalar(0), ...p)).toThrow(ArgumentError);
        }
      });
    });
  }
});

describe('surrogates: specific behaviour', () => {
  it('PiecewiseQuadratic: g = α − α²|x| (fixed upstream α − α²x²): continuous, area 1', () => {
    const s = new S.PiecewiseQuadratic({ alpha: 2 });
    const g = read(s.surrogateGrad([0.25, -0.5, 0.4999, 0.75]));
    expectClose(g, [1, 0, 2 - 4 * Math.fround(0.4999), 0], 'g', 1e-5, 1e-5);
  });

  it('PiecewiseLeakyRelu keeps the spec: g = 1/w inside, surrogateFun slope 1/(2w)', () => {
    const s = new S.PiecewiseLeakyRelu({ c: 0.05, w: 2 });
    expectClose(read(s.surrogateGrad([0.5, 3])), [0.5, 0.05], 'g');
    expectClose(read(s.surrogateFun([0, 1])), [0.5, 0.75], 'fun');
  });

  it('GaussianGrad is α times the N(0, σ²) density (fixed upstream bug): it integrates to α', () => {
    for (const [sigma, alpha] of [
      [0.5, 0.5],
      [1.2, 2],
      [0.1, 1],
    ]) {
      const s = new S.GaussianGrad({ sigma, alpha });
      const n = 20001;
      const lo = -10 * sigma;
      const h = (20 * sigma) / (n - 1);
      const xs = Array.from({ length: n }, (_, i) => lo + i * h);
      const g = read(s.surrogateGrad(xs));
      let integral = 0;
      for (let i = 0; i < n - 1; i++) integral += ((g[i] + g[i + 1]) * h) / 2;
      expect(Math.abs(integral - alpha) / alpha).toBeLessThan(1e-4);
      // Upstream's exp(−x²σ²/2) would give a far larger value one unit out for σ < 1.
      const at1 = read(s.surrogateGrad([1]))[0];
      const upstream = (alpha * Math.exp(-(sigma * sigma) / 2)) / (Math.sqrt(2 * Math.PI) * sigma);
      const textbook =
        (alpha * Math.exp(-1 / (2 * sigma * sigma))) / (Math.sqrt(2 * Math.PI) * sigma);
      expect(at1).toBeCloseTo(textbook, 6);
      if (sigma !== 1) expect(Math.abs(at1 - upstream)).toBeGreaterThan(1e-3);
    }
  });

  it('MultiGaussianGrad integrates to scale·(1 − h)', () => {
    const s = new S.MultiGaussianGrad();
    const n = 40001;
    const lo = -30;
    const h = 60 / (n - 1);
    const g = read(s.surrogateGrad(Array.from({ length: n }, (_, i) => lo + i * h)));
    let integral = 0;
    for (let i = 0; i < n - 1; i++) integral += ((g[i] + g[i + 1]) * h) / 2;
    expect(integral).toBeCloseTo(0.5 * (1 - 0.15), 4);
  });

  it('prints like the reference library and compares by class and parameters', () => {
    expect(String(new S.ReluGrad())).toBe('ReluGrad(alpha=0.3, width=1)');
    expect(new S.GaussianGrad().toString()).toBe('GaussianGrad(sigma=0.5, alpha=0.5)');
    expect(new S.S2NN().toString()).toBe('S2NN(alpha=4, beta=1, epsilon=1e-8)');
    expect(new S.SquarewaveFourierSeries().toString()).toBe(
      'SquarewaveFourierSeries(n=2, t_period=8)',
    );
    const a = new S.ReluGrad();
    const b = new S.ReluGrad({ alpha: 0.3, width: 1 });
    expect(a.equals(b)).toBe(true);
    expect(a.identifier).toBe(b.identifier);
    expect(a.equals(new S.ReluGrad({ alpha: 0.4 }))).toBe(false);
    // same parameter values, different class
    expect(new S.SlayerGrad().equals(new S.PiecewiseExp())).toBe(false);
    expect(new S.SlayerGrad().identifier).not.toBe(new S.PiecewiseExp().identifier);
    expect(a.equals('ReluGrad(alpha=0.3, width=1)')).toBe(false);
    expect(Object.isFrozen(a.params)).toBe(true);
  });

  it('accepts JS arrays and non-float tensors (cast to float32)', () => {
    const s = new S.ReluGrad();
    expect(Array.from(read(s.call([-1, 0, 2])))).toEqual([0, 1, 1]);
    const xi = tf.tensor1d([-1, 0, 2], 'int32');
    const y = s.call(xi);
    expect(y.dtype).toBe('float32');
    expect(Array.from(read(y))).toEqual([0, 1, 1]);
    expectClose(read(s.surrogateGrad(xi)), [0, 0.3, 0], 'g on int32');
    xi.dispose();
  });

  it('gradients of gradients are right (g is built from differentiable ops)', () => {
    const x = tf.tensor1d(XS);
    const w = tf.tensor1d(WS);
    const second = (s: S.Surrogate): Float32Array =>
      read(
        tf.grad((u: tf.Tensor) =>
          tf.sum(tf.mul(tf.grad((v: tf.Tensor) => tf.sum(s.call(v)))(u), w)),
        )(x),
      );
    // Sigmoid: g' = α²·σ(1−σ)(1−2σ)
    const a = 4;
    expectClose(
      second(new S.Sigmoid({ alpha: a })),
      XS.map((v, i) => {
        const q = sig(a * v);
        return WS[i] * a * a * q * (1 - q) * (1 - 2 * q);
      }),
      'Sigmoid second order',
      1e-4,
      1e-5,
    );
    // GaussianGrad: g' = −x/σ²·g
    const [sg, al] = [0.8, 1.5];
    expectClose(
      second(new S.GaussianGrad({ sigma: sg, alpha: al })),
      XS.map((v, i) => WS[i] * (-v / (sg * sg)) * al * npdf(v, 0, sg)),
      'GaussianGrad second order',
      1e-4,
      1e-5,
    );
    // S2NN on x ≥ 0: −β/(x+1)²; its discarded branch stays finite, so no NaN anywhere.
    const s2 = second(new S.S2NN());
    expect(Array.from(s2).every(Number.isFinite)).toBe(true);
    x.dispose();
    w.dispose();
  });
});
