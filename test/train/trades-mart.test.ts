// TRADES and MART: their ops (KL, MART's margin term, p_y) against finite differences in float64 and against naive
// formulas; each objective's gradient with x' held fixed (parameters and input); their examples' ε-ball, [0, 1],
// ε = 0, seeding and evaluation mode; the limits β = 0 and λ = 0; and an end-to-end run on real digits.
import { describe, expect, it } from 'vitest';
import { evaluateAttack } from '../../src/analysis/attack-evaluation.js';
import { pgd } from '../../src/attacks/pgd.js';
import { gradcheck } from '../../src/engine/gradcheck.js';
import { softmaxCrossEntropy } from '../../src/engine/ops/loss.js';
import { mean, sum } from '../../src/engine/ops/reduce.js';
import { Rng } from '../../src/engine/random.js';
import { grad } from '../../src/engine/tape.js';
import { Tensor } from '../../src/engine/tensor.js';
import { BatchNorm } from '../../src/layers/batchnorm.js';
import { Dropout } from '../../src/layers/dropout.js';
import type { ModelSpec, Sequential } from '../../src/layers/sequential.js';
import { buildModel } from '../../src/layers/spec.js';
import { zooSpec } from '../../src/layers/zoo.js';
import { getBatch } from '../../src/data/batches.js';
import { loadDataset, loadMnistData, subset } from '../../src/data/datasets.js';
import { crossEntropyObjective, train, type Objective, type ObjectiveContext } from '../../src/train/loop.js';
import { boostMargin, labelProbability, martExample, martLoss, martObjective } from '../../src/train/mart.js';
import { klDivergence, tradesExample, tradesLoss, tradesObjective } from '../../src/train/trades.js';
import { distinct, tinyBatch } from '../helpers.js';

const tinySpec: ModelSpec = {
  input: [1, 4, 4],
  layers: [{ type: 'flatten' }, { type: 'dense', in: 16, out: 6 }, { type: 'tanh' }, { type: 'dense', in: 6, out: 3 }],
};
const tiny = (seed = 1) => buildModel(tinySpec, { seed, dtype: 'float64' });
const ctx = (seed: number): ObjectiveContext => ({ rng: new Rng(seed), epoch: 0, step: 0 });
const params = (m: Sequential) => m.parameters().map(([, t]) => t);

// Naive float64 references, straight from the definitions (moderate logits only).
function probs(z: Tensor): number[][] {
  const [N, C] = z.shape;
  return Array.from({ length: N }, (_, n) => {
    const e = Array.from({ length: C }, (_, c) => Math.exp(z.data[n * C + c]));
    const s = e.reduce((a, b) => a + b, 0);
    return e.map((v) => v / s);
  });
}
const naiveKl = (zP: Tensor, zQ: Tensor) => {
  const q = probs(zQ);
  return probs(zP).map((p, n) => p.reduce((s, pc, c) => s + pc * Math.log(pc / q[n][c]), 0));
};
const naiveBoost = (z: Tensor, y: Int32Array) =>
  probs(z).map((p, n) => -Math.log(1 - Math.max(...p.filter((_, c) => c !== y[n]))));

