// `nablax attack` end to end on a small real model, and its bad-option errors; evaluateAttack's bookkeeping.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { evaluateAttack, evaluateAttackSweep, type AttackMetrics } from '../../src/analysis/attack-evaluation.js';
import { blackBoxAttacks } from '../../src/attacks/black-box.js';
import { whiteBoxAttacks } from '../../src/attacks/index.js';
import { matmulOps } from '../../src/engine/ops/matmul.js';
import { saveModel } from '../../src/io/model-file.js';
import { subset, loadMnistData } from '../../src/data/datasets.js';
import { trainedModel } from '../attacks/fixtures.js';

const root = resolve(__dirname, '../..');
const run = (args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { cwd: root, encoding: 'utf8' });
let dir = '';
let modelFile = '';

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'nablax-attack-'));
  modelFile = join(dir, 'softmax.safetensors');
  saveModel(modelFile, await trainedModel('softmax'));
});

describe('nablax attack', () => {
  it('reports every (attack, ε) with the documented fields and writes the report', () => {
    const out = join(dir, 'report');
    const r = run(['attack', '--model-file', modelFile, '--attack', 'fgsm,pgd', '--eps', '0,0.1,0.25', '--test-limit', '60', '--steps', '10', '--step-size', '0.05', '--out', out, '--json']);
    expect(r.status, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.results.map((x: { attack: string; eps: number }) => `${x.attack}@${x.eps}`)).toEqual(['fgsm@0', 'fgsm@0.1', 'fgsm@0.25', 'pgd@0', 'pgd@0.1', 'pgd@0.25']);
    for (const x of doc.results) {
      for (const f of ['accuracy', 'errorRate', 'attackSuccessRate', 'meanWrongConfidence', 'meanLinf', 'maxLinf', 'meanL2', 'maxL2', 'meanL0', 'maxL0', 'seconds', 'imagesPerSecond']) {
        expect(typeof x[f], f).toBe('number');
      }
      expect(x.accuracy + x.errorRate).toBeCloseTo(1, 12);
      expect(x.maxLinf).toBeLessThanOrEqual(x.eps + 1e-6);
      expect(x.count).toBe(60);
    }
    expect(doc.results[0].accuracy).toBe(doc.results[0].cleanAccuracy); // ε = 0 changes nothing
    expect(doc.results[2].accuracy).toBeLessThan(0.2); // FGSM at 0.25 breaks a softmax model
    expect(doc.results[5].accuracy).toBeLessThanOrEqual(doc.results[2].accuracy);
    for (const f of ['report.json', 'report.md', 'accuracy.svg', 'fgsm.png', 'pgd.png']) expect(existsSync(join(out, f)), f).toBe(true);
    expect(readFileSync(join(out, 'accuracy.svg'), 'utf8')).toContain('<svg');
    expect(readdirSync(out).some((f) => f.includes('.tmp-'))).toBe(false);
  });

  it('the text report starts with the clean accuracy, the same as the JSON report’s ε = 0 accuracy', () => {
    const common = ['attack', '--model-file', modelFile, '--attack', 'fgsm', '--test-limit', '60'];
    const text = run([...common, '--eps', '0.1,0.2']);
    expect(text.status, text.stderr).toBe(0);
    const lines = text.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(3);
    const clean = /^clean accuracy (\d+\.\d\d)% on 60 test images$/.exec(lines[0]);
    expect(clean, lines[0]).not.toBeNull();
    expect(lines[1]).toMatch(/^fgsm eps 0\.1: accuracy /);
    const atZero = JSON.parse(run([...common, '--eps', '0', '--json']).stdout).results[0].robustAccuracy as number;
    expect(Number(clean![1])).toBeCloseTo(100 * atZero, 2);
    const targeted = run([...common, '--eps', '0.1', '--target', '7']);
    expect(targeted.stdout).toMatch(/^clean accuracy \d+\.\d\d% on \d+ test images \(class 7 left out\)\n/);
  });

  it('targeted runs add the 10×10 source/target grid', () => {
    const out = join(dir, 'targeted');
    const r = run(['attack', '--model-file', modelFile, '--attack', 'fgsm', '--eps', '0.2', '--test-limit', '20', '--target', 'random', '--out', out, '--json']);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).results[0].targeted).toBe(true);
    expect(existsSync(join(out, 'targets-fgsm.png'))).toBe(true);
  });

  it("offers every attack's settings as flags naming the attacks that read them, and passes them to those attacks", () => {
    const help = run(['attack', '--help']).stdout.replace(/\s+/g, ' ');
    for (const [name, attack] of Object.entries({ ...whiteBoxAttacks, ...blackBoxAttacks })) {
      for (const s of attack.settings) {
        const flag = s.flag.split(' ')[0];
        const users = new RegExp(`${flag}[ <>\\w]*? [^[]*\\[([^\\]]*)\\]`).exec(help)?.[1].split(', ');
        // each entry is the attack's name, then its default where the record declares one
        expect(users, `${flag} in attack --help`).toContain(s.default === undefined ? name : `${name} ${s.default}`);
      }
    }
    // one BIM step of size ε is FGSM: --steps and --step-size reach BIM
    const args = ['--model-file', modelFile, '--eps', '0.05', '--test-limit', '40', '--json'];
    const fgsm = run(['attack', '--attack', 'fgsm', ...args]);
    const bim = run(['attack', '--attack', 'bim', '--steps', '1', '--step-size', '0.05', ...args]);
    const bimSmall = run(['attack', '--attack', 'bim', '--steps', '1', '--step-size', '0.01', ...args]);
    expect(bim.status, bim.stderr).toBe(0);
    const acc = (r: typeof bim) => JSON.parse(r.stdout).results[0].robustAccuracy as number;
    expect(acc(bim)).toBe(acc(fgsm));
    expect(acc(bimSmall)).toBeGreaterThan(acc(fgsm)); // one step of 0.01 breaks fewer
  });

  it('a fixed target skips the images of that class', () => {
    const r = run(['attack', '--model-file', modelFile, '--attack', 'fgsm', '--eps', '0.1', '--test-limit', '30', '--target', '7', '--json']);
    expect(r.status, r.stderr).toBe(0);
    const labels = Array.from(loadMnistData('test').labels.subarray(0, 30));
    expect(JSON.parse(r.stdout).results[0].count).toBe(labels.filter((l) => l !== 7).length);
  });

  const bad: [string, string[], RegExp][] = [
    ['negative ε', ['--eps', '-0.1'], /--eps must be comma-separated numbers ≥ 0, got '-0.1'/],
    ['L∞ ε above 1', ['--eps', '1.5'], /--eps 1.5 is outside \[0, 1\] for the L∞ attack fgsm/],
    ['unknown attack', ['--attack', 'no-such-attack'], /unknown attack 'no-such-attack'/],
    ['target out of range', ['--target', '10'], /--target must be a class in 0..9/],
    ['missing model file', ['--model-file', '/no/such/model.safetensors'], /no such file: \/no\/such\/model.safetensors/],
    // a setting no chosen attack reads is refused, not ignored: the run would not be the one asked for
    ['a setting fgsm does not read', ['--steps', '100'], /--steps is not read by fgsm; it sets bim, pgd, .*apgd-ce/],
    ['an off-switch fgsm does not read', ['--no-early-stop'], /--no-early-stop is not read by fgsm; it sets /],
    ["one-pixel's setting with a gradient attack", ['--attack', 'fgsm,pgd', '--pixels', '3'], /--pixels is not read by fgsm, pgd; it sets one-pixel/],
    ['--norm for an attack of fixed norm', ['--norm', 'l2'], /--norm is not read by fgsm \(its norm is fixed\); it picks the norm of apgd-ce/],
    ['--aa-version without autoattack', ['--aa-version', 'plus'], /--aa-version sets the version of an AutoAttack run: it needs --attack autoattack/],
  ];
  for (const [name, args, re] of bad) {
    it(`rejects ${name} with one line and a non-zero exit`, () => {
      const base = ['attack', '--model-file', modelFile, '--attack', 'fgsm', '--test-limit', '5'];
      const r = run([...base, ...args]);
      expect(r.status).not.toBe(0);
      const lines = r.stderr.trim().split('\n');
      expect(lines.length, r.stderr).toBe(1);
      expect(lines[0]).toMatch(re);
    });
  }
});

