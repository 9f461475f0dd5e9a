/**
 * Fused, in-place kernels for dense D-RTRL traces (MatMulOp / LoraOp: a trace `[...lead, I, O]`
 * per hidden slot, `B = prod(lead)` rows):
 *
 * - `denseTraceUpdateInto(e, d, x, df, out)`: out[b, i, o] = e[b, i, o]·d[b, o] + x[b, i]·df[b, o]
 *   (x = null: the bias trace `[...lead, O]`, out[b, o] = e[b, o]·d[b, o] + df[b, o]) in ONE pass,
 *   written into `out`'s own buffer (which may be `e`'s). The arithmetic is that of the unfused
 *   tfjs ops (f32 products, then an f32 sum: traceScale + traceInstant), so the results are
 *   bit-identical to them.
 * - `denseTraceGrad(e, delta)`: G[i, o] = Σ_b e[b, i, o]·delta[b, o] (a new [I, O] tensor; for a
 *   bias trace [O]), one pass over e, accumulated in f32 in order b = 0, 1, … (the unfused
 *   `sum(mul(e, delta), 0)` rounds differently, within float tolerance).
 * - `denseTraceUpdate(e, d, x, df)`: the update into a new tensor.
 *
 * Every trace value written (the updates and scaleAddInto, not the gradients) has its subnormals
 * flushed to +0 (|v| < 2⁻¹²⁶; NaN kept); `flushSubnormal(t)` does the same with tfjs ops, which the
 * learners use on their op paths, so both paths stay bit-identical. The flush is written out at
 * each store rather than called: V8 (Node 20) does not inline wasm calls, and a helper function
 * made the D-RTRL update 1.7× slower (bench/online d_rtrl eager: 7.0 against 4.2 ms per step).
 *
 * `denseTraceGrad` and `denseTraceUpdate` run as registered tfjs kernels (BstDenseTraceGrad,
 * BstDenseTraceUpdate), so a jit recording sees them; the in-place functions write outside tfjs
 * and step aside (return false / null) while a recording is on.
 *
 * On the wasm backend the module below runs on tfjs's own heap (imported memory; pointers are
 * tensor byte offsets, `dataIdMap.get(dataId).memoryOffset`), as the CSR kernels do; if it cannot
 * be instantiated (a shared-memory build), the same JS loops run on heap views. On the cpu backend
 * the JS loops run on the tensors' arrays. The JS loops round like the module (f32 after every
 * operation), so both give identical results. Other backends: the functions return false / null
 * and the caller uses the tfjs ops.
 *
 * `out` must be a float32 tensor that nobody else sees (the caller owns it; its data is not
 * shared with another tensor: refCount 1); `denseTraceUpdateInto` checks the sharing and returns
 * false rather than write into a shared buffer.
 */
import { tf } from '../backend/tf';
import { TRACE_WASM_BASE64 } from './traceWasmBinary';
import { heapModule } from '../backend/heapWasm';
import { isRecording } from '../compile/recorder';

/**
 * The text of the module (assembled by wabt 1.0.39 with simd + bulk memory into
 * traceWasmBinary.ts; test/etrace/traceKernels.test.ts checks the two agree).
 */
