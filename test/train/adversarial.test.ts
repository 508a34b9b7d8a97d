// Adversarial training objectives: the parameter gradient of each against finite differences with its adversarial
// batch held fixed, the limits that reduce to cross-entropy, the ε-ball, the attack's mode, seeding, and an end-to-end
// run on real digits where Goodfellow's objective must buy FGSM robustness that plain training does not have.
import { describe, expect, it } from 'vitest';
import { fgsm } from '../../src/attacks/fgsm.js';
import { evaluateAttack } from '../../src/analysis/attack-evaluation.js';
import { gradcheck } from '../../src/engine/gradcheck.js';
import { Rng } from '../../src/engine/random.js';
import { grad } from '../../src/engine/tape.js';
import { Tensor } from '../../src/engine/tensor.js';
import { BatchNorm } from '../../src/layers/batchnorm.js';
import { Dropout } from '../../src/layers/dropout.js';
import type { ModelSpec, Sequential } from '../../src/layers/sequential.js';
import { buildModel } from '../../src/layers/spec.js';
import { zooSpec } from '../../src/layers/zoo.js';
import {
  adversarialLoss, augmentLoss, augmentObjective, fastExample, fastObjective, fgsmExample, goodfellowLoss,
  goodfellowObjective, inAttackMode, pgdExample, pgdObjective, warmupFraction,
} from '../../src/train/adversarial.js';
import { getBatch } from '../../src/data/batches.js';
import { loadDataset, loadMnistData, subset } from '../../src/data/datasets.js';
import { crossEntropyObjective, train, type Objective } from '../../src/train/loop.js';
import { tinyBatch } from '../helpers.js';

const tinySpec: ModelSpec = {
  input: [1, 4, 4],
  layers: [{ type: 'flatten' }, { type: 'dense', in: 16, out: 6 }, { type: 'tanh' }, { type: 'dense', in: 6, out: 3 }],
};
const tiny = (seed = 1) => buildModel(tinySpec, { seed, dtype: 'float64' });

const ctx = (seed: number) => ({ rng: new Rng(seed), epoch: 0, step: 0 });

// Each objective beside its adversarial example and its loss for a fixed adversarial batch; `example` must draw
// from the generator exactly as the objective draws from ctx.rng.
const cases: { name: string; objective: Objective; example: (m: Sequential, x: Tensor, y: Int32Array, rng: Rng) => Tensor; loss: (m: Sequential, x: Tensor, xAdv: Tensor, y: Int32Array) => Tensor }[] = [
  {
    name: 'goodfellow (α = 0.3, ε = 0.25)',
    objective: goodfellowObjective({ alpha: 0.3, eps: 0.25 }),
    example: (m, x, y) => fgsmExample(m, x, y, { eps: 0.25 }),
    loss: (m, x, xAdv, y) => goodfellowLoss(m, x, xAdv, y, 0.3).loss,
  },
  {
    name: 'augment fgsm (ε = 0.1)',
    objective: augmentObjective({ eps: 0.1, direction: 'fgsm' }),
    example: (m, x, y) => fgsmExample(m, x, y, { eps: 0.1, direction: 'fgsm' }),
    loss: (m, x, xAdv, y) => augmentLoss(m, x, xAdv, y).loss,
  },
  {
    name: 'augment invfgsm (ε = 0.1)',
    objective: augmentObjective({ eps: 0.1, direction: 'invfgsm' }),
    example: (m, x, y) => fgsmExample(m, x, y, { eps: 0.1, direction: 'invfgsm' }),
    loss: (m, x, xAdv, y) => augmentLoss(m, x, xAdv, y).loss,
  },
  {
    name: 'pgd (ε = 0.3, 7 steps of 0.1, random start)',
    objective: pgdObjective(),
    example: (m, x, y, rng) => pgdExample(m, x, y, { eps: 0.3, steps: 7, stepSize: 0.1, randomStart: true }, rng),
    loss: (m, x, xAdv, y) => adversarialLoss(m, x, xAdv, y).loss,
  },
  {
    name: 'fast (ε = 0.3, α = 1.25·ε)',
    objective: fastObjective(),
    example: (m, x, y, rng) => fastExample(m, x, y, { eps: 0.3, alpha: 0.375 }, rng),
    loss: (m, x, xAdv, y) => adversarialLoss(m, x, xAdv, y).loss,
  },
];

