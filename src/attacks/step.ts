// The one gradient-step core of every attack and adversarial-training objective, foolbox's loop
// (bethgelab/foolbox, attacks/gradient_descent_base.py): per step g = ∇ₓL(x'), d = α·normalise(g), x' ← x' + d,
// x' ← clip[0,1](Π_ε(x')). The norm is a small object (linf, l2, l1: normalise, project onto the ε-ball, random
// start; the projections are exact in the stored precision, ball.ts) and so is the loss (cross-entropy, rescaled or
// plain, in evaluation or training mode, or any maximised loss of losses.ts). x, x' [N, ...] in [0, 1], y [N].
// Early stop keeps a per-example mask (1 = still stepping); only the examples still stepping are forwarded.
import { copyOf } from '../engine/nd.js';
import type { Rng } from '../engine/random.js';
import { Tensor, alloc, assertFinite, shapeStr } from '../engine/tensor.js';
import type { Sequential } from '../layers/sequential.js';
import { argmax } from '../layers/predict.js';
import type { GradientMemo } from './attack.js';
import { projectL1, projectL2, projectLinf } from './ball.js';
import { inputGradient } from './input-gradient.js';
import { lossGradient, type AttackLoss } from './losses.js';

type Data = Float32Array | Float64Array;

/** A norm's part of a gradient step: the steepest-ascent direction, the projection and the random start. */
export interface BallNorm {
  readonly name: 'linf' | 'l2' | 'l1';
  /** out = α·(g normalised in this norm): α·sign(g) (L∞), α·g/‖g‖₂ (L2), α·g/‖g‖₁ (L1); g = 0 gives 0. */
  normalize(g: ArrayLike<number>, alpha: number, out: Float64Array): void;
  /** Π_ε onto the ball around xo, then clip to [0, 1], in place and exact in the stored precision (ball.ts). */
  project(xa: Data, xo: Data, eps: number): void;
  /** Overwrite xa with a uniform random point of the ε-ball around xo, projected (Madry et al.'s random start). */
  randomStart(xa: Data, xo: Data, eps: number, rng: Rng): void;
}

function norm2(v: ArrayLike<number>): number {
  let s = 0;
  for (let j = 0; j < v.length; j++) s += v[j] * v[j];
  return Math.sqrt(s);
}

function norm1(v: ArrayLike<number>): number {
  let s = 0;
  for (let j = 0; j < v.length; j++) s += Math.abs(v[j]);
  return s;
}

/**
 * L∞: steps along α·sign(g) (FGSM, BIM, PGD), projection clamps each pixel to [x − ε, x + ε].
 * @example
 *   const d = new Float64Array(3); linf.normalize([0.2, -3, 0], 0.1, d);   // [0.1, −0.1, 0]
 *   linf.project(xAdv, x, 0.3);
 */
export const linf: BallNorm = {
  name: 'linf',
  normalize(g, alpha, out) {
    for (let j = 0; j < g.length; j++) out[j] = alpha * Math.sign(g[j]);
  },
  project: projectLinf,
  randomStart(xa, xo, eps, rng) {
    // x₀ = clip[0,1](x + U(−ε, ε)ᴰ)
    for (let j = 0; j < xa.length; j++) xa[j] = xo[j] + rng.uniform(-eps, eps);
    projectLinf(xa, xo, eps);
  },
};

/**
 * L2: steps along α·g/‖g‖₂ (FGM, PGD-L2), projection rescales δ to length ε when it is longer.
 * @example
 *   const d = new Float64Array(2); l2.normalize([3, 4], 1, d);   // [0.6, 0.8]
 *   l2.project(xAdv, x, 2);
 */
export const l2: BallNorm = {
  name: 'l2',
  normalize(g, alpha, out) {
    const n = norm2(g);
    if (n > 0) for (let j = 0; j < g.length; j++) out[j] = (alpha * g[j]) / n;
    else out.fill(0);
  },
  project: projectL2,
  randomStart(xa, xo, eps, rng) {
    // a uniform point of the ball: a gaussian direction, radius ε·u^(1/D)
    const D = xa.length, dir = new Float64Array(D);
    for (let j = 0; j < D; j++) dir[j] = rng.normal();
    const radius = eps * Math.pow(rng.next(), 1 / D);
    const len = norm2(dir);
    if (len > 0) for (let j = 0; j < D; j++) xa[j] = xo[j] + (radius * dir[j]) / len;
    projectL2(xa, xo, eps);
  },
};

/**
 * L1: steps along α·g/‖g‖₁ (foolbox's L1 basic iterative attack), projection is the Euclidean one onto the ε-ball
 * (Duchi et al. 2008, ball.ts's projectL1).
 * @example
 *   const d = new Float64Array(2); l1.normalize([3, -1], 2, d);   // [1.5, −0.5]
 *   l1.project(xAdv, x, 10);
 */
