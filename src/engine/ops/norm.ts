// Batch normalisation (Ioffe & Szegedy 2015) over [N, C] or [N, C, H, W], per channel c.
// Training: normalise with the batch mean and biased variance, and update the running statistics with the
// unbiased variance (PyTorch's convention). Evaluation: normalise with the running statistics.
import { apply, type Op } from '../tape.js';
import { Tensor, shapeStr } from '../tensor.js';
import { kernels } from '../kernels/kernels.js';
import { expect, expectSameDtype } from './check.js';

export interface BatchNormAttrs {
  training: boolean;
  runningMean: Tensor;
  runningVar: Tensor;
  momentum: number;
  eps: number;
}

/**
 * Per channel, the mean and 1/σ the forward normalised with; backward recomputes x̂ = (x − mean)·invstd from the
 * op's input with the same float64 operations (the same values), instead of keeping x̂ for every element: a float64
 * array twice the activation's size per layer, whose fresh pages cost more than the normalisation itself.
 */
export interface BatchNormSaved {
  mean: Float64Array;
  invstd: Float64Array;
}

function dims(x: Tensor): [number, number, number] {
  expect(x.ndim === 2 || x.ndim === 4, `batchNorm: x must be [N, C] or [N, C, H, W], got ${shapeStr(x.shape)}`);
  const [N, C] = x.shape;
  const S = x.ndim === 4 ? x.shape[2] * x.shape[3] : 1;
  return [N, C, S];
}

export const normOps = {
  batchNorm: {
    name: 'batchNorm',
    forward([x, gamma, beta], a) {
      const [N, C, S] = dims(x);
      expectSameDtype('batchNorm', [x, gamma, beta]);
      for (const [name, t] of [['weight', gamma], ['bias', beta], ['running_mean', a.runningMean], ['running_var', a.runningVar]] as const) {
        expect(t.ndim === 1 && t.shape[0] === C, `batchNorm: ${name} must be [${C}], got ${shapeStr(t.shape)}`);
      }
      const M = N * S;
      if (a.training) expect(M > 1, `batchNorm: training needs more than one value per channel, got x ${shapeStr(x.shape)}`);
      const mean = new Float64Array(C);
      const invstd = new Float64Array(C);
      const rm = a.runningMean.data, rv = a.runningVar.data;
      const sq = a.training ? new Float64Array(C) : null;
      if (!sq) {
        for (let c = 0; c < C; c++) {
          mean[c] = rm[c];
          invstd[c] = 1 / Math.sqrt(rv[c] + a.eps);
        }
      }
      const out = Tensor.empty(x.shape, x.dtype);
      kernels().batchNormForward(x.data, N, C, S, gamma.data, beta.data, a.eps, mean, invstd, sq, out.data);
      if (sq) {
        for (let c = 0; c < C; c++) {
          rm[c] = (1 - a.momentum) * rm[c] + a.momentum * mean[c];
          rv[c] = (1 - a.momentum) * rv[c] + a.momentum * (sq[c] / (M - 1));
        }
      }
      return { out, saved: { mean, invstd } };
    },
    // dγ = Σ dY·x̂   dβ = Σ dY   training: dX = γ·σ⁻¹/M·(M·dY − Σ dY − x̂·Σ dY·x̂)   eval: dX = γ·σ⁻¹·dY
    backward(dOut, { inputs: [x, gamma, beta], saved: { mean, invstd }, attrs, needs }) {
      const [N, C, S] = dims(x);
      const dX = needs[0] ? Tensor.empty(x.shape, x.dtype) : null;
      const sdy = new Float64Array(C), sdyx = new Float64Array(C);
      kernels().batchNormBackward(dOut.data, x.data, N, C, S, gamma.data, mean, invstd, attrs.training, sdy, sdyx, dX ? dX.data : null);
      const dG = needs[1] ? Tensor.zeros(gamma.shape, gamma.dtype) : null;
      const dBt = needs[2] ? Tensor.zeros(beta.shape, beta.dtype) : null;
      if (dG) dG.data.set(sdyx);
      if (dBt) dBt.data.set(sdy);
      return [dX, dG, dBt];
    },
  } as Op<BatchNormAttrs, BatchNormSaved>,
};

/**
 * Batch normalisation with learnable scale γ and shift β; updates the running statistics in training.
 * @example
 *   const y = batchNorm(x, gamma, beta, { training: true, runningMean, runningVar, momentum: 0.1, eps: 1e-5 });
 */
export const batchNorm = (x: Tensor, gamma: Tensor, beta: Tensor, attrs: BatchNormAttrs): Tensor =>
  apply(normOps.batchNorm, [x, gamma, beta], attrs);
