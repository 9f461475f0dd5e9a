/**
 * Etrace dense layers (brainscale spec §4): `Linear`, `SignedWLinear`, `SparseLinear` and `LoRA`.
 * Each holds its trainable parameter in one attribute `weight` (an ETraceParam by default, see
 * param.ts) bound to the op that computes the layer, and calls `weight.execute(x)` in `update`,
 * so the etrace compiler sees one weight-op call per layer. Options, sizes and messages follow
 * the plain layers of src/nn (comm/Linear.ts, layers/linear.ts, comm/SparseLinear.ts).
 */
import { tf } from '../../backend/tf';
import { ArgumentError, describeValue } from '../../errors';
import { Module, type Size } from '../../graph';
import { KaimingNormal, LecunNormal, ZeroInit, type NumberArray } from '../../init';
import { synapseWeight, type SynapseWeight } from '../../nn/comm/csrLayer';
import { paramTensor, type TensorInit } from '../../nn/comm/paramTensor';
import { CSR, type CSRLike } from '../../nn/connectivity';
import { floatInput, layerLabel } from '../../nn/layers/base';
import { LoraOp, MatMulOp, SpMatMulOp } from '../ops';
import {
  checkParamOptions,
  disposeParam,
  layerParam,
  type ETraceLayerOptions,
  type LayerParam,
} from './param';

/** The parameters of a dense layer: `{ weight: [in, out], bias?: [out] }`. */
export interface LinearParams {
  [key: string]: tf.Tensor;
  weight: tf.Tensor;
}

/** x as float32 with last axis `nIn`, else an ArgumentError naming the layer. */
function lastAxisInput(where: string, x: tf.Tensor | tf.TensorLike, nIn: number): tf.Tensor {
  const t = floatInput(x, where);
  if (t.rank === 0 || t.shape[t.rank - 1] !== nIn) {
    throw new ArgumentError(
      `${where}: the input must have shape [..., ${nIn}], got [${t.shape.join(', ')}]`,
    );
  }
  return t;
}

/** [in, out] from inSize/outSize, which must agree on all but their last dimension. */
function denseShape(where: string, inShape: readonly number[], outShape: readonly number[]) {
  if (!tf.util.arraysEqual(inShape.slice(0, -1), outShape.slice(0, -1))) {
    throw new ArgumentError(
      `${where}: inSize [${inShape.join(', ')}] and outSize [${outShape.join(', ')}] must agree on all but the last dimension`,
    );
  }
  return [inShape[inShape.length - 1], outShape[outShape.length - 1]];
}

// ---------------------------------------------------------------------------------------------
// Linear

/** Options of Linear. */
export interface LinearOptions extends ETraceLayerOptions {
  /** Weight initializer for shape [in, out] (default KaimingNormal()). */
  wInit?: TensorInit;
  /** Bias initializer for shape [out] (default ZeroInit()); null: no bias. */
  bInit?: TensorInit | null;
  /** A fixed mask broadcastable to [in, out] multiplying the weight (e.g. 0/1 connectivity). */
  wMask?: tf.Tensor | NumberArray | null;
  /**
   * The input is mostly zeros (spikes): the product walks its non-zeros instead of a dense
   * matMul (MatMulOpOptions.eventInput; same values up to float32 summation order). Default false.
   */
  eventInput?: boolean;
}

/** Dense layer y = x @ (W ⊙ mask) + b: `MatMulOp(weightMask)` on `weight` = `{ weight, bias? }`. */
export class Linear extends Module {
  weight: LayerParam<LinearParams>;
  /** The weight mask (float32, kept; not trained), or null. */
  readonly wMask: tf.Tensor | null;

