import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf';
import { HiddenState, ParamState, State } from '../../src/state';
import {
  evaluate,
  inputEnv,
  jit,
  makeIR,
  programToDot,
  startRecording,
  stopRecording,
  annotate,
} from '../../src/compile';
import { TransformError } from '../../src/errors';
import * as random from '../../src/random';

/** A LIF step written the way users write it: V += dt/tau (I - V); spike; reset. */
function makeLif() {
  const V = new HiddenState(tf.tensor([0.5, 0.9, 1.2, -0.1]), { name: 'V' });
  const step = (I: tf.Tensor) => {
    const v = tf.add(V.value, tf.mul(0.1, tf.sub(I, V.value)));
    const spike = tf.cast(tf.greater(v, 1), 'float32');
    V.value = tf.where(tf.cast(spike, 'bool'), tf.zerosLike(v), v);
    return spike;
  };
  return { V, step };
}

const GOLDEN_LIF = `program lif_step {
  in    a:f32[4]  ← state HiddenState(name='V')
  in    b:f32[4]  ← arg 0
  const c:f32[] = 0.1
  const d:f32[] = 1
  e:f32[4] = Sub b a
  f:f32[4] = Multiply c e
  g:f32[4] = Add a f
  h:bool[4] = Greater g d
  i:f32[4] = Cast[dtype=float32] h
  j:bool[4] = Cast[dtype=bool] i
  k:f32[4] = ZerosLike g
  l:bool[4] = Identity j
  m:f32[4] = Identity k
  n:f32[4] = Identity g
  o:f32[4] = Select l m n
  out   o  → state HiddenState(name='V')
  out   i  → result 0
}`;

