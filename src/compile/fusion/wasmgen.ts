/**
 * The wasm SIMD kernel of a lowered group, emitted as a binary module (wasmEncoder.ts):
 *
 *   (import "env" "memory" (memory 0))          ;; tfjs-wasm's heap, or any memory
 *   (import "Math" "exp" (func (param f64) (result f64)))   ;; … only those used
 *   (func (export "run") (param $in0 … $inK $out0 … $outM $n i32) …)
 *
 * Pointers are byte offsets of the tensors' data in the memory; `$n` is the loop size. The body:
 * loop-invariant values (constants, size-1 inputs) computed once and splatted; a vector loop over
 * 4 elements at a time (f32x4 / i32x4 loads and stores; bool tensors are 1 byte per element in
 * tfjs-wasm: 4 bytes loaded and widened to lane masks, masks narrowed back to 0/1 bytes); a scalar
 * tail loop. Operands smaller than the loop (a [N] parameter against [B, N]) are read at
 * index mod N through a wrapping counter; the vector loop runs only if every such N is a multiple
 * of 4. Inside the code float32 values are f32 lanes, int32 values i32 lanes, bools all-ones/zero
 * lane masks (0/1 in the scalar loop).
 *
 * Semantics are tfjs-wasm's where it differs from tfjs-cpu: Maximum/Minimum are std::max/min
 * (`a < b ? b : a`: NaN only propagates from the first operand, f32x4.pmax/pmin), ClipByValue
 * sends NaN to the lower bound, Rsqrt and SquaredDifference are float32 arithmetic. Exp, Log,
 * Tanh, Expm1, Log1p, Pow and Sigmoid have no wasm instruction: each lane calls the imported JS
 * Math function in double precision (the same values as the JS kernel, within ~2 ulp of
 * tfjs-wasm's own). Cast to int32 is ToInt32 (truncate, wrap modulo 2^32, NaN and ±∞ → 0) like
 * both backends; Cast to bool is x ≠ 0 (tfjs-cpu; tfjs-wasm stores the value truncated modulo 256).
 */
import { MATH_IMPORTS, type MathImport, type Ty } from './ops';
import type { Lowered, LValue } from './lower';
import { Code, Op, OpFC, Simd, T, encodeModule, type ValType } from './wasmEncoder';

const TWO31 = 2147483648;
const TWO32 = 4294967296;
const INV_TWO32 = 1 / TWO32;

/** The Math functions a lowered group needs (sigmoid needs exp). */
export function mathImportsOf(low: Lowered): MathImport[] {
  const used = new Set<MathImport>();
  for (const v of low.values) {
    const op = v.op;
    if (op.kind === 'unary') {
      if (op.op === 'sigmoid') used.add('exp');
      else if ((MATH_IMPORTS as readonly string[]).includes(op.op)) used.add(op.op as MathImport);
    } else if (op.kind === 'binary' && op.op === 'pow') used.add('pow');
  }
  return MATH_IMPORTS.filter((m) => used.has(m));
}

/** True if the vector loop can run: every partially broadcast input has a size divisible by 4. */
export function isVectorizable(low: Lowered): boolean {
  if (low.size < 4) return false;
  return low.values.every((v) => {
    if (v.op.kind !== 'input' || !v.varying) return true;
    const size = low.inputs[v.op.input].size;
    return size === low.size || size % 4 === 0;
  });
}

function scalarType(ty: Ty): ValType {
  return ty === 'f32' ? T.f32 : T.i32;
}

/** The lane-wise f64 computations (calls to imported Math functions and sigmoid). */
function isLaneWise(v: LValue): boolean {
  const op = v.op;
  if (op.kind === 'unary') {
    return ['exp', 'log', 'tanh', 'expm1', 'log1p', 'sigmoid'].includes(op.op);
  }
  return op.kind === 'binary' && op.op === 'pow';
}

