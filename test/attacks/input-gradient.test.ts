// The ∇x API: exact against finite differences, per-example, targeted, with a layer trace, mode-safe.
import { describe, expect, it } from 'vitest';
import { inputGradient } from '../../src/attacks/input-gradient.js';
import { softmax, softmaxCrossEntropy } from '../../src/engine/ops/loss.js';
import { noGrad } from '../../src/engine/tape.js';
import { Tensor } from '../../src/engine/tensor.js';
import { buildModel } from '../../src/layers/spec.js';
import { zooSpec } from '../../src/layers/zoo.js';
import { getBatch } from '../../src/data/batches.js';
import { loadMnistData } from '../../src/data/datasets.js';

const test = loadMnistData('test');

describe('inputGradient', () => {
  const model = buildModel(
    { input: [1, 28, 28], layers: [
      { type: 'conv2d', in: 1, out: 4, kernel: 5, stride: 2 }, { type: 'tanh' }, { type: 'dropout', p: 0.5 },
      { type: 'flatten' }, { type: 'dense', in: 576, out: 10 },
    ] },
    { seed: 1, dtype: 'float64' },
  );
  const { x: x32, y } = getBatch(test, null, 0, 3);
  const x = x32.to('float64');

  it('equals central finite differences of each example’s own loss', () => {
    const g = inputGradient(model, x, y);
    expect(g.dx.shape).toEqual(x.shape);
    model.eval();
    const h = 1e-6;
    for (const j of [100, 300, 400, 784 + 350, 2 * 784 + 405]) {
      const n = Math.floor(j / 784);
      const loss = () => noGrad(() => softmaxCrossEntropy(model.forward(x), y, 'none').data[n]);
      const orig = x.data[j];
      x.data[j] = orig + h;
      const lp = loss();
      x.data[j] = orig - h;
      const lm = loss();
      x.data[j] = orig;
      const fd = (lp - lm) / (2 * h);
      expect(Math.abs(g.dx.data[j] - fd)).toBeLessThan(1e-7 + 1e-6 * Math.abs(fd));
    }
    expect(g.losses.length).toBe(3);
    expect(g.loss).toBeCloseTo((g.losses[0] + g.losses[1] + g.losses[2]) / 3, 12);
  });

  it('gives each example its own gradient, independent of the rest of the batch', () => {
    const all = inputGradient(model, x, y);
    const one = inputGradient(model, new Tensor(x.data.slice(784, 1568), [1, 1, 28, 28]), [y[1]]);
    for (let i = 0; i < 784; i++) expect(all.dx.data[784 + i]).toBeCloseTo(one.dx.data[i], 14);
  });

  it('runs in evaluation mode and restores the caller’s mode', () => {
    model.train();
    const a = inputGradient(model, x, y), b = inputGradient(model, x, y);
    expect(Array.from(a.dx.data)).toEqual(Array.from(b.dx.data)); // no dropout noise
    expect(model.training).toBe(true);
    expect(model.layers[2].training).toBe(true);
  });

  it('targeted: a small step against ∇x J(x, t) raises the probability of t', () => {
    const t = [3, 3, 3];
    const g = inputGradient(model, x, y, { targets: t });
    const stepped = new Tensor(x.data.map((v, i) => v - 0.01 * Math.sign(g.dx.data[i])), x.shape);
    model.eval();
    const p0 = softmax(noGrad(() => model.forward(x))), p1 = softmax(noGrad(() => model.forward(stepped)));
    for (let n = 0; n < 3; n++) expect(p1.data[n * 10 + 3]).toBeGreaterThan(p0.data[n * 10 + 3]);
  });

  it('traces every layer: outputs, their gradients, and the same ∇x', () => {
    const g = inputGradient(model, x, y, { layers: true });
    expect(g.layers!.map((l) => l.type)).toEqual(['conv2d', 'tanh', 'dropout', 'flatten', 'dense']);
    const last = g.layers![4];
    const p = softmax(last.output);
    for (let n = 0; n < 3; n++) for (let c = 0; c < 10; c++) {
      expect(last.grad.data[n * 10 + c]).toBeCloseTo(p.data[n * 10 + c] - (c === y[n] ? 1 : 0), 12);
    }
    expect(Array.from(g.dx.data)).toEqual(Array.from(inputGradient(model, x, y).dx.data));
  });

  it('rejects a label count that does not match the batch', () => {
    expect(() => inputGradient(model, x, [1, 2])).toThrow(/2 labels for a batch x of shape \[3, 1, 28, 28\]/);
  });

  it('works for every zoo model in float32', () => {
    for (const name of ['softmax', 'mlp', 'maxout', 'cnn']) {
      const m = buildModel(zooSpec(name), { seed: 0 });
      const g = inputGradient(m, x32, y);
      expect(g.dx.shape).toEqual([3, 1, 28, 28]);
      expect(g.dx.data.some((v) => v !== 0)).toBe(true);
    }
  });
});
