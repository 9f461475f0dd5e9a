/**
 * Sequential (spec §2.6): layers applied in order, with delayed initialisation. Each item is a
 * Module, a plain function of one tensor, or a describer (`Linear.desc(10)`) that is built once
 * the previous layer's output size is known — as `new Linear(previousOutSize, 10)`: the size is
 * inserted as the first constructor argument. Layers whose sample shape is optional (pooling,
 * Flatten) instead adopt the previous size (`adoptInSize`). The size is followed through the chain
 * (ElementWiseBlocks and functions keep it), giving the Sequential's `inSize` / `outSize`.
 * `compose(...layers)` is the function form, and graph's `pipe(x, ...modules)` applies modules.
 */
import { tf } from '../../backend/tf';
import { ArgumentError, BrainStateError, describeValue } from '../../errors';
import { Module, ParamDescriber, type Size } from '../../graph';
import { ElementWiseBlock, layerLabel } from './base';

/** A layer of a Sequential: a Module, or a function of one tensor (it keeps the size). */
export type Layer = Module | ((x: tf.Tensor) => tf.Tensor);

/** An item given to a Sequential: a layer, or a describer built with the previous layer's size. */
export type SequentialItem = Layer | ParamDescriber<Module>;

/** A module whose sample shape can be fixed after construction (pooling, Flatten). */
interface SizeAdaptive {
  adoptInSize(inSize: Size): void;
}

function isSizeAdaptive(x: unknown): x is SizeAdaptive {
  return typeof (x as { adoptInSize?: unknown }).adoptInSize === 'function';
}

type Shape = readonly number[];

const SIZES = Symbol('brainstate.sequential.sizes');

function isSize(x: unknown): x is Size {
  return (
    (typeof x === 'number' && Number.isInteger(x)) ||
    (Array.isArray(x) && x.length > 0 && x.every((v) => typeof v === 'number'))
  );
}

const text = (s: Shape | null): string => (s === null ? 'unknown' : `[${s.join(', ')}]`);

function itemLabel(item: unknown): string {
  if (item instanceof Module) return layerLabel(item);
  if (item instanceof ParamDescriber) return item.toString();
  if (typeof item === 'function') return `function ${item.name || '(anonymous)'}`;
  return describeValue(item);
}

/** True if `suffix` equals the trailing entries of `shape`. */
function endsWith(shape: Shape, suffix: Shape): boolean {
  return (
    suffix.length <= shape.length &&
    suffix.every((d, i) => d === shape[shape.length - suffix.length + i])
  );
}

/** Layers applied in order, sizes inferred from layer to layer. */
export class Sequential extends Module {
  /** The layers, in order (paths `['layers', i, ...]`). */
  layers: Layer[];
  /** Output size after each layer (null where unknown). */
  private [SIZES]: (Shape | null)[];

  /**
   * `new Sequential(first, ...items)`, or `new Sequential(inSize, ...items)` to start from a
   * size (so that even the first item may be a describer).
   */
  constructor(first: Size | SequentialItem, ...items: SequentialItem[]) {
    super();
    this.layers = [];
    this[SIZES] = [];
    if (isSize(first)) {
      this.inSize = first;
    } else {
      const [layer, out] = this.format(first, null, 0);
      this.layers.push(layer);
      this[SIZES].push(out);
      if (layer instanceof Module && layer.inSize !== null) this.inSize = layer.inSize;
    }
    this.outSize = this[SIZES].length > 0 ? this[SIZES][0] : this.inSize;
    this.extend(...items);
  }

  /** Number of layers. */
  get length(): number {
    return this.layers.length;
  }

  /** The size going into layer `index` (the Sequential's inSize for the first). */
  private sizeBefore(index: number): Shape | null {
    return index === 0 ? this.inSize : this[SIZES][index - 1];
  }

  /** Build or check one item given the size coming into it; returns the layer and its output size. */
  private format(item: unknown, inSize: Shape | null, index: number): [Layer, Shape | null] {
    const where = `Sequential: layer ${index} (${itemLabel(item)})`;
    if (item instanceof ParamDescriber) {
      if (inSize === null) {
        throw new ArgumentError(
          `${where}: a describer needs the previous layer's output size, which is unknown; give the previous layer an outSize, build this layer yourself, or start the Sequential with an inSize`,
        );
      }
      let built: Module;
      try {
        if (isSizeAdaptive(item.cls.prototype)) {
          built = item.build();
          (built as unknown as SizeAdaptive).adoptInSize(inSize);
        } else {
          built = Reflect.construct(item.cls, [[...inSize], ...item.args]) as Module;
        }
      } catch (e) {
        throw prefixed(e, `${where}, built with inSize ${text(inSize)}`);
      }
      return [built, built.outSize];
    }
    if (item instanceof ElementWiseBlock) {
      if (item.inSize !== null && inSize !== null && !endsWith(inSize, item.inSize)) {
        throw new ArgumentError(
          `${where}: the layer works on size ${text(item.inSize)} but receives ${text(inSize)}`,
        );
      }
      return [item, inSize];
    }
    if (item instanceof Module) {
      if (item.inSize === null) {
        if (isSizeAdaptive(item) && inSize !== null) {
          try {
            item.adoptInSize(inSize);
          } catch (e) {
            throw prefixed(e, where);
          }
        }
        return [item, item.outSize];
      }
      if (inSize === null) return [item, item.outSize];
      // A layer for size [...s] applies to any [...lead, ...s] (Linear over the last axis): the
      // leading axes pass through.
      if (!endsWith(inSize, item.inSize)) {
        throw new ArgumentError(
          `${where}: the layer expects inSize ${text(item.inSize)} but the previous layer gives ${text(inSize)}`,
        );
      }
      const lead = inSize.slice(0, inSize.length - item.inSize.length);
      return [item, item.outSize === null ? null : [...lead, ...item.outSize]];
    }
    if (typeof item === 'function') return [item as Layer, inSize];
    throw new ArgumentError(
      `${where}: expected a Module, a describer (e.g. Linear.desc(10)) or a function of one tensor`,
    );
  }