class Gen {
  readonly locals: ValType[] = [];
  readonly c = new Code();
  readonly nParams: number;
  readonly nIn: number;
  readonly pN: number;
  readonly scalar: number[] = [];
  readonly vec: number[] = [];
  readonly counters = new Map<number, number>();
  readonly iLocal: number;
  readonly t32: number;
  readonly t64: number;
  readonly tv: number;
  readonly mathIndex = new Map<MathImport, number>();

  constructor(
    readonly low: Lowered,
    imports: readonly MathImport[],
  ) {
    this.nIn = low.inputs.length;
    this.nParams = this.nIn + low.outputs.length + 1;
    this.pN = this.nParams - 1;
    imports.forEach((m, i) => this.mathIndex.set(m, i));
    this.iLocal = this.local(T.i32);
    this.t32 = this.local(T.f32);
    this.t64 = this.local(T.f64);
    this.tv = this.local(T.v128);
  }

  local(t: ValType): number {
    this.locals.push(t);
    return this.nParams + this.locals.length - 1;
  }

  outPtr(m: number): number {
    return this.nIn + m;
  }

  /** Push the byte address of element `index` (a local, or null for element 0) of a pointer. */
  addr(ptr: number, index: number | null, ty: Ty): void {
    const c = this.c;
    c.get(ptr);
    if (index === null) return;
    c.get(index);
    if (ty !== 'bool') c.i32c(2).op(Op.i32_shl);
    c.op(Op.i32_add);
  }

  indexOf(k: number, varying: boolean): number | null {
    if (!varying) return null;
    return this.low.inputs[k].size === this.low.size ? this.iLocal : this.counters.get(k)!;
  }

  // ---- scalar code (prologue and tail loop) ---------------------------------------------

  scalarLoad(k: number, index: number | null): void {
    const ty = this.low.inputs[k].ty;
    this.addr(k, index, ty);
    const c = this.c;
    if (ty === 'f32') c.mem(Op.f32_load, 2);
    else if (ty === 'i32') c.mem(Op.i32_load, 2);
    else c.mem(Op.i32_load8_u, 0).i32c(0).op(Op.i32_ne);
  }

  /** The f64 code of a lane-wise op, operands (as f64) on the stack. */
  f64Body(v: LValue): void {
    const c = this.c;
    const op = v.op;
    if (op.kind === 'binary') {
      c.call(this.mathIndex.get('pow')!);
      return;
    }
    if (op.kind !== 'unary') throw new Error('unreachable');
    if (op.op === 'sigmoid') {
      c.op(Op.f64_neg).call(this.mathIndex.get('exp')!);
      c.f64c(1).op(Op.f64_add).set(this.t64);
      c.f64c(1).get(this.t64).op(Op.f64_div);
      return;
    }
    c.call(this.mathIndex.get(op.op as MathImport)!);
  }

