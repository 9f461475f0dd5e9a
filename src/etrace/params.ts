/**
 * Parameters for online learning (spec brainscale §1.2). An `ETraceParam` is a `ParamState` bound
 * to an `ETraceOp`: `execute(x)` computes `op.forward(x, value)` and tells the recorder "this is a
 * weight-op call: x, y, and the parameter", which is all the etrace compiler needs to find the
 * parameter's relations to hidden groups. `ElemWiseParam` is the input-less kind (`y = fn(w)`).
 * `NonTempParam` has an op but no trace: the online learners give it the gradient of the current
 * step only (as for any plain ParamState). The `Fake*` kinds are plain holders: never trained,
 * invisible to the compiler.
 */
import { tf } from '../backend/tf';
import { annotate } from '../compile/recorder';
import { ArgumentError, StateError } from '../errors';
import { ParamState, type StateOptions } from '../state';
import type { StateValue } from '../state/tree';
import type { ETraceOp, GradMode, ParamTree } from './op';
import { ElemWiseOp } from './ops';

export interface ETraceParamOptions extends StateOptions {
  /** Which trace the Hybrid learner keeps: 'full' (D-RTRL), 'approx' (ES-D-RTRL), 'adaptive'. */
  grad?: GradMode;
}

function isOp(x: unknown): x is ETraceOp {
  return (
    x !== null &&
    typeof x === 'object' &&
    typeof (x as ETraceOp).forward === 'function' &&
    typeof (x as ETraceOp).traceGrad === 'function'
  );
}

function leavesOf(w: ParamTree): tf.Tensor[] {
  return w instanceof tf.Tensor ? [w] : Object.keys(w).map((k) => w[k]);
}

/** A trainable parameter whose gradient the online learners build from eligibility traces. */
export class ETraceParam<T extends ParamTree = ParamTree> extends ParamState<T & StateValue> {
  declare readonly op: ETraceOp;
  declare readonly grad: GradMode;
  /** Cleared by the compiler when the op's output reaches no hidden state. */
  isEtrace = true;

  constructor(value: T, op: ETraceOp, options: ETraceParamOptions = {}) {
    if (!isOp(op)) {
      throw new ArgumentError(
        `${new.target.name}: the second argument must be an ETraceOp (MatMulOp, ConvOp, ...), got ${
          op === null ? 'null' : typeof op
        }`,
      );
    }
    super(value as T & StateValue, options);
    const grad = options.grad ?? 'adaptive';
    if (!['full', 'approx', 'adaptive'].includes(grad)) {
      throw new ArgumentError(
        `${this.describe()}: grad must be 'full', 'approx' or 'adaptive', got '${String(grad)}'`,
      );
    }
    Object.defineProperty(this, 'op', { value: op, enumerable: false });
    Object.defineProperty(this, 'grad', { value: grad, enumerable: false, writable: true });
  }

  override copy(): this {
    const Ctor = this.constructor as new (v: T, op: ETraceOp, o: ETraceParamOptions) => this;
    return new Ctor(this.rawValue as T, this.op, {
      name: this.name ?? undefined,
      tag: [...this.tags],
      grad: this.grad,
    });
  }

  override replace(
    value?: (T & StateValue) | ParamState<T & StateValue>,
  ): ParamState<T & StateValue> {
    if (value instanceof ParamState) return super.replace(value);
    const Ctor = this.constructor as new (v: T, op: ETraceOp, o: ETraceParamOptions) => this;
    return new Ctor((value ?? this.rawValue) as T, this.op, {
      name: this.name ?? undefined,
      tag: [...this.tags],
      grad: this.grad,
    });
  }

  /** y = op(x, value); recorded as one weight-op call for the etrace compiler. */
  execute(x: tf.Tensor): tf.Tensor {
    if (this.op.kind === 'elementwise') {
      throw new ArgumentError(
        `${this.describe()}: an element-wise op takes no input; use an ElemWiseParam and call execute()`,
      );
    }
    if (!(x instanceof tf.Tensor)) {
      throw new ArgumentError(`${this.describe()}.execute: x must be a tensor, got ${typeof x}`);
    }
    return callOp(this, x);
  }
}

function callOp(param: ETraceParam, x: tf.Tensor | null): tf.Tensor {
  const w = param.value as ParamTree;
  annotate('weightOpBegin', [], { param });
  const y = param.op.forward(x, w);
  if (!(y instanceof tf.Tensor)) {
    throw new StateError(
      `${param.describe()}: ${param.op.name}.forward must return one tensor (multi-output weight ops are not supported)`,
    );
  }
  annotate('weightOp', x ? [x, y, ...leavesOf(w)] : [y, ...leavesOf(w)], {
    param,
    op: param.op,
    hasX: x !== null,
  });
  return y;
}

/** A parameter acting element-wise with no input: `y = fn(w)` has the hidden shape (e.g. a decay). */
export class ElemWiseParam<T extends ParamTree = ParamTree> extends ETraceParam<T> {
  constructor(
    value: T,
    op: ETraceOp | ((w: T) => tf.Tensor) = new ElemWiseOp(),
    options: StateOptions = {},
  ) {
    const o = typeof op === 'function' ? new ElemWiseOp(op as (w: ParamTree) => tf.Tensor) : op;
    if (isOp(o) && o.kind !== 'elementwise') {
      throw new ArgumentError(
        `ElemWiseParam: the op must be element-wise (ElemWiseOp), got ${o.name} (${o.kind})`,
      );
    }
    super(value, o, { ...options, grad: 'full' });
  }

  override execute(): tf.Tensor {
    return callOp(this, null);
  }
}

/** A parameter with an op but no trace: trained with the current step's gradient only. */
export class NonTempParam<T extends ParamTree = ParamTree> extends ParamState<T & StateValue> {
  declare readonly fn: (x: tf.Tensor, w: T) => tf.Tensor;

  constructor(
    value: T,
    op: ETraceOp | ((x: tf.Tensor, w: T) => tf.Tensor),
    options: StateOptions = {},
  ) {
    super(value as T & StateValue, options);
    const fn = isOp(op)
      ? (x: tf.Tensor, w: T) => op.forward(x, w)
      : typeof op === 'function'
        ? op
        : null;
    if (fn === null) {
      throw new ArgumentError(
        `NonTempParam: op must be an ETraceOp or a function (x, w) => y, got ${typeof op}`,
      );
    }
    Object.defineProperty(this, 'fn', { value: fn, enumerable: false });
  }

  execute(x: tf.Tensor): tf.Tensor {
    return this.fn(x, this.value as T);
  }
}

/** Not a state: a fixed parameter with the ETraceParam interface (never trained or traced). */
export class FakeETraceParam<T extends ParamTree = ParamTree> {
  constructor(
    public value: T,
    readonly op: ETraceOp | ((x: tf.Tensor, w: T) => tf.Tensor),
  ) {}

  execute(x: tf.Tensor): tf.Tensor {
    return isOp(this.op) ? this.op.forward(x, this.value) : this.op(x, this.value);
  }
}

/** Not a state: a fixed element-wise parameter (`execute()` returns `fn(value)`). */
export class FakeElemWiseParam<T extends ParamTree = ParamTree> {
  constructor(
    public value: T,
    readonly fn: (w: T) => tf.Tensor = (w) => w as unknown as tf.Tensor,
  ) {}

  execute(): tf.Tensor {
    return this.fn(this.value);
  }
}
