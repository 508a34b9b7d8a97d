// FAB, the fast adaptive boundary attack: Croce & Hein, "Minimally distorted adversarial examples with a fast adaptive
// boundary attack", ICML 2020 (arXiv 1907.02044), Algorithm 1, L∞ and L2, with the defaults of the authors' code
// (fra31/auto-attack, fab_base.py: 100 iterations, α_max = 0.1, η = 1.05, β = 0.9). Per iteration, at the iterate x⁽ⁱ⁾:
//   s = argmin_{k≠y} |f_k| / ‖∇f_k‖_q,  f_k = z_k − z_y  (q the dual norm; FAB-T: the one target's f_t only)
//   π(p) = projection of p onto {z : f_s + ∇f_s·(z − x⁽ⁱ⁾) = 0} ∩ [0,1]ᴰ,  d₁ = π(x⁽ⁱ⁾) − x⁽ⁱ⁾,  d₂ = π(x) − x
//   α = min(‖d₁‖ / (‖d₁‖ + ‖d₂‖), α_max),  x⁽ⁱ⁺¹⁾ = clip[0,1]((1 − α)(x⁽ⁱ⁾ + η·d₁) + α(x + η·d₂))
//   on success keep x⁽ⁱ⁺¹⁾ if it is the closest so far and step back: x⁽ⁱ⁺¹⁾ ← x + β(x⁽ⁱ⁺¹⁾ − x).
// Shapes: x [N, ...] in [0, 1], y [N]. Only the initially correct examples are attacked; restarts start at a random
// point at distance ε/2 and only run on the examples not yet fooled within ε. FAB-T targets the 2nd … (k+1)-th most
// likely classes at x in turn (k = 9 by default). Success is "misclassified within ε", as in the reference.
import { Rng } from '../engine/random.js';
import { Tensor } from '../engine/tensor.js';
import type { Sequential } from '../layers/sequential.js';
import { argmax, inEvalMode, predict } from '../layers/predict.js';
import type { AttackOptions } from './attack.js';
import { kernels } from '../engine/kernels/kernels.js';
import { logitDiffGradient, logitJacobian } from './logit-jacobian.js';
import {
  checkInt, checkMinNormInput, checkRange, finishMinNorm, perturbationNorm, withinEps, type MinNormAttack, type MinNormResult,
} from './min-norm.js';
import { settings } from './settings.js';

export interface FABOptions extends AttackOptions {
  /** The norm FAB minimises and ε is measured in. */
  norm: 'linf' | 'l2';
  /** Iterations per run (default 100). */
  steps?: number;
  /** Runs per example (per target for FAB-T); the first starts at x, the others at a random point at ε/2 (default 1). */
  restarts?: number;
  /** FAB-T: how many of the most likely other classes are tried as targets (default 9). */
  nTargetClasses?: number;
  /** α_max, the largest weight of the bias toward the original point (default 0.1). */
  alpha?: number;
  /** β, the backward step toward x after a success (default 0.9). */
  beta?: number;
  /** η, the overshoot of the projection step (default 1.05). */
  eta?: number;
  /** Called after each iteration with the fraction of this call's work done (for progress bars). */
  onProgress?: (fraction: number) => void;
}

/** The dual norm of a gradient row (L∞ ↔ L1, L2 ↔ L2), which picks the closest boundary. */
function dualNorm(norm: 'linf' | 'l2'): (g: ArrayLike<number>) => number {
  return norm === 'linf' ? sumAbs : (g) => Math.sqrt(sumSq(g));
}

interface RunSpec {
  model: Sequential;
  x0: Float32Array; // [bs·D], the clean examples being attacked
  y: Int32Array; // [bs]
  shape: readonly number[]; // one example's shape
  /** FAB-T's target per example (the linearised boundary of z_t − z_y only). */
  target: Int32Array | null;
  /** Success means "classified as target" (an explicit targeted run) instead of "misclassified". */
  hitTarget: boolean;
  norm: 'linf' | 'l2';
  steps: number;
  eps: number;
  alphaMax: number;
  beta: number;
  eta: number;
  rng: Rng | null; // null: start at x
  progress: (fraction: number) => void;
}

