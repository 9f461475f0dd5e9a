/** etrace/picture: the online-learning graph as DOT, SVG (own layout) and PNG/SVG/DOT files. */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ArgumentError } from '../../src/errors';
import { graphPicture, graphToDot, graphToSvg, type GraphView } from '../../src/etrace/picture';

const dir = mkdtempSync(join(tmpdir(), 'brainstate-etrace-picture-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const PNG_MAGIC = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

const gifLayer = (i: number) => [
  { path: `('layers', ${i}, 'r', 'I2')`, shape: [20], numState: 1 },
  { path: `('layers', ${i}, 'r', 'V')`, shape: [20], numState: 1 },
  { path: `('layers', ${i}, 'exp', 'g')`, shape: [20], numState: 1 },
];
const matmul = (index: number, param: string, shape: string, groups: number[]) => ({
  index,
  param,
  op: 'MatMulOp',
  shape,
  groups,
});

/** Seed 004's GifNet (10 → 20, 20, 20 → 5) under D_RTRL. */
const gifNet: GraphView = {
  groups: [
    { index: 0, states: gifLayer(2) },
    { index: 1, states: gifLayer(0) },
    { index: 2, states: gifLayer(1) },
    { index: 3, states: [{ path: "('out', 'r')", shape: [5], numState: 1 }] },
  ],
  relations: [
    matmul(0, "('layers', 0, 'ir2r', 'weight')", '[30, 20]', [1]),
    matmul(1, "('layers', 1, 'ir2r', 'weight')", '[40, 20]', [2]),
    matmul(2, "('layers', 2, 'ir2r', 'weight')", '[40, 20]', [0]),
    matmul(3, "('out', 'weight')", '[20, 5]', [3]),
  ],
  dynamicStates: [],
  nonEtraceParams: [],
};

/** Seed 004's LIF_Delta_Net, plus one weight feeding two groups and names needing escapes. */
const lifDelta: GraphView = {
  groups: [
    { index: 0, states: [{ path: "('out', 'r')", shape: [5], numState: 1 }] },
    { index: 1, states: [{ path: "('neu', 'V')", shape: [20], numState: 2 }] },
  ],
  relations: [
    matmul(0, "('syn', 'comm', 'weight')", '[30, 20]', [1]),
    matmul(1, "('out', 'weight')", '[20, 5]', [0]),
    { index: 2, param: "('gain<\"x\">', 'w')", op: 'ElemWiseOp', shape: '[20]', groups: [0, 1] },
  ],
  dynamicStates: ["('neu', 'spike_count')"],
  nonEtraceParams: ["('neu', 'tau')", "('a&b', 'bias')"],
};

const pairs = (view: GraphView): number => view.relations.reduce((a, r) => a + r.groups.length, 0);
const allPaths = (view: GraphView): string[] => [
  ...view.groups.flatMap((g) => g.states.map((s) => s.path)),
  ...view.relations.map((r) => r.param),
  ...view.dynamicStates,
  ...view.nonEtraceParams,
];
const xml = (s: string): string =>
  s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');

/** Parse-light well-formedness: every open tag is closed in order; one root <svg>. */
function checkBalanced(svg: string): void {
  const stack: string[] = [];
  let roots = 0;
  for (const m of svg.matchAll(/<(\/?)([a-zA-Z]+)[^>]*?(\/?)>/g)) {
    const [, close, name, self] = m;
    if (self) {
      if (stack.length === 0) roots++;
      continue;
    }
    if (close) {
      expect(stack.pop()).toBe(name);
    } else {
      if (stack.length === 0) roots++;
      stack.push(name);
    }
  }
  expect(stack).toEqual([]);
  expect(roots).toBe(1);
}

describe('graphToDot', () => {
  it('has a cluster per group, every path, and one lhead edge per (weight, group)', () => {
    const dot = graphToDot(gifNet, { title: 'GifNet' });
    expect(dot.startsWith('digraph "etrace_graph" {')).toBe(true);
    expect(dot.trimEnd().endsWith('}')).toBe(true);
    expect(dot).toContain('compound=true');
    expect(dot).toContain('label="GifNet"');
    for (let g = 0; g < 4; g++) {
      expect(dot).toContain(`subgraph cluster_group_${g} {`);
      expect(dot).toContain(`label="Group ${g}"`);
    }
    for (const p of allPaths(gifNet)) expect(dot).toContain(p);
    expect(dot.match(/ -> /g)?.length).toBe(pairs(gifNet));
    expect(dot).toContain('"w0" -> "g1_s0" [lhead=cluster_group_1];');
    expect(dot).toContain('"w2" -> "g0_s0" [lhead=cluster_group_0];');
    expect(dot).toContain('"w3" -> "g3_s0" [lhead=cluster_group_3];');
    expect(dot).toContain('MatMulOp [30, 20]');
    expect(dot).toContain('[20], 1 slot');
    expect(graphToDot(gifNet, { title: 'GifNet' })).toBe(dot);
  });

  it('escapes quotes and draws unrelated params and dynamic states as grey nodes', () => {
    const dot = graphToDot(lifDelta);
    expect(dot.match(/ -> /g)?.length).toBe(pairs(lifDelta));
    expect(dot).toContain('"w2" -> "g0_s0" [lhead=cluster_group_0];');
    expect(dot).toContain('"w2" -> "g1_s0" [lhead=cluster_group_1];');
    expect(dot).toContain(`('gain<\\"x\\">', 'w')`);
    expect(dot).not.toContain(`<"x">`);
    expect(dot).toContain('[20], 2 slots');
    expect(dot).toContain('subgraph cluster_nonetrace {');
    expect(dot).toContain('subgraph cluster_dynamic {');
    expect(dot.match(/fillcolor="#eeeeee"/g)?.length).toBe(3);
  });
});

describe('graphToSvg', () => {
  it('is well-formed, with one arrow per (weight, group) and every path as text', () => {
    const svg = graphToSvg(gifNet, { title: 'GifNet' });
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    checkBalanced(svg);
    expect(svg.match(/class="edge"/g)?.length).toBe(pairs(gifNet));
    expect(svg.match(/marker-end="url\(#arrowhead\)"/g)?.length).toBe(pairs(gifNet));
    expect(svg).toContain('<marker id="arrowhead"');
    for (const r of gifNet.relations) {
      for (const g of r.groups) expect(svg).toContain(`data-weight="${r.index}" data-group="${g}"`);
    }
    for (const p of allPaths(gifNet)) expect(svg).toContain(xml(p));
    expect(svg.match(/class="group"/g)?.length).toBe(4);
    expect(svg.match(/class="weight"/g)?.length).toBe(4);
    // size follows content: width and height are positive integers matching the viewBox
    const [, w, h] = svg.match(/width="(\d+)" height="(\d+)" viewBox="0 0 (\d+) (\d+)"/)!;
    expect(Number(w)).toBeGreaterThan(400);
    expect(Number(h)).toBeGreaterThan(300);
    expect(graphToSvg(gifNet, { title: 'GifNet' })).toBe(svg);
  });

  it('escapes \' < & " in text, and lists unrelated params and dynamic states', () => {
    const svg = graphToSvg(lifDelta);
    checkBalanced(svg);
    expect(svg.match(/class="edge"/g)?.length).toBe(pairs(lifDelta));
    for (const p of allPaths(lifDelta)) expect(svg).toContain(xml(p));
    const texts = [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]);
    for (const t of texts) expect(t).not.toMatch(/['"<>]|&(?!amp;|lt;|gt;|quot;|apos;)/);
    expect(svg).toContain('&lt;');
    expect(svg).toContain('&apos;');
    expect(svg).toContain('Non-etrace params');
    expect(svg).toContain('Dynamic states');
    expect(svg.match(/class="grey"/g)?.length).toBe(3);
    expect(svg).toContain('2 slots');
  });

  it('draws an empty view, and rejects a relation to an unknown group', () => {
    const empty: GraphView = { groups: [], relations: [], dynamicStates: [], nonEtraceParams: [] };
    const svg = graphToSvg(empty);
    checkBalanced(svg);
    expect(svg).not.toContain('class="edge"');
    const bad: GraphView = { ...gifNet, relations: [matmul(0, "('w',)", '[2, 2]', [7])] };
    expect(() => graphToSvg(bad)).toThrow(ArgumentError);
    expect(() => graphToDot(bad)).toThrow(/feeds group 7/);
  });
});

describe('graphPicture', () => {
  it('writes PNG (with parent folders), SVG and DOT by extension', async () => {
    const png = join(dir, 'nested', 'deeper', 'gifnet.png');
    await graphPicture(gifNet, png, { title: 'GifNet' });
    expect([...readFileSync(png).subarray(0, 8)]).toEqual(PNG_MAGIC);

    const svgFile = join(dir, 'lif.svg');
    await graphPicture(lifDelta, svgFile);
    expect(readFileSync(svgFile, 'utf8')).toBe(graphToSvg(lifDelta));

    const dotFile = join(dir, 'lif.DOT');
    await graphPicture(lifDelta, dotFile);
    expect(readFileSync(dotFile, 'utf8')).toBe(graphToDot(lifDelta));
  });

  it('rejects another extension with ArgumentError, writing nothing', async () => {
    const file = join(dir, 'graph.jpg');
    await expect(graphPicture(gifNet, file)).rejects.toThrow(ArgumentError);
    await expect(graphPicture(gifNet, join(dir, 'graph'))).rejects.toThrow(/\.svg, \.png or \.dot/);
    expect(existsSync(file)).toBe(false);
  });
});
