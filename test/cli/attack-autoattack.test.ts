// `nablax attack --attack autoattack` (and apgd-*) end to end on a small softmax model: the JSON report, the
// per-stage progress bars on stderr, --norm, and the usage errors of the new flags.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
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
    // the reduced budget is in the report and said before the work
    expect([aa.version, aa.steps, aa.squareQueries]).toEqual(['standard', 10, 50]);
    expect(r.stderr).toMatch(/notice: autoattack with 10 iterations per APGD and FAB run, Square 50 queries \(reduced: below the reference's 100 and 5,000/);
    // before any attack's work, APGD-CE's own run (ahead of AutoAttack) included
    expect(r.stderr.indexOf('notice: autoattack')).toBeLessThan(r.stderr.indexOf('apgd-ce eps 0.05'));
    expect(r.stderr.indexOf('apgd-ce eps 0.05')).toBeGreaterThan(0);
  });

  it('--norm l2 runs APGD in L2 (ε above 1 allowed); bad flags are one-line usage errors', () => {
    const ok = run(['attack', '--model-file', modelFile, '--attack', 'apgd-dlr', '--norm', 'l2', '--eps', '1.5', '--test-limit', '10', '--steps', '5', '--json']);
    expect(ok.status, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout).results[0].maxL2).toBeLessThanOrEqual(1.5);
    expect(JSON.parse(ok.stdout).results[0].norm).toBe('l2'); // the norm it ran in, not the record's default
    for (const [args, re] of [
      [['--attack', 'autoattack', '--aa-version', 'fast'], /--aa-version must be 'standard', 'plus' or 'rand', got 'fast'/],
      [['--attack', 'apgd-ce', '--norm', 'l1'], /--norm must be 'linf' or 'l2', got 'l1'/],
      [['--attack', 'autoattack', '--target', 'random'], /--target cannot be used with autoattack/],
      [['--attack', 'autoattack', '--resume'], /--resume needs --out/],
      [['--attack', 'fgsm', '--resume', '--out', join(tmpdir(), 'nablax-never')], /--resume continues an AutoAttack run: it needs --attack autoattack/],
      [['--attack', 'autoattack', '--aa-chunk', '0'], /--aa-chunk must be an integer ≥ 1, got '0'/],
      [['--attack', 'fgsm', '--aa-chunk', '10'], /--aa-chunk sets the chunks of an AutoAttack run: it needs --attack autoattack/],
    ] as [string[], RegExp][]) {
      const r = run(['attack', '--model-file', modelFile, '--test-limit', '5', ...args]);
      expect(r.status).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(re);
    }
  });

  it('runs in chunks kept in --out; --resume reuses them and gives the same report; other settings measure again', () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'nablax-aa-chunks-')), 'aa');
    const args = ['attack', '--model-file', modelFile, '--attack', 'autoattack', '--eps', '0.05', '--test-limit', '30', '--aa-chunk', '12', '--steps', '5', '--max-queries', '20', '--out', dir, '--json'];
    const first = run(args);
    expect(first.status, first.stderr).toBe(0);
    const store = join(dir, 'autoattack-chunks-eps0.05.json');
    const kept = JSON.parse(readFileSync(store, 'utf8'));
    expect(kept.chunks.map((c: { start: number; count: number }) => [c.start, c.count])).toEqual([[0, 12], [12, 12], [24, 6]]);
    expect(first.stderr).toMatch(/chunk 2 of 3, images 13–24/);
    const a = JSON.parse(first.stdout).autoattack[0];
    expect(a.count).toBe(30);
    expect(a.brokenBy.length).toBe(30);
    // the summed counts are the chunks' counts
    const robust = kept.chunks.reduce((s: number, c: { clean: number; stages: { robust: number }[] }) => s + (c.stages.at(-1)?.robust ?? c.clean), 0);
    expect(a.robustAccuracy).toBeCloseTo(robust / 30, 12);
    expect(a.brokenBy.filter((b: string | null) => b === null).length).toBe(robust);

    const again = run([...args, '--resume']);
    expect(again.status, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/resuming, 3 of 3 chunks already measured/);
    expect(again.stderr).not.toMatch(/autoattack eps 0\.05 apgd-ce/); // nothing attacked again
    const b = JSON.parse(again.stdout).autoattack[0];
    expect({ ...b, stages: b.stages.map((s: { seconds: number }) => ({ ...s, seconds: 0 })) }).toEqual({ ...a, stages: a.stages.map((s: { seconds: number }) => ({ ...s, seconds: 0 })) });
    expect(existsSync(join(dir, 'report.json'))).toBe(true);
    // AutoAttack alone writes no pictures, and the closing line names none
    const plain = run([...args.filter((x) => x !== '--json'), '--resume']);
    expect(plain.status, plain.stderr).toBe(0);
    expect(plain.stdout + plain.stderr).toMatch(/wrote .*report\.md, report\.json\n/);
    expect(readdirSync(dir).filter((f) => /\.(png|svg)$/.test(f))).toEqual([]);
    // AutoAttack alone: report.md has no empty table of other attacks and no doubled blank line before its own
    const md = readFileSync(join(dir, 'report.md'), 'utf8');
    expect(md).not.toMatch(/Clean accuracy: –/);
    expect(md).not.toMatch(/\n\n\n/);
    expect(md).toMatch(/^# Attacks on .*\n\nData: .*\n\nAutoAttack standard, /);
    expect(md).toMatch(/Budget: 5 iterations per APGD and FAB run, Square 20 queries \(reduced: below the reference's 100 and 5,000/);
    // each chunk records the code that measured it; resuming with the same code says nothing about it
    expect(kept.chunks.map((c: { code: string }) => c.code)).toEqual(Array(3).fill(kept.chunks[0].code));
    expect(kept.chunks[0].code).toMatch(/^nablax \d+\.\d+\.\d+(, git [0-9a-f]{12}(\+[0-9a-f]{8})?)?, kernels (wasm-simd-fma|wasm-simd|typescript)$/);
    expect(again.stderr).not.toMatch(/other code|different code/);
    // a chunk kept from other code, and one measured now: a notice before the work, a warning in the report
    const edited = JSON.parse(readFileSync(store, 'utf8'));
    edited.chunks[0].code = 'nablax 0.0.9, git 0123456789ab, kernels typescript';
    edited.chunks.pop();
    writeFileSync(store, JSON.stringify(edited));
    const mixed = run([...args, '--resume']);
    expect(mixed.status, mixed.stderr).toBe(0);
    expect(mixed.stderr).toMatch(/notice: kept chunks measured by other code than this \(nablax .*\): 1 by nablax 0\.0\.9, git 0123456789ab, kernels typescript; the report combines them/);
    expect(JSON.parse(mixed.stdout).autoattack[0].warnings.join('\n')).toMatch(/the chunks were measured by different code \(2 by nablax .*; 1 by nablax 0\.0\.9, git 0123456789ab, kernels typescript\)/);
    expect(mixed.stderr).toMatch(/warning: autoattack eps 0\.05: the chunks were measured by different code/);

    // a --resume with another setting would throw the kept chunks away: refused before any work, naming the setting
    const before = readFileSync(store, 'utf8');
    const other = run([...args.filter((x) => x !== '--json'), '--resume', '--seed', '1']);
    expect(other.status).toBe(2);
    expect(other.stderr.trim().split('\n')).toHaveLength(1);
    expect(other.stderr).toMatch(/--resume: .*autoattack-chunks-eps0\.05\.json was measured with other settings: seed 1 \(kept: 0\)/);
    expect(readFileSync(store, 'utf8')).toBe(before);
    // without --resume the chunks are measured again and replaced, and it says so first
    const fresh = run([...args.filter((x) => x !== '--json'), '--seed', '1']);
    expect(fresh.status, fresh.stderr).toBe(0);
    expect(fresh.stderr).toMatch(/holds 3 measured chunks; without --resume they are measured again and replaced/);
    expect(fresh.stderr).toMatch(/autoattack eps 0\.05 apgd-ce/);
    expect(JSON.parse(readFileSync(store, 'utf8')).key.seed).toBe(1);
  });
});