export const TRACE_WAT = String.raw`(module
  (import "env" "memory" (memory 1))

  ;; out[b,i,o] = e[b,i,o]*d[b,o] + xs*df[b,o], xs = x[b*I+i] (hasX) or 1
  (func (export "dense_trace_update")
    (param $e i32) (param $out i32) (param $d i32) (param $x i32) (param $hasX i32)
    (param $df i32) (param $B i32) (param $I i32) (param $O i32)
    (local $b i32) (local $i i32) (local $o i32) (local $o4 i32)
    (local $xs f32) (local $xv v128) (local $drow i32) (local $frow i32)
    (local $src i32) (local $dst i32) (local $row i32) (local $p i32)
    (local $vv v128) (local $ss f32)
    (local.set $o4 (i32.and (local.get $O) (i32.const -4)))
    (local.set $b (i32.const 0))
    (block $bdone (loop $bloop
      (br_if $bdone (i32.ge_u (local.get $b) (local.get $B)))
      (local.set $drow (i32.add (local.get $d)
        (i32.shl (i32.mul (local.get $b) (local.get $O)) (i32.const 2))))
      (local.set $frow (i32.add (local.get $df)
        (i32.shl (i32.mul (local.get $b) (local.get $O)) (i32.const 2))))
      (local.set $i (i32.const 0))
      (block $idone (loop $iloop
        (br_if $idone (i32.ge_u (local.get $i) (local.get $I)))
        (local.set $row (i32.add (i32.mul (local.get $b) (local.get $I)) (local.get $i)))
        (if (local.get $hasX)
          (then (local.set $xs (f32.load (i32.add (local.get $x)
            (i32.shl (local.get $row) (i32.const 2))))))
          (else (local.set $xs (f32.const 1))))
        (local.set $xv (f32x4.splat (local.get $xs)))
        (local.set $src (i32.add (local.get $e)
          (i32.shl (i32.mul (local.get $row) (local.get $O)) (i32.const 2))))
        (local.set $dst (i32.add (local.get $out)
          (i32.shl (i32.mul (local.get $row) (local.get $O)) (i32.const 2))))
        (local.set $o (i32.const 0))
        (block $vdone (loop $vloop
          (br_if $vdone (i32.ge_u (local.get $o) (local.get $o4)))
          (local.set $p (i32.shl (local.get $o) (i32.const 2)))
          (local.set $vv
            (f32x4.add
              (f32x4.mul (v128.load align=4 (i32.add (local.get $src) (local.get $p)))
                         (v128.load align=4 (i32.add (local.get $drow) (local.get $p))))
              (f32x4.mul (local.get $xv)
                         (v128.load align=4 (i32.add (local.get $frow) (local.get $p))))))
          (v128.store align=4 (i32.add (local.get $dst) (local.get $p))
            (v128.andnot (local.get $vv)
              (f32x4.lt (f32x4.abs (local.get $vv)) (v128.const f32x4 0x1p-126 0x1p-126 0x1p-126 0x1p-126))))
          (local.set $o (i32.add (local.get $o) (i32.const 4)))
          (br $vloop)))
        (block $tdone (loop $tloop
          (br_if $tdone (i32.ge_u (local.get $o) (local.get $O)))
          (local.set $p (i32.shl (local.get $o) (i32.const 2)))
          (local.set $ss
            (f32.add
              (f32.mul (f32.load (i32.add (local.get $src) (local.get $p)))
                       (f32.load (i32.add (local.get $drow) (local.get $p))))
              (f32.mul (local.get $xs)
                       (f32.load (i32.add (local.get $frow) (local.get $p))))))
          (f32.store (i32.add (local.get $dst) (local.get $p))
            (select (f32.const 0) (local.get $ss)
              (f32.lt (f32.abs (local.get $ss)) (f32.const 0x1p-126))))
          (local.set $o (i32.add (local.get $o) (i32.const 1)))
          (br $tloop)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $iloop)))
      (local.set $b (i32.add (local.get $b) (i32.const 1)))
      (br $bloop))))

  ;; g[i,o] = sum_b e[b,i,o]*delta[b,o] (g zeroed first, f32, b in order)
  (func (export "dense_trace_grad")
    (param $e i32) (param $delta i32) (param $g i32) (param $B i32) (param $I i32) (param $O i32)
    (local $b i32) (local $i i32) (local $o i32) (local $o4 i32)
    (local $drow i32) (local $src i32) (local $grow i32) (local $p i32)
    (memory.fill (local.get $g) (i32.const 0)
      (i32.shl (i32.mul (local.get $I) (local.get $O)) (i32.const 2)))
    (local.set $o4 (i32.and (local.get $O) (i32.const -4)))
    (local.set $b (i32.const 0))
    (block $bdone (loop $bloop
      (br_if $bdone (i32.ge_u (local.get $b) (local.get $B)))
      (local.set $drow (i32.add (local.get $delta)
        (i32.shl (i32.mul (local.get $b) (local.get $O)) (i32.const 2))))
      (local.set $i (i32.const 0))
      (block $idone (loop $iloop
        (br_if $idone (i32.ge_u (local.get $i) (local.get $I)))
        (local.set $src (i32.add (local.get $e) (i32.shl
          (i32.mul (i32.add (i32.mul (local.get $b) (local.get $I)) (local.get $i)) (local.get $O))
          (i32.const 2))))
        (local.set $grow (i32.add (local.get $g)
          (i32.shl (i32.mul (local.get $i) (local.get $O)) (i32.const 2))))
        (local.set $o (i32.const 0))
        (block $vdone (loop $vloop
          (br_if $vdone (i32.ge_u (local.get $o) (local.get $o4)))
          (local.set $p (i32.shl (local.get $o) (i32.const 2)))
          (v128.store align=4 (i32.add (local.get $grow) (local.get $p))
            (f32x4.add (v128.load align=4 (i32.add (local.get $grow) (local.get $p)))
              (f32x4.mul (v128.load align=4 (i32.add (local.get $src) (local.get $p)))
                         (v128.load align=4 (i32.add (local.get $drow) (local.get $p))))))
          (local.set $o (i32.add (local.get $o) (i32.const 4)))
          (br $vloop)))
        (block $tdone (loop $tloop
          (br_if $tdone (i32.ge_u (local.get $o) (local.get $O)))
          (local.set $p (i32.shl (local.get $o) (i32.const 2)))
          (f32.store (i32.add (local.get $grow) (local.get $p))
            (f32.add (f32.load (i32.add (local.get $grow) (local.get $p)))
              (f32.mul (f32.load (i32.add (local.get $src) (local.get $p)))
                       (f32.load (i32.add (local.get $drow) (local.get $p))))))
          (local.set $o (i32.add (local.get $o) (i32.const 1)))
          (br $tloop)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $iloop)))
      (local.set $b (i32.add (local.get $b) (i32.const 1)))
      (br $bloop))))

  ;; g[i,o] = sum_b e[b,i,o]*delta[b,o] (g zeroed first), and then, in the same pass,
  ;; e[b,i,o] = e[b,i,o]*d[b,o] + xs*df[b,o] in place (xs = x[b*I+i] or 1)
  (func (export "dense_trace_grad_update")
    (param $e i32) (param $delta i32) (param $g i32) (param $d i32) (param $x i32)
    (param $hasX i32) (param $df i32) (param $B i32) (param $I i32) (param $O i32)
    (local $b i32) (local $i i32) (local $o i32) (local $o4 i32)
    (local $xs f32) (local $xv v128) (local $ev v128) (local $es f32)
    (local $drow i32) (local $frow i32) (local $lrow i32)
    (local $src i32) (local $grow i32) (local $row i32) (local $p i32)
    (local $vv v128) (local $ss f32)
    (memory.fill (local.get $g) (i32.const 0)
      (i32.shl (i32.mul (local.get $I) (local.get $O)) (i32.const 2)))
    (local.set $o4 (i32.and (local.get $O) (i32.const -4)))
    (local.set $b (i32.const 0))
    (block $bdone (loop $bloop
      (br_if $bdone (i32.ge_u (local.get $b) (local.get $B)))
      (local.set $drow (i32.add (local.get $d)
        (i32.shl (i32.mul (local.get $b) (local.get $O)) (i32.const 2))))
      (local.set $frow (i32.add (local.get $df)
        (i32.shl (i32.mul (local.get $b) (local.get $O)) (i32.const 2))))
      (local.set $lrow (i32.add (local.get $delta)
        (i32.shl (i32.mul (local.get $b) (local.get $O)) (i32.const 2))))
      (local.set $i (i32.const 0))
      (block $idone (loop $iloop
        (br_if $idone (i32.ge_u (local.get $i) (local.get $I)))
        (local.set $row (i32.add (i32.mul (local.get $b) (local.get $I)) (local.get $i)))
        (if (local.get $hasX)
          (then (local.set $xs (f32.load (i32.add (local.get $x)
            (i32.shl (local.get $row) (i32.const 2))))))
          (else (local.set $xs (f32.const 1))))
        (local.set $xv (f32x4.splat (local.get $xs)))
        (local.set $src (i32.add (local.get $e)
          (i32.shl (i32.mul (local.get $row) (local.get $O)) (i32.const 2))))
        (local.set $grow (i32.add (local.get $g)
          (i32.shl (i32.mul (local.get $i) (local.get $O)) (i32.const 2))))
        (local.set $o (i32.const 0))
        (block $vdone (loop $vloop
          (br_if $vdone (i32.ge_u (local.get $o) (local.get $o4)))
          (local.set $p (i32.shl (local.get $o) (i32.const 2)))
          (local.set $ev (v128.load align=4 (i32.add (local.get $src) (local.get $p))))
          (v128.store align=4 (i32.add (local.get $grow) (local.get $p))
            (f32x4.add (v128.load align=4 (i32.add (local.get $grow) (local.get $p)))
              (f32x4.mul (local.get $ev)
                         (v128.load align=4 (i32.add (local.get $lrow) (local.get $p))))))
          (local.set $vv
            (f32x4.add
              (f32x4.mul (local.get $ev)
                         (v128.load align=4 (i32.add (local.get $drow) (local.get $p))))
              (f32x4.mul (local.get $xv)
                         (v128.load align=4 (i32.add (local.get $frow) (local.get $p))))))
          (v128.store align=4 (i32.add (local.get $src) (local.get $p))
            (v128.andnot (local.get $vv)
              (f32x4.lt (f32x4.abs (local.get $vv)) (v128.const f32x4 0x1p-126 0x1p-126 0x1p-126 0x1p-126))))
          (local.set $o (i32.add (local.get $o) (i32.const 4)))
          (br $vloop)))
        (block $tdone (loop $tloop
          (br_if $tdone (i32.ge_u (local.get $o) (local.get $O)))
          (local.set $p (i32.shl (local.get $o) (i32.const 2)))
          (local.set $es (f32.load (i32.add (local.get $src) (local.get $p))))
          (f32.store (i32.add (local.get $grow) (local.get $p))
            (f32.add (f32.load (i32.add (local.get $grow) (local.get $p)))
              (f32.mul (local.get $es)
                       (f32.load (i32.add (local.get $lrow) (local.get $p))))))
          (local.set $ss
            (f32.add
              (f32.mul (local.get $es)
                       (f32.load (i32.add (local.get $drow) (local.get $p))))
              (f32.mul (local.get $xs)
                       (f32.load (i32.add (local.get $frow) (local.get $p))))))
          (f32.store (i32.add (local.get $src) (local.get $p))
            (select (f32.const 0) (local.get $ss)
              (f32.lt (f32.abs (local.get $ss)) (f32.const 0x1p-126))))
          (local.set $o (i32.add (local.get $o) (i32.const 1)))
          (br $tloop)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $iloop)))
      (local.set $b (i32.add (local.get $b) (i32.const 1)))
      (br $bloop))))

  ;; out[k] = (a[k]*b[k] if hasB else a[k])*s + c[k]*t, k < n
  (func (export "scale_add")
    (param $a i32) (param $b i32) (param $hasB i32) (param $c i32) (param $out i32)
    (param $n i32) (param $s f32) (param $t f32)
    (local $k i32) (local $n4 i32) (local $p i32) (local $sv v128) (local $tv v128) (local $av v128)
    (local $af f32) (local $vv v128) (local $ss f32)
    (local.set $n4 (i32.and (local.get $n) (i32.const -4)))
    (local.set $sv (f32x4.splat (local.get $s)))
    (local.set $tv (f32x4.splat (local.get $t)))
    (local.set $k (i32.const 0))
    (block $vdone (loop $vloop
      (br_if $vdone (i32.ge_u (local.get $k) (local.get $n4)))
      (local.set $p (i32.shl (local.get $k) (i32.const 2)))
      (local.set $av (v128.load align=4 (i32.add (local.get $a) (local.get $p))))
      (if (local.get $hasB)
        (then (local.set $av (f32x4.mul (local.get $av)
          (v128.load align=4 (i32.add (local.get $b) (local.get $p)))))))
      (local.set $vv
        (f32x4.add (f32x4.mul (local.get $av) (local.get $sv))
          (f32x4.mul (v128.load align=4 (i32.add (local.get $c) (local.get $p))) (local.get $tv))))
      (v128.store align=4 (i32.add (local.get $out) (local.get $p))
        (v128.andnot (local.get $vv)
          (f32x4.lt (f32x4.abs (local.get $vv)) (v128.const f32x4 0x1p-126 0x1p-126 0x1p-126 0x1p-126))))
      (local.set $k (i32.add (local.get $k) (i32.const 4)))
      (br $vloop)))
    (block $tdone (loop $tloop
      (br_if $tdone (i32.ge_u (local.get $k) (local.get $n)))
      (local.set $p (i32.shl (local.get $k) (i32.const 2)))
      (local.set $af (f32.load (i32.add (local.get $a) (local.get $p))))
      (if (local.get $hasB)
        (then (local.set $af (f32.mul (local.get $af)
          (f32.load (i32.add (local.get $b) (local.get $p)))))))
      (local.set $ss
        (f32.add (f32.mul (local.get $af) (local.get $s))
          (f32.mul (f32.load (i32.add (local.get $c) (local.get $p))) (local.get $t))))
      (f32.store (i32.add (local.get $out) (local.get $p))
        (select (f32.const 0) (local.get $ss)
          (f32.lt (f32.abs (local.get $ss)) (f32.const 0x1p-126))))
      (local.set $k (i32.add (local.get $k) (i32.const 1)))
      (br $tloop))))
)`;

