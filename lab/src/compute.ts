// What the lab computes, with nablax's own code (the same src/ as the CLI): probabilities, ∇x, the attacks, the
// trace of the backward pass, and the linear argument's numbers. No DOM here, so it reads like the CLI's code.
import { inputGradient } from '../../src/attacks/input-gradient.js';
import { fgsm } from '../../src/attacks/fgsm.js';
import { pgd } from '../../src/attacks/pgd.js';
import { onePixel } from '../../src/attacks/one-pixel.js';
import { square } from '../../src/attacks/square.js';
import { ScoreOracle } from '../../src/attacks/oracle.js';
import type { AttackResult } from '../../src/attacks/attack.js';
import { softmax } from '../../src/engine/ops/loss.js';
import { Tensor } from '../../src/engine/tensor.js';
import type { Sequential } from '../../src/layers/sequential.js';
import { predict } from '../../src/layers/predict.js';

export const PIXELS = 28 * 28;

/** n images (784 pixels each, one after another) as the model's input tensor [n, ...model.input] (float32, a copy). */
export function inputOf(model: Sequential, pixels: Float32Array, n = 1): Tensor {
  return new Tensor(pixels.slice(0, n * PIXELS), [n, ...model.input]);
}

/**
 * Softmax probabilities of n images (one by default), as `nablax` computes them: softmax(predict(model, x)), [n, 10].
 * @example
 *   const p = probabilities(model, pixels);   // Float32Array(10)
 */
export function probabilities(model: Sequential, pixels: Float32Array, n = 1): Float32Array {
  return softmax(predict(model, inputOf(model, pixels, n))).data as Float32Array;
}

/** Index of the largest value (the first on ties, as argmax in src/layers/predict.ts). */
export function top(v: ArrayLike<number>): number {
  let best = 0;
  for (let c = 1; c < v.length; c++) if (v[c] > v[best]) best = c;
  return best;
}

export type AttackName = 'fgsm' | 'pgd' | 'one-pixel' | 'square';

export interface AttackSetting {
  attack: AttackName;
  eps: number;
  /** PGD steps k; step size 2.5·ε/k. */
  steps: number;
  /** Target class, or null for untargeted. */
  target: number | null;
}

export interface LabAttack {
  adversarial: Float32Array;
  probs: Float32Array;
  predicted: number;
  success: boolean;
  queries: number | null;
  iterations: number;
}

/**
 * Run an attack on one image with label y (seed 0, so reruns are the same bits), and the model's probabilities on
 * the result. White-box: FGSM, PGD-k with α = 2.5·ε/k and a random start; black-box (score oracle, counting
 * queries): one-pixel (1 pixel, population 100, ≤ 30 generations) and Square (≤ 1,000 queries).
 * @example
 *   const r = runAttack(model, pixels, 7, { attack: 'fgsm', eps: 0.1, steps: 40, target: null });
 */
export function runAttack(model: Sequential, pixels: Float32Array, y: number, s: AttackSetting): LabAttack {
  const x = inputOf(model, pixels);
  const labels = Int32Array.of(y);
  const targets = s.target === null ? undefined : Int32Array.of(s.target);
  let r: AttackResult;
  switch (s.attack) {
    case 'fgsm':
      r = fgsm.run(model, x, labels, { eps: s.eps, targets });
      break;
    case 'pgd':
      r = pgd.run(model, x, labels, { eps: s.eps, steps: s.steps, stepSize: (2.5 * s.eps) / s.steps, seed: 0, targets });
      break;
    case 'one-pixel':
      r = onePixel.run(new ScoreOracle(model), x, labels, { eps: 0, pixels: 1, population: 100, generations: 30, seed: 0, targets });
      break;
    case 'square':
      r = square.run(new ScoreOracle(model), x, labels, { eps: s.eps, maxQueries: 1000, seed: 0, targets });
      break;
  }
  const adversarial = r.adversarial.data as Float32Array;
  const probs = probabilities(model, adversarial);
  return { adversarial, probs, predicted: top(probs), success: r.success[0] === 1, queries: r.queries ? r.queries[0] : null, iterations: r.iterations[0] };
}