/** One FAB run (the reference's attack_single_run): the closest adversarial point per example, Infinity if none. */
function fabRun(s: RunSpec): { adv: Float32Array; dist: Float64Array } {
  const { model, x0, y, norm, steps, eta, beta, alphaMax } = s;
  const bs = y.length;
  const D = bs ? x0.length / bs : 0;
  const dual = dualNorm(norm);
  const x1 = x0.slice();
  const adv = x0.slice();
  const dist = new Float64Array(bs).fill(Infinity);
  if (s.rng) randomStart(x1, x0, bs, D, s.eps, norm, s.rng);
  // per row: w, the gradient of the linearised boundary function, and f, its value at x⁽ⁱ⁾
  const w = new Float64Array(bs * D), f = new Float64Array(bs);
  for (let it = 0; it < steps; it++) {
    const xt = new Tensor(x1, [bs, ...s.shape]);
    if (s.target) {
      const { logits, dx } = logitDiffGradient(model, xt, s.target, y);
      const C = logits.shape[1];
      // f = z_t − z_y, ∇f from the one backward pass
      for (let i = 0; i < bs; i++) f[i] = logits.data[i * C + s.target[i]] - logits.data[i * C + y[i]];
      w.set(dx.data);
    } else {
      const { logits, jacobian, C } = logitJacobian(model, xt);
      for (let i = 0; i < bs; i++) {
        // s = argmin_{k≠y} |z_k − z_y| / ‖∇z_k − ∇z_y‖_q  (the reference adds 1e-12 to the denominator)
        const yi = y[i], wi = w.subarray(i * D, (i + 1) * D);
        const gy = jacobian.subarray((i * C + yi) * D, (i * C + yi + 1) * D);
        let best = -1, bestDist = Infinity;
        for (let k = 0; k < C; k++) {
          if (k === yi) continue;
          const gk = jacobian.subarray((i * C + k) * D, (i * C + k + 1) * D);
          for (let j = 0; j < D; j++) wi[j] = gk[j] - gy[j];
          const dk = Math.abs(logits.data[i * C + k] - logits.data[i * C + yi]) / (1e-12 + dual(wi));
          if (best < 0 || dk < bestDist) { best = k; bestDist = dk; }
        }
        const gk = jacobian.subarray((i * C + best) * D, (i * C + best + 1) * D);
        for (let j = 0; j < D; j++) wi[j] = gk[j] - gy[j];
        f[i] = logits.data[i * C + best] - logits.data[i * C + yi];
      }
    }
    // the projection step of every row (the kernel's reference: fabStep in engine/kernels/fab-projections.ts)
    kernels().fabStep(x1, x0, w, f, D, norm, eta, alphaMax);
    // Which iterates are adversarial now; keep the closest and step back toward x.
    const pred = argmax(predict(model, new Tensor(x1, [bs, ...s.shape])));
    for (let i = 0; i < bs; i++) {
      if (s.hitTarget ? pred[i] !== s.target![i] : pred[i] === y[i]) continue;
      const a = x1.subarray(i * D, (i + 1) * D), o = x0.subarray(i * D, (i + 1) * D);
      const t = perturbationNorm(a, o, norm);
      if (t < dist[i]) {
        dist[i] = t;
        adv.set(a, i * D);
      }
      // x⁽ⁱ⁾ ← x + β(x⁽ⁱ⁾ − x)
      for (let j = 0; j < D; j++) a[j] = o[j] + (a[j] - o[j]) * beta;
    }
    s.progress((it + 1) / steps);
  }
  return { adv, dist };
}