// ---- backend internals used -------------------------------------------------------------------

interface WasmBackendLike {
  wasm?: { asm?: { memory?: unknown } };
  dataIdMap: { get(dataId: object): { memoryOffset: number } | undefined };
  refCount(dataId: object): number;
}
interface CpuBackendLike {
  data: { get(dataId: object): { values: unknown } | undefined };
  refCount(dataId: object): number;
}

interface TraceWasmExports {
  dense_trace_update(
    e: number,
    out: number,
    d: number,
    x: number,
    hasX: number,
    df: number,
    B: number,
    I: number,
    O: number,
  ): void;
  dense_trace_grad(e: number, delta: number, g: number, B: number, I: number, O: number): void;
  dense_trace_grad_update(
    e: number,
    delta: number,
    g: number,
    d: number,
    x: number,
    hasX: number,
    df: number,
    B: number,
    I: number,
    O: number,
  ): void;
  scale_add(
    a: number,
    b: number,
    hasB: number,
    c: number,
    out: number,
    n: number,
    s: number,
    t: number,
  ): void;
}

/** How the kernels run on the wasm backend: the module (default) or JS loops on heap views. */
export type TraceKernelMode = 'module' | 'js';

let wasmMode: TraceKernelMode = 'module';
const traceModule = heapModule<TraceWasmExports>(TRACE_WASM_BASE64);

