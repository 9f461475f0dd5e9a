/**
 * Checkpoints: a bit-exact round trip (float32 bit patterns incl. NaN payloads, −0, subnormals;
 * int32 extremes; bool; tree-valued states; plain-number leaves such as random keys) through a
 * file and through bytes, model + optimizer states, the header, and typed errors on files that
 * do not fit (missing / extra key, shape, dtype, structure, not a checkpoint, version), which
 * leave the model unchanged. No tensor leaks.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { tf } from '../../src/backend/tf';
import {
  CheckpointError,
  fromBytes,
  loadCheckpoint,
  readCheckpointHeader,
  saveCheckpoint,
  toBytes,
  type CheckpointErrorReason,
} from '../../src/checkpoint';
import { Module, states } from '../../src/graph';
import { RandomState } from '../../src/random';
import { HiddenState, LongTermState, ParamState, State, type StateValue } from '../../src/state';
import { leaves } from '../../src/state';
import { checkNoTensorLeaks, disposeGraph } from '../graph/fixtures';

checkNoTensorLeaks();

/** Float32 bit patterns that a conversion through JS numbers could change. */
const SPECIAL_BITS = [
  0x7fc00001, // NaN with a payload
  0xffc12345, // negative NaN with another payload
  0x80000000, // −0
  0x00000001, // the smallest subnormal
  0x7f800000, // +∞
  0xff800000, // −∞
];

function floats(seed: number, n: number, special = false): tf.Tensor {
  const bits = new Uint32Array(n);
  for (let i = 0; i < n; i++)
    bits[i] =
      special && i < SPECIAL_BITS.length
        ? SPECIAL_BITS[i]
        : (Math.imul(seed + 1, 2654435761 + i * 40503) >>> 0) & 0xbf7fffff;
  return tf.tensor(new Float32Array(bits.buffer), [n], 'float32');
}

class Cell extends Module {
  w: ParamState;
  count: LongTermState;
  mask: State;
  constructor(seed: number, width = 3) {
    super();
    this.w = new ParamState(tf.tidy(() => tf.reshape(floats(seed, 2 * width, true), [2, width])));
    this.count = new LongTermState(tf.tensor1d([seed, -(2 ** 31), 2 ** 31 - 1, -1], 'int32'));
    this.mask = new State(tf.tensor1d([seed % 2 === 0, true, false], 'bool'));
  }
}

/** A model with float, int and bool states, a tree-valued state, plain numbers and a random key. */
class Net extends Module {
  layers: Cell[];
  syn: ParamState<StateValue>;
  h: HiddenState;
  rng: RandomState;
  clock: ShortTermStateNumber;
  constructor(seed: number, options: { width?: number; extraState?: boolean } = {}) {
    super();
    this.layers = [new Cell(seed, options.width), new Cell(seed + 1)];
    this.syn = new ParamState<StateValue>({
      weight: floats(seed + 2, 4),
      gate: [tf.tensor1d([seed, 7], 'int32'), tf.tensor1d([true, seed % 2 === 1], 'bool')],
      scale: seed === 0 ? -0 : 1.5e-310 * seed,
    });
    this.h = new HiddenState(tf.fill([2, 3], seed));
    this.rng = new RandomState(seed);
    this.clock = new LongTermState<number>(seed + 0.25);
    if (options.extraState) (this as unknown as { more: State }).more = new State(tf.zeros([1]));
  }
}
type ShortTermStateNumber = LongTermState<number>;

/** An optimizer-like graph node: references the model's weights and has states of its own. */
class FakeOptimizer extends Module {
  weights: Record<string, ParamState<StateValue>>;
  step: LongTermState;
  moments: LongTermState[];
  constructor(net: Net, seed: number) {
    super();
    this.weights = { first: net.layers[0].w as ParamState<StateValue>, syn: net.syn };
    this.step = new LongTermState(tf.scalar(seed, 'int32'));
    this.moments = [new LongTermState(floats(seed + 5, 6)), new LongTermState(floats(seed + 6, 4))];
  }
}

