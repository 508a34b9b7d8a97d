// TRADES: Zhang, Yu, Jiao, Xing, El Ghaoui & Jordan, "Theoretically Principled Trade-off between Robustness and
// Accuracy", ICML 2019 (arXiv 1901.08573), Algorithm 1 and eq. 5, as in their code (yaodongyu/TRADES, trades.py):
//   min_θ  CE(f(x), y) + β·(1/B)·Σₙ KL(p(xₙ) ‖ p(x'ₙ)),   x' = argmax_{‖x'−x‖∞ ≤ ε} KL(p(x) ‖ p(x'))
// The inner maximisation: x'₀ = x + 0.001·N(0, 1) (projected onto the ε-ball and [0, 1], so ε = 0 gives x), then k
// signed steps on ∇_{x'} KL with p(x) a constant, each projected and clipped. Mode, as their code: x' is made in
// evaluation mode (model.eval(): batch-norm uses its running statistics, dropout is off, nothing is updated) and the
// loss is computed in training mode; x' is then a constant. Logits x [B, ...] in [0, 1] → p = softmax over C classes.
import { add, scale } from '../engine/ops/elementwise.js';
import { softmaxCrossEntropy } from '../engine/ops/loss.js';
import { mean, sum } from '../engine/ops/reduce.js';
import { expect, expectRank } from '../engine/ops/check.js';
import type { Rng } from '../engine/random.js';
import { apply, grad, noGrad, type Op } from '../engine/tape.js';
import { Tensor, alloc, shapeStr } from '../engine/tensor.js';
import type { Sequential } from '../layers/sequential.js';
import type { StepLoss } from '../attacks/step.js';
import { checkBatch, finite, pgdSettings, signSteps, warmupFraction, type ObjectiveValue } from './adversarial.js';
import { inEvalMode } from '../layers/predict.js';
import { recyclableObjective, type Objective } from './objective.js';
import { attackAt, type TrainingAttackOptions } from './schedules.js';

type Data = Float32Array | Float64Array;

/**
 * Row-wise log-softmax of logits [N, C] in float64: log pᵢ = (zᵢ − m) − log Σⱼ exp(zⱼ − m), m = maxⱼ zⱼ.
 * @example
 *   const logP = logSoftmaxRows64(logits.data, N, C);   // Float64Array of N·C
 *   const p0 = Math.exp(logP[0]);
 */
export function logSoftmaxRows64(z: Data, N: number, C: number): Float64Array {
  const out = new Float64Array(N * C);
  for (let n = 0; n < N; n++) {
    const r = n * C;
    let m = -Infinity;
    for (let c = 0; c < C; c++) if (z[r + c] > m) m = z[r + c];
    let s = 0;
    for (let c = 0; c < C; c++) s += Math.exp(z[r + c] - m);
    const l = Math.log(s);
    for (let c = 0; c < C; c++) out[r + c] = z[r + c] - m - l;
  }
  return out;
}

interface KlSaved {
  logP: Float64Array;
  logQ: Float64Array;
  kl: Float64Array;
}

/** The ops TRADES adds, in a record like the engine's (a test can loop over them). */
export const tradesOps = {
  // KL(softmax(zP) ‖ softmax(zQ)) per row: [N, C], [N, C] → [N]
  klDivergence: {
    name: 'klDivergence',
    forward([zP, zQ]) {
      expectRank('klDivergence', 'zP', zP, 2, '[N, C]');
      expect(zQ.ndim === 2 && zQ.shape[0] === zP.shape[0] && zQ.shape[1] === zP.shape[1],
        `klDivergence: zQ must have zP's shape ${shapeStr(zP.shape)}, got ${shapeStr(zQ.shape)}`);
      const [N, C] = zP.shape;
      const logP = logSoftmaxRows64(zP.data, N, C), logQ = logSoftmaxRows64(zQ.data, N, C);
      const kl = new Float64Array(N);
      for (let n = 0; n < N; n++) {
        let s = 0;
        for (let c = n * C; c < (n + 1) * C; c++) s += Math.exp(logP[c]) * (logP[c] - logQ[c]);
        kl[n] = s;
      }
      const out = alloc(zP.dtype, N);
      out.set(kl);
      return { out: new Tensor(out, [N]), saved: { logP, logQ, kl } };
    },
    // dZP = dK·p ⊙ (log p − log q − KL)   dZQ = dK·(q − p)   (per row, p = softmax(zP), q = softmax(zQ))
    backward(dOut, { inputs: [zP, zQ], saved: { logP, logQ, kl }, needs }) {
      const [N, C] = zP.shape;
      const g = dOut.data;
      const dZP = needs[0] ? Tensor.zeros(zP.shape, zP.dtype) : null;
      const dZQ = needs[1] ? Tensor.zeros(zQ.shape, zQ.dtype) : null;
      for (let n = 0; n < N; n++) {
        for (let c = n * C; c < (n + 1) * C; c++) {
          const p = Math.exp(logP[c]);
          if (dZP) dZP.data[c] = g[n] * p * (logP[c] - logQ[c] - kl[n]);
          if (dZQ) dZQ.data[c] = g[n] * (Math.exp(logQ[c]) - p);
        }
      }
      return [dZP, dZQ];
    },
  } as Op<unknown, KlSaved>,
};

/**
 * Per-example KL(softmax(zP) ‖ softmax(zQ)) of two batches of logits [N, C], computed from log-softmax in float64
 * (no probability is ever logged, so no 1e-12 guards); differentiable in both.
 * @example
 *   const kl = klDivergence(model.forward(x), model.forward(xAdv));   // [N], each ≥ 0
 *   const robust = mean(kl);
 */