function wasmModuleOf(backend: WasmBackendLike): TraceWasmExports | null {
  return wasmMode === 'module' ? traceModule(backend) : null;
}

let enabled = true;

/**
 * Switch the fused kernels off (every function then returns false / null, so callers use the
 * tfjs ops) or on again; returns the previous setting. For tests and comparisons.
 */
export function setFusedTraceKernels(on: boolean): boolean {
  const previous = enabled;
  enabled = on;
  return previous;
}

/** Choose the wasm implementation (for tests and comparisons); returns the previous mode. */
export function setTraceKernelMode(mode: TraceKernelMode): TraceKernelMode {
  const previous = wasmMode;
  wasmMode = mode;
  return previous;
}

/** Which implementation runs on the current backend, or null if the kernels do not run there. */
export function traceKernelImplementation(): string | null {
  const name = tf.getBackend();
  if (name === 'wasm') {
    return wasmModuleOf(tf.backend() as unknown as WasmBackendLike) !== null
      ? 'wasm module on the tfjs heap'
      : 'JS loops on wasm heap views';
  }
  if (name === 'cpu') return 'JS loops on cpu arrays';
  return null;
}

// ---- the JS loops (f32 rounding after every operation, like the module) -----------------------

const f = Math.fround;

/** The smallest normal float32, 2⁻¹²⁶: trace values of smaller magnitude are flushed to +0. */
export const FLT_MIN = 2 ** -126;

