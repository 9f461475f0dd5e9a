/**
 * Pictures of a compiled online-learning graph (the picture form of `showGraph`, spec §2.7):
 * hidden groups, the weight ops that feed them, dynamic states and non-etrace params.
 * `graphToDot` gives Graphviz DOT; `graphToSvg` draws a self-contained SVG with its own small
 * two-column layout (no Graphviz needed); `graphPicture` writes .svg, .png or .dot by extension.
 */
import { ArgumentError, describeValue } from '../errors';
// The PNG step reuses the one resvg pipeline of the pictures (viz sits above etrace in the layers).
import { svgToPng, writeOutput } from '../viz/render';

/** What a picture shows: the compiler's hidden groups and weight→group relations. */
export interface GraphView {
  /** Hidden groups in order; each member is a hidden state. */
  readonly groups: readonly {
    readonly index: number;
    readonly states: readonly {
      readonly path: string;
      readonly shape: readonly number[];
      readonly numState: number;
    }[];
  }[];
  /** Weight-op calls (one per call) and the groups they feed. `op` is e.g. 'MatMulOp'. */
  readonly relations: readonly {
    readonly index: number;
    readonly param: string;
    readonly op: string;
    readonly shape: string;
    readonly groups: readonly number[];
  }[];
  /** Short-term states in no group. */
  readonly dynamicStates: readonly string[];
  /** Trainable params in no relation (trained with the step's own gradient). */
  readonly nonEtraceParams: readonly string[];
}

/** Options of the graph pictures. */
export interface GraphPictureOptions {
  /** A title drawn above the picture. */
  title?: string;
  /** PNG pixels per SVG pixel (default 2); only for .png. */
  scale?: number;
}

type Group = GraphView['groups'][number];

// ---------------------------------------------------------------------------------------------
// DOT

/** Graphviz DOT of the graph: one cluster per hidden group, weights as boxes with an edge to
 *  every group they feed (drawn to the cluster via `lhead`), unrelated states/params in grey. */
export function graphToDot(view: GraphView, options: GraphPictureOptions = {}): string {
  const groupPos = checkView('graphToDot', view);
  const q = (s: string): string => `"${dotEscape(s)}"`;
  const lines: string[] = ['digraph "etrace_graph" {'];
  const graphAttrs = ['compound=true', 'rankdir=LR', 'nodesep=0.3', 'ranksep=1.2'];
  if (options.title !== undefined) graphAttrs.push(`label=${q(options.title)}`, 'labelloc=t');
  lines.push(`  graph [${graphAttrs.join(', ')}];`);
  lines.push('  node [fontname="DejaVu Sans Mono", fontsize=11];');
  lines.push('  edge [color="#555555"];');

  view.groups.forEach((g, gi) => {
    lines.push(`  subgraph cluster_group_${gi} {`);
    lines.push(
      `    label=${q(`Group ${g.index}`)}; style="rounded,filled"; fillcolor="#fdebd3"; color="#c77c2a";`,
    );
    if (g.states.length === 0) {
      lines.push(`    ${q(groupAnchor(g, gi))} [shape=plaintext, label="(no states)"];`);
    }
    g.states.forEach((s, si) => {
      const label = `${s.path}\n${shapeText(s.shape)}, ${slotsText(s.numState)}`;
      lines.push(
        `    ${q(`g${gi}_s${si}`)} [shape=box, style="rounded,filled", fillcolor="#ffffff", label=${q(label)}];`,
      );
    });
    lines.push('  }');
  });

  view.relations.forEach((r, ri) => {
    const label = `Weight ${r.index}: ${r.param}\n${r.op} ${r.shape}`;
    lines.push(
      `  ${q(`w${ri}`)} [shape=box, style=filled, fillcolor="#dbe9f6", color="#3b6fa0", label=${q(label)}];`,
    );
  });
  view.relations.forEach((r, ri) => {
    for (const gIndex of r.groups) {
      const gi = groupPos.get(gIndex)!;
      const g = view.groups[gi];
      lines.push(`  ${q(`w${ri}`)} -> ${q(groupAnchor(g, gi))} [lhead=cluster_group_${gi}];`);
    }
  });

  const greyCluster = (name: string, label: string, prefix: string, items: readonly string[]) => {
    if (items.length === 0) return;
    lines.push(`  subgraph ${name} {`);
    lines.push(`    label=${q(label)}; style=dashed; color="#999999";`);
    items.forEach((p, i) => {
      lines.push(
        `    ${q(`${prefix}${i}`)} [shape=box, style=filled, fillcolor="#eeeeee", color="#999999", fontcolor="#444444", label=${q(p)}];`,
      );
    });
    lines.push('  }');
  };
  greyCluster('cluster_nonetrace', 'Non-etrace params (step gradient)', 'p', view.nonEtraceParams);
  greyCluster('cluster_dynamic', 'Dynamic states (no hidden group)', 'd', view.dynamicStates);
  lines.push('}');
  return lines.join('\n') + '\n';
}

