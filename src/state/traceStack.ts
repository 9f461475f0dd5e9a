/**
 * Recording which states a function reads and writes. A transform runs user code inside a
 * `StateTraceStack` frame; every `state.value` read or write notifies the frames whose index is
 * at least the state's level (the stack depth when the state was created), so a state created
 * inside a transform is invisible to the enclosing transforms (spec §1.4). Frames also defer the
 * disposal of released tensors until the outermost frame ends (ownership.ts).
 */
import { StateError, TraceContextError, ArgumentError } from '../errors';
import { popDeferral, pushDeferral } from './ownership';
import type { State } from './State';
import type { StateValue } from './tree';

/** The active recording frames, innermost last. Its length is the current trace level. */
const stack: StateTraceStack[] = [];

/** The current trace level (number of active frames). */
export function traceLevel(): number {
  return stack.length;
}

/** The active frames, outermost first (read-only view). */
export function activeTraces(): readonly StateTraceStack[] {
  return stack;
}

/** Called by State on every read: record in every frame at index ≥ the state's level. */
export function recordRead(state: State<StateValue>): void {
  for (let i = Math.max(0, state.level); i < stack.length; i++) stack[i].readItsValue(state);
}

/** Called by State on every write. */
export function recordWrite(state: State<StateValue>): void {
  for (let i = Math.max(0, state.level); i < stack.length; i++) stack[i].writeItsValue(state);
}

export interface TraceOptions {
  /** A name for error messages (the transform or function being traced). */
  name?: string;
  /** Called on the first access of each state, e.g. to reject states a transform forbids. */
  checkRead?: (state: State<StateValue>) => void;
}

/**
 * One recording frame: the states touched, in order of first access, which of them were written,
 * and the value each had at first access.
 */
export class StateTraceStack {
  readonly name: string;
  readonly states: State<StateValue>[] = [];
  readonly beenWritten: boolean[] = [];
  private originals: (StateValue | null)[] = [];
  private originalWritten: boolean[] = [];
  private index = new Map<State<StateValue>, number>();
  private released = false;
  private entered = false;
  private readonly checkRead?: (state: State<StateValue>) => void;

  constructor(options: TraceOptions = {}) {
    this.name = options.name ?? 'trace';
    this.checkRead = options.checkRead;
  }

  /** Push this frame (reads/writes from now on are recorded here). */
  enter(): this {
    if (this.entered)
      throw new TraceContextError(`StateTraceStack '${this.name}' was entered twice`);
    this.entered = true;
    stack.push(this);
    pushDeferral();
    return this;
  }

  /** Pop this frame; it must be the innermost one. */
  exit(): void {
    if (stack[stack.length - 1] !== this) {
      throw new TraceContextError(
        `StateTraceStack '${this.name}' exited out of order: the innermost frame is '${stack[stack.length - 1]?.name ?? 'none'}'`,
      );
    }
    stack.pop();
    this.entered = false;
    // Values replaced inside the frame are freed once the outermost frame ends, so the
    // first-access values cannot be restored after exit.
    this.released = true;
    popDeferral();
  }

  /** Run `fn` inside this frame. */
  run<R>(fn: () => R): R {
    this.enter();
    try {
      return fn();
    } finally {
      this.exit();
    }
  }

  readItsValue(state: State<StateValue>): void {
    if (this.index.has(state)) return;
    this.checkRead?.(state);
    this.index.set(state, this.states.length);
    this.states.push(state);
    this.beenWritten.push(false);
    this.originals.push(state.rawValue);
    this.originalWritten.push(state.beenWritten);
  }

  writeItsValue(state: State<StateValue>): void {
    if (!this.index.has(state)) this.readItsValue(state);
    this.beenWritten[this.index.get(state)!] = true;
  }

  /** True if `state` was touched in this frame. */
  has(state: State<StateValue>): boolean {
    return this.index.has(state);
  }

  /** True if `state` was written in this frame. */
  wasWritten(state: State<StateValue>): boolean {
    const i = this.index.get(state);
    return i !== undefined && this.beenWritten[i];
  }

