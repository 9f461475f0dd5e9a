/**
 * The WebAssembly text of the nonzero scan used to record spike events (heapScan.ts). The module
 * imports tfjs-wasm's own memory as `env.memory`; pointers are tensors' byte offsets in it.
 *
 * - `nonzero(p, kind, n, out) → count`: writes the indices i < n whose element at `p` is
 *   non-zero into the int32 array at `out`, in increasing order, and returns their number.
 *   kind 0: float32 (compared as floats: −0 is zero, NaN is not), 1: bytes (bool), 2: int32.
 *   Zero runs are skipped 16 bytes at a time with SIMD.
 *
 * `heapScanBinary.ts` holds this text compiled by wabt 1.0.39 (simd); the test
 * test/compile/heapScan.test.ts recompiles it and fails if the two differ.
 */
import { WAT_NEXT_F32, WAT_NEXT_U8 } from '../backend/watNonzero';

export const SCAN_WAT = String.raw`(module
  (import "env" "memory" (memory 1))

${WAT_NEXT_F32}
  ;; The first index >= i whose int32 value is non-zero, or n.
  (func $next_i32 (param $p i32) (param $i i32) (param $n i32) (result i32)
    (block $tail
      (loop $vec
        (br_if $tail (i32.gt_u (i32.add (local.get $i) (i32.const 4)) (local.get $n)))
        (br_if $tail (v128.any_true
          (v128.load align=4 (i32.add (local.get $p) (i32.shl (local.get $i) (i32.const 2))))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $vec)))
    (block $found
      (loop $one
        (br_if $found (i32.ge_u (local.get $i) (local.get $n)))
        (br_if $found (i32.load (i32.add (local.get $p) (i32.shl (local.get $i) (i32.const 2)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $one)))
    (local.get $i))

${WAT_NEXT_U8}
  (func (export "nonzero") (param $p i32) (param $kind i32) (param $n i32) (param $out i32)
    (result i32)
    (local $i i32) (local $c i32)
    (block $done
      (loop $scan
        (local.set $i
          (if (result i32) (i32.eq (local.get $kind) (i32.const 1))
            (then (call $next_u8 (local.get $p) (local.get $i) (local.get $n)))
            (else (if (result i32) (i32.eq (local.get $kind) (i32.const 2))
              (then (call $next_i32 (local.get $p) (local.get $i) (local.get $n)))
              (else (call $next_f32 (local.get $p) (local.get $i) (local.get $n)))))))
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (i32.store (i32.add (local.get $out) (i32.shl (local.get $c) (i32.const 2))) (local.get $i))
        (local.set $c (i32.add (local.get $c) (i32.const 1)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $scan)))
    (local.get $c))
)`;
