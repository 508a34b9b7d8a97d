// A training set whose size leaves a last batch of one example: that example joins the batch
// before it (batch-norm cannot normalise a single example), for cnn-bn and a BatchNorm1d model alike; sizes that
// can never give batch-norm two examples are refused up front.
import { describe, expect, it } from 'vitest';
import { buildModel } from '../../src/layers/spec.js';
import { zooSpec } from '../../src/layers/zoo.js';
import { loadDataset, subset } from '../../src/data/datasets.js';
import { crossEntropyObjective, epochBatches, train, type Objective } from '../../src/train/loop.js';

const data = subset(loadDataset('mnist', 'train'), 0, 9); // 9 ≡ 1 (mod 4)
const bn1d = { input: [1, 28, 28], layers: [
  { type: 'flatten' as const }, { type: 'dense' as const, in: 784, out: 8 }, { type: 'batchnorm1d' as const, features: 8 },
  { type: 'relu' as const }, { type: 'dense' as const, in: 8, out: 10 },
] };

/** Train one epoch and return the batch sizes the objective saw. */
async function sizes(spec: Parameters<typeof buildModel>[0], count: number, batchSize: number): Promise<number[]> {
  const seen: number[] = [];
  const objective: Objective = (m, x, y, ctx) => {
    seen.push(y.length);
    return crossEntropyObjective(m, x, y, ctx);
  };
  const model = buildModel(spec, { seed: 0 });
  const r = await train(model, subset(data, 0, count), { epochs: 1, batchSize, optimizer: 'adam', lr: 1e-3, seed: 0, objective });
  expect(Number.isFinite(r.history[0].loss)).toBe(true);
  return seen;
}

describe('the last batch is never a lone example', () => {
  it('epochBatches: ⌈count/B⌉, one fewer when the last batch would hold one', () => {
    expect([epochBatches(10_000, 128), epochBatches(129, 128), epochBatches(9, 4), epochBatches(8, 4), epochBatches(1, 4), epochBatches(5, 1)]).toEqual([79, 1, 2, 2, 1, 5]);
  });

  it('cnn-bn on 9 examples in batches of 4 trains on batches of 4 and 5', async () => {
    expect(await sizes(zooSpec('cnn-bn'), 9, 4)).toEqual([4, 5]);
  });

  it('a BatchNorm1d model (one value per channel per example) on 9 examples in batches of 4 trains too', async () => {
    expect(await sizes(bn1d, 9, 4)).toEqual([4, 5]);
    expect(await sizes(bn1d, 8, 4)).toEqual([4, 4]);
  });

  it('refuses up front what cannot give BatchNorm1d two examples: batch size 1, or a single example', async () => {
    await expect(sizes(bn1d, 9, 1)).rejects.toThrow(/^train: layer 2 \(batchnorm1d\) needs batches of at least 2 examples in training, got batch size 1$/);
    await expect(sizes(bn1d, 1, 4)).rejects.toThrow(/got a dataset of 1$/);
  });
});
