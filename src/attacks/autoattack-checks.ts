// The checks AutoAttack runs on a model before and after attacking it (Croce & Hein 2020; the reference's
// autoattack/checks.py and flags_doc.md): outputs that change across calls (a randomised defence: use 'rand'),
// outputs that look like probabilities instead of logits (saturated losses hide gradients), too few classes for
// the targeted stages, zero gradients on some points, and Square breaking points the white-box stages missed
// (gradient masking). Each returns a flag with the measured quantity and, when raised, a one-line warning.
import { Tensor } from '../engine/tensor.js';
import type { Sequential } from '../layers/sequential.js';
import { predict } from '../layers/predict.js';

export interface AutoAttackCheck {
  name: 'randomized' | 'probabilities' | 'classes' | 'zero-gradients' | 'square';
  flagged: boolean;
  /** The measured quantity (max output difference, zero-gradient points, accuracy drop by Square, ...). */
  value: number;
  warning?: string;
}

/**
 * Run the model 5 times on x (evaluation mode, as the attacks see it): flagged when the predictions' correct count
 * or the L2-normalised logits differ by more than 1e-4 between any two calls.
 * @example
 *   const c = checkRandomized(model, x, y);   // c.flagged: use version 'rand'
 *   if (c.warning) console.error(c.warning);
 */
export function checkRandomized(model: Sequential, x: Tensor, y: Int32Array, calls = 5, alpha = 1e-4): AutoAttackCheck {
  const outs: Float64Array[] = [];
  const correct: number[] = [];
  let C = 0;
  for (let k = 0; k < calls; k++) {
    const z = predict(model, x);
    C = z.shape[1];
    const N = z.shape[0];
    const o = new Float64Array(z.size);
    let ok = 0;
    for (let n = 0; n < N; n++) {
      let s = 0, top = 0;
      for (let c = 0; c < C; c++) {
        s += z.data[n * C + c] ** 2;
        if (z.data[n * C + c] > z.data[n * C + top]) top = c;
      }
      if (top === y[n]) ok++;
      const norm = Math.sqrt(s) + 1e-10;
      for (let c = 0; c < C; c++) o[n * C + c] = z.data[n * C + c] / norm;
    }
    outs.push(o);
    correct.push(ok);
  }
  let maxDiff = 0;
  for (let a = 0; a < calls; a++) {
    for (let b = a + 1; b < calls; b++) {
      for (let n = 0; n < outs[a].length / C; n++) {
        let s = 0;
        for (let c = 0; c < C; c++) s += (outs[a][n * C + c] - outs[b][n * C + c]) ** 2;
        maxDiff = Math.max(maxDiff, Math.sqrt(s));
      }
    }
  }
  const flagged = maxDiff > alpha || correct.some((c) => c !== correct[0]);
  return { name: 'randomized', flagged, value: maxDiff, warning: flagged ? `the model's outputs change across calls (max difference ${maxDiff.toExponential(2)}): it seems to be a randomised defence; use version 'rand'` : undefined };
}

/**
 * Flagged when every output lies in [0, 1] and each row sums to 1 (within 1e-5): probabilities, not logits.
 * @example
 *   const c = checkProbabilities(predict(model, x));
 *   c.flagged;   // false for nablax's models, whose last layer is linear
 */
export function checkProbabilities(logits: Tensor, alpha = 1e-5): AutoAttackCheck {
  const [N, C] = logits.shape;
  let max = -Infinity, min = Infinity, sumsOk = true;
  for (let n = 0; n < N; n++) {
    let s = 0;
    for (let c = 0; c < C; c++) {
      const v = logits.data[n * C + c];
      max = Math.max(max, v);
      min = Math.min(min, v);
      s += v;
    }
    if (Math.abs(s - 1) >= alpha) sumsOk = false;
  }
  const flagged = max < 1 + alpha && min > -alpha && sumsOk;
  return { name: 'probabilities', flagged, value: max, warning: flagged ? 'the model seems to output a probability distribution: attack the logits' : undefined };
}

/**
 * Flagged when the DLR losses or the targeted stages cannot work with C classes (DLR needs 3, targeted DLR 4,
 * k targets need k + 1 classes).
 * @example
 *   checkClasses(10, ['apgd-ce', 'apgd-t'], 9).flagged;   // false
 */
export function checkClasses(C: number, stages: string[], targets: number): AutoAttackCheck {
  let warning: string | undefined;
  const dlr = stages.includes('apgd-dlr') || stages.includes('apgd-t');
  if (dlr && C <= 2) warning = `with only ${C} classes the DLR loss is not defined`;
  else if (stages.includes('apgd-t') && C === 3) warning = `with only ${C} classes the targeted DLR loss is not defined`;
  else if ((stages.includes('apgd-t') || stages.includes('fab-t')) && targets + 1 > C) warning = `${targets} target classes requested but only ${C - 1} exist: ${C - 1} are used`;
  return { name: 'classes', flagged: warning !== undefined, value: C, warning };
}

/**
 * Flagged when some attacked points had an exactly zero gradient at their first iterate.
 * @example
 *   checkZeroGradients(3).warning;   // 'there are 3 points with zero gradient: …'
 */
export function checkZeroGradients(count: number): AutoAttackCheck {
  const flagged = count > 0;
  return { name: 'zero-gradients', flagged, value: count, warning: flagged ? `there are ${count} points with zero gradient: gradient-based attacks may be unreliable on them` : undefined };
}

/**
 * Flagged when Square lowered the robust accuracy by more than 0.2 points below every earlier stage: a black-box
 * attack beating the white-box ones is a sign of gradient masking.
 * @example
 *   checkSquare(0.90, 0.85).flagged;   // true: Square broke 5% the white-box stages missed
 */
export function checkSquare(beforeSquare: number, afterSquare: number, alpha = 0.002): AutoAttackCheck {
  const drop = beforeSquare - afterSquare;
  const flagged = drop > alpha;
  return {
    name: 'square', flagged, value: drop,
    warning: flagged ? `Square lowered the robust accuracy by ${(100 * drop).toFixed(2)} points after the white-box stages: the evaluation may be unreliable (gradient masking?); try more Square queries and restarts or an adaptive attack` : undefined,
  };
}

/**
 * The warning when a PGD figure exceeds the AutoAttack figure on the same images by more than 2 points (accuracies
 * in [0, 1]): the single PGD run overstates robustness (Croce & Hein 2020, §5: 3–6 points on published MNIST models).
 * @example
 *   autoattackGapWarning(0.90, 0.85, 'apgd-ce+apgd-t', 0.3);   // 'PGD-40 overstates robustness by 5.0 points (…)'
 *   autoattackGapWarning(0.90, 0.89, 'apgd-ce+apgd-t', 0.3);   // null
 */
export function autoattackGapWarning(pgdAccuracy: number, autoattackAccuracy: number, version: string, eps: number, pgdName = 'PGD-40'): string | null {
  // in points, rounded to 1e-9 so that 0.90 − 0.88 is 2 points, not 2.0000000000000013 (accuracies are k/N)
  const gap = Math.round(1e11 * (pgdAccuracy - autoattackAccuracy)) / 1e9;
  if (!(gap > 2)) return null;
  return `${pgdName} overstates robustness by ${gap.toFixed(1)} points (AutoAttack ${version} at ε = ${eps}: ${(100 * autoattackAccuracy).toFixed(1)}%, ` +
    `${pgdName} ${(100 * pgdAccuracy).toFixed(1)}%); report the AutoAttack figure`;
}
