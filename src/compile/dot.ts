/**
 * DOT (Graphviz) export of a Program: equations as boxes, inputs/constants/outputs as ellipses,
 * edges labelled with the var name and type. customGrad bodies become clusters.
 */
import { VarNames, type Equation, type Program, type Var } from './program';

function esc(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/"/g, '\\"');
}

/** The program as a DOT digraph. */
export function programToDot(program: Program): string {
  const names = new VarNames();
  const lines = [
    `digraph "${esc(program.name)}" {`,
    '  rankdir=TB;',
    '  node [fontname="monospace", fontsize=10];',
  ];
  const producer = new Map<Var, string>();
  for (const [i, inp] of program.inputs.entries()) {
    const id = `in${i}`;
    const s = inp.source;
    const label =
      s.kind === 'state'
        ? `state ${s.state.describe()}`
        : s.kind === 'arg'
          ? `arg ${s.path}`
          : 'captured';
    lines.push(
      `  ${id} [shape=ellipse, style=filled, fillcolor="#dbeafe", label="${esc(`${names.decl(inp.var)}\n${label}`)}"];`,
    );
    producer.set(inp.var, id);
  }
  for (const [i, c] of program.constants.entries()) {
    const id = `c${i}`;
    lines.push(`  ${id} [shape=ellipse, style=dashed, label="${esc(names.decl(c.var))}"];`);
    producer.set(c.var, id);
  }
  let n = 0;
  const emit = (eqs: readonly Equation[], indent: string): void => {
    for (const e of eqs) {
      const id = `e${n++}`;
      if (e.body) {
        lines.push(
          `${indent}subgraph cluster_${id} {`,
          `${indent}  label="CustomGrad"; style=rounded;`,
        );
        emit(e.body, indent + '  ');
        lines.push(`${indent}}`);
        e.outputs.forEach((o, i) => producer.set(o, producer.get(e.bodyOutputs![i]) ?? id));
        continue;
      }
      lines.push(`${indent}${id} [shape=box, label="${esc(e.kernel)}"];`);
      for (const [k, v] of e.inputs) {
        const from = producer.get(v);
        if (from)
          lines.push(
            `${indent}${from} -> ${id} [label="${esc(`${k}: ${names.get(v)}:${v.type}`)}"];`,
          );
      }
      for (const o of e.outputs) producer.set(o, id);
    }
  };
  emit(program.equations, '  ');
  for (const [i, o] of program.outputs.entries()) {
    const id = `out${i}`;
    const t = o.target;
    const label = t.kind === 'state' ? `state ${t.state.describe()}` : `result ${t.path}`;
    lines.push(
      `  ${id} [shape=ellipse, style=filled, fillcolor="#dcfce7", label="${esc(label)}"];`,
    );
    const from = producer.get(o.var);
    if (from)
      lines.push(`  ${from} -> ${id} [label="${esc(`${names.get(o.var)}:${o.var.type}`)}"];`);
  }
  lines.push('}');
  return lines.join('\n');
}
