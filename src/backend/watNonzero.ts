/**
 * WebAssembly text shared by the hand-written heap modules (the CSR kernels and the nonzero scan):
 * functions finding the next non-zero element of a float32 or byte array, skipping zero runs 16
 * bytes at a time with SIMD. Spliced into each module's text, so every module keeps its own copy
 * of the code; the modules' binary tests recompile the spliced text.
 */

/** `(func $next_f32 (param $p i32) (param $i i32) (param $n i32) (result i32))`: float32 values. */
export const WAT_NEXT_F32 = String.raw`  ;; The first index >= i whose float32 value is non-zero, or n.
  (func $next_f32 (param $p i32) (param $i i32) (param $n i32) (result i32)
    (block $tail
      (loop $vec
        (br_if $tail (i32.gt_u (i32.add (local.get $i) (i32.const 4)) (local.get $n)))
        (br_if $tail (v128.any_true (f32x4.ne
          (v128.load align=4 (i32.add (local.get $p) (i32.shl (local.get $i) (i32.const 2))))
          (v128.const f32x4 0 0 0 0))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $vec)))
    (block $found
      (loop $one
        (br_if $found (i32.ge_u (local.get $i) (local.get $n)))
        (br_if $found (f32.ne
          (f32.load (i32.add (local.get $p) (i32.shl (local.get $i) (i32.const 2))))
          (f32.const 0)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $one)))
    (local.get $i))
`;

/** `(func $next_u8 (param $p i32) (param $i i32) (param $n i32) (result i32))`: bytes. */
export const WAT_NEXT_U8 = String.raw`  ;; The first index >= i whose byte is non-zero, or n.
  (func $next_u8 (param $p i32) (param $i i32) (param $n i32) (result i32)
    (block $tail
      (loop $vec
        (br_if $tail (i32.gt_u (i32.add (local.get $i) (i32.const 16)) (local.get $n)))
        (br_if $tail (v128.any_true (v128.load align=1 (i32.add (local.get $p) (local.get $i)))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $vec)))
    (block $found
      (loop $one
        (br_if $found (i32.ge_u (local.get $i) (local.get $n)))
        (br_if $found (i32.load8_u (i32.add (local.get $p) (local.get $i))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $one)))
    (local.get $i))
`;