/** The node an edge into group `gi` points at (its first state, or its placeholder). */
function groupAnchor(g: Group, gi: number): string {
  return g.states.length === 0 ? `g${gi}_empty` : `g${gi}_s0`;
}

/** Escape a DOT double-quoted string: backslashes, quotes, newlines (as the `\n` escape). */
function dotEscape(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\r?\n/g, '\\n');
}

// ---------------------------------------------------------------------------------------------
// SVG

const FONT = 13;
/** Advance of one character of DejaVu Sans Mono at FONT px (0.602 em), rounded up for safety. */
const CH = FONT * 0.62;
const LINE = 18;
const PAD = 10;
const MARGIN = 20;
const GAP_Y = 16;
const GAP_X = 190;
const HEADER = 26;
const TITLE = 30;

const textWidth = (s: string): number => s.length * CH;

/** A box of text lines at (x, y). */
interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}

/** A self-contained SVG of the graph: weights left, hidden groups right (each listing its
 *  states), one arrow per (weight, group), unrelated params and dynamic states in a bottom row. */
export function graphToSvg(view: GraphView, options: GraphPictureOptions = {}): string {
  const groupPos = checkView('graphToSvg', view);
  const out: string[] = [];

  // --- text of the boxes
  const weightLines = view.relations.map((r) => [
    `Weight ${r.index}: ${r.param}`,
    `${r.op} ${r.shape}`.trim(),
  ]);
  const groupLines = view.groups.map((g) => {
    const pathLen = Math.max(0, ...g.states.map((s) => s.path.length));
    const shapeLen = Math.max(0, ...g.states.map((s) => shapeText(s.shape).length));
    const rows = g.states.map(
      (s) =>
        `${s.path.padEnd(pathLen)}  ${shapeText(s.shape).padEnd(shapeLen)}  ${slotsText(s.numState)}`,
    );
    return { header: `Group ${g.index}`, rows: rows.length > 0 ? rows : ['(no states)'] };
  });

  // --- column sizes
  const weightHeader = 'Weights (etrace ops)';
  const groupHeader = 'Hidden groups';
  const weightW = Math.max(
    textWidth(weightHeader),
    view.relations.length === 0 ? textWidth('(none)') : 0,
    ...weightLines.map((ls) => Math.max(...ls.map(textWidth)) + 2 * PAD),
  );
  const groupW = Math.max(
    textWidth(groupHeader),
    view.groups.length === 0 ? textWidth('(none)') : 0,
    ...groupLines.map((g) => Math.max(textWidth(g.header), ...g.rows.map(textWidth)) + 2 * PAD),
  );
  const weightH = weightLines.map((ls) => 2 * PAD + ls.length * LINE);
  const groupH = groupLines.map((g) => 2 * PAD + (1 + g.rows.length) * LINE + 4);
  const naturalH = (hs: number[]): number =>
    hs.reduce((a, b) => a + b, 0) + Math.max(0, hs.length - 1) * GAP_Y;
  const columnH = Math.max(naturalH(weightH), naturalH(groupH), LINE);

  const titleH = options.title !== undefined ? TITLE : 0;
  const leftX = MARGIN;
  const rightX = leftX + weightW + GAP_X;
  const columnsW = rightX + groupW - MARGIN;
  const top = MARGIN + titleH + HEADER;
  const weightBoxes = stack(weightH, top, columnH).map((y, i): Box => ({
    x: leftX,
    y,
    w: weightW,
    h: weightH[i],
  }));
  // groups are drawn in the order of the weights feeding them (fewer crossing arrows)
  const order = drawOrder(view, groupPos);
  const groupBoxes: Box[] = new Array(view.groups.length);
  stack(
    order.map((gi) => groupH[gi]),
    top,
    columnH,
  ).forEach((y, k) => (groupBoxes[order[k]] = { x: rightX, y, w: groupW, h: groupH[order[k]] }));

  // --- bottom row: non-etrace params and dynamic states, wrapped boxes
  const bottom: string[] = [];
  let y = top + columnH + 2 * GAP_Y;
  let width = columnsW;
  const rows: { label: string; items: readonly string[] }[] = [
    {
      label: 'Non-etrace params (trained with the step gradient only):',
      items: view.nonEtraceParams,
    },
    { label: 'Dynamic states (in no hidden group):', items: view.dynamicStates },
  ];
  for (const row of rows) {
    if (row.items.length === 0) continue;
    const rowW = Math.max(columnsW, textWidth(row.label));
    width = Math.max(width, rowW);
    bottom.push(svgText(leftX, y + FONT, row.label, 'legend'));
    y += LINE + 6;
    let x = leftX;
    const boxH = LINE + PAD;
    for (const item of row.items) {
      const w = textWidth(item) + 2 * PAD;
      if (x > leftX && x + w > leftX + rowW) {
        x = leftX;
        y += boxH + 8;
      }
      width = Math.max(width, x + w - MARGIN);
      bottom.push(
        `<rect class="grey" x="${n(x)}" y="${n(y)}" width="${n(w)}" height="${n(boxH)}" rx="3" fill="#eeeeee" stroke="#999999"/>`,
        svgText(x + PAD, y + PAD / 2 + FONT, item, 'grey-text', '#444444'),
      );
      x += w + 10;
    }
    y += boxH + GAP_Y;
  }
  const totalW = Math.ceil(width + 2 * MARGIN);
  const totalH = Math.ceil((bottom.length > 0 ? y - GAP_Y : top + columnH) + MARGIN);

  // --- document
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${totalW}" height="${totalH}" viewBox="0 0 ${totalW} ${totalH}" font-family="DejaVu Sans Mono, monospace" font-size="${FONT}">`,
    `<title>${escapeXml(options.title ?? 'online-learning graph')}</title>`,
    '<defs><marker id="arrowhead" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#555555"/></marker></defs>',
    `<rect x="0" y="0" width="${totalW}" height="${totalH}" fill="#ffffff"/>`,
  );
  if (options.title !== undefined) {
    out.push(svgText(leftX, MARGIN + FONT + 3, options.title, 'title', '#000000', 16, true));
  }
  out.push(svgText(leftX, top - 10, weightHeader, 'header', '#3b6fa0', FONT, true));
  out.push(svgText(rightX, top - 10, groupHeader, 'header', '#c77c2a', FONT, true));
  if (view.relations.length === 0) out.push(svgText(leftX, top + FONT, '(none)', 'none', '#777'));
  if (view.groups.length === 0) out.push(svgText(rightX, top + FONT, '(none)', 'none', '#777'));

  // edges first, so boxes are drawn over any curve that grazes them
  out.push(...edges(view, groupPos, weightBoxes, groupBoxes));

  weightBoxes.forEach((b, i) => {
    out.push(
      `<rect class="weight" x="${n(b.x)}" y="${n(b.y)}" width="${n(b.w)}" height="${n(b.h)}" fill="#dbe9f6" stroke="#3b6fa0" stroke-width="1.2"/>`,
    );
    weightLines[i].forEach((line, k) =>
      out.push(
        svgText(
          b.x + PAD,
          b.y + PAD + FONT + k * LINE,
          line,
          'weight-text',
          k === 0 ? '#000' : '#333',
        ),
      ),
    );
  });
  groupBoxes.forEach((b, i) => {
    const g = groupLines[i];
    out.push(
      `<rect class="group" x="${n(b.x)}" y="${n(b.y)}" width="${n(b.w)}" height="${n(b.h)}" rx="10" fill="#fdebd3" stroke="#c77c2a" stroke-width="1.2"/>`,
      svgText(b.x + PAD, b.y + PAD + FONT, g.header, 'group-header', '#7a4510', FONT, true),
      `<line x1="${n(b.x + PAD)}" y1="${n(b.y + PAD + LINE + 2)}" x2="${n(b.x + b.w - PAD)}" y2="${n(b.y + PAD + LINE + 2)}" stroke="#e0b888"/>`,
    );
    g.rows.forEach((row, k) =>
      out.push(svgText(b.x + PAD, b.y + PAD + 4 + FONT + (k + 1) * LINE, row, 'state', '#000')),
    );
  });
  out.push(...bottom, '</svg>');
  return out.join('\n') + '\n';
}