export const l1: BallNorm = {
  name: 'l1',
  normalize(g, alpha, out) {
    const n = norm1(g);
    if (n > 0) for (let j = 0; j < g.length; j++) out[j] = (alpha * g[j]) / n;
    else out.fill(0);
  },
  project: projectL1,
  randomStart(xa, xo, eps, rng) {
    // a uniform point of the ball: e₁..e_{D+1} ~ Exp(1), δⱼ = ±ε·eⱼ/Σe (uniform in the simplex, random signs)
    const D = xa.length, e = new Float64Array(D);
    let total = -Math.log(1 - rng.next());
    for (let j = 0; j < D; j++) total += e[j] = -Math.log(1 - rng.next());
    for (let j = 0; j < D; j++) xa[j] = xo[j] + (rng.next() < 0.5 ? -1 : 1) * ((eps * e[j]) / total);
    projectL1(xa, xo, eps);
  },
};

/** The norms by name. */
export const norms = { linf, l2, l1 } as const;

/** What the core differentiates: per example, ∇ₓ of its own loss (a positive per-example factor is allowed: every norm's step ignores it). */
export interface StepLoss {
  readonly name: string;
  /** Targeted use: true when the loss is J(x, t), to be descended (cross-entropy); false when it is maximised (losses.ts). */
  readonly descendsToTarget: boolean;
  gradient(model: Sequential, x: Tensor, y: Int32Array, targets?: Int32Array): { dx: Tensor; logits: Tensor };
}

/**
 * Softmax cross-entropy J(x, y) (J(x, t) with targets) through inputGradient: `rescale` (default true) multiplies
 * each example's gradient by 1/(1 − p) so its direction survives float32 underflow; `mode` 'eval' (default) or
 * 'train' (the model's current mode, for training objectives that attack in training mode).
 * @example
 *   const madry = crossEntropyLoss({ mode: 'train' });
 *   const mart = crossEntropyLoss({ rescale: false });   // MART's attack: the plain gradient, evaluation mode
 */
export function crossEntropyLoss(opts: { rescale?: boolean; mode?: 'eval' | 'train' } = {}): StepLoss {
  const rescale = opts.rescale ?? true, mode = opts.mode ?? 'eval';
  return {
    name: rescale ? 'ce' : 'ce-plain',
    descendsToTarget: true,
    gradient: (model, x, y, targets) => inputGradient(model, x, y, { rescale, mode, ...(targets ? { targets } : {}) }),
  };
}

/** The attacks' default loss: rescaled cross-entropy in evaluation mode. */
export const crossEntropy: StepLoss = crossEntropyLoss();

/**
 * A maximised loss of losses.ts (CW margin, DLR, their targeted forms) as a step loss, in evaluation mode.
 * @example
 *   const r = gradientAttack(model, x, y, { eps: 0.3, norm: 'linf', steps: 40, stepSize: 0.01, randomStart: true, loss: stepLossOf(attackLosses.dlr) });
 */
export function stepLossOf(loss: AttackLoss): StepLoss {
  return {
    name: loss.name,
    descendsToTarget: false,
    gradient: (model, x, y, targets) => lossGradient(model, x, y, loss, targets),
  };
}

export interface StepOptions {
  norm: BallNorm;
  eps: number;
  /** Steps to take (0 leaves x' as it is). */
  steps: number;
  /** Signed step length: α > 0 ascends the loss, α < 0 descends it. */
  stepSize: number;
  loss: StepLoss;
  targets?: Int32Array;
  /** MI-FGSM's decay μ of the accumulated L1-normalised gradient (Dong et al. 2018); 0 or unset: the gradient itself. */
  momentum?: number;
  /** Early stop: given example n and its predicted class at the current iterate, true freezes it from here on. */
  done?: (n: number, predicted: number) => boolean;
  /** x' starts at x itself: the first gradient, over the whole batch, may come from (and go into) this memo. */
  memoAtX?: GradientMemo;
  startsAtX?: boolean;
}

export interface StepResult {
  /** Steps taken by each example. */
  iterations: Int32Array;
  /** Logits at x itself, when x' started there and the first gradient covered the whole batch. */
  logitsAtX?: Tensor;
}

/**
 * Run the core loop in place on xAdv: for each example whose `active` entry is 1, steps times:
 * g = ∇ₓL(x'), x' ← clip[0,1](Π_ε(x' + α·normalise(g))); `done` turns entries of `active` to 0 (early stop).
 * @example
 *   const xAdv = x.detach(), active = new Uint8Array(N).fill(1);
 *   gradientSteps(model, x, xAdv, y, active, { norm: linf, eps: 0.3, steps: 40, stepSize: 0.01, loss: crossEntropy });
 */
