// PGD, projected gradient descent on the negative loss: Madry, Makelov, Schmidt, Tsipras & Vladu, "Towards Deep
// Learning Models Resistant to Adversarial Attacks", ICLR 2018 (arXiv 1706.06083). Norms L∞ (pgd) and L2 (pgdL2);
// starts at a uniform random point of the ε-ball and keeps the strongest of `restarts` runs per example:
//   L∞: x' ← clip[0,1](Π_ε(x' + α·sign(∇ₓJ(x', y))))      L2: x' ← clip[0,1](Π_ε(x' + α·g/‖g‖₂)), g = ∇ₓJ(x', y)
// Targeted: minus, with J(x', t). Madry's MNIST setting is ε = 0.3, 40 steps of 0.01, the L∞ defaults here.
import type { AttackOptions, WhiteBoxAttack } from './attack.js';
import { gradientAttack } from './gradient-attack.js';
import { settings } from './settings.js';

export interface PgdOptions extends AttackOptions {
  /** Overrides the attack's norm ('linf' for pgd, 'l2' for pgdL2). */
  norm?: 'linf' | 'l2';
  /** Default 40. */
  steps?: number;
  /** Default 0.01 for L∞; 2.5·ε/steps for L2 (an L2 ε is ~10× an L∞ one, so no fixed α fits). */
  stepSize?: number;
  /** Default true. */
  randomStart?: boolean;
  /** Default 1. */
  restarts?: number;
}

function makePgd(name: string, norm: 'linf' | 'l2'): WhiteBoxAttack<PgdOptions> {
  return {
    name,
    kind: 'white-box',
    norm,
    settings: [
      { ...settings.steps, default: '40' }, { ...settings.stepSize, default: norm === 'linf' ? '0.01' : '2.5ε/steps' }, { ...settings.restarts, default: '1' },
      settings.randomStart, settings.earlyStop,
    ],
    run(model, x, y, opts) {
      const n = opts.norm ?? norm;
      const steps = opts.steps ?? 40;
      // x' ← clip[0,1](Π_ε(x' + α·sign(∇ₓJ)))   (L2: α·∇ₓJ/‖∇ₓJ‖₂; minus, with J(x', t), when targeted)
      return gradientAttack(model, x, y, {
        eps: opts.eps, seed: opts.seed, gradientMemo: opts.gradientMemo, targets: opts.targets, earlyStop: opts.earlyStop,
        norm: n, steps, stepSize: opts.stepSize ?? (n === 'linf' ? 0.01 : (2.5 * opts.eps) / Math.max(steps, 1)),
        randomStart: opts.randomStart ?? true, restarts: opts.restarts ?? 1,
      });
    },
  };
}

/**
 * PGD in L∞ (Madry et al.): random start, 40 steps of 0.01 by default.
 * @example
 *   const r = pgd.run(model, x, y, { eps: 0.3, seed: 1 });
 *   const strong = pgd.run(model, x, y, { eps: 0.3, restarts: 5, earlyStop: false });
 */
export const pgd: WhiteBoxAttack<PgdOptions> = makePgd('pgd', 'linf');

/**
 * PGD in L2: random start in the L2 ball, 40 steps of 2.5·ε/40 by default.
 * @example
 *   const r = pgdL2.run(model, x, y, { eps: 2, seed: 1 });
 *   // ‖r.adversarial[n] − x[n]‖₂ ≤ 2
 */
export const pgdL2: WhiteBoxAttack<PgdOptions> = makePgd('pgd-l2', 'l2');
