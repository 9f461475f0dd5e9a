/**
 * The orthogonal initializer (Saxe et al. 2014; spec §9.3): for rows = shape[axis] and
 * cols = size / rows, a rows×cols matrix with orthonormal rows or columns (whichever is fewer),
 * from the QR of a Gaussian matrix, reshaped with `axis` moved back into place and × scale.
 */
import { tf } from '../backend/tf';
import { ArgumentError } from '../errors';
import { DEFAULT, draw, numel } from '../random';
import { checkNumber, finite } from '../random/params';
import {
  callableClass,
  floatDtype,
  formatSettings,
  toShape,
  type InitOptions,
  type Initializer,
  type Shape,
} from './Initializer';
import { orthonormalColumns } from './qr';

/** A (semi-)orthogonal weight × `scale` (default 1), orthogonal along `axis` (default −1). */
export const Orthogonal = callableClass(
  'Orthogonal',
  class implements Initializer {
    constructor(
      readonly scale = 1,
      readonly axis = -1,
    ) {
      checkNumber('Orthogonal', 'scale', scale, finite, 'a finite number');
      checkNumber('Orthogonal', 'axis', axis, Number.isInteger, 'an integer axis');
    }

    call(shape: Shape, options?: InitOptions): tf.Tensor {
      floatDtype(options, 'Orthogonal');
      const dims = toShape(shape, 'Orthogonal');
      if (dims.length < 2) {
        throw new ArgumentError(`Orthogonal: needs a shape of rank ≥ 2, got [${dims.join(', ')}]`);
      }
      const axis = this.axis < 0 ? this.axis + dims.length : this.axis;
      if (axis < 0 || axis >= dims.length) {
        throw new ArgumentError(
          `Orthogonal: axis ${this.axis} is out of range for shape [${dims.join(', ')}]`,
        );
      }
      if (numel(dims) === 0) return tf.zeros(dims);
      const rows = dims[axis];
      const cols = numel(dims) / rows;
      const [m, n] = rows >= cols ? [rows, cols] : [cols, rows];
      const scale = this.scale;
      const key = (options?.rng ?? DEFAULT).splitKey();
      const others = dims.filter((_, i) => i !== axis);
      const matrix = draw(
        'orthogonal',
        [rows, ...others],
        { scale, axis: this.axis },
        key,
        (gen) => {
          const gaussian = new Float64Array(m * n);
          for (let i = 0; i < m * n; i++) gaussian[i] = gen.nextNormal();
          const q = orthonormalColumns(gaussian, m, n);
          const out = new Float32Array(rows * cols);
          for (let r = 0; r < rows; r++) {
            for (let c = 0; c < cols; c++)
              out[r * cols + c] = scale * (rows >= cols ? q[c][r] : q[r][c]);
          }
          return out;
        },
      );
      if (axis === 0) return matrix;
      // Move axis 0 of [rows, ...others] back to position `axis`.
      const perm = dims.map((_, k) => (k === axis ? 0 : k < axis ? k + 1 : k));
      const out = tf.transpose(matrix, perm);
      matrix.dispose();
      return out;
    }

    toString(): string {
      return `Orthogonal(${formatSettings({ scale: this.scale, axis: this.axis })})`;
    }
  },
);
export type Orthogonal = InstanceType<typeof Orthogonal>;