/**
 * t with its subnormal elements (|v| < 2⁻¹²⁶) set to +0, NaN kept: what the kernels here do to
 * every trace value they write, as tfjs ops (recordable, fused by jit).
 */
export function flushSubnormal(t: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.where(tf.less(tf.abs(t), FLT_MIN), tf.zerosLike(t), t));
}

/** v (a float32 value) with a subnormal flushed to +0 (NaN kept). */
function ftz(v: number): number {
  return Math.abs(v) < FLT_MIN ? 0 : v;
}

function updateLoops(
  e: Float32Array,
  out: Float32Array,
  d: Float32Array,
  x: Float32Array | null,
  df: Float32Array,
  B: number,
  I: number,
  O: number,
): void {
  for (let b = 0; b < B; b++) {
    const r = b * O;
    for (let i = 0; i < I; i++) {
      const row = b * I + i;
      const xs = x === null ? 1 : x[row];
      const base = row * O;
      for (let o = 0; o < O; o++) {
        out[base + o] = ftz(f(f(e[base + o] * d[r + o]) + f(xs * df[r + o])));
      }
    }
  }
}

function gradLoops(
  e: Float32Array,
  delta: Float32Array,
  g: Float32Array,
  B: number,
  I: number,
  O: number,
): void {
  g.fill(0);
  for (let b = 0; b < B; b++) {
    const r = b * O;
    for (let i = 0; i < I; i++) {
      const base = (b * I + i) * O;
      const gi = i * O;
      for (let o = 0; o < O; o++) g[gi + o] += f(e[base + o] * delta[r + o]);
    }
  }
}

function gradUpdateLoops(
  e: Float32Array,
  delta: Float32Array,
  g: Float32Array,
  d: Float32Array,
  x: Float32Array | null,
  df: Float32Array,
  B: number,
  I: number,
  O: number,
): void {
  g.fill(0);
  for (let b = 0; b < B; b++) {
    const r = b * O;
    for (let i = 0; i < I; i++) {
      const row = b * I + i;
      const xs = x === null ? 1 : x[row];
      const base = row * O;
      const gi = i * O;
      for (let o = 0; o < O; o++) {
        const ev = e[base + o];
        g[gi + o] += f(ev * delta[r + o]);
        e[base + o] = ftz(f(f(ev * d[r + o]) + f(xs * df[r + o])));
      }
    }
  }
}

