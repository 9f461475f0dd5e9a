/**
 * Fusion of element-wise kernels (src/compile/fusion): partitioning recorded programs, the
 * generated JS and wasm SIMD kernels against eager tfjs (the recorded kernels replayed by the IR
 * interpreter, which is bit-identical to eager), in-place runs on tfjs buffers, no leaks, and
 * what is not fused. Runs on wasm and cpu like every test file.
 */
import wabtInit from 'wabt';
import { afterAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf';
import { getPlatform } from '../../src/backend/platform';
import { evaluate, inputEnv, makeIR, Program, Var, type Equation } from '../../src/compile';
import {
  bindFusedInPlace,
  compileGroup,
  evaluatePlan,
  fusedImplementation,
  instantiateFused,
  isFusable,
  partition,
  registerFused,
  runFused,
  runFusedInPlace,
  setFusionWasmMode,
  wasmSimdSupported,
  type FusedKernel,
} from '../../src/compile/fusion';
import { ArgumentError } from '../../src/errors';
import * as environ from '../../src/environ';
import { graph, nn, random } from '../../src/index';
import { runSpike, stopGradient } from '../../src/surrogate/kernels';

const platform = getPlatform();
const compiledKernels: FusedKernel[] = [];

// ---- data and comparisons ---------------------------------------------------------------------

/** Deterministic float32 data in [lo, hi) with zeros and exact halves sprinkled in. */
function data(n: number, seed: number, lo = -3, hi = 3, specials = true): Float32Array {
  const out = new Float32Array(n);
  let s = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const u = s / 4294967296;
    out[i] =
      specials && i % 7 === 3
        ? 0
        : specials && i % 11 === 5
          ? Math.round(lo + (hi - lo) * u) + 0.5
          : lo + (hi - lo) * u;
  }
  return out;
}

function same(a: number, b: number): boolean {
  return a === b || (Number.isNaN(a) && Number.isNaN(b));
}

function close(a: number, b: number, rel: number): boolean {
  return same(a, b) || Math.abs(a - b) <= rel * Math.max(Math.abs(a), Math.abs(b));
}

function expectValues(
  got: ArrayLike<number>,
  want: ArrayLike<number>,
  rel: number,
  what: string,
): void {
  expect(got.length, what).toBe(want.length);
  let bad = -1;
  for (let i = 0; i < want.length && bad < 0; i++) {
    if (!(rel === 0 ? same(got[i], want[i]) : close(got[i], want[i], rel))) bad = i;
  }
  if (bad >= 0) {
    expect.fail(`${what}: element ${bad} is ${got[bad]}, expected ${want[bad]} (rel ${rel})`);
  }
}

// ---- the check of one recorded program --------------------------------------------------------

interface Case {
  name: string;
  fn: (...args: tf.Tensor[]) => tf.Tensor | tf.Tensor[] | Record<string, tf.Tensor>;
  args: () => tf.Tensor[];
  /** Relative tolerance against eager (0: bit for bit). */
  rel?: number;
  /** Relative tolerance between the JS and the wasm kernel (default: `rel`; null: not compared). */
  jsVsWasm?: number | null;
  /** Expected number of groups with minSize 1 (checked if given). */
  groups?: number;
  /** Whether the largest group's wasm kernel has a vector loop (checked if given). */
  vectorized?: boolean;
}

/** Run a kernel's wasm module on its own memory with copies of the inputs. */
function runWasmOwnMemory(
  kernel: FusedKernel,
  inputs: ArrayLike<number>[],
): tf.TypedArray[] | null {
  const bytesOf = (dtype: string, n: number) => (dtype === 'bool' ? n : 4 * n);
  const specs = [...kernel.inputs, ...kernel.outputs];
  const offsets: number[] = [];
  let top = 64;
  for (const s of specs) {
    offsets.push(top);
    top += Math.ceil((bytesOf(s.dtype, s.size) + 16) / 16) * 16;
  }
  const memory = new WebAssembly.Memory({ initial: Math.ceil(top / 65536) + 1 });
  const run = instantiateFused(kernel, memory);
  if (run === null) return null;
  const view = (k: number): tf.TypedArray => {
    const s = specs[k];
    if (s.dtype === 'float32') return new Float32Array(memory.buffer, offsets[k], s.size);
    if (s.dtype === 'int32') return new Int32Array(memory.buffer, offsets[k], s.size);
    return new Uint8Array(memory.buffer, offsets[k], s.size);
  };
  inputs.forEach((a, k) => view(k).set(a));
  run(...offsets, kernel.size);
  return kernel.outputs.map((_, m) => view(kernel.inputs.length + m).slice());
}

