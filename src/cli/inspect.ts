// `nablax eval`, `nablax grad` and `nablax info`: look at a saved model: its test accuracy, the input
// gradient of chosen test images as pictures, and its architecture with parameter counts.
import type { Command } from 'commander';
import { inputGradient } from '../attacks/input-gradient.js';
import { softmax } from '../engine/ops/loss.js';
import { shapeStr } from '../engine/tensor.js';
import { loadModelOption } from './model-option.js';
import { writeFileAtomic } from '../io/atomic.js';
import { renderGradientFigure } from '../report/gradient-figure.js';
import { getBatch } from '../data/batches.js';
import { loadDataset, type Dataset } from '../data/datasets.js';
import { argmax, predict, outputClasses } from '../layers/predict.js';
import { evaluateAsync } from '../train/evaluate.js';
import type { EvalJson, GradJson, InfoJson, PredictJson } from '../report/json-types.js';
import { dataOption, indexOption, jsonOption, limitOptions, outOption } from './options.js';
import { claimOutputs, int, letInterruptIn, plural, printJson, progressBar, result, say, UsageError } from './util.js';

/** The rows of `ds` at `indices`, as a dataset view for getBatch. */
function pick(ds: Dataset, indices: number[]) {
  for (const i of indices) if (i >= ds.count) throw new UsageError(`--index ${i} is out of range (the test set has ${ds.count} images)`);
  return getBatch(ds, Int32Array.from(indices), 0, indices.length);
}

