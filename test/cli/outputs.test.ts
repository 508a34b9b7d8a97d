// What `demo` and `reproduce goodfellow2015 --quick` give a user, end to end from source: the result on stdout (the
// --json document parses), progress on stderr (a bar with a rate, and for reproduce one per measurement phase), exit
// code 0, and the files they write exist and are what they claim (a PNG that decodes, Markdown with its table and
// picture, JSON, model files that load). Kept cheap: one epoch for the demo, reproduce's --quick shrunk further with
// --train-limit, --test-limit and --robust-limit (the same code as --quick, on fewer images).
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel } from '../../src/io/model-file.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const env = { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' };
const cli = (...a: string[]): SpawnSyncReturns<string> =>
  spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...a], { cwd: repoRoot, encoding: 'utf8', timeout: 300_000, env });
const show = (r: SpawnSyncReturns<string>) => `exit ${r.status} signal ${r.signal}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;

let root: string;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'nablax-outputs-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('demo', () => {
  it('--json: one document on stdout, the bar on stderr, the model, PNG and report written and valid', () => {
    const out = join(root, 'demo');
    const r = cli('demo', '--epochs', '1', '--out', out, '--json');
    expect(r.status, show(r)).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc).toMatchObject({ model: 'cnn', epochs: 1, testCount: 10000, modelFile: join(out, 'cnn.safetensors'), gradients: join(out, 'gradients.png') });
    expect(doc.cleanAccuracy).toBe(doc.testAccuracy);
    expect(doc.cleanAccuracy).toBeGreaterThan(0.8); // one epoch on 10,000 digits: a broken engine stays near 0.1
    expect(doc.cleanAccuracy).toBeLessThanOrEqual(1);
    // progress on stderr only: a bar with a rate and a final ETA 0s, once
    expect(r.stderr).toMatch(/^nablax demo: cnn /);
    expect(r.stderr.match(/epoch 1\/1 100% \d+\/\d+ \| loss [\d.]+ acc [\d.]+% \| \d+ img\/s \| ETA 0s\n/g), r.stderr).toHaveLength(1);
    expect(r.stderr).not.toMatch(/"cleanAccuracy"/);

    expect(readdirSync(out).sort()).toEqual(['cnn.ckpt.safetensors', 'cnn.safetensors', 'gradients.png', 'report.json', 'report.md']);
    expect(loadModel(join(out, 'cnn.safetensors')).metadata.testAccuracy).toBe(doc.cleanAccuracy.toFixed(4)); // the model file loads
    const png = PNG.sync.read(readFileSync(join(out, 'gradients.png')));
    expect(png.width).toBeGreaterThan(3 * 28);
    expect(png.height).toBeGreaterThan(8 * 28); // eight digits, one per row
    expect(new Set(Array.from(png.data.subarray(0, 4 * png.width * png.height))).size, 'not a blank picture').toBeGreaterThan(10);
    const md = readFileSync(join(out, 'report.md'), 'utf8');
    expect(md).toMatch(/^# nablax main job\n/);
    expect(md).toContain(`**test accuracy: ${(100 * doc.cleanAccuracy).toFixed(2)}%**`);
    expect(md).toContain('![digits and their input gradients](gradients.png)');
    expect(md.split('\n').filter((l) => /^\| \*\*\d\*\* \|/.test(l))).toHaveLength(10); // the confusion matrix
    expect(JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'))).toEqual(doc);
  }, 300_000);
});

describe('reproduce goodfellow2015 --quick', () => {
  it('the table on stdout, progress for training and for each measurement phase on stderr, the report and models written', () => {
    const out = join(root, 'reproduce');
    const r = cli('reproduce', 'goodfellow2015', '--quick', '--train-limit', '500', '--test-limit', '200', '--robust-limit', '20', '--out', out);
    expect(r.status, show(r)).toBe(0);
    // stdout: the table, the notes, the time; nothing of the progress
    expect(r.stdout).toMatch(/^\| quantity \| paper \| PyTorch reference \| nablax \|\n\|---\|---\|---\|---\|\n/);
    // the header and one row per quantity (the AutoAttack row included)
    expect(r.stdout.split('\n').filter((l) => l.startsWith('| '))).toHaveLength(14);
    expect(r.stdout).toMatch(/\| adv\. trained maxout: AutoAttack/);
    expect(r.stdout).toMatch(/\nNotes:\n- /);
    expect(r.stdout).toMatch(/reduced run \(500 training images, 200 test images, PGD on 20\)/);
    expect(r.stdout).not.toMatch(/ETA|img\/s/);
    // stderr: a bar for every training epoch and one per measurement phase, each with a rate and an ETA that is "–"
    // before there is data, never "0s"
    const lines = r.stderr.split('\n');
    for (const [label, total] of [['measure \\(9 passes over the test images\\)', 1800], ['PGD-40 ε=0\\.25', 20]] as const) {
      const bar = lines.filter((l) => new RegExp(`^${label} \\d+% `).test(l));
      expect(bar[0], r.stderr).toMatch(new RegExp(`^${label} 0% 0/${total} \\| – img/s \\| ETA –$`));
      expect(bar.filter((l) => l.includes(` 100% ${total}/${total} `)), r.stderr).toHaveLength(1);
      expect(bar.at(-1), r.stderr).toMatch(new RegExp(`^${label} 100% ${total}/${total} \\| [\\d.]+ img/s \\| ETA 0s$`));
    }
    expect(r.stderr).toMatch(/^maxout epoch 1\/1 100% 4\/4 \| loss [\d.]+ \| \d+ img\/s \| ETA 0s$/m);
    // the measurement bar starts after training and ends before PGD
    const at = (re: RegExp) => lines.findIndex((l) => re.test(l));
    expect(at(/^measuring on 200 test images/)).toBeGreaterThan(at(/adversarial training .* epoch 1\/1: loss/));
    expect(at(/^PGD-40 ε=0\.25 on the adversarially trained maxout/)).toBeGreaterThan(at(/^measure .* 100% 1800\/1800/));

    expect(readdirSync(out).sort()).toEqual(['maxout-adv.safetensors', 'maxout.safetensors', 'report.json', 'report.md', 'softmax.safetensors']);
    for (const f of ['softmax', 'maxout', 'maxout-adv']) expect(loadModel(join(out, `${f}.safetensors`)).metadata.experiment, f).toBe('goodfellow2015');
    const doc = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'));
    expect(doc).toMatchObject({ experiment: 'goodfellow2015', quick: true, seed: 0, sizes: { trainLimit: 500, testLimit: 200, pgdLimit: 20 } });
    expect(doc.rows).toHaveLength(13);
    for (const row of doc.rows) {
      expect(row.nablax, row.id).toBeGreaterThanOrEqual(0);
      expect(row.nablax, row.id).toBeLessThanOrEqual(1);
    }
    const md = readFileSync(join(out, 'report.md'), 'utf8');
    expect(md).toMatch(/^# Goodfellow, Shlens & Szegedy 2015 on MNIST, reproduced with nablax \(quick\)\n/);
    // the report's table is the one printed on stdout
    const table = (s: string) => s.split('\n').filter((l) => l.startsWith('|')).join('\n');
    expect(table(md)).toBe(table(r.stdout));
  }, 300_000);
});
