/**
 * Variance scaling (spec §9.3): values with variance scale / n, where n is the fan-in, fan-out
 * or their mean, drawn from a truncated normal, a normal or a uniform distribution; and its named
 * presets KaimingNormal/Uniform (He), XavierNormal/Uniform (Glorot), LecunNormal/Uniform.
 */
import { tf } from '../backend/tf';
import { ArgumentError, describeValue } from '../errors';
import { DEFAULT, numel } from '../random';
import { checkNumber, positive } from '../random/params';
import { computeFans } from './fans';
import {
  callableClass,
  floatDtype,
  formatSettings,
  toShape,
  type InitOptions,
  type Initializer,
  type Shape,
} from './Initializer';

export const FAN_MODES = ['fan_in', 'fan_out', 'fan_avg'] as const;
export type FanMode = (typeof FAN_MODES)[number];
export const SCALING_DISTRIBUTIONS = ['truncated_normal', 'normal', 'uniform'] as const;
export type ScalingDistribution = (typeof SCALING_DISTRIBUTIONS)[number];

/** Which axes of the weight are its input and output (defaults −2 and −1). */
export interface FanAxes {
  inAxis?: number;
  outAxis?: number;
}

/** Standard deviation of a standard normal truncated to [−2, 2]. */
const TRUNCATED_STD = 0.87962566103423978;

function oneOf<T extends string>(
  where: string,
  name: string,
  value: unknown,
  allowed: readonly T[],
): T {
  if (!(allowed as readonly unknown[]).includes(value)) {
    throw new ArgumentError(
      `${where}: ${name} must be one of ${allowed.map((a) => `'${a}'`).join(', ')}, got ${describeValue(value)}`,
    );
  }
  return value as T;
}

/** Values of variance `scale / fan` (fan per `mode`) from `distribution`. */
export const VarianceScaling = callableClass(
  'VarianceScaling',
  class implements Initializer {
    readonly inAxis: number;
    readonly outAxis: number;
    constructor(
      readonly scale: number,
      readonly mode: FanMode,
      readonly distribution: ScalingDistribution,
      axes: FanAxes = {},
    ) {
      const where = this.constructor.name;
      checkNumber(where, 'scale', scale, positive, 'a finite number > 0');
      oneOf(where, 'mode', mode, FAN_MODES);
      oneOf(where, 'distribution', distribution, SCALING_DISTRIBUTIONS);
      this.inAxis = checkNumber(
        where,
        'inAxis',
        axes.inAxis ?? -2,
        Number.isInteger,
        'an integer axis',
      );
      this.outAxis = checkNumber(
        where,
        'outAxis',
        axes.outAxis ?? -1,
        Number.isInteger,
        'an integer axis',
      );
    }

    /** The variance of the values for a weight of this shape. */
    variance(shape: readonly number[]): number {
      const { fanIn, fanOut } = computeFans(shape, this.inAxis, this.outAxis);
      const fan =
        this.mode === 'fan_in' ? fanIn : this.mode === 'fan_out' ? fanOut : (fanIn + fanOut) / 2;
      return this.scale / Math.max(1, fan);
    }

    call(shape: Shape, options?: InitOptions): tf.Tensor {
      const where = this.constructor.name;
      floatDtype(options, where);
      const dims = toShape(shape, where);
      const variance = this.variance(dims);
      if (numel(dims) === 0) return tf.zeros(dims);
      const rng = options?.rng ?? DEFAULT;
      if (this.distribution === 'truncated_normal') {
        const std = Math.sqrt(variance) / TRUNCATED_STD;
        return rng.truncatedNormal(-2 * std, 2 * std, dims, 0, std);
      }
      if (this.distribution === 'normal') return rng.normal(0, Math.sqrt(variance), dims);
      const limit = Math.sqrt(3 * variance);
      return rng.uniform(-limit, limit, dims);
    }

    toString(): string {
      const settings: Record<string, unknown> = {
        scale: this.scale,
        mode: this.mode,
        distribution: this.distribution,
      };
      if (this.inAxis !== -2) settings.inAxis = this.inAxis;
      if (this.outAxis !== -1) settings.outAxis = this.outAxis;
      return `${this.constructor.name}(${formatSettings(settings)})`;
    }
  },
);
export type VarianceScaling = InstanceType<typeof VarianceScaling>;

/** He et al. 2015, truncated normal: scale 2, fan_in (the default weight init of Linear). */
export const KaimingNormal = callableClass(
  'KaimingNormal',
  class extends VarianceScaling {
    constructor(scale = 2, mode: FanMode = 'fan_in', axes: FanAxes = {}) {
      super(scale, mode, 'truncated_normal', axes);
    }
  },
);
export type KaimingNormal = InstanceType<typeof KaimingNormal>;

/** He et al. 2015, uniform: scale 2, fan_in. */
export const KaimingUniform = callableClass(
  'KaimingUniform',
  class extends VarianceScaling {
    constructor(scale = 2, mode: FanMode = 'fan_in', axes: FanAxes = {}) {
      super(scale, mode, 'uniform', axes);
    }
  },
);
export type KaimingUniform = InstanceType<typeof KaimingUniform>;

/** Glorot & Bengio 2010, truncated normal: scale 1, fan_avg. */
export const XavierNormal = callableClass(
  'XavierNormal',
  class extends VarianceScaling {
    constructor(scale = 1, mode: FanMode = 'fan_avg', axes: FanAxes = {}) {
      super(scale, mode, 'truncated_normal', axes);
    }
  },
);
export type XavierNormal = InstanceType<typeof XavierNormal>;

/** Glorot & Bengio 2010, uniform: scale 1, fan_avg. */
export const XavierUniform = callableClass(
  'XavierUniform',
  class extends VarianceScaling {
    constructor(scale = 1, mode: FanMode = 'fan_avg', axes: FanAxes = {}) {
      super(scale, mode, 'uniform', axes);
    }
  },
);
export type XavierUniform = InstanceType<typeof XavierUniform>;

/** LeCun et al. 1998, truncated normal: scale 1, fan_in. */
export const LecunNormal = callableClass(
  'LecunNormal',
  class extends VarianceScaling {
    constructor(scale = 1, mode: FanMode = 'fan_in', axes: FanAxes = {}) {
      super(scale, mode, 'truncated_normal', axes);
    }
  },
);
export type LecunNormal = InstanceType<typeof LecunNormal>;

/** LeCun et al. 1998, uniform: scale 1, fan_in. */
export const LecunUniform = callableClass(
  'LecunUniform',
  class extends VarianceScaling {
    constructor(scale = 1, mode: FanMode = 'fan_in', axes: FanAxes = {}) {
      super(scale, mode, 'uniform', axes);
    }
  },
);
export type LecunUniform = InstanceType<typeof LecunUniform>;
