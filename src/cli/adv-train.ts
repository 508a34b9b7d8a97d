// `nablax adv-train`: train with an adversarial objective (Goodfellow's J̃, FGSM/InvFGSM augmentation, PGD, fast
// FGSM, AdvProp) through the same loop, then measure clean, FGSM and PGD-40 accuracy on the official test images.
// The guard against catastrophic overfitting (on by default for fast) holds out the last N training images and
// measures PGD accuracy on them. --out is the run's folder: model.safetensors, its checkpoint, report.md/json and
// curve.svg (an --out ending in .safetensors is the old model-file form, kept for one release). --resume continues
// from the loop's checkpoint; the per-epoch robust curve, the warnings and the guard's history live beside it in
// <model>.adv-state.json, so a resumed report is whole.
import { existsSync, readFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import type { Attack } from '../attacks/attack.js';
import { evaluateAttack } from '../attacks/evaluate.js';
import { whiteBoxAttacks } from '../attacks/index.js';
import { augmentObjective, fastObjective, goodfellowObjective, pgdObjective } from '../train/adversarial.js';
import { advpropObjective } from '../train/advprop.js';
import { join } from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';
import { loadModel } from '../io/model-file.js';
import { enableAuxBatchNorm } from '../layers/batchnorm.js';
import type { Sequential } from '../layers/sequential.js';
import { lineChartSvg, saveSvg } from '../report/plot.js';
import { checkpointEpoch } from '../train/checkpoint.js';
import { loadDataset, subset, type Dataset } from '../train/data.js';
import { OverfittingGuard, pgdAccuracy, type GuardReport } from '../train/guard.js';
import type { EpochRecord, Objective } from '../train/loop.js';
import { checkpointPath, runTraining } from './train.js';
import type { AdvTrainJson } from './json-types.js';
import { dataOption, deprecatedAlias, jsonOption, limitOptions } from './options.js';
import { claimOutputs, deprecated, int, num, plural, printJson, progressBar, result, say, UsageError } from './util.js';
import { jsonText } from './json.js';

export const methods = ['goodfellow', 'fgsm-aug', 'invfgsm', 'pgd', 'fast', 'advprop'] as const;

/** Files beside the model: the adversarial state for --resume and the guard's best weights. */
export function advTrainPaths(out: string): { checkpoint: string; state: string; best: string } {
  const base = out.replace(/\.safetensors$/, '');
  return { checkpoint: checkpointPath(out), state: `${base}.adv-state.json`, best: `${base}.best.safetensors` };
}

function objectiveFor(method: string, o: Record<string, number | undefined>): { objective: Objective; eps: number } {
  switch (method) {
    case 'goodfellow': {
      const eps = o.eps ?? 0.25;
      return { objective: goodfellowObjective({ alpha: o.alpha ?? 0.5, eps }), eps };
    }
    case 'fgsm-aug':
    case 'invfgsm': {
      const eps = o.eps ?? 0.1;
      return { objective: augmentObjective({ eps, direction: method === 'fgsm-aug' ? 'fgsm' : 'invfgsm' }), eps };
    }
    case 'pgd': {
      const eps = o.eps ?? 0.3;
      return { objective: pgdObjective({ eps, steps: o.steps ?? 7, stepSize: o.stepSize ?? 0.1, warmupEpochs: o.epsWarmup ?? 0 }), eps };
    }
    case 'fast': {
      const eps = o.eps ?? 0.3;
      return { objective: fastObjective({ eps, alpha: o.alpha ?? 1.25 * eps, warmupEpochs: o.epsWarmup ?? 0 }), eps };
    }
    case 'advprop': {
      const eps = o.eps ?? 0.3;
      return { objective: advpropObjective({ eps, steps: o.steps ?? 5, stepSize: o.stepSize ?? 0.1 }), eps };
    }
    default:
      throw new UsageError(`unknown method '${method}' (expected ${methods.join(', ')})`);
  }
}

export interface RobustPoint {
  epoch: number;
  cleanAccuracy: number;
  fgsmAccuracy: number;
  pgdAccuracy: number;
}

const pct = (v: number) => `${(100 * v).toFixed(1)}%`;

/** Clean, FGSM and PGD-40 (step 0.01, random start) accuracy at ε on a fixed slice of the test set. */
export async function robustPoint(model: Sequential, ds: Dataset, eps: number, epoch: number, progress = false): Promise<RobustPoint> {
  // a progress bar over both attacks (FGSM is one step, PGD-40 forty: weighted 1 and 40)
  const bar = progress ? progressBar(`epoch ${epoch}: FGSM and PGD-40 on ${plural(ds.count, 'test image')}`, 41 * ds.count, '{rate} steps·img/s') : null;
  const fgsm = await evaluateAttack(model, whiteBoxAttacks.fgsm, ds, { eps, onProgress: (d) => bar?.update(d) });
  const pgd = await evaluateAttack(model, whiteBoxAttacks.pgd, ds, { eps, attackOptions: { steps: 40, stepSize: 0.01 }, onProgress: (d) => bar?.update(ds.count + 40 * d) });
  bar?.stop();
  return { epoch, cleanAccuracy: fgsm.metrics.cleanAccuracy, fgsmAccuracy: fgsm.metrics.accuracy, pgdAccuracy: pgd.metrics.accuracy };
}

/**
 * A warning when FGSM accuracy is far above PGD accuracy: the one-step attack is being masked (label leaking,
 * gradient masking, catastrophic overfitting), so FGSM robustness is not real robustness.
 */
export function leakWarning(p: RobustPoint, eps: number): string | null {
  if (p.fgsmAccuracy - p.pgdAccuracy <= 0.2) return null;
  return `epoch ${p.epoch}: FGSM accuracy ${pct(p.fgsmAccuracy)} is far above PGD-40 accuracy ${pct(p.pgdAccuracy)} at ε = ${eps}: ` +
    'the one-step attack is masked (label leaking or catastrophic overfitting); trust the PGD figure';
}

function guardLines(g: (GuardReport & { slice: number }) | null): string[] {
  if (!g) return [];
  const best = g.best === null ? 'none yet' : `${pct(g.best)} (epoch ${g.bestEpoch}, step ${g.bestStep})`;
  return [
    `Guard against catastrophic overfitting: PGD accuracy on ${plural(g.slice, 'held-out training image')}, ${plural(g.history.length, 'check')}, best ${best}. ` +
      (g.stoppedAt ? `Stopped: ${g.reason}; ${g.restored ? 'the best weights were restored' : 'no best weights to restore'}.` : 'No collapse.'),
    '',
  ];
}

async function writeReport(dir: string, doc: AdvTrainJson, curve: RobustPoint[]): Promise<void> {
  const lines = [
    `# Adversarial training: ${doc.model}, ${doc.method}, ε = ${doc.eps}`,
    '',
    `Clean accuracy ${pct(doc.cleanAccuracy as number)} on ${plural(doc.testCount as number, 'test image')}; FGSM ${pct(doc.fgsmAccuracy as number)} and PGD-40 ` +
      `${pct(doc.pgdAccuracy as number)} on the first ${plural(doc.robustCount as number, 'test image')}; training ${(doc.trainSeconds as number).toFixed(0)} s.`,
    '',
    ...guardLines(doc.guard as (GuardReport & { slice: number }) | null),
    '| epoch | clean | FGSM | PGD-40 |',
    '|---|---|---|---|',
    ...curve.map((p) => `| ${p.epoch} | ${pct(p.cleanAccuracy)} | ${pct(p.fgsmAccuracy)} | ${pct(p.pgdAccuracy)} |`),
    '',
    ...((doc.warnings as string[]).length ? ['Warnings:', '', ...(doc.warnings as string[]).map((w) => `- ${w}`), ''] : []),
  ];
  if (curve.length) {
    const series = (['cleanAccuracy', 'fgsmAccuracy', 'pgdAccuracy'] as const).map((k, i) => ({
      name: ['clean', 'FGSM', 'PGD-40'][i],
      points: curve.map((p) => ({ x: p.epoch, y: p[k] })),
    }));
    saveSvg(join(dir, 'curve.svg'), await lineChartSvg({ title: `Accuracy per epoch (${doc.method}, ε = ${doc.eps})`, xTitle: 'epoch', yTitle: 'accuracy', series, yDomain: [0, 1] }));
    lines.push('![accuracy per epoch](curve.svg)', '');
  }
  writeFileAtomic(join(dir, 'report.md'), lines.join('\n'));
  writeFileAtomic(join(dir, 'report.json'), jsonText(doc));
}

/** What a run keeps beside its checkpoint so that --resume reports every epoch. */
interface AdvState {
  epoch: number;
  robustHistory: RobustPoint[];
  warnings: string[];
  guard: GuardReport | null;
}

export function registerAdvTrain(program: Command): void {
  const cmd = program
    .command('adv-train')
    .description('adversarial training (goodfellow, fgsm-aug, invfgsm, pgd, fast, advprop), then clean, FGSM and PGD-40 accuracy')
    .option('--model <name|spec.json>', 'zoo model or JSON spec (cnn; cnn-bn for advprop)')
    .requiredOption('--method <name>', methods.join(', '))
    .option('--eps <ε>', 'attack budget in training (goodfellow 0.25, fgsm-aug/invfgsm 0.1, pgd/fast/advprop 0.3)', num('--eps', 0, 1))
    .option('--alpha <a>', 'goodfellow: weight of the clean loss (0.5); fast: step (1.25·ε)', num('--alpha', 0))
    .option('--steps <k>', 'pgd: inner steps (7); advprop: PGD steps of the attacker (5)', int('--steps', 1))
    .option('--step-size <α>', 'pgd and advprop: PGD step (0.1)', num('--step-size', 0, 1, true))
    .option('--eps-warmup <epochs>', 'pgd and fast: grow ε (and the step) linearly from 0 over this many epochs (0: off)', num('--eps-warmup', 0), 0)
    .option('--guard-slice <n>', 'guard against catastrophic overfitting: hold out the last N training images and measure PGD accuracy on them (fast: 1000, others: 0 = off)', int('--guard-slice', 0))
    .option('--guard-every <k>', 'guard: measure every K optimiser steps (0: after every epoch)', int('--guard-every', 0), 0)
    .option('--guard-steps <k>', 'guard: PGD steps, each of ε/4, random start', int('--guard-steps', 1), 10)
    .option('--guard-ratio <r>', 'guard: a collapse is robust accuracy below r × the best…', num('--guard-ratio', 0, 1, true), 0.5)
    .option('--guard-floor <a>', '…and below a', num('--guard-floor', 0, 1), 0.2)
    .option('--epochs <n>', 'epochs', int('--epochs', 1), 3)
    .option('--batch-size <n>', 'minibatch size', int('--batch-size', 1), 128)
    .option('--optimizer <name>', 'sgd, momentum or adam', 'adam')
    .option('--lr <rate>', 'learning rate (peak of the schedule)', num('--lr', 0, Infinity, true), 1e-3)
    .option('--lr-schedule <name>', 'constant or cosine', 'cosine')
    .option('--seed <n>', 'seed', int('--seed', 0), 0)
    .option('--epoch-test-limit <n>', 'after every epoch, clean, FGSM and PGD-40 accuracy on the first N test images (0: off)', int('--epoch-test-limit', 0), 500)
    .option('--out <dir>', 'the run\'s folder: model.safetensors (its checkpoint, adversarial state and the guard\'s best weights beside it), report.md, report.json, curve.svg', 'runs/adv-train')
    .option('--resume', 'continue from the checkpoint in --out (the same options; more --epochs may be given)');
  dataOption(cmd, 'mnist', 'training data (its test split for the measurements)');
  limitOptions(cmd, { train: true, test: true, robust: 1000, oldLimit: 'train', testHelp: 'clean accuracy on the first N test images', robustHelp: 'FGSM and PGD-40 accuracy on the first N test images' });
  deprecatedAlias(cmd, '--eval-slice <n>', '--epoch-test-limit', int('--eval-slice', 0));
  cmd.addOption(new Option('--report <dir>', 'deprecated: the report goes to --out').hideHelp());
  jsonOption(cmd);
  cmd
    .addHelpText('after', [
      '',
      'advprop (Xie et al. 2020) trains a batch-norm model (default cnn-bn): PGD examples (ε 0.3, 5 steps of 0.1, random',
      'start) are made and trained through an auxiliary batch-norm, clean ones through the main one, loss = CE(clean) +',
      'CE(adversarial). Evaluation and the saved model use the main batch-norm only: the file is a plain cnn-bn.',
      '',
      'The guard (Wong et al. 2020) stops fast training when PGD accuracy on the held-out images falls below',
      '--guard-ratio × its best and below --guard-floor, and restores the best weights (also saved as <out>.best.safetensors).',
    ].join('\n'))
    .action(async (o) => {
      // --out: the run's folder; the old form (a model file) and --report keep working for one release
      const legacyOut = String(o.out).endsWith('.safetensors');
      if (legacyOut) deprecated('adv-train --out FILE.safetensors', '--out DIR (the model goes to DIR/model.safetensors, the report beside it)');
      const modelFile: string = legacyOut ? o.out : join(o.out, 'model.safetensors');
      if (o.report !== undefined) deprecated('adv-train --report DIR', '--out DIR (the report goes beside the model)');
      const reportDir: string | null = o.report ?? (legacyOut ? null : o.out);
      if (!['constant', 'cosine'].includes(o.lrSchedule)) throw new UsageError(`unknown --lr-schedule '${o.lrSchedule}' (expected constant or cosine)`);
      const { objective, eps } = objectiveFor(o.method, o);
      const model: string = o.model ?? (o.method === 'advprop' ? 'cnn-bn' : 'cnn');
      claimOutputs([{ path: modelFile, kind: 'file', flag: '--out' }, reportDir !== null && reportDir !== o.out && { path: reportDir, kind: 'dir', flag: '--report' }]);
      const paths = advTrainPaths(modelFile);
      const curve: RobustPoint[] = [];
      const warnings: string[] = [];
      const evalSet = o.epochTestLimit > 0 ? subset(loadDataset(o.data, 'test'), 0, o.epochTestLimit) : null;

      // The guard's slice: the last N training images, never trained on.
      let trainData = loadDataset(o.data, 'train');
      const guardSlice: number = o.guardSlice ?? (o.method === 'fast' ? 1000 : 0);
      let guard: OverfittingGuard | null = null;
      if (guardSlice > 0) {
        if (guardSlice >= trainData.count) throw new UsageError(`--guard-slice ${guardSlice} leaves no training images (${trainData.name} has ${trainData.count})`);
        const heldOut = subset(trainData, trainData.count - guardSlice, trainData.count);
        trainData = subset(trainData, 0, trainData.count - guardSlice);
        guard = new OverfittingGuard({
          measure: (m) => pgdAccuracy(m, heldOut, { eps, steps: o.guardSteps, stepSize: eps / 4, seed: o.seed }),
          ratio: o.guardRatio, floor: o.guardFloor, bestPath: paths.best,
          metadata: { adversarialTraining: o.method, adversarialEps: String(eps), guardSlice: heldOut.name },
        });
      }
      const trainCount = Math.min(o.trainLimit ?? trainData.count, trainData.count);
      const batches = Math.ceil(trainCount / o.batchSize);

      if (o.resume && existsSync(paths.checkpoint) && existsSync(paths.state)) {
        const done = checkpointEpoch(paths.checkpoint);
        const saved = JSON.parse(readFileSync(paths.state, 'utf8')) as AdvState;
        curve.push(...saved.robustHistory.filter((p) => p.epoch <= done));
        warnings.push(...saved.warnings.filter((w) => Number(/^epoch (\d+)/.exec(w)?.[1] ?? 0) <= done));
        if (guard && saved.guard) guard.resume(saved.guard, done * batches, existsSync(paths.best) ? loadModel(paths.best) : undefined);
        say(`resuming after epoch ${done}${saved.epoch < done ? ` (robust measurements of epochs ${saved.epoch + 1}–${done} were lost)` : ''}`);
      }
      const guardCheck = (m: Sequential, epoch: number, step: number) => {
        if (!guard || guard.collapsed) return;
        const verdict = guard.check(m, { epoch, step });
        const last = guard.history[guard.history.length - 1];
        say(`guard: PGD-${o.guardSteps} accuracy ${pct(last.accuracy)} on ${plural(guardSlice, 'held-out training image')} at epoch ${epoch}, step ${step}` +
          (verdict === 'best' ? ' (best so far)' : ''));
        if (verdict === 'collapsed') say(`guard: ${guard.reason}; stopping`);
      };
      const saveState = (epoch: number) => {
        const state: AdvState = { epoch, robustHistory: curve, warnings, guard: guard?.report() ?? null };
        writeFileAtomic(paths.state, JSON.stringify(state, null, 2) + '\n');
      };
      const onEpoch = async (r: EpochRecord, m: Sequential) => {
        if (guard && o.guardEvery === 0) guardCheck(m, r.epoch, r.epoch * batches);
        if (evalSet) {
          const p = await robustPoint(m, evalSet, eps, r.epoch, true);
          curve.push(p);
          say(`epoch ${r.epoch}: clean ${pct(p.cleanAccuracy)}, FGSM ${pct(p.fgsmAccuracy)}, PGD-40 ${pct(p.pgdAccuracy)} (first ${plural(evalSet.count, 'test image')})`);
          const w = leakWarning(p, eps);
          if (w) {
            warnings.push(w);
            say(`warning: ${w}`);
          }
        }
        saveState(r.epoch);
      };
      const run = await runTraining({
        ...o, out: modelFile, command: 'adv-train', model, objective, onEpoch, trainData,
        runOptions: {
          method: o.method, eps, alpha: o.alpha ?? null, steps: o.steps ?? null, stepSize: o.stepSize ?? null, epsWarmup: o.epsWarmup,
          guardSlice, guardEvery: o.guardEvery, guardSteps: o.guardSteps, guardRatio: o.guardRatio, guardFloor: o.guardFloor,
        },
        prepare: o.method === 'advprop' ? (m) => {
          try {
            enableAuxBatchNorm(m);
          } catch (e) {
            throw new UsageError(`--method advprop: ${(e as Error).message.replace(/^enableAuxBatchNorm: /, '')}`);
          }
        } : undefined,
        onBatch: guard && o.guardEvery > 0
          ? (p, m) => {
              const step = p.epoch * p.batches + p.batch;
              if (step % o.guardEvery === 0) guardCheck(m, p.epoch + 1, step);
            }
          : undefined,
        shouldStop: guard ? () => guard.collapsed : undefined,
        onTrained: (m) => {
          if (!guard?.collapsed) return;
          const restored = guard.restoreBest(m);
          say(`guard: stopped at epoch ${guard.stoppedAt!.epoch}; ` +
            (restored ? `restored the best weights (PGD accuracy ${pct(guard.best!.accuracy)}, epoch ${guard.best!.epoch}, step ${guard.best!.step})` : 'no best weights to restore'));
        },
        metadata: {
          adversarialTraining: o.method, adversarialEps: String(eps),
          ...(o.method === 'advprop' ? { batchNorm: 'main (the auxiliary batch-norm of AdvProp training is not saved)' } : {}),
        },
      });
      const slice = subset(run.testSet, 0, Math.min(o.robustLimit, run.testSet.count));
      const measured = async (name: string, attack: Attack, attackOptions?: Record<string, unknown>) => {
        const bar = progressBar(`${name} ε=${eps} on ${plural(slice.count, 'test image')}`, slice.count, '{rate} img/s');
        const r = await evaluateAttack(run.model, attack, slice, { eps, attackOptions, onProgress: (done) => bar.update(done) });
        bar.stop();
        return r;
      };
      const fgsm = await measured('FGSM', whiteBoxAttacks.fgsm);
      const pgd = await measured('PGD-40', whiteBoxAttacks.pgd, { steps: 40, stepSize: 0.01 });
      const doc: AdvTrainJson = {
        model, method: o.method, eps, epochs: o.epochs, seed: o.seed, data: run.trainSet.name, trainCount: run.trainSet.count,
        ...(o.method === 'pgd' ? { steps: o.steps ?? 7, stepSize: o.stepSize ?? 0.1 } : {}),
        ...(o.method === 'advprop' ? { steps: o.steps ?? 5, stepSize: o.stepSize ?? 0.1 } : {}),
        cleanAccuracy: run.test.accuracy, testCount: run.test.count,
        robustCount: slice.count, fgsmAccuracy: fgsm.metrics.accuracy, pgdAccuracy: pgd.metrics.accuracy, robustAccuracy: pgd.metrics.accuracy,
        history: run.history, robustHistory: curve, warnings,
        guard: guard ? { slice: guardSlice, every: o.guardEvery, steps: o.guardSteps, bestFile: guard.best ? paths.best : null, ...guard.report() } : null,
        trainSeconds: run.seconds, modelFile,
        testAccuracy: run.test.accuracy, out: modelFile,
      };
      if (reportDir !== null) await writeReport(reportDir, doc, curve);
      if (o.json) printJson(doc);
      else {
        result(`clean ${(100 * doc.cleanAccuracy).toFixed(2)}% (${plural(doc.testCount, 'test image')}), FGSM ε=${eps} ${(100 * doc.fgsmAccuracy).toFixed(1)}%, ` +
          `PGD-40 ε=${eps} ${(100 * doc.pgdAccuracy).toFixed(1)}% (first ${plural(slice.count, 'test image')}); saved ${modelFile}`);
        if (reportDir !== null) say(`wrote ${join(reportDir, 'report.md')}, report.json and curve.svg`);
      }
    });
}
