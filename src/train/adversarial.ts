// Adversarial training as objectives for the one training loop (loop.ts): each builds its adversarial batch from
// the current parameters, then treats it as a constant input (no gradient flows through sign or projection), and
// returns the loss to minimise with the logits of the clean batch. x [B, ...] in [0, 1], y [B]; J is softmax
// cross-entropy (mean over the batch); every adversarial image is projected onto the L∞ ε-ball and clipped to [0, 1].
//   goodfellow: J̃ = α·J(x, y) + (1−α)·J(x + ε·sign ∇ₓJ(x, y), y)    Goodfellow, Shlens & Szegedy, ICLR 2015 (arXiv 1412.6572)
//   augment:    mean of J over the 2B examples [x; x ± ε·sign ∇ₓJ]    FGSM / InvFGSM copies: Pervin et al. 2021 (arXiv 2105.12106)
//   pgd:        min_θ J(x_pgd, y), x_pgd = k steps of L∞ PGD from a random start    Madry et al., ICLR 2018 (arXiv 1706.06083)
//   fast:       x₀ = x + U(−ε, ε), one FGSM step of size α, project         Wong, Rice & Kolter, ICLR 2020 (arXiv 2001.03994)
// TRADES and MART live in trades.ts and mart.ts (they make their examples in evaluation mode, as their authors' code).
// Which mode makes the attack: the model's current one (training, inside train()), as Madry and Wong do, so batch-norm
// normalises the attack's batches with their own statistics. Two things are held still while attacking (inAttackMode):
// dropout is the identity (the attack aims at the whole network, its gradient is not the noise of one random mask, and
// it draws nothing from the layers' generators, so the training forwards see the same masks as without the attack),
// and batch-norm's running statistics (main and auxiliary) are put back (only the forwards that are trained on update them).
// Randomness (PGD's and fast's random start) is drawn from ctx.rng, the loop's seeded per-epoch generator.
import { add, scale } from '../engine/ops/elementwise.js';
import { softmaxCrossEntropy } from '../engine/ops/loss.js';
import { copyOf } from '../engine/nd.js';
import type { Rng } from '../engine/random.js';
import { noGrad } from '../engine/tape.js';
import { Tensor, alloc } from '../engine/tensor.js';
import { checkAttackInput, crossEntropyLoss, gradientSteps, linf, randomStart, type StepLoss } from '../attacks/step.js';
import type { Sequential } from '../layers/sequential.js';
import { recyclableObjective, type Objective, type ObjectiveContext } from './objective.js';
import { attackAt, type StepsSchedule } from './schedules.js';

/**
 * Run `fn` (an attack's forward and backward passes) in the model's current mode, with dropout as the identity and
 * every layer buffer (batch-norm's running statistics) restored afterwards; dropout layers get their mode back.
 * @example
 *   const { dx } = inAttackMode(model, () => inputGradient(model, x, y, { mode: 'train' }));
 *   // model.training, dropout's generator and running_mean are as they were
 */
export function inAttackMode<T>(model: Sequential, fn: () => T): T {
  const dropouts = model.layers.filter((l) => l.stochastic && l.training);
  const buffers = model.buffers().map(([, t]) => t);
  const saved = buffers.map((t) => t.data.slice());
  for (const l of dropouts) l.train(false);
  try {
    return fn();
  } finally {
    for (const l of dropouts) l.train(true);
    buffers.forEach((t, i) => t.data.set(saved[i]));
  }
}

// ---- The adversarial examples (constants: fresh leaves with no history), made by the one step core (step.ts) ----

// ∇ₓJ(x', y) in the model's current mode (the caller holds dropout and buffers still with inAttackMode), rescaled per
// example by a positive factor (sign steps do not depend on it) so confident examples keep their direction.
const trainModeCe: StepLoss = crossEntropyLoss({ mode: 'train' });

/**
 * k signed L∞ steps of the core on xAdv in place, every example stepped every time (no early stop: training wants
 * the loss maximised, not merely the label flipped): x' ← clip[0,1](Π_ε(x' + a·sign(∇ₓL(x')))); sign(0) = 0 leaves a
 * pixel where it is. TRADES and MART call it with their own loss and mode.
 * @example
 *   signSteps(model, x, xAdv, y, { eps: 0.3, steps: 7, stepSize: 0.1 });   // Madry's inner maximisation from xAdv
 */
export function signSteps(model: Sequential, x: Tensor, xAdv: Tensor, y: Int32Array, opts: { eps: number; steps: number; stepSize: number; loss?: StepLoss }): void {
  const { eps, steps, stepSize } = opts;
  gradientSteps(model, x, xAdv, y, new Uint8Array(x.shape[0]).fill(1), { norm: linf, eps, steps, stepSize, loss: opts.loss ?? trainModeCe });
}

