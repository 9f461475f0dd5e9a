/**
 * Argument checks of the data layer. Every check throws an ArgumentError naming the task or
 * function and the option, with the accepted range, so a bad option fails when the task is made.
 */
import { ArgumentError, describeValue } from '../errors';

/** An integer ≥ `min` (default 1). */
export function checkInteger(where: string, name: string, value: unknown, min = 1): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw new ArgumentError(
      `${where}: ${name} must be an integer ≥ ${min}, got ${describeValue(value)}`,
    );
  }
  return value;
}

/** A probability in [0, 1]. */
export function checkProbability(where: string, name: string, value: unknown): number {
  if (typeof value !== 'number' || !(value >= 0 && value <= 1)) {
    throw new ArgumentError(
      `${where}: ${name} must be a probability in [0, 1], got ${describeValue(value)}`,
    );
  }
  return value;
}

/** A finite number ≥ 0 (a rate in Hz, a concentration). */
export function checkNonNegative(where: string, name: string, value: unknown): number {
  if (typeof value !== 'number' || !(Number.isFinite(value) && value >= 0)) {
    throw new ArgumentError(
      `${where}: ${name} must be a finite number ≥ 0, got ${describeValue(value)}`,
    );
  }
  return value;
}

/** A finite number > 0 (a time step in ms). */
export function checkPositive(where: string, name: string, value: unknown): number {
  if (typeof value !== 'number' || !(Number.isFinite(value) && value > 0)) {
    throw new ArgumentError(
      `${where}: ${name} must be a finite number > 0, got ${describeValue(value)}`,
    );
  }
  return value;
}

/**
 * The spike probability per step of a rate: `rateHz · dt / 1000` (dt in ms). More than one spike
 * per step cannot be represented by 0/1 spikes, so that is an error that says how to fix it.
 */
export function spikeProbability(where: string, name: string, rateHz: number, dt: number): number {
  const p = (rateHz * dt) / 1000;
  if (p > 1 + 1e-12) {
    throw new ArgumentError(
      `${where}: ${name} · dt = ${rateHz} Hz × ${dt} ms = ${p} spikes per step is more than 1; ` +
        `lower the rate or dt (dt ≤ ${1000 / rateHz} ms)`,
    );
  }
  return Math.min(p, 1);
}
