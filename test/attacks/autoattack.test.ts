// AutoAttack: the versions' stages, each stage only on the still-robust points, the report's bookkeeping (robust
// accuracy per stage, who broke each point), the checks and their warnings, and the attack properties.
import { beforeAll, describe, expect, it } from 'vitest';
import { apgdCe } from '../../src/attacks/apgd.js';
import { autoAttack, autoattack, autoAttackBudget, autoAttackStages } from '../../src/attacks/autoattack.js';
import { budgetLine } from '../../src/report/attack-report.js';
import { checkProbabilities, checkRandomized, checkSquare, checkZeroGradients } from '../../src/attacks/autoattack-checks.js';
import { softmax } from '../../src/engine/ops/loss.js';
import { noGrad } from '../../src/engine/tape.js';
import { Tensor } from '../../src/engine/tensor.js';
import type { Sequential } from '../../src/layers/sequential.js';
import { argmax } from '../../src/layers/predict.js';
import { testBatch, trainedModel } from './fixtures.js';

let cnn: Sequential, x: Tensor, y: Int32Array;
beforeAll(async () => {
  cnn = await trainedModel('cnn');
  ({ x, y } = testBatch(12));
});
const pred = (t: Tensor) => argmax(noGrad(() => cnn.forward(t)));

describe('autoAttack', () => {
  it('has the reference’s stages per version', () => {
    expect(autoAttackStages('standard')).toEqual(['apgd-ce', 'apgd-t', 'fab-t', 'square']);
    expect(autoAttackStages('plus')).toEqual(['apgd-ce', 'apgd-dlr', 'fab', 'square', 'apgd-t', 'fab-t']);
    expect(autoAttackStages('rand')).toEqual(['apgd-ce', 'apgd-dlr']);
  });

  it('standard: each stage attacks only the still-robust points; the report adds up; it is at least as strong as APGD-CE', () => {
    const eps = 0.08, stages: [string, number][] = [];
    let last = 0, calls = 0;
    const r = autoattack.run(cnn, x, y, {
      eps, seed: 1, steps: 5, squareQueries: 60, batchSize: 5,
      onStage: (s, n) => stages.push([s, n]), onProgress: (d) => { expect(d).toBeGreaterThanOrEqual(0); last = d; calls++; },
    });
    const rep = r.report;
    expect(calls).toBeGreaterThan(10);
    expect(last).toBe(stages[stages.length - 1][1]);
    const p = pred(r.adversarial), clean = pred(x);
    // brokenBy agrees with the predictions, robust accuracy with brokenBy, and stage k attacked what k−1 left.
    for (let n = 0; n < 12; n++) {
      expect(r.success[n]).toBe(p[n] !== y[n] ? 1 : 0);
      expect(rep.brokenBy[n] === null).toBe(p[n] === y[n]);
      expect(rep.brokenBy[n] === 'clean').toBe(clean[n] !== y[n]);
      let linf = 0;
      for (let j = n * 784; j < (n + 1) * 784; j++) linf = Math.max(linf, Math.abs(r.adversarial.data[j] - x.data[j]));
      expect(linf).toBeLessThanOrEqual(Math.fround(eps));
    }
    let robust = clean.reduce((a, c, n) => a + (c === y[n] ? 1 : 0), 0);
    expect(rep.cleanAccuracy).toBe(robust / 12);
    rep.stages.forEach((s, k) => {
      expect(s.attack).toBe(stages[k][0]);
      expect(s.attacked).toBe(robust);
      expect(stages[k][1]).toBe(robust);
      expect(s.broken).toBe(rep.brokenBy.filter((b) => b === s.attack).length);
      robust -= s.broken;
      expect(s.robustAccuracy).toBe(robust / 12);
      expect(s.seconds).toBeGreaterThanOrEqual(0);
    });
    expect(rep.robustAccuracy).toBe(robust / 12);
    expect(rep.maxPerturbation).toBeLessThanOrEqual(Math.fround(eps));
    const names = rep.checks.map((c) => c.name);
    expect(names).toEqual(expect.arrayContaining(['randomized', 'probabilities', 'classes', 'zero-gradients']));
    expect(rep.checks.find((c) => c.name === 'randomized')!.flagged).toBe(false);
    expect(rep.checks.find((c) => c.name === 'probabilities')!.flagged).toBe(false);
    const a = apgdCe.run(cnn, x, y, { eps, seed: 1, steps: 5 });
    expect(r.success.reduce((s, v) => s + v, 0)).toBeGreaterThanOrEqual(a.success.reduce((s, v) => s + v, 0));
  });

  it('returns x at ε = 0 (robust accuracy = clean accuracy) and is bit-identical for a seed; L2 stays in its ball', () => {
    const z = autoAttack(cnn, x, y, { eps: 0, steps: 5, squareQueries: 20 });
    expect(Array.from(z.adversarial.data)).toEqual(Array.from(x.data));
    expect(z.report.robustAccuracy).toBe(z.report.cleanAccuracy);
    const o = { eps: 1.2, norm: 'l2' as const, version: 'rand' as const, steps: 2, seed: 5 };
    const x4 = new Tensor(x.data.slice(0, 4 * 784), [4, 1, 28, 28]), y4 = y.subarray(0, 4);
    const a = autoAttack(cnn, x4, y4, o), b = autoAttack(cnn, x4, y4, o);
    expect(a.adversarial.data.every((v, i) => Object.is(v, b.adversarial.data[i]))).toBe(true);
    expect(a.report.stages.map((s) => s.attack)).toEqual(['apgd-ce', 'apgd-dlr'].slice(0, a.report.stages.length));
    expect(a.report.maxPerturbation).toBeLessThanOrEqual(1.2);
  });

  it('attacksToRun runs a subset of the stages with the version\'s settings: APGD-CE + APGD-T equal standard\'s first two stages', () => {
    const o = { eps: 0.1, seed: 2, steps: 3, squareQueries: 10, batchSize: 4 };
    const x6 = new Tensor(x.data.slice(0, 6 * 784), [6, 1, 28, 28]), y6 = y.subarray(0, 6);
    const full = autoAttack(cnn, x6, y6, o).report;
    const pair = autoAttack(cnn, x6, y6, { ...o, attacksToRun: ['apgd-ce', 'apgd-t'] }).report;
    expect(pair.stages.map((s) => s.attack)).toEqual(['apgd-ce', 'apgd-t'].slice(0, pair.stages.length));
    const strip = (r: typeof full) => r.stages.map(({ attack, robustAccuracy, attacked, broken }) => ({ attack, robustAccuracy, attacked, broken }));
    expect(strip(pair)).toEqual(strip(full).slice(0, pair.stages.length));
    expect(pair.robustAccuracy).toBeGreaterThanOrEqual(full.robustAccuracy);
    expect(() => autoAttack(cnn, x, y, { eps: 0.3, attacksToRun: [] })).toThrow(/attacksToRun must be a non-empty list of stages, got \[\]/);
    expect(() => autoAttack(cnn, x, y, { eps: 0.3, attacksToRun: ['pgd' as never] })).toThrow(/attacksToRun must hold stages among apgd-ce, .*, got 'pgd'/);
  });

  it('rejects bad options with one-line messages', () => {
    expect(() => autoAttack(cnn, x, y, { eps: 0.3, version: 'fast' as never })).toThrow(/version must be 'standard', 'plus' or 'rand', got 'fast'/);
    expect(() => autoAttack(cnn, x, y, { eps: 2 })).toThrow(/an L∞ eps must lie in \[0, 1\]/);
    expect(() => autoAttack(cnn, x, y, { eps: 0.3, targets: y })).toThrow(/targets must be undefined/);
    expect(() => autoAttack(cnn, x, y.subarray(0, 2), { eps: 0.3 })).toThrow(/y must have 12 labels/);
  });
});