// x₀ = clip[0,1](x + U(−ε, ε)ᴰ)   (Madry's random start; Wong's fast initialisation)
function uniformStart(x: Tensor, eps: number, rng: Rng): Tensor {
  const xAdv = x.detach();
  randomStart(linf, xAdv, x, eps, rng);
  return xAdv;
}

/** Shapes, ε and the [0, 1] range of an attack's batch, or an error naming the function `f` (step.ts's one check). */
export const checkBatch = checkAttackInput;

/**
 * The FGSM (or InvFGSM) copy of a batch under the current parameters, a constant.
 * @example
 *   const xAdv = fgsmExample(model, x, y, { eps: 0.25 });                        // x + ε·sign ∇ₓJ
 *   const xInv = fgsmExample(model, x, y, { eps: 0.25, direction: 'invfgsm' });  // x − ε·sign ∇ₓJ
 */
export function fgsmExample(model: Sequential, x: Tensor, y: Int32Array, opts: { eps: number; direction?: 'fgsm' | 'invfgsm' }): Tensor {
  const { eps } = opts;
  checkBatch('fgsmExample', x, y, eps);
  const sgn = (opts.direction ?? 'fgsm') === 'invfgsm' ? -1 : 1;
  return inAttackMode(model, () => {
    const xAdv = x.detach();
    // x' = clip[0,1](x ± ε·sign(∇ₓJ(x, y)))
    signSteps(model, x, xAdv, y, { eps, steps: 1, stepSize: sgn * eps });
    return xAdv;
  });
}

export interface PgdExampleOptions {
  eps: number;
  steps: number;
  stepSize: number;
  randomStart: boolean;
}

/**
 * Madry's inner maximisation: k steps of L∞ PGD (random start drawn from `rng`), every step run to the end (no
 * early stop: training wants the loss maximised, not merely the label flipped).
 * @example
 *   const xAdv = pgdExample(model, x, y, { eps: 0.3, steps: 7, stepSize: 0.1, randomStart: true }, new Rng(0));
 */
export function pgdExample(model: Sequential, x: Tensor, y: Int32Array, opts: PgdExampleOptions, rng: Rng): Tensor {
  const { eps, steps, stepSize } = opts;
  checkBatch('pgdExample', x, y, eps);
  return inAttackMode(model, () => {
    const xAdv = opts.randomStart ? uniformStart(x, eps, rng) : x.detach();
    // x' ← clip[0,1](Π_ε(x' + a·sign(∇ₓJ(x', y))))   k times
    signSteps(model, x, xAdv, y, { eps, steps, stepSize });
    return xAdv;
  });
}

/**
 * Wong, Rice & Kolter's "fast is better than free" example: one FGSM step of size α from a uniform random start
 * (drawn from `rng`), projected back onto the ε-ball and [0, 1].
 * @example
 *   const xAdv = fastExample(model, x, y, { eps: 0.3, alpha: 0.375 }, new Rng(0));
 */
export function fastExample(model: Sequential, x: Tensor, y: Int32Array, opts: { eps: number; alpha: number }, rng: Rng): Tensor {
  const { eps, alpha } = opts;
  checkBatch('fastExample', x, y, eps);
  return inAttackMode(model, () => {
    const xAdv = uniformStart(x, eps, rng);
    // x' = clip[0,1](Π_ε(x₀ + α·sign(∇ₓJ(x₀, y))))
    signSteps(model, x, xAdv, y, { eps, steps: 1, stepSize: alpha });
    return xAdv;
  });
}

// ---- The losses, given a fixed adversarial batch (what the objectives minimise; tests finite-difference these) ----

/** What an objective returns: the loss and the clean batch's logits. */
export interface ObjectiveValue {
  loss: Tensor;
  logits: Tensor;
}

/**
 * Goodfellow's J̃ for a fixed adversarial batch; two training forwards (clean, adversarial).
 * @example
 *   const { loss, logits } = goodfellowLoss(model, x, fgsmExample(model, x, y, { eps: 0.25 }), y, 0.5);
 */
export function goodfellowLoss(model: Sequential, x: Tensor, xAdv: Tensor, y: Int32Array, alpha: number): ObjectiveValue {
  // J̃ = α·J(x, y) + (1−α)·J(x_adv, y)
  const logits = model.forward(x);
  const adv = softmaxCrossEntropy(model.forward(xAdv), y);
  return { loss: add(scale(softmaxCrossEntropy(logits, y), alpha), scale(adv, 1 - alpha)), logits };
}