describe('each objective’s parameter gradient, with its adversarial batch held fixed, matches finite differences (float64)', () => {
  for (const c of cases) {
    it(c.name, () => {
      const model = tiny();
      const { x, y } = tinyBatch(5, 2);
      const params = model.parameters().map(([, t]) => t);
      const { loss } = c.objective(model, x, y, ctx(7));
      const dParams = grad(loss, params);
      // The same adversarial batch, made once and then held constant while the parameters move.
      const xAdv = c.example(model, x, y, new Rng(7));
      expect(Math.max(...xAdv.data.map((v, i) => Math.abs(v - x.data[i])))).toBeGreaterThan(0.05); // it is adversarial
      const fixed = () => c.loss(model, x, xAdv, y);
      expect(fixed().item()).toBe(loss.item());
      const check = gradcheck(fixed, params, { floor: 1e-3 });
      for (const e of check.maxRelError) expect(e).toBeLessThan(1e-6);
      // What train() steps with is the gradient of that fixed-batch loss: nothing flows through the attack.
      const dFixed = grad(fixed(), params);
      dParams.forEach((d, i) => expect(Array.from(d.data)).toEqual(Array.from(dFixed[i].data)));
    });
  }
});

describe('limits that reduce to plain cross-entropy', () => {
  const { x, y } = tinyBatch(6, 3);
  const params = (m: Sequential) => m.parameters().map(([, t]) => t);
  const plain = () => {
    const m = tiny();
    const r = crossEntropyObjective(m, x, y, ctx(0));
    return { ...r, d: grad(r.loss, params(m)) };
  };

  it('goodfellow with α = 1 is cross-entropy exactly, gradient and clean logits included', () => {
    const ce = plain();
    const m = tiny();
    const r = goodfellowObjective({ alpha: 1, eps: 0.25 })(m, x, y, ctx(0));
    expect(r.loss.item()).toBe(ce.loss.item());
    expect(Array.from(r.logits.data)).toEqual(Array.from(ce.logits.data));
    grad(r.loss, params(m)).forEach((d, i) => expect(Array.from(d.data)).toEqual(Array.from(ce.d[i].data)));
  });

  it('goodfellow with ε = 0 is cross-entropy (to rounding), for any α', () => {
    const ce = plain();
    for (const alpha of [0, 0.3, 0.5]) {
      const m = tiny();
      const r = goodfellowObjective({ alpha, eps: 0 })(m, x, y, ctx(0));
      expect(r.loss.item()).toBeCloseTo(ce.loss.item(), 14);
      grad(r.loss, params(m)).forEach((d, i) => d.data.forEach((v, j) => expect(v).toBeCloseTo(ce.d[i].data[j], 14)));
    }
  });

  it('augment with ε = 0 and pgd / fast with ε = 0 are cross-entropy too; every objective returns the clean logits', () => {
    const ce = plain();
    for (const objective of [augmentObjective({ eps: 0, direction: 'fgsm' }), pgdObjective({ eps: 0 }), fastObjective({ eps: 0 })]) {
      const r = objective(tiny(), x, y, ctx(0));
      expect(r.loss.item()).toBeCloseTo(ce.loss.item(), 14);
      expect(Array.from(r.logits.data)).toEqual(Array.from(ce.logits.data));
    }
    for (const objective of [goodfellowObjective(), augmentObjective({ eps: 0.2, direction: 'fgsm' }), pgdObjective(), fastObjective()]) {
      expect(Array.from(objective(tiny(), x, y, ctx(0)).logits.data)).toEqual(Array.from(ce.logits.data));
    }
  });

  it('rejects bad options and inputs outside [0, 1] with messages that name them', () => {
    expect(() => goodfellowObjective({ alpha: 1.5 })).toThrow(/goodfellowObjective: alpha must be a finite number in \[0, 1\], got 1.5/);
    expect(() => pgdObjective({ steps: 2.5 })).toThrow(/pgdObjective: steps must be an integer/);
    expect(() => fastObjective({ eps: -1 })).toThrow(/fastObjective: eps/);
    expect(() => augmentObjective({ eps: 0.1, direction: 'up' as 'fgsm' })).toThrow(/direction must be 'fgsm' or 'invfgsm'/);
    const bad = x.detach();
    bad.data[3] = 1.5;
    expect(() => goodfellowObjective()(tiny(), bad, y, ctx(0))).toThrow(/fgsmExample: x must lie in \[0, 1\].*1.5 at flat index 3/);
  });
});

