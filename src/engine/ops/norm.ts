// Batch normalisation (Ioffe & Szegedy 2015) over [N, C] or [N, C, H, W], per channel c.
// Training: normalise with the batch mean and biased variance, and update the running statistics with the
// unbiased variance (PyTorch's convention). Evaluation: normalise with the running statistics.
import { recycledByteArray } from '../recycle.js';
import { apply, willRecord, type Op } from '../tape.js';
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

interface Statistics {
  mean: Float64Array;
  invstd: Float64Array;
  /** Σ (x − mean)² per channel, which the kernel writes in training; null in evaluation. */
  sq: Float64Array | null;
}

/** Check the operands of a batch-norm op; the running statistics as mean and 1/σ in evaluation, room for the batch's in training. */
function statistics(op: string, x: Tensor, gamma: Tensor, beta: Tensor, a: BatchNormAttrs): Statistics {
  const [N, C, S] = dims(x);
  expectSameDtype(op, [x, gamma, beta]);
  for (const [name, t] of [['weight', gamma], ['bias', beta], ['running_mean', a.runningMean], ['running_var', a.runningVar]] as const) {
    expect(t.ndim === 1 && t.shape[0] === C, `${op}: ${name} must be [${C}], got ${shapeStr(t.shape)}`);
  }
  if (a.training) expect(N * S > 1, `${op}: training needs more than one value per channel, got x ${shapeStr(x.shape)}`);
  const mean = new Float64Array(C), invstd = new Float64Array(C);
  if (a.training) return { mean, invstd, sq: new Float64Array(C) };
  const rm = a.runningMean.data, rv = a.runningVar.data;
  for (let c = 0; c < C; c++) {
    mean[c] = rm[c];
    invstd[c] = 1 / Math.sqrt(rv[c] + a.eps);
  }
  return { mean, invstd, sq: null };
}

/** In training, running = (1 − momentum)·running + momentum·batch, with the unbiased variance Σ (x − mean)²/(M − 1). */
function updateRunning(a: BatchNormAttrs, { mean, sq }: Statistics, M: number): void {
  if (!sq) return;
  const rm = a.runningMean.data, rv = a.runningVar.data;
  for (let c = 0; c < mean.length; c++) {
    rm[c] = (1 - a.momentum) * rm[c] + a.momentum * mean[c];
    rv[c] = (1 - a.momentum) * rv[c] + a.momentum * (sq[c] / (M - 1));
  }
}

/** γ's and β's gradients from the kernel's per-channel sums, where asked for. */
function affineGrads(gamma: Tensor, beta: Tensor, needs: boolean[], sdy: Float64Array, sdyx: Float64Array): [Tensor | null, Tensor | null] {
  const dG = needs[1] ? Tensor.zeros(gamma.shape, gamma.dtype) : null;
  const dBt = needs[2] ? Tensor.zeros(beta.shape, beta.dtype) : null;
  dG?.data.set(sdyx);
  dBt?.data.set(sdy);
  return [dG, dBt];
}