  constructor(inSize: Size, outSize: Size, options: LinearOptions = {}) {
    super(options.name);
    this.inSize = inSize;
    this.outSize = outSize;
    const where = layerLabel(this);
    checkParamOptions(where, options);
    const [nIn, nOut] = denseShape(where, this.inSize!, this.outSize!);
    if (options.eventInput !== undefined && typeof options.eventInput !== 'boolean') {
      throw new ArgumentError(
        `${where}: eventInput must be a boolean, got ${describeValue(options.eventInput)}`,
      );
    }
    const mask = options.wMask ?? null;
    this.wMask = mask === null ? null : tf.keep(paramTensor(mask, [nIn, nOut], `${where}: wMask`));
    const params: LinearParams = {
      weight: paramTensor(options.wInit ?? KaimingNormal(), [nIn, nOut], `${where}: wInit`),
    };
    const bInit = options.bInit === undefined ? ZeroInit() : options.bInit;
    if (bInit !== null) params.bias = paramTensor(bInit, [nOut], `${where}: bInit`);
    const op = new MatMulOp({
      ...(this.wMask === null ? {} : { weightMask: this.wMask }),
      ...(options.eventInput === true ? { eventInput: true } : {}),
    });
    this.weight = layerParam(where, params, op, options);
  }

  /** Free the layer's tensors (parameter and mask). The layer cannot be called afterwards. */
  dispose(): void {
    disposeParam(this.weight);
    this.wMask?.dispose();
  }

  /** x [..., in] → y [..., out]. */
  override update(x: tf.Tensor | tf.TensorLike): tf.Tensor {
    const nIn = this.inSize![this.inSize!.length - 1];
    return tf.tidy(() => this.weight.execute(lastAxisInput(layerLabel(this), x, nIn)));
  }
}

// ---------------------------------------------------------------------------------------------
// SignedWLinear

/** Options of SignedWLinear. */
export interface SignedWLinearOptions extends LinearOptions {
  /** Signs broadcastable to [in, out] (e.g. +1 excitatory rows, −1 inhibitory rows); default all +1. */
  wSign?: tf.Tensor | NumberArray | number | null;
}

/**
 * Dense layer with sign-constrained weights: y = x @ (|W| ⊙ sign ⊙ mask) (+ b), as
 * `MatMulOp({ weightMask: sign ⊙ mask, weightFn: abs, applyWeightFnBeforeMask: true })`. (Upstream
 * applies abs after the mask and loses the sign; this is the intended form.) Default wInit
 * KaimingNormal(), no bias (bInit null).
 */
export class SignedWLinear extends Module {
  weight: LayerParam<LinearParams>;
  /** The fixed signs (float32 [in, out], kept; not trained), or null for all +1. */
  readonly wSign: tf.Tensor | null;
  /** The weight mask (float32, kept; not trained), or null. */
  readonly wMask: tf.Tensor | null;
  /** sign ⊙ mask, the op's mask (shares wSign/wMask when only one is given). */
  private readonly opMask: tf.Tensor | null;

  constructor(inSize: Size, outSize: Size, options: SignedWLinearOptions = {}) {
    super(options.name);
    this.inSize = inSize;
    this.outSize = outSize;
    const where = layerLabel(this);
    checkParamOptions(where, options);
    const [nIn, nOut] = denseShape(where, this.inSize!, this.outSize!);
    const kept = (v: tf.Tensor | NumberArray | number | null | undefined, what: string) =>
      v == null ? null : tf.keep(paramTensor(v, [nIn, nOut], `${where}: ${what}`));
    this.wSign = kept(options.wSign, 'wSign');
    this.wMask = kept(options.wMask, 'wMask');
    this.opMask =
      this.wSign !== null && this.wMask !== null
        ? tf.keep(tf.mul(this.wSign, this.wMask))
        : (this.wSign ?? this.wMask);
    Object.defineProperty(this, 'opMask', { enumerable: false });
    const params: LinearParams = {
      weight: paramTensor(options.wInit ?? KaimingNormal(), [nIn, nOut], `${where}: wInit`),
    };
    if (options.bInit != null) params.bias = paramTensor(options.bInit, [nOut], `${where}: bInit`);
    const op = new MatMulOp({
      ...(this.opMask === null ? {} : { weightMask: this.opMask }),
      weightFn: tf.abs,
      applyWeightFnBeforeMask: true,
    });
    this.weight = layerParam(where, params, op, options);
  }

