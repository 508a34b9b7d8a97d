// train() runs a built-in objective's steps in a recycling scope (engine/recycle.ts): the arrays of one step are
// reused by the next. That must change nothing: every method gives the same parameter bits as the same objective
// run without recycling (wrapped in a plain function, which is not marked recyclable), batch-norm statistics and
// dropout included, and the pool is actually used.
import { describe, expect, it, vi } from 'vitest';
import { loadDataset, subset } from '../../src/data/datasets.js';
import * as recycle from '../../src/engine/recycle.js';
import { enableAuxBatchNorm } from '../../src/layers/batchnorm.js';
import { buildModel } from '../../src/layers/spec.js';
import { zooSpec } from '../../src/layers/zoo.js';
import { crossEntropyObjective, recyclableObjective, train, type Objective } from '../../src/train/loop.js';
import { adversarialMethods, methodObjective } from '../../src/train/methods.js';
import { isRecyclable } from '../../src/train/objective.js';

const digits = subset(loadDataset('mnist', 'train'), 0, 96);

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

  it('a custom objective runs without recycling unless it is marked', () => {
    const custom: Objective = (m, x, y, ctx) => crossEntropyObjective(m, x, y, ctx);
    expect(isRecyclable(custom)).toBe(false);
    expect(recyclableObjective(custom)).toBe(custom);
    expect(isRecyclable(custom)).toBe(true);
  });
});
