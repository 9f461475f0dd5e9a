/**
 * Deterministic initializers: `ZeroInit` (zeros; the default bias), `Constant(value)` and
 * `Identity(value)` (value on the diagonal of a 2-D weight). They honour `options.dtype`.
 */
import { tf } from '../backend/tf';
import { ArgumentError, describeValue } from '../errors';
import { tryBroadcast } from '../random/shape';
import {
  callableClass,
  toShape,
  type InitOptions,
  type Initializer,
  type Shape,
} from './Initializer';

/** Zeros (`ZeroInit()`): the default initializer of biases and synaptic conductances. */
export const ZeroInit = callableClass(
  'ZeroInit',
  class implements Initializer {
    call(shape: Shape, options?: InitOptions): tf.Tensor {
      return tf.zeros(toShape(shape, 'ZeroInit'), options?.dtype ?? 'float32');
    }
    toString(): string {
      return 'ZeroInit()';
    }
  },
);
export type ZeroInit = InstanceType<typeof ZeroInit>;

/**
 * Filled with `value` (default 1). A tensor value is broadcast to the shape; the initializer keeps
 * a reference to it, so keep it alive while the initializer is in use.
 */
export const Constant = callableClass(
  'Constant',
  class implements Initializer {
    readonly value: number | tf.Tensor;
    constructor(value: number | tf.Tensor = 1) {
      if (typeof value !== 'number' && !(value instanceof tf.Tensor)) {
        throw new ArgumentError(
          `Constant: value must be a number or a tensor, got ${describeValue(value)}`,
        );
      }
      this.value = value;
    }
    call(shape: Shape, options?: InitOptions): tf.Tensor {
      const dims = toShape(shape, 'Constant');
      const dtype = options?.dtype ?? 'float32';
      const value = this.value;
      if (typeof value === 'number') return tf.fill(dims, value, dtype);
      const b = tryBroadcast(value.shape, dims);
      if (b === null || b.join(',') !== dims.join(',')) {
        throw new ArgumentError(
          `Constant: a value of shape [${value.shape.join(', ')}] does not broadcast to shape [${dims.join(', ')}]`,
        );
      }
      return tf.tidy(() => tf.broadcastTo(tf.cast(value, dtype), dims));
    }
    toString(): string {
      return `Constant(value=${typeof this.value === 'number' ? this.value : `Tensor[${this.value.shape.join(',')}]`})`;
    }
  },
);
export type Constant = InstanceType<typeof Constant>;

/** `value` on the diagonal of a 2-D (possibly rectangular) weight, zeros elsewhere. */
export const Identity = callableClass(
  'Identity',
  class implements Initializer {
    constructor(readonly value = 1) {
      if (typeof value !== 'number' || !Number.isFinite(value)) {
        throw new ArgumentError(
          `Identity: value must be a finite number, got ${describeValue(value)}`,
        );
      }
    }
    call(shape: Shape, options?: InitOptions): tf.Tensor {
      const dims = toShape(shape, 'Identity');
      if (dims.length !== 2) {
        throw new ArgumentError(`Identity: needs a 2-D shape, got [${dims.join(', ')}]`);
      }
      const dtype = (options?.dtype ?? 'float32') as 'float32' | 'int32';
      if (this.value === 1) return tf.eye(dims[0], dims[1], undefined, dtype);
      const value = this.value;
      return tf.tidy(() =>
        tf.mul(tf.eye(dims[0], dims[1], undefined, dtype), tf.scalar(value, dtype)),
      );
    }
    toString(): string {
      return `Identity(value=${this.value})`;
    }
  },
);
export type Identity = InstanceType<typeof Identity>;
