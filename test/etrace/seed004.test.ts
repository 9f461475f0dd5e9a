/**
 * Seed 004 (brainscale's "Compilation Graph Visualization"): `D_RTRL(net).showGraph()` of the
 * notebook's three networks (examples/models/seed004.ts) against the groups and weight→group
 * relations brainscale printed, modulo group numbering: each group is identified by its sorted
 * member list; we compare the set of groups and, per weight in order, the set of groups it feeds.
 *
 * The expected lists are written in OUR naming. Paths differ from brainscale's only where the
 * attribute names differ: brainscale's etrace layers hold their parameter in `weight_op`, ours in
 * `weight` (so `('syn', 'comm', 'weight_op')` is `('syn', 'comm', 'weight')` and
 * `('layer1', 'layers', 0, 'weight_op')` is `('layer1', 'layers', 0, 'weight')`; brainscale's
 * LayerNorm parameter is already called `weight`). Our LIF/IF neurons also keep the spikes of the
 * last step in a `spike` short-term state (brainstate recomputes them from V), which the graph
 * lists in a "dynamic (non-hidden) states" block; its exact content is asserted too.
 */
import { describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf';
import * as environ from '../../src/environ';
import { D_RTRL } from '../../src/etrace';
import { disposeAll, initAllStates, type Module } from '../../src/graph';
import * as random from '../../src/random';
import { ConvSNN, GifNet, LIF_Delta_Net } from '../../examples/models/seed004';

interface Parsed {
  groups: string[][];
  dynamic: string[];
  weights: { path: string; groups: number[] }[];
  nonEtrace: string[];
}

const PATH = /\((?:'[^']*'|\d+)(?:, (?:'[^']*'|\d+))*,?\)/g;

/** Parse the showGraph text (spec §2.7) into its blocks. */
function parse(text: string): Parsed {
  const out: Parsed = { groups: [], dynamic: [], weights: [], nonEtrace: [] };
  let block = '';
  for (const line of text.split('\n')) {
    if (line.startsWith('The hidden groups')) block = 'groups';
    else if (line.startsWith('The dynamic')) block = 'dynamic';
    else if (line.startsWith('The weight parameters')) block = 'weights';
    else if (line.startsWith('The non-etrace')) block = 'nonEtrace';
    let m: RegExpMatchArray | null;
    if (block === 'groups' && (m = line.match(/^ {3}Group (\d+): \[(.*)\]$/))) {
      expect(Number(m[1])).toBe(out.groups.length);
      out.groups.push(m[2].match(PATH) ?? []);
    } else if (block === 'dynamic' && (m = line.match(/^ {3}Dynamic state (\d+): (.*)$/))) {
      expect(Number(m[1])).toBe(out.dynamic.length);
      out.dynamic.push(m[2]);
    } else if (
      block === 'weights' &&
      (m = line.match(
        /^ {3}Weight (\d+): (.*) {2}is associated with hidden groups? \[?([\d, ]+)\]?$/,
      ))
    ) {
      expect(Number(m[1])).toBe(out.weights.length);
      out.weights.push({ path: m[2], groups: m[3].split(', ').map(Number) });
    } else if (block === 'nonEtrace' && (m = line.match(/^ {3}Weight (\d+): (.*)$/))) {
      out.nonEtrace.push(m[2]);
    }
  }
  return out;
}

/** A group as its sorted members. */
const key = (members: readonly string[]): string => [...members].sort().join(' | ');

/** Groups as a sorted set of keys; each weight with the set of group keys it feeds. */
function canonical(p: { groups: string[][]; weights: { path: string; groups: number[] }[] }) {
  return {
    groups: p.groups.map(key).sort(),
    weights: p.weights.map((w) => ({
      path: w.path,
      groups: w.groups.map((g) => key(p.groups[g])).sort(),
    })),
  };
}

/** Build, init, compile D_RTRL on one random input (dt = 0.1), and return showGraph(). */
function showGraph(build: () => Module, input: number[]): string {
  return environ.context({ dt: 0.1 }, () => {
    random.seed(0);
    const net = build();
    initAllStates(net);
    const x0 = random.rand(...input);
    const alg = new D_RTRL(net);
    try {
      return alg.compileGraph(x0).showGraph();
    } finally {
      alg.dispose();
      x0.dispose();
      disposeAll(net);
    }
  });
}

