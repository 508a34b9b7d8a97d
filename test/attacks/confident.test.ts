// The loss gradient of confident predictions. The fused cross-entropy's backward must be the
// float32 rounding of the true value (not rounding noise of 1 − p_y), and attacks must keep a direction where
// float32 probabilities underflow altogether (logit gaps beyond ~88), via the per-example rescaled gradient.
import { describe, expect, it } from 'vitest';
import { fgsm } from '../../src/attacks/fgsm.js';
import { inputGradient } from '../../src/attacks/input-gradient.js';
import { pgd } from '../../src/attacks/pgd.js';
import { crossEntropyDirection, logProbabilities, logSoftmax, softmaxCrossEntropy } from '../../src/engine/ops/loss.js';
import { sum } from '../../src/engine/ops/reduce.js';
import { mul } from '../../src/engine/ops/elementwise.js';
import { grad } from '../../src/engine/tape.js';
import { Tensor } from '../../src/engine/tensor.js';
import { buildModel } from '../../src/layers/spec.js';
import { zooSpec } from '../../src/layers/zoo.js';
import { getBatch } from '../../src/data/batches.js';
import { loadDataset } from '../../src/data/datasets.js';
import { argmax, predict } from '../../src/layers/predict.js';
import { train } from '../../src/train/loop.js';
import { tinyBatch } from '../helpers.js';

const sigmaNeg = (g: number) => 1 / (1 + Math.exp(g)); // σ(−g), exact enough in float64 for these g

function ceGrad(values: number[], labels: number[], dtype: 'float32' | 'float64'): number[] {
  const z = Tensor.from(values, [labels.length, values.length / labels.length], dtype).requireGrad();
  return Array.from(grad(softmaxCrossEntropy(z, labels), [z])[0].data);
}

describe('softmaxCrossEntropy backward on confident logits', () => {
  it('is [−σ(−g), σ(−g)] rounded to float32 at g = 17 and g = 20 (the issue’s values)', () => {
    for (const g of [17, 20]) {
      const want = Math.fround(sigmaNeg(g));
      expect(ceGrad([g, 0], [0], 'float32')).toEqual([-want, want]);
    }
    expect(ceGrad([17, 0], [0], 'float32')[0]).toBeCloseTo(-4.14e-8, 10);
    expect(ceGrad([20, 0], [0], 'float32')[0]).toBeCloseTo(-2.061e-9, 12);
  });

  it('stays exact to float64 rounding far beyond float32’s range, for any true class and batch mean', () => {
    for (const g of [40, 200, 700]) {
      const [a, b, c, d] = ceGrad([0, g, g, 0], [1, 1], 'float64'); // row 0 confident and right, row 1 confident and wrong
      const s = sigmaNeg(g) / 2; // mean over 2 examples
      expect(Math.abs(b / -s - 1)).toBeLessThan(1e-14);
      expect(Math.abs(a / s - 1)).toBeLessThan(1e-14);
      expect(c).toBeCloseTo(0.5 * (1 - sigmaNeg(g)), 15);
      expect(d).toBeCloseTo(-0.5 * (1 - sigmaNeg(g)), 15);
    }
  });

  it('logSoftmax: forward (z − m) − log s keeps −3.7e−44 at a gap of 100; backward of the NLL is exact too', () => {
    const lp = logProbabilities(Tensor.from([100, 0], [1, 2], 'float64'));
    expect(Math.abs(lp[0] / -Math.exp(-100) - 1)).toBeLessThan(1e-12);
    expect(lp[1]).toBe(-100);
    for (const g of [17, 20]) {
      const z = Tensor.from([g, 0], [1, 2], 'float32').requireGrad();
      const nll = sum(mul(logSoftmax(z), Tensor.from([-1, 0], [1, 2])));
      const want = Math.fround(sigmaNeg(g));
      expect(Array.from(grad(nll, [z])[0].data)).toEqual([-want, want]);
    }
  });
});

describe('crossEntropyDirection', () => {
  it('is (softmax − onehot)/(1 − p_t) with −1 at t, and its losses are the cross-entropy', () => {
    const z = Tensor.from([0.3, -1.2, 2.0, 0.5, 0.1, -0.4], [2, 3], 'float64');
    const { dZ, losses } = crossEntropyDirection(z, [2, 0]);
    const zz = z.detach().requireGrad();
    const dTrue = grad(softmaxCrossEntropy(zz, [2, 0], 'sum'), [zz])[0].data;
    for (const [n, t] of [[0, 2], [1, 0]]) {
      const f = -1 / dTrue[n * 3 + t]; // 1/(1 − p_t)
      for (let c = 0; c < 3; c++) expect(dZ.data[n * 3 + c]).toBeCloseTo(dTrue[n * 3 + c] * f, 14);
      expect(dZ.data[n * 3 + t]).toBe(-1);
    }
    const per = softmaxCrossEntropy(z, [2, 0], 'none').data;
    expect(losses[0]).toBeCloseTo(per[0], 14);
    expect(losses[1]).toBeCloseTo(per[1], 14);
  });

  it('keeps a direction at a logit gap of 1000 in float32 (where every probability underflows)', () => {
    const { dZ } = crossEntropyDirection(Tensor.from([1000, 0, 10], [1, 3]), [0]);
    expect(dZ.data[0]).toBe(-1);
    expect(dZ.data[2]).toBeCloseTo(1 / (1 + Math.exp(-10)), 6);
    expect(dZ.data[1]).toBeGreaterThan(0);
  });
});

