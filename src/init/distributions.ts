/**
 * Random initializers with explicit parameters: `Normal(mean, scale)`, `Uniform(minVal, maxVal)`
 * and `TruncatedNormal(loc, scale, lower, upper)` with absolute bounds. They draw from
 * `options.rng`, else the default RandomState (one key per call).
 */
import type { tf } from '../backend/tf';
import { DEFAULT } from '../random';
import { checkNumber, finite, nonNegative, positive } from '../random/params';
import {
  callableClass,
  floatDtype,
  formatSettings,
  toShape,
  type InitOptions,
  type Initializer,
  type Shape,
} from './Initializer';

/** Normal values with mean `mean` (default 0) and standard deviation `scale` ≥ 0 (default 1). */
export const Normal = callableClass(
  'Normal',
  class implements Initializer {
    constructor(
      readonly mean = 0,
      readonly scale = 1,
    ) {
      checkNumber('Normal', 'mean', mean, finite, 'a finite number');
      checkNumber('Normal', 'scale', scale, nonNegative, 'a finite number ≥ 0');
    }
    call(shape: Shape, options?: InitOptions): tf.Tensor {
      floatDtype(options, 'Normal');
      return (options?.rng ?? DEFAULT).normal(this.mean, this.scale, toShape(shape, 'Normal'));
    }
    toString(): string {
      return `Normal(${formatSettings({ mean: this.mean, scale: this.scale })})`;
    }
  },
);
export type Normal = InstanceType<typeof Normal>;

/** Uniform values on [minVal, maxVal) (default [0, 1)). */
export const Uniform = callableClass(
  'Uniform',
  class implements Initializer {
    constructor(
      readonly minVal = 0,
      readonly maxVal = 1,
    ) {
      checkNumber('Uniform', 'minVal', minVal, finite, 'a finite number');
      checkNumber(
        'Uniform',
        'maxVal',
        maxVal,
        (v) => Number.isFinite(v) && v >= minVal,
        `a finite number ≥ minVal (${minVal})`,
      );
    }
    call(shape: Shape, options?: InitOptions): tf.Tensor {
      floatDtype(options, 'Uniform');
      return (options?.rng ?? DEFAULT).uniform(this.minVal, this.maxVal, toShape(shape, 'Uniform'));
    }
    toString(): string {
      return `Uniform(${formatSettings({ minVal: this.minVal, maxVal: this.maxVal })})`;
    }
  },
);
export type Uniform = InstanceType<typeof Uniform>;

/**
 * Normal(loc, scale) restricted to the absolute window [lower, upper] (defaults 0, 1, −2, 2):
 * values never leave [lower, upper] whatever loc and scale are.
 */
export const TruncatedNormal = callableClass(
  'TruncatedNormal',
  class implements Initializer {
    constructor(
      readonly loc = 0,
      readonly scale = 1,
      readonly lower = -2,
      readonly upper = 2,
    ) {
      checkNumber('TruncatedNormal', 'loc', loc, finite, 'a finite number');
      checkNumber('TruncatedNormal', 'scale', scale, positive, 'a finite number > 0');
      checkNumber('TruncatedNormal', 'lower', lower, (l) => l < Infinity, 'a number < +Infinity');
      checkNumber(
        'TruncatedNormal',
        'upper',
        upper,
        (u) => u > lower,
        `a number > lower (${lower})`,
      );
    }
    call(shape: Shape, options?: InitOptions): tf.Tensor {
      floatDtype(options, 'TruncatedNormal');
      const dims = toShape(shape, 'TruncatedNormal');
      return (options?.rng ?? DEFAULT).truncatedNormal(
        this.lower,
        this.upper,
        dims,
        this.loc,
        this.scale,
      );
    }
    toString(): string {
      return `TruncatedNormal(${formatSettings({ loc: this.loc, scale: this.scale, lower: this.lower, upper: this.upper })})`;
    }
  },
);
export type TruncatedNormal = InstanceType<typeof TruncatedNormal>;
