// Evaluation: accuracy, mean loss, per-class accuracy and the confusion matrix (rows: true class, columns:
// predicted), computed in evaluation mode without recording the graph; the caller's mode is restored.
import { softmaxCrossEntropy } from '../engine/ops/loss.js';
import { noGrad } from '../engine/tape.js';
import type { Sequential } from '../layers/sequential.js';
import { getBatch } from '../data/batches.js';
import type { Dataset } from '../data/datasets.js';

export interface Evaluation {
  count: number;
  accuracy: number;
  loss: number;
  perClassAccuracy: number[];
  confusion: number[][];
}

// Running a model lives with the layers (attacks use it too); re-exported here for the callers that import it from here.
export { argmax, inEvalMode, outputClasses, predict } from '../layers/predict.js';
import { argmax, inEvalMode } from '../layers/predict.js';

/**
 * Evaluate a model on (the first `limit` examples of) a dataset.
 * @example
 *   const { accuracy, confusion } = evaluate(model, loadMnistData('test'));
 */
export function evaluate(model: Sequential, ds: Dataset, opts: { batchSize?: number; limit?: number } = {}): Evaluation {
  const n = Math.min(opts.limit ?? ds.count, ds.count);
  const bs = opts.batchSize ?? 500;
  const K = ds.numClasses;
  const confusion = Array.from({ length: K }, () => new Array<number>(K).fill(0));
  let lossSum = 0, correct = 0;
  inEvalMode(model, () =>
    noGrad(() => {
      for (let s = 0; s < n; s += bs) {
        const { x, y } = getBatch(ds, null, s, Math.min(s + bs, n));
        const logits = model.forward(x);
        lossSum += softmaxCrossEntropy(logits, y, 'sum').item();
        const pred = argmax(logits);
        for (let i = 0; i < y.length; i++) {
          confusion[y[i]][pred[i]]++;
          if (pred[i] === y[i]) correct++;
        }
      }
    }),
  );
  const perClassAccuracy = confusion.map((row, c) => {
    const total = row.reduce((a, b) => a + b, 0);
    return total ? row[c] / total : 0;
  });
  return { count: n, accuracy: n ? correct / n : 0, loss: n ? lossSum / n : 0, perClassAccuracy, confusion };
}
