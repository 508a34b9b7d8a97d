// The one gradient-attack core that FGSM, FGM, InvFGSM, BIM, PGD and MI-FGSM are instances of (as in foolbox and
// torchattacks): x, y → per step g = ∇ₓJ(x', y) (or J(x', t)), step along sign(g) (L∞) or g/‖g‖₂ (L2), project
// onto the ε-ball around x, clip to [0, 1]. Shapes: x [N, ...] in [0, 1], y [N]; everything runs batch-wise.
// Random start and restarts follow Madry et al. 2018 (arXiv 1706.06083); momentum follows Dong et al. 2018
// (arXiv 1710.06081). The loss is the fused softmax cross-entropy of inputGradient, each example's gradient rescaled
// by the positive factor 1/(1 − p_t) (inputGradient's `rescale`): sign, L2- and L1-normalised steps do not depend on it,
// and it keeps the direction where float32 probabilities underflow (a model confident by a logit gap beyond ~88).
import { logProbabilities } from '../engine/ops/loss.js';
import { Rng } from '../engine/random.js';
import { noGrad } from '../engine/tape.js';
import { Tensor, alloc, assertFinite, shapeStr } from '../engine/tensor.js';
import type { Sequential } from '../layers/sequential.js';
import { argmax, inEvalMode } from '../layers/predict.js';
import { checkTargets, type AttackOptions, type AttackResult, type GradientMemo } from './attack.js';
import { projectL2, projectLinf } from './ball.js';
import { inputGradient } from './input-gradient.js';

export interface GradientAttackOptions extends AttackOptions {
  /** Norm of the ε-ball and of the step: 'linf' steps along sign(g), 'l2' along g/‖g‖₂. */
  norm: 'linf' | 'l2';
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
  const { eps, norm, steps, stepSize, randomStart, targets } = opts;
  const restarts = opts.restarts ?? 1;
  const momentum = opts.momentum ?? 0;
  const earlyStop = opts.earlyStop ?? true;
  const seed = opts.seed ?? 0;
  checkOptions(x, y, opts, restarts, momentum);
  const N = x.shape[0];
  const D = N ? x.size / N : 0;
  const descend = targets !== undefined || opts.direction === 'descend';
  // What the attack aims for: the target class, the true class kept (descend), or any other class.
  const aim: Aim = targets ? { kind: 'target', t: targets } : opts.direction === 'descend' ? { kind: 'keep' } : { kind: 'flip' };
  const lossClasses: ArrayLike<number> = targets ?? y;

  const best = x.detach();
  const bestLoss = new Float64Array(N).fill(descend ? Infinity : -Infinity);
  const bestSuccess = new Uint8Array(N);
  const iterations = new Int32Array(N);

