// FGSM, the fast gradient sign method: Goodfellow, Shlens & Szegedy, "Explaining and Harnessing Adversarial
// Examples", ICLR 2015 (arXiv 1412.6572). Norm L∞, one step of length ε from x, no random start.
//   untargeted: x' = clip[0,1](x + ε·sign(∇ₓJ(x, y)))      targeted: x' = clip[0,1](x − ε·sign(∇ₓJ(x, t)))
// It is one step of the gradient core; with a linear model the step changes each logit by ε·‖w‖₁.
import type { AttackOptions, WhiteBoxAttack } from './attack.js';
import { gradientAttack } from './gradient-attack.js';

/**
 * FGSM. One step perturbs every example (earlyStop defaults to false here, as in the paper).
 * @example
 *   const { adversarial, success } = fgsm.run(model, x, y, { eps: 0.1 });
 *   const targeted = fgsm.run(model, x, y, { eps: 0.1, targets });
 */
export const fgsm: WhiteBoxAttack<AttackOptions> = {
  name: 'fgsm',
  kind: 'white-box',
  norm: 'linf',
  settings: [],
  run(model, x, y, opts) {
    // x' = clip[0,1](x + ε·sign(∇ₓJ(x, y)))   (x − ε·sign(∇ₓJ(x, t)) when targeted)
    return gradientAttack(model, x, y, {
      eps: opts.eps, seed: opts.seed, gradientMemo: opts.gradientMemo, targets: opts.targets, earlyStop: opts.earlyStop ?? false,
      norm: 'linf', steps: 1, stepSize: opts.eps, randomStart: false,
    });
  },
};