function hasF32Rounding(kernel: FusedKernel): boolean {
  return kernel.lowered.values.some(
    (v) => v.op.kind !== 'input' && 'op' in v.op && (v.op.op === 'rsqrt' || v.op.op === 'sqdiff'),
  );
}

function checkCase(c: Case): Program {
  const args = c.args();
  const program = makeIR(c.fn, { name: c.name })(...args);
  const env = inputEnv(program, new Map(args.map((t, i) => [String(i), t])));
  const plan = partition(program, { minSize: 1 });
  if (c.groups !== undefined) expect(plan.groups.length, plan.toString()).toBe(c.groups);
  const rel = c.rel ?? 0;
  if (c.vectorized !== undefined) {
    const largest = plan.groups.reduce((a, b) => (b.size > a.size ? b : a));
    expect(compileGroup(largest).wasm.vectorized, c.name).toBe(c.vectorized);
  }
  const wanted = [...new Set(plan.groups.flatMap((g) => [...g.inputs, ...g.outputs]))];
  const ref = evaluate(program, env, { outputs: wanted });
  for (const g of plan.groups) {
    const kernel = compileGroup(g);
    compiledKernels.push(kernel);
    const ins = g.inputs.map((v) => ref.get(v)!);
    // registered kernel
    const outs = runFused(kernel, ins);
    outs.forEach((t, m) => {
      const want = ref.get(g.outputs[m])!;
      expect(t.dtype).toBe(want.dtype);
      expect(t.shape).toEqual(want.shape);
      expectValues(t.dataSync(), want.dataSync(), rel, `${c.name} group ${g.id} output ${m}`);
    });
    // in place, into fresh buffers
    const into = kernel.outputs.map((o) => tf.zeros(o.shape as number[], o.dtype));
    runFusedInPlace(kernel, ins, into);
    into.forEach((t, m) =>
      expectValues(
        t.dataSync(),
        ref.get(g.outputs[m])!.dataSync(),
        rel,
        `${c.name} group ${g.id} in-place output ${m}`,
      ),
    );
    // the JS kernel and the wasm kernel agree with each other (independent of the backend)
    const arrays = ins.map((t) => t.dataSync());
    const jsOuts = kernel.outputs.map((o) =>
      o.dtype === 'float32'
        ? new Float32Array(o.size)
        : o.dtype === 'int32'
          ? new Int32Array(o.size)
          : new Uint8Array(o.size),
    );
    kernel.js(arrays, jsOuts, kernel.size);
    const wasmOuts = runWasmOwnMemory(kernel, arrays);
    if (wasmSimdSupported()) expect(wasmOuts).not.toBeNull();
    const tol =
      c.jsVsWasm === undefined ? (hasF32Rounding(kernel) ? Math.max(rel, 3e-7) : rel) : c.jsVsWasm;
    if (tol !== null) {
      wasmOuts?.forEach((a, m) =>
        expectValues(a, jsOuts[m], tol, `${c.name} group ${g.id} wasm vs JS output ${m}`),
      );
    }
    tf.dispose([...outs, ...into]);
  }
  // the whole program through the plan equals eager
  const fused = evaluatePlan(plan, env);
  const eager = evaluate(program, env);
  for (const o of program.outputs) {
    expectValues(
      fused.get(o.var)!.dataSync(),
      eager.get(o.var)!.dataSync(),
      rel,
      `${c.name} program output ${o.target.kind === 'result' ? o.target.path : 'state'}`,
    );
  }
  const given = new Set(args);
  tf.dispose(
    [...ref.values(), ...fused.values(), ...eager.values()].filter(
      (t) => !given.has(t) && !t.isDisposed,
    ),
  );
  tf.dispose(args);
  return program;
}

const t1 = (n: number, seed: number, lo?: number, hi?: number) =>
  tf.tensor1d(data(n, seed, lo, hi));
const t2 = (b: number, n: number, seed: number, lo?: number, hi?: number) =>
  tf.tensor2d(data(b * n, seed, lo, hi), [b, n]);

// ---- cases ------------------------------------------------------------------------------------

const SIZES = [1, 3, 4, 7, 1003];

function lifWhere(V: tf.Tensor, I: tf.Tensor, decay: tf.Tensor): tf.Tensor[] {
  const v = tf.add(tf.mul(V, decay), tf.mul(I, tf.sub(1, decay)));
  const s = tf.cast(tf.greaterEqual(v, 1), 'float32');
  const vNew = tf.where(tf.cast(s, 'bool'), 0, v);
  return [s, vNew];
}

