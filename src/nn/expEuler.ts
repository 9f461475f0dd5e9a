/**
 * Exponential Euler integration (spec §5.3): one step of dx/dt = f(x, ...args) with the step
 * `environ.getDt()` (ms),
 *
 *     x_{n+1} = x_n + dt · exprel(dt·J) · f(x_n),   J = ∂f_i/∂x_i (element-wise),
 *
 * where exprel(z) = (e^z − 1)/z. For a drift that is linear in x, f = (c − x)/τ, this is the exact
 * solution x + (1 − e^{−dt/τ})(c − x). J comes from `vectorGrad` of the drift (exact for drifts
 * that act element-wise). With a diffusion g it is the Euler–Maruyama SDE step: the noise
 * g(x, ...args)·√dt·N(0, 1) is added. Models with an analytic Jacobian use `expEulerUpdate`.
 *
 *   const V = expEulerStep((v, I) => tf.div(tf.add(tf.neg(v), I), 10), V0, I);
 */
import { tf } from '../backend/tf';
import { vectorGrad } from '../augment';
import * as environ from '../environ';
import { ArgumentError, describeValue } from '../errors';
import * as random from '../random';

/** A drift or diffusion: maps the state x (and extra arguments) to a tensor like x. */
export type DriftFunction = (x: tf.Tensor, ...args: never[]) => tf.Tensor | number;

/** Below this |z|, exprel uses its Taylor series 1 + z/2 + z²/6 (no 0/0, exact gradient at 0). */
const EXPREL_SERIES_BELOW = 1e-5;

/** exprel(z) = (e^z − 1)/z for a number, with exprel(0) = 1. */
export function exprelNumber(z: number): number {
  return Math.abs(z) < EXPREL_SERIES_BELOW ? 1 + z / 2 + (z * z) / 6 : Math.expm1(z) / z;
}

/**
 * exprel(z) = (e^z − 1)/z element-wise, with exprel(0) = 1. Near 0 it uses the Taylor series; the
 * division never sees 0 (the unused branch gets a safe denominator), so gradients stay finite.
 */
export function exprel(z: tf.Tensor | number): tf.Tensor | number {
  if (typeof z === 'number') return exprelNumber(z);
  return tf.tidy(() => {
    // greaterEqual, not less: tfjs registers a (zero) gradient only for GreaterEqual.
    const small = tf.greaterEqual(EXPREL_SERIES_BELOW, tf.abs(z));
    const safe = tf.where(small, tf.onesLike(z), z);
    const series = tf.add(1, tf.mul(z, tf.add(0.5, tf.div(z, 6))));
    return tf.where(small, series, tf.div(tf.expm1(safe), safe));
  });
}

/**
 * The exponential-Euler update with a known Jacobian: x + dt·exprel(dt·J)·f. `J` may be a number
 * (a linear drift with constant coefficient) or a tensor. Used by the neuron models, whose
 * Jacobians are analytic (cheaper than differentiating the drift every step).
 */
export function expEulerUpdate(
  x: tf.Tensor,
  f: tf.Tensor | number,
  J: tf.Tensor | number,
  dt: number,
): tf.Tensor {
  return tf.tidy(() =>
    typeof J === 'number'
      ? tf.add(x, tf.mul(f, dt * exprelNumber(dt * J)))
      : tf.add(x, tf.mul(tf.mul(f, exprel(tf.mul(J, dt))), dt)),
  );
}

function checkState(x: unknown, where: string): tf.Tensor {
  if (typeof x === 'number') return tf.scalar(x, 'float32');
  if (!(x instanceof tf.Tensor)) {
    throw new ArgumentError(
      `${where}: the state x must be a float32 tensor (or a number), got ${describeValue(x)}`,
    );
  }
  if (x.dtype !== 'float32') {
    throw new ArgumentError(
      `${where}: the state x must be a floating-point tensor (float32), got ${x.dtype}; cast it with tf.cast(x, 'float32')`,
    );
  }
  return x;
}

function asTensorLike(v: unknown, x: tf.Tensor, what: string, where: string): tf.Tensor | number {
  if (typeof v === 'number' || v instanceof tf.Tensor) return v;
  throw new ArgumentError(
    `${where}: the ${what} must return a tensor (or a number) like x [${x.shape.join(',')}], got ${describeValue(v)}`,
  );
}

function broadcastShape(a: readonly number[], b: readonly number[], where: string): number[] {
  const n = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i] ?? 1;
    const db = b[b.length - n + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new ArgumentError(
        `${where}: the diffusion's shape [${b.join(',')}] does not broadcast with x [${a.join(',')}]`,
      );
    }
    out.push(da === 1 ? db : da);
  }
  return out;
}

/**
 * One exponential-Euler step of dx/dt = drift(x, ...args) (see the file header), with
 * `dt = environ.getDt()`. The Jacobian is `vectorGrad(drift)` at x; the new x is returned.
 */
export function expEulerStep<A extends unknown[]>(
  drift: (x: tf.Tensor, ...args: A) => tf.Tensor | number,
  x: tf.Tensor | number,
  ...args: A
): tf.Tensor;
/**
 * One exponential-Euler–Maruyama step of dx = drift(x, ...args)·dt + diffusion(x, ...args)·dW:
 * the drift step above plus diffusion(x, ...args)·√dt·N(0, 1) (from the default random stream).
 */
export function expEulerStep<A extends unknown[]>(
  drift: (x: tf.Tensor, ...args: A) => tf.Tensor | number,
  diffusion: (x: tf.Tensor, ...args: A) => tf.Tensor | number,
  x: tf.Tensor | number,
  ...args: A
): tf.Tensor;
export function expEulerStep(drift: unknown, ...rest: unknown[]): tf.Tensor {
  const where = 'expEulerStep';
  if (typeof drift !== 'function') {
    throw new ArgumentError(
      `${where}: drift must be a function (x, ...args) => dx/dt, got ${describeValue(drift)}`,
    );
  }
  let diffusion: ((x: tf.Tensor, ...a: unknown[]) => unknown) | null = null;
  if (typeof rest[0] === 'function') {
    diffusion = rest.shift() as (x: tf.Tensor, ...a: unknown[]) => unknown;
  }
  if (rest.length === 0) {
    throw new ArgumentError(
      `${where}: missing the state x: call expEulerStep(drift, ${diffusion ? 'diffusion, ' : ''}x, ...args)`,
    );
  }
  const dt = environ.getDt();
  const f = drift as (x: tf.Tensor, ...a: unknown[]) => unknown;
  const args = rest.slice(1);
  return tf.tidy(() => {
    const x = checkState(rest[0], where);
    // One drift evaluation gives f(x) and J (the VJP with ones); both stay on an enclosing tape.
    const [J, fx] = vectorGrad(
      (xx: tf.Tensor) => {
        const v = asTensorLike(f(xx, ...args), x, 'drift', where);
        return typeof v === 'number' ? tf.add(tf.mul(xx, 0), v) : v;
      },
      { returnValue: true },
    )(x) as [tf.Tensor, tf.Tensor];
    let next = expEulerUpdate(x, fx, J, dt);
    if (diffusion !== null) {
      const g = asTensorLike(diffusion(x, ...args), x, 'diffusion', where);
      const noiseShape = broadcastShape(x.shape, typeof g === 'number' ? [] : g.shape, where);
      next = tf.add(next, tf.mul(tf.mul(g, Math.sqrt(dt)), random.randn(...noiseShape)));
    }
    if (next.dtype !== 'float32') next = tf.cast(next, 'float32');
    return next;
  });
}
