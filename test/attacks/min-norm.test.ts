// The minimum-norm summary: quantiles by linear interpolation over the initially correct examples (Infinity for "none
// found" propagates), accuracy at ε = share of examples whose smallest adversarial point lies beyond ε.
import { describe, expect, it } from 'vitest';
import { perturbationNorm, summarizeMinNorm, withinEps } from '../../src/attacks/min-norm.js';

describe('summarizeMinNorm', () => {
  it('gives the median, quantiles and accuracy-vs-ε of one run', () => {
    const s = summarizeMinNorm([0, 1, 2, 3, Infinity], 'l2', { epsilons: [0, 1, 2.5, 10], quantiles: [0, 0.25, 0.5, 0.9] });
    expect(s.count).toBe(5);
    expect(s.initiallyCorrect).toBe(4);
    expect(s.found).toBe(3);
    expect(s.median).toBe(2.5);
    expect(s.quantiles.map((q) => q.value)).toEqual([1, 1.75, 2.5, Infinity]);
    expect(s.accuracy.map((a) => a.accuracy)).toEqual([0.8, 0.6, 0.4, 0.2]);
  });

  it('rejects negative or NaN distances and quantiles outside [0, 1]', () => {
    expect(() => summarizeMinNorm([1, -1], 'l2')).toThrow(/summarizeMinNorm: distances must be ≥ 0 \(or Infinity\), got -1/);
    expect(() => summarizeMinNorm([1, NaN], 'l2')).toThrow(/got NaN/);
    expect(() => summarizeMinNorm([1], 'linf', { quantiles: [1.5] })).toThrow(/quantiles must lie in \[0, 1\], got 1.5/);
  });

  it('counts ‖δ‖ ≤ min(ε, fround(ε)) as within ε, and measures L∞ and L2 in float64', () => {
    expect(withinEps(0.3)).toBe(0.3);
    expect(withinEps(0.2)).toBe(0.2);
    expect(withinEps(1 / 3)).toBe(Math.min(1 / 3, Math.fround(1 / 3)));
    expect(Math.fround(1 / 3) < 1 / 3 ? withinEps(1 / 3) < 1 / 3 : withinEps(1 / 3) === 1 / 3).toBe(true);
    expect(perturbationNorm([0, 1, 0.5], [0.5, 1, 0], 'linf')).toBe(0.5);
    expect(perturbationNorm([0, 1, 0.5], [0.3, 1, 0.1], 'l2')).toBeCloseTo(0.5, 15);
  });
});