/**
 * ∇x J(x, y) for one image (the loss at label y), and the logits.
 * @example
 *   const { dx } = gradientOf(model, pixels, 7);
 */
export function gradientOf(model: Sequential, pixels: Float32Array, y: number): { dx: Float32Array; logits: Float32Array; loss: number } {
  const g = inputGradient(model, inputOf(model, pixels), [y]);
  return { dx: g.dx.data as Float32Array, logits: g.logits.data as Float32Array, loss: g.loss };
}

/** The softmax model's Dense weights W [C, 784] and bias b [C], found by shape; null for another architecture. */
export function linearWeights(model: Sequential): { W: Float32Array; b: Float32Array; C: number } | null {
  const params = model.parameters();
  const dense = model.spec().layers.filter((l) => l.type === 'dense');
  if (dense.length !== 1) return null;
  const w = params.find(([, t]) => t.shape.length === 2 && t.shape[1] === PIXELS);
  const b = params.find(([n, t]) => t.shape.length === 1 && w && n === w[0].replace(/weight$/, 'bias'));
  if (!w || !b) return null;
  return { W: w[1].data as Float32Array, b: b[1].data as Float32Array, C: w[1].shape[0] };
}

export interface LinearArgument {
  y: number;
  /** Runner-up class: the largest other logit. */
  j: number;
  /** z_y − z_j. */
  margin: number;
  /** m = mean |W_j − W_y|. */
  m: number;
  n: number;
  /** ε·m·n at the given ε. */
  gain: number;
  /** (z_j − z_y)(x + ε·sign(W_j − W_y)) − (z_j − z_y)(x), through the model's forward (unclipped). */
  measured: number;
  /** The ε at which ε·m·n reaches the margin. */
  flipAt: number;
}

/**
 * Goodfellow et al. 2015, §3 (η = ε·sign(w) changes wᵀx by ε·m·n) for the softmax model, with w = W_j − W_y:
 * the predicted gain against the logit margin, and the gain measured through the model.
 * @example
 *   const a = linearArgument(softmaxModel, pixels, 7, 0.1);   // a.gain ≈ a.measured
 */
export function linearArgument(model: Sequential, pixels: Float32Array, y: number, eps: number): LinearArgument | null {
  const lw = linearWeights(model);
  if (!lw) return null;
  const z = predict(model, inputOf(model, pixels)).data;
  let j = y === 0 ? 1 : 0;
  for (let c = 0; c < lw.C; c++) if (c !== y && z[c] > z[j]) j = c;
  const n = PIXELS;
  const shifted = new Float32Array(n);
  let l1 = 0;
  for (let i = 0; i < n; i++) {
    const w = lw.W[j * n + i] - lw.W[y * n + i];
    l1 += Math.abs(w);
    shifted[i] = pixels[i] + eps * Math.sign(w);
  }
  const m = l1 / n;
  const z2 = predict(model, inputOf(model, shifted)).data;
  const margin = z[y] - z[j];
  return { y, j, margin, m, n, gain: eps * m * n, measured: (z2[j] - z2[y]) - (z[j] - z[y]), flipAt: margin / (m * n) };
}

/**
 * The logits along the FGSM direction, x + ε·sign(∇x J(x, y)) for each ε (unclipped, as in Goodfellow et al. 2015,
 * Fig. 4): [εs.length][C], in one batch.
 * @example
 *   const curves = logitsAlongFgsm(model, pixels, 7, [-0.5, 0, 0.5]);
 */
export function logitsAlongFgsm(model: Sequential, pixels: Float32Array, y: number, epsList: number[]): Float32Array[] {
  const { dx } = gradientOf(model, pixels, y);
  const B = epsList.length;
  const xs = new Float32Array(B * PIXELS);
  epsList.forEach((eps, k) => {
    for (let i = 0; i < PIXELS; i++) xs[k * PIXELS + i] = pixels[i] + eps * Math.sign(dx[i]);
  });
  const z = predict(model, new Tensor(xs, [B, ...model.input])).data as Float32Array;
  const C = z.length / B;
  return epsList.map((_, k) => z.slice(k * C, (k + 1) * C));
}
