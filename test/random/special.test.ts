/** The float64 special functions against scipy.special reference values. */
import { describe, expect, test } from 'vitest';
import { erf, erfc, logGamma, ndtr, ndtri } from '../../src/random';

const rel = (a: number, b: number): number => Math.abs(a - b) / Math.abs(b);

describe('special functions', () => {
  test('ndtri matches scipy to ~1e-15, into the far tail', () => {
    expect(rel(ndtri(0.975), 1.959963984540054)).toBeLessThan(1e-15);
    expect(rel(ndtri(0.3), -0.5244005127080409)).toBeLessThan(1e-15);
    expect(rel(ndtri(1e-10), -6.361340902404056)).toBeLessThan(1e-15);
    expect(rel(ndtri(1e-300), -37.0470962993612)).toBeLessThan(1e-15);
    expect(ndtri(0.5)).toBe(0);
    expect(ndtri(0)).toBe(-Infinity);
    expect(ndtri(1)).toBe(Infinity);
    expect(ndtri(1.5)).toBeNaN();
  });

  test('ndtr is accurate in relative terms in the lower tail', () => {
    expect(rel(ndtr(-1.96), 0.024997895148220435)).toBeLessThan(1e-14);
    expect(rel(ndtr(-10), 7.61985302416047e-24)).toBeLessThan(1e-14);
    expect(rel(ndtr(-30), 4.906713927147908e-198)).toBeLessThan(1e-13);
    expect(rel(ndtr(0.5), 0.6914624612740131)).toBeLessThan(1e-15);
  });

  test('ndtri inverts ndtr (below the upper tail, where Φ itself rounds to 1)', () => {
    for (const x of [-35, -12, -5, -2.2, -0.7, 0, 0.1, 1.3, 2]) {
      expect(Math.abs(ndtri(ndtr(x)) - x)).toBeLessThan(1e-13 * Math.max(1, Math.abs(x)));
    }
  });

  test('erf, erfc and logGamma match scipy', () => {
    expect(rel(erfc(3), 2.2090496998585445e-5)).toBeLessThan(1e-14);
    expect(rel(erf(0.5), 0.5204998778130465)).toBeLessThan(1e-15);
    expect(erf(-0.5)).toBe(-erf(0.5));
    expect(rel(erfc(-1), 2 - erfc(1))).toBeLessThan(1e-15);
    expect(rel(logGamma(0.5), 0.5723649429247)).toBeLessThan(1e-13);
    expect(rel(logGamma(100.5), 361.43554046777757)).toBeLessThan(1e-14);
    expect(logGamma(1)).toBe(0);
    expect(rel(logGamma(11), Math.log(3628800))).toBeLessThan(1e-14);
  });
});
