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

// Running a model (argmax, inEvalMode, predict) lives with the layers: the attacks use it too.
import { argmax, inEvalMode } from '../layers/predict.js';

/** The running totals of an evaluation: loss sum, correct count and the confusion matrix. */
class EvalTally {
  readonly confusion: number[][];
  lossSum = 0;
  correct = 0;
  count = 0;

  constructor(readonly classes: number) {
    this.confusion = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  }

  /** Images [s, e) of `ds`: one forward in evaluation mode without the graph. */
  add(model: Sequential, ds: Dataset, s: number, e: number): void {
    const { x, y } = getBatch(ds, null, s, e);
    const logits = inEvalMode(model, () => noGrad(() => model.forward(x)));
    this.lossSum += softmaxCrossEntropy(logits, y, 'sum').item();
    const pred = argmax(logits);
    for (let i = 0; i < y.length; i++) {
      this.confusion[y[i]][pred[i]]++;
      if (pred[i] === y[i]) this.correct++;
    }
    this.count += y.length;
  }

  result(): Evaluation {
    const n = this.count;
    const perClassAccuracy = this.confusion.map((row, c) => {
      const total = row.reduce((a, b) => a + b, 0);
      return total ? row[c] / total : 0;
    });
    return { count: n, accuracy: n ? this.correct / n : 0, loss: n ? this.lossSum / n : 0, perClassAccuracy, confusion: this.confusion };
  }
}

export interface EvaluateOptions {
  /** Images per forward (default 500). */
  batchSize?: number;
  /** Evaluate the first `limit` images (default all). */
  limit?: number;
}

/**
 * Evaluate a model on (the first `limit` examples of) a dataset, in one synchronous run.
 * @example
 *   const { accuracy, confusion } = evaluate(model, loadMnistData('test'));
 */
export function evaluate(model: Sequential, ds: Dataset, opts: EvaluateOptions = {}): Evaluation {
  const n = Math.min(opts.limit ?? ds.count, ds.count);
  const bs = opts.batchSize ?? 500;
  const tally = new EvalTally(ds.numClasses);
  for (let s = 0; s < n; s += bs) tally.add(model, ds, s, Math.min(s + bs, n));
  return tally.result();
}

/**
 * evaluate() yielding to the event loop after every batch (so Ctrl-C and timers run during a long evaluation), with
 * `onProgress(done, total)` after each batch. The same numbers as evaluate(), bit for bit.
 * @example
 *   const r = await evaluateAsync(model, test, { onProgress: (done, n) => bar.update(done) });
 *   console.log(r.accuracy);
 */
export async function evaluateAsync(model: Sequential, ds: Dataset, opts: EvaluateOptions & { onProgress?: (done: number, total: number) => void } = {}): Promise<Evaluation> {
  const n = Math.min(opts.limit ?? ds.count, ds.count);
  const bs = opts.batchSize ?? 500;
  const tally = new EvalTally(ds.numClasses);
  for (let s = 0; s < n; s += bs) {
    tally.add(model, ds, s, Math.min(s + bs, n));
    opts.onProgress?.(tally.count, n);
    await new Promise<void>((r) => setImmediate(r));
  }
  return tally.result();
}
