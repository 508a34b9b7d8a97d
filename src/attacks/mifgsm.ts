// MI-FGSM, momentum iterative FGSM: Dong, Liao, Pang, Su, Zhu, Hu & Li, "Boosting Adversarial Attacks with
// Momentum", CVPR 2018 (arXiv 1710.06081). Norm L∞, starts at x, T steps of α = ε/T with a decaying sum of
// L1-normalised gradients (μ = 1.0, T = 10 in the paper):
//   g ← μ·g + ∇ₓJ(x', y)/‖∇ₓJ(x', y)‖₁      x' ← clip[0,1](Π_ε(x' + α·sign(g)))      targeted: J(x', t), minus
import type { AttackOptions, WhiteBoxAttack } from './attack.js';
import { gradientAttack } from './gradient-attack.js';
import { settings } from './settings.js';

export interface MiFgsmOptions extends AttackOptions {
  /** Default 10. */
  steps?: number;
  /** Default ε/steps. */
  stepSize?: number;
  /** Decay μ, default 1.0. */
  momentum?: number;
}

/**
 * MI-FGSM: iterative FGSM whose direction is the momentum of normalised gradients.
 * @example
 *   const r = mifgsm.run(model, x, y, { eps: 0.2 });
 *   const noMomentum = mifgsm.run(model, x, y, { eps: 0.2, momentum: 0 });   // = BIM with α = ε/10
 */
export const mifgsm: WhiteBoxAttack<MiFgsmOptions> = {
  name: 'mifgsm',
  kind: 'white-box',
  norm: 'linf',
  settings: [{ ...settings.steps, default: '10' }, { ...settings.stepSize, default: 'ε/steps' }, settings.earlyStop],
  run(model, x, y, opts) {
    const steps = opts.steps ?? 10;
    // g ← μ·g + ∇ₓJ/‖∇ₓJ‖₁;  x' ← clip[0,1](Π_ε(x' + α·sign(g)))
    return gradientAttack(model, x, y, {
      eps: opts.eps, seed: opts.seed, gradientMemo: opts.gradientMemo, targets: opts.targets, earlyStop: opts.earlyStop,
      norm: 'linf', steps, stepSize: opts.stepSize ?? opts.eps / Math.max(steps, 1), randomStart: false,
      momentum: opts.momentum ?? 1.0,
    });
  },
};
