/**
 * Householder QR in float64 on the host, for the orthogonal initializer: the thin Q of an m×n
 * matrix (m ≥ n) with its columns signed so that R has a positive diagonal, which makes Q unique
 * and, for a Gaussian input, Haar-distributed. O(m·n²); columns are stored contiguously.
 */

/**
 * The n orthonormal columns of Q·sign(diag R) for the row-major m×n matrix `a` (m ≥ n), each a
 * Float64Array of length m.
 */
export function orthonormalColumns(a: Float64Array, m: number, n: number): Float64Array[] {
  if (m < n) throw new Error(`orthonormalColumns: needs m ≥ n, got ${m}×${n}`);
  const cols: Float64Array[] = [];
  for (let j = 0; j < n; j++) {
    const c = new Float64Array(m);
    for (let i = 0; i < m; i++) c[i] = a[i * n + j];
    cols.push(c);
  }
  const reflectors: (Float64Array | null)[] = [];
  const signs = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    const x = cols[k];
    let norm = 0;
    for (let i = k; i < m; i++) norm += x[i] * x[i];
    norm = Math.sqrt(norm);
    if (norm === 0) {
      reflectors.push(null);
      signs[k] = 1;
      continue;
    }
    // R[k][k] = alpha; choosing its sign opposite to x[k] avoids cancellation in v.
    const alpha = x[k] > 0 ? -norm : norm;
    const v = new Float64Array(m);
    for (let i = k; i < m; i++) v[i] = x[i];
    v[k] -= alpha;
    let vNorm = 0;
    for (let i = k; i < m; i++) vNorm += v[i] * v[i];
    vNorm = Math.sqrt(vNorm);
    for (let i = k; i < m; i++) v[i] /= vNorm;
    for (let j = k; j < n; j++) reflect(v, cols[j], k, m);
    reflectors.push(v);
    signs[k] = alpha > 0 ? 1 : -1;
  }
  // Q = H_0 · H_1 ⋯ H_{n−1} applied to the first n columns of the identity. Applying the
  // reflectors last to first, columns j < k are still e_j (zero on rows ≥ k) when H_k comes,
  // so H_k only touches columns k … n−1.
  const q: Float64Array[] = [];
  for (let j = 0; j < n; j++) {
    const e = new Float64Array(m);
    e[j] = 1;
    q.push(e);
  }
  for (let k = n - 1; k >= 0; k--) {
    const v = reflectors[k];
    if (v === null) continue;
    for (let j = k; j < n; j++) reflect(v, q[j], k, m);
  }
  for (let j = 0; j < n; j++) {
    if (signs[j] < 0) for (let i = 0; i < m; i++) q[j][i] = -q[j][i];
  }
  return q;
}

/** x ← (I − 2vvᵀ)x on rows k … m−1. */
function reflect(v: Float64Array, x: Float64Array, k: number, m: number): void {
  let d = 0;
  for (let i = k; i < m; i++) d += v[i] * x[i];
  d *= 2;
  for (let i = k; i < m; i++) x[i] -= d * v[i];
}