describe('recorded IR', () => {
  it('golden: the printed program of a LIF step (pins the recorder to tfjs 4.22)', () => {
    const { V, step } = makeLif();
    const I = tf.tensor([1, 2, 3, 4]);
    const program = makeIR(step, { name: 'lif_step' })(I);
    expect(program.toString()).toBe(GOLDEN_LIF);
    expect(program.numKernels).toBe(11);
    // makeIR has no side effects
    expect(Array.from(V.value.dataSync())).toEqual([0.5, 0.9, 1.2, -0.1].map(Math.fround));
    expect(V.beenWritten).toBe(false);
    V.dispose();
    I.dispose();
  });

  it('replay through the interpreter equals eager bit for bit', () => {
    const { V, step } = makeLif();
    const I = tf.randomNormal([4], 1, 1, 'float32', 3);
    const program = makeIR(step, { name: 'lif_step' })(I);
    for (let k = 0; k < 20; k++) {
      const x = tf.randomNormal([4], 1, 1, 'float32', k);
      const env = inputEnv(program, new Map([['0', x]]));
      const replay = evaluate(program, env);
      const eagerSpike = step(x); // advances V eagerly
      const [vOut, spikeOut] = program.outputs.map((o) => replay.get(o.var)!);
      expect(Array.from(spikeOut.dataSync())).toEqual(Array.from(eagerSpike.dataSync()));
      expect(Array.from(vOut.dataSync())).toEqual(Array.from(V.value.dataSync()));
      tf.dispose([x, eagerSpike, ...replay.values()]);
    }
    V.dispose();
    I.dispose();
  });

  it('evaluates a slice: only what the requested vars need, cut at given vars', () => {
    const { V, step } = makeLif();
    const I = tf.tensor([1, 2, 3, 4]);
    const program = makeIR(step, { name: 'lif_step' })(I);
    const g = program.equations.find((e) => e.kernel === 'Add')!.outputs[0]; // v before reset
    const h = program.equations.find((e) => e.kernel === 'Greater')!.outputs[0];
    const given = tf.tensor([0.5, 1.5, 1, 2]);
    const out = evaluate(program, new Map([[g, given]]), { outputs: [h] });
    expect(Array.from(out.get(h)!.dataSync())).toEqual([0, 1, 0, 1]);
    tf.dispose([...out.values(), given, I]);
    V.dispose();
  });

  it('records customGrad bodies, nested under the CustomGrad equation', () => {
    const w = new ParamState(tf.tensor([1, -2, 3]), { name: 'w' });
    const spike = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      const [x, save] = args as [tf.Tensor, tf.GradSaveFunc];
      save([x]);
      return { value: tf.cast(tf.greaterEqual(x, 0), 'float32'), gradFunc: (dy: tf.Tensor) => dy };
    });
    const f = (x: tf.Tensor) => spike(tf.mul(w.value, x) as tf.Tensor);
    const x = tf.tensor([1, 1, 1]);
    const p = makeIR(f, { name: 'spiky' })(x);
    const cg = p.equations.find((e) => e.kernel === 'CustomGrad')!;
    expect(cg.body!.map((e) => e.kernel)).toEqual(['GreaterEqual', 'Cast']);
    expect(p.toString()).toContain('= CustomGrad');
    const out = evaluate(p, inputEnv(p, new Map([['0', x]])));
    expect(Array.from([...out.values()][0].dataSync())).toEqual([1, 0, 1]);
    tf.dispose([...out.values(), x]);
    w.dispose();
  });

  it('classifies inputs: state values read, arguments, captured tensors; annotations map to vars', () => {
    const s = new State(tf.scalar(2), { name: 's' });
    const captured = tf.scalar(5);
    const f = (x: tf.Tensor) => {
      const y = tf.mul(tf.add(s.value, x), captured);
      annotate('test', [x, y], { note: 'hi' });
      return y;
    };
    const x = tf.scalar(1);
    const p = makeIR(f, { name: 'cls' })(x);
    expect(p.inputs.map((i) => i.source.kind)).toEqual(['state', 'arg', 'captured']);
    expect(p.annotationsOf('test')).toHaveLength(1);
    expect(p.toString()).toContain('@test(');
    const dot = programToDot(p);
    expect(dot.startsWith('digraph "cls" {')).toBe(true);
    expect(dot).toContain('-> ');
    tf.dispose([x, captured]);
    s.dispose();
  });

  it('detects host reads of traced values; throws with onHostRead: throw', () => {
    const s = new State(tf.tensor([1, 2]));
    const f = (x: tf.Tensor) => {
      const y = tf.add(s.value, x);
      return y.dataSync()[0] > 1 ? tf.mul(y, 2) : y;
    };
    const x = tf.tensor([1, 1]);
    const p = makeIR(f, { name: 'reads' })(x);
    expect(p.hostReads).toHaveLength(1);
    expect(() => makeIR(f, { name: 'reads', onHostRead: 'throw' })(x)).toThrow(TransformError);
    expect(() => makeIR(f, { name: 'reads', onHostRead: 'throw' })(x)).toThrow(
      /reads a traced tensor \(f32\[2\]\) back to JS/,
    );
    x.dispose();
    s.dispose();
  });

  it('annotates random draws (kind, key, a redraw for replay with a fresh key)', () => {
    random.seed(1);
    const f = (x: tf.Tensor) => tf.add(x, random.normal(0, 1, [3]));
    const x = tf.zeros([3]);
    const p = makeIR(f, { name: 'noisy' })(x);
    const [ann] = p.annotationsOf('random');
    expect(ann.data.kind).toBe('normal');
    expect(p.toString()).toMatch(/@random\(c\) kind=normal|@random\(\w+\) \[kind=normal/);
    const redraw = ann.data.redraw as (k: readonly [number, number]) => tf.Tensor;
    const again = redraw(ann.data.key as [number, number]);
    const fresh = redraw([7, 7]);
    const constant = p.constants.find((c) => c.var === ann.vars[0])!;
    expect(Array.from(again.dataSync())).toEqual(Array.from(constant.values as Float32Array));
    expect(Array.from(fresh.dataSync())).not.toEqual(Array.from(again.dataSync()));
    tf.dispose([x, again, fresh]);
  });

  it('recordings must end innermost first', () => {
    const a = startRecording({ name: 'a' });
    const b = startRecording({ name: 'b' });
    expect(() => stopRecording(a)).toThrow(/innermost first/);
    stopRecording(b);
    stopRecording(a);
  });
});

describe('IR dump folder', () => {
  let dir: string | null = null;
  afterEach(() => {
    delete process.env.BRAINSTATE_DUMP_IR_TO;
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('writes one .txt and one .dot per compiled function when BRAINSTATE_DUMP_IR_TO is set', () => {
    dir = mkdtempSync(join(tmpdir(), 'bst-ir-'));
    process.env.BRAINSTATE_DUMP_IR_TO = join(dir, 'ir');
    const { V, step } = makeLif();
    const f = jit(step, { name: 'lif_step' });
    const x = tf.tensor([1, 2, 3, 4]);
    for (let i = 0; i < 3; i++) f(x).dispose();
    const g = jit((y: tf.Tensor) => tf.exp(y), { name: 'expo' });
    g(x).dispose();
    const files = readdirSync(join(dir, 'ir')).sort();
    expect(files).toEqual(['expo.0.dot', 'expo.0.txt', 'lif_step.0.dot', 'lif_step.0.txt']);
    expect(readFileSync(join(dir, 'ir', 'lif_step.0.txt'), 'utf8')).toBe(GOLDEN_LIF + '\n');
    x.dispose();
    V.dispose();
  });
});
