/** Orthogonal: QᵀQ = I (checked in float64 on the data), axis handling, scale, and the QR itself. */
import { beforeEach, describe, expect, test } from 'vitest';
import { tf } from '../../src/backend/tf';
import { ArgumentError } from '../../src/errors';
import * as init from '../../src/init';
import * as random from '../../src/random';
import { take } from '../random/stats';

beforeEach(() => random.seed(3));

/** max |G − s²·I| for the Gram matrix G of the columns (or rows) of a row-major r×c matrix. */
function gramError(
  data: Float64Array,
  r: number,
  c: number,
  of: 'columns' | 'rows',
  s = 1,
): number {
  const [n, len] = of === 'columns' ? [c, r] : [r, c];
  const vectors = Array.from({ length: n }, (_, v) =>
    Float64Array.from({ length: len }, (_, k) =>
      of === 'columns' ? data[k * c + v] : data[v * c + k],
    ),
  );
  let err = 0;
  for (let i = 0; i < n; i++) {
    for (let j = i; j < n; j++) {
      const a = vectors[i];
      const b = vectors[j];
      let dot = 0;
      for (let k = 0; k < len; k++) dot += a[k] * b[k];
      err = Math.max(err, Math.abs(dot - (i === j ? s * s : 0)));
    }
  }
  return err;
}

describe('Orthogonal', () => {
  test('[256, 512]: the 256 rows are orthonormal (W Wᵀ = I)', () => {
    const w = init.Orthogonal().call([256, 512]);
    expect(w.shape).toEqual([256, 512]);
    expect(gramError(take(w), 256, 512, 'rows')).toBeLessThan(1e-5);
  });

  test('[512, 256]: the 256 columns are orthonormal (Wᵀ W = I)', () => {
    expect(gramError(take(init.Orthogonal().call([512, 256])), 512, 256, 'columns')).toBeLessThan(
      1e-5,
    );
  });

  test('a conv kernel [3, 3, 4, 8] reshaped to [36, 8] has orthonormal columns; scale multiplies', () => {
    const w = init.Orthogonal(2).call([3, 3, 4, 8]);
    expect(w.shape).toEqual([3, 3, 4, 8]);
    expect(gramError(take(w), 36, 8, 'columns', 2)).toBeLessThan(1e-5);
  });

  test('axis 0: rows = shape[0]', () => {
    // shape [10, 4], axis 0 → a 10×4 matrix with orthonormal columns, not moved.
    expect(gramError(take(init.Orthogonal(1, 0).call([10, 4])), 10, 4, 'columns')).toBeLessThan(
      1e-6,
    );
    // shape [3, 5, 2], axis 1 → rows = 5, cols = 6: orthonormal rows of the [5, 6] matrix.
    const w = init.Orthogonal(1, 1).call([3, 5, 2]);
    const m = take(tf.tidy(() => tf.reshape(tf.transpose(w, [1, 0, 2]), [5, 6])));
    w.dispose();
    expect(gramError(m, 5, 6, 'rows')).toBeLessThan(1e-6);
  });

  test('square weights are orthogonal both ways and differ per seed', () => {
    const a = take(init.Orthogonal().call([16, 16]));
    expect(gramError(a, 16, 16, 'rows')).toBeLessThan(1e-6);
    expect(gramError(a, 16, 16, 'columns')).toBeLessThan(1e-6);
    expect(Array.from(take(init.Orthogonal().call([16, 16])))).not.toEqual(Array.from(a));
  });

  test('bad shapes and arguments are ArgumentErrors', () => {
    expect(() => init.Orthogonal().call([5])).toThrow(/rank ≥ 2/);
    expect(() => init.Orthogonal(1, 3).call([2, 2])).toThrow(/axis 3 is out of range/);
    expect(() => init.Orthogonal(NaN)).toThrow(ArgumentError);
    expect(String(init.Orthogonal())).toBe('Orthogonal(scale=1, axis=-1)');
  });

  test('orthonormalColumns gives Q·sign(diag R): the Q of a triangular matrix with positive diagonal is I', () => {
    const a = Float64Array.from([2, 1, 0, 3, 0, 0]); // 3×2, upper triangular, positive diagonal
    const q = init.orthonormalColumns(a, 3, 2);
    expect(Array.from(q[0]).map((v) => Math.round(v * 1e12) / 1e12 || 0)).toEqual([1, 0, 0]);
    expect(Array.from(q[1]).map((v) => Math.round(v * 1e12) / 1e12 || 0)).toEqual([0, 1, 0]);
  });
});