  /** Compute value i in scalar mode from the scalar locals of its args; leaves it on the stack. */
  scalarOp(i: number): void {
    const c = this.c;
    const v = this.low.values[i];
    const op = v.op;
    const a = 'args' in op ? op.args.map((j) => this.scalar[j]) : [];
    const argTy = 'args' in op ? this.low.values[op.args[0]].ty : v.ty;
    switch (op.kind) {
      case 'input':
        this.scalarLoad(op.input, this.indexOf(op.input, v.varying));
        return;
      case 'const':
        if (v.ty === 'f32') c.f32c(op.value);
        else c.i32c(op.value);
        return;
      case 'select':
        c.get(a[1]).get(a[2]).get(a[0]).op(Op.select);
        return;
      case 'clip':
        // pmax(lo, x) = lo < x ? x : lo, then pmin(hi, y) = y < hi ? y : hi (NaN → lo, as tfjs-wasm)
        c.get(a[0]).f32c(op.lo).f32c(op.lo).get(a[0]).op(Op.f32_lt).op(Op.select).set(this.t32);
        c.get(this.t32).f32c(op.hi).get(this.t32).f32c(op.hi).op(Op.f32_lt).op(Op.select);
        return;
      case 'cast':
        this.scalarCast(v.ty, argTy, a[0]);
        return;
    }
    if (isLaneWise(v)) {
      for (const x of a) c.get(x).op(Op.f64_promote_f32);
      this.f64Body(v);
      c.op(Op.f32_demote_f64);
      return;
    }
    if (op.kind === 'unary') {
      const x = a[0];
      if (v.ty === 'i32') {
        if (op.op === 'abs')
          c.i32c(0).get(x).op(Op.i32_sub).get(x).get(x).i32c(0).op(Op.i32_lt_s).op(Op.select);
        else if (op.op === 'neg') c.i32c(0).get(x).op(Op.i32_sub);
        else c.get(x).get(x).op(Op.i32_mul); // square
        return;
      }
      switch (op.op) {
        case 'abs':
          c.get(x).op(Op.f32_abs);
          return;
        case 'neg':
          c.get(x).op(Op.f32_neg);
          return;
        case 'sqrt':
          c.get(x).op(Op.f32_sqrt);
          return;
        case 'floor':
          c.get(x).op(Op.f32_floor);
          return;
        case 'ceil':
          c.get(x).op(Op.f32_ceil);
          return;
        case 'round':
          c.get(x).op(Op.f32_nearest);
          return;
        case 'relu':
          c.f32c(0).get(x).op(Op.f32_max);
          return;
        case 'square':
          c.get(x).get(x).op(Op.f32_mul);
          return;
        case 'reciprocal':
          c.f32c(1).get(x).op(Op.f32_div);
          return;
        case 'rsqrt':
          c.f32c(1).get(x).op(Op.f32_sqrt).op(Op.f32_div);
          return;
        case 'sign':
          c.get(x).f32c(0).op(Op.f32_gt).op(Op.f32_convert_i32_s);
          c.get(x).f32c(0).op(Op.f32_lt).op(Op.f32_convert_i32_s);
          c.op(Op.f32_sub);
          return;
        case 'spike':
          c.get(x).f32c(0).op(Op.f32_ge).op(Op.f32_convert_i32_u);
          return;
        case 'not':
          c.get(x).i32c(1).op(Op.i32_xor);
          return;
      }
      throw new Error(`fusion: no wasm for unary ${op.op}`);
    }
    // binary
    const [x, y] = a;
    if (v.ty === 'bool' && argTy !== 'bool' && op.op !== 'and' && op.op !== 'or') {
      c.get(x).get(y);
      c.op(argTy === 'f32' ? F32_CMP[op.op] : I32_CMP[op.op]);
      return;
    }
    if (v.ty === 'bool') {
      c.get(x).get(y);
      c.op(op.op === 'and' ? Op.i32_and : op.op === 'or' ? Op.i32_or : I32_CMP[op.op]);
      return;
    }
    if (v.ty === 'i32') {
      if (op.op === 'max') c.get(x).get(y).get(x).get(y).op(Op.i32_gt_s).op(Op.select);
      else if (op.op === 'min') c.get(x).get(y).get(x).get(y).op(Op.i32_lt_s).op(Op.select);
      else
        c.get(x)
          .get(y)
          .op(op.op === 'add' ? Op.i32_add : op.op === 'sub' ? Op.i32_sub : Op.i32_mul);
      return;
    }
    switch (op.op) {
      case 'add':
      case 'sub':
      case 'mul':
      case 'div':
        c.get(x).get(y).op(F32_ARITH[op.op]);
        return;
      case 'max': // a < b ? b : a
        c.get(y).get(x).get(x).get(y).op(Op.f32_lt).op(Op.select);
        return;
      case 'min': // b < a ? b : a
        c.get(y).get(x).get(y).get(x).op(Op.f32_lt).op(Op.select);
        return;
      case 'sqdiff':
        c.get(x).get(y).op(Op.f32_sub).tee(this.t32).get(this.t32).op(Op.f32_mul);
        return;
    }
    throw new Error(`fusion: no wasm for binary ${op.op}`);
  }

