// `nablax predict`: logits and probabilities of chosen test images, to compare with another engine.
import type { Command } from 'commander';
import { softmax } from '../engine/ops/loss.js';
import { loadModelOption } from './model-option.js';
import { loadDataset } from '../data/datasets.js';
import { argmax, predict, outputClasses } from '../layers/predict.js';
import type { PredictJson } from '../report/json-types.js';
import { dataOption, indexOption, jsonOption } from './options.js';
import { letInterruptIn, pickImages, printJson, result } from './util.js';

export function registerPredict(program: Command): void {
  const cmd = program
    .command('predict')
    .description('logits and probabilities of chosen test images (to compare with another engine)')
    .requiredOption('--model-file <path>', 'model file (.safetensors)');
  indexOption(cmd, [0, 1, 2]);
  dataOption(cmd, 'mnist', 'test data');
  jsonOption(cmd).action(async (o) => {
      const { model } = loadModelOption(o);
      const ds = loadDataset(o.data, 'test', outputClasses(model));
      const { x, y } = pickImages(ds, o.index);
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
}
