/**
 * Piecewise-constant input currents, a port convenience following BrainPy/braintools (not in
 * brainstate): `sectionInput(values, durations)` concatenates constant segments of
 * round(duration/dt) steps each; `constantInput([[value, duration], …])` does the same and also
 * returns the total duration. The result is a float32 tensor [T, ...shape] (the caller owns it),
 * e.g. for a Runner input `[['E', current, { type: 'iter' }]]`.
 *
 *   const I = sectionInput([0, 20, 0], [100, 800, 100]);       // [10000] at dt = 0.1 ms
 */
import { tf } from '../../backend/tf';
import * as environ from '../../environ';
import { ArgumentError, describeValue } from '../../errors';
import { broadcastShapes } from '../../random';

/** A segment's value: a number, an array of numbers (one per neuron), or a tensor. */
export type SectionValue = number | readonly number[] | tf.Tensor;

/** Options of sectionInput / constantInput. */
export interface SectionOptions {
  /** Time step in ms (default: environ dt). */
  dt?: number;
}

function steps(where: string, duration: unknown, dt: number, k: number): number {
  if (typeof duration !== 'number' || !Number.isFinite(duration) || duration < 0) {
    throw new ArgumentError(
      `${where}: duration ${k} must be a finite number of ms ≥ 0, got ${describeValue(duration)}`,
    );
  }
  return Math.round(duration / dt);
}

function checkDt(where: string, dt: unknown): number {
  if (dt === undefined) return environ.getDt();
  if (typeof dt !== 'number' || !(dt > 0) || !Number.isFinite(dt)) {
    throw new ArgumentError(
      `${where}: dt must be a positive number of ms, got ${describeValue(dt)}`,
    );
  }
  return dt;
}

function build(where: string, segments: [SectionValue, number][], dt: number): tf.Tensor {
  const counts = segments.map(([, d], k) => steps(where, d, dt, k));
  return tf.tidy(() => {
    const values = segments.map(([v], k) => {
      if (!(typeof v === 'number' || Array.isArray(v) || v instanceof tf.Tensor)) {
        throw new ArgumentError(
          `${where}: value ${k} must be a number, an array or a tensor, got ${describeValue(v)}`,
        );
      }
      return v instanceof tf.Tensor ? tf.cast(v, 'float32') : tf.tensor(v as number | number[]);
    });
    const shape = values.reduce<number[]>((s, v) => broadcastShapes(s, v.shape, where), []);
    const parts = values
      .map((v, k) => tf.broadcastTo(tf.reshape(v, [1, ...v.shape]), [counts[k], ...shape]))
      .filter((_, k) => counts[k] > 0);
    return parts.length ? tf.concat(parts, 0) : tf.zeros([0, ...shape]);
  });
}

/** Concatenate constant segments: `values[k]` for round(durations[k]/dt) steps (durations in ms). */
export function sectionInput(
  values: readonly SectionValue[],
  durations: readonly number[],
  options: SectionOptions = {},
): tf.Tensor {
  const where = 'sectionInput';
  if (!Array.isArray(values) || !Array.isArray(durations)) {
    throw new ArgumentError(`${where}: values and durations must be arrays`);
  }
  if (values.length !== durations.length) {
    throw new ArgumentError(
      `${where}: got ${values.length} values and ${durations.length} durations; they must have the same length`,
    );
  }
  const dt = checkDt(where, options.dt);
  return build(
    where,
    values.map((v, k) => [v, durations[k]]),
    dt,
  );
}

/** `[[value, duration], …]` → `[current [T, ...shape], total duration in ms]`. */
export function constantInput(
  segments: readonly (readonly [SectionValue, number])[],
  options: SectionOptions = {},
): [tf.Tensor, number] {
  const where = 'constantInput';
  if (!Array.isArray(segments) || !segments.every((s) => Array.isArray(s) && s.length === 2)) {
    throw new ArgumentError(`${where}: expected an array of [value, duration] pairs`);
  }
  const dt = checkDt(where, options.dt);
  const current = build(
    where,
    segments.map(([v, d]) => [v, d]),
    dt,
  );
  const total = segments.reduce((s, [, d]) => s + d, 0);
  return [current, total];
}
