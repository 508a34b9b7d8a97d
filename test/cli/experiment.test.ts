// `nablax experiment advprop --quick` end to end (report files, JSON, the verdict sentence), the statistics behind the
// verdict on planted numbers, and bad input: an unknown experiment and bad seed lists give one line and exit 2.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { conclusion, resolveOptions, summarise, type AdvpropRun } from '../../src/experiments/advprop.js';

const root = resolve(__dirname, '../..');
const run = (args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { cwd: root, encoding: 'utf8' });

describe('nablax experiment advprop', () => {
  it('--quick trains vanilla and AdvProp cnn-bn models for three seeds and reports mean ± std with a verdict', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nablax-exp-'));
    const r = run(['experiment', 'advprop', '--quick', '--out', dir, '--json']);
    expect(r.status, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.experiment).toBe('advprop');
    expect(doc.seeds).toEqual([0, 1, 2]);
    expect(doc.runs.map((x: AdvpropRun) => `${x.seed}:${x.method}`)).toEqual(['0:vanilla', '0:advprop', '1:vanilla', '1:advprop', '2:vanilla', '2:advprop']);
    for (const x of doc.runs as AdvpropRun[]) {
      for (const k of ['cleanAccuracy', 'auc', 'robustAccuracy', 'autoattackAccuracy'] as const) {
        expect(x[k]).toBeGreaterThanOrEqual(0);
        expect(x[k]).toBeLessThanOrEqual(1);
      }
      // AutoAttack (APGD-CE + APGD-T, 5 steps when quick) on the same images: a gap over 2 points is warned about
      const overstated = Math.round(100 * (x.robustAccuracy - x.autoattackAccuracy)) > 2;
      expect(doc.warnings.some((w: string) => w.startsWith(`seed ${x.seed}, ${x.method}: PGD-10 overstates robustness`))).toBe(overstated);
      expect(x.auc).toBeGreaterThan(0.5); // even a few steps of training rank the classes better than chance
    }
    for (const m of ['vanilla', 'advprop']) expect(doc.summary[m].auc.values).toHaveLength(3);
    expect(doc.conclusion).toMatch(/^Over 3 seeds, AdvProp changes clean accuracy by [+−]\d+\.\d\d points \(2·SE \d+\.\d\d points\), which (exceeds|does not exceed) the seed-to-seed spread, and macro AUC by [+−]\d\.\d{4} \(2·SE \d\.\d{4}\), which (exceeds|does not exceed) it/);
    expect(doc.rule).toMatch(/\|Δ\| > 2·SE/);
    const md = readFileSync(join(dir, 'report.md'), 'utf8');
    expect(doc.autoattack).toEqual({ version: 'apgd-ce+apgd-t', steps: 5 });
    expect(doc.summary.advprop.autoattackAccuracy.values).toHaveLength(3);
    expect(doc.conclusion).toMatch(/and AutoAttack accuracy by [+−]\d+\.\d\d points \(2·SE \d+\.\d\d points\)\.$/);
    expect(md).toMatch(/\| AdvProp \| \d+\.\d\d ± \d+\.\d\d \| 0\.\d{5} ± 0\.\d{5} \| \d+\.\d ± \d+\.\d \| \d+\.\d ± \d+\.\d \|/);
    expect(r.stderr).toMatch(/seed 0 vanilla: AutoAttack apgd-ce ε=0\.3 on \d+ still-robust test image/);
    expect(md).toContain(doc.conclusion);
    expect(JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')).conclusion).toBe(doc.conclusion);
    expect(readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
    expect(r.stderr).toMatch(/seed 2 advprop epoch 1\/1/); // progress
  }, 300_000); // six trainings and six AutoAttacks: past the default timeout when the machine is shared

  it('rejects an unknown experiment and bad seed lists with one line and exit code 2', () => {
    for (const [args, re] of [
      [['experiment', 'advprops'], /unknown experiment 'advprops' \(expected advprop, robust-mnist\)/],
      [['experiment', 'advprop', '--seeds', '0,x'], /--seeds must be an integer ≥ 0, got 'x'/],
      [['experiment', 'advprop', '--seeds', '1'], /--seeds: needs at least 2 seeds/],
      [['experiment', 'advprop', '--seeds', '0,1,1'], /--seeds: seeds must be distinct, got 0,1,1/],
      [['experiment', 'advprop', '--quick', '--eps', '0'], /--eps must be a number > 0, got '0'/],
      [['experiment', 'advprop', '--quick', '--autoattack', 'plus'], /--autoattack must be apgd or standard, got 'plus'/],
    ] as [string[], RegExp][]) {
      const r = run(args);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1);
      expect(r.stderr).toMatch(re);
    }
  });
});

describe('the verdict', () => {
  const runs = (values: Record<string, number[]>): AdvpropRun[] =>
    [0, 1, 2].flatMap((seed, i) => (['vanilla', 'advprop'] as const).map((method) => ({
      seed, method, cleanAccuracy: values[`${method}Clean`][i], auc: values[`${method}Auc`][i], robustAccuracy: 0, autoattackAccuracy: 0, trainSeconds: 1,
    })));

  it('compares |Δ| with twice the standard error of the difference', () => {
    // clean: vanilla 0.97, 0.98, 0.99 (s = 0.01), advprop 0.99, 1.00, 1.01 (s = 0.01): Δ = 0.02, SE = √(2·0.0001/3) ≈ 0.00816 → exceeds
    // auc: vanilla 0.990, 0.992, 0.994 (s = 0.002), advprop 0.991, 0.993, 0.995: Δ = 0.001, SE ≈ 0.00163 → does not exceed
    const r = runs({ vanillaClean: [0.97, 0.98, 0.99], advpropClean: [0.99, 1.0, 1.01], vanillaAuc: [0.99, 0.992, 0.994], advpropAuc: [0.991, 0.993, 0.995] });
    const { summary, comparison } = summarise(r, [0, 1, 2]);
    expect(summary.vanilla.cleanAccuracy.mean).toBeCloseTo(0.98, 12);
    expect(summary.vanilla.cleanAccuracy.std).toBeCloseTo(0.01, 12);
    expect(comparison.cleanAccuracy.delta).toBeCloseTo(0.02, 12);
    expect(comparison.cleanAccuracy.se).toBeCloseTo(Math.sqrt(2e-4 / 3), 12);
    expect(comparison.cleanAccuracy.exceedsSpread).toBe(true);
    expect(comparison.auc.exceedsSpread).toBe(false);
    comparison.cleanAccuracy.perSeed.forEach((d) => expect(d).toBeCloseTo(0.02, 12));
    const sentence = conclusion({ summary, comparison, seeds: [0, 1, 2] });
    expect(sentence).toMatch(/clean accuracy by \+2\.00 points \(2·SE 1\.63 points\), which exceeds the seed-to-seed spread, and macro AUC by \+0\.0010 \(2·SE 0\.0033\), which does not exceed it/);
  });

  it('resolves presets and rejects bad sizes', () => {
    expect(resolveOptions(false).sizes).toMatchObject({ trainLimit: 10_000, epochs: 5, testLimit: 10_000, robustLimit: 1_000 });
    expect(resolveOptions(true, { epochs: undefined, trainLimit: 300 }).sizes).toMatchObject({ trainLimit: 300, epochs: 1 });
    expect(resolveOptions(false).attack).toEqual({ eps: 0.3, steps: 5, stepSize: 0.1, evalSteps: 40, evalStepSize: 0.01 });
    expect(() => resolveOptions(true, { epochs: 0 })).toThrow(/epochs must be a positive integer/);
    expect(existsSync(root)).toBe(true);
  });
});
