// AdvProp: the objective's parameter gradient against finite differences with its adversarial batch held fixed (main
// and auxiliary batch-norm parameters both), evaluation through the main batch-norm only, the auxiliary state in the
// optimiser and the checkpoint but not in the model file, and bit-identical resumption.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { gradcheck } from '../../src/engine/gradcheck.js';
import { softmaxCrossEntropy } from '../../src/engine/ops/loss.js';
import { Rng } from '../../src/engine/random.js';
import { grad } from '../../src/engine/tape.js';
import { Tensor } from '../../src/engine/tensor.js';
import { loadModel, saveModel } from '../../src/io/model-file.js';
import { BatchNorm, enableAuxBatchNorm, hasAuxBatchNorm, withAuxBatchNorm } from '../../src/layers/batchnorm.js';
import type { ModelSpec, Sequential } from '../../src/layers/sequential.js';
import { buildModel } from '../../src/layers/spec.js';
import { zooSpec } from '../../src/layers/zoo.js';
import { pgdExample } from '../../src/train/adversarial.js';
import { advpropLoss, advpropObjective } from '../../src/train/advprop.js';
import { getBatch } from '../../src/data/batches.js';
import { loadDataset, subset } from '../../src/data/datasets.js';
import { predict } from '../../src/layers/predict.js';
import { train } from '../../src/train/loop.js';
import { tinyBatch } from '../helpers.js';

const tinySpec: ModelSpec = {
  input: [1, 4, 4],
  layers: [{ type: 'flatten' }, { type: 'dense', in: 16, out: 6 }, { type: 'batchnorm1d', features: 6 }, { type: 'tanh' }, { type: 'dense', in: 6, out: 3 }],
};

/** A float64 BN model whose auxiliary set differs from its main one (and neither is the identity). */
function tinyBn(seed = 1): { model: Sequential; bn: BatchNorm } {
  const model = enableAuxBatchNorm(buildModel(tinySpec, { seed, dtype: 'float64' }));
  const bn = model.layers[2] as BatchNorm;
  const rng = new Rng(seed + 100);
  for (const t of [bn.weight, bn.aux!.weight]) t.data.forEach((_, i) => (t.data[i] = rng.uniform(0.5, 1.5)));
  for (const t of [bn.bias, bn.aux!.bias]) t.data.forEach((_, i) => (t.data[i] = rng.uniform(-0.3, 0.3)));
  for (const t of [bn.runningMean, bn.aux!.runningMean]) t.data.forEach((_, i) => (t.data[i] = rng.uniform(-0.5, 0.5)));
  for (const t of [bn.runningVar, bn.aux!.runningVar]) t.data.forEach((_, i) => (t.data[i] = rng.uniform(0.5, 2)));
  return { model, bn };
}

const ctx = (seed: number) => ({ rng: new Rng(seed), epoch: 0, step: 0 });
const pgdOpts = { eps: 0.3, steps: 5, stepSize: 0.1, randomStart: true };

