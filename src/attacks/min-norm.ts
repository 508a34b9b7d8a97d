// Minimum-norm attacks (FAB, DeepFool, Carlini–Wagner L2) look for the smallest perturbation that changes the label;
// this file holds what they share: the result type (the minimal adversarial points and their norms ‖δₙ‖ beside the
// ε-bounded AttackResult), the ε-bounded result built from the minimal points, and the summary of one run: median
// and quantiles of ‖δ‖ and accuracy as a function of ε (a point is robust at ε when no adversarial point was found
// within ε). Shapes: x [N, ...] in [0, 1], y [N]; distances [N] (0: misclassified at x; Infinity: none found).
import { Tensor, assertFinite, shapeStr } from '../engine/tensor.js';
import type { Sequential } from '../layers/sequential.js';
import { argmax, predict } from '../layers/predict.js';
import type { AttackOptions, AttackResult, WhiteBoxAttack } from './attack.js';

export interface MinNormResult extends AttackResult {
  /** The norm ‖δ‖ is measured in. */
  distanceNorm: 'linf' | 'l2';
  /** ‖x'ₙ − xₙ‖ of the smallest adversarial point found (measured in float64 on the float32 images); 0 for an
   *  example misclassified at x, Infinity when the attack found none. */
  distances: Float64Array;
  /** The smallest adversarial points found, whatever their norm (xₙ where none was found); shape of x. */
  minimal: Tensor;
}

/** A white-box attack whose result also carries the minimal-norm perturbations. */
export interface MinNormAttack<O extends AttackOptions, R extends MinNormResult = MinNormResult> extends WhiteBoxAttack<O, R> {
  run(model: Sequential, x: Tensor, y: Int32Array, opts: O): R;
  /**
   * The options of one run whose minimal points answer every ε at once (the ε-bounded result at ε is
   * finishMinNorm(…, ε) of that run, as a run at ε alone would give it), or null when these options make the search
   * itself depend on ε (FAB's random restarts start inside the ε-ball).
   */
  sweepOptions(opts: O): O | null;
}

/**
 * Whether an attack of the record is a minimum-norm attack (FAB, DeepFool, CW-L2).
 * @example
 *   isMinNormAttack(whiteBoxAttacks.fab);    // true
 *   isMinNormAttack(whiteBoxAttacks.pgd);    // false
 */
export function isMinNormAttack(a: { kind: string }): a is MinNormAttack<AttackOptions> {
  return a.kind === 'white-box' && typeof (a as Partial<MinNormAttack<AttackOptions>>).sweepOptions === 'function';
}

/**
 * The largest ‖δ‖ counted as "within ε": ε itself, or its float32 rounding when that is smaller, so that a success is
 * within ε both in float64 and in the float32 arithmetic of a reference implementation.
 * @example
 *   withinEps(0.3);   // 0.3 (Math.fround(0.3) = 0.30000001…)
 */
export function withinEps(eps: number): number {
  return Math.min(eps, Math.fround(eps));
}

/** ‖a − b‖ (L∞ or L2) of two rows, in float64. @example perturbationNorm([0, 1], [0.5, 1], 'linf'); // 0.5 */
export function perturbationNorm(a: ArrayLike<number>, b: ArrayLike<number>, norm: 'linf' | 'l2'): number {
  let m = 0;
  if (norm === 'linf') {
    for (let j = 0; j < a.length; j++) m = Math.max(m, Math.abs(a[j] - b[j]));
    return m;
  }
  for (let j = 0; j < a.length; j++) m += (a[j] - b[j]) ** 2;
  return Math.sqrt(m);
}

/**
 * Check what every minimum-norm attack receives: x [N, ...] finite in [0, 1], N labels in 0..C−1, ε ≥ 0, targets.
 * @example
 *   checkMinNormInput('deepfool', x, y, opts.eps, 10);
 */
export function checkMinNormInput(f: string, x: Tensor, y: Int32Array, eps: number, C: number, targets?: Int32Array): void {
  const N = x.shape[0];
  if (x.ndim < 2) throw new Error(`${f}: x must be [N, ...] with N images, got ${shapeStr(x.shape)}`);
  if (y.length !== N) throw new Error(`${f}: y must have ${N} labels for x of shape ${shapeStr(x.shape)}, got ${y.length}`);
  if (!(eps >= 0) || !Number.isFinite(eps)) throw new Error(`${f}: eps must be a finite number ≥ 0, got ${eps}`);
  for (let n = 0; n < N; n++) {
    if (!(Number.isInteger(y[n]) && y[n] >= 0 && y[n] < C)) throw new Error(`${f}: y[${n}] must be a class in 0..${C - 1}, got ${y[n]}`);
  }
  if (targets) {
    if (targets.length !== N) throw new Error(`${f}: targets must have ${N} entries for x of shape ${shapeStr(x.shape)}, got ${targets.length}`);
    for (let n = 0; n < N; n++) {
      if (!(targets[n] >= 0 && targets[n] < C)) throw new Error(`${f}: targets[${n}] must be a class in 0..${C - 1}, got ${targets[n]}`);
      if (targets[n] === y[n]) throw new Error(`${f}: targets[${n}] must differ from the true label, got ${y[n]} for both`);
    }
  }
  assertFinite(x, f);
  for (let i = 0; i < x.size; i++) {
    const v = x.data[i];
    if (v < 0 || v > 1) throw new Error(`${f}: x must lie in [0, 1], got ${v} at flat index ${i}`);
  }
}

