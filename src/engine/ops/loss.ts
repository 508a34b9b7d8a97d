// Log-softmax and the fused softmax cross-entropy, both over the last axis of logits [N, C].
// Computed from logits with the max subtracted (log-sum-exp), so the loss and its gradient never pass
// through saturated probabilities: attacks that differentiate it get unmasked gradients.
import { apply, type Op } from '../tape.js';
import { Tensor, alloc, shapeStr } from '../tensor.js';
import { expect, expectRank } from './check.js';

export type Reduction = 'mean' | 'sum' | 'none';
export type Labels = ArrayLike<number>;

/** Row-wise log-softmax of z [N, C] into out (float64 internally). */
function logSoftmaxRows(z: Float32Array | Float64Array, N: number, C: number, out: Float32Array | Float64Array): void {
  for (let n = 0; n < N; n++) {
    const r = n * C;
    let m = -Infinity;
    for (let c = 0; c < C; c++) if (z[r + c] > m) m = z[r + c];
    let s = 0;
    for (let c = 0; c < C; c++) s += Math.exp(z[r + c] - m);
    const lse = m + Math.log(s);
    for (let c = 0; c < C; c++) out[r + c] = z[r + c] - lse;
  }
}

function checkLabels(op: string, logits: Tensor, labels: Labels): void {
  expectRank(op, 'logits', logits, 2, '[N, C]');
  const [N, C] = logits.shape;
  expect(labels.length === N, `${op}: ${labels.length} labels for logits ${shapeStr(logits.shape)}`);
  for (let n = 0; n < N; n++) {
    const y = labels[n];
    if (!Number.isInteger(y) || y < 0 || y >= C) throw new Error(`${op}: label ${y} at index ${n} is not a class in 0..${C - 1}`);
  }
}

export const lossOps = {
  logSoftmax: {
    name: 'logSoftmax',
    forward([z]) {
      expectRank('logSoftmax', 'z', z, 2, '[N, C]');
      const [N, C] = z.shape;
      const out = Tensor.zeros(z.shape, z.dtype);
      logSoftmaxRows(z.data, N, C, out.data);
      return { out, saved: null };
    },
    // dZ = dY − softmax(z)·Σ_c dY   (softmax = exp(out))
    backward(dOut, { inputs: [z], out }) {
      const [N, C] = z.shape;
      const dZ = Tensor.zeros(z.shape, z.dtype);
      const g = dOut.data, y = out.data, r = dZ.data;
      for (let n = 0; n < N; n++) {
        let s = 0;
        for (let c = 0; c < C; c++) s += g[n * C + c];
        for (let c = 0; c < C; c++) r[n * C + c] = g[n * C + c] - Math.exp(y[n * C + c]) * s;
      }
      return [dZ];
    },
  } as Op<unknown, null>,

  softmaxCrossEntropy: {
    name: 'softmaxCrossEntropy',
    forward([z], { labels, reduction }) {
      checkLabels('softmaxCrossEntropy', z, labels);
      const [N, C] = z.shape;
      const logp = alloc(z.dtype, z.size);
      logSoftmaxRows(z.data, N, C, logp);
      const per = alloc(z.dtype, N);
      for (let n = 0; n < N; n++) per[n] = -logp[n * C + labels[n]];
      if (reduction === 'none') return { out: new Tensor(per, [N]), saved: logp };
      let s = 0;
      for (let n = 0; n < N; n++) s += per[n];
      return { out: Tensor.from([reduction === 'mean' ? s / Math.max(N, 1) : s], [], z.dtype), saved: logp };
    },
    // dZ = (softmax(z) − onehot(y)) · dL   (· 1/N for the mean)
    backward(dOut, { inputs: [z], saved: logp, attrs: { labels, reduction } }) {
      const [N, C] = z.shape;
      const dZ = Tensor.zeros(z.shape, z.dtype);
      const r = dZ.data, g = dOut.data;
      for (let n = 0; n < N; n++) {
        const gn = reduction === 'none' ? g[n] : reduction === 'mean' ? g[0] / N : g[0];
        for (let c = 0; c < C; c++) r[n * C + c] = Math.exp(logp[n * C + c]) * gn;
        r[n * C + labels[n]] -= gn;
      }
      return [dZ];
    },
  } as Op<{ labels: Labels; reduction: Reduction }, Float32Array | Float64Array>,
};

/** log softmax over the last axis of [N, C]. @example const logp = logSoftmax(model.forward(x)); */
export const logSoftmax = (z: Tensor): Tensor => apply(lossOps.logSoftmax, [z], {});

/**
 * Cross-entropy of softmax(logits) against integer labels, fused and numerically stable.
 * @example
 *   const loss = softmaxCrossEntropy(logits, labels);      // mean over the batch
 */
export const softmaxCrossEntropy = (z: Tensor, labels: Labels, reduction: Reduction = 'mean'): Tensor =>
  apply(lossOps.softmaxCrossEntropy, [z], { labels, reduction });

/** Softmax probabilities of logits [N, C] (no gradient). @example const p = softmax(logits); */
export function softmax(z: Tensor): Tensor {
  expectRank('softmax', 'z', z, 2, '[N, C]');
  const out = Tensor.zeros(z.shape, z.dtype);
  logSoftmaxRows(z.data, z.shape[0], z.shape[1], out.data);
  const d = out.data;
  for (let i = 0; i < d.length; i++) d[i] = Math.exp(d[i]);
  return out;
}