function scaleAddLoops(
  a: Float32Array,
  b: Float32Array | null,
  c: Float32Array,
  out: Float32Array,
  s: number,
  t: number,
): void {
  const sf = f(s);
  const tf32 = f(t);
  for (let k = 0; k < out.length; k++) {
    const ab = b === null ? a[k] : f(a[k] * b[k]);
    out[k] = ftz(f(f(ab * sf) + f(c[k] * tf32)));
  }
}

// ---- access to tensor data ----------------------------------------------------------------------

type Kind =
  | { kind: 'module'; mod: TraceWasmExports; backend: WasmBackendLike }
  | {
      kind: 'views';
      view: (t: tf.Tensor) => Float32Array;
      refCount: (t: tf.Tensor) => number;
    };

function access(): Kind | null {
  // a recording (jit) sees only tfjs kernels: a write here would be missing from its replay
  if (!enabled || isRecording()) return null;
  return heapAccess();
}

/** Access to tensor data on the current backend (wasm, cpu), whether or not a recording is on. */
function heapAccess(): Kind | null {
  const name = tf.getBackend();
  if (name === 'wasm') {
    const backend = tf.backend() as unknown as WasmBackendLike;
    const mod = wasmModuleOf(backend);
    if (mod !== null) return { kind: 'module', mod, backend };
    const memory = backend.wasm?.asm?.memory;
    if (!(memory instanceof WebAssembly.Memory)) return null;
    return {
      kind: 'views',
      view: (t) =>
        new Float32Array(memory.buffer, backend.dataIdMap.get(t.dataId)!.memoryOffset, t.size),
      refCount: (t) => backend.refCount(t.dataId),
    };
  }
  if (name === 'cpu') {
    const backend = tf.backend() as unknown as CpuBackendLike;
    return {
      kind: 'views',
      view: (t) => backend.data.get(t.dataId)!.values as Float32Array,
      refCount: (t) => backend.refCount(t.dataId),
    };
  }
  return null;
}

function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

function f32(...ts: (tf.Tensor | null)[]): boolean {
  return ts.every((t) => t === null || (t.dtype === 'float32' && !t.isDisposed));
}

/**
 * out ← e ⊙ d[..., None, :] + x[..., :, None] ⊙ df[..., None, :] for e `[...lead, I, O]`,
 * x `[...lead, I]`, d and df `[...lead, O]`; with x = null, e is a bias trace `[...lead, O]` and
 * out ← e ⊙ d + df. `out` (e's shape; may be e itself) is written in place. Returns false (and
 * writes nothing) where the kernels do not run: another backend, a non-float32 operand, or an
 * `out` whose data another tensor shares.
 */
export function denseTraceUpdateInto(
  e: tf.Tensor,
  d: tf.Tensor,
  x: tf.Tensor | null,
  df: tf.Tensor,
  out: tf.Tensor,
): boolean {
  if (!f32(e, d, x, df, out) || out.size !== e.size) return false;
  const O = e.shape[e.rank - 1] ?? 1;
  const I = x === null ? 1 : (e.shape[e.rank - 2] ?? 1);
  const B = x === null ? sizeOf(e.shape.slice(0, -1)) : sizeOf(e.shape.slice(0, -2));
  if (d.size !== B * O || df.size !== B * O || (x !== null && x.size !== B * I)) return false;
  const a = access();
  if (a === null) return false;
  if (a.kind === 'module') {
    if (a.backend.refCount(out.dataId) !== 1) return false;
    const off = (t: tf.Tensor) => a.backend.dataIdMap.get(t.dataId)!.memoryOffset;
    a.mod.dense_trace_update(
      off(e),
      off(out),
      off(d),
      x === null ? 0 : off(x),
      x === null ? 0 : 1,
      off(df),
      B,
      I,
      O,
    );
    return true;
  }
  if (a.refCount(out) !== 1) return false;
  updateLoops(
    a.view(e),
    a.view(out),
    a.view(d),
    x === null ? null : a.view(x),
    a.view(df),
    B,
    I,
    O,
  );
  return true;
}

/**
 * G = Σ_lead e ⊙ delta[..., None, :] for e `[...lead, I, O]`, delta `[...lead, O]`: a new `[I, O]`
 * tensor; `bias` reads e as `[...lead, O]` and gives `[O]`. Null where the kernels do not run.
 */
