// MART: Wang, Zou, Yi, Bailey, Ma & Gu, "Improving Adversarial Robustness Requires Revisiting Misclassified
// Examples", ICLR 2020, eq. 9 (misclassification-aware adversarial risk), as in their code (YisenWang/MART, mart.py):
//   L = (1/B)·Σₙ [ BCE(p(x'ₙ), yₙ) + λ·KL(p(xₙ) ‖ p(x'ₙ))·(1 − p_y(xₙ)) ]
//   BCE(p, y) = −log p_y − log(1 − max_{k≠y} p_k)   (the boosted cross-entropy)
// x' = k signed steps of CE ascent from x + 0.001·N(0, 1), projected onto the ε-ball and [0, 1], made in evaluation
// mode (their model.eval()), then a constant; the loss is computed in training mode with gradients through p(x),
// p(x') and the weight 1 − p_y(x), as their code does. Here −log(1 − p_k) = logsumexp(z) − logsumexp_{j≠k}(z) exactly,
// in float64, where their code takes log(1.0001 − p_k + 1e-12); the KL is the stable one of trades.ts.
import { add, mul, scale, sub } from '../engine/ops/elementwise.js';
import { softmaxCrossEntropy } from '../engine/ops/loss.js';
import { mean } from '../engine/ops/reduce.js';
import type { Rng } from '../engine/random.js';
import { apply, type Op } from '../engine/tape.js';
import { Tensor, alloc, shapeStr } from '../engine/tensor.js';
import { crossEntropyLoss } from '../attacks/step.js';
import type { Sequential } from '../layers/sequential.js';
import { checkBatch, finite, pgdSettings, signSteps, warmupFraction, type ObjectiveValue } from './adversarial.js';
import { recyclableObjective, type Objective } from './objective.js';
import { attackAt, type TrainingAttackOptions } from './schedules.js';
import { gaussianStart, klDivergence, logSoftmaxRows64 } from './trades.js';
import { expectRank } from '../engine/ops/check.js';
import type { Labels } from '../engine/ops/loss.js';

function checkLabels(op: string, z: Tensor, labels: Labels): void {
  expectRank(op, 'z', z, 2, '[N, C]');
  const [N, C] = z.shape;
  if (labels.length !== N) throw new Error(`${op}: ${labels.length} labels for logits ${shapeStr(z.shape)}`);
  if (C < 2) throw new Error(`${op}: needs at least 2 classes, got logits ${shapeStr(z.shape)}`);
  for (let n = 0; n < N; n++) {
    const y = labels[n];
    if (!Number.isInteger(y) || y < 0 || y >= C) throw new Error(`${op}: label ${y} at index ${n} is not a class in 0..${C - 1}`);
  }
}

/** The most probable class other than the label in each row (the lowest index on a tie). */
function runnerUp(z: Float32Array | Float64Array, N: number, C: number, labels: Labels): Int32Array {
  const k = new Int32Array(N);
  for (let n = 0; n < N; n++) {
    let best = -1;
    for (let c = 0; c < C; c++) if (c !== labels[n] && (best < 0 || z[n * C + c] > z[n * C + best])) best = c;
    k[n] = best;
  }
  return k;
}

interface BoostSaved {
  logP: Float64Array;
  k: Int32Array;
  /** log Σ_{j≠k} exp(z_j − m) + m − lse(z) = log(1 − p_k), per row. */
  log1mPk: Float64Array;
}

/** The ops MART adds, in a record like the engine's (a test can loop over them). */
export const martOps = {
  // −log(1 − max_{k≠y} softmax(z)_k) per row: [N, C] → [N]
  boostMargin: {
    name: 'boostMargin',
    forward([z], { labels }) {
      checkLabels('boostMargin', z, labels);
      const [N, C] = z.shape;
      const logP = logSoftmaxRows64(z.data, N, C);
      const k = runnerUp(z.data, N, C, labels);
      const log1mPk = new Float64Array(N);
      const out = alloc(z.dtype, N);
      for (let n = 0; n < N; n++) {
        // log(1 − p_k) = log Σ_{j≠k} p_j, as a log-sum-exp of the other log-probabilities
        let m = -Infinity;
        for (let c = 0; c < C; c++) if (c !== k[n] && logP[n * C + c] > m) m = logP[n * C + c];
        let s = 0;
        for (let c = 0; c < C; c++) if (c !== k[n]) s += Math.exp(logP[n * C + c] - m);
        log1mPk[n] = m + Math.log(s);
        out[n] = -log1mPk[n];
      }
      return { out: new Tensor(out, [N]), saved: { logP, k, log1mPk } };
    },
    // dZⱼ = dB·(pⱼ − pⱼ/(1 − p_k)) for j ≠ k,   dZ_k = dB·p_k   (k the runner-up, held at its argmax)
    backward(dOut, { inputs: [z], saved: { logP, k, log1mPk } }) {
      const [N, C] = z.shape;
      const dZ = Tensor.zeros(z.shape, z.dtype);
      const g = dOut.data, r = dZ.data;
      for (let n = 0; n < N; n++) {
        for (let c = 0; c < C; c++) {
          const lp = logP[n * C + c];
          r[n * C + c] = g[n] * (c === k[n] ? Math.exp(lp) : Math.exp(lp) - Math.exp(lp - log1mPk[n]));
        }
      }
      return [dZ];
    },
  } as Op<{ labels: Labels }, BoostSaved>,

  // p_y = softmax(z)_y per row: [N, C] → [N]
  labelProbability: {
    name: 'labelProbability',
    forward([z], { labels }) {
      checkLabels('labelProbability', z, labels);
      const [N, C] = z.shape;
      const logP = logSoftmaxRows64(z.data, N, C);
      const out = alloc(z.dtype, N);
      for (let n = 0; n < N; n++) out[n] = Math.exp(logP[n * C + labels[n]]);
      return { out: new Tensor(out, [N]), saved: logP };
    },
    // dZⱼ = dP·p_y·(δⱼy − pⱼ)
    backward(dOut, { inputs: [z], saved: logP, attrs: { labels } }) {
      const [N, C] = z.shape;
      const dZ = Tensor.zeros(z.shape, z.dtype);
      const g = dOut.data, r = dZ.data;
      for (let n = 0; n < N; n++) {
        const py = Math.exp(logP[n * C + labels[n]]);
        for (let c = 0; c < C; c++) r[n * C + c] = g[n] * py * ((c === labels[n] ? 1 : 0) - Math.exp(logP[n * C + c]));
      }
      return [dZ];
    },
  } as Op<{ labels: Labels }, Float64Array>,
};

