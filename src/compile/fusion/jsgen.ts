/**
 * The generated-JS kernel of a lowered group: one loop over the elements, values in JS numbers,
 * rounded to float32 (`Math.fround`) after every float op exactly where tfjs's cpu backend stores a
 * kernel result in a Float32Array, so results equal tfjs-cpu's bit for bit (transcendentals use
 * the same Math functions, composite kernels the same double-precision formulas). int32 values
 * wrap like Int32Array stores (`|0`, Math.imul); bools are 0/1. It is the cpu-backend kernel and
 * the fallback wherever the wasm SIMD kernel cannot run.
 *
 * Signature: `(ins, outs, n)`, with `ins[k]` any indexable array of input k's elements
 * (Float32Array, Int32Array, Uint8Array…), `outs[m]` a typed array of output m's dtype, `n` the
 * loop size. Inputs are all read at an index before any output is written at it (see kernel.ts for
 * the aliasing rule this gives).
 */
import type { Lowered, LValue } from './lower';

/** A compiled JS kernel. */
export type JsKernel = (
  ins: readonly ArrayLike<number>[],
  outs: readonly { [i: number]: number }[],
  n: number,
) => void;

/** A JS literal for a number (keeps -0, NaN and infinities). */
function lit(x: number): string {
  if (Object.is(x, -0)) return '-0';
  if (Number.isNaN(x)) return 'NaN';
  if (x === Infinity) return 'Infinity';
  if (x === -Infinity) return '-Infinity';
  return String(x);
}

const fr = (e: string): string => `Math.fround(${e})`;

function expr(val: LValue, a: string[], tys: readonly LValue[]): string {
  const op = val.op;
  const ty = val.ty;
  switch (op.kind) {
    case 'const':
      return lit(op.value);
    case 'input':
      throw new Error('unreachable');
    case 'select':
      return `(${a[0]} ? ${a[1]} : ${a[2]})`;
    case 'clip':
      return `(${a[0]} > ${lit(op.hi)} ? ${lit(op.hi)} : ${a[0]} < ${lit(op.lo)} ? ${lit(op.lo)} : ${a[0]})`;
    case 'cast': {
      const from = tys[op.args[0]].ty;
      if (ty === 'bool') return `(${a[0]} !== 0 ? 1 : 0)`;
      if (ty === 'i32') return from === 'f32' ? `(${a[0]} | 0)` : a[0];
      return from === 'i32' ? fr(a[0]) : a[0];
    }
    case 'unary': {
      const x = a[0];
      if (ty === 'i32') {
        if (op.op === 'abs') return `(Math.abs(${x}) | 0)`;
        if (op.op === 'neg') return `((-${x}) | 0)`;
        if (op.op === 'square') return `Math.imul(${x}, ${x})`;
      }
      switch (op.op) {
        case 'abs':
          return `Math.abs(${x})`;
        case 'neg':
          return `(-${x})`;
        case 'sqrt':
          return fr(`Math.sqrt(${x})`);
        case 'rsqrt':
          return fr(`1 / Math.sqrt(${x})`);
        case 'square':
          return fr(`${x} * ${x}`);
        case 'reciprocal':
          return fr(`1 / ${x}`);
        case 'relu':
          return `Math.max(0, ${x})`;
        case 'sigmoid':
          return fr(`1 / (1 + Math.exp(-${x}))`);
        case 'floor':
          return `Math.floor(${x})`;
        case 'ceil':
          return `Math.ceil(${x})`;
        case 'round':
          return `rint(${x})`;
        case 'sign':
          return `(${x} > 0 ? 1 : ${x} < 0 ? -1 : 0)`;
        case 'not':
          return `(${x} ^ 1)`;
        case 'spike':
          return `(${x} >= 0 ? 1 : 0)`;
        case 'exp':
        case 'log':
        case 'tanh':
        case 'expm1':
        case 'log1p':
          return fr(`Math.${op.op}(${x})`);
      }
      throw new Error(`fusion: no JS for unary ${(op as { op: string }).op}`);
    }
    case 'binary': {
      const [x, y] = a;
      if (ty === 'i32') {
        if (op.op === 'add') return `((${x} + ${y}) | 0)`;
        if (op.op === 'sub') return `((${x} - ${y}) | 0)`;
        if (op.op === 'mul') return `Math.imul(${x}, ${y})`;
      }
      switch (op.op) {
        case 'add':
          return fr(`${x} + ${y}`);
        case 'sub':
          return fr(`${x} - ${y}`);
        case 'mul':
          return fr(`${x} * ${y}`);
        case 'div':
          return fr(`${x} / ${y}`);
        case 'max':
          return `Math.max(${x}, ${y})`;
        case 'min':
          return `Math.min(${x}, ${y})`;
        case 'pow':
          return fr(`Math.pow(${x}, ${y})`);
        case 'sqdiff':
          return fr(`(${x} - ${y}) * (${x} - ${y})`);
        case 'gt':
          return `(${x} > ${y} ? 1 : 0)`;
        case 'ge':
          return `(${x} >= ${y} ? 1 : 0)`;
        case 'lt':
          return `(${x} < ${y} ? 1 : 0)`;
        case 'le':
          return `(${x} <= ${y} ? 1 : 0)`;
        case 'eq':
          return `(${x} === ${y} ? 1 : 0)`;
        case 'ne':
          return `(${x} !== ${y} ? 1 : 0)`;
        case 'and':
          return `(${x} & ${y})`;
        case 'or':
          return `(${x} | ${y})`;
      }
      throw new Error(`fusion: no JS for binary ${(op as { op: string }).op}`);
    }
  }
}

