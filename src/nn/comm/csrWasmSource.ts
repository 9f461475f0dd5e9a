/**
 * The WebAssembly text of the CSR kernels (research/tfjs.md §6.1). The module imports tfjs-wasm's
 * own `WebAssembly.Memory` as `env.memory`, so every pointer argument is a tensor's byte offset
 * in the tfjs heap (`dataIdMap.get(dataId).memoryOffset`) and the kernels read their inputs and
 * write their outputs in place: no copy in or out. Exports (all arguments i32; `x` holds float32
 * values, or bytes when `xBool`; `homo` means one scalar weight at `w` instead of nnz weights):
 *
 * - `csr_event(x, xBool, B, nPre, indptr, indices, w, homo, out, nPost, asEvent)`:
 *   out[b, j] = Σ_i f(x[b, i]) · W_ij, visiting only the rows with x[b, i] ≠ 0 (zero rows are
 *   skipped 4 floats / 16 bytes at a time with SIMD); f(s) = 1 for bool input or `asEvent`, s
 *   otherwise. The output is zeroed first (memory.fill).
 * - `csr_transpose(dy, B, nPre, indptr, indices, w, homo, out, nPost)`:
 *   out[b, i] = Σ_{k ∈ row i} w_k · dy[b, indices[k]], accumulated in f64.
 * - `csr_weight_grad(x, xBool, B, nPre, indptr, indices, dy, nPost, out, homo, asEvent)`:
 *   out[k] = Σ_b f(x[b, row(k)]) · dy[b, indices[k]] (nnz values, zeroed first), or with `homo`
 *   the scalar Σ_k of those, accumulated in f64.
 *
 * The arithmetic (f32 products and sums where the JS loops in csrLoops.ts store to Float32Arrays,
 * f64 where they accumulate in numbers) is chosen so both give bit-identical results.
 * `csrWasmBinary.ts` holds this text compiled by wabt 1.0.39 (features: simd, bulk memory); the
 * test test/nn/comm.wasm.test.ts recompiles it and fails if the two differ.
 */
import { WAT_NEXT_F32, WAT_NEXT_U8 } from '../../backend/watNonzero';

