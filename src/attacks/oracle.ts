// The black-box view of a model: scores (logits, log-probabilities or softmax probabilities) or labels for a batch,
// and a query counter (one query per image, whatever the view). There is no gradient method here on purpose: a
// score-based attack that only holds an oracle cannot reach ∇x. Attacks read log-probabilities: they never saturate
// (a probability below float32's range is 0, its log-probability is finite), and differences of them are the
// differences of the logits, so a margin on them does not change when the logits are scaled by a positive factor.
import { logProbabilities, softmax } from '../engine/ops/loss.js';
import { Tensor, shapeStr } from '../engine/tensor.js';
import type { Sequential } from '../layers/sequential.js';
import { predict } from '../layers/predict.js';
import { WindowedForward } from '../layers/windowed.js';
import type { Data } from '../engine/nd.js';

/** Queries that each change one window of a base image (ScoreOracle.windowed). */
export interface WindowedScores {
  /**
   * Log-probabilities [B, classes] (float64, as ScoreOracle.logProbabilities) of base image rows[b] with the window
   * rows h0[b] … + height, columns w0[b] … + width of every channel replaced by patch[b] ([B, C, height, width] in
   * all); each image counts as one query.
   */
  logProbabilities(rows: Int32Array, h0: Int32Array, w0: Int32Array, height: number, width: number, patch: Data): Tensor;
  /** Make query b of the last call its row's base image. */
  accept(b: number): void;
}

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

  readonly #windowed: (base: Tensor) => WindowedForward;

  /** @param opts.windowed false: answer windowed queries with whole-image passes (the same bits; for comparisons). */
  constructor(model: Sequential, opts: { windowed?: boolean } = {}) {
    this.inputShape = model.input.slice();
    this.#forward = (x) => predict(model, x);
    this.#windowed = (base) => new WindowedForward(model, base, { crop: opts.windowed !== false });
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

  /**
   * Scores of images that differ from base images ([M, ...inputShape], not counted as queries) inside one window
   * each, the Square attack's proposals. The model's leading local layers are recomputed only around each window
   * (layers/windowed.ts): the same bits as logProbabilities on the whole images, with less work.
   * @example
   *   const ws = oracle.windowed(xBest);
   *   const lp = ws.logProbabilities(rows, h0, w0, 2, 2, patch);   // patch [B, C, 2, 2]
   *   ws.accept(0);                                                // query 0 replaces base image rows[0]
   */
  windowed(base: Tensor): WindowedScores {
    if (base.ndim !== this.inputShape.length + 1) throw new Error(`ScoreOracle.windowed: base must be [M, ${this.inputShape.join(', ')}], got ${shapeStr(base.shape)}`);
    const wf = this.#windowed(base);
    return {
      logProbabilities: (rows, h0, w0, height, width, patch) => {
        const z = wf.forward(rows, h0, w0, height, width, patch);
        this.queries += rows.length;
        return new Tensor(logProbabilities(z), z.shape);
      },
      accept: (b) => wf.accept(b),
    };
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
