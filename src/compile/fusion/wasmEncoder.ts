/**
 * A minimal WebAssembly binary encoder: enough to emit one module that imports a memory and a few
 * JS Math functions and exports one function (no text format, no wabt at run time). Opcode
 * numbers follow the WebAssembly core spec 2.0 and the fixed-width SIMD proposal (prefix 0xfd,
 * then the LEB128-encoded instruction number); the fusion tests disassemble generated modules
 * with wabt to check them.
 */

/** Value types. */
export const T = { i32: 0x7f, i64: 0x7e, f32: 0x7d, f64: 0x7c, v128: 0x7b } as const;
export type ValType = (typeof T)[keyof typeof T];

/** Single-byte (core) opcodes used by the generator. */
export const Op = {
  block: 0x02,
  loop: 0x03,
  if: 0x04,
  else: 0x05,
  end: 0x0b,
  br: 0x0c,
  br_if: 0x0d,
  return: 0x0f,
  call: 0x10,
  drop: 0x1a,
  select: 0x1b,
  local_get: 0x20,
  local_set: 0x21,
  local_tee: 0x22,
  i32_load: 0x28,
  f32_load: 0x2a,
  i32_load8_u: 0x2d,
  i32_store: 0x36,
  f32_store: 0x38,
  i32_store8: 0x3a,
  i32_const: 0x41,
  f32_const: 0x43,
  f64_const: 0x44,
  i32_eqz: 0x45,
  i32_eq: 0x46,
  i32_ne: 0x47,
  i32_lt_s: 0x48,
  i32_lt_u: 0x49,
  i32_gt_s: 0x4a,
  i32_gt_u: 0x4b,
  i32_le_s: 0x4c,
  i32_le_u: 0x4d,
  i32_ge_s: 0x4e,
  i32_ge_u: 0x4f,
  f32_eq: 0x5b,
  f32_ne: 0x5c,
  f32_lt: 0x5d,
  f32_gt: 0x5e,
  f32_le: 0x5f,
  f32_ge: 0x60,
  i32_add: 0x6a,
  i32_sub: 0x6b,
  i32_mul: 0x6c,
  i32_and: 0x71,
  i32_or: 0x72,
  i32_xor: 0x73,
  i32_shl: 0x74,
  f32_abs: 0x8b,
  f32_neg: 0x8c,
  f32_ceil: 0x8d,
  f32_floor: 0x8e,
  f32_trunc: 0x8f,
  f32_nearest: 0x90,
  f32_sqrt: 0x91,
  f32_add: 0x92,
  f32_sub: 0x93,
  f32_mul: 0x94,
  f32_div: 0x95,
  f32_min: 0x96,
  f32_max: 0x97,
  f64_neg: 0x9a,
  f64_sqrt: 0x9f,
  f64_add: 0xa0,
  f64_sub: 0xa1,
  f64_mul: 0xa2,
  f64_div: 0xa3,
  f32_convert_i32_s: 0xb2,
  f32_convert_i32_u: 0xb3,
  f32_demote_f64: 0xb6,
  f64_promote_f32: 0xbb,
} as const;

/** 0xfc-prefixed opcodes. */
export const OpFC = { i32_trunc_sat_f32_s: 0x00 } as const;

