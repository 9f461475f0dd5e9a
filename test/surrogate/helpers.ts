/** Shared helpers of the surrogate tests: deterministic data and float comparisons. */
import { expect } from 'vitest';

/** A small deterministic PRNG (mulberry32), so test data is the same on every run. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `n` float32-representable points evenly spaced in [lo, hi], plus `extra` points. */
export function points(lo: number, hi: number, n: number, extra: number[] = []): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(Math.fround(lo + ((hi - lo) * i) / (n - 1)));
  for (const e of extra) out.push(Math.fround(e));
  return out;
}

/**
 * Elementwise |got − want| ≤ rtol·|want| + atol, with atol relative to the largest |want|
 * (float32 results vs float64 references: absolute slack only matters near zero crossings).
 */
export function expectClose(
  got: ArrayLike<number>,
  want: readonly number[],
  what: string,
  rtol = 1e-5,
  atolScale = 1e-6,
): void {
  expect(got.length, `${what}: length`).toBe(want.length);
  const scale = Math.max(...want.map((v) => Math.abs(v)), 1e-30);
  const atol = atolScale * scale;
  for (let i = 0; i < want.length; i++) {
    const ok = Math.abs(got[i] - want[i]) <= rtol * Math.abs(want[i]) + atol;
    if (!ok) {
      expect.fail(
        `${what}: element ${i}: got ${got[i]}, want ${want[i]} (rtol ${rtol}, atol ${atol})`,
      );
    }
  }
}

/**
 * The float32 bit patterns of `a` (to compare −0, NaN payloads, exact values). Some tfjs kernels
 * return a float32 tensor backed by another typed array (cpu's bool → float32 cast), so values
 * are copied into a Float32Array first when needed.
 */
export function bits(a: ArrayLike<number>): number[] {
  const f = a instanceof Float32Array ? a : Float32Array.from(a);
  return Array.from(new Uint32Array(f.buffer, f.byteOffset, f.length));
}
