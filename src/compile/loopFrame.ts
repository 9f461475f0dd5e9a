/**
 * The trace frame of a loop, and the ownership rules that keep a loop's memory flat.
 *
 * A frame defers the disposal of every tensor a state lets go of until the outermost frame ends
 * (state/ownership.ts), because an enclosing transform may still restore it. Over 10 000 steps
 * that would keep 10 000 old state values alive. But a value that the loop itself created and a
 * state later replaced can be nobody's original (originals are taken at first access, before the
 * loop wrote anything), so `LoopFrame` remembers the values released by writes and frees those
 * created inside the loop once they are unowned, unless a gradient tape is recording.
 *
 * Step outputs are made loop-owned by `ownStepOutputs`: a leaf that existed before the step (a
 * passed-through carry, a captured tensor), that a state owns, or that appears twice is cloned,
 * so the loop can dispose its carries and per-step outputs without touching anyone else's.
 */
import { tf } from '../backend/tf';
import { ownerCount, State, StateTraceStack, type StateValue } from '../state';
import { tensorLeaves, treeSignature } from '../state/tree';
import { isTapeOn, tensorIdWatermark } from './tape';

/** A trace frame that also frees the state values created and released inside it. */
export class LoopFrame extends StateTraceStack {
  /** Tensors with an id at least this were created inside the frame (null: unknown, free nothing). */
  readonly watermark: number | null;
  private releasedTensors: tf.Tensor[] = [];
  private readonly signatures = new Map<State<StateValue>, string>();

  constructor(name: string) {
    super({ name });
    this.watermark = tensorIdWatermark();
  }

  override readItsValue(state: State<StateValue>): void {
    if (!this.has(state)) this.signatures.set(state, treeSignature(state.rawValue));
    super.readItsValue(state);
  }

  /**
   * A message naming the first written state whose shape, dtype or structure differs from its
   * value at first access (only `reinitialize` can do that), or null. Loops carry states with
   * fixed shapes (spec §1.7).
   */
  changedState(): string | null {
    for (let i = 0; i < this.states.length; i++) {
      if (!this.beenWritten[i]) continue;
      const s = this.states[i];
      const now = treeSignature(s.rawValue);
      const before = this.signatures.get(s);
      if (before !== undefined && now !== before)
        return `${s.describe()} changed from ${before} to ${now}`;
    }
    return null;
  }

  override writeItsValue(state: State<StateValue>): void {
    super.writeItsValue(state);
    // Called before the state swaps its value: rawValue is the value about to be released.
    const w = this.watermark;
    if (w === null) return;
    for (const t of tensorLeaves(state.rawValue)) if (t.id >= w) this.releasedTensors.push(t);
  }

  /** True if `t` was created inside this frame. */
  createdInside(t: tf.Tensor): boolean {
    return this.watermark !== null && t.id >= this.watermark;
  }

  /**
   * Free the state values created in this frame that states have let go of (plus `extra`
   * candidates), unless a tape is recording (it may still need them; ownership frees them later).
   */
  freeReleased(extra: readonly tf.Tensor[] = []): void {
    if (isTapeOn()) {
      this.releasedTensors = [];
      return;
    }
    for (const t of this.releasedTensors) freeIfUnowned(t);
    for (const t of extra) if (this.createdInside(t)) freeIfUnowned(t);
    this.releasedTensors = [];
  }

  /** Put back the first-access values, then free what the frame created (for failed or trial runs). */
  restoreAndFree(): void {
    const current = this.getStateValues().flatMap(tensorLeaves);
    const originals = this.getOriginalValues();
    this.states.forEach((s, i) => {
      // A state re-initialised to another shape cannot be restored (restores check shapes).
      if (treeSignature(s.rawValue) === treeSignature(originals[i])) s.restoreValue(originals[i]);
      else s.reinitialize(originals[i]);
    });
    this.freeReleased(current);
  }
}

function freeIfUnowned(t: tf.Tensor): void {
  if (!t.isDisposed && ownerCount(t) === 0) t.dispose();
}

/**
 * Make the tensors of a step's outputs belong to the loop: clone those created before the step
 * (id below `stepWatermark`), those a state keeps, and repeats (tracked in `seen`). Call inside the
 * step's tf.tidy so the clones are returned with the outputs.
 */
export function ownStepOutputs<T>(
  outputs: T,
  stepWatermark: number | null,
  seen: Set<tf.Tensor>,
): T {
  const walk = (v: unknown): unknown => {
    if (v instanceof tf.Tensor) {
      const foreign = stepWatermark === null || v.id < stepWatermark || v.kept || seen.has(v);
      const t = foreign ? tf.clone(v) : v;
      seen.add(t);
      return t;
    }
    if (Array.isArray(v)) return v.map(walk);
    if (v !== null && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
      const out: Record<string, unknown> = {};
      for (const [k, e] of Object.entries(v)) out[k] = walk(e);
      return out;
    }
    return v;
  };
  return walk(outputs) as T;
}

/** Dispose loop-owned tensors, except those a state has taken since (ownership frees those). */
export function disposeLoopOwned(tensors: Iterable<tf.Tensor>): void {
  for (const t of tensors) if (!t.isDisposed && !t.kept) t.dispose();
}
