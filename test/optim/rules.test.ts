/**
 * Every update rule against hand-written float64 steps (spec §8.2, upstream bugs fixed): three
 * steps on a 4-vector with a fixed gradient sequence, θ after each step and the final slots.
 * The references below are independent of the implementation: plain loops over numbers.
 */
import { describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf';
import {
  Adadelta,
  Adagrad,
  Adam,
  AdamW,
  Adamax,
  Lion,
  Momentum,
  MomentumNesterov,
  RMSProp,
  SGD,
  type Optimizer,
} from '../../src/optim';
import { GRADS, THETA0, expectClose, runSteps } from './helpers';

type Vec = number[];

/** Run a float64 reference rule: `step(θ, g, t)` updates its own slots and returns the new θ. */
function reference(step: (theta: Vec, g: Vec, t: number) => Vec): Vec[] {
  let theta = [...THETA0];
  return GRADS.map((g, k) => (theta = step(theta, g, k + 1)));
}

const zeros = () => THETA0.map(() => 0);

function check(opt: Optimizer, expected: Vec[], slots?: Record<string, Vec>) {
  const before = tf.memory().numTensors;
  const got = runSteps(opt);
  got.thetas.forEach((th, k) => expectClose(th, expected[k], `θ after step ${k + 1}`));
  if (slots) for (const [name, v] of Object.entries(slots)) expectClose(got.slots[name], v, name);
  // the slots created at registration remain; nothing else was left behind
  expect(tf.memory().numTensors).toBe(before + opt.slotNames.length);
}

describe('gradient descent with momentum', () => {
  it('SGD: θ ← θ − ηg, and θ ← (1−λ)θ − ηg with weight decay', () => {
    const eta = 0.1;
    check(
      new SGD({ lr: eta }),
      reference((th, g) => th.map((x, i) => x - eta * g[i])),
    );
    const wd = 0.05;
    check(
      new SGD({ lr: eta, weightDecay: wd }),
      reference((th, g) => th.map((x, i) => (1 - wd) * x - eta * g[i])),
    );
  });

  it('Momentum: the intended rule v ← μv − ηg; θ ← θ + v (hand-computed)', () => {
    // θ0 = 1, g = 1, η = 0.1, μ = 0.9: v = −0.1, −0.19, −0.271; θ = 0.9, 0.71, 0.439
    const w = runSteps(new Momentum({ lr: 0.1, momentum: 0.9 }), [1], [[1], [1], [1]]);
    expectClose(w.thetas.flat(), [0.9, 0.71, 0.439], 'θ');
    expectClose(w.slots.velocity, [-0.271], 'velocity');
  });

  it('Momentum on the vector, with and without weight decay', () => {
    for (const wd of [null, 0.1]) {
      const [eta, mu] = [0.05, 0.8];
      const v = zeros();
      const expected = reference((th, g) =>
        th.map((x, i) => {
          v[i] = mu * v[i] - eta * g[i];
          return (1 - (wd ?? 0)) * x + v[i];
        }),
      );
      check(new Momentum({ lr: eta, momentum: mu, weightDecay: wd }), expected, { velocity: v });
    }
  });

  it('MomentumNesterov: true look-ahead θ ← θ + μv − ηg (hand-computed)', () => {
    // v = −0.1, −0.19, −0.271; θ = 1 − 0.09 − 0.1 = 0.81; 0.81 − 0.171 − 0.1 = 0.539; 0.539 − 0.2439 − 0.1 = 0.1951
    const w = runSteps(new MomentumNesterov({ lr: 0.1 }), [1], [[1], [1], [1]]);
    expectClose(w.thetas.flat(), [0.81, 0.539, 0.1951], 'θ');
    const [eta, mu, wd] = [0.05, 0.7, 0.02];
    const v = zeros();
    const expected = reference((th, g) =>
      th.map((x, i) => {
        v[i] = mu * v[i] - eta * g[i];
        return (1 - wd) * x + mu * v[i] - eta * g[i];
      }),
    );
    check(new MomentumNesterov({ lr: eta, momentum: mu, weightDecay: wd }), expected, {
      velocity: v,
    });
  });
});

describe('adaptive rules', () => {
  it('Adagrad: G ← G + g²; θ ← (1−λ)θ − ηg/√(G + ε)', () => {
    for (const wd of [null, 0.01]) {
      const [eta, eps] = [0.3, 1e-6];
      const G = zeros();
      const expected = reference((th, g) =>
        th.map((x, i) => {
          G[i] += g[i] ** 2;
          return (1 - (wd ?? 0)) * x - (eta * g[i]) / Math.sqrt(G[i] + eps);
        }),
      );
      check(new Adagrad({ lr: eta, weightDecay: wd }), expected, { sumSq: G });
    }
  });

  it('RMSProp: E ← ρE + (1−ρ)g²; θ ← (1−λ)θ − ηg/√(E + ε)', () => {
    for (const wd of [null, 0.02]) {
      const [eta, rho, eps] = [0.01, 0.85, 1e-4];
      const E = zeros();
      const expected = reference((th, g) =>
        th.map((x, i) => {
          E[i] = rho * E[i] + (1 - rho) * g[i] ** 2;
          return (1 - (wd ?? 0)) * x - (eta * g[i]) / Math.sqrt(E[i] + eps);
        }),
      );
      check(new RMSProp({ lr: eta, rho, eps, weightDecay: wd }), expected, { meanSq: E });
    }
  });

  it('Adadelta: the reference rule at the default η = 1, scaled by η otherwise', () => {
    for (const [eta, wd] of [
      [1, null],
      [0.5, 0.1],
    ] as const) {
      const [rho, eps] = [0.9, 1e-3];
      const Eg = zeros();
      const Ed = zeros();
      const expected = reference((th, g) =>
        th.map((x, i) => {
          Eg[i] = rho * Eg[i] + (1 - rho) * g[i] ** 2;
          const d = (g[i] * Math.sqrt(Ed[i] + eps)) / Math.sqrt(Eg[i] + eps);
          Ed[i] = rho * Ed[i] + (1 - rho) * d ** 2;
          return (1 - (wd ?? 0)) * x - eta * d;
        }),
      );
      const opt =
        eta === 1
          ? new Adadelta({ rho, eps, weightDecay: wd })
          : new Adadelta({ lr: eta, rho, eps, weightDecay: wd });
      check(opt, expected, { meanSq: Eg, meanDeltaSq: Ed });
    }
  });
});

describe('the Adam family (bias correction from a step counter t = 1, 2, 3)', () => {
  const [b1, b2, eps] = [0.8, 0.95, 1e-3];

  function adamReference(eta: number, decay: (x: number) => number, amsgrad = false) {
    const m = zeros();
    const v = zeros();
    const vHat = zeros();
    const thetas = reference((th, g, t) => {
      const etaT = (eta * Math.sqrt(1 - b2 ** t)) / (1 - b1 ** t);
      return th.map((x, i) => {
        m[i] = b1 * m[i] + (1 - b1) * g[i];
        v[i] = b2 * v[i] + (1 - b2) * g[i] ** 2;
        vHat[i] = Math.max(vHat[i], v[i]);
        return decay(x) - (etaT * m[i]) / (Math.sqrt(amsgrad ? vHat[i] : v[i]) + eps);
      });
    });
    return { thetas, m, v, vHat };
  }

  it('Adam: the first step is ≈ η·sign(g) (bias-corrected), then the float64 reference', () => {
    const first = runSteps(new Adam({ lr: 0.1, eps: 1e-12 }), [0, 0], [[3, -0.002]]);
    expectClose(first.thetas[0], [-0.1, 0.1], 'θ1');
    const r = adamReference(0.1, (x) => x);
    check(new Adam({ lr: 0.1, beta1: b1, beta2: b2, eps }), r.thetas, { m: r.m, v: r.v });
  });

  it('Adam with weight decay: θ ← (1−λ)θ − u', () => {
    const r = adamReference(0.05, (x) => (1 - 0.1) * x);
    check(new Adam({ lr: 0.05, beta1: b1, beta2: b2, eps, weightDecay: 0.1 }), r.thetas);
  });

  it('Adam uses t = 1, 2, 3 — not the reference quirk of t stuck at 1', () => {
    const r = adamReference(0.1, (x) => x);
    const m = zeros();
    const v = zeros();
    const quirk = reference((th, g) =>
      th.map((x, i) => {
        m[i] = b1 * m[i] + (1 - b1) * g[i];
        v[i] = b2 * v[i] + (1 - b2) * g[i] ** 2;
        return x - ((0.1 * Math.sqrt(1 - b2)) / (1 - b1)) * (m[i] / (Math.sqrt(v[i]) + eps));
      }),
    );
    const got = runSteps(new Adam({ lr: 0.1, beta1: b1, beta2: b2, eps })).thetas;
    expectClose(got[2], r.thetas[2], 'θ3');
    expect(Math.abs(got[2][0] - quirk[2][0])).toBeGreaterThan(1e-3);
  });

  it('AdamW: decoupled decay θ(1 − ηλ), with and without amsgrad', () => {
    const [eta, wd] = [0.05, 0.2];
    const plain = adamReference(eta, (x) => x * (1 - eta * wd));
    check(new AdamW({ lr: eta, beta1: b1, beta2: b2, eps, weightDecay: wd }), plain.thetas, {
      m: plain.m,
      v: plain.v,
    });
    const ams = adamReference(eta, (x) => x * (1 - eta * wd), true);
    // the gradient sequence shrinks |g| at step 3, so v̂ ≠ v there: amsgrad changes the result
    expect(ams.vHat.some((x, i) => x !== ams.v[i])).toBe(true);
    check(
      new AdamW({ lr: eta, beta1: b1, beta2: b2, eps, weightDecay: wd, amsgrad: true }),
      ams.thetas,
      { m: ams.m, v: ams.v, vHat: ams.vHat },
    );
  });

  it('AdamW defaults: weightDecay 1e-2, lr 1e-3', () => {
    const opt = new AdamW();
    expect(opt.weightDecay).toBe(1e-2);
    expect(opt.lr.at()).toBeCloseTo(1e-3, 9);
    expect(opt.slotNames).toEqual(['m', 'v']);
    expect(new AdamW({ amsgrad: true }).slotNames).toEqual(['m', 'v', 'vHat']);
  });

  it('Adamax: u ← max(β2u, |g| + ε); θ ← (1−λ)θ − η/(1−β1^t)·m/u', () => {
    for (const wd of [null, 0.05]) {
      const eta = 0.02;
      const m = zeros();
      const u = zeros();
      const expected = reference((th, g, t) =>
        th.map((x, i) => {
          m[i] = b1 * m[i] + (1 - b1) * g[i];
          u[i] = Math.max(b2 * u[i], Math.abs(g[i]) + eps);
          return (1 - (wd ?? 0)) * x - (eta / (1 - b1 ** t)) * (m[i] / u[i]);
        }),
      );
      check(new Adamax({ lr: eta, beta1: b1, beta2: b2, eps, weightDecay: wd }), expected, {
        m,
        u,
      });
    }
  });

  it('Lion: sign of the β1 interpolation, momentum with β2, decoupled decay', () => {
    for (const wd of [0, 0.5]) {
      const [eta, l1, l2] = [0.01, 0.9, 0.99];
      const m = zeros();
      const expected = reference((th, g) =>
        th.map((x, i) => {
          const c = l1 * m[i] + (1 - l1) * g[i];
          m[i] = l2 * m[i] + (1 - l2) * g[i];
          return x * (1 - eta * wd) - eta * Math.sign(c);
        }),
      );
      check(new Lion({ lr: eta, beta1: l1, beta2: l2, weightDecay: wd }), expected, { m });
    }
  });
});
