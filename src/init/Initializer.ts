/**
 * The initializer protocol (spec §9.3): an `Initializer` is an object with
 * `call(shape, { rng?, dtype? }) → tf.Tensor` and a readable `toString()`. The initializer classes
 * are exported as callable classes, so both `init.Normal(-55, 2)` and `new init.Normal(-55, 2)`
 * make the same instance, `x instanceof init.Normal` works, and `init.Normal` is also the type.
 */
import type { tf } from '../backend/tf';
import { ArgumentError, describeValue } from '../errors';
import { toShape as sizeToShape, type RandomState } from '../random';

/** The shape to fill: a number for a vector, or the dimensions. */
export type Shape = number | readonly number[];

export interface InitOptions {
  /** Draw from this RandomState instead of the default one. */
  rng?: RandomState;
  /** The dtype of the result (float32 unless an initializer says otherwise). */
  dtype?: tf.DataType;
}

/** Makes the initial value of a parameter or state from its shape. */
export interface Initializer {
  /** A new tensor of `shape` (the caller owns it). */
  call(shape: Shape, options?: InitOptions): tf.Tensor;
  /** `Normal(mean=0, scale=1)`: the class and its settings. */
  toString(): string;
}

/** The function form of an initializer: `(shape) => tensor`. */
export type InitFunction = (shape: number[]) => tf.Tensor;

/** True if `x` is an Initializer (an object with a `call` method). */
export function isInitializer(x: unknown): x is Initializer {
  return (
    typeof x === 'object' && x !== null && typeof (x as { call?: unknown }).call === 'function'
  );
}

/** Check a shape argument and return it as a fresh array of non-negative integers. */
export function toShape(shape: Shape, where: string): number[] {
  return sizeToShape(shape, where, 'shape');
}

/** Only float32 for initializers that draw random numbers. */
export function floatDtype(options: InitOptions | undefined, where: string): 'float32' {
  const dtype = options?.dtype ?? 'float32';
  if (dtype !== 'float32') {
    throw new ArgumentError(
      `${where}: random initializers make float32 values, got dtype ${describeValue(dtype)}`,
    );
  }
  return dtype;
}

/** Format constructor settings for `toString()`: `name=value, …`. */
export function formatSettings(settings: Record<string, unknown>): string {
  return Object.entries(settings)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? `'${v}'` : String(v)}`)
    .join(', ');
}

type Constructor = abstract new (...args: never[]) => object;
type ConcreteConstructor = new (...args: never[]) => object;

/** A class that can also be called without `new`: `Normal(0, 1)` ≡ `new Normal(0, 1)`. */
export type CallableClass<C extends Constructor> = C &
  ((...args: ConstructorParameters<C>) => InstanceType<C>);

/**
 * Name `cls` and make it callable without `new` (a Proxy; `instanceof`, statics and subclassing
 * still work). The explicit name keeps `constructor.name` right whatever bundlers do to class names.
 */
export function callableClass<C extends ConcreteConstructor>(
  name: string,
  cls: C,
): CallableClass<C> {
  Object.defineProperty(cls, 'name', { value: name });
  return new Proxy(cls, {
    apply: (target, _self, args: unknown[]) => Reflect.construct(target, args),
  }) as CallableClass<C>;
}