/** Check an integer option ≥ lo. */
export function checkInt(f: string, name: string, v: number, lo: number): void {
  if (!Number.isInteger(v) || v < lo) throw new Error(`${f}: ${name} must be an integer ≥ ${lo}, got ${v}`);
}

/** Check a finite number option in [lo, hi]. */
export function checkRange(f: string, name: string, v: number, lo: number, hi = Infinity): void {
  if (!Number.isFinite(v) || v < lo || v > hi) throw new Error(`${f}: ${name} must be a finite number in [${lo}, ${hi}], got ${v}`);
}

/**
 * The ε-bounded result from the minimal points: x'ₙ = minimalₙ when ‖δₙ‖ ≤ ε (see withinEps), else xₙ; success is
 * decided by one more forward pass on x' (misclassified, or classified as the target when targeted).
 * @example
 *   return finishMinNorm(model, x, y, minimal, distances, 'l2', opts.eps, iterations, opts.targets);
 */
export function finishMinNorm(
  model: Sequential, x: Tensor, y: Int32Array, minimal: Tensor, distances: Float64Array, norm: 'linf' | 'l2', eps: number,
  iterations: Int32Array, targets?: Int32Array, cleanLogits?: Tensor,
): MinNormResult {
  const N = x.shape[0];
  const D = N ? x.size / N : 0;
  const adversarial = x.detach();
  const bound = withinEps(eps);
  for (let n = 0; n < N; n++) {
    if (distances[n] <= bound) adversarial.data.set(minimal.data.subarray(n * D, (n + 1) * D), n * D);
  }
  const logits = predict(model, adversarial);
  const pred = argmax(logits);
  const success = new Uint8Array(N);
  for (let n = 0; n < N; n++) success[n] = (targets ? pred[n] === targets[n] : pred[n] !== y[n]) ? 1 : 0;
  const result: MinNormResult = { adversarial, success, iterations, earlyStopped: true, logits, distanceNorm: norm, distances, minimal };
  if (targets) result.targets = targets;
  if (cleanLogits) result.cleanLogits = cleanLogits;
  return result;
}

export interface MinNormSummary {
  norm: 'linf' | 'l2';
  count: number;
  /** Examples classified correctly at x (distance > 0). */
  initiallyCorrect: number;
  /** Initially correct examples for which an adversarial point was found. */
  found: number;
  /** Median ‖δ‖ over the initially correct examples (Infinity counts for "none found"). */
  median: number;
  quantiles: { q: number; value: number }[];
  /** Accuracy at each ε over all examples: the share with ‖δ‖ > ε (misclassified-at-x examples count as wrong). */
  accuracy: { eps: number; accuracy: number }[];
}

/**
 * Median, quantiles and accuracy-vs-ε of the minimal perturbations of one run (linear interpolation between order
 * statistics, as numpy's default).
 * @example
 *   const s = summarizeMinNorm(r.distances, 'l2', { epsilons: [0.5, 1, 1.5, 2] });
 *   console.log(s.median, s.accuracy);
 */
export function summarizeMinNorm(
  distances: ArrayLike<number>, norm: 'linf' | 'l2', opts: { epsilons?: number[]; quantiles?: number[] } = {},
): MinNormSummary {
  const qs = opts.quantiles ?? [0.1, 0.25, 0.5, 0.75, 0.9];
  for (const q of qs) if (!(q >= 0 && q <= 1)) throw new Error(`summarizeMinNorm: quantiles must lie in [0, 1], got ${q}`);
  const all = Array.from(distances);
  for (const d of all) if (!(d >= 0)) throw new Error(`summarizeMinNorm: distances must be ≥ 0 (or Infinity), got ${d}`);
  const correct = all.filter((d) => d > 0).sort((a, b) => a - b);
  const quantile = (q: number) => {
    if (!correct.length) return NaN;
    const h = (correct.length - 1) * q, lo = Math.floor(h), hi = Math.ceil(h);
    const a = correct[lo], b = correct[hi];
    return a === b || lo === hi ? a : b === Infinity ? Infinity : a + (h - lo) * (b - a);
  };
  const finite = correct.filter((d) => d < Infinity);
  const epsilons = opts.epsilons ?? defaultEpsilons(finite, norm);
  return {
    norm,
    count: all.length,
    initiallyCorrect: correct.length,
    found: finite.length,
    median: quantile(0.5),
    quantiles: qs.map((q) => ({ q, value: quantile(q) })),
    accuracy: epsilons.map((eps) => ({ eps, accuracy: all.length ? all.filter((d) => d > eps).length / all.length : NaN })),
  };
}

/** Ten ε from 0 to the largest finite distance (or the field's usual MNIST range when none was found). */
function defaultEpsilons(finite: number[], norm: 'linf' | 'l2'): number[] {
  const top = finite.length ? finite[finite.length - 1] : norm === 'linf' ? 0.3 : 2;
  return Array.from({ length: 11 }, (_, i) => (top * i) / 10);
}