/**
 * MART's margin term −log(1 − max_{k≠y} p_k) per example, from logits [N, C] (float64 inside, no 1e-12 guard needed).
 * @example
 *   const b = boostMargin(model.forward(xAdv), y);   // [N], each ≥ 0
 *   const bce = add(softmaxCrossEntropy(logits, y, 'none'), b);
 */
export const boostMargin = (z: Tensor, labels: Labels): Tensor => apply(martOps.boostMargin, [z], { labels });

/**
 * The probability of each example's label, p_y = softmax(z)_y, differentiable: [N, C] → [N].
 * @example
 *   const py = labelProbability(model.forward(x), y);
 */
export const labelProbability = (z: Tensor, labels: Labels): Tensor => apply(martOps.labelProbability, [z], { labels });

/** MART's attack loss: their code's plain ∇ CE (not rescaled), in evaluation mode. */
const martCe = crossEntropyLoss({ rescale: false, mode: 'eval' });

/**
 * MART's inner maximisation in evaluation mode (the caller's mode is restored): k signed steps on ∇_{x'} CE(x', y)
 * from x + 0.001·N(0, 1) (drawn from `rng`), each projected onto the ε-ball and [0, 1].
 * @example
 *   const xAdv = martExample(model, x, y, { eps: 0.3, steps: 40, stepSize: 0.01 }, new Rng(0));
 */
export function martExample(model: Sequential, x: Tensor, y: Int32Array, opts: { eps: number; steps: number; stepSize: number }, rng: Rng): Tensor {
  const { eps, steps, stepSize } = opts;
  checkBatch('martExample', x, y, eps);
  const xAdv = gaussianStart(x, eps, rng);
  // x' ← clip[0,1](Π_ε(x' + a·sign(∇_{x'} CE(x', y))))   k times by the step core, in evaluation mode, the plain gradient
  signSteps(model, x, xAdv, y, { eps, steps, stepSize, loss: martCe });
  return xAdv;
}

/**
 * MART's loss for a fixed x' in the model's current mode (eq. 9); returns the clean logits.
 * @example
 *   const { loss, logits } = martLoss(model, x, martExample(model, x, y, opts, rng), y, 6);
 */
export function martLoss(model: Sequential, x: Tensor, xAdv: Tensor, y: Int32Array, lambda: number): ObjectiveValue {
  if (xAdv.ndim !== x.ndim || !xAdv.shape.every((d, i) => d === x.shape[i])) {
    throw new Error(`martLoss: xAdv must have x's shape ${shapeStr(x.shape)}, got ${shapeStr(xAdv.shape)}`);
  }
  const logits = model.forward(x);
  const adv = model.forward(xAdv);
  // L = mean[ CE(x', y) − log(1 − max_{k≠y} p_k(x')) ] + λ·mean[ KL(p(x) ‖ p(x'))·(1 − p_y(x)) ]
  const bce = mean(add(softmaxCrossEntropy(adv, y, 'none'), boostMargin(adv, y)));
  const ones = Tensor.zeros([y.length], logits.dtype);
  ones.data.fill(1);
  const robust = mean(mul(klDivergence(logits, adv), sub(ones, labelProbability(logits, y))));
  return { loss: add(bce, scale(robust, lambda)), logits };
}

/** MART's options: λ, and the attack's (defaults TRADES' MNIST script; MART's repository has CIFAR-10 settings only). */
export interface MartOptions extends TrainingAttackOptions {
  /** Weight λ of the KL term (default 6: their code's and the paper's CIFAR-10 value; no MNIST value is published in their repository). */
  lambda?: number;
}

/**
 * Wang et al.'s MART objective: x' by CE ascent (evaluation mode), then eq. 9 in training mode.
 * @example
 *   const objective = martObjective({ lambda: 6, eps: 0.3, steps: 10, stepSize: 0.05 });
 *   await train(model, data, { epochs: 1, batchSize: 128, optimizer: 'adam', lr: 1e-3, seed: 0, objective });
 */
export function martObjective(opts: MartOptions = {}): Objective {
  const f = 'martObjective';
  const lambda = finite(f, 'lambda', opts.lambda ?? 6, 0);
  const base = pgdSettings(f, { eps: opts.eps, steps: opts.steps ?? 40, stepSize: opts.stepSize ?? 0.01 }, 40);
  const warmup = finite(f, 'warmupEpochs', opts.warmupEpochs ?? 0, 0);
  return recyclableObjective((model, x, y, ctx) => {
    const a = attackAt(base, opts.stepsSchedule, opts.stepSize, ctx.epoch, warmupFraction(warmup, ctx));
    return martLoss(model, x, martExample(model, x, y, a, ctx.rng), y, lambda);
  });
}
