// AdvProp: Xie, Tan, Gong, Wang, Yuille & Le, "Adversarial Examples Improve Image Recognition", CVPR 2020
// (arXiv 1911.09665), as an objective for the one training loop. Clean and adversarial images come from different
// distributions, so each gets its own batch-norm: the PGD example is made through the auxiliary batch-norm (the
// model's current mode, random start, every step run) and trained through it, the clean batch through the main one:
//   J = J_main(x, y) + J_aux(x_pgd, y),   x_pgd = PGD_aux(x, y)   (held fixed: no gradient through the attack)
// Only the main batch-norm is used in evaluation and saved in the model file; the auxiliary one is trained and
// checkpointed (enableAuxBatchNorm before train(), so the optimiser sees it). x [B, ...] in [0, 1], y [B].
import { add } from '../engine/ops/elementwise.js';
import { softmaxCrossEntropy } from '../engine/ops/loss.js';
import type { Tensor } from '../engine/tensor.js';
import { hasAuxBatchNorm, withAuxBatchNorm } from '../layers/batchnorm.js';
import type { Sequential } from '../layers/sequential.js';
import { pgdExample, pgdSettings, type ObjectiveValue } from './adversarial.js';
import { recyclableObjective, type Objective } from './objective.js';

/**
 * AdvProp's loss for a fixed adversarial batch: the clean batch through the main batch-norm, the adversarial batch
 * through the auxiliary one (each normalised with its own batch statistics in training); the logits are the clean ones.
 * @example
 *   const xAdv = withAuxBatchNorm(model, () => pgdExample(model, x, y, { eps: 0.3, steps: 5, stepSize: 0.1, randomStart: true }, rng));
 *   const { loss, logits } = advpropLoss(model, x, xAdv, y);
 */
export function advpropLoss(model: Sequential, x: Tensor, xAdv: Tensor, y: Int32Array): ObjectiveValue {
  // J = J_main(x, y) + J_aux(x_adv, y)
  const logits = model.forward(x);
  const adv = withAuxBatchNorm(model, () => softmaxCrossEntropy(model.forward(xAdv), y));
  return { loss: add(softmaxCrossEntropy(logits, y), adv), logits };
}

export interface AdvpropOptions {
  /** L∞ radius of the PGD attacker (default 0.3, Madry's for MNIST). */
  eps?: number;
  /** PGD steps (default 5: AdvProp's attacker is cheap, a few steps with a random start). */
  steps?: number;
  /** Step length (default 0.1: 5 × 0.1 can cross the 0.3-ball from any random start). */
  stepSize?: number;
  /** Start from a uniform point of the ε-ball (default true). */
  randomStart?: boolean;
}

/**
 * Xie et al.'s AdvProp objective; the model must have its auxiliary batch-norm (enableAuxBatchNorm) before train().
 * @example
 *   const model = enableAuxBatchNorm(buildModel(zooSpec('cnn-bn'), { seed: 0 }));
 *   await train(model, data, { epochs: 1, batchSize: 128, optimizer: 'adam', lr: 2e-3, seed: 0, objective: advpropObjective() });
 */
export function advpropObjective(opts: AdvpropOptions = {}): Objective {
  const f = 'advpropObjective';
  const settings = pgdSettings(f, opts, 5);
  return recyclableObjective((model, x, y, ctx) => {
    if (!hasAuxBatchNorm(model)) {
      throw new Error(`${f}: the model needs an auxiliary batch-norm: call enableAuxBatchNorm(model) before train(), so the optimiser trains it`);
    }
    const xAdv = withAuxBatchNorm(model, () => pgdExample(model, x, y, settings, ctx.rng));
    return advpropLoss(model, x, xAdv, y);
  });
}