/** The raw bytes of every leaf of every state, by key (float32 compared bit for bit). */
function snapshotBits(root: object): Record<string, number[][]> {
  const out: Record<string, number[][]> = {};
  for (const [key, s] of states(root).entries()) {
    out[key] = leaves(s.rawValue).map((leaf) => {
      if (typeof leaf === 'number') {
        const b = new DataView(new ArrayBuffer(8));
        b.setFloat64(0, leaf, true);
        return [...new Uint8Array(b.buffer)];
      }
      const data = leaf.dataSync() as Float32Array | Int32Array | Uint8Array;
      return [
        leaf.dtype,
        ...leaf.shape,
        ...new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
      ] as never;
    });
  }
  return out;
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bst-ckpt-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('round trip', () => {
  test('through a file: model and optimizer states come back bit for bit, extra too', async () => {
    const a = new Net(0);
    const optA = new FakeOptimizer(a, 3);
    const file = join(dir, 'sub', 'a.ckpt');
    await saveCheckpoint(file, {
      model: a,
      optimizer: optA,
      extra: { epoch: 4, acc: [0.5, 0.75] },
    });
    const b = new Net(1);
    const optB = new FakeOptimizer(b, 9);
    const wBefore = b.layers[0].w;
    expect(snapshotBits(b)).not.toEqual(snapshotBits(a));
    const { extra, header } = await loadCheckpoint(file, { model: b, optimizer: optB });
    expect(extra).toEqual({ epoch: 4, acc: [0.5, 0.75] });
    expect(snapshotBits(b)).toEqual(snapshotBits(a));
    expect(snapshotBits(optB)).toEqual(snapshotBits(optA));
    expect(b.layers[0].w).toBe(wBefore); // the same State objects, with new values
    expect(optB.weights.first).toBe(b.layers[0].w);
    expect(Object.keys(header.sections)).toEqual(['model', 'optimizer']);
    // the optimizer's references to the model's weights are saved once, in the model section
    expect(header.sections.optimizer.map((e) => e.key)).toEqual(['moments.0', 'moments.1', 'step']);
    // the special float32 patterns survived
    const w = new Uint32Array((b.layers[0].w.value.dataSync() as Float32Array).buffer.slice(0));
    expect(Array.from(w.slice(0, 6))).toEqual(SPECIAL_BITS);
    expect(Object.is(b.syn.value && (b.syn.value as { scale: number }).scale, -0)).toBe(true);
    for (const x of [a, optA, b, optB]) disposeGraph(x);
  });

  test('through bytes (the browser path), and the header lists keys, classes, dtypes, shapes', async () => {
    const a = new Net(2);
    const bytes = await toBytes({ model: a });
    const header = readCheckpointHeader(bytes);
    expect(header.version).toBe(1);
    expect(header.extra).toBeNull();
    const entries = Object.fromEntries(header.sections.model.map((e) => [e.key, e]));
    expect(Object.keys(entries)).toEqual([
      'clock',
      'h',
      'layers.0.count',
      'layers.0.mask',
      'layers.0.w',
      'layers.1.count',
      'layers.1.mask',
      'layers.1.w',
      'rng',
      'syn',
    ]);
    expect(entries['layers.0.w'].class).toBe('ParamState');
    expect(entries['layers.0.w'].leaves.map((l) => [l.dtype, l.shape])).toEqual([
      ['float32', [2, 3]],
    ]);
    expect(entries['layers.0.count'].leaves[0].dtype).toBe('int32');
    expect(entries['layers.0.mask'].leaves[0]).toMatchObject({
      dtype: 'bool',
      shape: [3],
      byteLength: 3,
    });
    expect(entries.syn.tree).toEqual({ weight: 0, gate: [1, 2], scale: 3 });
    expect(entries.syn.leaves.map((l) => l.dtype)).toEqual(['float32', 'int32', 'bool', 'number']);
    expect(entries.rng.class).toBe('RandomState');
    expect(entries.rng.leaves.map((l) => l.dtype)).toEqual(['number', 'number']);
    const b = new Net(5);
    expect(fromBytes(bytes, { model: b }).extra).toBeNull();
    expect(snapshotBits(b)).toEqual(snapshotBits(a));
    // the restored random key continues the same stream
    const [x, y] = [a.rng.rand(3), b.rng.rand(3)];
    expect(y.dataSync()).toEqual(x.dataSync());
    tf.dispose([x, y]);
    for (const m of [a, b]) disposeGraph(m);
  });

  test('a filter saves and loads a subset (parameters only), so batch-shaped states may differ', async () => {
    const a = new Net(3);
    const bytes = await toBytes({ model: a, filter: ParamState });
    expect(readCheckpointHeader(bytes).sections.model.map((e) => e.key)).toEqual([
      'layers.0.w',
      'layers.1.w',
      'syn',
    ]);
    const b = new Net(4);
    b.h.reinitialize(tf.zeros([7, 3]));
    fromBytes(bytes, { model: b, filter: ParamState });
    expect(snapshotBits(b.layers[0].w as never)).toEqual(snapshotBits(a.layers[0].w as never));
    expect(b.h.value.shape).toEqual([7, 3]);
    for (const m of [a, b]) disposeGraph(m);
  });

  test('saving does not change the model, and many round trips leak nothing', async () => {
    const a = new Net(6);
    const b = new Net(7);
    const before = snapshotBits(a);
    const n = tf.memory().numTensors;
    for (let i = 0; i < 20; i++) fromBytes(await toBytes({ model: a }), { model: b });
    expect(tf.memory().numTensors).toBe(n);
    expect(snapshotBits(a)).toEqual(before);
    for (const m of [a, b]) disposeGraph(m);
  });
});

/** Expect a CheckpointError with a reason whose message matches every pattern. */
function expectCheckpointError(
  fn: () => unknown,
  reason: CheckpointErrorReason,
  ...patterns: RegExp[]
): CheckpointError {
  let caught: unknown = null;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(CheckpointError);
  const err = caught as CheckpointError;
  expect(err.reason).toBe(reason);
  for (const p of patterns) expect(err.message).toMatch(p);
  return err;
}

describe('errors', () => {
  let saved: Uint8Array;
  let file: string;
  beforeAll(async () => {
    const a = new Net(0);
    const opt = new FakeOptimizer(a, 1);
    file = join(dir, 'ref.ckpt');
    await saveCheckpoint(file, { model: a, optimizer: opt });
    saved = new Uint8Array(await readFile(file));
    disposeGraph(a);
    disposeGraph(opt);
  });

  test('a state the file does not have, or a file state the model does not have, names the key', () => {
    const more = new Net(1, { extraState: true });
    const err = expectCheckpointError(
      () => fromBytes(saved, { model: more }),
      'missing-key',
      /the model has state\(s\) the checkpoint does not: 'more'/,
    );
    expect(err.key).toBe('more');
    const fewer = new Net(1);
    (fewer as unknown as { rng?: unknown }).rng = undefined;
    expectCheckpointError(
      () => fromBytes(saved, { model: fewer }),
      'extra-key',
      /the checkpoint has model state\(s\) that the model does not: 'rng'/,
    );
    disposeGraph(more);
    disposeGraph(fewer);
  });

  test('a shape mismatch names the key and both shapes, and changes nothing', () => {
    const wide = new Net(1, { width: 4 });
    const before = snapshotBits(wide);
    const err = expectCheckpointError(
      () => fromBytes(saved, { model: wide }, 'ref.ckpt'),
      'mismatch',
      /ref\.ckpt/,
      /model state 'layers\.0\.w': shape mismatch: the checkpoint has float32\[2,3\], the model has float32\[2,4\]/,
    );
    expect(err.key).toBe('layers.0.w');
    expect(snapshotBits(wide)).toEqual(before);
    disposeGraph(wide);
  });

  test('dtype and tree-structure mismatches; a leaf inside a tree is named', () => {
    const m = new Net(1);
    m.layers[1].count.reinitialize(tf.tensor1d([1, 2, 3, 4], 'float32'));
    expectCheckpointError(
      () => fromBytes(saved, { model: m }),
      'mismatch',
      /'layers\.1\.count': dtype mismatch: the checkpoint has int32\[4\], the model has float32\[4\]/,
    );
    disposeGraph(m);
    const t = new Net(1);
    t.syn.reinitialize({
      weight: floats(0, 4),
      gate: [tf.tensor1d([1, 2], 'int32'), tf.tensor1d([true, true], 'bool')],
      scale: 1,
    });
    const g = (t.syn.value as { gate: tf.Tensor[] }).gate[0];
    t.syn.reinitialize({
      weight: floats(0, 4),
      gate: [tf.tensor1d([1, 2, 3], 'int32'), tf.tensor1d([true, true], 'bool')],
      scale: 1,
    });
    void g;
    expectCheckpointError(
      () => fromBytes(saved, { model: t }),
      'mismatch',
      /'syn' \(leaf \.gate\[0\]\): shape mismatch: the checkpoint has int32\[2\], the model has int32\[3\]/,
    );
    t.syn.reinitialize({ weight: floats(0, 4), scale: 1 });
    expectCheckpointError(
      () => fromBytes(saved, { model: t }),
      'mismatch',
      /'syn': structure mismatch: the checkpoint has \{weight: float32\[4\], gate: \[int32\[2\], bool\[2\]\], scale: number\}, the model has \{weight: float32\[4\], scale: number\}/,
    );
    disposeGraph(t);
  });

  test('optimizer states are checked too; a file without an optimizer says so', async () => {
    const m = new Net(1);
    const opt = new FakeOptimizer(m, 2);
    opt.moments.push(new LongTermState(tf.zeros([1])));
    expectCheckpointError(
      () => fromBytes(saved, { model: m, optimizer: opt }),
      'missing-key',
      /the optimizer has state\(s\) the checkpoint does not: 'moments\.2'/,
    );
    const modelOnly = await toBytes({ model: m });
    expectCheckpointError(
      () => fromBytes(modelOnly, { model: m, optimizer: opt }),
      'missing-section',
      /no optimizer section/,
    );
    disposeGraph(m);
    disposeGraph(opt);
  });

  test('not a checkpoint, a truncated file, another format version', async () => {
    const m = new Net(1);
    const text = join(dir, 'notes.txt');
    await writeFile(text, 'these are not the weights you are looking for\n');
    await expect(loadCheckpoint(text, { model: m })).rejects.toThrow(
      /'.*notes\.txt' is not a brainstate-ts checkpoint: it starts with "these ar"/,
    );
    await expect(loadCheckpoint(text, { model: m })).rejects.toBeInstanceOf(CheckpointError);
    expectCheckpointError(
      () => fromBytes(new Uint8Array(3), { model: m }),
      'format',
      /only 3 bytes/,
    );
    expectCheckpointError(
      () => fromBytes(saved.slice(0, saved.length - 10), { model: m }),
      'format',
      /data length \d+ does not fit/,
    );
    expectCheckpointError(
      () => fromBytes(saved.slice(0, 40), { model: m }),
      'format',
      /header .* runs past the end/,
    );
    const v2 = saved.slice();
    v2[8] = 2;
    expectCheckpointError(
      () => fromBytes(v2, { model: m }),
      'version',
      /format version 2; this brainstate-ts reads version 1/,
    );
    const badJson = saved.slice();
    badJson[16] = 0x5b; // '[' … breaks the JSON
    badJson[17] = 0x5b;
    expectCheckpointError(
      () => fromBytes(badJson, { model: m }),
      'format',
      /header is not valid JSON|malformed header/,
    );
    await expect(loadCheckpoint(join(dir, 'missing.ckpt'), { model: m })).rejects.toThrow(/ENOENT/);
    disposeGraph(m);
  });

  test('a value a state class rejects after all checks: earlier writes are undone, nothing leaks', async () => {
    // 'rng' is saved from a plain state holding [1.5, 2]: same structure as a key, not a valid key.
    const source = new Net(1);
    (source as unknown as { rng: State<StateValue> }).rng = new LongTermState<StateValue>([1.5, 2]);
    const bytes = await toBytes({ model: source });
    const target = new Net(2);
    const before = snapshotBits(target);
    const n = tf.memory().numTensors;
    expect(() => fromBytes(bytes, { model: target })).toThrow(/RandomState.*two uint32 integers/);
    expect(snapshotBits(target)).toEqual(before);
    expect(tf.memory().numTensors).toBe(n);
    disposeGraph(source);
    disposeGraph(target);
  });

  test('unsupported dtypes and non-JSON extra data are refused at save', async () => {
    const m = new Net(1);
    const c = new State(tf.tensor(['a', 'b']));
    await expect(toBytes({ model: { c } })).rejects.toThrow(/state 'c' holds a string tensor/);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    await expect(toBytes({ model: m, extra: cyclic as never })).rejects.toThrow(
      /extra must be JSON data/,
    );
    c.dispose();
    disposeGraph(m);
  });
});