describe('the ops: float64 finite differences with a random upstream gradient, and the naive formulas', () => {
  const zP = distinct([5, 4], 1), zQ = distinct([5, 4], 2);
  const y = Int32Array.from([0, 3, 1, 2, 3]);

  it('klDivergence in both arguments', () => {
    const r = gradcheck(([a, b]) => klDivergence(a, b), [zP, zQ]);
    for (const e of r.maxRelError) expect(e).toBeLessThan(1e-6);
    expect(r.analytic.every((a) => a.data.some((v) => Math.abs(v) > 1e-3))).toBe(true);
    const kl = klDivergence(zP, zQ);
    naiveKl(zP, zQ).forEach((v, n) => expect(kl.data[n]).toBeCloseTo(v, 13));
  });

  it('boostMargin (the runner-up held off ties) and labelProbability', () => {
    const rb = gradcheck(([z]) => boostMargin(z, y), [zP]);
    expect(rb.maxRelError[0]).toBeLessThan(1e-6);
    const rp = gradcheck(([z]) => labelProbability(z, y), [zQ]);
    expect(rp.maxRelError[0]).toBeLessThan(1e-6);
    const b = boostMargin(zP, y);
    naiveBoost(zP, y).forEach((v, n) => expect(b.data[n]).toBeCloseTo(v, 13));
    const p = labelProbability(zQ, y);
    probs(zQ).forEach((row, n) => expect(p.data[n]).toBeCloseTo(row[y[n]], 14));
  });

  it('stay finite and exact where probabilities saturate (logits ±1000, float32)', () => {
    const z = Tensor.from([1000, -1000, 0, 0, 1000, -1000], [2, 3]);
    const w = Tensor.from([-1000, 1000, 0, 0, 1000, -1000], [2, 3]);
    const kl = klDivergence(z, w);
    expect(kl.data[0]).toBeCloseTo(2000, 3); // log p₀ − log q₀ = 0 − (−2000)
    expect(kl.data[1]).toBe(0);
    const yy = Int32Array.from([0, 1]);
    const b = boostMargin(z, yy); // row 0: the runner-up has p ≈ e^−1000 → 0; row 1: p₀ ≈ e^−1000
    expect(b.data[0]).toBeCloseTo(0, 6);
    expect(b.data[1]).toBeCloseTo(0, 6);
    const b2 = boostMargin(z, Int32Array.from([1, 0])); // the runner-up is the certain class: −log(1 − 1) ≈ 1000
    expect(b2.data[0]).toBeCloseTo(1000, 3);
    const zz = z.detach().requireGrad(), ww = w.detach().requireGrad();
    const [dz, dw] = grad(sum(klDivergence(zz, ww)), [zz, ww]);
    for (const v of [...dz.data, ...dw.data]) expect(Number.isFinite(v)).toBe(true);
  });

  it('KL(p ‖ p) = 0 and KL ≥ 0; bad shapes and labels are named', () => {
    expect(Array.from(klDivergence(zP, zP).data)).toEqual([0, 0, 0, 0, 0]);
    for (const v of klDivergence(zP, zQ).data) expect(v).toBeGreaterThan(0);
    expect(() => klDivergence(zP, distinct([5, 3], 3))).toThrow(/klDivergence: zQ must have zP's shape \[5, 4\], got \[5, 3\]/);
    expect(() => boostMargin(zP, Int32Array.from([0, 4, 1, 2, 3]))).toThrow(/boostMargin: label 4 at index 1 is not a class in 0..3/);
    expect(() => labelProbability(zP, Int32Array.from([0]))).toThrow(/labelProbability: 1 labels for logits \[5, 4\]/);
  });
});

describe('each objective’s gradient with x′ held fixed matches finite differences (float64), parameters and input', () => {
  const cases = [
    {
      name: 'trades (β = 2, ε = 0.3, 5 steps of 0.1)',
      objective: tradesObjective({ beta: 2, eps: 0.3, steps: 5, stepSize: 0.1 }),
      example: (m: Sequential, x: Tensor, _y: Int32Array, rng: Rng) => tradesExample(m, x, { eps: 0.3, steps: 5, stepSize: 0.1 }, rng),
      loss: (m: Sequential, x: Tensor, xAdv: Tensor, y: Int32Array) => tradesLoss(m, x, xAdv, y, 2).loss,
    },
    {
      name: 'mart (λ = 6, ε = 0.3, 5 steps of 0.1)',
      objective: martObjective({ lambda: 6, eps: 0.3, steps: 5, stepSize: 0.1 }),
      example: (m: Sequential, x: Tensor, y: Int32Array, rng: Rng) => martExample(m, x, y, { eps: 0.3, steps: 5, stepSize: 0.1 }, rng),
      loss: (m: Sequential, x: Tensor, xAdv: Tensor, y: Int32Array) => martLoss(m, x, xAdv, y, 6).loss,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const model = tiny();
      const { x, y } = tinyBatch(5, 2);
      const { loss } = c.objective(model, x, y, ctx(7));
      const dParams = grad(loss, params(model));
      const xAdv = c.example(model, x, y, new Rng(7));
      expect(Math.max(...xAdv.data.map((v, i) => Math.abs(v - x.data[i])))).toBeGreaterThan(0.25); // it moved
      const fixed = () => c.loss(model, x, xAdv, y);
      expect(fixed().item()).toBe(loss.item());
      const check = gradcheck(fixed, params(model));
      for (const e of check.maxRelError) expect(e).toBeLessThan(1e-6);
      grad(fixed(), params(model)).forEach((d, i) => expect(Array.from(d.data)).toEqual(Array.from(dParams[i].data)));
      // the clean input too (∇x of the training loss, x′ fixed)
      const xc = x.detach();
      const inputCheck = gradcheck(([xi]) => c.loss(model, xi, xAdv, y), [xc]);
      expect(inputCheck.maxRelError[0]).toBeLessThan(1e-6);
      expect(inputCheck.analytic[0].data.some((v) => Math.abs(v) > 1e-3)).toBe(true);
    });
  }

  it('MART’s loss is eq. 9 computed naively (mean of CE + margin term, plus λ·mean of KL·(1 − p_y))', () => {
    const model = tiny(3);
    const { x, y } = tinyBatch(6, 4);
    const xAdv = martExample(model, x, y, { eps: 0.3, steps: 3, stepSize: 0.1 }, new Rng(1));
    const z = model.forward(x), za = model.forward(xAdv);
    const p = probs(z), pa = probs(za), kl = naiveKl(z, za), boost = naiveBoost(za, y);
    let want = 0;
    for (let n = 0; n < y.length; n++) want += (-Math.log(pa[n][y[n]]) + boost[n] + 6 * kl[n] * (1 - p[n][y[n]])) / y.length;
    expect(martLoss(model, x, xAdv, y, 6).loss.item()).toBeCloseTo(want, 12);
  });
});