/** Group positions sorted by the mean position of the weights feeding them (unfed groups
 *  last), ties by their own position: the barycentre heuristic against crossing arrows. */
function drawOrder(view: GraphView, groupPos: Map<number, number>): number[] {
  const sum = new Array<number>(view.groups.length).fill(0);
  const count = new Array<number>(view.groups.length).fill(0);
  view.relations.forEach((r, ri) => {
    for (const g of new Set(r.groups)) {
      sum[groupPos.get(g)!] += ri;
      count[groupPos.get(g)!] += 1;
    }
  });
  const key = (gi: number): number => (count[gi] > 0 ? sum[gi] / count[gi] : Infinity);
  return view.groups.map((_, gi) => gi).sort((a, b) => key(a) - key(b) || a - b);
}

/** Tops of boxes of heights `hs` stacked from `top`, spread evenly over `total` when shorter. */
function stack(hs: number[], top: number, total: number): number[] {
  const natural = hs.reduce((a, b) => a + b, 0) + Math.max(0, hs.length - 1) * GAP_Y;
  const extra = hs.length > 0 ? Math.max(0, total - natural) / hs.length : 0;
  const ys: number[] = [];
  let y = top + extra / 2;
  for (const h of hs) {
    ys.push(y);
    y += h + GAP_Y + extra;
  }
  return ys;
}