/**
 * Augmentation loss: one forward of the 2B-example batch [x; xAdv] (batch-norm sees both halves together, as in any
 * augmented batch), mean cross-entropy over all 2B; the logits returned are the clean half's.
 * @example
 *   const { loss } = augmentLoss(model, x, fgsmExample(model, x, y, { eps: 0.1, direction: 'invfgsm' }), y);
 */
export function augmentLoss(model: Sequential, x: Tensor, xAdv: Tensor, y: Int32Array): ObjectiveValue {
  const B = x.shape[0];
  const both = alloc(x.dtype, 2 * x.size);
  both.set(x.data);
  both.set(xAdv.data, x.size);
  const yy = new Int32Array(2 * B);
  yy.set(y);
  yy.set(y, B);
  // J_aug = (1/2B)·Σₙ [J(xₙ, yₙ) + J(x'ₙ, yₙ)]
  const logits = model.forward(new Tensor(both, [2 * B, ...x.shape.slice(1)]));
  const C = logits.shape[1];
  return { loss: softmaxCrossEntropy(logits, yy), logits: new Tensor(copyOf(logits.data.subarray(0, B * C)), [B, C]) };
}

/**
 * Madry's (and Wong's) outer minimisation for a fixed adversarial batch: J(x_adv, y). The clean logits come from an
 * extra forward without the graph, held still like an attack's (the adversarial forward cannot provide them).
 * @example
 *   const { loss } = adversarialLoss(model, x, pgdExample(model, x, y, opts, rng), y);
 */
export function adversarialLoss(model: Sequential, x: Tensor, xAdv: Tensor, y: Int32Array): ObjectiveValue {
  const loss = softmaxCrossEntropy(model.forward(xAdv), y);
  const logits = inAttackMode(model, () => noGrad(() => model.forward(x)));
  return { loss, logits };
}

// ---- The objectives ----

export function finite(f: string, name: string, v: number, lo: number, hi = Infinity): number {
  if (!(v >= lo && v <= hi) || !Number.isFinite(v)) {
    throw new Error(`${f}: ${name} must be a finite number in [${lo}, ${hi === Infinity ? '∞' : hi}], got ${v}`);
  }
  return v;
}

export interface GoodfellowOptions {
  /** Weight of the clean loss (default 0.5, the paper's). */
  alpha?: number;
  /** L∞ size of the FGSM perturbation (default 0.25, the paper's for MNIST). */
  eps?: number;
}

/**
 * Goodfellow et al.'s adversarial objective: the FGSM example is made from the current parameters, then is a constant.
 * @example
 *   await train(model, data, { epochs: 1, batchSize: 64, optimizer: 'adam', lr: 1e-3, seed: 0,
 *     objective: goodfellowObjective({ alpha: 0.5, eps: 0.25 }) });
 */
export function goodfellowObjective(opts: GoodfellowOptions = {}): Objective {
  const alpha = finite('goodfellowObjective', 'alpha', opts.alpha ?? 0.5, 0, 1);
  const eps = finite('goodfellowObjective', 'eps', opts.eps ?? 0.25, 0);
  // J̃(θ, x, y) = α·J(θ, x, y) + (1−α)·J(θ, x + ε·sign(∇ₓJ(θ, x, y)), y)
  return recyclableObjective((model, x, y) => goodfellowLoss(model, x, fgsmExample(model, x, y, { eps }), y, alpha));
}

export interface AugmentOptions {
  /** L∞ size of the FGSM / InvFGSM copy. */
  eps: number;
  /** 'fgsm' adds x + ε·sign ∇ₓJ (an attack), 'invfgsm' adds x − ε·sign ∇ₓJ (an easier, "inverse" copy). */
  direction: 'fgsm' | 'invfgsm';
}

/**
 * Data augmentation with the batch's FGSM or InvFGSM copy (Pervin et al.): the loss is the mean over 2B examples.
 * @example
 *   const objective = augmentObjective({ eps: 0.1, direction: 'invfgsm' });
 *   await train(model, data, { epochs: 1, batchSize: 64, optimizer: 'adam', lr: 1e-3, seed: 0, objective });
 */
export function augmentObjective(opts: AugmentOptions): Objective {
  const eps = finite('augmentObjective', 'eps', opts.eps, 0);
  const { direction } = opts;
  if (direction !== 'fgsm' && direction !== 'invfgsm') {
    throw new Error(`augmentObjective: direction must be 'fgsm' or 'invfgsm', got '${direction as string}'`);
  }
  // J_aug = ½·mean J(x, y) + ½·mean J(x ± ε·sign(∇ₓJ(x, y)), y)
  return recyclableObjective((model, x, y) => augmentLoss(model, x, fgsmExample(model, x, y, { eps, direction }), y));
}