/** The reference's random start: x + (ε/2)·t/‖t‖ with t uniform in [−1, 1]ᴰ (L∞) or gaussian (L2), clipped to [0, 1]. */
function randomStart(x1: Float32Array, x0: Float32Array, bs: number, D: number, eps: number, norm: 'linf' | 'l2', rng: Rng): void {
  const t = new Float64Array(D);
  for (let i = 0; i < bs; i++) {
    for (let j = 0; j < D; j++) t[j] = norm === 'linf' ? rng.uniform(-1, 1) : rng.normal();
    const len = norm === 'linf' ? maxAbs(t) : Math.sqrt(sumSq(t));
    const k = len > 0 ? (0.5 * eps) / len : 0;
    for (let j = 0; j < D; j++) x1[i * D + j] = Math.min(1, Math.max(0, x0[i * D + j] + k * t[j]));
  }
}

/**
 * FAB as a whole (the reference's perturb): untargeted, FAB-T over the most likely other classes, or toward given
 * targets (opts.targets: success means reaching the target). Returns the ε-bounded result and the minimal points.
 * @example
 *   const r = fabAttack(model, x, y, { eps: 0.3, norm: 'linf' }, false);
 *   console.log(r.distances);   // ‖δₙ‖∞ of the closest adversarial point FAB found
 */
export function fabAttack(model: Sequential, x: Tensor, y: Int32Array, opts: FABOptions, targeted: boolean): MinNormResult {
  const f = targeted ? 'fabT' : 'fab';
  const norm = opts.norm;
  if (norm !== 'linf' && norm !== 'l2') throw new Error(`${f}: norm must be 'linf' or 'l2', got '${String(norm)}'`);
  const steps = opts.steps ?? 100, restarts = opts.restarts ?? 1, nTargets = opts.nTargetClasses ?? 9;
  const alphaMax = opts.alpha ?? 0.1, beta = opts.beta ?? 0.9, eta = opts.eta ?? 1.05, seed = opts.seed ?? 0;
  checkInt(f, 'steps', steps, 0);
  checkInt(f, 'restarts', restarts, 1);
  checkInt(f, 'nTargetClasses', nTargets, 1);
  checkRange(f, 'alpha', alphaMax, 0, 1);
  checkRange(f, 'beta', beta, 0, 1);
  checkRange(f, 'eta', eta, 0);
  if (!Number.isFinite(seed)) throw new Error(`${f}: seed must be a finite number, got ${seed}`);
  return inEvalMode(model, () => {
    const cleanLogits = predict(model, x);
    const C = cleanLogits.shape[1];
    checkMinNormInput(f, x, y, opts.eps, C, opts.targets);
    const N = x.shape[0], D = N ? x.size / N : 0, shape = x.shape.slice(1);
    const clean = argmax(cleanLogits);
    const minimal = x.detach();
    const distances = new Float64Array(N).fill(Infinity);
    const robust = new Uint8Array(N); // correct at x and not yet fooled within ε
    for (let n = 0; n < N; n++) {
      if (clean[n] === y[n]) robust[n] = 1;
      else distances[n] = 0;
    }
    const iterations = new Int32Array(N);
    const bound = withinEps(opts.eps);
    const x32 = Float32Array.from(x.data);

    // One FAB run on the still-robust examples (toward pickTarget(n) when given); runs counts them for progress.
    const totalRuns = restarts * (opts.targets || !targeted ? 1 : Math.max(Math.min(nTargets + 1, C) - 1, 1));
    let runs = 0;
    const runOn = (r: number, label: number, pickTarget: ((n: number) => number) | null, hitTarget: boolean) => {
      const todo: number[] = [];
      for (let n = 0; n < N; n++) if (robust[n]) todo.push(n);
      const k = runs++;
      if (!todo.length) return;
      const x0 = new Float32Array(todo.length * D);
      todo.forEach((n, i) => x0.set(x32.subarray(n * D, (n + 1) * D), i * D));
      const { adv, dist } = fabRun({
        model, x0, y: Int32Array.from(todo, (n) => y[n]), shape, norm, steps, eps: opts.eps, alphaMax, beta, eta, hitTarget,
        target: pickTarget ? Int32Array.from(todo, pickTarget) : null,
        rng: r > 0 ? Rng.derive(seed, label, r) : null,
        progress: (f) => opts.onProgress?.((k + f) / totalRuns),
      });
      todo.forEach((n, i) => {
        iterations[n] += steps;
        if (dist[i] < distances[n]) {
          distances[n] = dist[i];
          minimal.data.set(adv.subarray(i * D, (i + 1) * D), n * D);
        }
        if (dist[i] <= bound) robust[n] = 0;
      });
    };

    if (opts.targets) {
      const t = opts.targets;
      for (let r = 0; r < restarts; r++) runOn(r, 0, (n) => t[n], true);
    } else if (targeted) {
      // The k-th most likely class at x for k = 2 … nTargets + 1 (the 1st is the label: only correct points are attacked).
      const ranked = rankClasses(cleanLogits);
      for (let k = 2; k <= Math.min(nTargets + 1, C); k++) {
        for (let r = 0; r < restarts; r++) runOn(r, k, (n) => ranked[n * C + k - 1], false);
      }
    } else {
      for (let r = 0; r < restarts; r++) runOn(r, 0, null, false);
    }
    opts.onProgress?.(1);
    return finishMinNorm(model, x, y, minimal, distances, norm, opts.eps, iterations, opts.targets, cleanLogits);
  });
}

