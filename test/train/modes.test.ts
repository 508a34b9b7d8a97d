// Every temporary switch to evaluation mode puts back each layer's own train/eval flag, so a
// batch-norm frozen inside a training model (model.train(); model.layers[1].eval()) stays frozen.
import { describe, expect, it } from 'vitest';
import { evaluateAttack } from '../../src/analysis/attack-evaluation.js';
import { fgsm } from '../../src/attacks/fgsm.js';
import { inputGradient } from '../../src/attacks/input-gradient.js';
import { ScoreOracle } from '../../src/attacks/oracle.js';
import { pgd } from '../../src/attacks/pgd.js';
import { square } from '../../src/attacks/square.js';
import { Rng } from '../../src/engine/random.js';
import { buildModel } from '../../src/layers/spec.js';
import type { Sequential } from '../../src/layers/sequential.js';
import { zooSpec } from '../../src/layers/zoo.js';
import { pgdObjective } from '../../src/train/adversarial.js';
import { getBatch } from '../../src/data/batches.js';
import { loadDataset, subset } from '../../src/data/datasets.js';
import { inEvalMode, predict } from '../../src/layers/predict.js';
import { evaluate, evaluateAsync } from '../../src/train/evaluate.js';
import { pgdAccuracy } from '../../src/train/guard.js';
import { train } from '../../src/train/loop.js';

const data = subset(loadDataset('mnist', 'train'), 0, 16);
const { x, y } = getBatch(data, null, 0, 4);

function frozenModel(): Sequential {
  const model = buildModel(zooSpec('cnn-bn'), { seed: 0 });
  model.train();
  model.layers[1].eval(); // a frozen batch-norm
  return model;
}

function expectModes(model: Sequential): void {
  expect(model.training).toBe(true);
  model.layers.forEach((l, i) => expect(l.training, `layer ${i}`).toBe(i !== 1));
}

describe('per-layer modes survive every temporary switch', () => {
  const cases: [string, (m: Sequential) => unknown][] = [
    ['inputGradient', (m) => inputGradient(m, x, y)],
    ['predict', (m) => predict(m, x)],
    ['evaluate', (m) => evaluate(m, data, { limit: 8 })],
    ['evaluateAsync', (m) => evaluateAsync(m, data, { limit: 8, batchSize: 3 })],
    ['inEvalMode', (m) => inEvalMode(m, () => 0)],
    ['fgsm', (m) => fgsm.run(m, x, y, { eps: 0.1 })],
    ['pgd', (m) => pgd.run(m, x, y, { eps: 0.1, steps: 2, seed: 0 })],
    ['the oracle and square', (m) => square.run(new ScoreOracle(m), x, y, { eps: 0.1, maxQueries: 5 })],
    ['evaluateAttack', (m) => evaluateAttack(m, fgsm, data, { eps: 0.1, limit: 4 })],
    ['the guard (pgdAccuracy)', (m) => pgdAccuracy(m, subset(data, 0, 4), { eps: 0.1, steps: 1 })],
    ['an adversarial-training objective', (m) => pgdObjective({ eps: 0.1, steps: 1 })(m, x, y, { rng: new Rng(0), epoch: 0, step: 0 })],
  ];
  for (const [name, run] of cases) {
    it(name, async () => {
      const model = frozenModel();
      await run(model);
      expectModes(model);
    });
  }

  it('a training step after inputGradient leaves the frozen batch-norm’s running mean where it was', async () => {
    const model = frozenModel();
    inputGradient(model, x, y);
    const mean = model.stateDict().find(([n]) => n === '1.running_mean')![1].data.slice();
    await train(model, subset(data, 0, 8), { epochs: 1, batchSize: 4, optimizer: 'sgd', lr: 0.01, seed: 0 });
    expectModes(model);
    expect(Array.from(model.stateDict().find(([n]) => n === '1.running_mean')![1].data)).toEqual(Array.from(mean));
    // while the unfrozen one (layer 5) did move
    expect(model.stateDict().find(([n]) => n === '5.running_mean')![1].data.some((v) => v !== 0)).toBe(true);
  });

  it('evaluateAsync gives evaluate\'s numbers bit for bit, batch by batch, reporting each batch', async () => {
    const model = frozenModel();
    const seen: [number, number][] = [];
    const a = await evaluateAsync(model, data, { batchSize: 5, onProgress: (done, total) => seen.push([done, total]) });
    expect(a).toEqual(evaluate(model, data, { batchSize: 5 }));
    expect(a.count).toBe(16);
    expect(seen).toEqual([[5, 16], [10, 16], [15, 16], [16, 16]]);
  });

  it('restoreModes refuses a state of another model', () => {
    const model = frozenModel();
    expect(() => model.restoreModes({ model: true, layers: [true] })).toThrow(/Sequential.restoreModes: saved modes must have 12 layer flags, got 1/);
  });
});
