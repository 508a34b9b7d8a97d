// Attack losses: values by hand, dLogits and ∇x against central finite differences in float64, errors.
import { describe, expect, it } from 'vitest';
import { attackLosses, lossGradient, lossValues, type AttackLoss } from '../../src/attacks/losses.js';
import { Rng } from '../../src/engine/random.js';
import { noGrad } from '../../src/engine/tape.js';
import { Tensor } from '../../src/engine/tensor.js';
import { buildModel } from '../../src/layers/spec.js';
import { getBatch } from '../../src/data/batches.js';
import { loadMnistData } from '../../src/data/datasets.js';

const losses: AttackLoss[] = Object.values(attackLosses);

describe('attack losses', () => {
  it('have the values of their definitions', () => {
    const z = [2, 1, 0.5, 0, -1];
    expect(attackLosses.ce.value(z, 0, -1)).toBeCloseTo(Math.log(z.reduce((s, v) => s + Math.exp(v), 0)) - 2, 14);
    expect(attackLosses['ce-targeted'].value(z, 0, 3)).toBeCloseTo(0 - Math.log(z.reduce((s, v) => s + Math.exp(v), 0)), 14);
    expect(attackLosses.cw.value(z, 0, -1)).toBe(1 - 2); // max_{i≠y} z_i − z_y
    expect(attackLosses.cw.value(z, 2, -1)).toBe(2 - 0.5);
    expect(attackLosses['cw-targeted'].value(z, 0, 3)).toBe(0 - 2); // z_t − max_{i≠t} z_i
    // DLR (eq. 5): −(z_y − max_{i≠y} z_i)/(z_π1 − z_π3); π = (0, 1, 2, 3, 4).
    expect(attackLosses.dlr.value(z, 0, -1)).toBeCloseTo(-(2 - 1) / (2 - 0.5), 11);
    expect(attackLosses.dlr.value(z, 3, -1)).toBeCloseTo(-(0 - 2) / (2 - 0.5), 11);
    // Targeted DLR (eq. 6): −(z_y − z_t)/(z_π1 − (z_π3 + z_π4)/2).
    expect(attackLosses['dlr-targeted'].value(z, 0, 4)).toBeCloseTo(-(2 - -1) / (2 - (0.5 + 0) / 2), 11);
    // DLR is invariant to scaling and shifting the logits (the point of the ratio).
    const s = z.map((v) => 7 * v + 3);
    expect(attackLosses.dlr.value(s, 1, -1)).toBeCloseTo(attackLosses.dlr.value(z, 1, -1), 11);
    expect(attackLosses['dlr-targeted'].value(s, 1, 2)).toBeCloseTo(attackLosses['dlr-targeted'].value(z, 1, 2), 11);
  });

  it('dLogits equals central finite differences in float64 (random logits, every label/target)', () => {
    const rng = new Rng(4), h = 1e-6, C = 10;
    for (const loss of losses) {
      for (let trial = 0; trial < 20; trial++) {
        const z = Array.from({ length: C }, () => rng.normal(0, 3)); // distinct values: off the max/sort kinks
        const y = trial % C, t = (y + 1 + (trial % (C - 1))) % C;
        const dz = new Float64Array(C);
        const v = loss.dLogits(z, y, t, dz);
        expect(v).toBe(loss.value(z, y, t));
        for (let c = 0; c < C; c++) {
          const zp = z.slice(), zm = z.slice();
          zp[c] += h;
          zm[c] -= h;
          const fd = (loss.value(zp, y, t) - loss.value(zm, y, t)) / (2 * h);
          expect(Math.abs(dz[c] - fd)).toBeLessThan(1e-7 + 1e-6 * Math.abs(fd));
        }
      }
    }
  });

  it('lossGradient: ∇x of each example’s loss equals finite differences through a float64 model', () => {
    const model = buildModel(
      { input: [1, 28, 28], layers: [
        { type: 'conv2d', in: 1, out: 3, kernel: 5, stride: 3 }, { type: 'tanh' }, { type: 'flatten' }, { type: 'dense', in: 192, out: 10 },
      ] },
      { seed: 2, dtype: 'float64' },
    );
    const { x: x32, y } = getBatch(loadMnistData('test'), null, 0, 2);
    const x = x32.to('float64');
    const targets = Int32Array.from(y, (v) => (v + 3) % 10);
    const h = 1e-6;
    for (const loss of losses) {
      const t = loss.targeted ? targets : undefined;
      const g = lossGradient(model, x, y, loss, t);
      expect(g.dx.shape).toEqual(x.shape);
      const value = (n: number) => noGrad(() => lossValues(model.forward(x), y, loss, t).values[n]);
      for (const j of [200, 410, 784 + 300, 784 + 515]) {
        const n = Math.floor(j / 784), orig = x.data[j];
        x.data[j] = orig + h;
        const vp = value(n);
        x.data[j] = orig - h;
        const vm = value(n);
        x.data[j] = orig;
        const fd = (vp - vm) / (2 * h);
        expect(Math.abs(g.dx.data[j] - fd)).toBeLessThan(1e-8 + 1e-6 * Math.abs(fd));
      }
      expect(g.values[1]).toBe(value(1));
      expect(g.dx.data.some((v) => v !== 0)).toBe(true);
    }
  });

  it('rejects missing or bad targets and too few classes', () => {
    const logits = Tensor.from([1, 2, 3, 4, 5, 6], [2, 3]);
    expect(() => lossValues(logits, [0, 1], attackLosses['dlr-targeted'], [1, 2])).toThrow(/needs at least 4 classes, got 3/);
    expect(() => lossValues(logits, [0, 1], attackLosses['ce-targeted'], [1, 1])).toThrow(/targets\[1\] must be a class in 0..2 other than the label 1, got 1/);
    const model = buildModel({ input: [1, 28, 28], layers: [{ type: 'flatten' }, { type: 'dense', in: 784, out: 10 }] }, { seed: 0 });
    const x = Tensor.zeros([2, 1, 28, 28]);
    expect(() => lossGradient(model, x, [0, 1], attackLosses['cw-targeted'])).toThrow(/the loss 'cw-targeted' needs 2 targets, got none/);
    expect(() => lossGradient(model, x, [0], attackLosses.ce)).toThrow(/y must have 2 labels/);
  });
});