/** One arrow per (weight, group): leaves spread along the weight's right edge and arrive
 *  spread along the group's left edge, ordered by source height so arrivals do not cross. */
function edges(
  view: GraphView,
  groupPos: Map<number, number>,
  weightBoxes: Box[],
  groupBoxes: Box[],
): string[] {
  const pairs = view.relations.flatMap((r, ri) =>
    r.groups.map((gIndex, k) => ({ ri, gi: groupPos.get(gIndex)!, k, of: r.groups.length })),
  );
  const exitY = (p: (typeof pairs)[number]): number => {
    const b = weightBoxes[p.ri];
    return b.y + (b.h * (p.k + 1)) / (p.of + 1);
  };
  const incoming = new Map<number, typeof pairs>();
  for (const p of pairs) incoming.set(p.gi, [...(incoming.get(p.gi) ?? []), p]);
  const lines: string[] = [];
  for (const p of pairs) {
    const into = [...incoming.get(p.gi)!].sort((a, b) => exitY(a) - exitY(b) || a.ri - b.ri);
    const slot = into.indexOf(p);
    const w = weightBoxes[p.ri];
    const g = groupBoxes[p.gi];
    const x1 = w.x + w.w;
    const y1 = exitY(p);
    const x2 = g.x;
    const y2 = g.y + (g.h * (slot + 1)) / (into.length + 1);
    const c = (x2 - x1) / 2;
    const rel = view.relations[p.ri];
    const grp = view.groups[p.gi];
    lines.push(
      `<path class="edge" data-weight="${rel.index}" data-group="${grp.index}" d="M${n(x1)},${n(y1)} C${n(x1 + c)},${n(y1)} ${n(x2 - c)},${n(y2)} ${n(x2 - 1)},${n(y2)}" fill="none" stroke="#555555" stroke-width="1.5" marker-end="url(#arrowhead)"/>`,
    );
  }
  return lines;
}