  const runs = randomStart ? restarts : 1;
  let lastLogits: Tensor | null = null;
  let cleanLogits: Tensor | null = null;
  for (let r = 0; r < runs; r++) {
    // With early stop, an example that already succeeded in an earlier run is finished.
    const todo: number[] = [];
    for (let n = 0; n < N; n++) if (!(earlyStop && bestSuccess[n])) todo.push(n);
    if (!todo.length) break;
    const rng = Rng.derive(seed, r);
    const xAdv = x.detach();
    if (randomStart) randomStartInto(xAdv.data, x.data, todo, D, eps, norm, rng);

    const velocity = momentum > 0 ? new Float64Array(x.size) : null;
    let active = todo;
    for (let s = 0; s < steps && active.length; s++) {
      const sub = gather(xAdv, active);
      const subY = pick(y, active);
      // At x itself (no random start, first step, whole batch) the gradient may already be in the ε sweep's memo.
      const atX = r === 0 && s === 0 && !randomStart && active.length === N;
      const { dx, logits } = atX && opts.gradientMemo
        ? memoized(opts.gradientMemo, lossClasses, () => inputGradient(model, sub, subY, { rescale: true, ...(targets ? { targets } : {}) }))
        : inputGradient(model, sub, subY, { rescale: true, ...(targets ? { targets: pick(targets, active) } : {}) });
      // The first gradient of a run without random start is taken at x itself: its logits are the clean ones.
      if (atX) cleanLogits = logits;
      const pred = argmax(logits);
      const still: number[] = [];
      const stepping: number[] = [];
      for (let i = 0; i < active.length; i++) {
        const n = active[i];
        if (earlyStop && succeeded(aim, pred[i], y[n], n)) continue; // frozen from here on
        still.push(n);
        stepping.push(i);
      }
      for (const i of stepping) {
        const n = active[i];
        const g = dx.data.subarray(i * D, (i + 1) * D);
        const dir = velocity ? accumulate(velocity.subarray(n * D, (n + 1) * D), g, momentum) : g;
        const xo = x.data.subarray(n * D, (n + 1) * D);
        const xa = xAdv.data.subarray(n * D, (n + 1) * D);
        const sgn = descend ? -1 : 1;
        if (norm === 'linf') {
          // x' = clip[0,1](Π_ε(x' + α·sign(∇ₓJ)))   (minus for targeted / descend)
          for (let j = 0; j < D; j++) xa[j] = xa[j] + sgn * stepSize * Math.sign(dir[j]);
        } else {
          // x' = clip[0,1](Π_ε(x' + α·∇ₓJ/‖∇ₓJ‖₂))   (minus for targeted / descend)
          const g2 = l2(dir);
          if (g2 > 0) for (let j = 0; j < D; j++) xa[j] = xa[j] + (sgn * stepSize * dir[j]) / g2;
        }
        projectClip(xa, xo, eps, norm);
        iterations[n]++;
      }
      active = still;
    }

    // Success is decided on the final iterate, in evaluation mode and without recording the graph.
    const { pred, losses, logits } = evaluateBatch(model, xAdv, lossClasses);
    lastLogits = logits;
    for (const n of todo) {
      const ok = succeeded(aim, pred[n], y[n], n) ? 1 : 0;
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

  function succeeded(a: Aim, p: number, label: number, n: number): boolean {
    return a.kind === 'target' ? p === a.t[n] : a.kind === 'keep' ? p === label : p !== label;
  }
}

/** The memo's entry for the loss classes (the labels, or the targets), computed on first use. */
function memoized(memo: GradientMemo, classes: ArrayLike<number>, compute: () => { dx: Tensor; logits: Tensor }) {
  const key = Array.prototype.join.call(classes, ',');
  let hit = memo.get(key);
  if (!hit) {
    const { dx, logits } = compute();
    hit = { dx, logits };
    memo.set(key, hit);
  }
  return hit;
}

type Aim = { kind: 'flip' } | { kind: 'keep' } | { kind: 'target'; t: Int32Array };

/**
 * Π_ε then clip: L∞ clamps to [x−ε, x+ε], L2 rescales δ when ‖δ‖₂ > ε; clipping to [0,1] can only shrink δ. Exact in
 * the stored precision (ball.ts): |x′ − x| ≤ fround(ε) (L∞) or ‖x′ − x‖₂ ≤ ε (L2) computed in float64.
 */
function projectClip(xa: Float32Array | Float64Array, xo: Float32Array | Float64Array, eps: number, norm: 'linf' | 'l2'): void {
  if (norm === 'linf') projectLinf(xa, xo, eps);
  else projectL2(xa, xo, eps);
}

/** Madry's random start: L∞ uniform in [−ε, ε]ᴰ; L2 a uniform point of the ball (gaussian direction, radius ε·u^(1/D)). */
function randomStartInto(xa: Float32Array | Float64Array, xo: Float32Array | Float64Array, rows: number[], D: number, eps: number, norm: 'linf' | 'l2', rng: Rng): void {
  const dir = new Float64Array(D);
  for (const n of rows) {
    const a = xa.subarray(n * D, (n + 1) * D), o = xo.subarray(n * D, (n + 1) * D);
    if (norm === 'linf') {
      for (let j = 0; j < D; j++) a[j] = o[j] + rng.uniform(-eps, eps);
    } else {
      for (let j = 0; j < D; j++) dir[j] = rng.normal();
      const radius = eps * Math.pow(rng.next(), 1 / D);
      const len = l2(dir);
      if (len > 0) for (let j = 0; j < D; j++) a[j] = o[j] + (radius * dir[j]) / len;
    }
    projectClip(a, o, eps, norm);
  }
}

/** MI-FGSM: v ← μ·v + g/‖g‖₁ (per example, in place); returns v. */
function accumulate(v: Float64Array, g: Float32Array | Float64Array, mu: number): Float64Array {
  let l1 = 0;
  for (let j = 0; j < g.length; j++) l1 += Math.abs(g[j]);
  const inv = l1 > 0 ? 1 / l1 : 0;
  for (let j = 0; j < g.length; j++) v[j] = mu * v[j] + g[j] * inv;
  return v;
}

function l2(v: ArrayLike<number>): number {
  let s = 0;
  for (let j = 0; j < v.length; j++) s += v[j] * v[j];
  return Math.sqrt(s);
}

function gather(x: Tensor, rows: number[]): Tensor {
  const N = x.shape[0];
  if (rows.length === N) return new Tensor(x.data.slice(), x.shape);
  const D = x.size / N;
  const out = alloc(x.dtype, rows.length * D);
  rows.forEach((n, i) => out.set(x.data.subarray(n * D, (n + 1) * D), i * D));
  return new Tensor(out, [rows.length, ...x.shape.slice(1)]);
}

function pick(a: Int32Array, rows: number[]): Int32Array {
  return Int32Array.from(rows, (n) => a[n]);
}

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
  const N = x.shape[0];
  if (x.ndim < 2) throw new Error(`${f}: x must be [N, ...] with N images, got ${shapeStr(x.shape)}`);
  if (y.length !== N) throw new Error(`${f}: y must have ${N} labels for x of shape ${shapeStr(x.shape)}, got ${y.length}`);
  if (!(opts.eps >= 0) || !Number.isFinite(opts.eps)) throw new Error(`${f}: eps must be a finite number ≥ 0, got ${opts.eps}`);
  if (opts.norm !== 'linf' && opts.norm !== 'l2') throw new Error(`${f}: norm must be 'linf' or 'l2', got '${opts.norm}'`);
  if (!Number.isInteger(opts.steps) || opts.steps < 0) throw new Error(`${f}: steps must be an integer ≥ 0, got ${opts.steps}`);
  if (!(opts.stepSize >= 0) || !Number.isFinite(opts.stepSize)) throw new Error(`${f}: stepSize must be a finite number ≥ 0, got ${opts.stepSize}`);
  if (!Number.isInteger(restarts) || restarts < 1) throw new Error(`${f}: restarts must be an integer ≥ 1, got ${restarts}`);
  if (!(momentum >= 0) || !Number.isFinite(momentum)) throw new Error(`${f}: momentum must be a finite number ≥ 0, got ${momentum}`);
  if (opts.seed !== undefined && !Number.isFinite(opts.seed)) throw new Error(`${f}: seed must be a finite number, got ${opts.seed}`);
  if (opts.targets) {
    if (opts.direction === 'ascend') throw new Error(`${f}: direction must be unset or 'descend' with targets (a targeted attack descends J(x, t)), got 'ascend'`);
    checkTargets(f, opts.targets, y);
  }
  assertFinite(x, f);
  for (let i = 0; i < x.size; i++) {
    const v = x.data[i];
    if (v < 0 || v > 1) throw new Error(`${f}: x must lie in [0, 1], got ${v} at flat index ${i}`);
  }
}
