/**
 * Argument checks shared by the input generators: rates in Hz, times in ms, sizes. Each check
 * throws an ArgumentError that names the module (`PoissonSpike(name='p')`) and the argument.
 */
import { tf } from '../../backend/tf';
import { ArgumentError, describeValue } from '../../errors';

/** A per-neuron or scalar parameter: a number, a (nested) array of numbers, or a tensor. */
export type Rate = number | readonly number[] | tf.Tensor;

/** `ClassName(name='x')`, or `ClassName` for an unnamed module, for messages. */
export function moduleLabel(cls: string, name: string | null | undefined): string {
  return name != null ? `${cls}(name='${name}')` : cls;
}

/** The host values of a number, array or tensor (a tensor is read once, at construction). */
export function hostValues(x: Rate): Float64Array {
  if (typeof x === 'number') return Float64Array.of(x);
  if (x instanceof tf.Tensor) return Float64Array.from(x.dataSync() as ArrayLike<number>);
  return Float64Array.from((x as unknown[]).flat(Infinity) as number[]);
}

/**
 * Validate frequencies in Hz (finite, ≥ 0) and return the largest one. Throws an ArgumentError
 * naming `who` and `what` for a negative, NaN or infinite value.
 */
export function checkRates(who: string, what: string, x: Rate): number {
  if (!(typeof x === 'number' || Array.isArray(x) || x instanceof tf.Tensor)) {
    throw new ArgumentError(
      `${who}: ${what} must be a number, an array of numbers or a tensor (Hz), got ${describeValue(x)}`,
    );
  }
  let max = 0;
  for (const v of hostValues(x)) {
    if (!(Number.isFinite(v) && v >= 0)) {
      throw new ArgumentError(`${who}: ${what} must be finite and ≥ 0 Hz, got ${v}`);
    }
    if (v > max) max = v;
  }
  return max;
}

/** Validate that the probability per step `maxRate·dt/1000` does not exceed 1. */
export function checkRatePerStep(who: string, what: string, maxRate: number, dt: number): void {
  if ((maxRate * dt) / 1000 > 1 + 1e-12) {
    throw new ArgumentError(
      `${who}: ${what}·dt = ${maxRate} Hz × ${dt} ms = ${(maxRate * dt) / 1000} spikes per step is more than 1; ` +
        `lower the rate or the time step (dt ≤ ${1000 / maxRate} ms)`,
    );
  }
}

/** A rate as a float32 tensor (the caller owns it). */
export function rateTensor(x: Rate): tf.Tensor {
  if (x instanceof tf.Tensor) return tf.cast(x, 'float32');
  return tf.tensor(x as number | number[], undefined, 'float32');
}

/** A spike dtype: 'float32' (default; 0/1 values that matMul accepts) or 'bool'. */
export type SpikeType = 'float32' | 'bool';

/** Validate a spike dtype option. */
export function checkSpikeType(who: string, spkType: unknown): SpikeType {
  if (spkType === undefined) return 'float32';
  if (spkType !== 'float32' && spkType !== 'bool') {
    throw new ArgumentError(
      `${who}: spkType must be 'float32' or 'bool', got ${describeValue(spkType)}`,
    );
  }
  return spkType;
}
