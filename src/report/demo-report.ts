// The report of `nablax demo` (`npm start`) from its result document (DemoJson): report.md with the test accuracy,
// the training per epoch, the confusion matrix and the link to gradients.png (test digits beside their ∇x heat maps,
// which goes beside it). The CLI writes the files.
import type { DemoJson } from './json-types.js';
import { plural } from './text.js';

/**
 * report.md of the demo: accuracy and loss, training time and speed, the per-epoch table, the confusion matrix.
 * @example
 *   writeFileAtomic(join(dir, 'report.md'), demoMarkdown(report));
 */
export function demoMarkdown(r: DemoJson): string {
  const t = { accuracy: r.cleanAccuracy, loss: r.testLoss, confusion: r.confusion, perClassAccuracy: r.perClassAccuracy };
  const last = r.history[r.history.length - 1];
  return [
    '# nablax main job',
    '',
    `The \`cnn\` trained for ${plural(r.epochs, 'epoch')} (Adam, lr ${r.lr} with cosine decay, batch ${r.batchSize}, seed ${r.seed}) on the ${r.trainCount.toLocaleString('en-US')} digits of the \`mnist\` package,`,
    `tested on the ${r.testCount.toLocaleString('en-US')} official MNIST test images.`,
    '',
    `- **test accuracy: ${(100 * t.accuracy).toFixed(2)}%** (loss ${t.loss.toFixed(4)})`,
    `- training time: ${r.trainSeconds.toFixed(1)} s (${last ? last.imagesPerSecond.toFixed(0) : '–'} images/s in the last epoch, kernels: ${r.kernels})`,
    `- model file: \`${r.modelFile}\``,
    '',
    '| epoch | train loss | train accuracy | seconds |',
    '|---|---|---|---|',
    ...r.history.map((h) => `| ${h.epoch} | ${h.loss.toFixed(4)} | ${(100 * h.trainAccuracy).toFixed(2)}% | ${h.seconds.toFixed(1)} |`),
    '',
    '## Confusion matrix (rows: true class, columns: predicted)',
    '',
    '| | ' + t.confusion.map((_, c) => c).join(' | ') + ' | accuracy |',
    '|---|' + t.confusion.map(() => '---|').join('') + '---|',
    ...t.confusion.map((row, c) => `| **${c}** | ${row.join(' | ')} | ${(100 * t.perClassAccuracy[c]).toFixed(1)}% |`),
    '',
    '## The gradient of the loss with respect to the input',
    '',
    'Each row: a test digit, ∇x J(x, y) (red raises the loss, blue lowers it) and |∇x J|.',
    '',
    '![digits and their input gradients](gradients.png)',
    '',
  ].join('\n');
}