describe('limits', () => {
  const { x, y } = tinyBatch(6, 3);

  it('TRADES with β = 0 is cross-entropy on the clean batch exactly; with ε = 0 the KL term vanishes', () => {
    const ce = crossEntropyObjective(tiny(), x, y, ctx(0));
    for (const objective of [tradesObjective({ beta: 0, steps: 2 }), tradesObjective({ beta: 3, eps: 0, steps: 2 })]) {
      const r = objective(tiny(), x, y, ctx(0));
      expect(r.loss.item()).toBeCloseTo(ce.loss.item(), 14);
      expect(Array.from(r.logits.data)).toEqual(Array.from(ce.logits.data));
    }
  });

  it('MART with λ = 0 is the boosted cross-entropy on x′; with ε = 0, on x', () => {
    const m = tiny();
    const xAdv = martExample(m, x, y, { eps: 0.3, steps: 2, stepSize: 0.1 }, new Rng(0));
    const bce = (xx: Tensor) => mean(boostMargin(m.forward(xx), y)).item() + softmaxCrossEntropy(m.forward(xx), y).item();
    expect(martObjective({ lambda: 0, steps: 2, stepSize: 0.1 })(m, x, y, ctx(0)).loss.item()).toBeCloseTo(bce(xAdv), 13);
    expect(martObjective({ lambda: 6, eps: 0, steps: 2 })(m, x, y, ctx(0)).loss.item()).toBeCloseTo(bce(x), 13);
  });

  it('rejects bad options with messages that name them', () => {
    expect(() => tradesObjective({ beta: -1 })).toThrow(/tradesObjective: beta must be a finite number in \[0, ∞\], got -1/);
    expect(() => martObjective({ lambda: NaN })).toThrow(/martObjective: lambda/);
    expect(() => tradesObjective({ steps: 1.5 })).toThrow(/tradesObjective: steps must be an integer/);
    const bad = x.detach();
    bad.data[2] = -0.5;
    expect(() => tradesExample(tiny(), bad, { eps: 0.1, steps: 1, stepSize: 0.1 }, new Rng(0))).toThrow(/tradesExample: x must lie in \[0, 1\].*-0.5 at flat index 2/);
    expect(() => tradesLoss(tiny(), x, new Tensor(x.data, [6, 16]), y, 1)).toThrow(/tradesLoss: xAdv must have x's shape/);
  });
});

describe('the examples', () => {
  const attacks = [
    ['trades', (m: Sequential, x: Tensor, y: Int32Array, eps: number, seed: number) => tradesExample(m, x, { eps, steps: 6, stepSize: eps / 3 }, new Rng(seed))],
    ['mart', (m: Sequential, x: Tensor, y: Int32Array, eps: number, seed: number) => martExample(m, x, y, { eps, steps: 6, stepSize: eps / 3 }, new Rng(seed))],
  ] as const;

  for (const [name, attack] of attacks) {
    it(`${name}: in the ε-ball and [0, 1] on real digits in float32, ε = 0 returns x, seeded reruns are bit-identical`, () => {
      const model = buildModel(zooSpec('softmax'), { seed: 0 });
      const { x, y } = getBatch(loadMnistData('test'), null, 0, 16);
      const a = attack(model, x, y, 0.3, 5);
      let maxD = 0;
      a.data.forEach((v, i) => {
        expect(v >= 0 && v <= 1).toBe(true);
        maxD = Math.max(maxD, Math.abs(v - x.data[i]));
      });
      // exactly within ε in float32: x ± ε rounded to float32 is where the projection lands
      a.data.forEach((v, i) => expect(Math.abs(v - x.data[i])).toBeLessThanOrEqual(Math.fround(0.3) + 1e-7));
      expect(maxD).toBeGreaterThan(0.29);
      expect(Array.from(attack(model, x, y, 0.3, 5).data)).toEqual(Array.from(a.data));
      expect(Array.from(attack(model, x, y, 0.3, 6).data)).not.toEqual(Array.from(a.data));
      expect(Array.from(attack(model, x, y, 0, 5).data)).toEqual(Array.from(x.data));
    });
  }

  it('trades raises the KL from x, mart raises the cross-entropy', () => {
    const model = tiny(2);
    const { x, y } = tinyBatch(8, 5);
    const zx = model.forward(x);
    // a random corner of the ε-ball (clipped to [0, 1]) is the bar: ascent must beat it several times over
    const rng = new Rng(3);
    const corner = new Tensor(x.data.map((v) => Math.min(1, Math.max(0, v + (rng.next() < 0.5 ? -0.2 : 0.2)))), x.shape);
    const xt = tradesExample(model, x, { eps: 0.2, steps: 8, stepSize: 0.05 }, new Rng(0));
    expect(mean(klDivergence(zx, model.forward(xt))).item()).toBeGreaterThan(3 * mean(klDivergence(zx, model.forward(corner))).item());
    const xm = martExample(model, x, y, { eps: 0.2, steps: 8, stepSize: 0.05 }, new Rng(0));
    expect(softmaxCrossEntropy(model.forward(xm), y).item()).toBeGreaterThan(softmaxCrossEntropy(zx, y).item() + 0.05);
  });

  it('both attack in evaluation mode (batch-norm’s running statistics, no dropout), then restore training mode untouched', () => {
    const spec: ModelSpec = {
      input: [1, 4, 4],
      layers: [{ type: 'flatten' }, { type: 'dense', in: 16, out: 8 }, { type: 'batchnorm1d', features: 8 }, { type: 'tanh' }, { type: 'dropout', p: 0.5 }, { type: 'dense', in: 8, out: 3 }],
    };
    const model = buildModel(spec, { seed: 1, dtype: 'float64' }).train();
    const bn = model.layers[2] as BatchNorm, drop = model.layers[4] as Dropout;
    bn.runningMean.data.set([0.1, -0.2, 0.3, 0, 0.1, 0.2, -0.1, 0]); // running statistics that differ from a batch's
    const { x, y } = tinyBatch(6, 6);
    const before = Array.from(bn.runningMean.data);
    drop.rng = new Rng(42);
    for (const [, attack] of attacks) {
      const a = attack(model, x, y, 0.3, 9);
      expect(model.training && bn.training && drop.training).toBe(true);
      const e = attack(model.eval(), x, y, 0.3, 9);
      model.train();
      expect(Array.from(a.data)).toEqual(Array.from(e.data));
    }
    expect(Array.from(bn.runningMean.data)).toEqual(before);
    expect(drop.rng.next()).toBe(new Rng(42).next());
    // …and the training forward of the objective does use training mode (it updates the running mean)
    tradesObjective({ steps: 1 })(model, x, y, ctx(0));
    expect(Array.from(bn.runningMean.data)).not.toEqual(before);
  });
});

// Measured (seeds 0 and 1, 2,000 digits, 4 epochs, Adam 3e-3): PGD-10 ε = 0.1 accuracy on 500 test images, plain
// 21.4% / 20.6%, TRADES (β = 3, 3 KL steps of 0.04) 55.4% / 53.6%, MART (λ = 6, 3 CE steps) 57.4% / 56.8%; clean
// 85.2 / 86.6, 81.6 / 81.6, 78.6 / 78.8. A broken objective (no gradient through the KL, a wrong sign) cannot add 20 points.
describe('on real digits TRADES and MART buy PGD robustness that plain training lacks (softmax, 2,000 digits, 4 epochs)', () => {
  it('PGD-10 ε = 0.1 accuracy on 500 test images > 20 points above plain training, clean accuracy > 70%', async () => {
    const data = subset(loadDataset('mnist', 'train'), 0, 2000);
    const test = loadMnistData('test');
    const measure = async (objective?: Objective) => {
      const m = buildModel(zooSpec('softmax'), { seed: 0 });
      await train(m, data, { epochs: 4, batchSize: 64, optimizer: 'adam', lr: 3e-3, seed: 0, objective });
      return (await evaluateAttack(m, pgd, test, { eps: 0.1, limit: 500, attackOptions: { steps: 10, stepSize: 0.025 } })).metrics;
    };
    const plain = await measure();
    for (const objective of [tradesObjective({ beta: 3, eps: 0.1, steps: 3, stepSize: 0.04 }), martObjective({ eps: 0.1, steps: 3, stepSize: 0.04 })]) {
      const r = await measure(objective);
      expect(r.cleanAccuracy).toBeGreaterThan(0.7);
      expect(r.accuracy).toBeGreaterThan(plain.accuracy + 0.2);
    }
  });
});
