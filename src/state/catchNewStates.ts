/**
 * catchNewStates: collect every State constructed while a function runs (spec §1.5). Used by
 * initAllStates (which states did init create?) and by transforms that must treat states created
 * inside them specially. Catchers nest; each active catcher sees every new state once.
 */
import type { State } from './State';
import type { StateValue } from './tree';

type AnyState = State<StateValue>;

export interface CatchOptions {
  /** Add this tag to every caught state. */
  tag?: string;
  /** States for which this returns true are not caught. */
  exclude?: (state: AnyState) => boolean;
}

/** The states created while a catcher was active, in creation order, and the function's result. */
export class NewStateCatcher<R = unknown> implements Iterable<AnyState> {
  readonly states: AnyState[] = [];
  result!: R;
  private readonly seen = new Set<AnyState>();
  constructor(private readonly options: CatchOptions = {}) {}

  /** @internal called for each new state while active. */
  add(state: AnyState): void {
    if (this.seen.has(state) || this.options.exclude?.(state)) return;
    this.seen.add(state);
    this.states.push(state);
    if (this.options.tag != null) state.addTag(this.options.tag);
  }

  get length(): number {
    return this.states.length;
  }
  at(i: number): AnyState | undefined {
    return this.states.at(i);
  }
  contains(state: AnyState): boolean {
    return this.seen.has(state);
  }
  getByTag(tag: string): AnyState[] {
    return this.states.filter((s) => s.hasTag(tag));
  }
  [Symbol.iterator](): Iterator<AnyState> {
    return this.states[Symbol.iterator]();
  }
}

const catchers: NewStateCatcher[] = [];

/** @internal State's constructor reports itself here. */
export function notifyNewState(state: AnyState): void {
  for (const c of catchers) c.add(state);
}

/** Run `fn` and return a catcher holding the states it created (and `fn`'s result). */
export function catchNewStates<R>(fn: () => R, options: CatchOptions = {}): NewStateCatcher<R> {
  const catcher = new NewStateCatcher<R>(options);
  catchers.push(catcher as NewStateCatcher);
  try {
    catcher.result = fn();
  } finally {
    catchers.splice(catchers.lastIndexOf(catcher as NewStateCatcher), 1);
  }
  return catcher;
}