export const klDivergence = (zP: Tensor, zQ: Tensor): Tensor => apply(tradesOps.klDivergence, [zP, zQ], {});

/**
 * TRADES' and MART's starting point, x₀ = clip[0,1](Π_ε(x + 0.001·N(0, 1)ᴰ)), drawn from `rng` pixel by pixel
 * (projected, unlike their code, so that ε = 0 returns x exactly).
 * @example
 *   const x0 = gaussianStart(x, 0.3, new Rng(0));
 */
export function gaussianStart(x: Tensor, eps: number, rng: Rng): Tensor {
  const out = alloc(x.dtype, x.size), d = x.data;
  for (let i = 0; i < d.length; i++) {
    const v = Math.min(d[i] + eps, Math.max(d[i] - eps, d[i] + 0.001 * rng.normal()));
    out[i] = Math.min(1, Math.max(0, v));
  }
  return new Tensor(out, x.shape);
}

export interface TradesExampleOptions {
  eps: number;
  steps: number;
  stepSize: number;
}

/**
 * TRADES' inner maximisation in evaluation mode (the caller's mode is restored): k signed steps on
 * ∇_{x'} Σₙ KL(p(xₙ) ‖ p(x'ₙ)) from x + 0.001·N(0, 1) (drawn from `rng`), each projected onto the ε-ball and [0, 1].
 * @example
 *   const xAdv = tradesExample(model, x, { eps: 0.3, steps: 40, stepSize: 0.01 }, new Rng(0));
 */
export function tradesExample(model: Sequential, x: Tensor, opts: TradesExampleOptions, rng: Rng): Tensor {
  const { eps, steps, stepSize } = opts;
  checkBatch('tradesExample', x, new Int32Array(x.shape[0]), eps); // TRADES' attack needs no labels: placeholders
  return inEvalMode(model, () => {
    const pNat = noGrad(() => model.forward(x));
    // the loss of TRADES' attack: Σₙ KL(p(xₙ) ‖ p(x'ₙ)) with p(x) a constant (labels unused)
    const kl: StepLoss = {
      name: 'trades-kl',
      descendsToTarget: false,
      gradient(m, xs) {
        const xi = new Tensor(xs.data, xs.shape).requireGrad();
        const logits = m.forward(xi);
        const [dx] = grad(sum(klDivergence(pNat, logits)), [xi]);
        return { dx, logits };
      },
    };
    const xAdv = gaussianStart(x, eps, rng);
    // x' ← clip[0,1](Π_ε(x' + a·sign(∇_{x'} Σ KL(p(x) ‖ p(x')))))   k times, by the step core
    signSteps(model, x, xAdv, new Int32Array(x.shape[0]), { eps, steps, stepSize, loss: kl });
    return xAdv;
  });
}

/**
 * The TRADES loss for a fixed x' in the model's current mode: CE(f(x), y) + β·mean KL(p(x) ‖ p(x')), gradients through
 * both p(x) and p(x') as in their code (one clean forward serves the cross-entropy and the KL, as their two identical
 * training-mode forwards of x would). Returns the clean logits.
 * @example
 *   const { loss, logits } = tradesLoss(model, x, tradesExample(model, x, opts, rng), y, 1.0);
 */
export function tradesLoss(model: Sequential, x: Tensor, xAdv: Tensor, y: Int32Array, beta: number): ObjectiveValue {
  if (!xAdv.shape.every((d, i) => d === x.shape[i]) || xAdv.ndim !== x.ndim) {
    throw new Error(`tradesLoss: xAdv must have x's shape ${shapeStr(x.shape)}, got ${shapeStr(xAdv.shape)}`);
  }
  // L = CE(f(x), y) + β·(1/B)·Σₙ KL(p(xₙ) ‖ p(x'ₙ))
  const logits = model.forward(x);
  const robust = mean(klDivergence(logits, model.forward(xAdv)));
  return { loss: add(softmaxCrossEntropy(logits, y), scale(robust, beta)), logits };
}

/** TRADES' options: β, and the inner maximisation's (defaults from their MNIST script: ε 0.3, 40 steps of 0.01). */
export interface TradesOptions extends TrainingAttackOptions {
  /** Weight of the KL term, 1/λ in the paper (default 1.0, their MNIST script; the paper explores 1–10). */
  beta?: number;
}

/**
 * Zhang et al.'s TRADES objective: x' from the KL inner maximisation (evaluation mode), then the loss in training mode.
 * @example
 *   const objective = tradesObjective({ beta: 1, eps: 0.3, steps: 10, stepSize: 0.05 });
 *   await train(model, data, { epochs: 1, batchSize: 128, optimizer: 'adam', lr: 1e-3, seed: 0, objective });
 */
export function tradesObjective(opts: TradesOptions = {}): Objective {
  const f = 'tradesObjective';
  const beta = finite(f, 'beta', opts.beta ?? 1.0, 0);
  const base = pgdSettings(f, { eps: opts.eps, steps: opts.steps ?? 40, stepSize: opts.stepSize ?? 0.01 }, 40);
  const warmup = finite(f, 'warmupEpochs', opts.warmupEpochs ?? 0, 0);
  return recyclableObjective((model, x, y, ctx) => {
    const a = attackAt(base, opts.stepsSchedule, opts.stepSize, ctx.epoch, warmupFraction(warmup, ctx));
    return tradesLoss(model, x, tradesExample(model, x, a, ctx.rng), y, beta);
  });
}