  scalarCast(to: Ty, from: Ty, x: number): void {
    const c = this.c;
    if (to === 'f32') {
      c.get(x).op(from === 'i32' ? Op.f32_convert_i32_s : Op.f32_convert_i32_u);
    } else if (to === 'bool') {
      if (from === 'f32') c.get(x).f32c(0).op(Op.f32_ne);
      else c.get(x).i32c(0).op(Op.i32_ne);
    } else if (from === 'bool') {
      c.get(x);
    } else {
      // ToInt32: |x| < 2^31 truncates; else r = x − floor(x/2^32)·2^32, minus 2^32 if r ≥ 2^31
      c.get(x).get(x).f32c(INV_TWO32).op(Op.f32_mul).op(Op.f32_floor).f32c(TWO32).op(Op.f32_mul);
      c.op(Op.f32_sub).set(this.t32);
      c.get(x);
      c.get(this.t32).f32c(TWO32).op(Op.f32_sub).get(this.t32).get(this.t32).f32c(TWO31);
      c.op(Op.f32_ge).op(Op.select);
      c.get(x).op(Op.f32_abs).f32c(TWO31).op(Op.f32_lt).op(Op.select);
      c.fc(OpFC.i32_trunc_sat_f32_s);
    }
  }

  scalarStore(m: number, index: number | null): void {
    const c = this.c;
    const o = this.low.outputs[m];
    this.addr(this.outPtr(m), index, o.ty);
    c.get(this.scalar[o.value]);
    if (o.ty === 'f32') c.mem(Op.f32_store, 2);
    else if (o.ty === 'i32') c.mem(Op.i32_store, 2);
    else c.mem(Op.i32_store8, 0);
  }

  // ---- vector code -----------------------------------------------------------------------

  vecLoad(k: number, index: number): void {
    const c = this.c;
    const ty = this.low.inputs[k].ty;
    this.addr(k, index, ty);
    if (ty !== 'bool') {
      c.simdMem(Simd.v128_load, 2);
      return;
    }
    c.simdMem(Simd.v128_load32_zero, 0);
    c.simd(Simd.i16x8_extend_low_i8x16_u).simd(Simd.i32x4_extend_low_i16x8_u);
    c.i32x4c(0).simd(Simd.i32x4_ne);
  }

  /** Splat invariant value i (scalar local) into a vector local. */
  splat(i: number): void {
    const c = this.c;
    const v = this.low.values[i];
    if (v.ty === 'f32') c.get(this.scalar[i]).simd(Simd.f32x4_splat);
    else if (v.ty === 'i32') c.get(this.scalar[i]).simd(Simd.i32x4_splat);
    else c.i32c(0).get(this.scalar[i]).op(Op.i32_sub).simd(Simd.i32x4_splat);
    c.set(this.vec[i]);
  }

