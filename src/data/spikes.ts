/**
 * Host-side Bernoulli spike trains, the one spike generator of the data layer. A train of n
 * steps with probability p per step is drawn by geometric gaps between spikes (one uniform per
 * spike instead of one per step), which has exactly the law of n independent Bernoulli(p) draws
 * and is 1/p times faster for the sparse rates of spiking tasks.
 */
import type { Xoshiro128 } from '../random';

/**
 * Set `out[start + i·stride] = 1` for each i in [0, n), independently with probability p.
 * Entries that do not spike are left as they are (callers start from zeros).
 */
export function fillBernoulli(
  gen: Xoshiro128,
  p: number,
  out: Float32Array,
  start: number,
  n: number,
  stride: number,
): void {
  if (!(p > 0) || n <= 0) return;
  if (p >= 1) {
    for (let i = 0; i < n; i++) out[start + i * stride] = 1;
    return;
  }
  // The number of failures before a success is ⌊ln U / ln(1 − p)⌋ for U uniform on (0, 1).
  const logQ = Math.log1p(-p);
  let i = Math.floor(Math.log(gen.nextOpenFloat64()) / logQ);
  while (i < n) {
    out[start + i * stride] = 1;
    i += 1 + Math.floor(Math.log(gen.nextOpenFloat64()) / logQ);
  }
}