export function denseTraceGrad(e: tf.Tensor, delta: tf.Tensor, bias = false): tf.Tensor | null {
  if (!f32(e, delta)) return null;
  const { B, O } = dims(e, bias);
  if (delta.size !== B * O || !kernelsRun()) return null;
  return tf.engine().runKernel(GRAD_KERNEL, { e, delta }, { bias }) as tf.Tensor;
}

/**
 * e ⊙ d[..., None, :] + x[..., :, None] ⊙ df[..., None, :] (x = null: the bias trace, e ⊙ d + df)
 * as a new tensor: denseTraceUpdateInto's pass into a fresh buffer, through a registered kernel
 * (a jit recording sees it, where it must not see in-place writes). Null where the kernels do
 * not run.
 */
export function denseTraceUpdate(
  e: tf.Tensor,
  d: tf.Tensor,
  x: tf.Tensor | null,
  df: tf.Tensor,
): tf.Tensor | null {
  if (!f32(e, d, x, df)) return null;
  const { B, I, O } = dims(e, x === null);
  if (d.size !== B * O || df.size !== B * O || (x !== null && x.size !== B * I)) return null;
  if (!kernelsRun()) return null;
  const inputs: Record<string, tf.Tensor> = x === null ? { e, d, df } : { e, d, df, x };
  return tf.engine().runKernel(UPDATE_KERNEL, inputs, {}) as tf.Tensor;
}

/** B (rows), I and O of a dense trace `[...lead, I, O]` (bias: `[...lead, O]`, I = 1). */
function dims(e: { shape: number[] }, bias: boolean): { B: number; I: number; O: number } {
  const O = e.shape[e.shape.length - 1] ?? 1;
  const I = bias ? 1 : (e.shape[e.shape.length - 2] ?? 1);
  const B = sizeOf(bias ? e.shape.slice(0, -1) : e.shape.slice(0, -2));
  return { B, I, O };
}

// ---- the same passes as registered kernels (new outputs; recordable) ---------------------------

const UPDATE_KERNEL = 'BstDenseTraceUpdate';
const GRAD_KERNEL = 'BstDenseTraceGrad';

interface Info {
  dataId: object;
  shape: number[];
}
interface KernelArgs {
  inputs: Record<string, Info | undefined>;
  backend: unknown;
  attrs?: Record<string, unknown>;
}
interface WasmKernelBackend extends WasmBackendLike {
  makeOutput(shape: number[], dtype: tf.DataType): Info;
  typedArrayFromHeap(t: Info): Float32Array;
}
interface CpuKernelBackend extends CpuBackendLike {
  makeTensorInfo(shape: number[], dtype: tf.DataType, values: Float32Array): Info;
}

/**
 * Run `compute` into a new float32 output of `shape` on the kernel's backend: on wasm with
 * tensor offsets for the module (or null) and heap views; on cpu with the tensors' arrays.
 */
function kernelOutput(
  args: KernelArgs,
  shape: number[],
  compute: (
    view: (t: Info) => Float32Array,
    out: Float32Array,
    mod: { m: TraceWasmExports; off: (t: Info) => number; out: number } | null,
  ) => void,
): Info {
  if (tf.getBackend() === 'wasm') {
    const backend = args.backend as WasmKernelBackend;
    const out = backend.makeOutput(shape, 'float32');
    const o = backend.typedArrayFromHeap(out);
    const m = wasmModuleOf(backend);
    const off = (t: Info) => backend.dataIdMap.get(t.dataId)!.memoryOffset;
    compute((t) => backend.typedArrayFromHeap(t), o, m && { m, off, out: off(out) });
    return out;
  }
  const backend = args.backend as CpuKernelBackend;
  const o = new Float32Array(sizeOf(shape));
  compute((t) => backend.data.get(t.dataId)!.values as Float32Array, o, null);
  return backend.makeTensorInfo(shape, 'float32', o);
}

function updateKernel(args: KernelArgs): Info {
  const { e, d, df, x } = args.inputs as Record<string, Info>;
  const { B, I, O } = dims(e, x === undefined);
  return kernelOutput(args, e.shape.slice(), (view, out, mod) => {
    if (mod) {
      const xo = x === undefined ? 0 : mod.off(x);
      const hasX = x === undefined ? 0 : 1;
      mod.m.dense_trace_update(mod.off(e), mod.out, mod.off(d), xo, hasX, mod.off(df), B, I, O);
    } else {
      updateLoops(view(e), out, view(d), x === undefined ? null : view(x), view(df), B, I, O);
    }
  });
}

