// Carlini–Wagner L2: Carlini & Wagner, "Towards Evaluating the Robustness of Neural Networks", IEEE S&P 2017
// (arXiv 1608.04644), §V-A, with the defaults of the authors' code (nn_robust_attacks/l2_attack.py and foolbox):
// Adam (lr 0.01) on w with x' = (tanh(w) + 1)/2, minimising per example
//   L(w) = ‖x' − x‖₂² + c·max(z_y − max_{i≠y} z_i, −κ)      (targeted: max(max_{i≠t} z_i − z_t, −κ))
// and a binary search over c (9 steps from 10⁻³: ×10 until a success, then bisection between the largest failing and
// the smallest successful c). Abort early when the loss stalls (checked every steps/10 iterations). One default
// differs: 1,000 Adam steps per c instead of the original's 10,000 (MNIST's saturated pixels start at w = ±7.25 and
// need hundreds of steps to move, so fewer than ~1,000 leaves many digits unbroken; see README).
// Shapes: x [N, ...] in [0, 1], y [N]; one forward and one backward pass per Adam step (∇x of z_y − z_j only).
import { Tensor } from '../engine/tensor.js';
import type { Sequential } from '../layers/sequential.js';
import { argmax, inEvalMode, predict } from '../layers/predict.js';
import type { AttackOptions } from './attack.js';
import { logitVjp } from './logit-jacobian.js';
import { checkInt, checkMinNormInput, checkRange, finishMinNorm, type MinNormAttack, type MinNormResult } from './min-norm.js';
import { settings } from './settings.js';

export interface CWOptions extends AttackOptions {
  /** Adam steps per value of c (default 1,000; the original allows 10,000 and stops early). */
  steps?: number;
  /** Values of c tried by the binary search (default 9). */
  binarySteps?: number;
  /** The first c (default 10⁻³). */
  initialConst?: number;
  /** κ, the confidence margin (default 0). */
  kappa?: number;
  /** Adam's learning rate (default 0.01). */
  lr?: number;
  /** Stop a value of c when the loss has not dropped by 0.01% over steps/10 iterations (default true). */
  abortEarly?: boolean;
  /** Called after each Adam step with the fraction of the budget (binarySteps × steps) spent (1 at the end). */
  onProgress?: (fraction: number) => void;
}

export interface CWResult extends MinNormResult {
  /** Per example, the largest c that failed and the smallest that succeeded (0 / Infinity when none did). */
  constLower: Float64Array;
  constUpper: Float64Array;
}

const BETA1 = 0.9, BETA2 = 0.999, ADAM_EPS = 1e-8;

/**
 * Carlini–Wagner L2 on a batch: the smallest successful perturbations (`distances`, `minimal`), the bracket of the
 * smallest successful c per example, and the ε-bounded result.
 * @example
 *   const r = carliniWagnerL2(model, x, y, { eps: 1.5, steps: 100 });
 *   console.log(r.distances, r.constUpper);
 */
