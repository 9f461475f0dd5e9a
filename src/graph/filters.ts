/**
 * The filter language of graph selections (spec §2.3): which states or nodes `states()`,
 * `nodes()`, `treefySplit()` and FlatDict's `filter`/`split` pick. A filter is a string (a tag),
 * a State or Node class, `true`/`false`/`null`, a predicate `(path, value) => boolean`, an array
 * (any of), or one of the combinators below; `toPredicate` turns any of them into a predicate.
 */
import { GraphError, describeValue } from '../errors';
import { State, TreefyState, type StateValue } from '../state';
import { Node } from './node';
import type { Path, PathKey } from './path';

/** A test on one graph item: its path from the root and its value. */
export type Predicate = (path: Path, value: unknown) => boolean;

/** A class a filter can select by (`OfType`): State, Node, or any subclass of them. */
export type FilterClass = abstract new (...args: never[]) => State<StateValue> | Node;

/** Anything accepted where a filter is expected. */
export type Filter =
  string | boolean | null | FilterClass | Predicate | GraphFilter | readonly Filter[];

/** Base of the named filters: a predicate with an exact, readable repr. */
export abstract class GraphFilter {
  /** True if the item at `path` with `value` is selected. */
  abstract test(path: Path, value: unknown): boolean;
  /** The exact repr, e.g. `Not(WithTag('test'))`. */
  abstract toString(): string;
}

/** Selects items tagged `tag`: a State with that tag, a TreefyState recorded with it, or an object whose `tag` is or contains it. */
export class WithTag extends GraphFilter {
  constructor(readonly tag: string) {
    super();
  }
  test(_path: Path, value: unknown): boolean {
    if (value instanceof State) return value.hasTag(this.tag);
    if (value instanceof TreefyState) return value.metadata.tags.includes(this.tag);
    if (value === null || typeof value !== 'object' || !('tag' in value)) return false;
    const tag = (value as { tag: unknown }).tag;
    if (typeof tag === 'string') return tag === this.tag;
    if (tag instanceof Set) return tag.has(this.tag);
    if (Array.isArray(tag)) return tag.includes(this.tag);
    return false;
  }
  toString(): string {
    return `WithTag(${quoteKey(this.tag)})`;
  }
}

/** Selects instances of a class; for a TreefyState, whether its recorded `type` is that class or a subclass. */
export class OfType extends GraphFilter {
  constructor(readonly type: FilterClass) {
    super();
  }
  test(_path: Path, value: unknown): boolean {
    if (value instanceof this.type) return true;
    if (value instanceof TreefyState) {
      return value.type === this.type || value.type.prototype instanceof this.type;
    }
    return false;
  }
  toString(): string {
    return `OfType(${this.type.name})`;
  }
}

/** Selects items whose path contains `key` (an attribute name, dict key or index). */
export class PathContains extends GraphFilter {
  constructor(readonly key: PathKey) {
    super();
  }
  test(path: Path, _value?: unknown): boolean {
    return path.includes(this.key);
  }
  toString(): string {
    return `PathContains(${quoteKey(this.key)})`;
  }
}

/** Selects items that match at least one of the filters. */
export class Any extends GraphFilter {
  readonly filters: readonly GraphFilter[];
  private readonly predicates: readonly Predicate[];
  constructor(...filters: Filter[]) {
    super();
    this.filters = filters.map(toGraphFilter);
    this.predicates = this.filters.map((f) => f.test.bind(f));
  }
  test(path: Path, value: unknown): boolean {
    return this.predicates.some((p) => p(path, value));
  }
  toString(): string {
    return `Any(${this.filters.join(', ')})`;
  }
}

/** Selects items that match every one of the filters. */
export class All extends GraphFilter {
  readonly filters: readonly GraphFilter[];
  private readonly predicates: readonly Predicate[];
  constructor(...filters: Filter[]) {
    super();
    this.filters = filters.map(toGraphFilter);
    this.predicates = this.filters.map((f) => f.test.bind(f));
  }
  test(path: Path, value: unknown): boolean {
    return this.predicates.every((p) => p(path, value));
  }
  toString(): string {
    return `All(${this.filters.join(', ')})`;
  }
}