export function registerInspect(program: Command): void {
  const evalCmd = program
    .command('eval')
    .description('accuracy, per-class accuracy and confusion matrix of a model file on the official test images')
    .requiredOption('--model-file <path>', 'model file (.safetensors)');
  dataOption(evalCmd, 'mnist', 'test data');
  limitOptions(evalCmd, { test: true, oldLimit: 'test', testHelp: 'evaluate on the first N test images' });
  jsonOption(evalCmd).action(async (o) => {
      const { model } = loadModelOption(o);
      const ds = loadDataset(o.data, 'test', outputClasses(model));
      const t0 = performance.now();
      const bar = progressBar('eval', Math.min(o.testLimit ?? ds.count, ds.count), '{rate} img/s');
      // batch by batch, yielding between batches: Ctrl-C stops it with exit 130 and nothing printed
      const r = await evaluateAsync(model, ds, { limit: o.testLimit, onProgress: (done) => bar.update(done) });
      bar.stop();
      const seconds = (performance.now() - t0) / 1000;
      if (o.json) {
        const doc: EvalJson = {
          modelFile: o.modelFile, data: ds.name, testCount: r.count, cleanAccuracy: r.accuracy, testLoss: r.loss,
          perClassAccuracy: r.perClassAccuracy, confusion: r.confusion, seconds, testAccuracy: r.accuracy,
        };
        printJson(doc);
      } else {
        result(`test accuracy ${(100 * r.accuracy).toFixed(2)}% (loss ${r.loss.toFixed(4)}) on ${plural(r.count, 'test image')} of ${ds.name}`);
        result('per class: ' + r.perClassAccuracy.map((a, c) => `${c}: ${(100 * a).toFixed(1)}%`).join('  '));
      }
    });

  const gradCmd = program
    .command('grad')
    .description('∇x of chosen test images, saved as a PNG of each digit beside its gradient heat maps')
    .requiredOption('--model-file <path>', 'model file (.safetensors)')
    .option('--target <class>', 'differentiate the loss toward this class instead of the true label', int('--target', 0));
  indexOption(gradCmd, [0, 1, 2, 3, 4, 5, 6, 7]);
  dataOption(gradCmd, 'mnist', 'test data');
  outOption(gradCmd, 'file', 'PNG to write', 'runs/grad.png');
  jsonOption(gradCmd).action(async (o) => {
      claimOutputs([{ path: o.out, kind: 'file', flag: '--out' }]);
      const { model } = loadModelOption(o);
      const ds = loadDataset(o.data, 'test', outputClasses(model));
      const { x, y } = pick(ds, o.index);
      const classes = ds.numClasses;
      if (o.target !== undefined && o.target >= classes) throw new UsageError(`--target ${o.target} is not a class in 0..${classes - 1}`);
      const targets = o.target !== undefined ? Array.from(y, () => o.target as number) : undefined;
      const g = inputGradient(model, x, y, { targets });
      await letInterruptIn(); // a Ctrl-C during the gradient stops here
      const p = softmax(g.logits);
      const pred = argmax(g.logits);
      const per = x.size / x.shape[0];
      const [, , H, W] = x.shape;
      const C = p.shape[1];
      const images = o.index.map((index: number, n: number) => {
        const dx = g.dx.data.subarray(n * per, (n + 1) * per);
        let l1 = 0, l2 = 0, li = 0;
        for (const v of dx) {
          l1 += Math.abs(v);
          l2 += v * v;
          li = Math.max(li, Math.abs(v));
        }
        return { index, label: y[n], predicted: pred[n], confidence: p.data[n * C + pred[n]], loss: g.losses[n], gradL1: l1, gradL2: Math.sqrt(l2), gradLinf: li };
      });
      const rows = images.map((im: (typeof images)[number], n: number) => ({
        image: x.data.subarray(n * per, n * per + H * W),
        dx: g.dx.data.subarray(n * per, n * per + H * W),
        h: H,
        w: W,
        caption: `#${im.index} y=${im.label} pred ${im.predicted} (${im.confidence.toFixed(2)})`,
      }));
      const png = renderGradientFigure(rows, o.target !== undefined ? `∇x J(x, t=${o.target})` : '∇x J(x, y)').toPng();
      await letInterruptIn(); // and here, after the drawing (many images take a while): nothing written yet
      writeFileAtomic(o.out, png);
      const doc: GradJson = { modelFile: o.modelFile, target: o.target ?? null, out: o.out, images };
      if (o.json) printJson(doc);
      else {
        for (const im of images) {
          result(`#${im.index} label ${im.label} predicted ${im.predicted} (${im.confidence.toFixed(2)}) loss ${im.loss.toFixed(4)}  ‖∇x J‖₁ ${im.gradL1.toPrecision(4)} ‖·‖₂ ${im.gradL2.toPrecision(4)} ‖·‖∞ ${im.gradLinf.toPrecision(4)}`);
        }
        say(`wrote ${o.out}`);
      }
    });

  const predictCmd = program
    .command('predict')
    .description('logits and probabilities of chosen test images (to compare with another engine)')
    .requiredOption('--model-file <path>', 'model file (.safetensors)');
  indexOption(predictCmd, [0, 1, 2]);
  dataOption(predictCmd, 'mnist', 'test data');
  jsonOption(predictCmd).action(async (o) => {
      const { model } = loadModelOption(o);
      const ds = loadDataset(o.data, 'test', outputClasses(model));
      const { x, y } = pick(ds, o.index);
      const logits = predict(model, x);
      await letInterruptIn();
      const p = softmax(logits);
      const C = logits.shape[1];
      const pred = argmax(logits);
      const images = o.index.map((index: number, n: number) => ({
        index,
        label: y[n],
        predicted: pred[n],
        logits: Array.from(logits.data.subarray(n * C, (n + 1) * C)),
        probabilities: Array.from(p.data.subarray(n * C, (n + 1) * C)),
      }));
      const doc: PredictJson = { modelFile: o.modelFile, images };
      if (o.json) printJson(doc);
      else for (const im of images) result(`#${im.index} label ${im.label} predicted ${im.predicted}  logits ${im.logits.map((v: number) => v.toFixed(4)).join(' ')}`);
    });

  const infoCmd = program
    .command('info')
    .description('architecture, tensor shapes and parameter counts of a model file')
    .requiredOption('--model-file <path>', 'model file (.safetensors)');
  jsonOption(infoCmd).action(async (o) => {
      const { model, metadata } = loadModelOption(o);
      await letInterruptIn();
      const tensors = model.stateDict().map(([name, t]) => ({ name, shape: t.shape.slice(), size: t.size }));
      const layers = model.layers.map((l, i) => ({ index: i, ...l.spec(), parameters: l.parameters().reduce((s, [, t]) => s + t.size, 0) }));
      const { spec: _spec, ...meta } = metadata;
      if (o.json) {
        const doc: InfoJson = { modelFile: o.modelFile, input: model.input, parameters: model.numParameters(), layers, tensors, metadata: meta };
        printJson(doc);
        return;
      }
      result(`${o.modelFile}: input [N, ${model.input.join(', ')}], ${model.numParameters().toLocaleString('en-US')} parameters`);
      for (const l of layers) {
        const { index, parameters, type, ...rest } = l;
        result(`  ${String(index).padStart(2)} ${type.padEnd(11)} ${JSON.stringify(rest).replace(/"/g, '')}${parameters ? `  (${parameters.toLocaleString('en-US')})` : ''}`);
      }
      for (const t of tensors) result(`  ${t.name.padEnd(18)} ${shapeStr(t.shape)}`);
      for (const [k, v] of Object.entries(meta)) result(`  ${k}: ${v}`);
    });
}
