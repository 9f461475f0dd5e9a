/**
 * `Surrogate`, the base of every spike function (spec §7): `call(x)` is the Heaviside step
 * (H(0) = 1) through the `BstSpike` kernel, whose gradient is dy·g(x) with g = `surrogateGrad`.
 * A surrogate is a small immutable value: its class name plus numeric parameters, validated on
 * construction, printed like `ReluGrad(alpha=0.3, width=1)` and compared by class and params.
 *
 * Custom surrogates subclass `Surrogate`, pass their parameters to `super`, and implement
 * `computeGrad(x)` (and optionally `computeFun(x)`) with differentiable tf ops on a float32 x.
 * The class name is the surrogate's name in the IR, so it must be unique.
 */
import { tf } from '../backend/tf';
import { ArgumentError, NotSupportedError } from '../errors';
import { runSpike } from './kernels';
import { rememberSurrogate, surrogateKey } from './registry';

/** What values a surrogate parameter accepts. */
export type ParamRule = 'finite' | 'positive' | 'nonNegative' | 'positiveInteger';

/** One declared parameter: its name (as printed), value, and rule. */
export type ParamSpec = readonly [name: string, value: number, rule: ParamRule];

const RULE_TEXT: Record<ParamRule, string> = {
  finite: 'a finite number',
  positive: 'a finite number > 0',
  nonNegative: 'a finite number >= 0',
  positiveInteger: 'an integer >= 1',
};

function accepts(rule: ParamRule, v: number): boolean {
  if (typeof v !== 'number' || !Number.isFinite(v)) return false;
  switch (rule) {
    case 'finite':
      return true;
    case 'positive':
      return v > 0;
    case 'nonNegative':
      return v >= 0;
    case 'positiveInteger':
      return Number.isInteger(v) && v >= 1;
  }
}

/** Convert at the boundary: JS numbers/arrays become tensors, anything else is cast to float32. */
function asFloat(x: tf.Tensor | tf.TensorLike): tf.Tensor {
  const t = x instanceof tf.Tensor ? x : tf.tensor(x as tf.TensorLike);
  return t.dtype === 'float32' ? t : tf.cast(t, 'float32');
}

/** A spike function: Heaviside forward, surrogate derivative backward. */
export abstract class Surrogate {
  /** Parameter names, in declaration order (as printed and as in the BstSpike attrs). */
  readonly paramNames: readonly string[];
  /** Parameter values, in the order of `paramNames`. */
  readonly params: readonly number[];
  /** Lookup key of (name, params) in the surrogate registry. */
  readonly registryKey: string;

  /** Subclasses pass their parameters; each is checked against its rule (ArgumentError). */
  protected constructor(params: readonly ParamSpec[]) {
    const cls = new.target.name;
    for (const [name, value, rule] of params) {
      if (!accepts(rule, value)) {
        throw new ArgumentError(
          `${cls}: parameter ${name} must be ${RULE_TEXT[rule]}, got ${String(value)}`,
        );
      }
    }
    this.paramNames = Object.freeze(params.map((p) => p[0]));
    this.params = Object.freeze(params.map((p) => p[1]));
    this.registryKey = surrogateKey(cls, this.params);
  }

  /** The surrogate's name: its class name (also the `surrogate` attr of BstSpike). */
  get name(): string {
    return this.constructor.name;
  }

  /**
   * The spike: 1 where x ≥ 0 (including −0), else 0 (NaN gives 0); float32, x's shape. Its
   * gradient is dy·g(x). Inputs of other dtypes are cast to float32; JS arrays are converted.
   */
  call(x: tf.Tensor | tf.TensorLike): tf.Tensor {
    rememberSurrogate(this);
    return runSpike(x, this.name, this.params);
  }

  /** g(x), the surrogate derivative used in the backward pass, as a float32 tensor. */
  surrogateGrad(x: tf.Tensor | tf.TensorLike): tf.Tensor {
    return tf.tidy(() => this.computeGrad(asFloat(x)));
  }

  /** The smooth function whose derivative g is, where one is defined (`hasSurrogateFun`). */
  surrogateFun(x: tf.Tensor | tf.TensorLike): tf.Tensor {
    const fun = this.computeFun;
    if (fun === undefined) {
      throw new NotSupportedError(`${this.name} defines no surrogateFun; only surrogateGrad`);
    }
    return tf.tidy(() => fun.call(this, asFloat(x)));
  }

  /** True if `surrogateFun` is defined for this surrogate. */
  get hasSurrogateFun(): boolean {
    return this.computeFun !== undefined;
  }

  /** g(x) on a float32 tensor, with differentiable tf ops (the caller disposes intermediates). */
  protected abstract computeGrad(x: tf.Tensor): tf.Tensor;

  /** The smooth primitive on a float32 tensor; left undefined where the spec defines none. */
  protected computeFun?(x: tf.Tensor): tf.Tensor;

  /** `ReluGrad(alpha=0.3, width=1)` */
  toString(): string {
    const args = this.paramNames.map((n, i) => `${n}=${String(this.params[i])}`);
    return `${this.name}(${args.join(', ')})`;
  }

  /** A string identifying this surrogate by class and parameters (equal surrogates share it). */
  get identifier(): string {
    return this.toString();
  }

  /** True for a surrogate of the same class with the same parameters. */
  equals(other: unknown): boolean {
    return (
      other instanceof Surrogate &&
      other.constructor === this.constructor &&
      other.params.length === this.params.length &&
      other.params.every((p, i) => p === this.params[i])
    );
  }
}