/** Selects items that do not match the filter. */
export class Not extends GraphFilter {
  readonly filter: GraphFilter;
  constructor(filter: Filter) {
    super();
    this.filter = toGraphFilter(filter);
  }
  test(path: Path, value: unknown): boolean {
    return !this.filter.test(path, value);
  }
  toString(): string {
    return `Not(${this.filter})`;
  }
}

/** Selects everything (`true`). Only valid as the last of several filters. */
export class Everything extends GraphFilter {
  test(_path?: Path, _value?: unknown): boolean {
    return true;
  }
  toString(): string {
    return 'Everything()';
  }
}

/** Selects nothing (`false`, `null`). */
export class Nothing extends GraphFilter {
  test(_path?: Path, _value?: unknown): boolean {
    return false;
  }
  toString(): string {
    return 'Nothing()';
  }
}

/** A user predicate wrapped as a named filter (its repr is the function's name). */
class PredicateFilter extends GraphFilter {
  constructor(private readonly fn: Predicate) {
    super();
  }
  test(path: Path, value: unknown): boolean {
    return Boolean(this.fn(path, value));
  }
  toString(): string {
    return this.fn.name ? `${this.fn.name}` : '<predicate>';
  }
}

const ACCEPTED =
  'a tag string, a State or Node class, true (everything), false or null (nothing), ' +
  'a predicate (path, value) => boolean, an array of filters (any of), ' +
  'or WithTag / OfType / PathContains / Any / All / Not / Everything / Nothing';

/** True if `f` is a State or Node class (or a subclass): such a function filters by type. */
function isFilterClass(f: unknown): f is FilterClass {
  if (typeof f !== 'function') return false;
  return f === State || f === Node || f.prototype instanceof State || f.prototype instanceof Node;
}

/** Convert any filter to a named filter (for combinators and reprs); unknown values are a GraphError. */
export function toGraphFilter(filter: Filter): GraphFilter {
  if (filter instanceof GraphFilter) return filter;
  if (typeof filter === 'string') return new WithTag(filter);
  if (filter === true) return new Everything();
  if (filter === false || filter === null) return new Nothing();
  if (isFilterClass(filter)) return new OfType(filter);
  if (typeof filter === 'function') return new PredicateFilter(filter as Predicate);
  if (Array.isArray(filter)) return new Any(...(filter as Filter[]));
  throw new GraphError(`unknown filter ${describeFilter(filter)}; a filter is ${ACCEPTED}`);
}

/** Convert any filter to a predicate `(path, value) => boolean`. */
export function toPredicate(filter: Filter): Predicate {
  const f = toGraphFilter(filter);
  return f.test.bind(f);
}

function isEverything(filter: Filter): boolean {
  return filter === true || filter instanceof Everything;
}

/**
 * Convert a list of filters to predicates, checking that `true` / Everything appears only at the
 * end (it would leave nothing for the filters after it).
 */
export function toPredicates(filters: readonly Filter[], where: string): Predicate[] {
  filters.forEach((f, i) => {
    if (isEverything(f) && !filters.slice(i + 1).every(isEverything)) {
      throw new GraphError(
        `${where}: \`true\` / Everything() matches everything, so it may only be the last filter; ` +
          `got it at position ${i} of ${filters.length}`,
      );
    }
  });
  return filters.map((f) => {
    try {
      return toPredicate(f);
    } catch (e) {
      if (e instanceof GraphError) throw new GraphError(`${where}: ${e.message}`);
      throw e;
    }
  });
}

function describeFilter(f: unknown): string {
  if (typeof f === 'function') return `function ${f.name || '(anonymous)'}`;
  if (f !== null && typeof f === 'object' && !Array.isArray(f)) {
    const name = (f as object).constructor?.name;
    if (name && name !== 'Object') return `${name} instance`;
    try {
      return `object ${JSON.stringify(f)}`;
    } catch {
      return 'object';
    }
  }
  return describeValue(f);
}

function quoteKey(key: PathKey): string {
  return typeof key === 'number'
    ? String(key)
    : `'${key.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}