  vecOp(i: number): void {
    const c = this.c;
    const v = this.low.values[i];
    const op = v.op;
    const a = 'args' in op ? op.args.map((j) => this.vec[j]) : [];
    const argTy = 'args' in op ? this.low.values[op.args[0]].ty : v.ty;
    switch (op.kind) {
      case 'input':
        this.vecLoad(op.input, this.indexOf(op.input, true)!);
        return;
      case 'const':
        throw new Error('unreachable: constants are invariant');
      case 'select':
        c.get(a[1]).get(a[2]).get(a[0]).simd(Simd.v128_bitselect);
        return;
      case 'clip':
        c.f32x4c(op.lo).get(a[0]).simd(Simd.f32x4_pmax).set(this.tv);
        c.f32x4c(op.hi).get(this.tv).simd(Simd.f32x4_pmin);
        return;
      case 'cast':
        this.vecCast(v.ty, argTy, a[0]);
        return;
    }
    if (isLaneWise(v)) {
      const r = this.tv;
      for (let lane = 0; lane < 4; lane++) {
        if (lane > 0) c.get(r);
        for (const x of a) c.get(x).lane(Simd.f32x4_extract_lane, lane).op(Op.f64_promote_f32);
        this.f64Body(v);
        c.op(Op.f32_demote_f64);
        if (lane === 0) c.simd(Simd.f32x4_splat);
        else c.lane(Simd.f32x4_replace_lane, lane);
        c.set(r);
      }
      c.get(r);
      return;
    }
    if (op.kind === 'unary') {
      const x = a[0];
      if (v.ty === 'i32') {
        if (op.op === 'abs') c.get(x).simd(Simd.i32x4_abs);
        else if (op.op === 'neg') c.get(x).simd(Simd.i32x4_neg);
        else c.get(x).get(x).simd(Simd.i32x4_mul);
        return;
      }
      switch (op.op) {
        case 'abs':
          c.get(x).simd(Simd.f32x4_abs);
          return;
        case 'neg':
          c.get(x).simd(Simd.f32x4_neg);
          return;
        case 'sqrt':
          c.get(x).simd(Simd.f32x4_sqrt);
          return;
        case 'floor':
          c.get(x).simd(Simd.f32x4_floor);
          return;
        case 'ceil':
          c.get(x).simd(Simd.f32x4_ceil);
          return;
        case 'round':
          c.get(x).simd(Simd.f32x4_nearest);
          return;
        case 'relu':
          c.f32x4c(0).get(x).simd(Simd.f32x4_max);
          return;
        case 'square':
          c.get(x).get(x).simd(Simd.f32x4_mul);
          return;
        case 'reciprocal':
          c.f32x4c(1).get(x).simd(Simd.f32x4_div);
          return;
        case 'rsqrt':
          c.f32x4c(1).get(x).simd(Simd.f32x4_sqrt).simd(Simd.f32x4_div);
          return;
        case 'sign':
          c.get(x).f32x4c(0).simd(Simd.f32x4_gt).f32x4c(1).simd(Simd.v128_and);
          c.get(x).f32x4c(0).simd(Simd.f32x4_lt).f32x4c(1).simd(Simd.v128_and);
          c.simd(Simd.f32x4_sub);
          return;
        case 'spike':
          c.get(x).f32x4c(0).simd(Simd.f32x4_ge).f32x4c(1).simd(Simd.v128_and);
          return;
        case 'not':
          c.get(x).simd(Simd.v128_not);
          return;
      }
      throw new Error(`fusion: no wasm for unary ${op.op}`);
    }
    const [x, y] = a;
    if (v.ty === 'bool') {
      c.get(x).get(y);
      if (op.op === 'and') c.simd(Simd.v128_and);
      else if (op.op === 'or') c.simd(Simd.v128_or);
      else if (argTy === 'f32') c.simd(F32X4_CMP[op.op]);
      else if (argTy === 'i32') c.simd(I32X4_CMP[op.op]);
      else c.simd(MASK_CMP[op.op]);
      return;
    }
    if (v.ty === 'i32') {
      c.get(x).get(y).simd(I32X4_ARITH[op.op]);
      return;
    }
    switch (op.op) {
      case 'add':
      case 'sub':
      case 'mul':
      case 'div':
      case 'max':
      case 'min':
        c.get(x).get(y).simd(F32X4_ARITH[op.op]);
        return;
      case 'sqdiff':
        c.get(x).get(y).simd(Simd.f32x4_sub).tee(this.tv).get(this.tv).simd(Simd.f32x4_mul);
        return;
    }
    throw new Error(`fusion: no wasm for binary ${op.op}`);
  }

