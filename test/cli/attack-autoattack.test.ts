// `nablax attack --attack autoattack` (and apgd-*) end to end on a small softmax model: the JSON report, the
// per-stage progress bars on stderr, --norm, and the usage errors of the new flags.
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { saveModel } from '../../src/io/model-file.js';
import { trainedModel } from '../attacks/fixtures.js';

const root = resolve(__dirname, '../..');
const run = (args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { cwd: root, encoding: 'utf8' });
let modelFile = '';

beforeAll(async () => {
  modelFile = join(mkdtempSync(join(tmpdir(), 'nablax-aa-')), 'softmax.safetensors');
  saveModel(modelFile, await trainedModel('softmax'));
});

describe('nablax attack --attack autoattack', () => {
  it('reports each stage and is at least as strong as APGD-CE on the same images', () => {
    const r = run(['attack', '--model-file', modelFile, '--attack', 'apgd-ce,autoattack', '--eps', '0.05', '--test-limit', '30', '--steps', '10', '--max-queries', '50', '--json']);
    expect(r.status, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    const [aa] = doc.autoattack;
    expect(aa.stages.map((s: { attack: string }) => s.attack)).toEqual(['apgd-ce', 'apgd-t', 'fab-t', 'square'].slice(0, aa.stages.length));
    expect(aa.count).toBe(30);
    expect(aa.brokenBy.length).toBe(30);
    expect(aa.robustAccuracy).toBeLessThanOrEqual(doc.results[0].accuracy + 1e-12);
    expect(aa.robustAccuracy).toBeLessThan(aa.cleanAccuracy);
    for (const stage of aa.stages) expect(r.stderr).toContain(`autoattack eps 0.05 ${stage.attack} `);
  });

  it('--norm l2 runs APGD in L2 (ε above 1 allowed); bad flags are one-line usage errors', () => {
    const ok = run(['attack', '--model-file', modelFile, '--attack', 'apgd-dlr', '--norm', 'l2', '--eps', '1.5', '--test-limit', '10', '--steps', '5', '--json']);
    expect(ok.status, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout).results[0].maxL2).toBeLessThanOrEqual(1.5);
    for (const [args, re] of [
      [['--attack', 'autoattack', '--aa-version', 'fast'], /--aa-version must be 'standard', 'plus' or 'rand', got 'fast'/],
      [['--attack', 'apgd-ce', '--norm', 'l1'], /--norm must be 'linf' or 'l2', got 'l1'/],
      [['--attack', 'autoattack', '--target', 'random'], /--target cannot be used with autoattack/],
    ] as [string[], RegExp][]) {
      const r = run(['attack', '--model-file', modelFile, '--test-limit', '5', ...args]);
      expect(r.status).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(re);
    }
  });
});
