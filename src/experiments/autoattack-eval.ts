// AutoAttack (Croce & Hein, ICML 2020, arXiv 2003.01690, §5) as the robust figure of an experiment: L∞ at ε on all
// images of a dataset [N, 1, 28, 28], either the cheaper documented setting 'apgd' (APGD-CE then APGD-T with 9 target
// classes, AutoAttack's first two stages, each on the points still robust) or the full 'standard' version (APGD-CE,
// APGD-T, FAB-T, Square-5000). Used by `adv-train`'s final evaluation, `reproduce goodfellow2015` and
// `experiment advprop`, beside the PGD figure they already report (and the warning when PGD exceeds AutoAttack).
import { autoAttack, type AutoAttackStageName } from '../attacks/autoattack.js';
import type { Sequential } from '../layers/sequential.js';
import { getBatch } from '../data/batches.js';
import type { Dataset } from '../data/datasets.js';

export const autoattackSettings = ['apgd', 'standard'] as const;
export type AutoAttackSetting = (typeof autoattackSettings)[number];

/** What each setting runs, as the JSON's autoattackVersion says it. */
export const autoattackSettingVersions: Record<AutoAttackSetting, string> = {
  apgd: 'apgd-ce+apgd-t',
  standard: 'standard (apgd-ce, apgd-t, fab-t, square)',
};

export interface AutoAttackEvaluation {
  /** The stages run: 'apgd-ce+apgd-t' or 'standard (…)'. */
  version: string;
  /** Iterations of each APGD/FAB stage (100 for reported numbers). */
  steps: number;
  eps: number;
  count: number;
  cleanAccuracy: number;
  /** Robust accuracy over all `count` images after the last stage (misclassified clean images count as broken). */
  robustAccuracy: number;
  /** Robust accuracy over all images after each stage, the points it attacked and broke, its wall time (s). */
  stages: { attack: string; robustAccuracy: number; attacked: number; broken: number; seconds: number }[];
  /** AutoAttack's own checks that flagged something (randomness, probabilities, zero gradients, Square). */
  warnings: string[];
}

export interface AutoAttackEvalOptions {
  setting: AutoAttackSetting;
  seed: number;
  /** APGD/FAB iterations per stage (default 100, the reference's; fewer only for quick looks). */
  steps?: number;
  /** A stage starts on `points` still-robust images. */
  onStage?: (stage: AutoAttackStageName, points: number) => void;
  /** Images done inside the current stage (fractional while a batch runs). */
  onProgress?: (done: number) => void;
}

/**
 * AutoAttack's robust accuracy of `model` on every image of `ds` at L∞ ε, in the cheaper 'apgd' setting or the full
 * 'standard' version; seeded and bit-reproducible.
 * @example
 *   const aa = evaluateAutoAttack(model, subset(test, 0, 1000), 0.3, { setting: 'apgd', seed: 0 });
 *   console.log(aa.version, aa.robustAccuracy, aa.stages.map((s) => s.robustAccuracy));
 */
export function evaluateAutoAttack(model: Sequential, ds: Dataset, eps: number, o: AutoAttackEvalOptions): AutoAttackEvaluation {
  if (!(autoattackSettings as readonly string[]).includes(o.setting)) {
    throw new Error(`evaluateAutoAttack: setting must be ${autoattackSettings.join(' or ')}, got '${String(o.setting)}'`);
  }
  const steps = o.steps ?? 100;
  const { x, y } = getBatch(ds, null, 0, ds.count);
  const { report } = autoAttack(model, x, y, {
    eps, norm: 'linf', version: 'standard', seed: o.seed, steps,
    attacksToRun: o.setting === 'apgd' ? ['apgd-ce', 'apgd-t'] : undefined,
    onStage: o.onStage, onProgress: o.onProgress,
  });
  return {
    version: autoattackSettingVersions[o.setting], steps, eps, count: report.count,
    cleanAccuracy: report.cleanAccuracy, robustAccuracy: report.robustAccuracy,
    stages: report.stages.map(({ attack, robustAccuracy, attacked, broken, seconds }) => ({ attack, robustAccuracy, attacked, broken, seconds })),
    warnings: report.warnings,
  };
}
