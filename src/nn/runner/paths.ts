/**
 * Resolving the Runner's dotted paths ('E.spike', 'layers.0.V', 'E') to the States and modules
 * of a network, by attribute access from the root, with errors that name the path, say where
 * the walk stopped, list what is available and suggest the closest match.
 */
import { KeyNotFoundError } from '../../errors';
import { states as graphStates, type Module } from '../../graph';
import { State, type StateValue } from '../../state';

/** What a path resolved to, or where it stopped. */
type Walk = { ok: true; value: unknown } | { ok: false; at: string; owner: unknown; key: string };

/** Follow a dotted path by attribute / index / Map key from `root` ('' is the root itself). */
export function walkPath(root: unknown, path: string): Walk {
  if (path === '') return { ok: true, value: root };
  let cur: unknown = root;
  const keys = path.split('.');
  for (let k = 0; k < keys.length; k++) {
    const key = keys[k];
    let next: unknown;
    if (cur instanceof Map) next = cur.has(key) ? cur.get(key) : cur.get(Number(key));
    else if (cur !== null && typeof cur === 'object' && key in cur) {
      next = (cur as Record<string, unknown>)[key];
    } else next = undefined;
    if (next === undefined) return { ok: false, at: keys.slice(0, k).join('.'), owner: cur, key };
    cur = next;
  }
  return { ok: true, value: cur };
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v !== 'object') return typeof v;
  return (v as object).constructor?.name ?? 'object';
}

/** Levenshtein distance (for "did you mean"). */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length];
}

/** `'a', 'b', … and N more` plus a suggestion, for messages. */
export function listing(what: string, available: readonly string[], wanted: string): string {
  const shown = available.slice(0, 40).map((p) => `'${p}'`);
  const more = available.length > 40 ? `, … and ${available.length - 40} more` : '';
  const best = available
    .map((p) => [p, distance(p, wanted)] as const)
    .sort((x, y) => x[1] - y[1])[0];
  const hint =
    best && best[1] <= Math.max(2, Math.floor(wanted.length / 3))
      ? ` Did you mean '${best[0]}'?`
      : '';
  return `Available ${what}: ${available.length ? shown.join(', ') + more : 'none'}.${hint}`;
}

function why(walk: Walk & { ok: false }): string {
  const where = walk.at === '' ? 'the network' : `'${walk.at}'`;
  return `${where} (${typeName(walk.owner)}) has no attribute '${walk.key}'`;
}

/** The dotted paths of every State under `root`. */
export function statePaths(root: Module): string[] {
  return graphStates(root).keys();
}

/**
 * The State at `path` under `root`, or a KeyNotFoundError naming the path (as `what`, e.g.
 * "monitor 'E.spk'") and listing the available state paths.
 */
export function resolveStatePath(root: Module, path: string, what: string): State {
  const walk = walkPath(root, path);
  if (walk.ok && walk.value instanceof State) return walk.value as State<StateValue> as State;
  const reason = walk.ok
    ? `it is ${walk.value === null ? 'null (are the states initialised?)' : `a ${typeName(walk.value)}, not a State`}`
    : why(walk);
  throw new KeyNotFoundError(
    `Runner: ${what} is not a state path of ${typeName(root)}: ${reason}. ${listing('state paths', statePaths(root), path)}`,
  );
}

/** The module at `path` (one of the `candidates` classes), or a KeyNotFoundError listing module paths. */
export function resolveModulePath<M>(
  root: Module,
  path: string,
  isTarget: (v: unknown) => v is M,
  what: string,
  kind: string,
): M {
  const walk = walkPath(root, path);
  if (walk.ok && isTarget(walk.value)) return walk.value;
  const reason = walk.ok ? `it is a ${typeName(walk.value)}, not ${kind}` : why(walk);
  const modules = root
    .namedModules()
    .filter(([, m]) => isTarget(m))
    .map(([p]) => p);
  throw new KeyNotFoundError(
    `Runner: ${what} is not a path of ${typeName(root)}: ${reason}. ${listing(`${kind} paths`, modules, path)} ` +
      `(or give a state path such as '${statePaths(root)[0] ?? 'E.V'}')`,
  );
}
