/**
 * What the etrace layers share: the `paramType` / `grad` options and the parameter they build
 * from them. A layer's trainable parameter is an `ETraceParam` (default: traced by the online
 * learners), a `NonTempParam` ('nonTemp': current-step gradient only) or a `FakeETraceParam`
 * ('fake': a fixed value, not a state, never trained); all three offer `value` and `execute(x)`.
 */
import { tf } from '../../backend/tf';
import { ArgumentError, describeValue } from '../../errors';
import type { ETraceOp, GradMode, ParamTree } from '../op';
import { ETraceParam, FakeETraceParam, NonTempParam } from '../params';

/** How a layer's parameter learns: traced ('etrace'), current step only ('nonTemp'), never ('fake'). */
export type ParamType = 'etrace' | 'nonTemp' | 'fake';

/** Options every etrace layer accepts. */
export interface ETraceLayerOptions {
  /** The parameter class: 'etrace' (ETraceParam, default), 'nonTemp' (NonTempParam), 'fake' (FakeETraceParam). */
  paramType?: ParamType;
  /** Passed to the ETraceParam: which trace the Hybrid learner keeps (default 'adaptive'). */
  grad?: GradMode;
  name?: string;
}

/** A layer's parameter: one of the three kinds, all with `value` and `execute(x)`. */
export type LayerParam<P extends ParamTree = ParamTree> =
  ETraceParam<P> | NonTempParam<P> | FakeETraceParam<P>;

/**
 * Check `paramType` and `grad` (layers call this before creating any tensor, so a bad option
 * leaks nothing).
 */
export function checkParamOptions(where: string, options: ETraceLayerOptions): void {
  const kind = options.paramType ?? 'etrace';
  if (!['etrace', 'nonTemp', 'fake'].includes(kind)) {
    throw new ArgumentError(
      `${where}: paramType must be 'etrace', 'nonTemp' or 'fake', got ${describeValue(kind)}`,
    );
  }
  const grad = options.grad ?? 'adaptive';
  if (!['full', 'approx', 'adaptive'].includes(grad)) {
    throw new ArgumentError(
      `${where}: grad must be 'full', 'approx' or 'adaptive', got ${describeValue(grad)}`,
    );
  }
}

/** Build the parameter of `paramType` for `value` bound to `op` (errors name the layer). */
export function layerParam<P extends ParamTree>(
  where: string,
  value: P,
  op: ETraceOp,
  options: { paramType?: ParamType; grad?: GradMode },
): LayerParam<P> {
  const kind = options.paramType ?? 'etrace';
  switch (kind) {
    case 'etrace':
      return new ETraceParam<P>(value, op, { grad: options.grad });
    case 'nonTemp':
      return new NonTempParam<P>(value, op);
    case 'fake':
      for (const t of leaves(value)) tf.keep(t);
      return new FakeETraceParam<P>(value, op);
    default:
      throw new ArgumentError(
        `${where}: paramType must be 'etrace', 'nonTemp' or 'fake', got ${describeValue(kind)}`,
      );
  }
}

/** The parameter's current value (a read, for states). */
export function paramValue<P extends ParamTree>(p: LayerParam<P>): P {
  return p.value as P;
}

/** Free a parameter's tensors (a state is disposed; a fake parameter's tensors are freed). */
export function disposeParam<P extends ParamTree>(p: LayerParam<P> | null): void {
  if (p === null) return;
  if (p instanceof FakeETraceParam) tf.dispose(leaves(p.value as ParamTree));
  else p.dispose();
}

function leaves(w: ParamTree): tf.Tensor[] {
  return w instanceof tf.Tensor ? [w] : Object.values(w);
}
