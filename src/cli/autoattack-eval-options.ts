// The AutoAttack options that `reproduce` and `experiment` share (--autoattack apgd|standard, --autoattack-steps), and
// one progress bar per AutoAttack stage (images/s and ETA on stderr) for src/experiments/autoattack-eval.ts.
import type { Command } from 'commander';
import { autoattackSettings, type AutoAttackEvalOptions, type AutoAttackSetting } from '../experiments/autoattack-eval.js';
import { int, plural, progressBar, UsageError, type Progress } from './util.js';

/**
 * Add --autoattack and --autoattack-steps to a command (quickSteps: the default under --quick).
 * @example
 *   autoattackOptions(cmd, 10);   // then autoattackSettingFlag(o.autoattack), o.autoattackSteps
 */
export function autoattackOptions(cmd: Command, quickSteps: number): Command {
  return cmd
    .option('--autoattack <setting>', "robust figure's AutoAttack (L∞, same ε and images as PGD): apgd (APGD-CE + APGD-T, the cheaper documented setting) or standard (APGD-CE, APGD-T, FAB-T, Square-5000)", 'apgd')
    .option('--autoattack-steps <k>', `iterations of each APGD/FAB stage (100, the reference's; ${quickSteps} with --quick)`, int('--autoattack-steps', 1));
}

/**
 * Parse --autoattack (usage error naming the flag).
 * @example
 *   autoattackSettingFlag(undefined);    // 'apgd'
 *   autoattackSettingFlag('standard');   // 'standard'
 */
export function autoattackSettingFlag(v: string | undefined): AutoAttackSetting {
  const s = v ?? 'apgd';
  if (!(autoattackSettings as readonly string[]).includes(s)) throw new UsageError(`--autoattack must be ${autoattackSettings.join(' or ')}, got '${s}'`);
  return s as AutoAttackSetting;
}

/**
 * One progress bar per AutoAttack stage, labelled with `what` (the model); pass onStage/onProgress to the evaluation.
 * @example
 *   const p = autoattackBars('adv. trained maxout', 0.25);
 *   evaluateAutoAttack(model, ds, 0.25, { setting: 'apgd', seed: 0, ...p.callbacks }); p.stop();
 */
export function autoattackBars(what: string, eps: number): { callbacks: Pick<AutoAttackEvalOptions, 'onStage' | 'onProgress'>; stop: () => void } {
  let bar: Progress | null = null;
  return {
    callbacks: {
      onStage: (stage, points) => {
        bar?.stop();
        bar = progressBar(`${what}: AutoAttack ${stage} ε=${eps} on ${plural(points, 'still-robust test image')}`, points, '{rate} img/s');
      },
      onProgress: (done) => bar?.update(done),
    },
    stop: () => bar?.stop(),
  };
}