/** 0xfd-prefixed (SIMD) opcodes. */
export const Simd = {
  v128_load: 0x00,
  v128_store: 0x0b,
  v128_const: 0x0c,
  i8x16_shuffle: 0x0d,
  i32x4_splat: 0x11,
  f32x4_splat: 0x13,
  i32x4_extract_lane: 0x1b,
  f32x4_extract_lane: 0x1f,
  f32x4_replace_lane: 0x20,
  i32x4_eq: 0x37,
  i32x4_ne: 0x38,
  i32x4_lt_s: 0x39,
  i32x4_gt_s: 0x3b,
  i32x4_le_s: 0x3d,
  i32x4_ge_s: 0x3f,
  f32x4_eq: 0x41,
  f32x4_ne: 0x42,
  f32x4_lt: 0x43,
  f32x4_gt: 0x44,
  f32x4_le: 0x45,
  f32x4_ge: 0x46,
  v128_not: 0x4d,
  v128_and: 0x4e,
  v128_andnot: 0x4f,
  v128_or: 0x50,
  v128_xor: 0x51,
  v128_bitselect: 0x52,
  v128_load32_zero: 0x5c,
  i8x16_narrow_i16x8_u: 0x66,
  f32x4_ceil: 0x67,
  f32x4_floor: 0x68,
  f32x4_nearest: 0x6a,
  i16x8_narrow_i32x4_u: 0x86,
  i16x8_extend_low_i8x16_u: 0x89,
  i32x4_abs: 0xa0,
  i32x4_neg: 0xa1,
  i32x4_extend_low_i16x8_u: 0xa9,
  i32x4_add: 0xae,
  i32x4_sub: 0xb1,
  i32x4_mul: 0xb5,
  i32x4_min_s: 0xb6,
  i32x4_max_s: 0xb8,
  f32x4_abs: 0xe0,
  f32x4_neg: 0xe1,
  f32x4_sqrt: 0xe3,
  f32x4_add: 0xe4,
  f32x4_sub: 0xe5,
  f32x4_mul: 0xe6,
  f32x4_div: 0xe7,
  f32x4_min: 0xe8,
  f32x4_max: 0xe9,
  f32x4_pmin: 0xea,
  f32x4_pmax: 0xeb,
  i32x4_trunc_sat_f32x4_s: 0xf8,
  f32x4_convert_i32x4_s: 0xfa,
} as const;

const BLOCK_VOID = 0x40;

/** Growable byte buffer with the encodings the generator needs. */
export class Bytes {
  private buf = new Uint8Array(256);
  length = 0;

  byte(b: number): this {
    if (this.length === this.buf.length) {
      const next = new Uint8Array(this.buf.length * 2);
      next.set(this.buf);
      this.buf = next;
    }
    this.buf[this.length++] = b & 0xff;
    return this;
  }

  bytes(bs: ArrayLike<number>): this {
    for (let i = 0; i < bs.length; i++) this.byte(bs[i]);
    return this;
  }

  /** Unsigned LEB128. */
  u32(n: number): this {
    let x = n >>> 0;
    do {
      let b = x & 0x7f;
      x >>>= 7;
      if (x !== 0) b |= 0x80;
      this.byte(b);
    } while (x !== 0);
    return this;
  }

  /** Signed LEB128 (32-bit). */
  s32(n: number): this {
    let x = n | 0;
    for (;;) {
      const b = x & 0x7f;
      x >>= 7;
      const done = (x === 0 && (b & 0x40) === 0) || (x === -1 && (b & 0x40) !== 0);
      this.byte(done ? b : b | 0x80);
      if (done) return this;
    }
  }

  f32(x: number): this {
    const a = new Uint8Array(new Float32Array([x]).buffer);
    return this.bytes(a);
  }

  f64(x: number): this {
    const a = new Uint8Array(new Float64Array([x]).buffer);
    return this.bytes(a);
  }

  name(s: string): this {
    const enc = new TextEncoder().encode(s);
    return this.u32(enc.length).bytes(enc);
  }

  /** A length-prefixed copy of another buffer. */
  sized(b: Bytes): this {
    return this.u32(b.length).bytes(b.toArray());
  }

  toArray(): Uint8Array<ArrayBuffer> {
    return this.buf.slice(0, this.length);
  }
}

