// The gradient attack that FGSM, FGM, InvFGSM, BIM, PGD and MI-FGSM are instances of (as in foolbox and
// torchattacks): restarts around the one gradient-step core (step.ts: ∇ → normalise → step → project → clip), keeping
// per example the strongest run. Shapes: x [N, ...] in [0, 1], y [N]; everything runs batch-wise.
// Random start and restarts follow Madry et al. 2018 (arXiv 1706.06083); momentum follows Dong et al. 2018
// (arXiv 1710.06081). The loss defaults to the fused softmax cross-entropy of inputGradient, each example's gradient
// rescaled by the positive factor 1/(1 − p_t) (inputGradient's `rescale`): sign, L2- and L1-normalised steps do not
// depend on it, and it keeps the direction where float32 probabilities underflow (a model confident by a logit gap
// beyond ~88); any maximised loss of losses.ts can be given instead (step.ts's stepLossOf).
import { logProbabilities } from '../engine/ops/loss.js';
import { Rng } from '../engine/random.js';
import { noGrad } from '../engine/tape.js';
import type { Tensor } from '../engine/tensor.js';
import type { Sequential } from '../layers/sequential.js';
import { argmax, inEvalMode } from '../layers/predict.js';
import { checkTargets, type AttackOptions, type AttackResult } from './attack.js';
import { checkAttackInput, crossEntropy, gradientSteps, norms, randomStart as randomStartRows, type StepLoss } from './step.js';

export interface GradientAttackOptions extends AttackOptions {
  /** Norm of the ε-ball and of the step: 'linf' steps along sign(g), 'l2' along g/‖g‖₂, 'l1' along g/‖g‖₁. */
  norm: 'linf' | 'l2' | 'l1';
  /** Gradient steps per run (0 returns the start point). */
  steps: number;
  /** Step length α in the attack's norm. */
  stepSize: number;
  /** Start from a uniform random point of the ε-ball (Madry) instead of x. */
  randomStart: boolean;
  /** Independent runs from different random starts; per example the strongest is kept (default 1; without a
   *  random start every run would be the same, so one is made). */
  restarts?: number;
  /** Untargeted only: 'ascend' J(x, y) (default, an attack) or 'descend' it (InvFGSM). Targets always descend J(x, t). */
  direction?: 'ascend' | 'descend';
  /** MI-FGSM decay μ of the accumulated L1-normalised gradient; 0 (default) is plain gradient. */
  momentum?: number;
  /** The loss differentiated (default: rescaled cross-entropy, step.ts's crossEntropy). */
  loss?: StepLoss;
}

/**
 * Run an iterative gradient attack: step, project onto the ε-ball around x, clip to [0, 1]. Success is decided on
 * the final iterate; iterations[n] counts example n's steps summed over all restarts (with early stop, an example
 * that succeeded is neither stepped further nor restarted); earlyStopped reports the earlyStop setting.
 * @example
 *   const r = gradientAttack(model, x, y, { eps: 0.3, norm: 'linf', steps: 40, stepSize: 0.01, randomStart: true });
 *   const fooled = r.success.reduce((a, b) => a + b, 0);
 */
