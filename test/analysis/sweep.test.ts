// The FGSM sweep (src/analysis/sweep.ts): a softmax model's logits are affine in ε before clipping and not after;
// ε = 0 reproduces the model's logits at x; the clipped end point is FGSM's image; the true class wins around 0.
import { beforeAll, describe, expect, it } from 'vitest';
import { fgsmSweep, rSquared, type SweepResult } from '../../src/analysis/sweep.js';
import { sweepPlotSvg } from '../../src/report/linear-figures.js';
import { fgsm } from '../../src/attacks/fgsm.js';
import { noGrad } from '../../src/engine/tape.js';
import { Tensor } from '../../src/engine/tensor.js';
import type { Sequential } from '../../src/layers/sequential.js';
import { buildModel } from '../../src/layers/spec.js';
import { zooSpec } from '../../src/layers/zoo.js';
import { getBatch } from '../../src/data/batches.js';
import { loadDataset, loadMnistData, subset } from '../../src/data/datasets.js';
import { argmax } from '../../src/layers/predict.js';
import { train } from '../../src/train/loop.js';

const testSet = loadMnistData('test');
const image = (i: number) => getBatch(testSet, null, i, i + 1);

describe('rSquared', () => {
  it('is 1 on a line, 1 on a constant, below 1 on a kink', () => {
    expect(rSquared([0, 1, 2, 3], [1, 3, 5, 7])).toBe(1);
    expect(rSquared([0, 1, 2], [4, 4, 4])).toBe(1);
    expect(rSquared([-1, 0, 1], [1, 0, 1])).toBe(0);
    expect(() => rSquared([0], [1])).toThrow(/rSquared/);
  });
});

