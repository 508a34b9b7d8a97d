// `reproduce goodfellow2015` on a tiny run (3,000 training images, 300 test images, 2 epochs): the report's structure
// and the paper's qualitative findings that hold even this small; and the CLI's one-line rejection of an unknown
// experiment.
import { Command } from 'commander';
import { beforeAll, describe, expect, it } from 'vitest';
import { registerReproduce } from '../../src/cli/reproduce.js';
import { goodfellow2015Markdown, markdownTable } from '../../src/report/reproduce-report.js';
import { UsageError } from '../../src/cli/util.js';
import { resolveSizes, runGoodfellow2015, type Goodfellow2015Result } from '../../src/experiments/goodfellow2015.js';

const ids = [
  'softmax-fgsm-error', 'softmax-fgsm-confidence', 'maxout-fgsm-error', 'maxout-fgsm-confidence', 'maxout-clean-error',
  'adv-maxout-clean-error', 'adv-maxout-fgsm-error', 'adv-maxout-fgsm-confidence', 'transfer-maxout-to-adv',
  'transfer-adv-to-maxout', 'maxout-sign-noise-error', 'adv-maxout-pgd-error', 'adv-maxout-autoattack-error',
];

describe('goodfellow2015 (tiny)', () => {
  let r: Goodfellow2015Result;
  const value = (id: string) => r.rows.find((row) => row.id === id)!.nablax;

  beforeAll(async () => {
    r = await runGoodfellow2015({ quick: true, seed: 0, sizes: { trainLimit: 3000, testLimit: 300, pgdLimit: 100, epochs: 2 } });
  });

  it('reports every row with the paper column filled and values in range', () => {
    expect(r.rows.map((row) => row.id)).toEqual(ids);
    for (const row of r.rows) {
      expect(row.paper.length, row.id).toBeGreaterThan(0);
      expect(row.quantity.length).toBeGreaterThan(0);
      expect(Number.isFinite(row.nablax), row.id).toBe(true);
      expect(row.nablax, row.id).toBeGreaterThanOrEqual(0);
      expect(row.nablax, row.id).toBeLessThanOrEqual(1);
      expect(['%', 'prob']).toContain(row.unit);
    }
    expect(r.rows.find((row) => row.id === 'softmax-fgsm-error')!.paper).toBe('99.9%');
    expect(r.rows.find((row) => row.id === 'maxout-fgsm-error')!.reference).toBe('97.6–98.9%');
    expect(r.sizes).toEqual({ trainLimit: 3000, testLimit: 300, pgdLimit: 100, epochs: { softmax: 2, maxout: 2, adversarial: 2 } });
    expect(r.notes.length).toBeGreaterThanOrEqual(5);
    expect(r.notes.join(' ')).toMatch(/PGD-40/);
    expect(r.notes.join(' ')).toMatch(/dropout/);
    const md = goodfellow2015Markdown(r);
    expect(md).toContain('| quantity | paper | PyTorch reference | nablax |');
    expect(md.split('\n').filter((l) => l.startsWith('| ')).length).toBe(ids.length + 1);
    expect(markdownTable(r.rows)).toMatch(/\| softmax: FGSM ε=0\.25 error \| 99\.9% \| 100\.0% \| \d+\.\d%/);
  });

  it('shows the paper\'s findings: FGSM breaks softmax, noise is weaker than FGSM, adversarial training helps against FGSM', () => {
    expect(value('softmax-fgsm-error')).toBeGreaterThanOrEqual(0.9);
    expect(value('maxout-sign-noise-error')).toBeLessThan(value('maxout-fgsm-error'));
    expect(value('adv-maxout-fgsm-error')).toBeLessThan(value('maxout-fgsm-error'));
    // PGD-40 in the same ball is at least as strong as one FGSM step (up to the smaller sample)
    expect(value('adv-maxout-pgd-error')).toBeGreaterThanOrEqual(value('adv-maxout-fgsm-error') - 0.1);
  });

  it('checks the adversarially trained maxout with AutoAttack (APGD-CE + APGD-T, 10 steps when quick) and warns when PGD-40 overstates it', () => {
    expect(r.autoattack).toMatchObject({ version: 'apgd-ce+apgd-t', steps: 10, eps: 0.25, count: 100 });
    expect(r.autoattack.stages.map((s) => s.attack)).toEqual(['apgd-ce', 'apgd-t'].slice(0, r.autoattack.stages.length));
    expect(value('adv-maxout-autoattack-error')).toBe(1 - r.autoattack.robustAccuracy);
    expect(r.rows.find((row) => row.id === 'adv-maxout-autoattack-error')!.quantity).toMatch(/AutoAttack \(apgd-ce\+apgd-t, 10 steps\) ε=0\.25/);
    // AutoAttack attacks only the points still robust: its accuracy is at most the clean accuracy on the same images
    expect(r.autoattack.robustAccuracy).toBeLessThanOrEqual(r.autoattack.cleanAccuracy);
    const pgdAccuracy = 1 - value('adv-maxout-pgd-error');
    const overstated = Math.round(100 * (pgdAccuracy - r.autoattack.robustAccuracy)) > 2;
    expect(r.warnings.some((w) => /PGD-40 overstates robustness/.test(w))).toBe(overstated);
    expect(goodfellow2015Markdown(r).includes('Warnings:')).toBe(r.warnings.length > 0);
    expect(r.notes.join(' ')).toMatch(/AutoAttack \(apgd-ce\+apgd-t, 10 steps per stage\)/);
  });

  it('resolves presets and rejects bad sizes', () => {
    expect(resolveSizes(false).epochs).toEqual({ softmax: 5, maxout: 3, adversarial: 5 });
    expect(resolveSizes(true)).toMatchObject({ trainLimit: 10_000, testLimit: 2_000, pgdLimit: 500 });
    expect(() => resolveSizes(true, { epochs: 0 })).toThrow(/epochs\.softmax must be a positive integer/);
  });
});

describe('nablax reproduce', () => {
  it('rejects an unknown experiment with one line', async () => {
    const program = new Command().exitOverride().configureOutput({ writeErr: () => {}, writeOut: () => {} });
    registerReproduce(program);
    const err = await program.parseAsync(['node', 'nablax', 'reproduce', 'szegedy2014']).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    const msg = (err as Error).message;
    expect(msg.split('\n')).toHaveLength(1);
    expect(msg).toMatch(/unknown experiment 'szegedy2014' \(expected goodfellow2015\)/);
  });
});