export function gradientAttack(model: Sequential, x: Tensor, y: Int32Array, opts: GradientAttackOptions): AttackResult {
  const { eps, steps, stepSize, randomStart, targets } = opts;
  const restarts = opts.restarts ?? 1;
  const momentum = opts.momentum ?? 0;
  const earlyStop = opts.earlyStop ?? true;
  const seed = opts.seed ?? 0;
  const loss = opts.loss ?? crossEntropy;
  checkOptions(x, y, opts, restarts, momentum);
  const norm = norms[opts.norm];
  const N = x.shape[0];
  const D = N ? x.size / N : 0;
  // What the attack aims for: the target class, the true class kept (descend), or any other class.
  const aim: Aim = targets ? { kind: 'target', t: targets } : opts.direction === 'descend' ? { kind: 'keep' } : { kind: 'flip' };
  const succeeded = (n: number, p: number): boolean => (aim.kind === 'target' ? p === aim.t[n] : aim.kind === 'keep' ? p === y[n] : p !== y[n]);
  // Cross-entropy is descended toward a target (J(x, t)) and to keep the label; a maximised loss is always ascended.
  const descend = targets !== undefined ? loss.descendsToTarget : opts.direction === 'descend';
  const lossClasses: ArrayLike<number> = targets ?? y;

  const best = x.detach();
  const bestLoss = new Float64Array(N).fill(descend ? Infinity : -Infinity);
  const bestSuccess = new Uint8Array(N);
  const iterations = new Int32Array(N);

  const runs = randomStart ? restarts : 1;
  let lastLogits: Tensor | null = null;
  let cleanLogits: Tensor | undefined;
  for (let r = 0; r < runs; r++) {
    // The per-example mask: with early stop, an example that already succeeded in an earlier run is finished.
    const todo = Uint8Array.from(bestSuccess, (ok) => (earlyStop && ok ? 0 : 1));
    if (!todo.includes(1)) break;
    const xAdv = x.detach();
    if (randomStart) randomStartRows(norm, xAdv, x, eps, Rng.derive(seed, r), todo);
    // x' ← clip[0,1](Π_ε(x' ± α·normalise(∇ₓJ)))   (minus for targeted / descend); a run without random start takes
    // its first gradient at x itself: it may be in the ε sweep's memo, and its logits are the clean ones
    const run = gradientSteps(model, x, xAdv, y, todo.slice(), {
      norm, eps, steps, stepSize: descend ? -stepSize : stepSize, loss, targets, momentum,
      done: earlyStop ? succeeded : undefined, startsAtX: !randomStart, memoAtX: opts.gradientMemo,
    });
    cleanLogits ??= run.logitsAtX;
    run.iterations.forEach((k, n) => (iterations[n] += k));

    // Success is decided on the final iterate, in evaluation mode and without recording the graph.
    const { pred, losses, logits } = evaluateBatch(model, xAdv, lossClasses);
    lastLogits = logits;
    for (let n = 0; n < N; n++) {
      if (!todo[n]) continue;
      const ok = succeeded(n, pred[n]) ? 1 : 0;
      const stronger = ok > bestSuccess[n] || (ok === bestSuccess[n] && (descend ? losses[n] < bestLoss[n] : losses[n] > bestLoss[n]));
      if (r === 0 || stronger) {
        best.data.set(xAdv.data.subarray(n * D, (n + 1) * D), n * D);
        bestSuccess[n] = ok;
        bestLoss[n] = losses[n];
      }
    }
  }
  const result: AttackResult = { adversarial: best, success: bestSuccess, iterations, earlyStopped: earlyStop };
  if (targets) result.targets = targets;
  // With one run the final iterate is the result, so its logits can be handed back and not recomputed.
  if (runs === 1 && lastLogits) result.logits = lastLogits;
  if (cleanLogits) result.cleanLogits = cleanLogits;
  return result;
}

type Aim = { kind: 'flip' } | { kind: 'keep' } | { kind: 'target'; t: Int32Array };

function evaluateBatch(model: Sequential, x: Tensor, classes: ArrayLike<number>): { pred: Int32Array; losses: Float64Array; logits: Tensor } {
  return inEvalMode(model, () =>
    noGrad(() => {
      const logits = model.forward(x);
      // float64 losses (−log p_t from the logits), so restarts of a confident model are not tied at a float32 0
      const C = logits.shape[1];
      const lp = logProbabilities(logits);
      const losses = Float64Array.from({ length: classes.length }, (_, n) => {
        const c = classes[n];
        if (!Number.isInteger(c) || c < 0 || c >= C) throw new Error(`gradientAttack: class ${c} at index ${n} is not a class of the model's 0..${C - 1}`);
        return -lp[n * C + c];
      });
      return { pred: argmax(logits), losses, logits };
    }),
  );
}

function checkOptions(x: Tensor, y: Int32Array, opts: GradientAttackOptions, restarts: number, momentum: number): void {
  const f = 'gradientAttack';
  checkAttackInput(f, x, y, opts.eps);
  if (!Object.hasOwn(norms, opts.norm)) throw new Error(`${f}: norm must be 'linf', 'l2' or 'l1', got '${opts.norm}'`);
  if (!Number.isInteger(opts.steps) || opts.steps < 0) throw new Error(`${f}: steps must be an integer ≥ 0, got ${opts.steps}`);
  if (!(opts.stepSize >= 0) || !Number.isFinite(opts.stepSize)) throw new Error(`${f}: stepSize must be a finite number ≥ 0, got ${opts.stepSize}`);
  if (!Number.isInteger(restarts) || restarts < 1) throw new Error(`${f}: restarts must be an integer ≥ 1, got ${restarts}`);
  if (!(momentum >= 0) || !Number.isFinite(momentum)) throw new Error(`${f}: momentum must be a finite number ≥ 0, got ${momentum}`);
  if (opts.seed !== undefined && !Number.isFinite(opts.seed)) throw new Error(`${f}: seed must be a finite number, got ${opts.seed}`);
  if (opts.targets) {
    if (opts.direction === 'ascend') throw new Error(`${f}: direction must be unset or 'descend' with targets (a targeted attack descends J(x, t)), got 'ascend'`);
    checkTargets(f, opts.targets, y);
  }
}
