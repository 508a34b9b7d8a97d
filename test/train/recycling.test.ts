// train() runs a built-in objective's steps in a recycling scope (engine/recycle.ts): the arrays of one step are
// reused by the next. That must change nothing: every method gives the same parameter bits as the same objective
// run without recycling (wrapped in a plain function, which is not marked recyclable), batch-norm statistics and
// dropout included; one scope per step; and what a step returns survives the next step.
import { describe, expect, it, vi } from 'vitest';
import { loadDataset, subset } from '../../src/data/datasets.js';
import * as recycle from '../../src/engine/recycle.js';
import { enableAuxBatchNorm } from '../../src/layers/batchnorm.js';
import { buildModel } from '../../src/layers/spec.js';
import { zooSpec } from '../../src/layers/zoo.js';
import { getBatch } from '../../src/data/batches.js';
import { Rng } from '../../src/engine/random.js';
import { recycledBytes } from '../../src/engine/recycle.js';
import { kernels } from '../../src/engine/kernels/kernels.js';
import { crossEntropyObjective, recyclableObjective, train, trainingStep, type Objective } from '../../src/train/loop.js';
import { Adam } from '../../src/train/optimizers.js';
import { adversarialMethods, methodObjective } from '../../src/train/methods.js';
import { isRecyclable } from '../../src/train/objective.js';

const digits = subset(loadDataset('mnist', 'train'), 0, 96);

/** The first index where a and b differ bit for bit, or -1. */
function firstChanged(a: ArrayLike<number>, b: ArrayLike<number>): number {
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return i;
  return a.length === b.length ? -1 : a.length;
}

function bytes(m: ReturnType<typeof buildModel>): string {
  return m.stateDict().map(([n, t]) => n + Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).toString('base64')).join('|');
}

async function trained(name: string, objective: Objective, aux: boolean): Promise<string> {
  const m = buildModel(zooSpec(name), { seed: 4 });
  if (aux) enableAuxBatchNorm(m);
  await train(m, digits, { epochs: 1, batchSize: 32, optimizer: 'adam', lr: 2e-3, seed: 4, objective });
  return bytes(m);
}

describe('training steps recycle their arrays without changing a bit', () => {
  const cases: [string, Objective, string][] = [
    ['cross-entropy', crossEntropyObjective, 'cnn'],
    ...adversarialMethods.map((method): [string, Objective, string] => [
      method, methodObjective(method, { steps: 2, stepSize: 0.1 }).objective, method === 'advprop' ? 'cnn-bn' : 'cnn',
    ]),
  ];
  for (const [name, objective, model] of cases) {
    it(`${name} on ${model}: the same parameters and statistics after 3 steps as without recycling`, async () => {
      expect(isRecyclable(objective)).toBe(true);
      const plain: Objective = (m, x, y, ctx) => objective(m, x, y, ctx); // unmarked: no recycling scope
      expect(isRecyclable(plain)).toBe(false);
      const scopes = vi.spyOn(recycle, 'recycling');
      const withPool = await trained(model, objective, name === 'advprop');
      const stepScopes = scopes.mock.calls.length;
      scopes.mockClear();
      const without = await trained(model, plain, name === 'advprop');
      const innerScopes = scopes.mock.calls.length; // the attacks' own scopes only
      scopes.mockRestore();
      expect(stepScopes - innerScopes).toBe(3); // one scope per step
      expect(withPool === without).toBe(true);
    });
  }

  for (const arenaOn of [true, false]) {
    it(`trainingStep keeps the loss and logits it returns: the next step's recycled arrays do not overwrite them (arena ${arenaOn ? 'on' : 'off'})`, () => {
      // batch 512: 5,120 logits, large enough to be pooled (smaller arrays never are)
      const data = subset(loadDataset('mnist', 'train'), 0, 1024);
      const model = buildModel(zooSpec('cnn'), { seed: 0 });
      model.train();
      const params = model.parameters();
      const opt = new Adam(params, { lr: 2e-3 });
      const tensors = params.map(([, t]) => t);
      const b1 = getBatch(data, null, 0, 512), b2 = getBatch(data, null, 512, 1024);
      const arena = kernels().arena!;
      const prev = recycle.useArena(arenaOn ? arena : null);
      try {
        const before = recycledBytes();
        const s1 = trainingStep(model, opt, tensors, crossEntropyObjective, b1.x, b1.y, { rng: new Rng(0), epoch: 0, step: 0 });
        // the step's activations went back to the pool, or were views of the kernels' arena: the results are not
        if (arenaOn) expect(arena.owns(s1.logits.data) || arena.owns(s1.loss.data)).toBe(false);
        else expect(recycledBytes()).toBeGreaterThan(before);
        const logits = s1.logits.data.slice(), loss = s1.loss.item();
        const s2 = trainingStep(model, opt, tensors, crossEntropyObjective, b2.x, b2.y, { rng: new Rng(0), epoch: 0, step: 1 });
        expect(s2.logits.data.buffer).not.toBe(s1.logits.data.buffer);
        expect(firstChanged(s1.logits.data, logits)).toBe(-1);
        expect(s1.loss.item()).toBe(loss);
      } finally {
        recycle.useArena(prev);
      }
    });
  }

  it('a custom objective runs without recycling unless it is marked', () => {
    const custom: Objective = (m, x, y, ctx) => crossEntropyObjective(m, x, y, ctx);
    expect(isRecyclable(custom)).toBe(false);
    expect(recyclableObjective(custom)).toBe(custom);
    expect(isRecyclable(custom)).toBe(true);
  });
});