function svgText(
  x: number,
  y: number,
  text: string,
  cls: string,
  fill = '#000000',
  size = FONT,
  bold = false,
): string {
  const extra = `${size !== FONT ? ` font-size="${size}"` : ''}${bold ? ' font-weight="bold"' : ''}`;
  return `<text class="${cls}" x="${n(x)}" y="${n(y)}" fill="${fill}"${extra} xml:space="preserve">${escapeXml(text)}</text>`;
}

/** Escape text for XML content and attribute values. */
function escapeXml(s: string): string {
  return s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

const n = (v: number): string => String(Math.round(v * 10) / 10);

// ---------------------------------------------------------------------------------------------
// shared

const shapeText = (shape: readonly number[]): string => `[${shape.join(', ')}]`;
const slotsText = (k: number): string => `${k} slot${k === 1 ? '' : 's'}`;

/** Check the view's shape and that every relation feeds known groups; group index → position. */
function checkView(where: string, view: GraphView): Map<number, number> {
  if (
    view === null ||
    typeof view !== 'object' ||
    !Array.isArray(view.groups) ||
    !Array.isArray(view.relations) ||
    !Array.isArray(view.dynamicStates) ||
    !Array.isArray(view.nonEtraceParams)
  ) {
    throw new ArgumentError(
      `${where}: expected a GraphView {groups, relations, dynamicStates, nonEtraceParams}, got ${describeValue(view)}`,
    );
  }
  const pos = new Map<number, number>();
  view.groups.forEach((g, i) => {
    if (pos.has(g.index)) throw new ArgumentError(`${where}: group index ${g.index} appears twice`);
    pos.set(g.index, i);
  });
  for (const r of view.relations) {
    for (const gi of r.groups) {
      if (!pos.has(gi)) {
        throw new ArgumentError(
          `${where}: weight ${r.index} (${r.param}) feeds group ${gi}, which is not in view.groups`,
        );
      }
    }
  }
  return pos;
}

/** Write the graph picture to `path`: `.svg`, `.png` (resvg) or `.dot` by the extension;
 *  parent folders are created. */
export async function graphPicture(
  view: GraphView,
  path: string,
  options: GraphPictureOptions = {},
): Promise<void> {
  if (typeof path !== 'string') {
    throw new ArgumentError(`graphPicture: path must be a string, got ${describeValue(path)}`);
  }
  const ext = path.toLowerCase().match(/\.(svg|png|dot)$/)?.[1];
  if (ext === undefined) {
    throw new ArgumentError(`graphPicture: '${path}' must end in .svg, .png or .dot`);
  }
  if (ext === 'dot') return writeOutput(path, graphToDot(view, options));
  const svg = graphToSvg(view, options);
  await writeOutput(path, ext === 'png' ? await svgToPng(svg, { scale: options.scale }) : svg);
}