describe('AutoAttack checks', () => {
  it('flag probabilities, randomness, zero gradients and Square beating the white-box stages', () => {
    const logits = noGrad(() => cnn.forward(x));
    expect(checkProbabilities(logits).flagged).toBe(false);
    expect(checkProbabilities(softmax(logits)).flagged).toBe(true);
    expect(checkRandomized(cnn, x, y).flagged).toBe(false);
    // A model whose output changes from call to call (a stand-in for a randomised defence).
    let k = 0;
    const noisy = { forward: (t: Tensor) => { const z = cnn.forward(t); k++; return new Tensor(z.data.map((v) => v + 0.01 * k), z.shape); }, training: false, eval() {}, train() {}, saveModes: () => ({ model: false, layers: [] }), restoreModes() {}, layers: [] } as unknown as Sequential;
    expect(checkRandomized(noisy, x, y).flagged).toBe(true);
    expect(checkZeroGradients(0).flagged).toBe(false);
    expect(checkZeroGradients(2).warning).toMatch(/2 points with zero gradient/);
    expect(checkSquare(0.9, 0.899).flagged).toBe(false);
    expect(checkSquare(0.9, 0.85).warning).toMatch(/Square lowered the robust accuracy by 5.00 points/);
  });
});

describe('AutoAttack budget against the reference', () => {
  it('is reduced when either the iterations or (with Square) the queries are below 100 and 5,000, above when more', () => {
    const b = (version: 'standard' | 'plus' | 'rand', steps: number, squareQueries: number) => autoAttackBudget({ version, steps, squareQueries });
    expect([b('standard', 100, 5000), b('standard', 99, 5000), b('standard', 100, 4999), b('plus', 100, 100)]).toEqual(['reference', 'reduced', 'reduced', 'reduced']);
    expect([b('standard', 200, 5000), b('standard', 100, 10000), b('standard', 200, 100)]).toEqual(['above', 'above', 'reduced']);
    expect([b('rand', 100, 10), b('rand', 20, 5000)]).toEqual(['reference', 'reduced']); // rand runs no Square
  });

  it('is said in report.md: what ran, against the reference\'s budget', () => {
    expect(budgetLine({ version: 'standard', steps: 100, squareQueries: 5000 })).toBe("Budget: 100 iterations per APGD and FAB run, Square 5,000 queries (the reference's).");
    expect(budgetLine({ version: 'standard', steps: 1000, squareQueries: 5000 })).toBe("Budget: 1,000 iterations per APGD and FAB run, Square 5,000 queries (above the reference's 100 and 5,000).");
    expect(budgetLine({ version: 'rand', steps: 10, squareQueries: 5000 })).toBe(
      "Budget: 10 iterations per APGD run (reduced: below the reference's 100, so not comparable with published AutoAttack figures).",
    );
  });
});
