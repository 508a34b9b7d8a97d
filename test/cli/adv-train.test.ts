// `nablax adv-train` end to end on a tiny run, and its bad options.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(__dirname, '../..');
const run = (args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { cwd: root, encoding: 'utf8' });

describe('nablax adv-train', () => {
  it('trains with an adversarial objective and reports clean, FGSM and PGD accuracy', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nablax-adv-'));
    const out = join(dir, 'm.safetensors');
    const report = join(dir, 'report');
    const r = run(['adv-train', '--model', 'softmax', '--method', 'fast', '--eps', '0.1', '--epochs', '2', '--limit', '1000', '--robust-limit', '100',
      '--eval-slice', '50', '--report', report, '--out', out, '--json']);
    expect(r.status, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.method).toBe('fast');
    expect(doc.eps).toBe(0.1);
    for (const f of ['testAccuracy', 'fgsmAccuracy', 'pgdAccuracy']) {
      expect(doc[f]).toBeGreaterThanOrEqual(0);
      expect(doc[f]).toBeLessThanOrEqual(1);
    }
    expect(doc.pgdAccuracy).toBeLessThanOrEqual(doc.testAccuracy);
    expect(doc.robustCount).toBe(100);
    expect(existsSync(out)).toBe(true);
    // per-epoch robust evaluation on the fixed slice, with the curve in the report
    expect(doc.robustHistory.map((p: { epoch: number }) => p.epoch)).toEqual([1, 2]);
    for (const p of doc.robustHistory) expect(p.pgdAccuracy).toBeLessThanOrEqual(p.cleanAccuracy);
    expect(Array.isArray(doc.warnings)).toBe(true);
    for (const f of ['report.md', 'report.json', 'curve.svg']) expect(existsSync(join(report, f)), f).toBe(true);
  });

  it('warns when FGSM accuracy is far above PGD accuracy (a masked one-step attack)', async () => {
    const { leakWarning } = await import('../../src/cli/adv-train.js');
    expect(leakWarning({ epoch: 3, cleanAccuracy: 0.97, fgsmAccuracy: 0.8, pgdAccuracy: 0.2 }, 0.3)).toMatch(/epoch 3: FGSM accuracy 80.0% is far above PGD-40 accuracy 20.0%/);
    expect(leakWarning({ epoch: 3, cleanAccuracy: 0.97, fgsmAccuracy: 0.8, pgdAccuracy: 0.75 }, 0.3)).toBeNull();
  });

  it('rejects an unknown method and an ε outside [0, 1] with one line', () => {
    for (const [args, re] of [
      [['--method', 'advprop-x'], /unknown method 'advprop-x'/],
      [['--method', 'pgd', '--eps', '2'], /--eps must be a number in \[0, 1\], got '2'/],
    ] as [string[], RegExp][]) {
      const r = run(['adv-train', '--model', 'softmax', '--epochs', '1', '--limit', '100', ...args]);
      expect(r.status).not.toBe(0);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(re);
    }
  });
});
