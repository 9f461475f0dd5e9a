/**
 * Seed 004 (brainscale's "Compilation Graph Visualization"): build the three networks of
 * examples/models/seed004.ts with dt = 0.1 ms, compile D_RTRL on one example input, print
 * `showGraph()` for each, write the graph pictures (out/show-graph-<name>.png and .dot) and end
 * with one `RESULT {json}` line: per network the number of hidden groups and weight relations,
 * the group sizes and the compile time.
 *
 *   npx tsx examples/show-graph.ts [--out out] [--seed 0] [--no-plot] [--batch N]
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { tf } from '../src/backend/tf';
import * as environ from '../src/environ';
import { D_RTRL } from '../src/etrace';
import { disposeAll, initAllStates, type Module } from '../src/graph';
import * as random from '../src/random';
import { isMain, parseArgs } from '../bench/common';
import { ConvSNN, GifNet, LIF_Delta_Net } from './models/seed004';

export interface ShowGraphOptions {
  /** Directory for the pictures, or null for none. Default 'out'. */
  outDir?: string | null;
  /** Random seed. Default 0. */
  seed?: number;
  /** Batch size of the states and the example input (default: none, unbatched as the notebook). */
  batchSize?: number;
  /** Print the graphs (default true). */
  print?: boolean;
}

export interface NetworkGraph {
  /** The `showGraph()` text. */
  text: string;
  groups: number;
  relations: number;
  /** Number of hidden states in each group, in group order. */
  groupSizes: number[];
  compile_ms: number;
  /** Picture files written (empty without outDir). */
  files: string[];
}

export type ShowGraphResult = Record<'lif-delta' | 'gifnet' | 'convsnn', NetworkGraph>;

interface Spec {
  key: keyof ShowGraphResult;
  title: string;
  build: () => Module;
  input: number[];
}

const SPECS: Spec[] = [
  {
    key: 'lif-delta',
    title: 'LIF_Delta_Net(n_in=10, n_rec=20, n_out=5)',
    build: () => new LIF_Delta_Net(10, 20, 5),
    input: [10],
  },
  {
    key: 'gifnet',
    title: 'GifNet(n_in=10, n_rec=[20, 20, 20], n_out=5)',
    build: () => new GifNet(10, [20, 20, 20], 5),
    input: [10],
  },
  {
    key: 'convsnn',
    title: 'ConvSNN((34, 34, 2), 10)',
    build: () => new ConvSNN([34, 34, 2], 10),
    input: [34, 34, 2],
  },
];

/** Compile and show the three graphs. */
export async function main(options: ShowGraphOptions = {}): Promise<ShowGraphResult> {
  const outDir = options.outDir === undefined ? 'out' : options.outDir;
  const print = options.print ?? true;
  const b = options.batchSize;
  random.seed(options.seed ?? 0);
  if (outDir !== null) mkdirSync(outDir, { recursive: true });
  const result = {} as ShowGraphResult;
  for (const spec of SPECS) {
    // environ.context is synchronous: build and compile inside it, draw the pictures after
    const { net, x0, alg, compile_ms } = environ.context({ dt: 0.1 }, () => {
      const net = spec.build();
      initAllStates(net, b === undefined ? {} : { batchSize: b });
      const x0 = random.rand(...(b === undefined ? spec.input : [b, ...spec.input]));
      const alg = new D_RTRL(net, { name: `D_RTRL(${spec.key})` });
      const t0 = performance.now();
      alg.compileGraph(x0);
      return { net, x0, alg, compile_ms: performance.now() - t0 };
    });
    try {
      const text = alg.showGraph();
      const files: string[] = [];
      if (outDir !== null) {
        for (const ext of ['png', 'dot']) {
          const file = join(outDir, `show-graph-${spec.key}.${ext}`);
          await alg.graphPicture(file);
          files.push(file);
        }
      }
      const g = alg.graph!;
      result[spec.key] = {
        text,
        groups: g.groups.length,
        relations: g.relations.length,
        groupSizes: g.groups.map((grp) => grp.members.length),
        compile_ms,
        files,
      };
      if (print) {
        console.log(`\n${spec.title}: D_RTRL graph (compiled in ${compile_ms.toFixed(0)} ms)`);
        console.log(text);
        if (files.length) console.log(`  pictures: ${files.join(', ')}`);
      }
    } finally {
      alg.dispose();
      x0.dispose();
      disposeAll(net);
    }
  }
  return result;
}

/** The RESULT line's figures (the text is printed above it). */
export function summary(r: ShowGraphResult): Record<string, Omit<NetworkGraph, 'text' | 'files'>> {
  return Object.fromEntries(
    Object.entries(r).map(([k, v]) => [
      k,
      {
        groups: v.groups,
        relations: v.relations,
        groupSizes: v.groupSizes,
        compile_ms: Math.round(v.compile_ms * 10) / 10,
      },
    ]),
  );
}

if (isMain(import.meta.url)) {
  const a = parseArgs(process.argv.slice(2));
  const r = await main({
    outDir: a['no-plot'] ? null : typeof a.out === 'string' ? a.out : 'out',
    seed: typeof a.seed === 'string' ? Number(a.seed) : 0,
    ...(typeof a.batch === 'string' ? { batchSize: Number(a.batch) } : {}),
  });
  console.log(`RESULT ${JSON.stringify(summary(r))}`);
  tf.disposeVariables();
}