  /** The weight the product uses: |W| ⊙ sign ⊙ mask (a new tensor). */
  effectiveWeight(): tf.Tensor {
    const { weight } = this.weight.value;
    return tf.tidy(() =>
      this.opMask === null ? tf.abs(weight) : tf.mul(tf.abs(weight), this.opMask),
    );
  }

  dispose(): void {
    disposeParam(this.weight);
    if (this.opMask !== this.wSign && this.opMask !== this.wMask) this.opMask?.dispose();
    this.wSign?.dispose();
    this.wMask?.dispose();
  }

  /** x [..., in] → y [..., out]. */
  override update(x: tf.Tensor | tf.TensorLike): tf.Tensor {
    const nIn = this.inSize![this.inSize!.length - 1];
    return tf.tidy(() => this.weight.execute(lastAxisInput(layerLabel(this), x, nIn)));
  }
}

// ---------------------------------------------------------------------------------------------
// SparseLinear

const SP_OP = Symbol('brainstate.etrace.nn.spOp');

/** Options of SparseLinear. */
export interface SparseLinearOptions extends ETraceLayerOptions {
  /**
   * The nonzero values: a number (every synapse, trained per synapse), nnz per-synapse values in
   * CSR order, or an initializer called with [nnz]. Default 1.
   */
  weight?: SynapseWeight;
  /** Bias initializer (shape [nPost]); default null: no bias. */
  bInit?: TensorInit | null;
  /** The input size (default [nPre]); its last entry must be nPre. */
  inSize?: Size;
}

/**
 * y = x @ W_csr (+ b) with a fixed CSR pattern and trainable nonzero values:
 * `SpMatMulOp({ indptr, indices, shape: [nPre, nPost] })` on `weight` = `{ weight: [nnz], bias? }`.
 */
export class SparseLinear extends Module {
  /** The connectivity (host side). */
  readonly conn: CSR;
  weight: LayerParam<LinearParams>;

  constructor(conn: CSRLike, options: SparseLinearOptions = {}) {
    super(options.name);
    const where = layerLabel(this);
    checkParamOptions(where, options);
    const csr = CSR.from(conn);
    if (csr.nPre === 0 || csr.nPost === 0) {
      throw new ArgumentError(
        `${where}: the connectivity must have nPre > 0 and nPost > 0, got ${String(csr)}`,
      );
    }
    this.conn = csr;
    this.inSize = options.inSize ?? csr.nPre;
    const inShape = this.inSize!;
    if (inShape[inShape.length - 1] !== csr.nPre) {
      throw new ArgumentError(
        `${where}: the last entry of inSize [${inShape.join(', ')}] must be the connectivity's nPre = ${csr.nPre}`,
      );
    }
    this.outSize = [...inShape.slice(0, -1), csr.nPost];
    const w = synapseWeight(options.weight ?? 1, csr.nnz, where);
    const params: LinearParams = {
      weight: w.rank === 0 ? tf.tidy(() => tf.broadcastTo(w, [csr.nnz])) : w,
    };
    if (w.rank === 0) w.dispose();
    const bInit = options.bInit ?? null;
    if (bInit !== null) params.bias = paramTensor(bInit, [csr.nPost], `${where}: bInit`);
    const op = new SpMatMulOp({
      indptr: csr.indptr,
      indices: csr.indices,
      shape: [csr.nPre, csr.nPost],
    });
    Object.defineProperty(this, SP_OP, { value: op, enumerable: false });
    this.weight = layerParam(where, params, op, options);
  }

  /** Number of synapses. */
  get nnz(): number {
    return this.conn.nnz;
  }