function cases(n: number): Case[] {
  return [
    {
      name: `lif-where-${n}`,
      fn: lifWhere,
      args: () => [t1(n, 1, -1, 1.5), t1(n, 2, 0, 5), tf.scalar(0.9)],
      groups: 1,
    },
    {
      name: `lif-spike-soft-${n}`,
      fn: (V, I) => {
        const v = tf.add(tf.mul(V, 0.99), tf.mul(I, 0.01));
        const s = runSpike(tf.sub(v, 1), 'ReluGrad', [0.3, 1]);
        return [s, tf.sub(v, tf.mul(stopGradient(v), s))];
      },
      args: () => [t1(n, 3, -1, 1.2), t1(n, 4, 0, 20)],
      groups: 1,
    },
    {
      name: `exact-unary-binary-${n}`,
      fn: (x, y) => [
        tf.abs(x),
        tf.neg(x),
        tf.floor(x),
        tf.ceil(x),
        tf.round(x),
        tf.sign(x),
        tf.relu(x),
        tf.square(x),
        tf.reciprocal(tf.add(x, 0.25)),
        tf.sqrt(tf.abs(x)),
        tf.rsqrt(tf.add(tf.abs(x), 0.1)),
        tf.squaredDifference(x, y),
        tf.clipByValue(x, -1, 0.7),
        tf.maximum(x, y),
        tf.minimum(x, 0.5),
        tf.div(x, tf.add(tf.abs(y), 1)),
        tf.sub(tf.mul(x, y), tf.add(x, 2)),
      ],
      args: () => [t1(n, 5), t1(n, 6)],
      groups: 1,
    },
    {
      name: `transcendental-${n}`,
      fn: (x) => [
        tf.exp(x),
        tf.log(tf.add(tf.abs(x), 0.01)),
        tf.tanh(x),
        tf.sigmoid(x),
        tf.expm1(x),
        tf.log1p(tf.add(tf.abs(x), 0.5)),
        tf.pow(tf.add(tf.abs(x), 0.1), 1.7),
        tf.mul(tf.exp(tf.neg(tf.square(x))), 2),
      ],
      args: () => [t1(n, 7)],
      rel: 1e-6,
      groups: 1,
    },
    {
      name: `compare-select-cast-${n}`,
      fn: (x, y) => {
        const a = tf.greater(x, 0);
        const b = tf.lessEqual(y, 0.5);
        const m = tf.logicalAnd(a, tf.logicalNot(b));
        const z = tf.where(tf.logicalOr(m, tf.equal(x, y)), x, y);
        const xi = tf.cast(tf.mul(x, 10), 'int32');
        const yi = tf.cast(tf.mul(y, 1e9), 'int32'); // wraps modulo 2^32 beyond 2^31
        const ints = tf.add(tf.mul(xi, xi), tf.maximum(xi, tf.minimum(yi, tf.abs(xi))));
        return {
          m,
          z,
          ints,
          back: tf.cast(tf.sub(ints, tf.neg(xi)), 'float32'),
          chosen: tf.where(m, xi, tf.square(xi)),
          boolCmp: [tf.greater(a, b), tf.lessEqual(a, b), tf.less(a, b), tf.greaterEqual(a, b)],
          asFloat: tf.add(tf.cast(m, 'float32'), tf.cast(tf.cast(a, 'int32'), 'float32')),
          intCmp: tf.cast(tf.less(xi, tf.cast(tf.mul(y, 10), 'int32')), 'int32'),
        } as unknown as Record<string, tf.Tensor>;
      },
      args: () => [t1(n, 8), t1(n, 9)],
      groups: 1,
    },
    {
      name: `special-values-${n}`,
      fn: (x, y) => [
        tf.maximum(x, y),
        tf.minimum(x, y),
        tf.clipByValue(x, -1, 1),
        tf.relu(x),
        tf.abs(x),
        tf.sign(x),
        tf.greater(x, y),
        tf.notEqual(x, y),
        tf.cast(x, 'int32'),
        tf.where(tf.greater(x, y), x, y),
      ],
      args: () => {
        const specials = [NaN, -0, 0, Infinity, -Infinity, 3e9, -3e9, 2.5, -2.5, 1];
        const a = Float32Array.from({ length: n }, (_, i) => specials[i % specials.length]);
        const b = Float32Array.from(
          { length: n },
          (_, i) => specials[(i * 3 + 1) % specials.length],
        );
        return [tf.tensor1d(a), tf.tensor1d(b)];
      },
      // NaN conventions of Maximum/Minimum/ClipByValue follow each backend (kernel.ts)
      jsVsWasm: null,
    },
    {
      name: `scalar-args-${n}`,
      fn: (x, a) => {
        const s = tf.mul(a, 2); // a size-1 value computed once, also an output
        return [s, tf.relu(tf.sub(tf.mul(x, s), a)), tf.add(tf.zerosLike(x), tf.onesLike(x))];
      },
      args: () => [t1(n, 10), tf.scalar(0.75)],
      groups: 1,
    },
  ];
}

