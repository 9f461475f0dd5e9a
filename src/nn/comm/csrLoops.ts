/**
 * The CSR kernels as plain loops over typed arrays: the cpu backend runs them on the tensors' own
 * arrays (zero-copy), the wasm backend on heap views when the wasm module cannot be used, other
 * backends on read-back copies. Same semantics and the same float arithmetic as the wasm module
 * (csrWasmSource.ts): products and sums stored to Float32Arrays round like f32 operations
 * (`Math.fround` where a product would otherwise skip a rounding), accumulators are f64.
 * `x` holds float32 values or bool bytes; f(s) = 1 for bool input or `asEvent`, s otherwise.
 */

/** Spikes or inputs: float32 values, or bool bytes. */
export type XArray = Float32Array | Uint8Array;

/** Arguments shared by the three loops. */
export interface CSRArrays {
  indptr: Int32Array;
  indices: Int32Array;
  nPre: number;
  nPost: number;
}

/** out[b, j] = Σ_i f(x[b, i]) · W_ij over the rows with x[b, i] ≠ 0; `out` must be zeroed. */
export function csrEventInto(
  x: XArray,
  batch: number,
  csr: CSRArrays,
  w: Float32Array,
  homo: boolean,
  asEvent: boolean,
  out: Float32Array,
): void {
  const { indptr, indices, nPre, nPost } = csr;
  const unit = asEvent || x instanceof Uint8Array;
  for (let b = 0; b < batch; b++) {
    const xRow = b * nPre;
    const oRow = b * nPost;
    for (let i = 0; i < nPre; i++) {
      const s = x[xRow + i];
      if (s === 0) continue;
      const v = unit ? 1 : s;
      const end = indptr[i + 1];
      if (homo) {
        const a = Math.fround(v * w[0]);
        for (let k = indptr[i]; k < end; k++) out[oRow + indices[k]] += a;
      } else if (v === 1) {
        for (let k = indptr[i]; k < end; k++) out[oRow + indices[k]] += w[k];
      } else {
        for (let k = indptr[i]; k < end; k++) out[oRow + indices[k]] += Math.fround(v * w[k]);
      }
    }
  }
}

/** out[b, i] = Σ_{k ∈ row i} w_k · dy[b, indices[k]] (every row; f64 accumulation). */
export function csrTransposeInto(
  dy: Float32Array,
  batch: number,
  csr: CSRArrays,
  w: Float32Array,
  homo: boolean,
  out: Float32Array,
): void {
  const { indptr, indices, nPre, nPost } = csr;
  for (let b = 0; b < batch; b++) {
    const dRow = b * nPost;
    const oRow = b * nPre;
    for (let i = 0; i < nPre; i++) {
      const end = indptr[i + 1];
      let acc = 0;
      if (homo) {
        for (let k = indptr[i]; k < end; k++) acc += dy[dRow + indices[k]];
        acc = w[0] * acc;
      } else {
        for (let k = indptr[i]; k < end; k++) acc += w[k] * dy[dRow + indices[k]];
      }
      out[oRow + i] = acc;
    }
  }
}

/**
 * The weight gradient: out[k] = Σ_b f(x[b, row(k)]) · dy[b, indices[k]] (`out` of length nnz,
 * zeroed), or with `homo` the total over k in out[0] (f64 accumulation).
 */
export function csrWeightGradInto(
  x: XArray,
  batch: number,
  csr: CSRArrays,
  dy: Float32Array,
  homo: boolean,
  asEvent: boolean,
  out: Float32Array,
): void {
  const { indptr, indices, nPre, nPost } = csr;
  const unit = asEvent || x instanceof Uint8Array;
  let acc = 0;
  for (let b = 0; b < batch; b++) {
    const xRow = b * nPre;
    const dRow = b * nPost;
    for (let i = 0; i < nPre; i++) {
      const s = x[xRow + i];
      if (s === 0) continue;
      const v = unit ? 1 : s;
      const end = indptr[i + 1];
      if (homo) {
        let rs = 0;
        for (let k = indptr[i]; k < end; k++) rs += dy[dRow + indices[k]];
        acc += v * rs;
      } else if (v === 1) {
        for (let k = indptr[i]; k < end; k++) out[k] += dy[dRow + indices[k]];
      } else {
        for (let k = indptr[i]; k < end; k++) out[k] += Math.fround(v * dy[dRow + indices[k]]);
      }
    }
  }
  if (homo) out[0] = acc;
}