describe('adversarial examples', () => {
  it('pgd and fast stay inside the ε-ball and [0, 1], and use it', () => {
    const model = tiny();
    const { x, y } = tinyBatch(20, 4);
    for (const eps of [0.05, 0.3]) {
      const examples = [
        pgdExample(model, x, y, { eps, steps: 7, stepSize: eps / 3, randomStart: true }, new Rng(1)),
        pgdExample(model, x, y, { eps, steps: 3, stepSize: eps, randomStart: false }, new Rng(1)),
        fastExample(model, x, y, { eps, alpha: 1.25 * eps }, new Rng(2)),
      ];
      for (const xAdv of examples) {
        let maxD = 0;
        xAdv.data.forEach((v, i) => {
          expect(v).toBeGreaterThanOrEqual(0);
          expect(v).toBeLessThanOrEqual(1);
          maxD = Math.max(maxD, Math.abs(v - x.data[i]));
        });
        expect(maxD).toBeLessThanOrEqual(eps + 1e-12);
        expect(maxD).toBeGreaterThan(0.99 * eps);
      }
    }
  });

  it('in float32 on real digits too (within float32 rounding of ε)', () => {
    const model = buildModel(zooSpec('softmax'), { seed: 0 });
    const { x, y } = getBatch(loadMnistData('test'), null, 0, 16);
    for (const xAdv of [pgdExample(model, x, y, { eps: 0.3, steps: 3, stepSize: 0.1, randomStart: true }, new Rng(3)), fastExample(model, x, y, { eps: 0.3, alpha: 0.375 }, new Rng(3))]) {
      xAdv.data.forEach((v, i) => {
        expect(v >= 0 && v <= 1).toBe(true);
        expect(Math.abs(v - x.data[i])).toBeLessThanOrEqual(0.3 + 1e-6);
      });
    }
  });

  it('one PGD step of ε from x without random start is FGSM, and PGD raises the loss above the clean one', () => {
    const model = tiny();
    const { x, y } = tinyBatch(8, 5);
    const one = pgdExample(model, x, y, { eps: 0.2, steps: 1, stepSize: 0.2, randomStart: false }, new Rng(0));
    expect(Array.from(one.data)).toEqual(Array.from(fgsmExample(model, x, y, { eps: 0.2 }).data));
    const xPgd = pgdExample(model, x, y, { eps: 0.2, steps: 10, stepSize: 0.05, randomStart: true }, new Rng(0));
    const { loss } = adversarialLoss(model, x, xPgd, y);
    expect(loss.item()).toBeGreaterThan(crossEntropyObjective(model, x, y, ctx(0)).loss.item());
  });

  it('the attack runs in the model’s mode with dropout as the identity and batch-norm’s running statistics untouched', () => {
    const spec: ModelSpec = {
      input: [1, 4, 4],
      layers: [{ type: 'flatten' }, { type: 'dense', in: 16, out: 8 }, { type: 'batchnorm1d', features: 8 }, { type: 'tanh' }, { type: 'dropout', p: 0.5 }, { type: 'dense', in: 8, out: 3 }],
    };
    const model = buildModel(spec, { seed: 1, dtype: 'float64' }).train();
    const bn = model.layers[2] as BatchNorm, drop = model.layers[4] as Dropout;
    const { x, y } = tinyBatch(6, 6);
    const before = { mean: Array.from(bn.runningMean.data) };
    drop.rng = new Rng(42);
    const a = pgdExample(model, x, y, { eps: 0.3, steps: 4, stepSize: 0.1, randomStart: true }, new Rng(9));
    const b = pgdExample(model, x, y, { eps: 0.3, steps: 4, stepSize: 0.1, randomStart: true }, new Rng(9));
    expect(Array.from(a.data)).toEqual(Array.from(b.data)); // no random dropout mask in the attack
    expect(Array.from(bn.runningMean.data)).toEqual(before.mean);
    expect(drop.rng.next()).toBe(new Rng(42).next()); // the dropout generator was not drawn from
    expect(model.training && bn.training && drop.training).toBe(true);
    // Training mode does reach the attack: batch statistics, not the running ones, normalise its batches.
    const evalExample = pgdExample(model.eval(), x, y, { eps: 0.3, steps: 4, stepSize: 0.1, randomStart: true }, new Rng(9));
    model.train();
    expect(Array.from(evalExample.data)).not.toEqual(Array.from(a.data));
    // Inside: dropout off, batch-norm in training; afterwards both as before, even when the attack throws.
    expect(inAttackMode(model, () => [drop.training, bn.training])).toEqual([false, true]);
    expect(() => inAttackMode(model, () => { throw new Error('attack failed'); })).toThrow('attack failed');
    expect([drop.training, bn.training]).toEqual([true, true]);
    // The objective's training forward does update the running statistics.
    pgdObjective()(model, x, y, ctx(9));
    expect(Array.from(bn.runningMean.data)).not.toEqual(before.mean);
  });
});

