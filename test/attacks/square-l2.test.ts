// The L2 Square attack: the η window pattern, the unrescaled p schedule AutoAttack uses, and the attack properties
// (L2 ball exact on the float32 values, [0, 1], ε = 0, seeds, success = misclassified, query budget).
import { beforeAll, describe, expect, it } from 'vitest';
import { ScoreOracle } from '../../src/attacks/oracle.js';
import { squareL2, squareEta } from '../../src/attacks/square-l2.js';
import { squareP } from '../../src/attacks/square.js';
import { noGrad } from '../../src/engine/tape.js';
import { Tensor } from '../../src/engine/tensor.js';
import type { Sequential } from '../../src/layers/sequential.js';
import { argmax } from '../../src/layers/predict.js';
import { testBatch, trainedModel } from './fixtures.js';

let cnn: Sequential, x: Tensor, y: Int32Array;
beforeAll(async () => {
  cnn = await trainedModel('cnn');
  ({ x, y } = testBatch(16));
});

describe('squareEta and the p schedule', () => {
  it('η has unit L2 norm, a positive top half, a negative bottom half; transposed it is the same pattern sideways', () => {
    for (const s of [3, 5, 7, 25]) {
      const e = squareEta(s, false), t = squareEta(s, true);
      expect(e.reduce((a, v) => a + v * v, 0)).toBeCloseTo(1, 12);
      for (let i = 0; i < s; i++) for (let j = 0; j < s; j++) {
        expect(Math.sign(e[i * s + j])).toBe(i < s >> 1 ? 1 : -1);
        expect(t[j * s + i]).toBe(e[i * s + j]);
      }
      // The peak of each half sits at its centre column (concentric rectangles).
      const mid = s >> 1, row = (s >> 1) >> 1;
      for (let j = 0; j < s; j++) expect(e[row * s + mid]).toBeGreaterThanOrEqual(e[row * s + j]);
    }
  });

  it('AutoAttack’s 5,000 queries keep the 10,000-query marks (no rescaling)', () => {
    expect(squareP(0.8, 10, 5000, false)).toBe(0.8);
    expect(squareP(0.8, 11, 5000, false)).toBe(0.4);
    expect(squareP(0.8, 600, 5000, false)).toBe(0.8 / 16);
    expect(squareP(0.8, 4999, 5000, false)).toBe(0.8 / 128);
    expect(squareP(0.8, 600, 5000)).toBe(0.8 / 32); // rescaled: iteration 1,200 of 10,000
  });
});

describe('squareL2', () => {
  it('stays in the L2 ball (exactly) and in [0, 1], counts queries, and success means misclassified', () => {
    const eps = 2.5, maxQueries = 150;
    const oracle = new ScoreOracle(cnn);
    const r = squareL2.run(oracle, x, y, { eps, maxQueries, seed: 1 });
    const p = argmax(noGrad(() => cnn.forward(r.adversarial)));
    for (let n = 0; n < 16; n++) {
      let l2 = 0;
      for (let j = n * 784; j < (n + 1) * 784; j++) {
        const a = r.adversarial.data[j];
        expect(a >= 0 && a <= 1).toBe(true);
        l2 += (a - x.data[j]) ** 2;
      }
      expect(Math.sqrt(l2)).toBeLessThanOrEqual(eps);
      expect(r.success[n]).toBe(p[n] !== y[n] ? 1 : 0);
      expect(r.queries![n]).toBeLessThanOrEqual(maxQueries);
    }
    expect(r.success.reduce((a, b) => a + b, 0)).toBeGreaterThan(2);
    expect(oracle.queries).toBe(r.queries!.reduce((a, b) => a + b, 0));
  });

  it('returns x at ε = 0 and is bit-identical for a seed', () => {
    const z = squareL2.run(new ScoreOracle(cnn), x, y, { eps: 0, maxQueries: 50 });
    expect(Array.from(z.adversarial.data)).toEqual(Array.from(x.data));
    const go = (seed: number) => squareL2.run(new ScoreOracle(cnn), x, y, { eps: 2, maxQueries: 40, seed, earlyStop: false });
    const a = go(3), b = go(3), c = go(4);
    expect(a.adversarial.data.every((v, i) => Object.is(v, b.adversarial.data[i]))).toBe(true);
    expect(a.adversarial.data.some((v, i) => v !== c.adversarial.data[i])).toBe(true);
  });

  it('rejects bad options with one-line messages', () => {
    const o = new ScoreOracle(cnn);
    expect(() => squareL2.run(o, x, y, { eps: -1 })).toThrow(/^square-l2\.run: eps must be a finite number ≥ 0, got -1$/);
    expect(() => squareL2.run(o, x, y, { eps: 1, maxQueries: 0 })).toThrow(/maxQueries must be an integer ≥ 1, got 0/);
  });
});
