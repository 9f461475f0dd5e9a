/**
 * Which recorded equations can be fused, and what each computes (the element-wise op table shared
 * by the JS and wasm code generators). An equation is fusable when its kernel is in the table, its
 * dtypes are ones the table allows (float32, int32, bool), and every operand either has size 1 or
 * a shape that, without leading 1s, is a suffix of the output shape (so operand index = output
 * index mod operand size). Select needs condition, t and e of the output's exact shape (tfjs's
 * Select broadcasts a rank-1 condition along the *leading* axis, which is not element-wise).
 * Tile is fusable only as a broadcast of a size-1 tensor (what `tf.where(c, 0, x)` records);
 * Reshape is a relabelling of the same elements in the same order.
 */
import type { Equation, Var } from '../program';

/** The element types of fused code: float32, int32 and bool (0/1). */
export type Ty = 'f32' | 'i32' | 'bool';

export function tyOf(dtype: string): Ty | null {
  if (dtype === 'float32') return 'f32';
  if (dtype === 'int32') return 'i32';
  if (dtype === 'bool') return 'bool';
  return null;
}

/** Element-wise operations of the lowered code. */
export type UnaryOp =
  | 'abs'
  | 'neg'
  | 'exp'
  | 'log'
  | 'sqrt'
  | 'rsqrt'
  | 'square'
  | 'reciprocal'
  | 'relu'
  | 'sigmoid'
  | 'tanh'
  | 'floor'
  | 'ceil'
  | 'round'
  | 'sign'
  | 'expm1'
  | 'log1p'
  | 'not'
  | 'spike';
export type BinaryOp =
  | 'add'
  | 'sub'
  | 'mul'
  | 'div'
  | 'max'
  | 'min'
  | 'pow'
  | 'sqdiff'
  | 'gt'
  | 'ge'
  | 'lt'
  | 'le'
  | 'eq'
  | 'ne'
  | 'and'
  | 'or';
/** Ops computed through a JS Math function (no wasm instruction): imported into the wasm module. */
export const MATH_IMPORTS = ['exp', 'log', 'tanh', 'expm1', 'log1p', 'pow'] as const;
export type MathImport = (typeof MATH_IMPORTS)[number];

interface UnaryRule {
  readonly op: UnaryOp;
  /** Allowed input types; the output has the same type unless `out` says otherwise. */
  readonly types: readonly Ty[];
  readonly out?: Ty;
}
interface BinaryRule {
  readonly op: BinaryOp;
  readonly types: readonly Ty[];
  readonly out?: Ty;
}

const F: readonly Ty[] = ['f32'];
const FI: readonly Ty[] = ['f32', 'i32'];
const ALL: readonly Ty[] = ['f32', 'i32', 'bool'];
const B: readonly Ty[] = ['bool'];

export const UNARY: Readonly<Record<string, UnaryRule>> = {
  Abs: { op: 'abs', types: FI },
  Neg: { op: 'neg', types: FI },
  Exp: { op: 'exp', types: F },
  Log: { op: 'log', types: F },
  Sqrt: { op: 'sqrt', types: F },
  Rsqrt: { op: 'rsqrt', types: F },
  Square: { op: 'square', types: FI },
  Reciprocal: { op: 'reciprocal', types: F },
  Relu: { op: 'relu', types: F },
  Sigmoid: { op: 'sigmoid', types: F },
  Tanh: { op: 'tanh', types: F },
  Floor: { op: 'floor', types: F },
  Ceil: { op: 'ceil', types: F },
  Round: { op: 'round', types: F },
  Sign: { op: 'sign', types: F },
  Expm1: { op: 'expm1', types: F },
  Log1p: { op: 'log1p', types: F },
  LogicalNot: { op: 'not', types: B },
  BstSpike: { op: 'spike', types: F },
};

export const BINARY: Readonly<Record<string, BinaryRule>> = {
  Add: { op: 'add', types: FI },
  Sub: { op: 'sub', types: FI },
  Multiply: { op: 'mul', types: FI },
  RealDiv: { op: 'div', types: F },
  Maximum: { op: 'max', types: FI },
  Minimum: { op: 'min', types: FI },
  Pow: { op: 'pow', types: F },
  SquaredDifference: { op: 'sqdiff', types: F },
  Greater: { op: 'gt', types: ALL, out: 'bool' },
  GreaterEqual: { op: 'ge', types: ALL, out: 'bool' },
  Less: { op: 'lt', types: ALL, out: 'bool' },
  LessEqual: { op: 'le', types: ALL, out: 'bool' },
  Equal: { op: 'eq', types: ALL, out: 'bool' },
  NotEqual: { op: 'ne', types: ALL, out: 'bool' },
  LogicalAnd: { op: 'and', types: B },
  LogicalOr: { op: 'or', types: B },
};