  vecCast(to: Ty, from: Ty, x: number): void {
    const c = this.c;
    if (to === 'f32') {
      if (from === 'i32') c.get(x).simd(Simd.f32x4_convert_i32x4_s);
      else c.get(x).f32x4c(1).simd(Simd.v128_and);
    } else if (to === 'bool') {
      if (from === 'f32') c.get(x).f32x4c(0).simd(Simd.f32x4_ne);
      else c.get(x).i32x4c(0).simd(Simd.i32x4_ne);
    } else if (from === 'bool') {
      c.get(x).simd(Simd.i32x4_neg);
    } else {
      const t = this.tv;
      c.get(x).get(x).f32x4c(INV_TWO32).simd(Simd.f32x4_mul).simd(Simd.f32x4_floor);
      c.f32x4c(TWO32).simd(Simd.f32x4_mul).simd(Simd.f32x4_sub).set(t);
      c.get(t).f32x4c(TWO32).simd(Simd.f32x4_sub).get(t);
      c.get(t).f32x4c(TWO31).simd(Simd.f32x4_ge).simd(Simd.v128_bitselect).set(t);
      c.get(x).get(t).get(x).simd(Simd.f32x4_abs).f32x4c(TWO31).simd(Simd.f32x4_lt);
      c.simd(Simd.v128_bitselect).simd(Simd.i32x4_trunc_sat_f32x4_s);
    }
  }

  vecStore(m: number): void {
    const c = this.c;
    const o = this.low.outputs[m];
    this.addr(this.outPtr(m), this.iLocal, o.ty);
    c.get(this.vec[o.value]);
    if (o.ty !== 'bool') {
      c.simdMem(Simd.v128_store, 2);
      return;
    }
    const t = this.tv;
    c.i32x4c(1).simd(Simd.v128_and).tee(t).get(t).simd(Simd.i16x8_narrow_i32x4_u);
    c.tee(t).get(t).simd(Simd.i8x16_narrow_i16x8_u);
    c.lane(Simd.i32x4_extract_lane, 0).mem(Op.i32_store, 0);
  }

  /** Advance the index and the wrapping counters by `step`. */
  advance(step: number): void {
    const c = this.c;
    c.get(this.iLocal).i32c(step).op(Op.i32_add).set(this.iLocal);
    for (const [k, j] of this.counters) {
      c.i32c(0).get(j).i32c(step).op(Op.i32_add).tee(j);
      c.get(j).i32c(this.low.inputs[k].size).op(Op.i32_ge_u).op(Op.select).set(j);
    }
  }

  generate(vectorize: boolean): void {
    const low = this.low;
    const c = this.c;
    const S = low.size;
    low.values.forEach((v) => {
      this.scalar.push(this.local(scalarType(v.ty)));
      this.vec.push(vectorize ? this.local(T.v128) : -1);
    });
    // prologue
    low.values.forEach((v, i) => {
      if (v.varying) return;
      this.scalarOp(i);
      c.set(this.scalar[i]);
    });
    low.outputs.forEach((o, m) => {
      if (o.size === 1) this.scalarStore(m, null);
    });
    const loopOutputs = low.outputs.map((o, m) => [o, m] as const).filter(([o]) => o.size !== 1);
    if (S <= 1 || loopOutputs.length === 0) return;
    low.inputs.forEach((inp, k) => {
      if (inp.size > 1 && inp.size < S) this.counters.set(k, this.local(T.i32));
    });
    const varying = low.values.map((v, i) => [v, i] as const).filter(([v]) => v.varying);
    const loads = varying.filter(([v]) => v.op.kind === 'input').map(([, i]) => i);
    const ops = varying.filter(([v]) => v.op.kind !== 'input').map(([, i]) => i);

    if (vectorize) {
      low.values.forEach((v, i) => {
        if (!v.varying) this.splat(i);
      });
      c.block().loop();
      c.get(this.iLocal).i32c(4).op(Op.i32_add).get(this.pN).op(Op.i32_gt_u).brIf(1);
      for (const i of [...loads, ...ops]) {
        this.vecOp(i);
        c.set(this.vec[i]);
      }
      for (const [, m] of loopOutputs) this.vecStore(m);
      this.advance(4);
      c.br(0).end().end();
    }
    c.block().loop();
    c.get(this.iLocal).get(this.pN).op(Op.i32_ge_u).brIf(1);
    for (const i of [...loads, ...ops]) {
      this.scalarOp(i);
      c.set(this.scalar[i]);
    }
    for (const [, m] of loopOutputs) this.scalarStore(m, this.iLocal);
    this.advance(1);
    c.br(0).end().end();
  }
}