export const normOps = {
  batchNorm: {
    name: 'batchNorm',
    forward([x, gamma, beta], a) {
      const [N, C, S] = dims(x);
      const st = statistics('batchNorm', x, gamma, beta, a);
      const out = Tensor.empty(x.shape, x.dtype);
      kernels().batchNormForward(x.data, N, C, S, gamma.data, beta.data, a.eps, st.mean, st.invstd, st.sq, out.data);
      updateRunning(a, st, N * S);
      return { out, saved: { mean: st.mean, invstd: st.invstd } };
    },
    // dγ = Σ dY·x̂   dβ = Σ dY   training: dX = γ·σ⁻¹/M·(M·dY − Σ dY − x̂·Σ dY·x̂)   eval: dX = γ·σ⁻¹·dY
    backward(dOut, { inputs: [x, gamma, beta], saved: { mean, invstd }, attrs, needs }) {
      const [N, C, S] = dims(x);
      const dX = needs[0] ? Tensor.empty(x.shape, x.dtype) : null;
      const sdy = new Float64Array(C), sdyx = new Float64Array(C);
      kernels().batchNormBackward(dOut.data, x.data, N, C, S, gamma.data, mean, invstd, attrs.training, sdy, sdyx, dX ? dX.data : null);
      return [dX, ...affineGrads(gamma, beta, needs, sdy, sdyx)];
    },
  } as Op<BatchNormAttrs, BatchNormSaved>,

  // BatchNorm2d → ReLU → 2×2/stride-2 max pooling as one op (Sequential runs such runs of layers with it, in training
  // too): the values and gradients of the three ops in turn up to the batch-norm's float32 rounding, without writing
  // out (and reading back, and keeping for backward) the full-size normalised array and its ReLU. Saved: the batch-norm's
  // per-channel mean and 1/σ, and each output's route (../kernels/pool-route.ts) when the op is recorded.
  batchNormReluMaxPool: {
    name: 'batchNormReluMaxPool',
    forward([x, gamma, beta], a) {
      expect(x.ndim === 4, `batchNormReluMaxPool: x must be [N, C, H, W], got ${shapeStr(x.shape)}`);
      const [N, C, H, W] = x.shape;
      expect(H >= 2 && W >= 2, `batchNormReluMaxPool: ${H}×${W} maps are too small for 2×2 pooling`);
      const st = statistics('batchNormReluMaxPool', x, gamma, beta, a);
      const out = Tensor.empty([N, C, H >> 1, W >> 1], x.dtype); // the kernels write every output
      const route = willRecord([x, gamma, beta]) ? recycledByteArray(out.size) : null; // pooled inside a recycling scope
      kernels().batchNormReluPoolForward(x.data, N, C, H, W, gamma.data, beta.data, a.eps, st.mean, st.invstd, st.sq, out.data, route);
      updateRunning(a, st, N * H * W);
      return { out, saved: { mean: st.mean, invstd: st.invstd, route } };
    },
    backward(dOut, { inputs: [x, gamma, beta], saved: { mean, invstd, route }, attrs, needs }) {
      if (route === null) throw new Error('batchNormReluMaxPool: backward of a forward that was not recorded');
      const [N, C, H, W] = x.shape;
      const dX = needs[0] ? Tensor.empty(x.shape, x.dtype) : null;
      const sdy = new Float64Array(C), sdyx = new Float64Array(C);
      kernels().batchNormReluPoolBackward(dOut.data, route, x.data, N, C, H, W, gamma.data, mean, invstd, attrs.training, sdy, sdyx, dX ? dX.data : null);
      return [dX, ...affineGrads(gamma, beta, needs, sdy, sdyx)];
    },
  } as Op<BatchNormAttrs, BatchNormSaved & { route: Uint8Array | null }>,
};

/**
 * Batch normalisation with learnable scale γ and shift β; updates the running statistics in training.
 * @example
 *   const y = batchNorm(x, gamma, beta, { training: true, runningMean, runningVar, momentum: 0.1, eps: 1e-5 });
 */
export const batchNorm = (x: Tensor, gamma: Tensor, beta: Tensor, attrs: BatchNormAttrs): Tensor =>
  apply(normOps.batchNorm, [x, gamma, beta], attrs);

/**
 * maxPool2d(relu(batchNorm(x, …)), { kernel: 2 }) as one op (Sequential uses it for BatchNorm2d → ReLU → MaxPool2D(2)
 * runs of layers): x [N, C, H, W] → [N, C, ⌊H/2⌋, ⌊W/2⌋], the same values and gradients up to float32 rounding.
 * @example
 *   const h = batchNormReluMaxPool(x, gamma, beta, { training: true, runningMean, runningVar, momentum: 0.1, eps: 1e-5 });
 */
export const batchNormReluMaxPool = (x: Tensor, gamma: Tensor, beta: Tensor, attrs: BatchNormAttrs): Tensor =>
  apply(normOps.batchNormReluMaxPool, [x, gamma, beta], attrs);