/** Kernels that pass their input through (same values, maybe another shape of the same size). */
export const PASS_THROUGH: ReadonlySet<string> = new Set([
  'Identity',
  'BstStopGradient',
  'Reshape',
  'Tile',
]);

/** Every kernel name `isFusable` may accept. */
export const FUSABLE_KERNELS: readonly string[] = [
  ...Object.keys(UNARY),
  ...Object.keys(BINARY),
  'Select',
  'Cast',
  'ClipByValue',
  'ZerosLike',
  'OnesLike',
  'Fill',
  ...PASS_THROUGH,
];
const FUSABLE: ReadonlySet<string> = new Set(FUSABLE_KERNELS);

export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** True if `a` (without leading 1s) is a suffix of `out`: then a[i mod size(a)] is a's element for out[i]. */
export function broadcastsAsSuffix(a: readonly number[], out: readonly number[]): boolean {
  if (sizeOf(a) === 1) return true;
  let k = 0;
  while (k < a.length && a[k] === 1) k++;
  const rest = a.slice(k);
  if (rest.length > out.length) return false;
  const off = out.length - rest.length;
  return rest.every((d, i) => d === out[off + i]);
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** The input var of a kernel by name (recorded inputs keep the kernel's names), else by position. */
export function inputNamed(eq: Equation, name: string, position: number): Var | undefined {
  const hit = eq.inputs.find(([k]) => k === name);
  return hit ? hit[1] : eq.inputs[position]?.[1];
}

/** The operands of a fusable equation in the order the op table uses. */
export function operandsOf(eq: Equation): Var[] {
  const k = eq.kernel;
  if (k === 'Fill') return [];
  if (k === 'Select') {
    return [inputNamed(eq, 'condition', 0)!, inputNamed(eq, 't', 1)!, inputNamed(eq, 'e', 2)!];
  }
  if (k in BINARY) return [inputNamed(eq, 'a', 0)!, inputNamed(eq, 'b', 1)!];
  return [inputNamed(eq, 'x', 0)!];
}

function expectedArity(kernel: string): number {
  if (kernel === 'Fill') return 0;
  if (kernel === 'Select') return 3;
  if (kernel in BINARY) return 2;
  return 1;
}

/**
 * True if the equation can be part of a fused element-wise kernel (see the file header for the
 * rules). customGrad calls, kernels outside the table, other dtypes (complex64, string), empty
 * tensors and other broadcasting patterns are not fusable.
 */
export function isFusable(eq: Equation): boolean {
  if (eq.body !== undefined || eq.outputs.length !== 1) return false;
  const k = eq.kernel;
  if (!FUSABLE.has(k)) return false;
  if (eq.inputs.length !== expectedArity(k)) return false;
  const out = eq.outputs[0];
  const outTy = tyOf(out.dtype);
  if (outTy === null || sizeOf(out.shape) === 0) return false;
  if (k === 'Fill') return typeof eq.attrs.value === 'number' && Number.isFinite(eq.attrs.value);
  const ops = operandsOf(eq);
  if (ops.some((v) => v === undefined)) return false;
  const tys = ops.map((v) => tyOf(v.dtype));
  if (tys.some((t) => t === null)) return false;
  const outSize = sizeOf(out.shape);

  if (PASS_THROUGH.has(k)) {
    const x = ops[0];
    if (x.dtype !== out.dtype) return false;
    if (k === 'Tile') return sizeOf(x.shape) === 1;
    return sizeOf(x.shape) === outSize;
  }
  if (k === 'Cast') {
    return eq.attrs.dtype === out.dtype && sizeOf(ops[0].shape) === outSize;
  }
  if (k === 'ZerosLike' || k === 'OnesLike') {
    return ops[0].dtype === out.dtype && sizeOf(ops[0].shape) === outSize;
  }
  if (k === 'ClipByValue') {
    return (
      tys[0] === 'f32' &&
      outTy === 'f32' &&
      sameShape(ops[0].shape, out.shape) &&
      typeof eq.attrs.clipValueMin === 'number' &&
      typeof eq.attrs.clipValueMax === 'number'
    );
  }
  if (k === 'Select') {
    return (
      tys[0] === 'bool' &&
      tys[1] === outTy &&
      tys[2] === outTy &&
      ops.every((v) => sameShape(v.shape, out.shape))
    );
  }
  const rule = UNARY[k] ?? BINARY[k];
  const inTy = tys[0]!;
  if (!rule.types.includes(inTy) || tys.some((t) => t !== inTy)) return false;
  if ((rule.out ?? inTy) !== outTy) return false;
  return ops.every((v) => broadcastsAsSuffix(v.shape, out.shape));
}