  /** Add a layer at the end. */
  append(item: SequentialItem): this {
    return this.insert(this.layers.length, item);
  }

  /** Add layers at the end. */
  extend(...items: SequentialItem[]): this {
    for (const item of items) this.append(item);
    return this;
  }

  /**
   * Insert a layer before `index` (negative counts from the end). Its output size must be the
   * size the following layer was built for.
   */
  insert(index: number, item: SequentialItem): this {
    const n = this.layers.length;
    const at = index < 0 ? index + n : index;
    if (!Number.isInteger(index) || at < 0 || at > n) {
      throw new ArgumentError(
        `Sequential.insert: index ${describeValue(index)} is out of range for ${n} layers`,
      );
    }
    const before = this.sizeBefore(at);
    const [layer, out] = this.format(item, before, at);
    if (at < n && out !== null && before !== null && !tf.util.arraysEqual([...out], [...before])) {
      throw new ArgumentError(
        `Sequential.insert: layer ${itemLabel(item)} changes the size from ${text(before)} to ${text(out)}, but layer ${at} (${itemLabel(this.layers[at])}) was built for ${text(before)}`,
      );
    }
    this.layers.splice(at, 0, layer);
    this[SIZES].splice(at, 0, at < n ? (before ?? out) : out);
    if (at === n) this.outSize = out;
    return this;
  }

  /** Layer `index` (negative counts from the end). */
  at(index: number): Layer {
    const n = this.layers.length;
    const i = index < 0 ? index + n : index;
    if (!Number.isInteger(index) || i < 0 || i >= n) {
      throw new ArgumentError(
        `Sequential.at: index ${describeValue(index)} is out of range for ${n} layers`,
      );
    }
    return this.layers[i];
  }

  /** A new Sequential of layers start..end (exclusive; negative counts from the end), sharing them. */
  slice(start = 0, end = this.layers.length): Sequential {
    return this.select(this.layers.map((_, i) => i).slice(start, end));
  }

  /** A new Sequential of the layers at `indices`, in that order, sharing them. */
  select(indices: readonly number[]): Sequential {
    if (indices.length === 0) {
      throw new ArgumentError('Sequential: a selection must contain at least one layer');
    }
    const picked = indices.map((i) => this.at(i));
    const first = indices[0] < 0 ? indices[0] + this.layers.length : indices[0];
    const inSize = this.sizeBefore(first);
    return inSize !== null && !(picked[0] instanceof Module && picked[0].inSize !== null)
      ? new Sequential(inSize, ...picked)
      : new Sequential(picked[0], ...picked.slice(1));
  }

  [Symbol.iterator](): Iterator<Layer> {
    return this.layers[Symbol.iterator]();
  }

  /** Apply the layers in order. An error is rethrown naming the failing layer and its input shape. */
  override update(x: tf.Tensor | tf.TensorLike): tf.Tensor {
    return tf.tidy(() => {
      let y: tf.Tensor = x instanceof tf.Tensor ? x : tf.tensor(x);
      this.layers.forEach((layer, i) => {
        try {
          y = layer instanceof Module ? (layer.call(y) as tf.Tensor) : layer(y);
        } catch (e) {
          throw prefixed(
            e,
            `Sequential: layer ${i} (${itemLabel(layer)}) on input [${y.shape.join(', ')}]`,
          );
        }
      });
      return y;
    });
  }
}

/**
 * A BrainStateError keeps its class and gets `context` prefixed to its message (so callers can
 * still catch ArgumentError etc.); any other error is wrapped in a BrainStateError with it as cause.
 */
function prefixed(e: unknown, context: string): Error {
  if (e instanceof BrainStateError) {
    e.message = `${context}: ${e.message}`;
    return e;
  }
  const wrapped = new BrainStateError(`${context}: ${e instanceof Error ? e.message : String(e)}`);
  (wrapped as Error & { cause?: unknown }).cause = e;
  return wrapped;
}

/**
 * The layers as one function, applied left to right: `compose(conv, relu, pool)(x)` =
 * `pool(relu(conv(x)))` (Python's `x >> conv >> relu >> pool`). Intermediate tensors are freed.
 */
export function compose(...layers: Layer[]): (x: tf.Tensor | tf.TensorLike) => tf.Tensor {
  layers.forEach((l, i) => {
    if (!(l instanceof Module) && typeof l !== 'function') {
      throw new ArgumentError(
        `compose: item ${i} must be a Module or a function of one tensor, got ${describeValue(l)}`,
      );
    }
  });
  return (x) =>
    tf.tidy(() =>
      layers.reduce<tf.Tensor>(
        (acc, l) => (l instanceof Module ? (l.call(acc) as tf.Tensor) : l(acc)),
        x instanceof tf.Tensor ? x : tf.tensor(x),
      ),
    );
}
