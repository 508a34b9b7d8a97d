// `adv-train`'s final AutoAttack evaluation (Croce & Hein, ICML 2020, arXiv 2003.01690, §5): by default the cheaper
// documented setting APGD-CE then APGD-T (9 targets), each on the points still robust, as AutoAttack runs its first
// two stages; with --final-attack autoattack the full 'standard' version (APGD-CE, APGD-T, FAB-T, Square). One
// progress bar per stage (points/s and ETA on stderr), and the warning when PGD-40 overstates robustness.
import { autoattackSettingVersions, evaluateAutoAttack } from '../experiments/autoattack-eval.js';
import type { Sequential } from '../layers/sequential.js';
import type { Dataset } from '../data/datasets.js';
import { plural, progressBar, UsageError } from './util.js';

export { autoattackGapWarning } from '../attacks/autoattack-checks.js';

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

/**
 * AutoAttack's stages (L∞, at ε) on all images of `ds`, each stage only on the points every earlier stage failed on.
 * `steps` is the APGD/FAB iteration count (100 for reported numbers).
 * @example
 *   const r = finalAutoAttack(model, slice, 0.3, { attack: 'apgd', seed: 0, steps: 100 });
 *   r.robustAccuracy;   // after APGD-CE and APGD-T
 */
export function finalAutoAttack(model: Sequential, ds: Dataset, eps: number, o: { attack: FinalAttack; seed: number; steps: number; progress?: boolean }): FinalAutoAttack {
  let bar: ReturnType<typeof progressBar> | null = null;
  const onStage = (stage: string, points: number) => {
    bar?.stop();
    bar = o.progress === false ? null : progressBar(`AutoAttack ${stage} ε=${eps} on ${plural(points, 'still-robust test image')}`, points, '{rate} img/s');
  };
  const r = evaluateAutoAttack(model, ds, eps, {
    setting: o.attack === 'autoattack' ? 'standard' : 'apgd', seed: o.seed, steps: o.steps, onStage, onProgress: (done) => bar?.update(done),
  });
  (bar as ReturnType<typeof progressBar> | null)?.stop();
  return {
    version: r.version, robustAccuracy: r.robustAccuracy, cleanAccuracy: r.cleanAccuracy, warnings: r.warnings,
    stages: r.stages.map(({ attack, robustAccuracy, attacked, broken }) => ({ attack, robustAccuracy, attacked, broken })),
  };
}