describe('seed 004: showGraph of the notebook networks', () => {
  it('LIF_Delta_Net(10, 20, 5): groups and relations as brainscale; exact text', () => {
    const before = tf.memory().numTensors;
    const text = showGraph(() => new LIF_Delta_Net(10, 20, 5), [10]);
    expect(tf.memory().numTensors).toBe(before);
    const p = parse(text);
    // brainscale: Group 0: [('out', 'r')], Group 1: [('neu', 'V')];
    // Weight 0: ('syn', 'comm', 'weight_op') → group 1, Weight 1: ('out', 'weight_op') → group 0
    expect(canonical(p)).toEqual(
      canonical({
        groups: [["('out', 'r')"], ["('neu', 'V')"]],
        weights: [
          { path: "('syn', 'comm', 'weight')", groups: [1] },
          { path: "('out', 'weight')", groups: [0] },
        ],
      }),
    );
    expect(p.dynamic).toEqual(["('neu', 'spike')"]);
    expect(p.nonEtrace).toEqual([]);
    expect(text).toBe(
      [
        '='.repeat(120),
        'The hidden groups are:',
        '',
        "   Group 0: [('neu', 'V')]",
        "   Group 1: [('out', 'r')]",
        '',
        '',
        'The dynamic (non-hidden) states are:',
        '',
        "   Dynamic state 0: ('neu', 'spike')",
        '',
        '',
        'The weight parameters which are associated with the hidden states are:',
        '',
        "   Weight 0: ('syn', 'comm', 'weight')  is associated with hidden group 0",
        "   Weight 1: ('out', 'weight')  is associated with hidden group 1",
        '',
        '',
      ].join('\n'),
    );
  });

  it('GifNet(10, [20, 20, 20], 5): one {I2, V, exp.g} group per layer, one weight each', () => {
    const before = tf.memory().numTensors;
    const text = showGraph(() => new GifNet(10, [20, 20, 20], 5), [10]);
    expect(tf.memory().numTensors).toBe(before);
    const p = parse(text);
    const layer = (i: number): string[] => [
      `('layers', ${i}, 'r', 'I2')`,
      `('layers', ${i}, 'r', 'V')`,
      `('layers', ${i}, 'exp', 'g')`,
    ];
    // brainscale's numbering: layer 2, layer 0, layer 1, readout
    expect(canonical(p)).toEqual(
      canonical({
        groups: [layer(2), layer(0), layer(1), ["('out', 'r')"]],
        weights: [
          { path: "('layers', 0, 'ir2r', 'weight')", groups: [1] },
          { path: "('layers', 1, 'ir2r', 'weight')", groups: [2] },
          { path: "('layers', 2, 'ir2r', 'weight')", groups: [0] },
          { path: "('out', 'weight')", groups: [3] },
        ],
      }),
    );
    // GIF keeps no spike state (getSpike() is computed from V), Expon none either
    expect(p.dynamic).toEqual([]);
    expect(text).not.toContain('dynamic (non-hidden)');
    expect(p.nonEtrace).toEqual([]);
  });

  it('ConvSNN((34, 34, 2), 10): one group per IF V and the readout; conv and LayerNorm feed the same group', () => {
    const before = tf.memory().numTensors;
    const t0 = performance.now();
    const text = showGraph(() => new ConvSNN([34, 34, 2], 10), [34, 34, 2]);
    expect(performance.now() - t0).toBeLessThan(10_000);
    expect(tf.memory().numTensors).toBe(before);
    const p = parse(text);
    const V1 = "('layer1', 'layers', 2, 'V')";
    const V2 = "('layer2', 'layers', 2, 'V')";
    const V4 = "('layer4', 'layers', 1, 'V')";
    const r5 = "('layer5', 'r')";
    // brainscale: Group 0 layer2 V, Group 1 layer5 r, Group 2 layer1 V, Group 3 layer4 V
    expect(canonical(p)).toEqual(
      canonical({
        groups: [[V2], [r5], [V1], [V4]],
        weights: [
          { path: "('layer1', 'layers', 0, 'weight')", groups: [2] },
          { path: "('layer1', 'layers', 1, 'weight')", groups: [2] },
          { path: "('layer2', 'layers', 0, 'weight')", groups: [0] },
          { path: "('layer2', 'layers', 1, 'weight')", groups: [0] },
          { path: "('layer4', 'layers', 0, 'weight')", groups: [3] },
          { path: "('layer5', 'weight')", groups: [1] },
        ],
      }),
    );
    expect(p.dynamic).toEqual([
      "('layer1', 'layers', 2, 'spike')",
      "('layer2', 'layers', 2, 'spike')",
      "('layer4', 'layers', 1, 'spike')",
    ]);
    expect(p.nonEtrace).toEqual([]);
  });

  it('the canonical form ignores group numbering but not membership or relations', () => {
    const a = {
      groups: [["('a',)"], ["('b',)", "('c',)"]],
      weights: [{ path: "('w',)", groups: [1] }],
    };
    const renumbered = {
      groups: [["('c',)", "('b',)"], ["('a',)"]],
      weights: [{ path: "('w',)", groups: [0] }],
    };
    expect(canonical(a)).toEqual(canonical(renumbered));
    expect(canonical(a)).not.toEqual(
      canonical({ ...renumbered, weights: [{ path: "('w',)", groups: [1] }] }),
    );
    expect(canonical(a)).not.toEqual(
      canonical({ groups: [["('a',)", "('b',)"], ["('c',)"]], weights: a.weights }),
    );
  });
});
