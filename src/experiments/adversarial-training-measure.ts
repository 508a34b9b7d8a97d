// The measurements of an adversarial-training run (`nablax adv-train`): the per-epoch robust point on a test slice
// (clean, FGSM and PGD-40 with step 0.01 and a random start, at the training ε), the warning when FGSM is far above
// PGD (label leaking, gradient masking, catastrophic overfitting), and the final AutoAttack evaluation (Croce & Hein,
// ICML 2020, arXiv 2003.01690, §5): by default the cheaper documented setting APGD-CE then APGD-T (9 targets), each
// on the points still robust, as AutoAttack runs its first two stages; or the full 'standard' version (APGD-CE,
// APGD-T, FAB-T, Square). Progress goes through MeasureHooks (the CLI draws one bar per measurement).
import { evaluateAttack, type AttackExample, type AttackMetrics } from '../analysis/attack-evaluation.js';
import type { Attack } from '../attacks/attack.js';
import { whiteBoxAttacks } from '../attacks/index.js';
import type { Sequential } from '../layers/sequential.js';
import type { Dataset } from '../data/datasets.js';
import { pct, plural } from '../report/text.js';
import { autoattackSettingVersions, evaluateAutoAttack } from './autoattack-eval.js';

/** A measurement's progress: it starts (`total` units, counted per `rateUnit`), advances, ends. */
export interface MeasureHooks {
  /** A measurement starts: its label, its size and the unit of its rate ('img/s', 'steps·img/s'). */
  onMeasureStart?: (label: string, total: number, rateUnit: string) => void;
  onMeasureProgress?: (done: number) => void;
  onMeasureEnd?: () => void;
}

export interface RobustPoint {
  epoch: number;
  cleanAccuracy: number;
  fgsmAccuracy: number;
  pgdAccuracy: number;
}

/**
 * Clean, FGSM and PGD-40 (step 0.01, random start) accuracy at ε on a fixed slice of the test set.
 * @example
 *   const p = await robustPoint(model, subset(test, 0, 500), 0.3, 1);
 *   p.pgdAccuracy;   // a fraction in [0, 1]
 */
export async function robustPoint(model: Sequential, ds: Dataset, eps: number, epoch: number, h: MeasureHooks = {}): Promise<RobustPoint> {
  // one measurement over both attacks (FGSM is one step, PGD-40 forty: weighted 1 and 40)
  h.onMeasureStart?.(`epoch ${epoch}: FGSM and PGD-40 on ${plural(ds.count, 'test image')}`, 41 * ds.count, 'steps·img/s');
  const fgsm = await evaluateAttack(model, whiteBoxAttacks.fgsm, ds, { eps, onProgress: (d) => h.onMeasureProgress?.(d) });
  const pgd = await evaluateAttack(model, whiteBoxAttacks.pgd, ds, { eps, attackOptions: { steps: 40, stepSize: 0.01 }, onProgress: (d) => h.onMeasureProgress?.(ds.count + 40 * d) });
  h.onMeasureEnd?.();
  return { epoch, cleanAccuracy: fgsm.metrics.cleanAccuracy, fgsmAccuracy: fgsm.metrics.accuracy, pgdAccuracy: pgd.metrics.accuracy };
}

/**
 * A warning when FGSM accuracy is far above PGD accuracy: the one-step attack is being masked (label leaking,
 * gradient masking, catastrophic overfitting), so FGSM robustness is not real robustness.
 * @example
 *   leakWarning({ epoch: 3, cleanAccuracy: 0.97, fgsmAccuracy: 0.8, pgdAccuracy: 0.2 }, 0.3);   // 'epoch 3: FGSM accuracy 80.0% is far above …'
 *   leakWarning({ epoch: 3, cleanAccuracy: 0.97, fgsmAccuracy: 0.8, pgdAccuracy: 0.75 }, 0.3);  // null
 */
export function leakWarning(p: RobustPoint, eps: number): string | null {
  if (p.fgsmAccuracy - p.pgdAccuracy <= 0.2) return null;
  return `epoch ${p.epoch}: FGSM accuracy ${pct(p.fgsmAccuracy)} is far above PGD-40 accuracy ${pct(p.pgdAccuracy)} at ε = ${eps}: ` +
    'the one-step attack is masked (label leaking or catastrophic overfitting); trust the PGD figure';
}

/**
 * One attack on every image of `ds` at ε, reported through the hooks as one measurement labelled
 * `NAME ε=EPS on N test images`.
 * @example
 *   const r = await measureAttack(model, slice, 0.3, 'FGSM', whiteBoxAttacks.fgsm);
 *   r.metrics.accuracy;
 */
export async function measureAttack(model: Sequential, ds: Dataset, eps: number, name: string, attack: Attack, attackOptions?: Record<string, unknown>, h: MeasureHooks = {}): Promise<{ metrics: AttackMetrics; examples: AttackExample[] }> {
  h.onMeasureStart?.(`${name} ε=${eps} on ${plural(ds.count, 'test image')}`, ds.count, 'img/s');
  const r = await evaluateAttack(model, attack, ds, { eps, attackOptions, onProgress: (done) => h.onMeasureProgress?.(done) });
  h.onMeasureEnd?.();
  return r;
}

export const finalAttacks = ['apgd', 'autoattack'] as const;
export type FinalAttack = (typeof finalAttacks)[number];

/** What the JSON's autoattackVersion says each setting ran. */
export const finalAttackVersions: Record<FinalAttack, string> = {
  apgd: autoattackSettingVersions.apgd,
  autoattack: autoattackSettingVersions.standard,
};

export interface FinalAutoAttack {
  /** autoattackVersion of the JSON: the stages run. */
  version: string;
  /** Robust accuracy over all N images after the last stage (misclassified clean images count as broken). */
  robustAccuracy: number;
  cleanAccuracy: number;
  stages: { attack: string; robustAccuracy: number; attacked: number; broken: number }[];
  /** AutoAttack's own checks that flagged something. */
  warnings: string[];
}

/**
 * AutoAttack's stages (L∞, at ε) on all images of `ds`, each stage only on the points every earlier stage failed on;
 * one measurement per stage through the hooks. `steps` is the APGD/FAB iteration count (100 for reported numbers).
 * @example
 *   const r = finalAutoAttack(model, slice, 0.3, { attack: 'apgd', seed: 0, steps: 100 });
 *   r.robustAccuracy;   // after APGD-CE and APGD-T
 */
export function finalAutoAttack(model: Sequential, ds: Dataset, eps: number, o: { attack: FinalAttack; seed: number; steps: number }, h: MeasureHooks = {}): FinalAutoAttack {
  let started = false;
  const onStage = (stage: string, points: number) => {
    if (started) h.onMeasureEnd?.();
    started = true;
    h.onMeasureStart?.(`AutoAttack ${stage} ε=${eps} on ${plural(points, 'still-robust test image')}`, points, 'img/s');
  };
  const r = evaluateAutoAttack(model, ds, eps, {
    setting: o.attack === 'autoattack' ? 'standard' : 'apgd', seed: o.seed, steps: o.steps, onStage, onProgress: (done) => h.onMeasureProgress?.(done),
  });
  if (started) h.onMeasureEnd?.();
  return {
    version: r.version, robustAccuracy: r.robustAccuracy, cleanAccuracy: r.cleanAccuracy, warnings: r.warnings,
    stages: r.stages.map(({ attack, robustAccuracy, attacked, broken }) => ({ attack, robustAccuracy, attacked, broken })),
  };
}