function gradKernel(args: KernelArgs): Info {
  const { e, delta } = args.inputs as Record<string, Info>;
  const bias = args.attrs?.bias === true;
  const { B, I, O } = dims(e, bias);
  return kernelOutput(args, bias ? [O] : [I, O], (view, out, mod) => {
    if (mod) {
      out.fill(0);
      mod.m.dense_trace_grad(mod.off(e), mod.off(delta), mod.out, B, I, O);
    } else {
      gradLoops(view(e), view(delta), out, B, I, O);
    }
  });
}

const registered = new Set<string>();

/** True (after registering the kernels for it) when the current backend runs them. */
function kernelsRun(): boolean {
  if (!enabled) return false;
  const backendName = tf.getBackend();
  if (backendName !== 'wasm' && backendName !== 'cpu') return false;
  if (!registered.has(backendName)) {
    registered.add(backendName);
    for (const [kernelName, fn] of [
      [UPDATE_KERNEL, updateKernel],
      [GRAD_KERNEL, gradKernel],
    ] as const) {
      if (tf.getKernel(kernelName, backendName) == null) {
        tf.registerKernel({
          kernelName,
          backendName,
          kernelFunc: fn as unknown as tf.KernelFunc,
        });
      }
    }
  }
  return true;
}

/**
 * out ← (a ⊙ b)·s + c·t (b = null: a·s + c·t), element-wise over equal-size float32 tensors, with
 * s and t rounded to float32 and f32 rounding after every operation, as the tfjs ops
 * `add(mul(mul(a, b), s), mul(c, t))` compute it (t = 1: `add(mul(a, s), c)`). Written into
 * `out`'s own buffer (may be a's). False (nothing written) where the kernels do not run or
 * `out`'s data is shared.
 */
export function scaleAddInto(
  a: tf.Tensor,
  b: tf.Tensor | null,
  c: tf.Tensor,
  s: number,
  t: number,
  out: tf.Tensor,
): boolean {
  if (!f32(a, b, c, out)) return false;
  const n = out.size;
  if (a.size !== n || c.size !== n || (b !== null && b.size !== n)) return false;
  const acc = access();
  if (acc === null) return false;
  if (acc.kind === 'module') {
    if (acc.backend.refCount(out.dataId) !== 1) return false;
    const off = (x: tf.Tensor) => acc.backend.dataIdMap.get(x.dataId)!.memoryOffset;
    acc.mod.scale_add(
      off(a),
      b === null ? 0 : off(b),
      b === null ? 0 : 1,
      off(c),
      off(out),
      n,
      s,
      t,
    );
    return true;
  }
  if (acc.refCount(out) !== 1) return false;
  scaleAddLoops(acc.view(a), b === null ? null : acc.view(b), acc.view(c), acc.view(out), s, t);
  return true;
}

/**
 * denseTraceGrad(e, delta, x === null) and then denseTraceUpdateInto(e, d, x, df, e), in one
 * pass over e (read once, written once): the gradient of the trace before the update, as a new
 * `[I, O]` (bias: `[O]`) tensor, and e advanced in place. Null (nothing written) where the
 * kernels do not run or e's data is shared.
 */
export function denseTraceGradUpdate(
  e: tf.Tensor,
  delta: tf.Tensor,
  d: tf.Tensor,
  x: tf.Tensor | null,
  df: tf.Tensor,
): tf.Tensor | null {
  if (!f32(e, delta, d, x, df)) return null;
  const O = e.shape[e.rank - 1] ?? 1;
  const I = x === null ? 1 : (e.shape[e.rank - 2] ?? 1);
  const B = x === null ? sizeOf(e.shape.slice(0, -1)) : sizeOf(e.shape.slice(0, -2));
  if (delta.size !== B * O || d.size !== B * O || df.size !== B * O) return null;
  if (x !== null && x.size !== B * I) return null;
  const a = access();
  if (a === null) return null;
  if ((a.kind === 'module' ? a.backend.refCount(e.dataId) : a.refCount(e)) !== 1) return null;
  const g = tf.zeros(x === null ? [O] : [I, O]);
  if (a.kind === 'module') {
    const off = (t: tf.Tensor) => a.backend.dataIdMap.get(t.dataId)!.memoryOffset;
    a.mod.dense_trace_grad_update(
      off(e),
      off(delta),
      off(g),
      off(d),
      x === null ? 0 : off(x),
      x === null ? 0 : 1,
      off(df),
      B,
      I,
      O,
    );
  } else {
    gradUpdateLoops(
      a.view(e),
      a.view(delta),
      a.view(g),
      a.view(d),
      x === null ? null : a.view(x),
      a.view(df),
      B,
      I,
      O,
    );
  }
  return g;
}