export const CSR_WAT = String.raw`(module
  (import "env" "memory" (memory 1))

${WAT_NEXT_F32}
${WAT_NEXT_U8}
  (func $next_active (param $p i32) (param $xBool i32) (param $i i32) (param $n i32) (result i32)
    (if (result i32) (local.get $xBool)
      (then (call $next_u8 (local.get $p) (local.get $i) (local.get $n)))
      (else (call $next_f32 (local.get $p) (local.get $i) (local.get $n)))))

  ;; The factor of an active row: 1 for events, else the float value.
  (func $row_factor (param $p i32) (param $xBool i32) (param $asEvent i32) (param $i i32) (result f32)
    (if (result f32) (i32.or (local.get $xBool) (local.get $asEvent))
      (then (f32.const 1))
      (else (f32.load (i32.add (local.get $p) (i32.shl (local.get $i) (i32.const 2)))))))

  (func (export "csr_event")
    (param $x i32) (param $xBool i32) (param $B i32) (param $nPre i32)
    (param $indptr i32) (param $indices i32) (param $w i32) (param $homo i32)
    (param $out i32) (param $nPost i32) (param $asEvent i32)
    (local $b i32) (local $row i32) (local $orow i32) (local $i i32) (local $v f32) (local $a f32)
    (local $q i32) (local $qend i32) (local $wp i32) (local $p i32) (local $xStride i32)
    (memory.fill (local.get $out) (i32.const 0)
      (i32.shl (i32.mul (local.get $B) (local.get $nPost)) (i32.const 2)))
    (local.set $xStride (i32.mul (local.get $nPre)
      (select (i32.const 1) (i32.const 4) (local.get $xBool))))
    (block $bdone
      (loop $bloop
        (br_if $bdone (i32.ge_u (local.get $b) (local.get $B)))
        (local.set $row (i32.add (local.get $x) (i32.mul (local.get $b) (local.get $xStride))))
        (local.set $orow (i32.add (local.get $out)
          (i32.shl (i32.mul (local.get $b) (local.get $nPost)) (i32.const 2))))
        (local.set $i (i32.const 0))
        (block $idone
          (loop $iloop
            (local.set $i (call $next_active (local.get $row) (local.get $xBool) (local.get $i) (local.get $nPre)))
            (br_if $idone (i32.ge_u (local.get $i) (local.get $nPre)))
            (local.set $v (call $row_factor (local.get $row) (local.get $xBool) (local.get $asEvent) (local.get $i)))
            (local.set $p (i32.add (local.get $indptr) (i32.shl (local.get $i) (i32.const 2))))
            (local.set $q (i32.add (local.get $indices) (i32.shl (i32.load (local.get $p)) (i32.const 2))))
            (local.set $qend (i32.add (local.get $indices) (i32.shl (i32.load offset=4 (local.get $p)) (i32.const 2))))
            (if (local.get $homo)
              (then
                (local.set $a (f32.mul (local.get $v) (f32.load (local.get $w))))
                (block $d (loop $l
                  (br_if $d (i32.ge_u (local.get $q) (local.get $qend)))
                  (local.set $p (i32.add (local.get $orow) (i32.shl (i32.load (local.get $q)) (i32.const 2))))
                  (f32.store (local.get $p) (f32.add (f32.load (local.get $p)) (local.get $a)))
                  (local.set $q (i32.add (local.get $q) (i32.const 4)))
                  (br $l))))
              (else
                (local.set $wp (i32.add (local.get $w) (i32.sub (local.get $q) (local.get $indices))))
                (if (f32.eq (local.get $v) (f32.const 1))
                  (then
                    (block $d (loop $l
                      (br_if $d (i32.ge_u (local.get $q) (local.get $qend)))
                      (local.set $p (i32.add (local.get $orow) (i32.shl (i32.load (local.get $q)) (i32.const 2))))
                      (f32.store (local.get $p) (f32.add (f32.load (local.get $p)) (f32.load (local.get $wp))))
                      (local.set $q (i32.add (local.get $q) (i32.const 4)))
                      (local.set $wp (i32.add (local.get $wp) (i32.const 4)))
                      (br $l))))
                  (else
                    (block $d (loop $l
                      (br_if $d (i32.ge_u (local.get $q) (local.get $qend)))
                      (local.set $p (i32.add (local.get $orow) (i32.shl (i32.load (local.get $q)) (i32.const 2))))
                      (f32.store (local.get $p) (f32.add (f32.load (local.get $p))
                        (f32.mul (local.get $v) (f32.load (local.get $wp)))))
                      (local.set $q (i32.add (local.get $q) (i32.const 4)))
                      (local.set $wp (i32.add (local.get $wp) (i32.const 4)))
                      (br $l)))))))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $iloop)))
        (local.set $b (i32.add (local.get $b) (i32.const 1)))
        (br $bloop))))

  (func (export "csr_transpose")
    (param $dy i32) (param $B i32) (param $nPre i32) (param $indptr i32) (param $indices i32)
    (param $w i32) (param $homo i32) (param $out i32) (param $nPost i32)
    (local $b i32) (local $drow i32) (local $o i32) (local $i i32) (local $acc f64)
    (local $q i32) (local $qend i32) (local $wp i32) (local $p i32)
    (block $bdone
      (loop $bloop
        (br_if $bdone (i32.ge_u (local.get $b) (local.get $B)))
        (local.set $drow (i32.add (local.get $dy)
          (i32.shl (i32.mul (local.get $b) (local.get $nPost)) (i32.const 2))))
        (local.set $i (i32.const 0))
        (block $idone
          (loop $iloop
            (br_if $idone (i32.ge_u (local.get $i) (local.get $nPre)))
            (local.set $p (i32.add (local.get $indptr) (i32.shl (local.get $i) (i32.const 2))))
            (local.set $q (i32.add (local.get $indices) (i32.shl (i32.load (local.get $p)) (i32.const 2))))
            (local.set $qend (i32.add (local.get $indices) (i32.shl (i32.load offset=4 (local.get $p)) (i32.const 2))))
            (local.set $acc (f64.const 0))
            (if (local.get $homo)
              (then
                (block $d (loop $l
                  (br_if $d (i32.ge_u (local.get $q) (local.get $qend)))
                  (local.set $acc (f64.add (local.get $acc) (f64.promote_f32 (f32.load
                    (i32.add (local.get $drow) (i32.shl (i32.load (local.get $q)) (i32.const 2)))))))
                  (local.set $q (i32.add (local.get $q) (i32.const 4)))
                  (br $l)))
                (local.set $acc (f64.mul (f64.promote_f32 (f32.load (local.get $w))) (local.get $acc))))
              (else
                (local.set $wp (i32.add (local.get $w) (i32.sub (local.get $q) (local.get $indices))))
                (block $d (loop $l
                  (br_if $d (i32.ge_u (local.get $q) (local.get $qend)))
                  (local.set $acc (f64.add (local.get $acc) (f64.mul
                    (f64.promote_f32 (f32.load (local.get $wp)))
                    (f64.promote_f32 (f32.load
                      (i32.add (local.get $drow) (i32.shl (i32.load (local.get $q)) (i32.const 2))))))))
                  (local.set $q (i32.add (local.get $q) (i32.const 4)))
                  (local.set $wp (i32.add (local.get $wp) (i32.const 4)))
                  (br $l)))))
            (f32.store (local.get $out) (f32.demote_f64 (local.get $acc)))
            (local.set $out (i32.add (local.get $out) (i32.const 4)))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $iloop)))
        (local.set $b (i32.add (local.get $b) (i32.const 1)))
        (br $bloop))))

  (func (export "csr_weight_grad")
    (param $x i32) (param $xBool i32) (param $B i32) (param $nPre i32)
    (param $indptr i32) (param $indices i32) (param $dy i32) (param $nPost i32)
    (param $out i32) (param $homo i32) (param $asEvent i32)
    (local $b i32) (local $row i32) (local $drow i32) (local $i i32) (local $v f32)
    (local $q i32) (local $qend i32) (local $op i32) (local $p i32) (local $acc f64)
    (local $rs f64) (local $xStride i32) (local $g f32)
    (if (i32.eqz (local.get $homo))
      (then (memory.fill (local.get $out) (i32.const 0)
        (i32.shl (i32.load (i32.add (local.get $indptr) (i32.shl (local.get $nPre) (i32.const 2))))
          (i32.const 2)))))
    (local.set $xStride (i32.mul (local.get $nPre)
      (select (i32.const 1) (i32.const 4) (local.get $xBool))))
    (block $bdone
      (loop $bloop
        (br_if $bdone (i32.ge_u (local.get $b) (local.get $B)))
        (local.set $row (i32.add (local.get $x) (i32.mul (local.get $b) (local.get $xStride))))
        (local.set $drow (i32.add (local.get $dy)
          (i32.shl (i32.mul (local.get $b) (local.get $nPost)) (i32.const 2))))
        (local.set $i (i32.const 0))
        (block $idone
          (loop $iloop
            (local.set $i (call $next_active (local.get $row) (local.get $xBool) (local.get $i) (local.get $nPre)))
            (br_if $idone (i32.ge_u (local.get $i) (local.get $nPre)))
            (local.set $v (call $row_factor (local.get $row) (local.get $xBool) (local.get $asEvent) (local.get $i)))
            (local.set $p (i32.add (local.get $indptr) (i32.shl (local.get $i) (i32.const 2))))
            (local.set $q (i32.add (local.get $indices) (i32.shl (i32.load (local.get $p)) (i32.const 2))))
            (local.set $qend (i32.add (local.get $indices) (i32.shl (i32.load offset=4 (local.get $p)) (i32.const 2))))
            (if (local.get $homo)
              (then
                (local.set $rs (f64.const 0))
                (block $d (loop $l
                  (br_if $d (i32.ge_u (local.get $q) (local.get $qend)))
                  (local.set $rs (f64.add (local.get $rs) (f64.promote_f32 (f32.load
                    (i32.add (local.get $drow) (i32.shl (i32.load (local.get $q)) (i32.const 2)))))))
                  (local.set $q (i32.add (local.get $q) (i32.const 4)))
                  (br $l)))
                (local.set $acc (f64.add (local.get $acc)
                  (f64.mul (f64.promote_f32 (local.get $v)) (local.get $rs)))))
              (else
                (local.set $op (i32.add (local.get $out) (i32.sub (local.get $q) (local.get $indices))))
                (block $d (loop $l
                  (br_if $d (i32.ge_u (local.get $q) (local.get $qend)))
                  (local.set $g (f32.load
                    (i32.add (local.get $drow) (i32.shl (i32.load (local.get $q)) (i32.const 2)))))
                  (if (f32.ne (local.get $v) (f32.const 1))
                    (then (local.set $g (f32.mul (local.get $v) (local.get $g)))))
                  (f32.store (local.get $op) (f32.add (f32.load (local.get $op)) (local.get $g)))
                  (local.set $q (i32.add (local.get $q) (i32.const 4)))
                  (local.set $op (i32.add (local.get $op) (i32.const 4)))
                  (br $l)))))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $iloop)))
        (local.set $b (i32.add (local.get $b) (i32.const 1)))
        (br $bloop)))
    (if (local.get $homo)
      (then (f32.store (local.get $out) (f32.demote_f64 (local.get $acc))))))
)
`;