describe('seeding', () => {
  const { x, y } = tinyBatch(10, 8);

  it('the same ctx.rng seed gives bit-identical losses; another seed another random start', () => {
    for (const c of cases) {
      const l1 = c.objective(tiny(), x, y, ctx(21)).loss.item();
      const l2 = c.objective(tiny(), x, y, ctx(21)).loss.item();
      expect(Object.is(l1, l2)).toBe(true);
    }
    for (const objective of [pgdObjective(), fastObjective()]) {
      expect(objective(tiny(), x, y, ctx(21)).loss.item()).not.toBe(objective(tiny(), x, y, ctx(22)).loss.item());
    }
  });

  it('training with pgd on a model with dropout and batch-norm is bit-identical run to run', async () => {
    const spec: ModelSpec = {
      input: [1, 28, 28],
      layers: [{ type: 'flatten' }, { type: 'dense', in: 784, out: 16 }, { type: 'batchnorm1d', features: 16 }, { type: 'relu' }, { type: 'dropout', p: 0.3 }, { type: 'dense', in: 16, out: 10 }],
    };
    const data = subset(loadDataset('mnist', 'train'), 0, 200);
    const run = async () => {
      const m = buildModel(spec, { seed: 4 });
      const r = await train(m, data, { epochs: 2, batchSize: 50, optimizer: 'adam', lr: 1e-3, seed: 4, objective: pgdObjective({ steps: 3 }) });
      return { losses: r.history.map((h) => h.loss), weights: m.stateDict().map(([, t]) => Array.from(t.data)) };
    };
    const a = await run(), b = await run();
    expect(a.losses).toEqual(b.losses);
    expect(a.weights).toEqual(b.weights);
  });
});