describe('attacks on models with huge logit gaps', () => {
  // A two-class linear model: the cross-entropy gradient w.r.t. the logits is ±(e₁ − e₀) up to a positive factor,
  // so ∇x has the same direction at any positive scale of the weights; ×100 saturates float32 probabilities.
  const spec = { input: [1, 4, 4], layers: [{ type: 'flatten' as const }, { type: 'dense' as const, in: 16, out: 2 }] };
  const base = buildModel(spec, { seed: 3 });
  const big = buildModel(spec, { seed: 3 });
  for (const [, t] of base.parameters()) for (let i = 0; i < t.size; i++) t.data[i] *= 10; // logit gaps of a few units
  big.parameters().forEach(([, t], k) => { for (let i = 0; i < t.size; i++) t.data[i] = 100 * base.parameters()[k][1].data[i]; });
  const { x: x64, y } = tinyBatch(12, 5);
  const x = x64.to('float32');
  const yy = Int32Array.from(y, (v) => v % 2);

  it('the ×100 model’s logit gaps leave float32 (so the plain gradient is 0 for most examples)', () => {
    const logits = predict(big, x);
    let saturated = 0;
    for (let n = 0; n < 12; n++) if (Math.abs(logits.data[2 * n] - logits.data[2 * n + 1]) > 104) saturated++;
    expect(saturated).toBeGreaterThan(0);
    const plain = inputGradient(big, x, yy).dx.data;
    let zeroRows = 0;
    for (let n = 0; n < 12; n++) if (plain.subarray(16 * n, 16 * n + 16).every((v) => v === 0)) zeroRows++;
    expect(zeroRows).toBeGreaterThan(0);
  });

  it('FGSM and PGD give the ×100 model the same adversarial images as the unscaled one', () => {
    const a = fgsm.run(base, x, yy, { eps: 0.1 }).adversarial.data;
    const b = fgsm.run(big, x, yy, { eps: 0.1 }).adversarial.data;
    expect(Array.from(b)).toEqual(Array.from(a));
    let moved = 0;
    for (let i = 0; i < a.length; i++) if (a[i] !== x.data[i]) moved++;
    expect(moved).toBeGreaterThan(100);
    const opts = { eps: 0.2, steps: 5, stepSize: 0.05, earlyStop: false, seed: 1 };
    expect(Array.from(pgd.run(big, x, yy, opts).adversarial.data)).toEqual(Array.from(pgd.run(base, x, yy, opts).adversarial.data));
  });

  it('FGSM on the issue’s softmax model ×10 (mnist, 2 epochs, seed 0) gives 0.250, the float64 sign’s accuracy', async () => {
    const m = buildModel(zooSpec('softmax'), { seed: 0 });
    // nablax train --model softmax --data mnist --epochs 2 --seed 0 (defaults: batch 128, adam 2e-3, cosine)
    await train(m, loadDataset('mnist', 'train'), { epochs: 2, batchSize: 128, optimizer: 'adam', lr: 2e-3, lrSchedule: 'cosine', seed: 0 });
    for (const [, t] of m.parameters()) for (let i = 0; i < t.size; i++) t.data[i] *= 10;
    const { x: xt, y: yt } = getBatch(loadDataset('mnist', 'test'), null, 0, 200);
    const acc = (xs: Tensor) => argmax(predict(m, xs)).reduce((s, p, i) => s + (p === yt[i] ? 1 : 0), 0) / 200;
    // The reference: the sign of the exact gradient of a float64 copy of the model.
    const m64 = buildModel(zooSpec('softmax'), { seed: 0, dtype: 'float64' });
    m64.parameters().forEach(([, t], i) => t.data.set(m.parameters()[i][1].data));
    const g64 = inputGradient(m64, xt.to('float64'), yt).dx.data;
    const ref = new Tensor(Float32Array.from(xt.data, (v, i) => Math.min(1, Math.max(0, v + 0.1 * Math.sign(g64[i])))), xt.shape);
    expect(acc(ref)).toBe(0.25);
    expect(acc(fgsm.run(m, xt, yt, { eps: 0.1 }).adversarial)).toBe(0.25);
  }, 60_000);
});