describe('the AdvProp objective', () => {
  it('its parameter gradient, with the adversarial batch held fixed, matches finite differences (float64, main and auxiliary batch-norm)', () => {
    const { model } = tinyBn();
    const { x, y } = tinyBatch(6, 2);
    const named = model.parameters();
    expect(named.map(([n]) => n)).toEqual(['1.weight', '1.bias', '2.weight', '2.bias', '4.weight', '4.bias', '2.aux.weight', '2.aux.bias']);
    const params = named.map(([, t]) => t);
    const { loss } = advpropObjective()(model, x, y, ctx(7));
    const dParams = grad(loss, params);
    // The same adversarial batch, made through the auxiliary batch-norm and then held constant.
    const xAdv = withAuxBatchNorm(model, () => pgdExample(model, x, y, pgdOpts, new Rng(7)));
    expect(Math.max(...xAdv.data.map((v, i) => Math.abs(v - x.data[i])))).toBeGreaterThan(0.05);
    const fixed = () => advpropLoss(model, x, xAdv, y).loss;
    expect(fixed().item()).toBe(loss.item());
    const check = gradcheck(fixed, params, { floor: 1e-3 });
    check.maxRelError.forEach((e, i) => expect(e, named[i][0]).toBeLessThan(1e-6));
    const dFixed = grad(fixed(), params);
    dParams.forEach((d, i) => expect(Array.from(d.data)).toEqual(Array.from(dFixed[i].data)));
    // Both batch-norm sets are trained, each by its own half of the loss.
    for (const i of [2, 3, 6, 7]) expect(dParams[i].data.some((v) => Math.abs(v) > 1e-8), named[i][0]).toBe(true);
  });

  it('is J_main(x) + J_aux(x_pgd), the attack made through the auxiliary batch-norm', () => {
    const { model } = tinyBn();
    const { x, y } = tinyBatch(6, 3);
    const { loss, logits } = advpropObjective()(model, x, y, ctx(4));
    const viaAux = withAuxBatchNorm(model, () => pgdExample(model, x, y, pgdOpts, new Rng(4)));
    const viaMain = pgdExample(model, x, y, pgdOpts, new Rng(4));
    expect(Array.from(viaAux.data)).not.toEqual(Array.from(viaMain.data));
    const main = softmaxCrossEntropy(model.forward(x), y).item();
    const aux = withAuxBatchNorm(model, () => softmaxCrossEntropy(model.forward(viaAux), y).item());
    expect(loss.item()).toBeCloseTo(main + aux, 12);
    expect(Array.from(logits.data)).toEqual(Array.from(model.forward(x).data));
  });

  it('each batch-norm set keeps its own running statistics in training; the attack changes neither', () => {
    const { model, bn } = tinyBn();
    const { x, y } = tinyBatch(8, 5);
    const mainBefore = Array.from(bn.runningMean.data), auxBefore = Array.from(bn.aux!.runningMean.data);
    withAuxBatchNorm(model, () => pgdExample(model, x, y, pgdOpts, new Rng(1)));
    expect(Array.from(bn.runningMean.data)).toEqual(mainBefore);
    expect(Array.from(bn.aux!.runningMean.data)).toEqual(auxBefore);
    advpropObjective()(model, x, y, ctx(1));
    expect(Array.from(bn.runningMean.data)).not.toEqual(mainBefore);
    expect(Array.from(bn.aux!.runningMean.data)).not.toEqual(auxBefore);
    expect(Array.from(bn.aux!.runningMean.data)).not.toEqual(Array.from(bn.runningMean.data));
  });

  it('refuses a model without its auxiliary batch-norm, and a model without batch-norm, with messages that say what to do', () => {
    const { x, y } = tinyBatch(4, 1);
    const plain = buildModel(tinySpec, { seed: 1, dtype: 'float64' });
    expect(hasAuxBatchNorm(plain)).toBe(false);
    expect(() => advpropObjective()(plain, x, y, ctx(0))).toThrow(/call enableAuxBatchNorm\(model\) before train\(\)/);
    const noBn = buildModel({ input: [1, 4, 4], layers: [{ type: 'flatten' }, { type: 'dense', in: 16, out: 3 }] });
    expect(() => enableAuxBatchNorm(noBn)).toThrow(/no batch-norm layer \(AdvProp needs one, e.g. the zoo's cnn-bn\)/);
    expect(() => advpropObjective({ steps: 1.5 })).toThrow(/advpropObjective: steps must be an integer/);
    expect(() => advpropObjective({ eps: -0.1 })).toThrow(/advpropObjective: eps/);
  });
});

describe('evaluation uses the main batch-norm only', () => {
  const { x } = tinyBatch(5, 9);
  const evalOut = (m: Sequential) => Array.from(predict(m, x).data);

  it('changing the auxiliary statistics and parameters leaves the evaluation output bit-identical; changing the main ones does not', () => {
    const { model, bn } = tinyBn();
    const before = evalOut(model);
    for (const t of [bn.aux!.runningMean, bn.aux!.runningVar, bn.aux!.weight, bn.aux!.bias]) t.data.forEach((v, i) => (t.data[i] = v * 3 + 1));
    expect(evalOut(model)).toEqual(before);
    // …but the auxiliary set is live: routed through it, the same evaluation changes.
    expect(withAuxBatchNorm(model, () => evalOut(model))).not.toEqual(before);
    expect(evalOut(model)).toEqual(before); // routed back
    for (const t of [bn.runningMean, bn.runningVar, bn.weight, bn.bias]) {
      const saved = t.data.slice();
      t.data[0] += 0.5;
      expect(evalOut(model), 'main tensor changed').not.toEqual(before);
      t.data.set(saved);
    }
    expect(evalOut(model)).toEqual(before);
  });

  it('routing is restored when the function throws, and nests', () => {
    const { model, bn } = tinyBn();
    expect(() => withAuxBatchNorm(model, () => { throw new Error('inside'); })).toThrow('inside');
    expect(bn.useAux).toBe(false);
    withAuxBatchNorm(model, () => {
      withAuxBatchNorm(model, () => expect(bn.useAux).toBe(true));
      expect(bn.useAux).toBe(true);
    });
    expect(bn.useAux).toBe(false);
  });
});

describe('the auxiliary state: trained and checkpointed, not in the model file', () => {
  const bnSpec: ModelSpec = {
    input: [1, 28, 28],
    layers: [{ type: 'flatten' }, { type: 'dense', in: 784, out: 16 }, { type: 'batchnorm1d', features: 16 }, { type: 'relu' }, { type: 'dense', in: 16, out: 10 }],
  };
  const data = subset(loadDataset('mnist', 'train'), 0, 200);
  const opts = { epochs: 3, batchSize: 50, optimizer: 'adam', lr: 1e-3, seed: 5, objective: advpropObjective({ steps: 2 }) };
  const bytes = (entries: [string, Tensor][]) => entries.map(([n, t]) => n + Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).toString('base64')).join('|');

  it('the optimiser moves the auxiliary parameters; the saved cnn-bn holds the main network only and loads as a plain cnn-bn', async () => {
    const model = enableAuxBatchNorm(buildModel(zooSpec('cnn-bn'), { seed: 0 }));
    const aux = (model.layers[1] as BatchNorm).aux!;
    const auxWeight = Array.from(aux.weight.data);
    await train(model, subset(data, 0, 64), { ...opts, epochs: 1, batchSize: 32 });
    expect(Array.from(aux.weight.data)).not.toEqual(auxWeight);
    expect(model.auxStateDict().map(([n]) => n)).toEqual([
      '1.aux.weight', '1.aux.bias', '1.aux.running_mean', '1.aux.running_var', '5.aux.weight', '5.aux.bias', '5.aux.running_mean', '5.aux.running_var',
    ]);
    expect(model.numParameters()).toBe(buildModel(zooSpec('cnn-bn')).numParameters());
    const path = join(mkdtempSync(join(tmpdir(), 'nablax-advprop-')), 'm.safetensors');
    saveModel(path, model);
    const { model: back } = loadModel(path);
    expect(back.spec()).toEqual(buildModel(zooSpec('cnn-bn')).spec());
    expect(back.stateDict().map(([n]) => n)).toEqual(model.stateDict().map(([n]) => n));
    expect(back.stateDict().some(([n]) => n.includes('aux'))).toBe(false);
    const { x: xb } = getBatch(data, null, 0, 8);
    expect(Array.from(predict(back, xb).data)).toEqual(Array.from(predict(model, xb).data));
  });

  it('stopping after an epoch and resuming from the checkpoint is bit-identical, auxiliary state included', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nablax-advprop-resume-'));
    const straight = enableAuxBatchNorm(buildModel(bnSpec, { seed: 3 }));
    await train(straight, data, opts);
    const ckpt = join(dir, 'run.ckpt.safetensors');
    let batches = 0;
    const first = enableAuxBatchNorm(buildModel(bnSpec, { seed: 3 }));
    const r1 = await train(first, data, { ...opts, checkpoint: ckpt, shouldStop: () => ++batches > 4 + 2 }); // mid-epoch 2
    expect(r1.history.length).toBe(1);
    const resumed = enableAuxBatchNorm(buildModel(bnSpec, { seed: 99 }));
    await train(resumed, data, { ...opts, checkpoint: ckpt, resume: true });
    expect(bytes(resumed.stateDict())).toBe(bytes(straight.stateDict()));
    expect(bytes(resumed.auxStateDict())).toBe(bytes(straight.auxStateDict()));
    // A model without the auxiliary batch-norm cannot take that checkpoint.
    await expect(train(buildModel(bnSpec, { seed: 3 }), data, { ...opts, objective: undefined, checkpoint: ckpt, resume: true }))
      .rejects.toThrow(/auxiliary batch-norm state \(AdvProp\) and this model has none/);
  });
});
