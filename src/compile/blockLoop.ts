/**
 * forLoop over a jitted step in blocks (block.ts): `forLoop(jit(step), xs)` runs the first step
 * as a jitted call (tracing it if needed), then all the other steps in one block call, the xs
 * rows copied into the step's argument buffers and the outputs written straight into the stacked
 * ys. Results, states and random streams are exactly those of calling the jitted step once per
 * row. Used off any gradient tape and transform, on wasm and cpu, for forward loops without a
 * progress bar whose outputs are tensors; anything else takes the ordinary loop (`null`).
 */
import { tf } from '../backend/tf';
import { gradientTapeActive } from '../backend/engine';
import { activeTraces } from '../state';
import { isPlainObject } from '../state/tree';
import { buildBlock, HeapIO, type StepBlock } from './block';
import { flattenTensors } from './recorder';
import { rebuildTree } from './loopTree';
import { StatefulFunction, VarRef } from './statefulFunction';
import type { LoopXs } from './loops';

type AnyJitted = ((...a: unknown[]) => unknown) & { statefulFun?: unknown };

/** The ys of the loop run in blocks, or null when the ordinary loop must run it. */
export function blockForLoop(
  fn: unknown,
  xs: () => LoopXs,
  options: { reverse?: boolean; progressBar?: unknown },
): { ys: unknown } | null {
  const sf = (fn as AnyJitted).statefulFun;
  if (!(sf instanceof StatefulFunction)) return null;
  if (
    options.reverse === true ||
    (options.progressBar !== undefined && options.progressBar !== false)
  ) {
    return null;
  }
  const backend = tf.getBackend();
  if ((backend !== 'wasm' && backend !== 'cpu') || gradientTapeActive() || activeTraces().length) {
    return null;
  }
  const loop = xs();
  if (loop.n < 2) return null;
  const rowOf = (k: number): { args: unknown[]; made: tf.Tensor[] } => {
    const made: tf.Tensor[] = [];
    const args = loop.trees.map(({ template, leaves }) =>
      rebuildTree(
        template,
        leaves.map((l) => {
          if (!(l instanceof tf.Tensor)) return l;
          const row = tf.gather(l, k);
          made.push(row);
          return row;
        }),
      ),
    );
    return { args, made };
  };
  const first = rowOf(0);
  try {
    // the trace (without side effects) if there is none yet; then nothing has run when the
    // step cannot run in blocks and the ordinary loop takes over
    sf.compile(...first.args);
    const block = buildBlock(sf as StatefulFunction<unknown[], unknown>, first.args);
    if (typeof block === 'string') return null;
    return runBlocks(fn as AnyJitted, sf, block, loop, first);
  } finally {
    tf.dispose(first.made);
  }
}

/** Step 0 as a jitted call, the rest in one block; null if the outputs are not all tensors. */
function runBlocks(
  fn: AnyJitted,
  sf: StatefulFunction<unknown[], unknown>,
  block: StepBlock,
  loop: LoopXs,
  first: { args: unknown[]; made: tf.Tensor[] },
): { ys: unknown } | null {
  const got = sf.replayEntry(...first.args);
  if (typeof got === 'string') {
    block.dispose();
    return null;
  }
  // the series of each argument leaf, by its path in the call
  const seriesOfRow = new Map<tf.Tensor, tf.Tensor>();
  let j = 0;
  for (const { leaves } of loop.trees) {
    for (const l of leaves) if (l instanceof tf.Tensor) seriesOfRow.set(first.made[j++], l);
  }
  const rows = new Map<string, { series: tf.Tensor; start: number }>();
  first.args.forEach((a, i) => {
    for (const [path, t] of flattenTensors(a, String(i))) {
      const series = seriesOfRow.get(t);
      if (series !== undefined) rows.set(path, { series, start: 1 });
    }
  });
  const ys: tf.Tensor[] = [];
  let ok = true;
  const stackedTree = (tpl: unknown): unknown => {
    if (tpl instanceof VarRef) {
      const { shape, dtype } = tpl.v;
      const t = tf.fill([loop.n, ...shape], 0, dtype);
      ys.push(t);
      return t;
    }
    if (Array.isArray(tpl)) return tpl.map(stackedTree);
    if (isPlainObject(tpl)) {
      return Object.fromEntries(Object.entries(tpl).map(([k, v]) => [k, stackedTree(v)]));
    }
    if (tpl !== null && tpl !== undefined) ok = false; // numbers, booleans: the ordinary loop
    return tpl;
  };
  const tree = stackedTree(got.plan.result);
  if (!ok) {
    tf.dispose(ys);
    block.dispose();
    return null;
  }
  let leaves0: tf.Tensor[] = [];
  try {
    leaves0 = flattenTensors(fn(...first.args)).map(([, t]) => t);
    const io = new HeapIO();
    ys.forEach((y, i) => io.copy(leaves0[i], 0, y, 0, leaves0[i].size));
    block.run(loop.n - 1, {
      args: first.args,
      rows,
      outputs: { tensors: ys, start: 1 },
    });
  } catch (e) {
    tf.dispose(ys);
    throw e;
  } finally {
    block.dispose();
    tf.dispose(leaves0);
  }
  return { ys: tree };
}
