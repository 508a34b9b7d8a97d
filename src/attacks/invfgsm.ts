// InvFGSM, the inverse fast gradient sign method: Pervin, Tao, Islam & Hossain, "Adversarial Attack Driven Data
// Augmentation for Accurate And Robust Medical Image Segmentation" (arXiv 2105.12106). Norm L∞, one step of
// length ε that LOWERS the loss, used to make easier "anti-adversarial" copies of the data for augmentation:
//   x' = clip[0,1](x − ε·sign(∇ₓJ(x, y)))
// Its success[n] means example n is (still) classified correctly.
import type { AttackOptions, WhiteBoxAttack } from './attack.js';
import { gradientAttack } from './gradient-attack.js';

/**
 * InvFGSM: FGSM's step in the descending direction of J(x, y). Untargeted only.
 * @example
 *   const { adversarial: easier } = invfgsm.run(model, x, y, { eps: 0.1 });
 *   // train on [x; easier] as augmentation
 */
export const invfgsm: WhiteBoxAttack<AttackOptions> = {
  name: 'invfgsm',
  kind: 'white-box',
  norm: 'linf',
  settings: [],
  run(model, x, y, opts) {
    if (opts.targets) throw new Error(`invfgsm.run: targets must be undefined (InvFGSM descends J(x, y) of the true label), got ${opts.targets.length} targets`);
    // x' = clip[0,1](x − ε·sign(∇ₓJ(x, y)))
    return gradientAttack(model, x, y, {
      eps: opts.eps, seed: opts.seed, gradientMemo: opts.gradientMemo, earlyStop: opts.earlyStop ?? false,
      norm: 'linf', steps: 1, stepSize: opts.eps, randomStart: false, direction: 'descend',
    });
  },
};
