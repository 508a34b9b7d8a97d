// The minimum-norm summary: quantiles by linear interpolation over the initially correct examples (Infinity for "none
// found" propagates), accuracy at ε = share of examples whose smallest adversarial point lies beyond ε; and a sweep over
// several ε runs a min-norm attack once per batch with the same per-ε results as a run at each ε alone.
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { AttackOptions } from '../../src/attacks/attack.js';
import { deepfool } from '../../src/attacks/deepfool.js';
import { evaluateAttack, evaluateAttackSweep, type AttackMetrics } from '../../src/analysis/attack-evaluation.js';
import { fabT } from '../../src/attacks/fab.js';
import { perturbationNorm, summarizeMinNorm, withinEps, type MinNormAttack } from '../../src/attacks/min-norm.js';
import { loadModel } from '../../src/io/model-file.js';
import { loadMnistData, subset } from '../../src/data/datasets.js';

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

describe('a sweep over ε with a minimum-norm attack', () => {
  const model = loadModel(resolve(__dirname, '../../lab/models/cnn.safetensors')).model;
  const ds = subset(loadMnistData('test'), 0, 16);
  /** The attack with a counter of its runs. */
  const counted = <O extends AttackOptions>(a: MinNormAttack<O>) => {
    const c: { runs: number; attack: MinNormAttack<O> } = { runs: 0, attack: { ...a, run: (...args: Parameters<typeof a.run>) => (c.runs++, a.run(...args)) } };
    return c;
  };
  const timings = ['seconds', 'imagesPerSecond', 'attackSeconds', 'attackImagesPerSecond'];
  const untimed = (m: AttackMetrics) => Object.fromEntries(Object.entries(m).filter(([k]) => !timings.includes(k)));

  it('DeepFool runs once per batch, and every ε gets the metrics of a run at that ε alone (targeted too)', async () => {
    const epsList = [0.5, 1, 2];
    for (const target of [undefined, { kind: 'random' as const }]) {
      const c = counted(deepfool);
      const sweep = await evaluateAttackSweep(model, c.attack, ds, { epsList, batchSize: 8, seed: 4, target });
      expect(c.runs).toBe(2); // two batches, one run each, for three ε
      for (const [i, eps] of epsList.entries()) {
        const alone = await evaluateAttack(model, deepfool, ds, { eps, batchSize: 8, seed: 4, target });
        expect(untimed(sweep[i].metrics)).toEqual(untimed(alone.metrics));
        expect(sweep[i].examples).toEqual(alone.examples);
      }
      // the accuracies differ across ε, so the per-ε reading is not one value copied
      expect(new Set(sweep.map((r) => r.metrics.accuracy)).size).toBeGreaterThan(1);
    }
  });

  it('FAB-T searches once at ε = 0 (every target on every point) and keeps each ε\'s accuracy; with restarts it runs per ε', async () => {
    const epsList = [0.05, 0.1, 0.2];
    const c = counted(fabT);
    const sweep = await evaluateAttackSweep(model, c.attack, ds, { epsList, batchSize: 8, seed: 2, attackOptions: { steps: 3 } });
    expect(c.runs).toBe(2);
    for (const [i, eps] of epsList.entries()) {
      const alone = (await evaluateAttack(model, fabT, ds, { eps, batchSize: 8, seed: 2, attackOptions: { steps: 3 } })).metrics;
      const m = sweep[i].metrics;
      expect([m.cleanAccuracy, m.accuracy, m.errorRate, m.attackSuccessRate]).toEqual([alone.cleanAccuracy, alone.accuracy, alone.errorRate, alone.attackSuccessRate]);
      // the minimal point over all targets is at most as far as the first one within ε
      expect(m.maxLinf).toBeLessThanOrEqual(Math.fround(eps));
      expect(m.meanLinf).toBeLessThanOrEqual(alone.meanLinf + 1e-12);
    }
    expect(new Set(sweep.map((r) => r.metrics.accuracy)).size).toBeGreaterThan(1);
    const r = counted(fabT);
    await evaluateAttackSweep(model, r.attack, subset(ds, 0, 8), { epsList, batchSize: 8, seed: 2, attackOptions: { steps: 2, restarts: 2 } });
    expect(r.runs).toBe(3); // restarts start inside the ε-ball: one run per ε
  });
});
