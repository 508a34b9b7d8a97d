// DeepFool (Moosavi-Dezfooli et al. 2016): on a two-class linear model one step is the closed-form projection onto the
// boundary (times 1 + overshoot), in L2 and L∞; on a trained cnn the attack properties hold (ε-ball and [0, 1] in
// float32, ε = 0 returns x, bit-identical reruns, success only over the initially correct).
import { beforeAll, describe, expect, it } from 'vitest';
import { deepfool, deepfoolLinf } from '../../src/attacks/deepfool.js';
import { summarizeMinNorm } from '../../src/attacks/min-norm.js';
import { Tensor } from '../../src/engine/tensor.js';
import type { Sequential } from '../../src/layers/sequential.js';
import { argmax, predict } from '../../src/layers/predict.js';
import { testBatch, trainedModel } from './fixtures.js';
import { closedForm, expectInBall, firstDiff, linearCase } from './min-norm-helpers.js';

describe('DeepFool on a two-class linear model', () => {
  it('equals the closed-form projection onto the boundary, scaled by 1 + overshoot (L2 and L∞)', () => {
    const D = 16, N = 12;
    const { model, x, y, v, c } = linearCase(D, N, 5);
    for (const [attack, norm] of [[deepfool, 'l2'], [deepfoolLinf, 'linf']] as const) {
      const r = attack.run(model, x, y, { eps: 1 });
      for (let n = 0; n < N; n++) {
        const xn = x.data.subarray(n * D, (n + 1) * D);
        const { delta, dist } = closedForm(v, c, xn, norm);
        expect(r.iterations[n]).toBe(1);
        expect(r.distances[n]).toBeCloseTo(1.02 * dist, 6);
        for (let j = 0; j < D; j++) expect(r.minimal.data[n * D + j]).toBeCloseTo(xn[j] + 1.02 * delta[j], 6);
        expect(r.success[n]).toBe(1);
      }
    }
  });
});

describe('DeepFool on a trained cnn', () => {
  let cnn: Sequential, x: Tensor, y: Int32Array;
  beforeAll(async () => {
    cnn = await trainedModel('cnn');
    ({ x, y } = testBatch(12));
  });

  it('stays in the ε-ball and in [0, 1] in float32; success is "misclassified within ε"; the initially wrong count as fooled', () => {
    const clean = argmax(predict(cnn, x));
    for (const [attack, norm, eps] of [[deepfool, 'l2', 1], [deepfoolLinf, 'linf', 0.1]] as const) {
      const r = attack.run(cnn, x, y, { eps, steps: 20 });
      expectInBall(r, x, eps, norm);
      const pred = argmax(predict(cnn, r.adversarial));
      for (let n = 0; n < 12; n++) {
        expect(r.success[n]).toBe(pred[n] !== y[n] ? 1 : 0);
        if (clean[n] !== y[n]) expect(r.distances[n]).toBe(0);
        else expect(r.success[n]).toBe(r.distances[n] <= eps ? 1 : 0);
      }
      // Every minimal point DeepFool returns is misclassified, and it finds one for almost every digit in 20 steps.
      const predMin = argmax(predict(cnn, r.minimal));
      const found = Array.from(r.distances).filter((d) => d < Infinity).length;
      for (let n = 0; n < 12; n++) if (r.distances[n] < Infinity) expect(predMin[n]).not.toBe(y[n]);
      expect(found).toBeGreaterThanOrEqual(10);
      const s = summarizeMinNorm(r.distances, norm, { epsilons: [0, eps] });
      expect(s.accuracy[0].accuracy).toBeCloseTo(clean.reduce((a, p, n) => a + (p === y[n] ? 1 : 0), 0) / 12, 12);
      expect(s.accuracy[1].accuracy).toBeCloseTo(1 - r.success.reduce((a, b) => a + b, 0) / 12, 12);
    }
  });

  it('returns x exactly at ε = 0 and reruns bit-identically', () => {
    const zero = deepfool.run(cnn, x, y, { eps: 0, steps: 5 });
    expect(firstDiff(zero.adversarial.data, x.data)).toBe(-1);
    const a = deepfoolLinf.run(cnn, x, y, { eps: 0.05, steps: 5 });
    const b = deepfoolLinf.run(cnn, x, y, { eps: 0.05, steps: 5 });
    expect(firstDiff(a.minimal.data, b.minimal.data)).toBe(-1);
    expect(firstDiff(a.adversarial.data, b.adversarial.data)).toBe(-1);
  });

  it('rejects bad options', () => {
    expect(() => deepfool.run(cnn, x, y, { eps: 0.1, overshoot: -1 })).toThrow(/deepfool: overshoot must be a finite number in \[0, Infinity\], got -1/);
    expect(() => deepfool.run(cnn, x, y, { eps: 0.1, norm: 'l0' as 'l2' })).toThrow(/deepfool: norm must be 'linf' or 'l2', got 'l0'/);
  });
});
