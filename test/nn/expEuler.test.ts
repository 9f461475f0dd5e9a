/**
 * Exponential Euler (spec §5.3, §10.33): the exact solution for a linear drift, linear growth
 * for a constant drift, Ornstein–Uhlenbeck statistics with a diffusion, dt from environ, extra
 * arguments, gradients through the step (including the Jacobian's dependence on x), a safe
 * exprel, and typed errors.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf';
import * as environ from '../../src/environ';
import { ArgumentError } from '../../src/errors';
import { grad } from '../../src/augment';
import * as random from '../../src/random';
import { expEulerStep, expEulerUpdate, exprel, exprelNumber } from '../../src/nn/neurons';
import { checkNoTensorLeaks } from '../graph/fixtures';

checkNoTensorLeaks();

beforeAll(() => environ.set({ dt: 0.1 }));
afterAll(() => environ.reset());

const values = (t: tf.Tensor) => Array.from(t.dataSync());

describe('expEulerStep', () => {
  it('a linear drift (c − x)/τ gives the exact exponential solution, step after step', () => {
    const tau = 7;
    const c = tf.tensor([2, -3, 0.5]);
    let x = tf.tensor([0, 1, 10]);
    const x0 = [0, 1, 10];
    for (let n = 1; n <= 100; n++) {
      const next = expEulerStep(
        (v: tf.Tensor, target: tf.Tensor) => tf.div(tf.sub(target, v), tau),
        x,
        c,
      );
      x.dispose();
      x = next;
    }
    const got = values(x);
    const e = Math.exp((-100 * 0.1) / tau);
    [2, -3, 0.5].forEach((ci, i) => expect(got[i]).toBeCloseTo(ci + (x0[i] - ci) * e, 5));
    tf.dispose([x, c]);
  });

  it('a constant drift grows linearly; a drift returning a number is accepted', () => {
    const x = tf.tensor([1, 2]);
    const y = expEulerStep(() => tf.fill([2], 3), x);
    expect(values(y)).toEqual([1.2999999523162842, 2.299999952316284]);
    const z = expEulerStep(() => 3, x);
    expect(values(z)).toEqual(values(y));
    tf.dispose([x, y, z]);
  });

  it('reads dt from environ and passes extra arguments through', () => {
    const x = tf.tensor([0]);
    const y = environ.context({ dt: 0.5 }, () =>
      expEulerStep((v: tf.Tensor, a: number, b: number) => tf.add(tf.mul(v, 0), a * b), x, 2, 3),
    );
    expect(values(y)[0]).toBeCloseTo(3, 6);
    tf.dispose([x, y]);
  });

  it('a nonlinear element-wise drift: J from vectorGrad; the gradient through the step includes ∂J/∂x', () => {
    const f = (v: tf.Tensor) => tf.div(tf.neg(tf.mul(v, v)), 10); // J = −v/5
    const x = tf.tensor([1, 2]);
    const y = expEulerStep(f, x);
    const dt = 0.1;
    const step = (v: number) => v + dt * exprelNumber(dt * (-v / 5)) * (-(v * v) / 10);
    expect(values(y)[0]).toBeCloseTo(step(1), 6);
    expect(values(y)[1]).toBeCloseTo(step(2), 6);
    const g = grad((v: tf.Tensor) => tf.sum(expEulerStep(f, v)))(x);
    const h = 1e-4;
    const numeric = [1, 2].map((v) => (step(v + h) - step(v - h)) / (2 * h));
    expect(values(g)[0]).toBeCloseTo(numeric[0], 4);
    expect(values(g)[1]).toBeCloseTo(numeric[1], 4);
    tf.dispose([x, y, g]);
  });

  it('with a diffusion: Ornstein–Uhlenbeck statistics (mean → x0·e^{−t/τ}, var → σ²τ/2·(1 − e^{−2t/τ}))', () => {
    random.seed(7);
    const tau = 2;
    const sigma = 0.5;
    let x = tf.fill([20000], 1);
    const steps = 40; // t = 4 ms
    for (let n = 0; n < steps; n++) {
      const next = expEulerStep(
        (v: tf.Tensor) => tf.div(tf.neg(v), tau),
        () => sigma,
        x,
      );
      x.dispose();
      x = next;
    }
    const t = steps * 0.1;
    const [mean, variance] = tf.tidy(() => {
      const m = tf.moments(x);
      return [m.mean.dataSync()[0], m.variance.dataSync()[0]];
    });
    // the drift step is exact, so the discrete OU process has var = σ²·dt·(1 − e^{−2t/τ})/(1 − e^{−2dt/τ})
    const a = Math.exp(-0.1 / tau);
    const expectedVar = (sigma * sigma * 0.1 * (1 - Math.exp((-2 * t) / tau))) / (1 - a * a);
    expect(mean).toBeCloseTo(Math.exp(-t / tau), 1);
    expect(Math.abs(mean - Math.exp(-t / tau))).toBeLessThan(0.01);
    expect(Math.abs(variance / expectedVar - 1)).toBeLessThan(0.05);
    x.dispose();
  });

  it('typed errors: a non-function drift, a missing state, an int state', () => {
    const x = tf.tensor([1]);
    const xi = tf.tensor([1], undefined, 'int32');
    expect(() => expEulerStep(3 as unknown as () => tf.Tensor, x)).toThrow(ArgumentError);
    expect(() => expEulerStep(3 as unknown as () => tf.Tensor, x)).toThrow(
      /drift must be a function/,
    );
    expect(() => (expEulerStep as (...a: unknown[]) => tf.Tensor)((v: tf.Tensor) => v)).toThrow(
      /missing the state x/,
    );
    expect(() =>
      (expEulerStep as (...a: unknown[]) => tf.Tensor)(
        (v: tf.Tensor) => v,
        () => 1,
      ),
    ).toThrow(/missing the state x: call expEulerStep\(drift, diffusion, x/);
    expect(() => expEulerStep((v: tf.Tensor) => v, xi)).toThrow(
      /must be a floating-point tensor \(float32\), got int32/,
    );
    expect(() => expEulerStep(() => 'x' as unknown as tf.Tensor, x)).toThrow(
      /the drift must return a tensor/,
    );
    tf.dispose([x, xi]);
  });
});

describe('exprel', () => {
  it('exprel(z) = (e^z − 1)/z with exprel(0) = 1, accurate near 0 and finite gradients there', () => {
    expect(exprelNumber(0)).toBe(1);
    expect(exprelNumber(1e-7)).toBeCloseTo(1 + 5e-8, 12);
    expect(exprelNumber(1)).toBeCloseTo(Math.E - 1, 12);
    const z = tf.tensor([0, 1e-7, -1e-3, 1, -20]);
    const v = tf.tidy(() => values(exprel(z) as tf.Tensor));
    [0, 1e-7, -1e-3, 1, -20].forEach((zi, i) => expect(v[i]).toBeCloseTo(exprelNumber(zi), 6));
    const g = grad((t: tf.Tensor) => tf.sum(exprel(t) as tf.Tensor))(z);
    const gv = values(g);
    expect(gv.every(Number.isFinite)).toBe(true);
    expect(gv[0]).toBeCloseTo(0.5, 5); // exprel'(0) = 1/2
    tf.dispose([z, g]);
  });

  it('expEulerUpdate with a number Jacobian equals the closed form', () => {
    const x = tf.tensor([1]);
    const f = tf.tensor([-0.1]); // f = −x/10 at x = 1, J = −1/10
    const y = expEulerUpdate(x, f, -0.1, 0.1);
    expect(values(y)[0]).toBeCloseTo(Math.exp(-0.01), 6);
    tf.dispose([x, f, y]);
  });
});