/** Per example, the classes by decreasing logit (ties: lower class first). */
function rankClasses(logits: Tensor): Int32Array {
  const [N, C] = logits.shape;
  const out = new Int32Array(N * C);
  const idx = Array.from({ length: C }, (_, c) => c);
  for (let n = 0; n < N; n++) {
    const z = logits.data.subarray(n * C, (n + 1) * C);
    const order = idx.slice().sort((a, b) => z[b] - z[a] || a - b);
    out.set(order, n * C);
  }
  return out;
}

function make(name: string, targeted: boolean): MinNormAttack<FABOptions> {
  return {
    name,
    kind: 'white-box',
    norm: 'linf',
    settings: [{ ...settings.steps, default: '100' }, { ...settings.restarts, default: '1' }],
    run: (model, x, y, opts) => fabAttack(model, x, y, { ...opts, norm: opts.norm ?? 'linf' }, targeted),
    // At ε = 0 no point counts as broken early, so every target and restart runs on every point and the distance is
    // the minimum over them all: a point is robust at ε exactly when every run's distance exceeds ε, as in a run at ε
    // alone. Restarts after the first start inside the ε-ball, so they tie the search to ε.
    sweepOptions: (opts) => ((opts.restarts ?? 1) > 1 ? null : { ...opts, eps: 0 }),
  };
}

/**
 * FAB, untargeted (Croce & Hein 2020): the closest point on the linearised boundary of the nearest class, biased toward
 * x; one forward and C backward passes per iteration. `norm` defaults to 'linf' when omitted.
 * @example
 *   const r = fab.run(model, x, y, { eps: 0.3, norm: 'linf', seed: 0 });
 *   const fooled = r.success.reduce((a, b) => a + b, 0);
 */
export const fab: MinNormAttack<FABOptions> = make('fab', false);

/**
 * FAB-T (the AutoAttack stage): FAB toward the 2nd … 10th most likely classes in turn, each on the points still robust;
 * one forward and one backward pass per iteration.
 * @example
 *   const r = fabT.run(model, x, y, { eps: 0.3, norm: 'linf', seed: 0, nTargetClasses: 9, restarts: 1, steps: 100 });
 *   // r.adversarial lies in the ε-ball of x and in [0, 1]; r.success[n] = misclassified within ε
 */
export const fabT: MinNormAttack<FABOptions> = make('fab-t', true);

function sumAbs(v: ArrayLike<number>): number {
  let s = 0;
  for (let j = 0; j < v.length; j++) s += Math.abs(v[j]);
  return s;
}

function sumSq(v: ArrayLike<number>): number {
  let s = 0;
  for (let j = 0; j < v.length; j++) s += v[j] * v[j];
  return s;
}

function maxAbs(v: ArrayLike<number>): number {
  let m = 0;
  for (let j = 0; j < v.length; j++) m = Math.max(m, Math.abs(v[j]));
  return m;
}
