// The black-box view of a model: scores (logits, log-probabilities or softmax probabilities) or labels for a batch,
// and a query counter (one query per image, whatever the view). There is no gradient method here on purpose: a
// score-based attack that only holds an oracle cannot reach ∇x. Attacks read log-probabilities: they never saturate
// (a probability below float32's range is 0, its log-probability is finite), and differences of them are the
// differences of the logits, so a margin on them does not change when the logits are scaled by a positive factor.
import { logProbabilities, softmax } from '../engine/ops/loss.js';
import { Tensor, shapeStr } from '../engine/tensor.js';
import type { Sequential } from '../layers/sequential.js';
import { predict } from '../layers/predict.js';

/**
 * Query-counting access to a model's output scores.
 * @example
 *   const oracle = new ScoreOracle(model);
 *   const p = oracle.scores(x);   // [N, classes], counts N queries
 */
export class ScoreOracle {
  /** Total images queried so far. */
  queries = 0;
  readonly inputShape: readonly number[];
  readonly classes: number;
  // The model is held in a closure rather than a field, so an attack cannot reach it through the oracle.
  readonly #forward: (x: Tensor) => Tensor;

  constructor(model: Sequential) {
    this.inputShape = model.input.slice();
    this.#forward = (x) => predict(model, x);
    this.classes = this.#forward(Tensor.zeros([1, ...model.input])).shape[1];
  }

  /** Softmax probabilities [N, classes] (float32 ones underflow to 0 for a confident model); each image counts as one query. */
  scores(x: Tensor): Tensor {
    return softmax(this.#query('scores', x));
  }

  /** Logits [N, classes]; each image counts as one query. @example const z = oracle.logits(x); */
  logits(x: Tensor): Tensor {
    return this.#query('logits', x);
  }

  /**
   * Log-probabilities [N, classes] as float64, (z − m) − log s per row: finite where probabilities underflow; each
   * image counts as one query.
   * @example
   *   const lp = oracle.logProbabilities(x);   // lp.data[n * classes + c] = log p_c(x_n)
   */
  logProbabilities(x: Tensor): Tensor {
    const z = this.#query('logProbabilities', x);
    return new Tensor(logProbabilities(z), z.shape);
  }

  #query(method: string, x: Tensor): Tensor {
    if (x.ndim !== this.inputShape.length + 1) throw new Error(`ScoreOracle.${method}: x must be [N, ${this.inputShape.join(', ')}], got ${shapeStr(x.shape)}`);
    this.queries += x.shape[0];
    return this.#forward(x);
  }

  /** Predicted labels (argmax of the logits); each image counts as one query. */
  labels(x: Tensor): Int32Array {
    const p = this.logits(x);
    const [N, C] = p.shape;
    const out = new Int32Array(N);
    for (let n = 0; n < N; n++) {
      let best = 0;
      for (let c = 1; c < C; c++) if (p.data[n * C + c] > p.data[n * C + best]) best = c;
      out[n] = best;
    }
    return out;
  }
}