describe('fgsmSweep', () => {
  let model: Sequential;
  let correct: number; // index of a test digit the model gets right
  let r: SweepResult;
  beforeAll(async () => {
    model = buildModel(zooSpec('softmax', [1, 28, 28]), { seed: 0 });
    await train(model, subset(loadDataset('mnist', 'train'), 0, 1000), { epochs: 1, batchSize: 64, optimizer: 'adam', lr: 3e-3, seed: 0 });
    const pred = noGrad(() => argmax(model.eval().forward(getBatch(testSet, null, 0, 20).x)));
    correct = pred.findIndex((p, i) => p === testSet.labels[i]);
    expect(correct).toBeGreaterThanOrEqual(0);
    const { x, y } = image(correct);
    model.train(); // fgsmSweep must switch to eval mode itself and restore this
    r = fgsmSweep(model, x, y[0], { maxEps: 0.5, points: 21 });
  });

  it('puts ε on an odd, symmetric grid through 0', () => {
    expect(r.eps.length).toBe(21);
    expect(r.eps[0]).toBe(-0.5);
    expect(r.eps[20]).toBe(0.5);
    expect(r.eps[10]).toBe(0);
    for (let i = 0; i < 21; i++) expect(r.eps[i] + r.eps[20 - i]).toBe(0);
    expect(r.logitsUnclipped.length).toBe(21);
    expect(r.logitsClipped[0].length).toBe(10);
    expect(model.training).toBe(true);
  });

  it('a softmax model is affine in ε before clipping (R² = 1 in float64) and not after', () => {
    // The same weights in float64: exact up to float64 rounding.
    const m64 = buildModel(zooSpec('softmax', [1, 28, 28]), { seed: 0, dtype: 'float64' });
    m64.parameters().forEach(([, t], i) => t.data.set(model.parameters()[i][1].data));
    const { x, y } = image(correct);
    const r64 = fgsmSweep(m64, x.to('float64'), y[0], { maxEps: 0.5, points: 21 });
    for (const v of r64.r2) expect(v).toBeGreaterThan(1 - 1e-9);
    expect(Math.min(...r64.r2Clipped)).toBeLessThan(0.999);
    for (let k = 0; k < 10; k++) expect(r.logitsUnclipped[20][k]).toBeCloseTo(r64.logitsUnclipped[20][k], 4);
  });

  it('in float32 the logits are affine up to rounding, and clipping bends them', () => {
    // A class whose logit hardly moves along d (range ~1e-4) has R² set by float32 rounding, so R² > 1 − 1e-6 is
    // asserted where the logit moves by more than 0.01, and every class's residual is at rounding level.
    for (let k = 0; k < 10; k++) {
      const ys = r.logitsUnclipped.map((row) => row[k]);
      const range = Math.max(...ys) - Math.min(...ys);
      if (range > 0.01) expect(r.r2[k]).toBeGreaterThan(1 - 1e-6);
      const slope = (ys[20] - ys[0]) / (r.eps[20] - r.eps[0]);
      const scale = Math.max(1, ...ys.map(Math.abs));
      ys.forEach((v, i) => expect(Math.abs(v - ys[10] - slope * r.eps[i])).toBeLessThan(1e-5 * scale));
    }
    expect(Math.min(...r.r2Clipped)).toBeLessThan(0.999);
  });

  it('ε = 0 gives the model’s own logits at x, clipped or not', () => {
    const { x } = image(correct);
    const logits = noGrad(() => model.eval().forward(x)).data;
    model.train();
    for (let k = 0; k < 10; k++) {
      expect(r.logitsUnclipped[10][k]).toBeCloseTo(logits[k], 4);
      expect(r.logitsClipped[10][k]).toBe(r.logitsUnclipped[10][k]);
    }
  });

  it('the clipped end point is FGSM at ε = maxEps', () => {
    const { x, y } = image(correct);
    const adv = fgsm.run(model, x, y, { eps: 0.5 }).adversarial;
    const logits = noGrad(() => model.eval().forward(adv)).data;
    model.train();
    for (let k = 0; k < 10; k++) expect(r.logitsClipped[20][k]).toBeCloseTo(logits[k], 4);
  });

  it('the true class wins at ε = 0, on an interval containing 0, and loses far along +d', () => {
    const mid = r.logitsUnclipped[10];
    expect(mid.indexOf(Math.max(...mid))).toBe(r.label);
    for (const w of [r.trueClassWins, r.trueClassWinsClipped]) {
      expect(w).not.toBeNull();
      expect(w![0]).toBeLessThanOrEqual(0);
      expect(w![1]).toBeGreaterThanOrEqual(0);
    }
    // +d ascends the loss: a linear model misclassifies at ε = 0.5 unclipped.
    expect(r.trueClassWins![1]).toBeLessThan(0.5);
  });

  it('trueClassWins is null when the model is wrong at x', () => {
    const { x, y } = image(correct);
    const wrong = (y[0] + 1) % 10;
    const s = fgsmSweep(model, x, wrong, { maxEps: 0.2, points: 5 });
    expect(s.trueClassWins).toBeNull();
    expect(s.trueClassWinsClipped).toBeNull();
  });

  it('rejects an even number of points, a batch and a bad maxEps', () => {
    const { x, y } = image(correct);
    expect(() => fgsmSweep(model, x, y[0], { maxEps: 0.5, points: 20 })).toThrow(/odd/);
    expect(() => fgsmSweep(model, Tensor.zeros([2, 1, 28, 28]), 0, { maxEps: 0.5, points: 5 })).toThrow(/\[1, C, H, W\]/);
    expect(() => fgsmSweep(model, x, y[0], { maxEps: 0, points: 5 })).toThrow(/maxEps/);
  });

  it('plots ten named series with a title that says clipped or unclipped', async () => {
    const svg = await sweepPlotSvg({ ...r, index: correct }, false);
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('unclipped');
    expect(svg).toContain(`image ${correct}, label ${r.label}`);
    for (let k = 0; k < 10; k++) expect(svg).toContain(k === r.label ? `class ${k} (true)` : `class ${k}`);
    const clipped = await sweepPlotSvg(r, true);
    expect(clipped).toContain('clipped to [0, 1]');
    expect(clipped).not.toContain('unclipped');
  });
});
