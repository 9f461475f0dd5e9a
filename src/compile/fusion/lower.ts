/**
 * Lower a fusion group to a small SSA form both code generators read: typed values (group inputs,
 * constants, element-wise ops), each either varying along the loop or loop-invariant (computed
 * once before the loop: constants, size-1 inputs and ops on those only), plus the outputs to store.
 * Pass-through kernels (Identity, BstStopGradient, Reshape, Tile of a scalar, Cast to the same
 * dtype) only rename values; ZerosLike/OnesLike become constants; values nothing needs are dropped.
 */
import type { Equation, Var } from '../program';
import type { FusionGroup } from './partition';
import {
  BINARY,
  PASS_THROUGH,
  UNARY,
  operandsOf,
  sizeOf,
  tyOf,
  type BinaryOp,
  type Ty,
  type UnaryOp,
} from './ops';

export type LOp =
  | { readonly kind: 'input'; readonly input: number }
  | { readonly kind: 'const'; readonly value: number }
  | { readonly kind: 'unary'; readonly op: UnaryOp; readonly args: readonly [number] }
  | { readonly kind: 'binary'; readonly op: BinaryOp; readonly args: readonly [number, number] }
  | { readonly kind: 'select'; readonly args: readonly [number, number, number] }
  | { readonly kind: 'cast'; readonly args: readonly [number] }
  | {
      readonly kind: 'clip';
      readonly args: readonly [number];
      readonly lo: number;
      readonly hi: number;
    };

export interface LValue {
  readonly ty: Ty;
  readonly op: LOp;
  /** False when the value is the same at every loop index (computed once, before the loop). */
  readonly varying: boolean;
}

export interface LInput {
  readonly ty: Ty;
  /** Element count: 1 (read once), the loop size, or a divisor (read at index mod size). */
  readonly size: number;
}

export interface LOutput {
  readonly value: number;
  readonly ty: Ty;
  /** 1 (stored once) or the loop size. */
  readonly size: number;
}

export interface Lowered {
  readonly size: number;
  readonly inputs: readonly LInput[];
  /** Topologically ordered; only values some output needs. */
  readonly values: readonly LValue[];
  readonly outputs: readonly LOutput[];
}

class Builder {
  readonly values: LValue[] = [];
  private readonly memo = new Map<string, number>();

  add(ty: Ty, op: LOp, varying: boolean): number {
    const key = JSON.stringify([ty, op]);
    const hit = this.memo.get(key);
    if (hit !== undefined) return hit;
    this.values.push({ ty, op, varying });
    const id = this.values.length - 1;
    this.memo.set(key, id);
    return id;
  }
}

/** Lower a group (see the file header). */
export function lowerGroup(group: FusionGroup): Lowered {
  const S = group.size;
  const b = new Builder();
  const valueOf = new Map<Var, number>();
  const inputs: LInput[] = group.inputs.map((v) => ({ ty: tyOf(v.dtype)!, size: sizeOf(v.shape) }));

  const varyingOf = (ids: readonly number[]): boolean => ids.some((i) => b.values[i].varying);
  const get = (v: Var): number => {
    const known = valueOf.get(v);
    if (known !== undefined) return known;
    const c = group.constants.get(v);
    if (c !== undefined) {
      const id = b.add(tyOf(v.dtype)!, { kind: 'const', value: c }, false);
      valueOf.set(v, id);
      return id;
    }
    const k = group.inputs.indexOf(v);
    if (k < 0) throw new Error(`fusion: group ${group.id} reads var ${v.id} it has no value for`);
    const id = b.add(inputs[k].ty, { kind: 'input', input: k }, S > 1 && inputs[k].size > 1);
    valueOf.set(v, id);
    return id;
  };

  for (const eq of group.equations)
    valueOf.set(eq.outputs[0], lowerEquation(eq, b, get, varyingOf));

  // Keep only what the outputs need, renumbered in order.
  const outs = group.outputs.map((v) => valueOf.get(v)!);
  const needed = new Set<number>();
  const mark = (i: number): void => {
    if (needed.has(i)) return;
    needed.add(i);
    const op = b.values[i].op;
    if ('args' in op) op.args.forEach(mark);
  };
  outs.forEach(mark);
  const renumber = new Map<number, number>();
  const values: LValue[] = [];
  b.values.forEach((val, i) => {
    if (!needed.has(i)) return;
    renumber.set(i, values.length);
    const op = val.op;
    values.push(
      'args' in op
        ? { ...val, op: { ...op, args: op.args.map((a) => renumber.get(a)!) } as unknown as LOp }
        : val,
    );
  });
  return {
    size: S,
    inputs,
    values,
    outputs: group.outputs.map((v, k) => ({
      value: renumber.get(outs[k])!,
      ty: tyOf(v.dtype)!,
      size: sizeOf(v.shape),
    })),
  };
}

function lowerEquation(
  eq: Equation,
  b: Builder,
  get: (v: Var) => number,
  varyingOf: (ids: readonly number[]) => boolean,
): number {
  const out = eq.outputs[0];
  const ty = tyOf(out.dtype)!;
  const k = eq.kernel;
  if (k === 'ZerosLike' || k === 'OnesLike') {
    return b.add(ty, { kind: 'const', value: k === 'OnesLike' ? 1 : 0 }, false);
  }
  if (k === 'Fill') {
    const v = eq.attrs.value as number;
    const value =
      out.dtype === 'float32' ? Math.fround(v) : out.dtype === 'bool' ? (v !== 0 ? 1 : 0) : v;
    return b.add(ty, { kind: 'const', value }, false);
  }
  const args = operandsOf(eq).map(get);
  const varying = varyingOf(args);
  if (PASS_THROUGH.has(k)) return args[0];
  if (k === 'Cast') {
    if (b.values[args[0]].ty === ty) return args[0];
    return b.add(ty, { kind: 'cast', args: [args[0]] }, varying);
  }
  if (k === 'ClipByValue') {
    const lo = Math.fround(eq.attrs.clipValueMin as number);
    const hi = Math.fround(eq.attrs.clipValueMax as number);
    return b.add(ty, { kind: 'clip', args: [args[0]], lo, hi }, varying);
  }
  if (k === 'Select') {
    return b.add(ty, { kind: 'select', args: [args[0], args[1], args[2]] }, varying);
  }
  const u = UNARY[k];
  if (u) return b.add(ty, { kind: 'unary', op: u.op, args: [args[0]] }, varying);
  const bin = BINARY[k];
  return b.add(ty, { kind: 'binary', op: bin.op, args: [args[0], args[1]] }, varying);
}
