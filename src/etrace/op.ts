/**
 * The ETraceOp protocol (spec brainscale §1.3): an operator `y = op(x, w)` bound to a trainable
 * parameter, plus what the online learners need to build eligibility traces for it.
 *
 * Shapes. `x` is `[...lead, ...xFeature]` and `y` is `[...lead, ...yFeature]`, where `lead` are the
 * leading axes of the call (the batch axis under manual batching, none for a single sample). The
 * hidden states the op feeds have y's shape (element-wise ops: y may lack the leading axes, and
 * `df`, `d`, `delta` then have the hidden shape, which y broadcasts to).
 *
 * Traces (D-RTRL, §3.1). A trace is the exact ∂h/∂w for ONE hidden slot, kept in the op's own
 * coordinates, one tensor per key (per-sample: it has the leading axes). For a matmul it is
 * `{ weight: [...lead, I, O], bias: [...lead, O] }`; a conv keeps it per output position (exact,
 * not upstream's lumped product). Traces are linear in the weight function's output: the
 * derivative of a weight function / mask is applied once, at the true weight, in `traceGrad`.
 */
import type { tf } from '../backend/tf';

/** A parameter value: one tensor or a flat dict of tensors (e.g. `{ weight, bias }`). */
export type ParamTree = tf.Tensor | { readonly [key: string]: tf.Tensor };

/** A D-RTRL eligibility trace for one hidden slot (see the file comment). */
export type TraceTree = { readonly [key: string]: tf.Tensor };

/**
 * `interaction`: mixes neurons (matmul, conv, sparse, LoRA): cuts hidden groups.
 * `diagonal`: acts element-wise on a hidden dimension (norm-layer scale/shift).
 * `elementwise`: takes no input, `y = fn(w)` (e.g. a learnable per-neuron decay).
 */
export type OpKind = 'interaction' | 'diagonal' | 'elementwise';

export interface ETraceOp {
  readonly kind: OpKind;
  /** Class name for messages and graphs, e.g. 'MatMulOp'. */
  readonly name: string;
  /** y = op(x, w), built from tfjs ops (recorded, differentiable). Element-wise ops get x = null. */
  forward(x: tf.Tensor | null, w: ParamTree): tf.Tensor;
  /**
   * xy_to_dw: the VJP of `w ↦ forward(x, w)` at cotangent `dy`, summed over the leading axes;
   * w-shaped. `dy` has y's shape (or, for element-wise ops, a shape y broadcasts to).
   */
  weightVjp(x: tf.Tensor | null, dy: tf.Tensor, w: ParamTree): ParamTree;
  /** Zero trace for one hidden slot; `x` and `y` are example values of this call. */
  traceZeros(x: tf.Tensor | null, y: tf.Tensor, w: ParamTree): TraceTree;
  /** Instantaneous term φ = ∂h_s/∂w through this step's y, for `df = ∂h_s/∂y` (hidden-shaped). */
  traceInstant(x: tf.Tensor | null, df: tf.Tensor, w: ParamTree): TraceTree;
  /** yw_to_w: the trace scaled per hidden element by `d` (hidden-shaped). */
  traceScale(trace: TraceTree, d: tf.Tensor): TraceTree;
  /**
   * The weight gradient Σ_lead trace ⊙ delta for learning signal `delta` (hidden-shaped),
   * w-shaped, with the weight function's derivative applied at the true `w`.
   */
  traceGrad(trace: TraceTree, delta: tf.Tensor, w: ParamTree): ParamTree;
  /**
   * Optional fused step: write `traceScale(trace, d) + traceInstant(x, df, w)` into the tensors of
   * `into` (same keys and shapes as `trace`; they may be the trace's own tensors), in place, with
   * the same values. Returns false (writing nothing) when it cannot; the caller then composes
   * traceScale and traceInstant.
   */
  traceUpdateInto?(
    trace: TraceTree,
    d: tf.Tensor,
    x: tf.Tensor | null,
    df: tf.Tensor,
    w: ParamTree,
    into: TraceTree,
  ): boolean;
  /**
   * Optional fused step into new tensors: `traceScale(trace, d) + traceInstant(x, df, w)` in one
   * pass by registered kernels (a jit recording sees them), with the same values. Null when it
   * cannot; the caller then composes traceScale and traceInstant.
   */
  traceUpdate?(
    trace: TraceTree,
    d: tf.Tensor,
    x: tf.Tensor | null,
    df: tf.Tensor,
    w: ParamTree,
  ): TraceTree | null;
  /**
   * Optional fused backward step: `traceGrad(trace, delta, w)`, and then the trace advanced IN
   * PLACE as `traceUpdateInto(trace, d, x, df, w, trace)` would, reading the trace once. Returns
   * null (writing nothing) when it cannot.
   */
  traceGradUpdate?(
    trace: TraceTree,
    delta: tf.Tensor,
    w: ParamTree,
    d: tf.Tensor,
    x: tf.Tensor | null,
    df: tf.Tensor,
  ): ParamTree | null;
}

/** How the Hybrid learner treats a parameter: D-RTRL ('full'), ES-D-RTRL ('approx'), or by size. */
export type GradMode = 'full' | 'approx' | 'adaptive';
