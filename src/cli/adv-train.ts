// `nablax adv-train`: train with an adversarial objective (Goodfellow's J̃, FGSM/InvFGSM augmentation, PGD, fast
// FGSM, AdvProp, TRADES, MART) through the same loop, then measure clean, FGSM and PGD-40 accuracy on the official
// test images. Recipes: ε warm-up, one-cycle learning rate, a curriculum of attack steps, and an exponential moving
// average of the weights (--ema) saved as <out>.ema.safetensors and evaluated on its own.
// The guard against catastrophic overfitting (on by default for fast) holds out the last N training images and
// measures PGD accuracy on them. --out is the run's folder: model.safetensors, its checkpoint, report.md/json and
// curve.svg; an --out ending in .safetensors is the model file itself (no report). --resume continues
// from the loop's checkpoint; the per-epoch robust curve, the warnings and the guard's history live beside it in
// <model>.adv-state.json, so a resumed report is whole.
import { existsSync, readFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import type { Attack } from '../attacks/attack.js';
import { evaluateAttack } from '../analysis/attack-evaluation.js';
import { whiteBoxAttacks } from '../attacks/index.js';
import { WeightAverage } from '../train/ema.js';
import { adversarialMethods, methodObjective, multiStepMethods } from '../train/methods.js';
import { parseStepsSchedule, type StepsSchedule } from '../train/schedules.js';
import { evaluate } from '../train/evaluate.js';
import { join } from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';
import { loadModel } from '../io/model-file.js';
import { enableAuxBatchNorm } from '../layers/batchnorm.js';
import type { Sequential } from '../layers/sequential.js';
import { lineChartSvg, saveSvg } from '../report/plot.js';
import { checkpointEpoch } from '../train/checkpoint.js';
import { loadDataset, subset, type Dataset } from '../data/datasets.js';
import { OverfittingGuard, pgdAccuracy, type GuardReport } from '../train/guard.js';
import type { EpochRecord, Objective } from '../train/loop.js';
import { checkpointPath } from '../experiments/training-run.js';
import { trainWithProgress } from './train.js';
import type { AdvTrainJson } from './json-types.js';
import { dataOption, deprecatedAlias, jsonOption, limitOptions } from './options.js';
import { claimOutputs, deprecated, int, num, plural, printJson, progressBar, result, say, UsageError } from './util.js';
import { jsonText } from './json.js';
import { autoattackGapWarning, finalAttackFlag, finalAutoAttack } from './adv-autoattack.js';

export const methods = adversarialMethods;

/** Files beside the model: the adversarial state for --resume and the guard's best weights. */
export function advTrainPaths(out: string): { checkpoint: string; state: string; best: string; ema: string } {
  const base = out.replace(/\.safetensors$/, '');
  return { checkpoint: checkpointPath(out), state: `${base}.adv-state.json`, best: `${base}.best.safetensors`, ema: `${base}.ema.safetensors` };
}

/** Methods whose attack takes --steps/--step-size, and so --steps-schedule. */
const multiStep = multiStepMethods;

function objectiveFor(method: string, o: Record<string, number | undefined>, stepsSchedule?: StepsSchedule): { objective: Objective; eps: number } {
  if (!(methods as readonly string[]).includes(method)) throw new UsageError(`unknown method '${method}' (expected ${methods.join(', ')})`);
  return methodObjective(method, o, stepsSchedule);
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

function emaLines(e: AdvTrainJson['ema'], count: number, version: string): string[] {
  if (!e) return [];
  return [`Weight average (decay ${e.decay}, ${e.modelFile}): clean ${pct(e.cleanAccuracy)} on the official test set; FGSM ${pct(e.fgsmAccuracy)}, ` +
    `PGD-40 ${pct(e.pgdAccuracy)} and AutoAttack (${version}) ${pct(e.autoattackAccuracy)} on the first ${count} test images; robust accuracy ${pct(e.robustAccuracy)}.`, ''];
}

async function writeReport(dir: string, doc: AdvTrainJson, curve: RobustPoint[]): Promise<void> {
  const lines = [
    `# Adversarial training: ${doc.model}, ${doc.method}, ε = ${doc.eps}`,
    '',
    `Clean accuracy ${pct(doc.cleanAccuracy)} on ${plural(doc.testCount, 'test image')}; FGSM ${pct(doc.fgsmAccuracy)}, PGD-40 ` +
      `${pct(doc.pgdAccuracy)} and AutoAttack (${doc.autoattackVersion}${doc.autoattackSteps !== 100 ? `, ${doc.autoattackSteps} steps` : ''}) ${pct(doc.autoattackAccuracy)} ` +
      `on the first ${plural(doc.robustCount, 'test image')}; robust accuracy (the minimum over these attacks) ${pct(doc.robustAccuracy)}; training ${(doc.trainSeconds).toFixed(0)} s.`,
    '',
    ...guardLines(doc.guard as (GuardReport & { slice: number }) | null),
    ...emaLines(doc.ema, doc.robustCount, doc.autoattackVersion),
    '| epoch | clean | FGSM | PGD-40 |',
    '|---|---|---|---|',
    ...curve.map((p) => `| ${p.epoch} | ${pct(p.cleanAccuracy)} | ${pct(p.fgsmAccuracy)} | ${pct(p.pgdAccuracy)} |`),
    '',
    ...((doc.warnings).length ? ['Warnings:', '', ...(doc.warnings).map((w) => `- ${w}`), ''] : []),
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
    .description('adversarial training (goodfellow, fgsm-aug, invfgsm, pgd, fast, advprop, trades, mart), then clean, FGSM, PGD-40 and AutoAttack accuracy')
    .option('--model <name|spec.json>', 'zoo model or JSON spec (cnn; cnn-bn for advprop)')
    .requiredOption('--method <name>', methods.join(', '))
    .option('--eps <ε>', 'attack budget in training (goodfellow 0.25, fgsm-aug/invfgsm 0.1, pgd/fast/advprop/trades/mart 0.3)', num('--eps', 0, 1))
    .option('--alpha <a>', 'goodfellow: weight of the clean loss (0.5); fast: step (1.25·ε)', num('--alpha', 0))
    .option('--steps <k>', 'pgd: inner steps (7); advprop: PGD steps of the attacker (5); trades/mart: attack steps (40)', int('--steps', 1))
    .option('--step-size <α>', 'pgd and advprop: PGD step (0.1); trades/mart: attack step (0.01); with --steps-schedule: 2.5·ε/k', num('--step-size', 0, 1, true))
    .option('--steps-schedule <spec>', "pgd/trades/mart: curriculum of attack steps, 'E:K,E:K' (from epoch E, 1-based, K steps; the first E is 1) or 'K0-K1' (linear ramp over the epochs); replaces --steps", )
    .option('--beta <β>', 'trades: weight of the KL term (1.0, their MNIST script)', num('--beta', 0))
    .option('--lambda <λ>', 'mart: weight of the misclassification-aware KL term (6, the paper\'s)', num('--lambda', 0))
    .option('--eps-warmup <epochs>', 'pgd, fast, trades and mart: grow ε (and the step) linearly from 0 over this many epochs (0: off)', num('--eps-warmup', 0), 0)
    .option('--ema [decay]', 'also keep an exponential moving average of the weights (decay 0.999), saved as <out>.ema.safetensors and evaluated on its own')
    .option('--guard-slice <n>', 'guard against catastrophic overfitting: hold out the last N training images and measure PGD accuracy on them (fast: 1000, others: 0 = off)', int('--guard-slice', 0))
    .option('--guard-every <k>', 'guard: measure every K optimiser steps (0: after every epoch)', int('--guard-every', 0), 0)
    .option('--guard-steps <k>', 'guard: PGD steps, each of ε/4, random start', int('--guard-steps', 1), 10)
    .option('--guard-ratio <r>', 'guard: a collapse is robust accuracy below r × the best…', num('--guard-ratio', 0, 1, true), 0.5)
    .option('--guard-floor <a>', '…and below a', num('--guard-floor', 0, 1), 0.2)
    .option('--epochs <n>', 'epochs', int('--epochs', 1), 3)
    .option('--batch-size <n>', 'minibatch size (a last batch of one example joins the batch before it)', int('--batch-size', 1), 128)
    .option('--optimizer <name>', 'sgd, momentum or adam', 'adam')
    .option('--lr <rate>', 'learning rate (peak of the schedule)', num('--lr', 0, Infinity, true), 1e-3)
    .option('--lr-schedule <name>', 'constant, cosine or onecycle (linear up to --lr at 2/5 of the run, then down to 0)', 'cosine')
    .option('--seed <n>', 'seed', int('--seed', 0), 0)
    .option('--epoch-test-limit <n>', 'after every epoch, clean, FGSM and PGD-40 accuracy on the first N test images (0: off)', int('--epoch-test-limit', 0), 500)
    .option('--out <dir>', 'the run\'s folder: model.safetensors (its checkpoint, adversarial state and the guard\'s best weights beside it), report.md, report.json, curve.svg; or FILE.safetensors: the model file alone (no report)', 'runs/adv-train')
    .option('--final-attack <name>', 'final AutoAttack evaluation at ε on the --robust-limit images: apgd (APGD-CE + APGD-T, the cheaper setting) or autoattack (the full standard version)', 'apgd')
    .option('--final-attack-steps <k>', 'iterations of each APGD/FAB stage of the final AutoAttack (100, the reference\'s; fewer only for quick looks)', int('--final-attack-steps', 1), 100)
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
      '',
      'trades (Zhang et al. 2019): CE(f(x), y) + β·KL(f(x) ‖ f(x\')), x\' from k signed steps on the KL from x + 0.001·N(0, 1);',
      'mart (Wang et al. 2020): boosted CE on x\' + λ·KL(f(x) ‖ f(x\'))·(1 − p_y(x)), x\' from k signed CE steps. Both make x\' in',
      'evaluation mode and train in training mode, as their authors\' code.',
    ].join('\n'))
    .action(async (o) => {
      // --out: the run's folder (model, report, curve), or a model file (FILE.safetensors: the model and its
      // checkpoint, weight average and state beside it, no report; the form the robust-training command uses)
      const legacyOut = String(o.out).endsWith('.safetensors');
      const modelFile: string = legacyOut ? o.out : join(o.out, 'model.safetensors');
      if (o.report !== undefined) deprecated('adv-train --report DIR', '--out DIR (the report goes beside the model)');
      const reportDir: string | null = o.report ?? (legacyOut ? null : o.out);
      if (!['constant', 'cosine', 'onecycle'].includes(o.lrSchedule)) throw new UsageError(`unknown --lr-schedule '${o.lrSchedule}' (expected constant, cosine or onecycle)`);
      if (o.beta !== undefined && o.method !== 'trades') throw new UsageError(`--beta is for --method trades, not ${o.method}`);
      if (o.lambda !== undefined && o.method !== 'mart') throw new UsageError(`--lambda is for --method mart, not ${o.method}`);
      let stepsSchedule: StepsSchedule | undefined;
      if (o.stepsSchedule !== undefined) {
        if (!multiStep.includes(o.method)) throw new UsageError(`--steps-schedule is for --method ${multiStep.join(', ')}, not ${o.method}`);
        if (o.steps !== undefined) throw new UsageError('--steps-schedule replaces --steps: give one of them');
        try {
          stepsSchedule = parseStepsSchedule(String(o.stepsSchedule), o.epochs);
        } catch (e) {
          throw new UsageError(`--steps-schedule: ${(e as Error).message.replace(/^parseStepsSchedule: /, '')}`);
        }
      }
      let emaDecay: number | null = null;
      if (o.ema !== undefined) {
        emaDecay = o.ema === true ? 0.999 : Number(o.ema);
        if (String(o.ema).trim() === '' || !(emaDecay >= 0 && emaDecay < 1)) throw new UsageError(`--ema must be a decay in [0, 1), got '${o.ema}'`);
      }
      const finalAttack = finalAttackFlag(o.finalAttack);
      const { objective, eps } = objectiveFor(o.method, o, stepsSchedule);
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
      // The weight average: built on the fresh model (prepare), continued from <out>.ema.safetensors on --resume when
      // that file belongs to the checkpoint's epoch, else restarted at the resumed weights before the first update.
      let ema: WeightAverage | null = null;
      let emaRestart = false;
      const prepareEma = (m: Sequential) => {
        if (emaDecay === null) return;
        ema = new WeightAverage(m, { decay: emaDecay });
        if (!o.resume || !existsSync(paths.checkpoint)) return;
        const done = checkpointEpoch(paths.checkpoint);
        if (done === 0) return;
        const meta = existsSync(paths.ema) ? ema.load(paths.ema) : null;
        if (meta && Number(meta.epoch) === done) return;
        emaRestart = true;
        say(`warning: no weight average of epoch ${done} at ${paths.ema}; the average restarts at the resumed weights`);
      };
      const emaUpdate = (m: Sequential) => {
        const avg = ema;
        if (!avg) return;
        if (emaRestart) {
          avg.copyFrom(m);
          emaRestart = false;
        }
        avg.update(m);
      };
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
        (ema)?.save(paths.ema, { epoch: String(r.epoch), adversarialTraining: o.method, adversarialEps: String(eps) });
        saveState(r.epoch);
      };
      const run = await trainWithProgress({
        ...o, out: modelFile, command: 'adv-train', model, objective, onEpoch, trainData,
        runOptions: {
          method: o.method, eps, alpha: o.alpha ?? null, steps: o.steps ?? null, stepSize: o.stepSize ?? null, epsWarmup: o.epsWarmup,
          guardSlice, guardEvery: o.guardEvery, guardSteps: o.guardSteps, guardRatio: o.guardRatio, guardFloor: o.guardFloor,
          beta: o.beta ?? null, lambda: o.lambda ?? null, stepsSchedule: o.stepsSchedule ?? null, ema: emaDecay,
        },
        prepare: (m) => {
          if (o.method === 'advprop') {
            try {
              enableAuxBatchNorm(m);
            } catch (e) {
              throw new UsageError(`--method advprop: ${(e as Error).message.replace(/^enableAuxBatchNorm: /, '')}`);
            }
          }
          prepareEma(m);
        },
        onBatch: (p, m) => {
          emaUpdate(m);
          if (!guard || o.guardEvery === 0) return;
          const step = p.epoch * p.batches + p.batch;
          if (step % o.guardEvery === 0) guardCheck(m, p.epoch + 1, step);
        },
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
      const measured = async (name: string, attack: Attack, attackOptions?: Record<string, unknown>, net: Sequential = run.model) => {
        const bar = progressBar(`${name} ε=${eps} on ${plural(slice.count, 'test image')}`, slice.count, '{rate} img/s');
        const r = await evaluateAttack(net, attack, slice, { eps, attackOptions, onProgress: (done) => bar.update(done) });
        bar.stop();
        return r;
      };
      const fgsm = await measured('FGSM', whiteBoxAttacks.fgsm);
      const pgd = await measured('PGD-40', whiteBoxAttacks.pgd, { steps: 40, stepSize: 0.01 });
      const aa = finalAutoAttack(run.model, slice, eps, { attack: finalAttack, seed: o.seed, steps: o.finalAttackSteps });
      for (const w of aa.warnings) warnings.push(`AutoAttack: ${w}`);
      const gap = autoattackGapWarning(pgd.metrics.accuracy, aa.robustAccuracy, aa.version, eps);
      if (gap) {
        warnings.push(gap);
        say(`warning: ${gap}`);
      }
      let emaDoc: AdvTrainJson['ema'] = null;
      const avg = ema as WeightAverage | null;
      if (avg) {
        const test = evaluate(avg.model, run.testSet);
        const emaFgsm = await measured('FGSM (weight average)', whiteBoxAttacks.fgsm, undefined, avg.model);
        const emaPgd = await measured('PGD-40 (weight average)', whiteBoxAttacks.pgd, { steps: 40, stepSize: 0.01 }, avg.model);
        // the same final AutoAttack setting as the main model, on the same images, with its own PGD-gap warning
        const emaAa = finalAutoAttack(avg.model, slice, eps, { attack: finalAttack, seed: o.seed, steps: o.finalAttackSteps });
        for (const w of emaAa.warnings) warnings.push(`weight average: AutoAttack: ${w}`);
        const emaGap = autoattackGapWarning(emaPgd.metrics.accuracy, emaAa.robustAccuracy, emaAa.version, eps);
        if (emaGap) {
          warnings.push(`weight average: ${emaGap}`);
          say(`warning: weight average: ${emaGap}`);
        }
        avg.save(paths.ema, { epoch: String(run.history.length), adversarialTraining: o.method, adversarialEps: String(eps), testAccuracy: test.accuracy.toFixed(4) });
        emaDoc = {
          decay: avg.decay, updates: avg.updates, cleanAccuracy: test.accuracy, fgsmAccuracy: emaFgsm.metrics.accuracy, pgdAccuracy: emaPgd.metrics.accuracy,
          autoattackAccuracy: emaAa.robustAccuracy, autoattackStages: emaAa.stages,
          robustAccuracy: Math.min(emaFgsm.metrics.accuracy, emaPgd.metrics.accuracy, emaAa.robustAccuracy), modelFile: paths.ema,
        };
      }
      const doc: AdvTrainJson = {
        model, method: o.method, eps, epochs: o.epochs, seed: o.seed, data: run.trainSet.name, trainCount: run.trainSet.count,
        ...(o.method === 'pgd' ? { steps: o.steps ?? 7, stepSize: o.stepSize ?? 0.1 } : {}),
        ...(o.method === 'advprop' ? { steps: o.steps ?? 5, stepSize: o.stepSize ?? 0.1 } : {}),
        ...(o.method === 'trades' ? { beta: o.beta ?? 1.0 } : {}),
        ...(o.method === 'mart' ? { lambda: o.lambda ?? 6 } : {}),
        ...(o.method === 'trades' || o.method === 'mart' ? { steps: o.steps ?? 40, stepSize: o.stepSize ?? 0.01 } : {}),
        ...(stepsSchedule ? { stepsSchedule: stepsSchedule.text, steps: undefined, stepSize: o.stepSize ?? '2.5·ε/k' } : {}),
        lrSchedule: o.lrSchedule, epsWarmup: o.epsWarmup,
        cleanAccuracy: run.test.accuracy, testCount: run.test.count,
        robustCount: slice.count, fgsmAccuracy: fgsm.metrics.accuracy, pgdAccuracy: pgd.metrics.accuracy,
        autoattackAccuracy: aa.robustAccuracy, autoattackVersion: aa.version, autoattackSteps: o.finalAttackSteps, autoattackStages: aa.stages,
        robustAccuracy: Math.min(fgsm.metrics.accuracy, pgd.metrics.accuracy, aa.robustAccuracy),
        history: run.history, robustHistory: curve, warnings,
        guard: guard ? { slice: guardSlice, every: o.guardEvery, steps: o.guardSteps, bestFile: guard.best ? paths.best : null, ...guard.report() } : null,
        ema: emaDoc,
        trainSeconds: run.seconds, modelFile,
        testAccuracy: run.test.accuracy, out: modelFile,
      };
      if (reportDir !== null) await writeReport(reportDir, doc, curve);
      if (o.json) printJson(doc);
      else {
        result(`clean ${(100 * doc.cleanAccuracy).toFixed(2)}% (${plural(doc.testCount, 'test image')}), FGSM ε=${eps} ${(100 * doc.fgsmAccuracy).toFixed(1)}%, ` +
          `PGD-40 ε=${eps} ${(100 * doc.pgdAccuracy).toFixed(1)}%, AutoAttack (${doc.autoattackVersion}) ${(100 * doc.autoattackAccuracy).toFixed(1)}%, ` +
          `robust ${(100 * doc.robustAccuracy).toFixed(1)}% (first ${plural(slice.count, 'test image')}); saved ${modelFile}`);
        if (reportDir !== null) say(`wrote ${join(reportDir, 'report.md')}, report.json and curve.svg`);
        if (emaDoc) {
          result(`weight average (decay ${emaDoc.decay}): clean ${(100 * emaDoc.cleanAccuracy).toFixed(2)}%, FGSM ${(100 * emaDoc.fgsmAccuracy).toFixed(1)}%, ` +
            `PGD-40 ${(100 * emaDoc.pgdAccuracy).toFixed(1)}%, AutoAttack (${doc.autoattackVersion}) ${(100 * emaDoc.autoattackAccuracy).toFixed(1)}%, ` +
            `robust ${(100 * emaDoc.robustAccuracy).toFixed(1)}%; saved ${emaDoc.modelFile}`);
        }
      }
    });
}