describe('evaluateAttack', () => {
  it('keeps its books: accuracy + error = 1, success over the initially correct, distances within ε', async () => {
    const model = await trainedModel('softmax');
    const ds = subset(loadMnistData('test'), 0, 100);
    const { metrics, examples } = await evaluateAttack(model, whiteBoxAttacks.fgsm, ds, { eps: 0.1, batchSize: 32 });
    expect(metrics.count).toBe(100);
    expect(metrics.accuracy + metrics.errorRate).toBeCloseTo(1, 12);
    expect(metrics.maxLinf).toBeLessThanOrEqual(0.1 + 1e-6);
    expect(metrics.meanL0).toBeGreaterThan(0);
    expect(examples.length).toBe(8);
    const flipped = examples.filter((e) => e.origPred === e.label && e.advPred !== e.label).length;
    expect(flipped).toBe(examples.filter((e) => e.success && e.origPred === e.label).length);
    // success rate over initially correct images ≤ error rate / clean accuracy bound
    expect(metrics.attackSuccessRate * metrics.cleanAccuracy).toBeLessThanOrEqual(metrics.errorRate + 1e-12);
    await expect(evaluateAttack(model, whiteBoxAttacks.fgsm, ds, { eps: -1 })).rejects.toThrow(/eps must be a finite number ≥ 0/);
  });

  it('an ε sweep gives every ε the same results as evaluating it alone, with one ∇x per batch for FGSM', async () => {
    const model = await trainedModel('softmax');
    const ds = subset(loadMnistData('test'), 0, 100);
    const epsList = [0.05, 0.1, 0.2];
    const untimed = ({ seconds: _s, imagesPerSecond: _i, attackSeconds: _a, attackImagesPerSecond: _r, ...m }: AttackMetrics) => m;
    for (const [attack, extra] of [
      [whiteBoxAttacks.fgsm, {}],
      [whiteBoxAttacks.fgsm, { target: { kind: 'random' as const } }],
      [whiteBoxAttacks.pgd, { attackOptions: { steps: 3, stepSize: 0.02 } }],
    ] as const) {
      const backward = vi.spyOn(matmulOps.linear, 'backward');
      const sweep = await evaluateAttackSweep(model, attack, ds, { epsList, batchSize: 32, ...extra });
      // 4 batches; FGSM's gradient at x is shared by the three ε, PGD starts from random points and is not
      if (attack === whiteBoxAttacks.fgsm) expect(backward).toHaveBeenCalledTimes(4);
      else expect(backward.mock.calls.length).toBeGreaterThan(4 * epsList.length);
      backward.mockRestore();
      for (const [i, eps] of epsList.entries()) {
        const alone = await evaluateAttack(model, attack, ds, { eps, batchSize: 32, ...extra });
        expect(untimed(sweep[i].metrics), `${attack.name} eps ${eps}`).toEqual(untimed(alone.metrics));
        expect(sweep[i].examples.map((e) => Array.from(e.adversarial))).toEqual(alone.examples.map((e) => Array.from(e.adversarial)));
      }
    }
  });
});