/** Instruction emitter over a Bytes buffer. */
export class Code extends Bytes {
  op(o: number): this {
    return this.byte(o);
  }
  simd(o: number): this {
    return this.byte(0xfd).u32(o);
  }
  fc(o: number): this {
    return this.byte(0xfc).u32(o);
  }
  get(i: number): this {
    return this.byte(Op.local_get).u32(i);
  }
  set(i: number): this {
    return this.byte(Op.local_set).u32(i);
  }
  tee(i: number): this {
    return this.byte(Op.local_tee).u32(i);
  }
  i32c(n: number): this {
    return this.byte(Op.i32_const).s32(n);
  }
  f32c(x: number): this {
    return this.byte(Op.f32_const).f32(x);
  }
  f64c(x: number): this {
    return this.byte(Op.f64_const).f64(x);
  }
  /** Memory access with alignment exponent and offset 0. */
  mem(o: number, align: number): this {
    return this.byte(o).u32(align).u32(0);
  }
  simdMem(o: number, align: number): this {
    return this.simd(o).u32(align).u32(0);
  }
  /** v128.const from 4 f32 lanes. */
  f32x4c(x: number): this {
    this.simd(Simd.v128_const);
    for (let i = 0; i < 4; i++) this.f32(x);
    return this;
  }
  /** v128.const from 4 i32 lanes. */
  i32x4c(n: number): this {
    this.simd(Simd.v128_const);
    const a = new Uint8Array(new Int32Array([n, n, n, n]).buffer);
    return this.bytes(a);
  }
  lane(o: number, lane: number): this {
    return this.simd(o).byte(lane);
  }
  shuffle(lanes: readonly number[]): this {
    return this.simd(Simd.i8x16_shuffle).bytes(lanes);
  }
  block(): this {
    return this.byte(Op.block).byte(BLOCK_VOID);
  }
  loop(): this {
    return this.byte(Op.loop).byte(BLOCK_VOID);
  }
  end(): this {
    return this.byte(Op.end);
  }
  brIf(depth: number): this {
    return this.byte(Op.br_if).u32(depth);
  }
  br(depth: number): this {
    return this.byte(Op.br).u32(depth);
  }
  call(f: number): this {
    return this.byte(Op.call).u32(f);
  }
}

export interface FuncType {
  readonly params: readonly ValType[];
  readonly results: readonly ValType[];
}

export interface ModuleSpec {
  readonly types: readonly FuncType[];
  /** Imported functions: module, field, type index (they take function indices 0…k−1). */
  readonly funcImports: readonly { module: string; field: string; type: number }[];
  /** Import a memory as env.memory (minimum 0 pages, no maximum). */
  readonly importMemory: boolean;
  /** The one defined function. */
  readonly func: {
    readonly type: number;
    readonly locals: readonly ValType[];
    readonly body: Code;
  };
  readonly exportName: string;
}

function section(out: Bytes, id: number, content: Bytes): void {
  out.byte(id).sized(content);
}

/** Encode a module (see ModuleSpec). */
export function encodeModule(spec: ModuleSpec): Uint8Array<ArrayBuffer> {
  const out = new Bytes().bytes([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);

  const types = new Bytes().u32(spec.types.length);
  for (const t of spec.types) {
    types.byte(0x60).u32(t.params.length).bytes(t.params).u32(t.results.length).bytes(t.results);
  }
  section(out, 1, types);

  const imports = new Bytes().u32(spec.funcImports.length + (spec.importMemory ? 1 : 0));
  if (spec.importMemory) imports.name('env').name('memory').byte(0x02).byte(0x00).u32(0);
  for (const f of spec.funcImports) imports.name(f.module).name(f.field).byte(0x00).u32(f.type);
  section(out, 2, imports);

  section(out, 3, new Bytes().u32(1).u32(spec.func.type));

  const funcIndex = spec.funcImports.length;
  section(out, 7, new Bytes().u32(1).name(spec.exportName).byte(0x00).u32(funcIndex));

  // locals: run-length groups of equal types, in declaration order
  const groups: [number, ValType][] = [];
  for (const t of spec.func.locals) {
    const last = groups[groups.length - 1];
    if (last && last[1] === t) last[0]++;
    else groups.push([1, t]);
  }
  const fn = new Bytes().u32(groups.length);
  for (const [n, t] of groups) fn.u32(n).byte(t);
  fn.bytes(spec.func.body.toArray()).byte(Op.end);
  section(out, 10, new Bytes().u32(1).sized(fn));
  return out.toArray();
}