// One epoch (47 Adam steps at 1e-3) barely moves a softmax from its initialisation: measured, plain 73.6% clean / 0%
// under FGSM against Goodfellow 70.0% / 6.0%. Five epochs at 3e-3 (~1 s) let the objective show: over seeds 0-2,
// plain ≈ 89.5% clean / 0% FGSM, Goodfellow ≈ 82% clean / 17-20% FGSM (a linear model's robustness at ε = 0.25 is small).
describe('Goodfellow’s objective on real digits buys FGSM robustness (softmax, 3,000 digits, 5 epochs)', () => {
  it('FGSM ε = 0.25 accuracy on 500 test images is > 10 points above plain training, clean accuracy > 70%', async () => {
    const data = subset(loadDataset('mnist', 'train'), 0, 3000);
    const test = loadMnistData('test');
    const measure = async (objective?: Objective) => {
      const m = buildModel(zooSpec('softmax'), { seed: 0 });
      await train(m, data, { epochs: 5, batchSize: 64, optimizer: 'adam', lr: 3e-3, seed: 0, objective });
      const { metrics } = await evaluateAttack(m, fgsm, test, { eps: 0.25, limit: 500 });
      return metrics;
    };
    const plain = await measure();
    const adv = await measure(goodfellowObjective({ alpha: 0.5, eps: 0.25 }));
    console.log(
      `softmax, 5 epochs on 3,000 digits — plain: clean ${(100 * plain.cleanAccuracy).toFixed(1)}%, FGSM ε=0.25 ${(100 * plain.accuracy).toFixed(1)}%; ` +
        `goodfellow: clean ${(100 * adv.cleanAccuracy).toFixed(1)}%, FGSM ε=0.25 ${(100 * adv.accuracy).toFixed(1)}%`,
    );
    expect(adv.cleanAccuracy).toBeGreaterThan(0.7);
    expect(adv.accuracy).toBeGreaterThan(plain.accuracy + 0.1);
  });
});

describe('ε warm-up', () => {
  it('ramps linearly from one step in to the full ε after the warm-up epochs, and is 1 without one', () => {
    expect(warmupFraction(2, { rng: new Rng(0), epoch: 0, step: 0, stepsPerEpoch: 10 })).toBeCloseTo(1 / 20, 12);
    expect(warmupFraction(2, { rng: new Rng(0), epoch: 0, step: 9, stepsPerEpoch: 10 })).toBeCloseTo(0.5, 12);
    expect(warmupFraction(2, { rng: new Rng(0), epoch: 1, step: 19, stepsPerEpoch: 10 })).toBe(1);
    expect(warmupFraction(2, { rng: new Rng(0), epoch: 5, step: 55, stepsPerEpoch: 10 })).toBe(1);
    expect(warmupFraction(0, { rng: new Rng(0), epoch: 0, step: 0, stepsPerEpoch: 10 })).toBe(1);
    expect(warmupFraction(2, { rng: new Rng(0), epoch: 0, step: 0 })).toBe(1);
  });

  it('a PGD objective early in its warm-up attacks with a small ε: its loss is near the clean loss', () => {
    const model = tiny();
    const { x, y } = tinyBatch(8, 5);
    const clean = crossEntropyObjective(model, x, y, { rng: new Rng(0), epoch: 0, step: 0 }).loss.item();
    const ctx = { rng: new Rng(1), epoch: 0, step: 0, stepsPerEpoch: 1e6 };
    const warm = pgdObjective({ eps: 0.3, steps: 3, stepSize: 0.1, warmupEpochs: 1 })(model, x, y, ctx).loss.item();
    const full = pgdObjective({ eps: 0.3, steps: 3, stepSize: 0.1 })(model, x, y, { ...ctx, rng: new Rng(1) }).loss.item();
    expect(Math.abs(warm - clean)).toBeLessThan(1e-4);
    expect(full).toBeGreaterThan(clean + 1e-3);
  });
});
