// FGM, the fast gradient method with an L2-normalised step: Goodfellow et al. 2015 (arXiv 1412.6572) §"fast
// gradient method" and Miyato et al., "Adversarial Training Methods for Semi-Supervised Text Classification",
// ICLR 2017 (arXiv 1605.07725). Norm L2, one step of length ε from x, no random start.
//   untargeted: x' = clip[0,1](x + ε·g/‖g‖₂), g = ∇ₓJ(x, y)      targeted: x' = clip[0,1](x − ε·g/‖g‖₂), g = ∇ₓJ(x, t)
import type { AttackOptions, WhiteBoxAttack } from './attack.js';
import { gradientAttack } from './gradient-attack.js';

/**
 * FGM: one L2 step of length ε along the normalised input gradient (earlyStop defaults to false).
 * @example
 *   const { adversarial } = fgm.run(model, x, y, { eps: 1.5 });
 *   // ‖adversarial[n] − x[n]‖₂ ≤ 1.5 for every n
 */
export const fgm: WhiteBoxAttack<AttackOptions> = {
  name: 'fgm',
  kind: 'white-box',
  norm: 'l2',
  settings: [],
  run(model, x, y, opts) {
    // x' = clip[0,1](x + ε·∇ₓJ/‖∇ₓJ‖₂)   (minus, with J(x, t), when targeted)
    return gradientAttack(model, x, y, {
      eps: opts.eps, seed: opts.seed, gradientMemo: opts.gradientMemo, targets: opts.targets, earlyStop: opts.earlyStop ?? false,
      norm: 'l2', steps: 1, stepSize: opts.eps, randomStart: false,
    });
  },
};