/** tfjs-cpu's Round: half to even. */
const RINT = `function rint(x) {
    const b = Math.floor(x);
    const d = x - b;
    if (d < 0.5) return b;
    if (d > 0.5) return b + 1;
    return b % 2 === 0 ? b : b + 1;
  }`;

/** The source of the JS kernel (the body of `new Function`, returning the kernel). */
export function jsSource(low: Lowered, name: string): string {
  const S = low.size;
  const L: string[] = [];
  const usesRound = low.values.some((v) => v.op.kind === 'unary' && v.op.op === 'round');
  L.push(`'use strict';`);
  if (usesRound) L.push(`  ${RINT}`);
  L.push(`return function ${name}(ins, outs, n) {`);
  low.inputs.forEach((_, k) => L.push(`  const x${k} = ins[${k}];`));
  low.outputs.forEach((_, m) => L.push(`  const y${m} = outs[${m}];`));

  const names: string[] = [];
  const counters = new Map<number, string>(); // input k -> counter name (inputs of size 1 < p < S)
  const loadExpr = (k: number, index: string): string => {
    const e = `x${k}[${index}]`;
    return low.inputs[k].ty === 'bool' ? `(${e} !== 0 ? 1 : 0)` : e;
  };
  const emit = (i: number, indent: string, out: string[]): void => {
    const val = low.values[i];
    const name = `v${i}`;
    names[i] = name;
    const op = val.op;
    if (op.kind === 'input') {
      const k = op.input;
      const size = low.inputs[k].size;
      const index = !val.varying ? '0' : size === S ? 'g' : counters.get(k)!;
      out.push(`${indent}const ${name} = ${loadExpr(k, index)};`);
      return;
    }
    const args = 'args' in op ? op.args.map((a) => names[a]) : [];
    out.push(`${indent}const ${name} = ${expr(val, args, low.values)};`);
  };

  // Before the loop: invariant values and size-1 outputs.
  low.values.forEach((v, i) => {
    if (!v.varying) emit(i, '  ', L);
  });
  low.outputs.forEach((o, m) => {
    if (o.size === 1) L.push(`  y${m}[0] = v${o.value};`);
  });
  const loopOutputs = low.outputs.map((o, m) => [o, m] as const).filter(([o]) => o.size !== 1);
  if (S > 1 && loopOutputs.length > 0) {
    low.inputs.forEach((inp, k) => {
      if (inp.size > 1 && inp.size < S) {
        counters.set(k, `j${k}`);
        L.push(`  let j${k} = 0;`);
      }
    });
    L.push(`  for (let g = 0; g < n; g++) {`);
    const body: string[] = [];
    // loads first (every input is read at g before anything is written at g), then the ops
    low.values.forEach((v, i) => {
      if (v.varying && v.op.kind === 'input') emit(i, '    ', body);
    });
    low.values.forEach((v, i) => {
      if (v.varying && v.op.kind !== 'input') emit(i, '    ', body);
    });
    L.push(...body);
    for (const [o, m] of loopOutputs) L.push(`    y${m}[g] = v${o.value};`);
    for (const [k, j] of counters) {
      L.push(`    if (++${j} === ${low.inputs[k].size}) ${j} = 0;`);
    }
    L.push(`  }`);
  }
  L.push(`};`);
  return L.join('\n');
}

/** Compile the source of `jsSource`. */
export function compileJs(source: string): JsKernel {
  return new Function(source)() as JsKernel;
}
