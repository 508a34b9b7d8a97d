// `nablax adv-train` end to end on tiny runs (fast with the guard, AdvProp, TRADES with the recipes, MART), --resume, and
// its bad options.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadModel } from '../../src/io/model-file.js';
import { buildModel } from '../../src/layers/spec.js';
import { zooSpec } from '../../src/layers/zoo.js';

const root = resolve(__dirname, '../..');
const run = (args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { cwd: root, encoding: 'utf8' });

describe('nablax adv-train', () => {
  it('trains with an adversarial objective and reports clean, FGSM and PGD accuracy', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nablax-adv-'));
    // --out is the run's folder: the model and the report side by side
    const report = join(dir, 'run');
    const out = join(report, 'model.safetensors');
    const r = run(['adv-train', '--model', 'softmax', '--method', 'fast', '--eps', '0.1', '--epochs', '2', '--train-limit', '1000', '--robust-limit', '100',
      '--epoch-test-limit', '50', '--out', report, '--json']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^nablax adv-train: softmax /m);
    expect(r.stderr).not.toMatch(/deprecated/);
    const doc = JSON.parse(r.stdout);
    expect(doc.modelFile).toBe(out);
    expect(doc.cleanAccuracy).toBe(doc.testAccuracy);
    expect(doc.robustAccuracy).toBe(Math.min(doc.fgsmAccuracy, doc.pgdAccuracy, doc.autoattackAccuracy));
    expect(doc.autoattackVersion).toBe('apgd-ce+apgd-t');
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
    const { leakWarning } = await import('../../src/experiments/adversarial-training-measure.js');
    expect(leakWarning({ epoch: 3, cleanAccuracy: 0.97, fgsmAccuracy: 0.8, pgdAccuracy: 0.2 }, 0.3)).toMatch(/epoch 3: FGSM accuracy 80.0% is far above PGD-40 accuracy 20.0%/);
    expect(leakWarning({ epoch: 3, cleanAccuracy: 0.97, fgsmAccuracy: 0.8, pgdAccuracy: 0.75 }, 0.3)).toBeNull();
  });

  it('the final evaluation runs APGD-CE + APGD-T on the PGD-40 images; robust accuracy is the minimum; a gap > 2 points warns', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nablax-adv-aa-'));
    const r = run(['adv-train', '--model', 'softmax', '--method', 'pgd', '--steps', '3', '--eps', '0.05', '--lr', '0.01', '--epochs', '1', '--train-limit', '2000',
      '--robust-limit', '50', '--epoch-test-limit', '0', '--final-attack-steps', '20', '--out', join(dir, 'run'), '--json']);
    expect(r.status, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc).toMatchObject({ autoattackVersion: 'apgd-ce+apgd-t', autoattackSteps: 20, robustCount: 50 });
    expect(doc.autoattackStages.map((s: { attack: string }) => s.attack)).toEqual(['apgd-ce', 'apgd-t']);
    // a model that is robust somewhere, so that the comparison below means something
    expect(doc.pgdAccuracy).toBeGreaterThan(0.2);
    // AutoAttack's stages are at least as strong as PGD-40 on the same images (clean errors count for both)
    expect(doc.autoattackAccuracy).toBeLessThanOrEqual(doc.pgdAccuracy);
    expect(doc.autoattackAccuracy).toBe(doc.autoattackStages[1].robustAccuracy);
    expect(doc.autoattackStages[1].robustAccuracy).toBeLessThanOrEqual(doc.autoattackStages[0].robustAccuracy);
    expect(doc.robustAccuracy).toBe(Math.min(doc.fgsmAccuracy, doc.pgdAccuracy, doc.autoattackAccuracy));
    // the warning is there exactly when PGD-40 exceeds AutoAttack by more than 2 points: stderr, JSON and report.md
    const overstated = Math.round(doc.robustCount * (doc.pgdAccuracy - doc.autoattackAccuracy)) > 0.02 * doc.robustCount;
    const w = doc.warnings.filter((s: string) => s.startsWith('PGD-40 overstates robustness by'));
    expect(w.length).toBe(overstated ? 1 : 0);
    expect(/warning: PGD-40 overstates robustness by/.test(r.stderr)).toBe(overstated);
    const md = readFileSync(join(dir, 'run', 'report.md'), 'utf8');
    expect(md).toMatch(/AutoAttack \(apgd-ce\+apgd-t, 20 steps\) \d+\.\d%/);
    // --epoch-test-limit 0: no empty per-epoch table, a line saying why; a short run's time keeps a decimal
    expect(md).not.toContain('| epoch |');
    expect(md).toContain('No per-epoch measurement (--epoch-test-limit 0).');
    expect(md).toMatch(/training \d+(\.\d)? s/);
    expect(md).not.toMatch(/training 0 s/);
    if (overstated) expect(readFileSync(join(dir, 'run', 'report.md'), 'utf8')).toContain(w[0]);
  });

  it('--final-attack autoattack runs the full standard version', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nablax-adv-aa-full-'));
    const r = run(['adv-train', '--model', 'softmax', '--method', 'pgd', '--steps', '2', '--eps', '0.05', '--lr', '0.01', '--epochs', '1', '--train-limit', '500',
      '--robust-limit', '30', '--epoch-test-limit', '0', '--final-attack', 'autoattack', '--final-attack-steps', '5', '--out', join(dir, 'run'), '--json']);
    expect(r.status, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.autoattackVersion).toBe('standard (apgd-ce, apgd-t, fab-t, square)');
    expect(doc.autoattackStages[0].attack).toBe('apgd-ce');
    expect(doc.autoattackAccuracy).toBeLessThanOrEqual(doc.pgdAccuracy);
    expect(doc.robustAccuracy).toBe(Math.min(doc.fgsmAccuracy, doc.pgdAccuracy, doc.autoattackAccuracy));
    expect(r.stderr).toMatch(/AutoAttack apgd-ce ε=0.05 on \d+ still-robust test images/);
  });

  it('warns when PGD-40 accuracy exceeds AutoAttack\'s by more than 2 points', async () => {
    const { autoattackGapWarning } = await import('../../src/attacks/autoattack-checks.js');
    expect(autoattackGapWarning(0.9, 0.85, 'apgd-ce+apgd-t', 0.3)).toBe(
      'PGD-40 overstates robustness by 5.0 points (AutoAttack apgd-ce+apgd-t at ε = 0.3: 85.0%, PGD-40 90.0%); report the AutoAttack figure');
    expect(autoattackGapWarning(0.9, 0.88, 'apgd-ce+apgd-t', 0.3)).toBeNull();
    expect(autoattackGapWarning(0.9, 0.879, 'apgd-ce+apgd-t', 0.3)).toMatch(/by 2\.1 points/);
    expect(autoattackGapWarning(0.5, 0.6, 'apgd-ce+apgd-t', 0.3)).toBeNull();
  });

  it('advprop trains a cnn-bn and saves it without the auxiliary batch-norm', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nablax-advprop-'));
    const out = join(dir, 'm.safetensors');
    const r = run(['adv-train', '--method', 'advprop', '--steps', '2', '--epochs', '1', '--train-limit', '200', '--robust-limit', '20', '--epoch-test-limit', '0', '--out', out, '--json']);
    expect(r.status, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc).toMatchObject({ model: 'cnn-bn', method: 'advprop', eps: 0.3, steps: 2, stepSize: 0.1, guard: null, trainCount: 200 });
    const { model, metadata } = loadModel(out);
    expect(model.spec()).toEqual(buildModel(zooSpec('cnn-bn')).spec());
    expect(model.stateDict().some(([n]) => n.includes('aux'))).toBe(false);
    expect(metadata.adversarialTraining).toBe('advprop');
  });

  it('fast with the guard: the held-out slice is not trained on, every check is reported, the best weights are on disk', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nablax-guard-'));
    const out = join(dir, 'm.safetensors');
    const r = run(['adv-train', '--model', 'softmax', '--method', 'fast', '--epochs', '2', '--train-limit', '300', '--guard-slice', '100', '--guard-every', '2',
      '--robust-limit', '20', '--epoch-test-limit', '0', '--out', out, '--json']);
    expect(r.status, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.data).toBe('mnist:10000[0:9900][0:300]');
    expect(doc.guard).toMatchObject({ slice: 100, every: 2, steps: 10, ratio: 0.5, floor: 0.2, bestFile: join(dir, 'm.best.safetensors') });
    expect(doc.guard.history.map((p: { step: number }) => p.step)).toEqual([2, 4, 6]);
    expect(existsSync(join(dir, 'm.best.safetensors'))).toBe(true);
    expect(r.stderr).toMatch(/guard: PGD-10 accuracy \d+\.\d% on 100 held-out training images at epoch 1, step 2/);
  });

  it('--resume continues bit-identically, with the robust curve and the guard record of the epochs before it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nablax-adv-resume-'));
    const common = ['adv-train', '--model', 'softmax', '--method', 'fast', '--lr-schedule', 'constant', '--train-limit', '300', '--guard-slice', '100',
      '--robust-limit', '20', '--epoch-test-limit', '30', '--json'];
    const straight = run([...common, '--epochs', '2', '--out', join(dir, 'a.safetensors')]);
    expect(straight.status, straight.stderr).toBe(0);
    const first = run([...common, '--epochs', '1', '--out', join(dir, 'b.safetensors')]);
    expect(first.status, first.stderr).toBe(0);
    const resumed = run([...common, '--epochs', '2', '--resume', '--out', join(dir, 'b.safetensors')]);
    expect(resumed.status, resumed.stderr).toBe(0);
    expect(resumed.stderr).toMatch(/resuming after epoch 1/);
    const tensors = (f: string) => loadModel(join(dir, f)).model.stateDict().map(([n, t]) => `${n}:${Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).toString('base64')}`);
    expect(tensors('b.safetensors')).toEqual(tensors('a.safetensors'));
    const a = JSON.parse(straight.stdout), b = JSON.parse(resumed.stdout);
    expect(b.robustHistory).toEqual(a.robustHistory);
    expect(b.robustHistory.map((p: { epoch: number }) => p.epoch)).toEqual([1, 2]);
    expect(b.history.map((h: { loss: number }) => h.loss)).toEqual(a.history.map((h: { loss: number }) => h.loss));
    expect(b.guard.history).toEqual(a.guard.history);
    expect(b.testAccuracy).toBe(a.testAccuracy);
  });

  it('trades with a steps curriculum and a weight average resumes bit-identically, the average included', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nablax-trades-'));
    const common = ['adv-train', '--model', 'softmax', '--method', 'trades', '--beta', '2', '--steps-schedule', '1:1,2:2', '--ema', '0.9',
      '--lr-schedule', 'constant', '--limit', '200', '--robust-limit', '20', '--eval-slice', '0', '--json'];
    const straight = run([...common, '--epochs', '2', '--out', join(dir, 'a.safetensors')]);
    expect(straight.status, straight.stderr).toBe(0);
    const a = JSON.parse(straight.stdout);
    expect(a).toMatchObject({ method: 'trades', beta: 2, stepsSchedule: '1:1,2:2', stepSize: '2.5·ε/k', eps: 0.3, lrSchedule: 'constant' });
    expect(a.ema).toMatchObject({ decay: 0.9, updates: 4, modelFile: join(dir, 'a.ema.safetensors') });
    expect(a.ema.cleanAccuracy).toBeGreaterThan(0.1);
    expect(a.ema.pgdAccuracy).toBeGreaterThanOrEqual(0);
    expect(a.ema.pgdAccuracy).toBeLessThanOrEqual(a.ema.cleanAccuracy + 0.2);
    // the weight average gets the main model's final AutoAttack setting (APGD-CE + APGD-T) on the same images
    expect(a.ema.autoattackStages.map((s: { attack: string }) => s.attack)).toEqual(['apgd-ce', 'apgd-t'].slice(0, a.ema.autoattackStages.length));
    expect(a.ema.autoattackAccuracy).toBe(a.ema.autoattackStages.length ? a.ema.autoattackStages.at(-1).robustAccuracy : 0);
    expect(a.ema.autoattackAccuracy).toBeLessThanOrEqual(a.ema.cleanAccuracy);
    expect(a.ema.robustAccuracy).toBe(Math.min(a.ema.fgsmAccuracy, a.ema.pgdAccuracy, a.ema.autoattackAccuracy));
    const emaGap = Math.round(a.robustCount * (a.ema.pgdAccuracy - a.ema.autoattackAccuracy)) > 0.02 * a.robustCount;
    expect(a.warnings.some((w: string) => /^weight average: PGD-40 overstates robustness/.test(w))).toBe(emaGap);
    const ema = loadModel(join(dir, 'a.ema.safetensors'));
    expect(ema.metadata).toMatchObject({ emaDecay: '0.9', emaUpdates: '4', epoch: '2', adversarialTraining: 'trades' });
    expect(run([...common, '--epochs', '1', '--out', join(dir, 'b.safetensors')]).status).toBe(0);
    const resumed = run([...common, '--epochs', '2', '--resume', '--out', join(dir, 'b.safetensors')]);
    expect(resumed.status, resumed.stderr).toBe(0);
    expect(resumed.stderr).not.toMatch(/restarts/);
    const tensors = (f: string) => loadModel(join(dir, f)).model.stateDict().map(([n, t]) => `${n}:${Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).toString('base64')}`);
    expect(tensors('b.safetensors')).toEqual(tensors('a.safetensors'));
    expect(tensors('b.ema.safetensors')).toEqual(tensors('a.ema.safetensors'));
    expect(tensors('a.ema.safetensors')).not.toEqual(tensors('a.safetensors'));
    expect(JSON.parse(resumed.stdout).ema).toEqual({ ...a.ema, modelFile: join(dir, 'b.ema.safetensors') });
  });

  it('mart with one-cycle lr, ε warm-up and the overfitting guard runs and reports λ and every guard check', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nablax-mart-'));
    const r = run(['adv-train', '--model', 'softmax', '--method', 'mart', '--steps', '2', '--step-size', '0.15', '--lr-schedule', 'onecycle', '--eps-warmup', '1',
      '--guard-slice', '50', '--guard-every', '2', '--batch-size', '50', '--epochs', '1', '--limit', '200', '--robust-limit', '20', '--eval-slice', '0', '--out', join(dir, 'm.safetensors'), '--json']);
    expect(r.status, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc).toMatchObject({ method: 'mart', lambda: 6, steps: 2, stepSize: 0.15, lrSchedule: 'onecycle', epsWarmup: 1, ema: null });
    expect(doc.guard.history.map((p: { step: number }) => p.step)).toEqual([2, 4]);
    expect(loadModel(join(dir, 'm.safetensors')).metadata.lrSchedule).toBe('onecycle');
  });

  // One test per case: each spawns the CLI, and fifteen spawns in one test outran the per-test limit on a busy machine.
  it.each([
    [['--method', 'advprop-x'], /unknown method 'advprop-x'/],
    [['--method', 'pgd', '--eps', '2'], /--eps must be a number in \[0, 1\], got '2'/],
    [['--method', 'advprop'], /--method advprop: the model has no batch-norm layer \(AdvProp needs one, e\.g\. the zoo's cnn-bn\)/],
    [['--method', 'fast', '--guard-slice', '20000'], /--guard-slice 20000 leaves no training images/],
    [['--method', 'fast', '--guard-floor', '1.5'], /--guard-floor must be a number in \[0, 1\], got '1.5'/],
    [['--method', 'pgd', '--beta', '2'], /--beta is for --method trades, not pgd/],
    [['--method', 'trades', '--lambda', '2'], /--lambda is for --method mart, not trades/],
    [['--method', 'trades', '--beta', '-1'], /--beta must be a number ≥ 0, got '-1'/],
    [['--method', 'fast', '--steps-schedule', '1:5'], /--steps-schedule is for --method pgd, trades, mart, not fast/],
    [['--method', 'mart', '--steps-schedule', '2:5'], /--steps-schedule: the first entry must start at epoch 1/],
    [['--method', 'pgd', '--steps', '3', '--steps-schedule', '1:5'], /--steps-schedule replaces --steps/],
    [['--method', 'trades', '--ema', '1'], /--ema must be a decay in \[0, 1\), got '1'/],
    [['--method', 'pgd', '--final-attack', 'square'], /--final-attack must be apgd or autoattack, got 'square'/],
    [['--method', 'pgd', '--final-attack-steps', '0'], /--final-attack-steps/],
    [['--method', 'trades', '--lr-schedule', 'cyclic'], /unknown --lr-schedule 'cyclic' \(expected constant, cosine or onecycle\)/],
  ] as [string[], RegExp][])('rejects bad input with one line and a non-zero exit: %j', (args, re) => {
    const r = run(['adv-train', '--model', 'softmax', '--epochs', '1', '--train-limit', '100', ...args]);
    expect(r.status).not.toBe(0);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(re);
  });
});
