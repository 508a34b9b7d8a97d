// wᵀη = ε·m·n (src/analysis/n-scaling.ts): exact for random w at a fixed m and linear in n; the trained softmax
// rows give one point per class at n = r²; the model's m is its first Dense layer's mean |w|; resizing averages
// areas; the plot names its series and title.
import { describe, expect, it } from 'vitest';
import { firstDenseMeanAbsW, randomNScaling, resizeDataset, trainedNScaling } from '../../src/analysis/n-scaling.js';
import { Dense } from '../../src/layers/dense.js';
import { buildModel } from '../../src/layers/spec.js';
import { zooSpec } from '../../src/layers/zoo.js';
import { nScalingPlotSvg } from '../../src/report/linear-figures.js';
import type { Dataset } from '../../src/data/datasets.js';

describe('randomNScaling', () => {
  const ns = [10, 100, 1000, 10000, 100000];
  const pts = randomNScaling({ ns, m: 0.05, eps: 0.1, seed: 3 });

  it('measures wᵀη = ε·m·n with mean |w| = m exactly', () => {
    expect(pts.map((p) => p.n)).toEqual(ns);
    for (const p of pts) {
      expect(p.source).toBe('random');
      expect(Math.abs(p.m - 0.05) / 0.05).toBeLessThan(1e-12);
      expect(p.predicted).toBeCloseTo(0.1 * 0.05 * p.n, 9);
      expect(Math.abs(p.wEta - 0.1 * 0.05 * p.n) / (0.1 * 0.05 * p.n)).toBeLessThan(1e-9);
    }
  });

  it('grows linearly in n: wEta / n is the same constant ε·m for every n', () => {
    for (const p of pts) expect(Math.abs(p.wEta / p.n - 0.005) / 0.005).toBeLessThan(1e-9);
    expect(pts[4].wEta / pts[0].wEta).toBeCloseTo(10000, 5);
  });

  it('is seeded, and a point does not depend on the other ns', () => {
    const again = randomNScaling({ ns: [1000], m: 0.05, eps: 0.1, seed: 3 });
    expect(again[0]).toEqual(pts[2]);
  });

  it('rejects bad options', () => {
    expect(() => randomNScaling({ ns: [0], m: 0.05, eps: 0.1, seed: 0 })).toThrow(/ns/);
    expect(() => randomNScaling({ ns: [10], m: -1, eps: 0.1, seed: 0 })).toThrow(/m must/);
    expect(() => randomNScaling({ ns: [10], m: 1, eps: NaN, seed: 0 })).toThrow(/eps/);
  });
});

describe('firstDenseMeanAbsW', () => {
  it("is the mean |w| of the first Dense layer's whole weight, and 0 without a Dense layer", () => {
    const model = buildModel(zooSpec('mlp'), { seed: 2 });
    const W = (model.layers.find((l) => l instanceof Dense) as Dense).weight;
    let m = 0;
    for (const w of W.data) m += Math.abs(w);
    m /= W.size;
    expect(firstDenseMeanAbsW(model)).toBeCloseTo(m, 12);
    expect(firstDenseMeanAbsW(model)).toBeGreaterThan(0);
    const noDense = buildModel({ input: [1, 4, 4], layers: [{ type: 'flatten' }, { type: 'relu' }] }, { seed: 0 });
    expect(firstDenseMeanAbsW(noDense)).toBe(0);
  });
});

describe('resizeDataset', () => {
  // One 4×4 image: rows 0..3 of values 0, .25, .5, .75 across; label 7.
  const ds: Dataset = {
    images: Float32Array.from({ length: 16 }, (_, i) => (i % 4) / 4),
    labels: Uint8Array.of(7), count: 1, channels: 1, height: 4, width: 4, numClasses: 10, name: 'ramp',
  };

  it('averages 2×2 blocks when halving, repeats pixels when doubling, and keeps the rest', () => {
    const half = resizeDataset(ds, 2);
    expect([half.height, half.width, half.count, half.labels[0]]).toEqual([2, 2, 1, 7]);
    expect(Array.from(half.images)).toEqual([0.125, 0.625, 0.125, 0.625]);
    const twice = resizeDataset(half, 4);
    expect(Array.from(twice.images.subarray(0, 4))).toEqual([0.125, 0.125, 0.625, 0.625]);
    expect(Array.from(resizeDataset(ds, 4).images)).toEqual(Array.from(ds.images));
  });

  it('keeps the mean of an image for a non-integer ratio (area averaging)', () => {
    const r = resizeDataset(ds, 3);
    const mean = (a: Float32Array) => a.reduce((s, v) => s + v, 0) / a.length;
    expect(mean(r.images)).toBeCloseTo(mean(ds.images), 6);
    expect(() => resizeDataset(ds, 0)).toThrow(/size/);
  });
});

describe('trainedNScaling', () => {
  it('gives ten class rows per resolution with n = r² and wEta = ε·Σ|w_k| > 0', async () => {
    const pts = await trainedNScaling({ resolutions: [14, 28], eps: 0.1, epochs: 1, limit: 1000, seed: 0 });
    expect(pts.length).toBe(20);
    for (const [i, p] of pts.entries()) {
      const r = i < 10 ? 14 : 28;
      expect(p).toMatchObject({ n: r * r, resolution: r, source: 'trained', eps: 0.1 });
      expect(p.m).toBeGreaterThan(0);
      expect(p.wEta).toBeGreaterThan(0);
      expect(p.wEta).toBeCloseTo(p.predicted, 9);
      expect(p.wEta).toBeCloseTo(0.1 * p.m * p.n, 9);
    }
    // Σ|w_k| (not m) is what grows with n: four times the inputs, a larger ε·‖w_k‖₁ on average.
    const mean = (ps: typeof pts) => ps.reduce((s, p) => s + p.wEta, 0) / ps.length;
    expect(mean(pts.slice(10))).toBeGreaterThan(mean(pts.slice(0, 10)));
  });
});

describe('nScalingPlotSvg', () => {
  it('names the title, both series and the reference line', async () => {
    const random = randomNScaling({ ns: [100, 1000], m: 0.02, eps: 0.1, seed: 0 });
    const trained = [14, 28].flatMap((r) => [0.01, 0.02].map((m) => ({
      n: r * r, m, eps: 0.1, wEta: 0.1 * m * r * r, predicted: 0.1 * m * r * r, source: 'trained' as const, resolution: r,
    })));
    const svg = await nScalingPlotSvg([...random, ...trained]);
    expect(svg.startsWith('<svg')).toBe(true);
    for (const s of ['grows linearly with n', 'random w (m = 0.02)', 'trained softmax, class rows', 'ε·m·n']) {
      expect(svg).toContain(s);
    }
    expect(await nScalingPlotSvg(random)).not.toContain('trained');
    await expect(nScalingPlotSvg([])).rejects.toThrow(/nScalingPlotSvg/);
  });
});
