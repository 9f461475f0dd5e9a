/**
 * Fan-in and fan-out of a weight shape (spec §9.3), used by variance scaling: the receptive field
 * is the product of all dimensions except the input and output axes, so a `[in, out]` weight has
 * fanIn = in, and a conv kernel `[kh, kw, cin, cout]` has fanIn = kh·kw·cin, fanOut = kh·kw·cout.
 */
import { ArgumentError } from '../errors';

export interface Fans {
  fanIn: number;
  fanOut: number;
}

function axisIndex(axis: number, rank: number, name: string, shape: readonly number[]): number {
  const i = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(axis) || i < 0 || i >= rank) {
    throw new ArgumentError(
      `computeFans: ${name} ${axis} is out of range for shape [${shape.join(', ')}]`,
    );
  }
  return i;
}

/** The fans of `shape` with the input axis `inAxis` (default −2) and output axis `outAxis` (default −1). */
export function computeFans(shape: readonly number[], inAxis = -2, outAxis = -1): Fans {
  if (shape.length < 2) {
    throw new ArgumentError(
      `computeFans: fans are defined for weights of rank ≥ 2, got shape [${shape.join(', ')}] (use Normal/Uniform for vectors)`,
    );
  }
  const i = axisIndex(inAxis, shape.length, 'inAxis', shape);
  const o = axisIndex(outAxis, shape.length, 'outAxis', shape);
  if (i === o) throw new ArgumentError(`computeFans: inAxis and outAxis are the same axis (${i})`);
  let receptive = 1;
  shape.forEach((d, k) => {
    if (k !== i && k !== o) receptive *= d;
  });
  return { fanIn: shape[i] * receptive, fanOut: shape[o] * receptive };
}
