// The white-box attacks of nablax in one plain record (no registration side effects), so a test or the CLI can
// loop over every attack; plus the shared core, target selection and the ∇x API they are built on.
// Black-box attacks live in their own record, beside this one.
import { bim } from './bim.js';
import { fgm } from './fgm.js';
import { fgsm } from './fgsm.js';
import { invfgsm } from './invfgsm.js';
import { mifgsm } from './mifgsm.js';
import { pgd, pgdL2 } from './pgd.js';
import { apgdCe, apgdDlr, apgdT } from './apgd.js';
import { cw } from './cw.js';
import { deepfool, deepfoolLinf } from './deepfool.js';
import { fab, fabT } from './fab.js';

export { bim, bimSteps, type BimOptions } from './bim.js';
export { fgm } from './fgm.js';
export { fgsm } from './fgsm.js';
export { invfgsm } from './invfgsm.js';
export { mifgsm, type MiFgsmOptions } from './mifgsm.js';
export { pgd, pgdL2, type PgdOptions } from './pgd.js';
export { apgdCe, apgdDlr, apgdT, apgdCheckpoints, type ApgdOptions, type ApgdResult } from './apgd.js';
export { attackLosses, lossGradient, lossValues, type AttackLoss, type AttackLossName, type LossGradient } from './losses.js';
export { autoAttack, autoattack, autoAttackStages, type AutoAttackOptions, type AutoAttackReport, type AutoAttackResult, type AutoAttackStage, type AutoAttackVersion } from './autoattack.js';
export { fab, fabT, fabAttack, type FABOptions } from './fab.js';
export { deepfool, deepfoolLinf, deepFool, type DeepFoolOptions } from './deepfool.js';
export { cw, carliniWagnerL2, type CWOptions, type CWResult } from './cw.js';
export { summarizeMinNorm, withinEps, type MinNormAttack, type MinNormResult, type MinNormSummary } from './min-norm.js';
export { logitJacobian, logitDiffGradient, logitVjp, type LogitJacobian } from './logit-jacobian.js';
export { gradientAttack, type GradientAttackOptions } from './gradient-attack.js';
export { chooseTargets } from './targets.js';
export { inputGradient, type InputGradient, type InputGradientOptions } from './input-gradient.js';
export type { Attack, AttackOptions, AttackResult, AttackSetting, BlackBoxAttack, Norm, TargetMode, WhiteBoxAttack, GradientMemo } from './attack.js';
export { settings } from './settings.js';

/**
 * Every white-box attack by its name.
 * @example
 *   for (const [name, attack] of Object.entries(whiteBoxAttacks)) console.log(name, attack.norm);
 *   const r = whiteBoxAttacks['pgd-l2'].run(model, x, y, { eps: 2 });
 */
export const whiteBoxAttacks = { fgsm, fgm, invfgsm, bim, pgd, 'pgd-l2': pgdL2, mifgsm, 'apgd-ce': apgdCe, 'apgd-dlr': apgdDlr, 'apgd-t': apgdT,
  fab, 'fab-t': fabT, deepfool, 'deepfool-linf': deepfoolLinf, 'cw-l2': cw };
