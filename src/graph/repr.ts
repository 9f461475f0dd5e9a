/**
 * Readable text forms of module graphs (spec §2.5, §9.5). `prettyRepr` renders a node as
 * `ClassName(\n  attr=value,\n  …\n)` with two-space indents (short flat arrays stay on one
 * line). States show their abstract value (`ParamState(float32[3,4])`), null attributes and
 * invisible attributes are hidden, and an object met again (a shared node) is `ClassName(...)`.
 * `treeSummary` lists every state with its class, shape, dtype and size, with totals.
 */
import { State, TreefyState, isTensor, treeSignature, type StateValue } from '../state';
import { Node, className, nodeAttributes } from './node';
import { states } from './states';

/**
 * A node class may implement `[reprExtras]()` to show bookkeeping kept under symbol keys
 * (Module shows its name and sizes). Entries with a null value are hidden.
 */
export const reprExtras: unique symbol = Symbol('brainstate.graph.reprExtras');

interface WithReprExtras {
  [reprExtras](): [string, unknown][];
}

const INDENT = '  ';

function indent(text: string): string {
  return text.replace(/\n/g, `\n${INDENT}`);
}

function block(open: string, close: string, items: string[]): string {
  if (items.length === 0) return `${open}${close}`;
  return `${open}\n${items.map((i) => INDENT + indent(i)).join(',\n')}\n${close}`;
}

function quote(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/\n/g, '\\n')}'`;
}

/** A State as `ParamState(float32[3,4], name='w', tag=['a'])`. */
export function stateRepr(state: State<StateValue>): string {
  const parts = [treeSignature(state.rawValue)];
  if (state.name != null) parts.push(`name=${quote(state.name)}`);
  if (state.tags.size) parts.push(`tag=[${[...state.tags].map(quote).join(', ')}]`);
  return `${className(state)}(${parts.join(', ')})`;
}

/** The pretty multi-line repr of any value found in a module graph. */
export function prettyRepr(value: unknown): string {
  return render(value, new Set());
}

function render(value: unknown, seen: Set<object>): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  switch (typeof value) {
    case 'string':
      return quote(value);
    case 'number':
    case 'boolean':
      return String(value);
    case 'bigint':
      return `${value}n`;
    case 'symbol':
      return value.toString();
    case 'function':
      return /^class[\s{]/.test(Function.prototype.toString.call(value))
        ? `<class ${value.name || '(anonymous)'}>`
        : `<function ${value.name || '(anonymous)'}>`;
  }
  const obj = value as object;
  if (obj instanceof State) return stateRepr(obj);
  if (obj instanceof TreefyState) return obj.toString();
  if (isTensor(obj)) return `Tensor(${obj.dtype}[${obj.shape.join(',')}])`;

  if (obj instanceof Node) {
    const name = className(obj);
    if (seen.has(obj)) return `${name}(...)`;
    seen.add(obj);
    const extras = reprExtras in obj ? (obj as unknown as WithReprExtras)[reprExtras]() : [];
    const attrs = [...extras, ...nodeAttributes(obj)].filter(
      ([, v]) => v !== null && v !== undefined,
    );
    return block(
      `${name}(`,
      ')',
      attrs.map(([k, v]) => `${k}=${render(v, seen)}`),
    );
  }
  if (Array.isArray(obj)) {
    if (seen.has(obj)) return '[...]';
    seen.add(obj);
    const items = obj.map((v) => render(v, seen));
    const flat = `[${items.join(', ')}]`;
    return flat.length <= 80 && !flat.includes('\n') ? flat : block('[', ']', items);
  }
  if (obj instanceof Map) {
    if (seen.has(obj)) return 'Map{...}';
    seen.add(obj);
    const items = [...obj].map(([k, v]) => `${render(k, seen)}: ${render(v, seen)}`);
    return block('Map{', '}', items);
  }
  const proto = Object.getPrototypeOf(obj);
  if (proto === Object.prototype || proto === null) {
    if (seen.has(obj)) return '{...}';
    seen.add(obj);
    const items = Object.entries(obj).map(([k, v]) => `${quote(k)}: ${render(v, seen)}`);
    return block('{', '}', items);
  }
  const text = String(obj);
  return text === '[object Object]' ? `<${className(obj)}>` : text;
}

/**
 * A table of every state under `root`: path, class, dtype, shape and number of elements, then
 * the totals (all states and per class).
 */
export function treeSummary(root: unknown): string {
  const rows: string[][] = [['path', 'type', 'dtype', 'shape', 'size']];
  const perClass = new Map<string, { count: number; size: number }>();
  let total = 0;
  for (const [key, state] of states(root)) {
    const v = state.rawValue;
    const cls = className(state);
    const size = state.numel();
    rows.push([
      key,
      cls,
      isTensor(v) ? v.dtype : typeof v === 'number' ? 'number' : treeSignature(v),
      isTensor(v) ? `[${v.shape.join(',')}]` : typeof v === 'number' ? '[]' : 'tree',
      String(size),
    ]);
    const c = perClass.get(cls) ?? { count: 0, size: 0 };
    c.count++;
    c.size += size;
    perClass.set(cls, c);
    total += size;
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  const lines = rows.map((r) =>
    r
      .map((cell, i) => (i === r.length - 1 ? cell.padStart(widths[i]) : cell.padEnd(widths[i])))
      .join('  ')
      .trimEnd(),
  );
  const plural = (n: number, w: string): string => `${n} ${w}${n === 1 ? '' : 's'}`;
  const byClass = [...perClass]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([cls, c]) => `${cls}: ${plural(c.count, 'state')}, ${plural(c.size, 'element')}`);
  lines.push(
    `total: ${plural(rows.length - 1, 'state')}, ${plural(total, 'element')}` +
      (byClass.length ? ` (${byClass.join('; ')})` : ''),
  );
  return lines.join('\n');
}
