// `nablax eval`: the test accuracy, per-class accuracy and confusion matrix of a saved model.
import type { Command } from 'commander';
import { loadModelOption } from './model-option.js';
import { loadDataset } from '../data/datasets.js';
import { outputClasses } from '../layers/predict.js';
import { evaluateAsync } from '../train/evaluate.js';
import type { EvalJson } from '../report/json-types.js';
import { dataOption, jsonOption, limitOptions } from './options.js';
import { plural, printJson, progressBar, result } from './util.js';

export function registerEval(program: Command): void {
  const cmd = program
    .command('eval')
    .description('accuracy, per-class accuracy and confusion matrix of a model file on the official test images')
    .requiredOption('--model-file <path>', 'model file (.safetensors)');
  dataOption(cmd, 'mnist', 'test data');
  limitOptions(cmd, { test: true, oldLimit: 'test', testHelp: 'evaluate on the first N test images' });
  jsonOption(cmd).action(async (o) => {
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
}