export function gradientSteps(model: Sequential, x: Tensor, xAdv: Tensor, y: Int32Array, active: Uint8Array, opts: StepOptions): StepResult {
  const { norm, eps, steps, stepSize, loss, targets, done } = opts;
  const N = x.shape[0];
  const D = N ? x.size / N : 0;
  const momentum = opts.momentum ?? 0;
  const velocity = momentum > 0 ? new Float64Array(x.size) : null;
  const d = new Float64Array(D);
  const iterations = new Int32Array(N);
  const result: StepResult = { iterations };
  for (let s = 0; s < steps; s++) {
    const rows: number[] = [];
    for (let n = 0; n < N; n++) if (active[n]) rows.push(n);
    if (!rows.length) break;
    const sub = gather(xAdv, rows);
    const atX = s === 0 && opts.startsAtX === true && rows.length === N;
    const compute = () => loss.gradient(model, sub, pick(y, rows), targets && pick(targets, rows));
    const { dx, logits } = atX && opts.memoAtX ? memoized(opts.memoAtX, `${loss.name}|${Array.prototype.join.call(targets ?? y, ',')}`, compute) : compute();
    if (atX) result.logitsAtX = logits;
    const pred = done ? argmax(logits) : null;
    rows.forEach((n, i) => {
      if (done && done(n, pred![i])) {
        active[n] = 0; // frozen from here on
        return;
      }
      const g = dx.data.subarray(i * D, (i + 1) * D);
      const xa = xAdv.data.subarray(n * D, (n + 1) * D);
      // x' ← clip[0,1](Π_ε(x' + α·normalise(g)))   (g ← μ·g + ∇/‖∇‖₁ first with momentum)
      norm.normalize(velocity ? accumulate(velocity.subarray(n * D, (n + 1) * D), g, momentum) : g, stepSize, d);
      for (let j = 0; j < D; j++) xa[j] = xa[j] + d[j];
      norm.project(xa, x.data.subarray(n * D, (n + 1) * D), eps);
      iterations[n]++;
    });
  }
  return result;
}

/**
 * Random start of the examples whose `rows` entry is 1 (all when omitted), each row drawn in turn from `rng`.
 * @example
 *   const xAdv = x.detach(); randomStart(linf, xAdv, x, 0.3, new Rng(0));
 */
export function randomStart(norm: BallNorm, xAdv: Tensor, x: Tensor, eps: number, rng: Rng, rows?: Uint8Array): void {
  const N = x.shape[0];
  const D = N ? x.size / N : 0;
  for (let n = 0; n < N; n++) {
    if (rows && !rows[n]) continue;
    norm.randomStart(xAdv.data.subarray(n * D, (n + 1) * D), x.data.subarray(n * D, (n + 1) * D), eps, rng);
  }
}

/**
 * The one check of an attack's input: x [N, ...] finite and in [0, 1], y with N labels, ε finite and ≥ 0; throws
 * naming the function `f`, the argument, what was expected and what was found.
 * @example
 *   checkAttackInput('pgdExample', x, y, 0.3);
 */
export function checkAttackInput(f: string, x: Tensor, y: ArrayLike<number>, eps: number): void {
  if (x.ndim < 2) throw new Error(`${f}: x must be [N, ...] with N images, got ${shapeStr(x.shape)}`);
  const N = x.shape[0];
  if (y.length !== N) throw new Error(`${f}: y must have ${N} labels for x of shape ${shapeStr(x.shape)}, got ${y.length}`);
  if (!(eps >= 0) || !Number.isFinite(eps)) throw new Error(`${f}: eps must be a finite number ≥ 0, got ${eps}`);
  assertFinite(x, f);
  for (let i = 0; i < x.size; i++) {
    const v = x.data[i];
    if (v < 0 || v > 1) throw new Error(`${f}: x must lie in [0, 1], got ${v} at flat index ${i}`);
  }
}

/** MI-FGSM: v ← μ·v + g/‖g‖₁ (per example, in place); returns v. */
function accumulate(v: Float64Array, g: Data, mu: number): Float64Array {
  const l = norm1(g);
  const inv = l > 0 ? 1 / l : 0;
  for (let j = 0; j < g.length; j++) v[j] = mu * v[j] + g[j] * inv;
  return v;
}

/** The memo's entry for `key`, computed on first use. */
function memoized(memo: GradientMemo, key: string, compute: () => { dx: Tensor; logits: Tensor }) {
  let hit = memo.get(key);
  if (!hit) {
    const { dx, logits } = compute();
    hit = { dx, logits };
    memo.set(key, hit);
  }
  return hit;
}

function gather(x: Tensor, rows: number[]): Tensor {
  const N = x.shape[0];
  if (rows.length === N) return new Tensor(copyOf(x.data), x.shape);
  const D = x.size / N;
  const out = alloc(x.dtype, rows.length * D);
  rows.forEach((n, i) => out.set(x.data.subarray(n * D, (n + 1) * D), i * D));
  return new Tensor(out, [rows.length, ...x.shape.slice(1)]);
}

function pick(a: Int32Array, rows: number[]): Int32Array {
  return Int32Array.from(rows, (n) => a[n]);
}
