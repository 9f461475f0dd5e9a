/**
 * Paths into a module graph: a path is the list of keys from the root to a value, e.g.
 * `['layers', 0, 'r', 'V']` (attribute `layers`, element 0, attribute `r`, attribute `V`).
 * String keys are attribute names or dict/Map keys; number keys are array indices. The dotted
 * form `'layers.0.r.V'` is the key used by FlatDict and state dicts.
 */

/** One step of a path: an attribute / dict key (string) or an array index (number). */
export type PathKey = string | number;

/** A path from a graph root; `[]` is the root itself. */
export type Path = readonly PathKey[];

/** The dotted form of a path: `['layers', 0, 'V']` → `'layers.0.V'` (the root is `''`). */
export function dottedPath(path: Path): string {
  return path.join('.');
}

/** A path for messages: `'layers.0.V'`, or `<root>` for the empty path. */
export function describePath(path: Path): string {
  return path.length === 0 ? '<root>' : `'${dottedPath(path)}'`;
}