  /** The states only read (with `keepPositions`, written ones become null in place). */
  getReadStates(keepPositions = false): (State<StateValue> | null)[] {
    return keepPositions
      ? this.states.map((s, i) => (this.beenWritten[i] ? null : s))
      : this.states.filter((_, i) => !this.beenWritten[i]);
  }

  /** The states written (with `keepPositions`, read-only ones become null in place). */
  getWriteStates(keepPositions = false): (State<StateValue> | null)[] {
    return keepPositions
      ? this.states.map((s, i) => (this.beenWritten[i] ? s : null))
      : this.states.filter((_, i) => this.beenWritten[i]);
  }

  /** The value each touched state had at first access (valid while the frame is active). */
  getOriginalValues(): StateValue[] {
    if (this.released)
      throw new TraceContextError(`StateTraceStack '${this.name}': original values were released`);
    return this.originals as StateValue[];
  }

  /** Current values of all touched states, in first-access order. */
  getStateValues(): StateValue[] {
    return this.states.map((s) => s.rawValue);
  }

  /** The states that are instances of `cls`. */
  stateSubset<C extends State<StateValue>>(cls: abstract new (...a: never[]) => C): C[] {
    return this.states.filter((s): s is C => s instanceof cls);
  }

  /** Put back the value every state had at first access (as restores, not writes). */
  recoveryOriginalValues(): void {
    if (this.released) {
      throw new TraceContextError(
        `StateTraceStack '${this.name}': original values were released (call recoveryOriginalValues inside the frame)`,
      );
    }
    this.states.forEach((s, i) => {
      // the function may have re-initialised the state to another shape: put the original back as is
      s.restoreValue(this.originals[i]!, { allowReshape: true });
      s.beenWritten = this.originalWritten[i];
    });
  }

  /** Forget the first-access values (after this, recoveryOriginalValues throws). */
  releaseOriginalValues(): void {
    this.originals = this.originals.map(() => null);
    this.released = true;
  }

  /** Assign values to all states: written ones by `.value =`, read-only ones by restore. */
  assignStateVals(values: readonly StateValue[]): void {
    if (values.length !== this.states.length) {
      throw new ArgumentError(
        `assignStateVals: got ${values.length} values for ${this.states.length} states of trace '${this.name}'`,
      );
    }
    this.states.forEach((s, i) => {
      if (this.beenWritten[i]) s.value = values[i];
      else s.restoreValue(values[i]);
    });
  }

  /** The write-back used by transforms: written states get `writeVals[i]`, the others `readVals[i]`. */
  assignStateValsV2(
    readVals: readonly (StateValue | null)[],
    writeVals: readonly (StateValue | null)[],
  ): void {
    if (readVals.length !== this.states.length || writeVals.length !== this.states.length) {
      throw new ArgumentError(
        `assignStateValsV2: ${readVals.length} read and ${writeVals.length} write values for ${this.states.length} states`,
      );
    }
    this.states.forEach((s, i) => {
      const v = this.beenWritten[i] ? writeVals[i] : readVals[i];
      if (v === null) {
        throw new StateError(`assignStateValsV2: no value given for ${s.describe()} (index ${i})`);
      }
      if (this.beenWritten[i]) s.value = v;
      else s.restoreValue(v);
    });
  }

  /** Union of frames in order; a state is written if written in any (used by cond/switch/while). */
  merge(...others: StateTraceStack[]): StateTraceStack {
    const out = new StateTraceStack({ name: this.name });
    for (const t of [this, ...others]) {
      t.states.forEach((s, i) => {
        if (!out.index.has(s)) {
          out.index.set(s, out.states.length);
          out.states.push(s);
          out.beenWritten.push(false);
          out.originals.push(t.originals[i]);
          out.originalWritten.push(t.originalWritten[i]);
        }
        if (t.beenWritten[i]) out.beenWritten[out.index.get(s)!] = true;
      });
    }
    return out;
  }
}
