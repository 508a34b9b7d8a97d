// Training end to end on real digits, optimiser rules, determinism and bit-identical resumption.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Tensor } from '../../src/engine/tensor.js';
import type { ModelSpec } from '../../src/layers/sequential.js';
import { buildModel } from '../../src/layers/spec.js';
import { zooSpec } from '../../src/layers/zoo.js';
import { loadDataset, loadMnistData, subset } from '../../src/data/datasets.js';
import { evaluate } from '../../src/train/evaluate.js';
import { scheduledLr, train } from '../../src/train/loop.js';
import { Adam, SGD, makeOptimizer } from '../../src/train/optimizers.js';

const digits = loadDataset('mnist', 'train');
const test = subset(loadMnistData('test'), 0, 1000);

describe('training on real MNIST digits reaches accuracies a broken engine cannot', () => {
  it('softmax: 3,000 digits, 2 epochs → ≥ 85% on 1,000 official test images', async () => {
    const m = buildModel(zooSpec('softmax'), { seed: 1 });
    await train(m, subset(digits, 0, 3000), { epochs: 2, batchSize: 64, optimizer: 'adam', lr: 3e-3, seed: 1 });
    expect(evaluate(m, test).accuracy).toBeGreaterThanOrEqual(0.85);
  });

  it('cnn: 2,000 digits, 1 epoch → ≥ 80% on 1,000 official test images', async () => {
    const m = buildModel(zooSpec('cnn'), { seed: 2 });
    const r = await train(m, subset(digits, 0, 2000), { epochs: 1, batchSize: 32, optimizer: 'adam', lr: 2e-3, seed: 2 });
    expect(r.history[0].loss).toBeLessThan(2.0);
    expect(evaluate(m, test).accuracy).toBeGreaterThanOrEqual(0.8);
  });
});

const small: ModelSpec = {
  input: [1, 28, 28],
  layers: [{ type: 'flatten' }, { type: 'dense', in: 784, out: 32 }, { type: 'relu' }, { type: 'dropout', p: 0.3 }, { type: 'dense', in: 32, out: 10 }],
};

function bytes(m: ReturnType<typeof buildModel>): string {
  return m.stateDict().map(([n, t]) => n + Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).toString('base64')).join('|');
}

describe('determinism and resumption', () => {
  const data = subset(digits, 0, 600);
  const opts = { epochs: 3, batchSize: 50, optimizer: 'adam', lr: 1e-3, seed: 5 };

  it('the same seed gives bit-identical weights', async () => {
    const a = buildModel(small, { seed: 3 }), b = buildModel(small, { seed: 3 });
    await train(a, data, opts);
    await train(b, data, opts);
    expect(bytes(a)).toBe(bytes(b));
  });

  it('stopping after an epoch and resuming from the checkpoint is bit-identical to an uninterrupted run', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nablax-resume-'));
    const straight = buildModel(small, { seed: 3 });
    await train(straight, data, opts);

    const ckpt = join(dir, 'run.ckpt.safetensors');
    const first = buildModel(small, { seed: 3 });
    let batches = 0;
    const r1 = await train(first, data, { ...opts, checkpoint: ckpt, shouldStop: () => ++batches > 12 + 3 }); // mid-epoch 2
    expect(r1.stopped).toBe(true);
    expect(r1.history.length).toBe(1);
    const resumed = buildModel(small, { seed: 99 }); // different init: everything must come from the checkpoint
    const r2 = await train(resumed, data, { ...opts, checkpoint: ckpt, resume: true });
    expect(r2.startEpoch).toBe(1);
    expect(r2.history.length).toBe(3);
    expect(bytes(resumed)).toBe(bytes(straight));
    expect(readFileSync(ckpt).length).toBeGreaterThan(0);
  });

  it('refuses a checkpoint made for another architecture', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nablax-resume-'));
    const ckpt = join(dir, 'c.safetensors');
    await train(buildModel(small, { seed: 1 }), subset(digits, 0, 100), { ...opts, epochs: 1, checkpoint: ckpt });
    await expect(train(buildModel(zooSpec('softmax')), data, { ...opts, checkpoint: ckpt, resume: true })).rejects.toThrow(/different architecture/);
  });
});

describe('optimisers follow their update rules', () => {
  const param = () => Tensor.from([1, -2], [2], 'float64').requireGrad();
  const g = Tensor.from([0.5, -1], [2], 'float64');

  it('SGD with momentum and weight decay', () => {
    const p = param();
    const opt = new SGD([['p', p]], { lr: 0.1, momentum: 0.9, weightDecay: 0.01 });
    opt.step([g]);
    opt.step([g]);
    // b1 = g + λθ0; θ1 = θ0 − η b1; b2 = μ b1 + g + λθ1; θ2 = θ1 − η b2
    const th0 = 1, b1 = 0.5 + 0.01 * th0, th1 = th0 - 0.1 * b1, b2 = 0.9 * b1 + 0.5 + 0.01 * th1, th2 = th1 - 0.1 * b2;
    expect(p.data[0]).toBeCloseTo(th2, 12);
  });

  it('Adam: the first step moves each parameter by lr against the gradient sign', () => {
    const p = param();
    new Adam([['p', p]], { lr: 0.01 }).step([g]);
    expect(p.data[0]).toBeCloseTo(1 - 0.01, 6);
    expect(p.data[1]).toBeCloseTo(-2 + 0.01, 6);
  });

  it('rejects unknown names and bad learning rates', () => {
    expect(() => makeOptimizer('rmsprop', [], { lr: 0.1 })).toThrow(/unknown optimiser 'rmsprop'/);
    expect(() => makeOptimizer('adam', [], { lr: -1 })).toThrow(/learning rate must be a positive number/);
  });
});

describe('learning-rate schedules', () => {
  it('cosine decays from lr to 0; constant stays', () => {
    expect(scheduledLr('cosine', 1e-3, 0, 100)).toBeCloseTo(1e-3, 12);
    expect(scheduledLr('cosine', 1e-3, 50, 100)).toBeCloseTo(5e-4, 12);
    expect(scheduledLr('cosine', 1e-3, 100, 100)).toBeCloseTo(0, 12);
    expect(scheduledLr('constant', 1e-3, 70, 100)).toBe(1e-3);
    expect(() => scheduledLr('step' as never, 1, 0, 1)).toThrow(/unknown schedule 'step'/);
  });
});
