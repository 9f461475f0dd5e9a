/**
 * Flatten (spec §5.9): merge the axes startAxis..endAxis into one. With a sample shape
 * (`inSize`, or the previous layer's size inside a Sequential), the axes count within the sample
 * and any leading batch axes are kept: `Flatten()` on a [B, 4, 4, 8] batch of [4, 4, 8] samples
 * gives [B, 128]. Without one, the axes are the input's own (upstream's behaviour).
 */
import { tf } from '../../backend/tf';
import { ArgumentError } from '../../errors';
import { Module, type Size } from '../../graph';
import { floatInput, layerLabel, normalizeAxis, prod } from './base';

/** Options of Flatten. */
export interface FlattenOptions {
  /** The sample shape (optional): the axes then count within it and leading axes are batch axes. */
  inSize?: Size;
  name?: string;
}

/** Merge a run of axes into one. */
export class Flatten extends Module {
  readonly startAxis: number;
  readonly endAxis: number;

  constructor(startAxis = 0, endAxis = -1, options: FlattenOptions = {}) {
    super(options.name);
    if (!Number.isInteger(startAxis) || !Number.isInteger(endAxis)) {
      throw new ArgumentError(
        `${layerLabel(this)}: startAxis and endAxis must be integers, got ${startAxis} and ${endAxis}`,
      );
    }
    this.startAxis = startAxis;
    this.endAxis = endAxis;
    if (options.inSize != null) this.adoptInSize(options.inSize);
  }

  /** The flattened shape of `shape` (axes counted within it). */
  private flattenShape(shape: readonly number[]): number[] {
    const where = layerLabel(this);
    const start = normalizeAxis(where, 'startAxis', this.startAxis, shape.length);
    const end = normalizeAxis(where, 'endAxis', this.endAxis, shape.length);
    if (start > end) {
      throw new ArgumentError(
        `${where}: startAxis ${this.startAxis} comes after endAxis ${this.endAxis} for shape [${shape.join(', ')}]`,
      );
    }
    return [...shape.slice(0, start), prod(shape.slice(start, end + 1)), ...shape.slice(end + 1)];
  }

  /** The output sample shape for an input sample shape. */
  outSizeFor(inSize: Size): number[] {
    return this.flattenShape(typeof inSize === 'number' ? [inSize] : inSize);
  }

  /** Fix the sample shape (Sequential calls this with the previous layer's size). */
  adoptInSize(inSize: Size): void {
    const out = this.outSizeFor(inSize);
    this.inSize = inSize;
    this.outSize = out;
  }

  /** x [...batch, ...inSize] → [...batch, ...outSize] (or the input's own axes without inSize). */
  override update(x: tf.Tensor | tf.TensorLike): tf.Tensor {
    const where = layerLabel(this);
    return tf.tidy(() => {
      const t = floatInput(x, where);
      const sample = this.inSize;
      if (sample === null) return tf.reshape(t, this.flattenShape(t.shape));
      const lead = t.rank - sample.length;
      if (lead < 0 || !tf.util.arraysEqual(t.shape.slice(lead), [...sample])) {
        throw new ArgumentError(
          `${where}: expected an input of shape [..., ${sample.join(', ')}], got [${t.shape.join(', ')}]`,
        );
      }
      return tf.reshape(t, [...t.shape.slice(0, lead), ...this.outSize!]);
    });
  }
}
