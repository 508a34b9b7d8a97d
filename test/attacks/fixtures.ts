// Small real models for attack tests, trained once per test file on real MNIST digits (a few seconds).
import { buildModel } from '../../src/layers/spec.js';
import type { Sequential } from '../../src/layers/sequential.js';
import { zooSpec } from '../../src/layers/zoo.js';
import { getBatch, type Batch } from '../../src/data/batches.js';
import { loadDataset, loadMnistData, subset } from '../../src/data/datasets.js';
import { train } from '../../src/train/loop.js';

const cache = new Map<string, Sequential>();

/** A softmax (3,000 digits, 2 epochs, ~90% test accuracy) or cnn (3,000 digits, 1 epoch, ~90%). */
export async function trainedModel(name: 'softmax' | 'cnn'): Promise<Sequential> {
  const hit = cache.get(name);
  if (hit) return hit;
  const m = buildModel(zooSpec(name), { seed: 0 });
  const data = subset(loadDataset('mnist', 'train'), 0, 3000);
  await train(m, data, { epochs: name === 'softmax' ? 2 : 1, batchSize: 32, optimizer: 'adam', lr: 2e-3, seed: 0 });
  m.eval();
  cache.set(name, m);
  return m;
}

/** The first n official test images and labels. */
export function testBatch(n: number, start = 0): Batch {
  return getBatch(loadMnistData('test'), null, start, start + n);
}