const F32_ARITH: Record<string, number> = {
  add: Op.f32_add,
  sub: Op.f32_sub,
  mul: Op.f32_mul,
  div: Op.f32_div,
};
const F32_CMP: Record<string, number> = {
  gt: Op.f32_gt,
  ge: Op.f32_ge,
  lt: Op.f32_lt,
  le: Op.f32_le,
  eq: Op.f32_eq,
  ne: Op.f32_ne,
};
const I32_CMP: Record<string, number> = {
  gt: Op.i32_gt_s,
  ge: Op.i32_ge_s,
  lt: Op.i32_lt_s,
  le: Op.i32_le_s,
  eq: Op.i32_eq,
  ne: Op.i32_ne,
};
const F32X4_ARITH: Record<string, number> = {
  add: Simd.f32x4_add,
  sub: Simd.f32x4_sub,
  mul: Simd.f32x4_mul,
  div: Simd.f32x4_div,
  max: Simd.f32x4_pmax,
  min: Simd.f32x4_pmin,
};
const I32X4_ARITH: Record<string, number> = {
  add: Simd.i32x4_add,
  sub: Simd.i32x4_sub,
  mul: Simd.i32x4_mul,
  max: Simd.i32x4_max_s,
  min: Simd.i32x4_min_s,
};
const F32X4_CMP: Record<string, number> = {
  gt: Simd.f32x4_gt,
  ge: Simd.f32x4_ge,
  lt: Simd.f32x4_lt,
  le: Simd.f32x4_le,
  eq: Simd.f32x4_eq,
  ne: Simd.f32x4_ne,
};
const I32X4_CMP: Record<string, number> = {
  gt: Simd.i32x4_gt_s,
  ge: Simd.i32x4_ge_s,
  lt: Simd.i32x4_lt_s,
  le: Simd.i32x4_le_s,
  eq: Simd.i32x4_eq,
  ne: Simd.i32x4_ne,
};
/** Comparisons of bool lane masks (true = −1): a > b ⇔ mask_a < mask_b, and so on. */
const MASK_CMP: Record<string, number> = {
  gt: Simd.i32x4_lt_s,
  ge: Simd.i32x4_le_s,
  lt: Simd.i32x4_gt_s,
  le: Simd.i32x4_ge_s,
  eq: Simd.i32x4_eq,
  ne: Simd.i32x4_ne,
};

/** The generated module and what it needs. */
export interface WasmKernelCode {
  readonly bytes: Uint8Array<ArrayBuffer>;
  /** The Math functions to import (module "Math"). */
  readonly imports: readonly MathImport[];
  /** Whether the vector loop is there (else only the scalar loop). */
  readonly vectorized: boolean;
}

/** Generate the wasm module of a lowered group (see the file header). */
export function wasmModule(low: Lowered): WasmKernelCode {
  const imports = mathImportsOf(low);
  const vectorized = isVectorizable(low);
  const gen = new Gen(low, imports);
  gen.generate(vectorized);
  const nParams = low.inputs.length + low.outputs.length + 1;
  const bytes = encodeModule({
    types: [
      { params: Array<ValType>(nParams).fill(T.i32), results: [] },
      { params: [T.f64], results: [T.f64] },
      { params: [T.f64, T.f64], results: [T.f64] },
    ],
    funcImports: imports.map((m) => ({ module: 'Math', field: m, type: m === 'pow' ? 2 : 1 })),
    importMemory: true,
    func: { type: 0, locals: gen.locals, body: gen.c },
    exportName: 'run',
  });
  return { bytes, imports, vectorized };
}