  /** Free the parameter and the op's index tensors (shared with clones of this layer). */
  dispose(): void {
    disposeParam(this.weight);
    (this as unknown as { [SP_OP]: SpMatMulOp })[SP_OP].dispose();
  }

  /** x [..., nPre] → y [..., nPost]. */
  override update(x: tf.Tensor | tf.TensorLike): tf.Tensor {
    return tf.tidy(() => this.weight.execute(lastAxisInput(layerLabel(this), x, this.conn.nPre)));
  }
}

// ---------------------------------------------------------------------------------------------
// LoRA

/** Options of LoRA. */
export interface LoRAOptions extends ETraceLayerOptions {
  /** The update is scaled by alpha / rank (default alpha 1). */
  alpha?: number;
  /** A module or function of x whose output is added (the layer being adapted). */
  baseModule?: Module | ((x: tf.Tensor) => tf.Tensor) | null;
  /** Initializer of B [in, rank] (default ZeroInit()). */
  BInit?: TensorInit;
  /** Initializer of A [rank, out] (default LecunNormal()). */
  AInit?: TensorInit;
}

/**
 * A standalone low-rank adapter: y = (alpha/rank)·x @ B @ A (+ baseModule(x)), as
 * `LoraOp({ alpha: alpha/rank })` on `weight` = `{ B: [in, rank], A: [rank, out] }`.
 */
export class LoRA extends Module {
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly loraRank: number;
  readonly alpha: number;
  /** The adapted module (a graph child when it is a Module), or null. */
  baseModule: Module | ((x: tf.Tensor) => tf.Tensor) | null;
  weight: LayerParam<{ [key: string]: tf.Tensor; B: tf.Tensor; A: tf.Tensor }>;

  constructor(inFeatures: Size, loraRank: number, outFeatures: Size, options: LoRAOptions = {}) {
    super(options.name);
    this.inSize = inFeatures;
    this.outSize = outFeatures;
    const where = layerLabel(this);
    checkParamOptions(where, options);
    const [nIn, nOut] = denseShape(where, this.inSize!, this.outSize!);
    if (!Number.isSafeInteger(loraRank) || loraRank <= 0) {
      throw new ArgumentError(
        `${where}: loraRank must be a positive integer, got ${describeValue(loraRank)}`,
      );
    }
    const alpha = options.alpha ?? 1;
    if (typeof alpha !== 'number' || !Number.isFinite(alpha)) {
      throw new ArgumentError(
        `${where}: alpha must be a finite number, got ${describeValue(alpha)}`,
      );
    }
    const base = options.baseModule ?? null;
    if (base !== null && !(base instanceof Module) && typeof base !== 'function') {
      throw new ArgumentError(
        `${where}: baseModule must be a Module or a function, got ${describeValue(base)}`,
      );
    }
    this.inFeatures = nIn;
    this.outFeatures = nOut;
    this.loraRank = loraRank;
    this.alpha = alpha;
    this.baseModule = base;
    const params = {
      B: paramTensor(options.BInit ?? ZeroInit(), [nIn, loraRank], `${where}: BInit`),
      A: paramTensor(options.AInit ?? LecunNormal(), [loraRank, nOut], `${where}: AInit`),
    };
    this.weight = layerParam(where, params, new LoraOp({ alpha: alpha / loraRank }), options);
  }

  dispose(): void {
    disposeParam(this.weight);
  }

  /** x [..., in] → y [..., out]. */
  override update(x: tf.Tensor | tf.TensorLike): tf.Tensor {
    return tf.tidy(() => {
      const t = lastAxisInput(layerLabel(this), x, this.inFeatures);
      const y = this.weight.execute(t);
      const base = this.baseModule;
      if (base === null) return y;
      const b = base instanceof Module ? (base.call(t) as tf.Tensor) : base(t);
      return tf.add(y, b);
    });
  }
}
