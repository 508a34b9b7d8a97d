// The CLI's JSON numbers: float noise rounded away (12 significant digits), and distances rounded down, so that a
// printed maxLinf can be compared with Math.fround(ε) as the guarantees promise.
import { describe, expect, it } from 'vitest';
import { jsonText, roundNoise, roundNoiseDown } from '../../src/report/json.js';

describe('jsonText', () => {
  it('rounds float noise to 12 significant digits and leaves integers alone', () => {
    expect(roundNoise(0.1 - 0.08)).toBe(0.02);
    expect(roundNoise(123456789012345)).toBe(123456789012345);
    expect(JSON.parse(jsonText({ accuracy: 1 - 0.98 })).accuracy).toBe(0.02);
  });

  it('never prints a distance above its value: maxLinf at fround(ε) stays ≤ fround(ε)', () => {
    for (const eps of [0.3, 0.05, 0.1, 0.25, 1 / 255, 8 / 255, 0.7]) {
      const f = Math.fround(eps);
      expect(roundNoise(f) <= f || roundNoiseDown(f) <= f).toBe(true);
      expect(roundNoiseDown(f)).toBeLessThanOrEqual(f);
      expect(f - roundNoiseDown(f)).toBeLessThan(f * 1e-11);
      const doc = JSON.parse(jsonText({ results: [{ maxLinf: f, meanL2: f, accuracy: f }] }));
      expect(doc.results[0].maxLinf).toBeLessThanOrEqual(f);
      expect(doc.results[0].meanL2).toBeLessThanOrEqual(f);
    }
    // the nearest rounding would have gone above fround(0.3): that is the case the rule exists for
    expect(roundNoise(Math.fround(0.3))).toBeGreaterThan(Math.fround(0.3));
    expect(roundNoiseDown(-Math.fround(0.3))).toBeLessThanOrEqual(-Math.fround(0.3));
  });
});