export function carliniWagnerL2(model: Sequential, x: Tensor, y: Int32Array, opts: CWOptions): CWResult {
  const f = 'cw';
  const steps = opts.steps ?? 1000, binarySteps = opts.binarySteps ?? 9, c0 = opts.initialConst ?? 1e-3;
  const kappa = opts.kappa ?? 0, lr = opts.lr ?? 0.01, abortEarly = opts.abortEarly ?? true;
  checkInt(f, 'steps', steps, 0);
  checkInt(f, 'binarySteps', binarySteps, 1);
  checkRange(f, 'initialConst', c0, 0);
  checkRange(f, 'kappa', kappa, 0);
  checkRange(f, 'lr', lr, 0);
  return inEvalMode(model, () => {
    const cleanLogits = predict(model, x);
    const C = cleanLogits.shape[1];
    const targets = opts.targets;
    checkMinNormInput(f, x, y, opts.eps, C, targets);
    const N = x.shape[0], D = N ? x.size / N : 0, shape = x.shape.slice(1);
    const x0 = Float32Array.from(x.data);
    const minimal = x.detach();
    const distances = new Float64Array(N).fill(Infinity);
    const lower = new Float64Array(N), upper = new Float64Array(N).fill(Infinity);
    const iterations = new Int32Array(N);
    const c = new Float64Array(N).fill(c0);
    // Success with margin κ: the aimed-at class wins by κ (untargeted: some other class beats y by κ).
    const succeeds = (z: ArrayLike<number>, o: number, n: number) => {
      const [a, b] = aim(z, o, n);
      return z[o + a] - z[o + b] > kappa || (kappa === 0 && z[o + a] - z[o + b] === 0 && a < b);
    };
    // aim(): [the class to raise, the class to lower] — untargeted: (best other, y); targeted: (t, best other).
    const aim = (z: ArrayLike<number>, o: number, n: number): [number, number] => {
      const keep = targets ? targets[n] : y[n];
      let best = -1;
      for (let k = 0; k < C; k++) if (k !== keep && (best < 0 || z[o + k] > z[o + best])) best = k;
      return targets ? [keep, best] : [best, keep];
    };
    const clean = argmax(cleanLogits);
    const todo: number[] = [];
    for (let n = 0; n < N; n++) {
      if (targets ? clean[n] === targets[n] : clean[n] !== y[n]) distances[n] = 0;
      else todo.push(n);
    }
    const atanh0 = new Float64Array(N * D);
    for (let i = 0; i < N * D; i++) atanh0[i] = Math.atanh((2 * x0[i] - 1) * 0.999999);

    for (let bsStep = 0; bsStep < binarySteps && todo.length; bsStep++) {
      // Adam state restarts at w = atanh(2x − 1) for every value of c, as in the original.
      const w = new Float64Array(todo.length * D), m = new Float64Array(todo.length * D), v = new Float64Array(todo.length * D);
      todo.forEach((n, i) => w.set(atanh0.subarray(n * D, (n + 1) * D), i * D));
      const xa = new Float32Array(todo.length * D);
      const prevLoss = new Float64Array(todo.length).fill(Infinity);
      const adamT = new Int32Array(todo.length); // Adam's step count, per example, under the current c
      const succeededHere = new Uint8Array(todo.length);
      let active = todo.map((_, i) => i);
      for (let s = 0; s <= steps && active.length; s++) {
        // x' = (tanh(w) + 1)/2 for the active rows
        const sub = new Float32Array(active.length * D);
        active.forEach((i, r) => {
          for (let j = 0; j < D; j++) xa[i * D + j] = (Math.tanh(w[i * D + j]) + 1) / 2;
          sub.set(xa.subarray(i * D, (i + 1) * D), r * D);
        });
        const xt = new Tensor(sub, [active.length, ...shape]);
        const last = s === steps; // the last pass only checks the final iterate
        // One forward pass; the classes (a, b) of each margin come from its logits, then one backward for ∇x(z_b − z_a).
        const pairs: [number, number][] = [];
        const upstream = (z: Tensor) => {
          const dOut = Tensor.zeros(z.shape, z.dtype);
          active.forEach((i, r) => {
            const ab = aim(z.data, r * C, todo[i]);
            pairs.push(ab);
            dOut.data[r * C + ab[1]] += 1;
            dOut.data[r * C + ab[0]] -= 1;
          });
          return dOut;
        };
        const { logits, dx } = last ? { logits: predict(model, xt), dx: null } : logitVjp(model, xt, upstream);
        if (last) upstream(logits);
        const still: number[] = [];
        active.forEach((i, r) => {
          const n = todo[i];
          const z = logits.data, o = r * C;
          const margin = z[o + pairs[r][1]] - z[o + pairs[r][0]];
          const row = xa.subarray(i * D, (i + 1) * D), orig = x0.subarray(n * D, (n + 1) * D);
          let l2sq = 0;
          for (let j = 0; j < D; j++) l2sq += (row[j] - orig[j]) ** 2;
          // Keep the smallest successful point over all values of c.
          if (succeeds(z, o, n)) {
            succeededHere[i] = 1;
            const d = Math.sqrt(l2sq);
            if (d < distances[n]) {
              distances[n] = d;
              minimal.data.set(row, n * D);
            }
          }
          if (last || !dx) return;
          const loss = l2sq + c[n] * Math.max(margin, -kappa);
          if (abortEarly && steps >= 10 && s > 0 && s % Math.ceil(steps / 10) === 0) {
            if (loss > prevLoss[i] * 0.9999) return; // stalled: this c is done for this example
            prevLoss[i] = loss;
          }
          still.push(i);
          // dL/dw = (2(x' − x) + c·[margin > −κ]·∇ₓ(z_b − z_a)) ⊙ (1 − tanh²(w))/2, then one Adam step
          const g = dx.data.subarray(r * D, (r + 1) * D), on = margin > -kappa ? c[n] : 0;
          iterations[n]++;
          const t = ++adamT[i];
          const stepT = (lr * Math.sqrt(1 - BETA2 ** t)) / (1 - BETA1 ** t);
          for (let j = 0; j < D; j++) {
            const th = 2 * row[j] - 1;
            const dw = (2 * (row[j] - orig[j]) + on * g[j]) * (1 - th * th) * 0.5;
            const k = i * D + j;
            m[k] = BETA1 * m[k] + (1 - BETA1) * dw;
            v[k] = BETA2 * v[k] + (1 - BETA2) * dw * dw;
            w[k] -= (stepT * m[k]) / (Math.sqrt(v[k]) + ADAM_EPS);
          }
        });
        active = still;
        opts.onProgress?.((bsStep + Math.min(s + 1, steps) / Math.max(steps, 1)) / binarySteps);
      }
      // Binary search on c: a success bounds the smallest successful c from above, a failure from below.
      todo.forEach((n, i) => {
        if (succeededHere[i]) upper[n] = Math.min(upper[n], c[n]);
        else lower[n] = Math.max(lower[n], c[n]);
        c[n] = upper[n] < Infinity ? (lower[n] + upper[n]) / 2 : c[n] * 10;
      });
    }
    opts.onProgress?.(1);
    const r = finishMinNorm(model, x, y, minimal, distances, 'l2', opts.eps, iterations, targets, cleanLogits);
    return { ...r, constLower: lower, constUpper: upper };
  });
}

/**
 * Carlini–Wagner L2 in the attack record: `eps` bounds the reported success; `distances` / `minimal` hold the smallest
 * successful perturbations over the binary search.
 * @example
 *   const r = cw.run(model, x, y, { eps: 1.5, steps: 100 });
 *   const fooled = r.success.reduce((a, b) => a + b, 0);
 */
export const cw: MinNormAttack<CWOptions, CWResult> = { name: 'cw-l2', kind: 'white-box', norm: 'l2', settings: [{ ...settings.steps, default: '1000' }], run: carliniWagnerL2, sweepOptions: (opts) => opts };
