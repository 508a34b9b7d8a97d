// `nablax adv-train`: the CLI face of experiments/adversarial-training.ts (train with an adversarial objective:
// Goodfellow's J̃, FGSM/InvFGSM augmentation, PGD, fast FGSM, AdvProp, TRADES, MART; then clean, FGSM, PGD-40 and
// AutoAttack accuracy on the official test images). Here are its flags and their checks, one progress bar per
// training epoch and per measurement, Ctrl-C, and the output: the JSON or the result lines on stdout, and with a
// folder --out the report (report.md, report.json, curve.svg from report/adv-train-report.ts) beside
// model.safetensors; an --out ending in .safetensors is the model file itself (no report).
import { join } from 'node:path';
import { Option, type Command } from 'commander';
import { adversarialMethods, multiStepMethods } from '../train/methods.js';
import { parseStepsSchedule } from '../train/schedules.js';
import { writeFileAtomic } from '../io/atomic.js';
import { saveSvg } from '../report/plot.js';
import { advTrainReport } from '../report/adv-train-report.js';
import type { AdvTrainJson } from '../report/json-types.js';
import { TrainingSetupError } from '../experiments/training-run.js';
import { runAdversarialTraining } from '../experiments/adversarial-training.js';
import { finalAttacks, type FinalAttack, type MeasureHooks } from '../experiments/adversarial-training-measure.js';
import { trainWithProgress } from './train.js';
import { dataOption, deprecatedAlias, jsonOption, limitOptions } from './options.js';
import { claimOutputs, deprecated, int, num, plural, printJson, progressBar, result, say, UsageError, type Progress } from './util.js';
import { jsonText } from '../report/json.js';

export const methods = adversarialMethods;

/** Methods whose attack takes --steps/--step-size, and so --steps-schedule. */
const multiStep = multiStepMethods;

/**
 * Parse --final-attack (usage error naming the flag).
 * @example
 *   finalAttackFlag(undefined);      // 'apgd'
 *   finalAttackFlag('autoattack');   // 'autoattack'
 */
export function finalAttackFlag(v: string | undefined): FinalAttack {
  const s = v ?? 'apgd';
  if (!(finalAttacks as readonly string[]).includes(s)) throw new UsageError(`--final-attack must be ${finalAttacks.join(' or ')}, got '${s}'`);
  return s as FinalAttack;
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
      if (o.stepsSchedule !== undefined) {
        if (!multiStep.includes(o.method)) throw new UsageError(`--steps-schedule is for --method ${multiStep.join(', ')}, not ${o.method}`);
        if (o.steps !== undefined) throw new UsageError('--steps-schedule replaces --steps: give one of them');
        try {
          parseStepsSchedule(String(o.stepsSchedule), o.epochs); // checked here; the run parses it again
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
      if (!(methods as readonly string[]).includes(o.method)) throw new UsageError(`unknown method '${o.method}' (expected ${methods.join(', ')})`);
      claimOutputs([{ path: modelFile, kind: 'file', flag: '--out' }, reportDir !== null && reportDir !== o.out && { path: reportDir, kind: 'dir', flag: '--report' }]);
      // one bar per measurement (the per-epoch robust point, each final attack, each AutoAttack stage)
      let bar: Progress | null = null;
      const measureHooks: MeasureHooks = {
        onMeasureStart: (label, total, rateUnit) => {
          bar?.stop();
          bar = progressBar(label, total, `{rate} ${rateUnit}`);
        },
        onMeasureProgress: (done) => bar?.update(done),
        onMeasureEnd: () => {
          bar?.stop();
          bar = null;
        },
      };
      let doc: AdvTrainJson;
      try {
        doc = await runAdversarialTraining({ ...o, stepsSchedule: o.stepsSchedule === undefined ? undefined : String(o.stepsSchedule), ema: emaDecay, finalAttack, modelFile },
          { onMessage: say, train: trainWithProgress, ...measureHooks });
      } catch (e) {
        (bar as Progress | null)?.stop();
        if (e instanceof TrainingSetupError) throw new UsageError(e.message);
        throw e;
      }
      let wroteCurve = false;
      if (reportDir !== null) {
        const { markdown, curveSvg } = await advTrainReport(doc);
        wroteCurve = curveSvg !== null;
        if (curveSvg !== null) saveSvg(join(reportDir, 'curve.svg'), curveSvg);
        writeFileAtomic(join(reportDir, 'report.md'), markdown);
        writeFileAtomic(join(reportDir, 'report.json'), jsonText(doc));
      }
      if (o.json) printJson(doc);
      else {
        result(`clean ${(100 * doc.cleanAccuracy).toFixed(2)}% (${plural(doc.testCount, 'test image')}), FGSM ε=${doc.eps} ${(100 * doc.fgsmAccuracy).toFixed(1)}%, ` +
          `PGD-40 ε=${doc.eps} ${(100 * doc.pgdAccuracy).toFixed(1)}%, AutoAttack (${doc.autoattackVersion}) ${(100 * doc.autoattackAccuracy).toFixed(1)}%, ` +
          `robust ${(100 * doc.robustAccuracy).toFixed(1)}% (first ${plural(doc.robustCount, 'test image')}); saved ${modelFile}`);
        if (reportDir !== null) say(`wrote ${join(reportDir, 'report.md')}${wroteCurve ? ', report.json and curve.svg' : ' and report.json'}`);
        const emaDoc = doc.ema;
        if (emaDoc) {
          result(`weight average (decay ${emaDoc.decay}): clean ${(100 * emaDoc.cleanAccuracy).toFixed(2)}%, FGSM ${(100 * emaDoc.fgsmAccuracy).toFixed(1)}%, ` +
            `PGD-40 ${(100 * emaDoc.pgdAccuracy).toFixed(1)}%, AutoAttack (${doc.autoattackVersion}) ${(100 * emaDoc.autoattackAccuracy).toFixed(1)}%, ` +
            `robust ${(100 * emaDoc.robustAccuracy).toFixed(1)}%; saved ${emaDoc.modelFile}`);
        }
      }
    });
}