export interface PgdObjectiveOptions {
  /** L∞ radius (default 0.3, Madry's for MNIST). */
  eps?: number;
  /** PGD steps of the inner maximisation (default 7). */
  steps?: number;
  /** Step length (default 0.1). */
  stepSize?: number;
  /** Start from a uniform point of the ε-ball (default true). */
  randomStart?: boolean;
  /** Grow ε (and the step with it) linearly from 0 over this many epochs (default 0: the full ε from the start). */
  warmupEpochs?: number;
  /** Attack steps per epoch (a curriculum, schedules.ts), replacing `steps`; the step is 2.5·ε/k unless `stepSize` is given. */
  stepsSchedule?: StepsSchedule;
}

/**
 * The fraction of ε to use at this step of a linear warm-up over `warmupEpochs` epochs (1 without one). Robust
 * training at the full ε = 0.3 from a random initialisation can sit at chance for an epoch or more; a ramp avoids it.
 */
export function warmupFraction(warmupEpochs: number, ctx: ObjectiveContext): number {
  if (!(warmupEpochs > 0) || ctx.stepsPerEpoch === undefined) return 1;
  return Math.min(1, (ctx.step + 1) / (warmupEpochs * ctx.stepsPerEpoch));
}

/**
 * Checked PGD settings of an objective `f`: ε (default 0.3), steps (default `defaultSteps`), step size (0.1) and
 * random start (true), or an error naming the bad option.
 */
export function pgdSettings(
  f: string, opts: { eps?: number; steps?: number; stepSize?: number; randomStart?: boolean }, defaultSteps: number,
): PgdExampleOptions {
  const eps = finite(f, 'eps', opts.eps ?? 0.3, 0);
  const steps = opts.steps ?? defaultSteps;
  if (!Number.isInteger(steps) || steps < 0) throw new Error(`${f}: steps must be an integer ≥ 0, got ${steps}`);
  return { eps, steps, stepSize: finite(f, 'stepSize', opts.stepSize ?? 0.1, 0), randomStart: opts.randomStart ?? true };
}

/**
 * Madry et al.'s robust optimisation: minimise the loss at the k-step PGD example.
 * @example
 *   const objective = pgdObjective({ eps: 0.3, steps: 7, stepSize: 0.1 });
 *   await train(model, data, { epochs: 1, batchSize: 64, optimizer: 'adam', lr: 1e-3, seed: 0, objective });
 */
export function pgdObjective(opts: PgdObjectiveOptions = {}): Objective {
  const f = 'pgdObjective';
  const { eps, steps, stepSize, randomStart } = pgdSettings(f, opts, 7);
  const warmup = finite(f, 'warmupEpochs', opts.warmupEpochs ?? 0, 0);
  // min_θ E[ max_{‖δ‖∞ ≤ ε} J(θ, x + δ, y) ],  the max approximated by PGD
  const schedule = opts.stepsSchedule;
  return recyclableObjective((model, x, y, ctx) => {
    const w = warmupFraction(warmup, ctx);
    if (schedule) {
      const a = attackAt({ eps, steps, stepSize }, schedule, opts.stepSize, ctx.epoch, w);
      return adversarialLoss(model, x, pgdExample(model, x, y, { ...a, randomStart }, ctx.rng), y);
    }
    return adversarialLoss(model, x, pgdExample(model, x, y, { eps: w * eps, steps, stepSize: w * stepSize, randomStart }, ctx.rng), y);
  });
}

export interface FastObjectiveOptions {
  /** L∞ radius (default 0.3). */
  eps?: number;
  /** FGSM step from the random start (default 1.25·ε, the paper's). */
  alpha?: number;
  /** Grow ε (and α with it) linearly from 0 over this many epochs (default 0). */
  warmupEpochs?: number;
}

/**
 * Wong, Rice & Kolter's fast adversarial training: FGSM from a random start.
 * @example
 *   const objective = fastObjective({ eps: 0.3 });   // α = 0.375
 *   await train(model, data, { epochs: 1, batchSize: 64, optimizer: 'adam', lr: 1e-3, seed: 0, objective });
 */
export function fastObjective(opts: FastObjectiveOptions = {}): Objective {
  const eps = finite('fastObjective', 'eps', opts.eps ?? 0.3, 0);
  const alpha = finite('fastObjective', 'alpha', opts.alpha ?? 1.25 * eps, 0);
  const warmup = finite('fastObjective', 'warmupEpochs', opts.warmupEpochs ?? 0, 0);
  // δ = Π_ε(U(−ε, ε) + α·sign(∇_δ J(x + δ, y)));   min_θ J(θ, x + δ, y)
  return recyclableObjective((model, x, y, ctx) => {
    const w = warmupFraction(warmup, ctx);
    return adversarialLoss(model, x, fastExample(model, x, y, { eps: w * eps, alpha: w * alpha }, ctx.rng), y);
  });
}
