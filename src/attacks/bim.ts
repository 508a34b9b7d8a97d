// BIM, the basic iterative method (iterative FGSM): Kurakin, Goodfellow & Bengio, "Adversarial Examples in the
// Physical World", ICLR 2017 workshop (arXiv 1607.02533). Norm L∞, starts at x (no random start), steps of α:
//   x' ← clip[0,1](Π_ε(x' + α·sign(∇ₓJ(x', y))))      targeted (their iterative least-likely class): minus, J(x', t)
// Paper defaults on [0, 255] images: α = 1, steps = min(ε + 4, 1.25ε); here in [0, 1]: α = 1/255, ε·255 in the formula.
import type { AttackOptions, WhiteBoxAttack } from './attack.js';
import { gradientAttack } from './gradient-attack.js';
import { settings } from './settings.js';

export interface BimOptions extends AttackOptions {
  /** Default round(min(255ε + 4, 1.25·255ε)) (Kurakin et al.). */
  steps?: number;
  /** Default 1/255 (one grey level). */
  stepSize?: number;
}

/** Kurakin et al.'s number of BIM iterations for ε in [0, 1]. @example bimSteps(8 / 255) // 10 */
export function bimSteps(eps: number): number {
  return Math.round(Math.min(eps * 255 + 4, 1.25 * eps * 255));
}

/**
 * BIM: iterative FGSM without random start, stopping per example at success unless earlyStop is false.
 * @example
 *   const r = bim.run(model, x, y, { eps: 0.1 });   // 30 steps of 1/255
 *   const short = bim.run(model, x, y, { eps: 0.1, steps: 10, stepSize: 0.02 });
 */
export const bim: WhiteBoxAttack<BimOptions> = {
  name: 'bim',
  kind: 'white-box',
  norm: 'linf',
  settings: [{ ...settings.steps, default: 'min(255ε + 4 and 1.25·255ε) rounded' }, { ...settings.stepSize, default: '1/255' }, settings.earlyStop],
  run(model, x, y, opts) {
    // x' ← clip[0,1](Π_ε(x' + α·sign(∇ₓJ(x', y))))
    return gradientAttack(model, x, y, {
      eps: opts.eps, seed: opts.seed, gradientMemo: opts.gradientMemo, targets: opts.targets, earlyStop: opts.earlyStop,
      norm: 'linf', steps: opts.steps ?? bimSteps(opts.eps), stepSize: opts.stepSize ?? 1 / 255, randomStart: false,
    });
  },
};
