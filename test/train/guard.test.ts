// The catastrophic-overfitting guard: a planted collapse (robust accuracy 0.8, 0.85, then 0.05) must fire, stop the
// training loop and put back the weights of the best check; near misses must not fire; the best weights go to disk;
// a resumed run continues the guard's record; and pgdAccuracy measures what PGD leaves.
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadModel } from '../../src/io/model-file.js';
import type { ModelSpec, Sequential } from '../../src/layers/sequential.js';
import { buildModel } from '../../src/layers/spec.js';
import { zooSpec } from '../../src/layers/zoo.js';
import { loadDataset, loadMnistData, subset } from '../../src/data/datasets.js';
import { evaluate } from '../../src/train/evaluate.js';
import { OverfittingGuard, pgdAccuracy } from '../../src/train/guard.js';
import { train } from '../../src/train/loop.js';

const spec: ModelSpec = {
  input: [1, 28, 28],
  layers: [{ type: 'flatten' }, { type: 'dense', in: 784, out: 16 }, { type: 'batchnorm1d', features: 16 }, { type: 'relu' }, { type: 'dense', in: 16, out: 10 }],
};
const data = subset(loadDataset('mnist', 'train'), 0, 200);
const state = (m: Sequential) => m.stateDict().map(([, t]) => Array.from(t.data));

/** A measure that returns the planted values in turn. */
const planted = (values: number[]) => {
  let i = 0;
  return () => values[Math.min(i++, values.length - 1)];
};

describe('the guard on a planted collapse', () => {
  it('fires at 0.05 after 0.8 and 0.85, stops training and restores the weights of the 0.85 check (also on disk)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nablax-guard-'));
    const bestPath = join(dir, 'best.safetensors');
    const model = buildModel(spec, { seed: 1 });
    const guard = new OverfittingGuard({ measure: planted([0.8, 0.85, 0.05, 0.9]), bestPath });
    const after: number[][][] = [];
    const r = await train(model, data, {
      epochs: 6, batchSize: 50, optimizer: 'adam', lr: 1e-2, seed: 1,
      onEpoch: (rec) => {
        after.push(state(model));
        guard.check(model, { epoch: rec.epoch, step: rec.epoch * 4 });
      },
      shouldStop: () => guard.collapsed,
    });
    expect(r.stopped).toBe(true);
    expect(r.history.map((h) => h.epoch)).toEqual([1, 2, 3]); // epochs 4–6 never completed
    expect(guard.history.map((p) => p.accuracy)).toEqual([0.8, 0.85, 0.05]);
    expect(guard.collapsed).toBe(true);
    expect(guard.reason).toMatch(/robust accuracy collapsed to 5\.0% at epoch 3 \(step 12\), below 0\.5 × the best 85\.0% \(epoch 2, step 8\) and below the floor 20\.0%/);
    expect(state(model)).not.toEqual(after[1]);
    expect(guard.restoreBest(model)).toBe(true);
    expect(state(model)).toEqual(after[1]); // parameters and batch-norm statistics of epoch 2
    expect(guard.report()).toMatchObject({ best: 0.85, bestEpoch: 2, bestStep: 8, stoppedAt: { epoch: 3, step: 12 }, restored: true, ratio: 0.5, floor: 0.2 });
    const onDisk = loadModel(bestPath);
    expect(state(onDisk.model)).toEqual(after[1].map((a) => Array.from(Float32Array.from(a))));
    expect(onDisk.metadata).toMatchObject({ guardAccuracy: '0.85', guardEpoch: '2', guardStep: '8' });
  });

  it('does not fire on a fall that is not both below half the best and below the floor', () => {
    const model = buildModel(spec, { seed: 1 });
    for (const values of [[0.5, 0.24], [0.3, 0.16], [0.1, 0.06, 0.2, 0.11]]) {
      const guard = new OverfittingGuard({ measure: planted(values) });
      values.forEach((_, i) => expect(guard.check(model, { epoch: i + 1, step: i })).not.toBe('collapsed'));
      expect(guard.collapsed).toBe(false);
    }
    const guard = new OverfittingGuard({ measure: planted([0.5, 0.19]) });
    expect(guard.check(model, { epoch: 1, step: 1 })).toBe('best');
    expect(guard.check(model, { epoch: 2, step: 2 })).toBe('collapsed');
    // thresholds are options
    const strict = new OverfittingGuard({ measure: planted([0.5, 0.24]), ratio: 0.5, floor: 0.3 });
    strict.check(model, { epoch: 1, step: 1 });
    expect(strict.check(model, { epoch: 2, step: 2 })).toBe('collapsed');
    expect(() => new OverfittingGuard({ measure: () => 0, ratio: 0 })).toThrow(/ratio must be in \(0, 1\]/);
    expect(() => new OverfittingGuard({ measure: () => 2 }).check(model, { epoch: 1, step: 1 })).toThrow(/measure returned 2/);
  });

  it('a resumed guard keeps the checks up to the checkpoint and the best weights from its file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nablax-guard-'));
    const bestPath = join(dir, 'best.safetensors');
    const model = buildModel(spec, { seed: 2 });
    const first = new OverfittingGuard({ measure: planted([0.4, 0.6, 0.5]), bestPath });
    first.check(model, { epoch: 1, step: 4 });
    const bestState = state(model);
    first.check(model, { epoch: 2, step: 8 });
    model.stateDict()[0][1].data[0] += 1; // training moves on
    first.check(model, { epoch: 3, step: 12 });
    expect(existsSync(bestPath)).toBe(true);
    const again = new OverfittingGuard({ measure: planted([0.05]) });
    again.resume(first.report(), 8, loadModel(bestPath)); // the checkpoint is at step 8
    expect(again.history.map((p) => p.step)).toEqual([4, 8]);
    expect(again.best).toEqual({ epoch: 2, step: 8, accuracy: 0.6 });
    expect(again.check(model, { epoch: 3, step: 12 })).toBe('collapsed');
    again.restoreBest(model);
    expect(state(model)[0][0]).toBeCloseTo(bestState[0][0], 6);
  });
});

describe('pgdAccuracy', () => {
  it('is the clean accuracy at ε = 0 and far below it at ε = 0.3 for a plainly trained softmax', async () => {
    const model = buildModel(zooSpec('softmax'), { seed: 0 });
    await train(model, subset(loadDataset('mnist', 'train'), 0, 1000), { epochs: 2, batchSize: 50, optimizer: 'adam', lr: 3e-3, seed: 0 });
    const test = subset(loadMnistData('test'), 0, 200);
    const clean = evaluate(model, test).accuracy;
    expect(pgdAccuracy(model, test, { eps: 0 })).toBe(clean);
    expect(clean).toBeGreaterThan(0.7);
    expect(pgdAccuracy(model, test, { eps: 0.3, steps: 5 })).toBeLessThan(0.1);
  });
});