function broadcastCases(): Case[] {
  return [6, 8].flatMap((n) => [
    {
      name: `broadcast-row-${n}`,
      fn: (x: tf.Tensor, p: tf.Tensor, q: tf.Tensor) => [
        tf.add(tf.mul(x, p), tf.sub(1, p)),
        tf.where(tf.greater(x, q), x, tf.mul(q, x)),
        tf.cast(tf.greater(p, x), 'float32'),
      ],
      args: () => [t2(3, n, 11), t1(n, 12), t2(3, n, 13)],
      vectorized: n % 4 === 0, // the [n] operand is read at index mod n
      groups: 2, // 1 − p is computed over [n] first, then the [3, n] group reads it
    },
    {
      name: `broadcast-3d-${n}`,
      fn: (x: tf.Tensor, p: tf.Tensor, r: tf.Tensor) => tf.sub(tf.mul(x, p), r),
      args: () => [
        tf.tensor3d(data(2 * 3 * n, 14), [2, 3, n]),
        t1(n, 15),
        tf.tensor3d(data(3 * n, 16), [1, 3, n]),
      ],
      groups: 1,
    },
  ]);
}

// ---- tests ------------------------------------------------------------------------------------

describe(`fusion (${platform})`, () => {
  afterAll(() => {
    setFusionWasmMode('wasm');
  });

  it('fused kernels equal eager on LIF steps, broadcasting, scalars, casts, compares and selects', () => {
    const before = tf.memory().numTensors;
    for (const n of SIZES) for (const c of cases(n)) checkCase(c);
    for (const c of broadcastCases()) checkCase(c);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('the library LIF step (soft and hard reset, batched) is one group; fused equals eager', () => {
    environ.set({ dt: 0.1 });
    for (const [reset, batch] of [
      ['soft', undefined],
      ['hard', 3],
    ] as const) {
      const lif = new nn.LIF(1003, { tau: 10, V_th: 1, spkReset: reset });
      graph.initAllStates(lif, batch === undefined ? {} : { batchSize: batch });
      lif.V.value = tf.randomUniform(lif.V.value.shape, -1, 1.2, 'float32', 5);
      const shape = lif.V.value.shape;
      const program = checkCase({
        name: `lif-${reset}`,
        fn: (I) => lif.update(I),
        args: () => [tf.randomUniform(shape, 0, 30, 'float32', 6)],
        groups: 1,
      });
      const plan = partition(program);
      expect(plan.unfused).toEqual([]);
      expect(plan.groups[0].equations.length).toBe(program.equations.length);
      const V = program.inputs.find((i) => i.source.kind === 'state')!.var;
      const I = program.inputs.find((i) => i.source.kind === 'arg')!.var;
      expect(plan.groups[0].inputs).toEqual([V, I]);
      expect(new Set(plan.groups[0].outputs)).toEqual(new Set(program.outputs.map((o) => o.var)));
      expect(plan.groups[0].constants.size).toBe(3);
    }
  });

  it('runs in place: a LIF step overwrites V in its own buffer, 100 steps equal eager', () => {
    const n = 4003;
    const args: [tf.Tensor, tf.Tensor, tf.Tensor] = [
      t1(n, 21, -1, 1.5),
      t1(n, 22, 0, 3),
      tf.scalar(0.9),
    ];
    const program = makeIR(lifWhere, { name: 'lif' })(...args);
    const plan = partition(program);
    expect(plan.groups.length).toBe(1);
    const g = plan.groups[0];
    const kernel = compileGroup(g);
    const [sVar, vVar] = program.outputs.map((o) => o.var);
    expect(g.outputs).toEqual([sVar, vVar]);
    // own buffers: on cpu a clone shares the buffer, dataSync() returns the tensor's own array
    // and tf.tensor(array) adopts the array, so writing in place would change the others too
    const V = tf.tensor1d(args[0].dataSync().slice());
    const spikes = tf.zeros([n]);
    const dataIds = [V.dataId, spikes.dataId];
    let eagerV: tf.Tensor = tf.tensor1d(args[0].dataSync().slice());
    const before = tf.memory().numTensors;
    // group inputs are in first-use order: V, decay, I
    const tensorOf = new Map(program.inputs.map((i, k) => [i.var, [V, args[1], args[2]][k]]));
    const ins = g.inputs.map((v) => tensorOf.get(v)!);
    expect(ins).toEqual([V, args[2], args[1]]);
    const step = bindFusedInPlace(kernel, ins, [spikes, V]);
    for (let k = 0; k < 100; k++) {
      if (k % 2 === 0) step();
      else runFusedInPlace(kernel, ins, [spikes, V]);
      const [s, v] = tf.tidy(() => lifWhere(eagerV, args[1], args[2]));
      eagerV.dispose();
      eagerV = v;
      if (k === 99) expectValues(spikes.dataSync(), s.dataSync(), 0, 'spikes');
      s.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
    expectValues(V.dataSync(), eagerV.dataSync(), 0, 'V after 100 in-place steps');
    expect([V.dataId, spikes.dataId]).toEqual(dataIds);
    // aliasing rules
    expect(() => runFusedInPlace(kernel, ins, [V, V])).toThrow(ArgumentError);
    const big = tf.zeros([n + 1]);
    expect(() => runFusedInPlace(kernel, ins, [big, V])).toThrow(ArgumentError);
    // outputs must have the kernel's sizes
    expect(() => runFusedInPlace(kernel, ins, [args[2], V])).toThrow(ArgumentError);
    // nor a buffer another tensor shares (a reshape of it is alive)
    const view = V.reshape([1, n]);
    expect(() => runFusedInPlace(kernel, ins, [spikes, V])).toThrow(ArgumentError);
    view.dispose();
    tf.dispose([V, spikes, eagerV, big, ...args]);
  });

  it('runs where wasm SIMD is used, and the JS fallback on the wasm heap gives the same values', () => {
    const n = 1003;
    const args: [tf.Tensor, tf.Tensor, tf.Tensor] = [
      t1(n, 31, -1, 1.5),
      t1(n, 32, 0, 3),
      tf.scalar(0.9),
    ];
    const program = makeIR(lifWhere)(...args);
    const group = partition(program).groups[0];
    const kernel = compileGroup(group);
    expect(kernel.wasm.vectorized).toBe(true);
    const byVar = new Map(program.inputs.map((i, k) => [i.var, args[k]]));
    const ins = group.inputs.map((v) => byVar.get(v)!);
    const impl = fusedImplementation(kernel);
    if (platform === 'wasm') {
      expect(impl).toBe(
        wasmSimdSupported() ? 'wasm SIMD on the tfjs heap' : 'JS on wasm heap views',
      );
    } else expect(impl).toBe('JS on cpu arrays');
    const viaWasm = runFused(kernel, ins);
    const previous = setFusionWasmMode('js');
    if (platform === 'wasm') expect(fusedImplementation(kernel)).toBe('JS on wasm heap views');
    const viaJs = runFused(kernel, ins);
    setFusionWasmMode(previous);
    viaWasm.forEach((t, m) => expectValues(t.dataSync(), viaJs[m].dataSync(), 0, `output ${m}`));
    tf.dispose([...viaWasm, ...viaJs, ...args]);
  });

  it('registered kernels: unique names per code, idempotent registration, no gradient, no leaks', () => {
    const x = t1(64, 41);
    const f = (a: tf.Tensor) => tf.tanh(tf.mul(a, 3));
    const g1 = partition(makeIR(f)(x)).groups[0];
    const g2 = partition(makeIR(f)(x)).groups[0];
    const g3 = partition(makeIR((a: tf.Tensor) => tf.tanh(tf.mul(a, 4)))(x)).groups[0];
    const [k1, k2, k3] = [g1, g2, g3].map(compileGroup);
    expect(k1.name).toMatch(/^BstFused_[0-9a-f]{14}$/);
    expect(k2.name).toBe(k1.name);
    expect(k3.name).not.toBe(k1.name);
    // same code over another shape of the same size: another kernel (outputs keep their shape)
    const x24 = x.reshape([8, 8]);
    const k4 = compileGroup(partition(makeIR(f)(x24)).groups[0]);
    expect(k4.jsSource.replace(k4.name, '')).toBe(k1.jsSource.replace(k1.name, ''));
    expect(k4.name).not.toBe(k1.name);
    const [y24] = runFused(k4, [x24]);
    expect(y24.shape).toEqual([8, 8]);
    tf.dispose([x24, y24]);
    registerFused(k1);
    registerFused(k1);
    expect(tf.getKernel(k1.name, platform)).toBeDefined();
    expect(tf.getGradient(k1.name) as tf.GradConfig | undefined).toBeUndefined();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 50; i++) tf.dispose(runFused(k1, [x]));
    tf.tidy(() => {
      runFused(k2, [x]);
    });
    expect(tf.memory().numTensors).toBe(before);
    const wrong = tf.zeros([3]);
    expect(() => runFused(k1, [wrong])).toThrow(ArgumentError);
    wrong.dispose();
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
  });

  it('Cast to bool is x ≠ 0 (as tfjs-cpu; tfjs-wasm keeps the value truncated modulo 256)', () => {
    const x = tf.tensor1d([0.5, 2, -1, 0, 256, NaN, -0, Infinity]);
    const f = (a: tf.Tensor) => tf.cast(tf.cast(tf.mul(a, 1), 'bool'), 'float32');
    const program = makeIR(f)(x);
    const g = partition(program).groups[0];
    const [fused] = runFused(compileGroup(g), [x]);
    expect(Array.from(fused.dataSync())).toEqual([1, 1, 1, 0, 1, 1, 0, 1]);
    const eager = f(x);
    if (platform === 'cpu') expect(Array.from(eager.dataSync())).toEqual([1, 1, 1, 0, 1, 1, 0, 1]);
    else expect(Array.from(eager.dataSync())).toEqual([0, 2, 255, 0, 0, 0, 0, 0]);
    tf.dispose([x, fused, eager]);
  });

  it('Select of bool values is element-wise (tfjs-wasm 4.22 gets it wrong and corrupts its heap)', () => {
    // Built by hand: recording runs the function eagerly, and tfjs-wasm's Select on bool t/e
    // writes past its 1-byte-per-element output (a later bool allocation then aborts).
    const v = (id: number) => new Var(2_000_000 + id, [8], 'bool');
    const [c, t, e, notE, out] = [1, 2, 3, 4, 5].map(v);
    const program = new Program(
      'boolSelect',
      [c, t, e].map((x, i) => ({ var: x, source: { kind: 'arg', path: String(i) } as const })),
      [],
      [
        { kernel: 'LogicalNot', inputs: [['x', e]], outputs: [notE], attrs: {} },
        {
          kernel: 'Select',
          inputs: [
            ['condition', c],
            ['t', t],
            ['e', notE],
          ],
          outputs: [out],
          attrs: {},
        },
      ],
      [{ var: out, target: { kind: 'result', path: '0' } }],
      [],
      [],
    );
    const g = partition(program).groups[0];
    expect(g.inputs).toEqual([e, c, t]);
    const a = tf.tensor1d([false, true, false, true, true, false, true, false], 'bool');
    const tt = tf.tensor1d([0, 0, 1, 0, 0, 1, 0, 0].map(Boolean), 'bool');
    const ee = tf.tensor1d([0, 1, 0, 1, 0, 1, 0, 1].map(Boolean), 'bool');
    const [fused] = runFused(compileGroup(g), [ee, a, tt]);
    const want = [1, 0, 1, 0, 0, 0, 0, 0];
    expect(Array.from(fused.dataSync())).toEqual(want);
    if (platform === 'cpu') {
      const eager = tf.where(a, tt, tf.logicalNot(ee));
      expect(Array.from(eager.dataSync())).toEqual(want);
      eager.dispose();
    }
    tf.dispose([a, tt, ee, fused]);
  });

  it('generated wasm modules are valid for wabt 1.0.39 (simd) and small', async () => {
    const wabt = await wabtInit();
    expect(compiledKernels.length).toBeGreaterThan(10);
    for (const k of compiledKernels) {
      const mod = wabt.readWasm(k.wasm.bytes, { readDebugNames: false, simd: true });
      try {
        mod.validate();
      } finally {
        mod.destroy();
      }
      expect(k.wasm.bytes.length).toBeLessThan(8192);
    }
  });
});

describe('partition', () => {
  it('groups around non-fusable kernels, defers a group past an independent kernel, orders by dependencies', () => {
    const x = t2(2, 4, 51);
    const y = t2(2, 3, 52);
    const W = t2(3, 4, 53);
    const fn = (a: tf.Tensor, b: tf.Tensor, w: tf.Tensor) => {
      const a2 = tf.mul(a, 2); // group 1 …
      const m = tf.matMul(b, w); // … stays open past this MatMul, which it does not feed
      const c = tf.tanh(tf.add(a2, m)); // … and takes these, after the MatMul
      const s = tf.sum(c); // reads the group: closes it
      const d = tf.mul(s, 3); // size 1: opens group 2 …
      return [tf.add(a, d), a2]; // … which grows to size 8
    };
    const program = makeIR(fn, { name: 'mixed' })(x, y, W);
    const plan = partition(program, { minSize: 1 });
    const kinds = plan.steps.map((s) =>
      s.kind === 'group'
        ? `[${s.group.equations.map((e) => e.kernel).join(' ')}]`
        : s.equation.kernel,
    );
    expect(kinds).toEqual(['BatchMatMul', '[Multiply Add Tanh]', 'Sum', '[Multiply Add]']);
    const [g1, g2] = plan.groups;
    expect(g1.size).toBe(8);
    expect(g2.size).toBe(8);
    // a2 is a program output and c feeds Sum: both are outputs; the Add in between is not
    expect(g1.outputs.map((v) => v.shape)).toEqual([
      [2, 4],
      [2, 4],
    ]);
    expect(g1.outputs).toContain(program.outputs[1].var);
    expect(plan.toString()).toContain('fused#0[8]');
    const env = inputEnv(
      program,
      new Map([
        ['0', x],
        ['1', y],
        ['2', W],
      ]),
    );
    const fused = evaluatePlan(plan, env);
    const eager = fn(x, y, W);
    program.outputs.forEach((o, i) =>
      expectValues(fused.get(o.var)!.dataSync(), eager[i].dataSync(), 0, `output ${i}`),
    );
    tf.dispose([x, y, W, ...fused.values(), ...eager]);
  });

  it('respects minSize, keep, random draws and customGrad calls', () => {
    const x = t1(16, 61);
    // a single Add is not worth a kernel by default
    const single = makeIR((a: tf.Tensor) => tf.add(a, a))(x);
    expect(partition(single).groups).toEqual([]);
    expect(partition(single).unfused.length).toBe(1);
    expect(partition(single, { minSize: 1 }).groups.length).toBe(1);
    // keep makes an intermediate an output
    const chain = makeIR((a: tf.Tensor) => tf.exp(tf.mul(tf.add(a, 1), 2)))(x);
    const mid = chain.equations[1].outputs[0];
    expect(partition(chain).groups[0].outputs).toEqual([chain.outputs[0].var]);
    expect(partition(chain, { keep: [mid] }).groups[0].outputs).toEqual([
      mid,
      chain.outputs[0].var,
    ]);
    // scalar constants are inlined, a random draw is an input (a replay draws a new one)
    const noisy = makeIR((a: tf.Tensor) => tf.add(tf.mul(a, random.rand()), 1))(x);
    const drawn = noisy.annotationsOf('random')[0].vars[0];
    const g = partition(noisy).groups[0];
    expect(g.inputs).toContain(drawn);
    expect([...g.constants.values()]).toEqual([1]);
    expect(partition(noisy, { inlineConstants: false }).groups[0].constants.size).toBe(0);
    // a customGrad call is a plain step; fusable kernels around it are grouped
    const cg = tf.customGrad((...inputs: (tf.Tensor | tf.GradSaveFunc)[]) => {
      const a = inputs[0] as tf.Tensor;
      (inputs[1] as tf.GradSaveFunc)([a]);
      return { value: tf.square(a), gradFunc: (dy: tf.Tensor) => tf.mul(dy, 2) };
    });
    const withCg = makeIR((a: tf.Tensor) => tf.exp(tf.neg(cg(tf.mul(tf.abs(a), 2)) as tf.Tensor)))(
      x,
    );
    const plan = partition(withCg);
    expect(plan.steps.map((s) => s.kind)).toEqual(['group', 'equation', 'group']);
    const env = inputEnv(withCg, new Map([['0', x]]));
    const fused = evaluatePlan(plan, env);
    const eager = evaluate(withCg, env);
    expectValues(
      fused.get(withCg.outputs[0].var)!.dataSync(),
      eager.get(withCg.outputs[0].var)!.dataSync(),
      0,
      'customGrad program',
    );
    tf.dispose([x, ...fused.values(), ...eager.values()]);
  });

  it('does not fuse unsupported kernels, dtypes or broadcasts', () => {
    let id = 1_000_000;
    const v = (shape: number[], dtype: tf.DataType = 'float32') => new Var(id++, shape, dtype);
    const eq = (
      kernel: string,
      inputs: [string, Var][],
      out: Var,
      attrs: Record<string, unknown> = {},
    ): Equation => ({ kernel, inputs, outputs: [out], attrs });
    const [a, b] = [v([4]), v([4])];
    expect(
      isFusable(
        eq(
          'Add',
          [
            ['a', a],
            ['b', b],
          ],
          v([4]),
        ),
      ),
    ).toBe(true);
    expect(
      isFusable(
        eq(
          'Add',
          [
            ['a', v([2, 4])],
            ['b', v([4])],
          ],
          v([2, 4]),
        ),
      ),
    ).toBe(true);
    expect(
      isFusable(
        eq(
          'Add',
          [
            ['a', v([3, 1])],
            ['b', v([1, 3])],
          ],
          v([3, 3]),
        ),
      ),
    ).toBe(false);
    expect(
      isFusable(
        eq(
          'Add',
          [
            ['a', v([2, 4])],
            ['b', v([2, 1])],
          ],
          v([2, 4]),
        ),
      ),
    ).toBe(false);
    expect(isFusable(eq('Sum', [['x', a]], v([]), { axis: [0] }))).toBe(false);
    expect(
      isFusable(
        eq(
          'BatchMatMul',
          [
            ['a', v([1, 4])],
            ['b', v([4, 4])],
          ],
          v([1, 4]),
        ),
      ),
    ).toBe(false);
    expect(
      isFusable(
        eq(
          'RealDiv',
          [
            ['a', v([4], 'int32')],
            ['b', v([4], 'int32')],
          ],
          v([4], 'int32'),
        ),
      ),
    ).toBe(false);
    expect(isFusable(eq('Exp', [['x', v([4], 'int32')]], v([4])))).toBe(false);
    expect(isFusable(eq('Cast', [['x', a]], v([4], 'complex64'), { dtype: 'complex64' }))).toBe(
      false,
    );
    // tfjs's Select broadcasts a rank-1 condition along the leading axis: not element-wise
    const cond = v([2], 'bool');
    const t = v([2, 4]);
    expect(
      isFusable(
        eq(
          'Select',
          [
            ['condition', cond],
            ['t', t],
            ['e', v([2, 4])],
          ],
          v([2, 4]),
        ),
      ),
    ).toBe(false);
    expect(
      isFusable(
        eq(
          'Select',
          [
            ['condition', v([2, 4], 'bool')],
            ['t', t],
            ['e', v([2, 4])],
          ],
          v([2, 4]),
        ),
      ),
    ).toBe(true);
    expect(isFusable(eq('Tile', [['x', v([2])]], v([8]), { reps: [4] }))).toBe(false);
    expect(isFusable(eq('Tile', [['x', v([1])]], v([8]), { reps: [8] }))).toBe(true);
    expect(isFusable({ ...eq('Identity', [['x', a]], v([4])), body: [] })).toBe(false);
    expect(
      isFusable(
        eq(
          'Add',
          [
            ['a', v([0])],
            ['b', v([0])],
          ],
          v([0]),
        ),
      ),
    ).toBe(false);
    // a recorded program: the reductions and the concat stay unfused
    const x = t1(8, 71);
    const program = makeIR((z: tf.Tensor) => {
      const e = tf.exp(tf.mul(z, 0.5));
      return tf.concat([tf.sub(e, tf.max(e)), tf.div(e, tf.sum(e))]);
    })(x);
    const plan = partition(program, { minSize: 1 });
    const unfused = plan.unfused.map((e) => e.kernel);
    expect(unfused).toContain('Max');
    expect(unfused).toContain('Sum');
    expect(unfused).toContain('Concat');
    for (const g of plan.groups) for (const e of g.equations) expect(isFusable(e)).toBe(true);
    const env = inputEnv(program, new Map([['0', x]]));
    const fused = evaluatePlan(plan, env);
    const eager = tf.tidy(() => {
      const e = tf.exp(tf.mul(x, 0.5));
      return tf.concat([tf.sub(e, tf.max(e)), tf.div(e, tf.sum(e))]);
    });
    expectValues(fused.get(program.outputs[0].var)!.dataSync(), eager.dataSync(), 0, 'softmax-ish');
    tf.dispose([x, eager, ...fused.values()]);
  });
});
