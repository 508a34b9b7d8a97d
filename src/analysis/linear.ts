// The linear explanation of adversarial examples, measured (Goodfellow, Shlens, Szegedy 2015, "Explaining and
// harnessing adversarial examples", §3): for η = ε·sign(w), wᵀ(x + η) = wᵀx + ε·m·n, with n the input size and
// m the mean |w|. unitLinearity checks it for every unit of every Dense layer (ratio 1 up to rounding);
// networkLinearity asks how far a whole network is from it: z_k(x + ε·sign ∇x z_k) − z_k(x) against ε·‖∇x z_k‖₁.
import { quantile } from './stats.js';
import { grad, noGrad } from '../engine/tape.js';
import { Tensor, shapeStr } from '../engine/tensor.js';
import { Dense } from '../layers/dense.js';
import type { Sequential } from '../layers/sequential.js';
import { buildModel } from '../layers/spec.js';
import { argmax, inEvalMode } from '../layers/predict.js';

/** One unit k of a Dense layer under η = ε·sign(W[k,:]). */
export interface UnitLinearity {
  unit: number;
  /** In-features of the layer. */
  n: number;
  /** m = mean |W[k,:]|. */
  meanAbsW: number;
  /** ε·m·n. */
  predicted: number;
  /** y_k(a + η) − y_k(a), run through the layer's own forward in float64. */
  measured: number;
  /** measured / predicted (1 for a linear unit; 1 by definition when both are 0, an all-zero row). */
  ratio: number;
}

export interface LayerLinearity {
  /** Index of the Dense layer in the Sequential. */
  layer: number;
  units: UnitLinearity[];
}

/**
 * One Dense layer of unitLinearity's measurement in a few numbers, for the report: the layer's index in the
 * Sequential, its units (outputs) and n (inputs), the means over its units of m = mean |W[k,:]| and of ε·m·n
 * (in logit or pre-activation units), and the range of the ratio measured / predicted (1 for a linear unit).
 */
export interface LayerSummary {
  layer: number;
  units: number;
  n: number;
  meanAbsW: number;
  meanPredicted: number;
  minRatio: number;
  maxRatio: number;
  /** The model's last layer (its outputs are the logits). */
  last: boolean;
}

export interface NetworkLinearity {
  eps: number;
  medianRatio: number;
  p10: number;
  p90: number;
  /** actual / predicted of each image, in the order of x. */
  ratios: number[];
}

export interface NetworkLinearityOptions {
  /** Which logit k to push: the true label's (default) or the clean prediction's. */
  logit?: 'true' | 'predicted';
  /** Images per forward pass (default 100). */
  batchSize?: number;
  /** Called after every batch with the images done (for a progress bar); never changes the result. */
  onProgress?: (done: number, total: number) => void;
}

function checkEps(fn: string, eps: number): void {
  if (!(Number.isFinite(eps) && eps > 0)) throw new Error(`${fn}: eps must be a finite number > 0, got ${eps}`);
}

function checkImages(fn: string, model: Sequential, x: Tensor): void {
  const ok = x.ndim === model.input.length + 1 && x.shape[0] >= 1 && model.input.every((d, i) => x.shape[i + 1] === d);
  if (!ok) throw new Error(`${fn}: x must be [N ≥ 1, ${model.input.join(', ')}], got ${shapeStr(x.shape)}`);
}

// 0/0 happens only when η = 0 (an all-zero weight row or gradient): then nothing moves, exactly as predicted.
function ratioOf(measured: number, predicted: number): number {
  return predicted === 0 && measured === 0 ? 1 : measured / predicted;
}

/**
 * ε·m·n against the engine, for every unit of every Dense layer, at the layer's actual input a for the first
 * image of x (from forwardAll): the layer's forward, on a float64 twin of the model so float32 models are
 * measured without float32 rounding, runs on a and on a + ε·sign(W[k,:]) for every unit k, stacked in one batch.
 * @example
 *   const layers = unitLinearity(model, x, 0.25);      // x: [N, 1, 28, 28], only x[0] is used
 *   layers[0].units[3].ratio;                          // 1 (± 1e-12)
 */
export function unitLinearity(model: Sequential, x: Tensor, eps: number): LayerLinearity[] {
  checkEps('unitLinearity', eps);
  checkImages('unitLinearity', model, x);
  const per = x.size / x.shape[0];
  const x0 = new Tensor(x.data.slice(0, per), [1, ...x.shape.slice(1)]);
  const outs = inEvalMode(model, () => noGrad(() => model.forwardAll(x0)));
  if (!model.layers.some((l) => l instanceof Dense)) return [];
  const twin = float64Twin(model);
  const result: LayerLinearity[] = [];
  model.layers.forEach((layer, i) => {
    if (!(layer instanceof Dense)) return;
    const dense64 = twin.layers[i] as Dense;
    const a = (i === 0 ? x0 : outs[i - 1]).to('float64');
    const I = layer.inFeatures, O = layer.outFeatures;
    if (a.size !== I) throw new Error(`unitLinearity: layer ${i} (dense) expects ${I} inputs, its input has shape ${shapeStr(a.shape)}`);
    const W = dense64.weight;
    // Row 0 is a itself; row k + 1 is a + ε·sign(W[k,:]).
    const stacked = Tensor.zeros([O + 1, I], 'float64');
    const s = stacked.data, w = W.data;
    for (let r = 0; r <= O; r++) s.set(a.data, r * I);
    for (let k = 0; k < O; k++) for (let j = 0; j < I; j++) s[(k + 1) * I + j] += eps * Math.sign(w[k * I + j]);
    const y = noGrad(() => dense64.forward(stacked)).data;
    const units: UnitLinearity[] = [];
    for (let k = 0; k < O; k++) {
      let sumAbs = 0;
      for (let j = 0; j < I; j++) sumAbs += Math.abs(w[k * I + j]);
      const meanAbsW = sumAbs / I;
      const predicted = eps * meanAbsW * I;
      const measured = y[(k + 1) * O + k] - y[k];
      units.push({ unit: k, n: I, meanAbsW, predicted, measured, ratio: ratioOf(measured, predicted) });
    }
    result.push({ layer: i, units });
  });
  return result;
}

/**
 * A float64 copy of a model (same architecture, parameters and buffers), in evaluation mode.
 * @example
 *   const m64 = float64Twin(model);
 *   m64.forward(x.to('float64'));
 */
export function float64Twin(model: Sequential): Sequential {
  const twin = buildModel(model.spec(), { dtype: 'float64' });
  const src = model.stateDict();
  twin.stateDict().forEach(([, t], i) => t.data.set(src[i][1].data));
  return twin.eval();
}

/**
 * One layer of unitLinearity(model, …) summed up (LayerSummary): units and n from the Dense layer itself, the mean
 * m and mean ε·m·n over its units, the smallest and largest ratio, and whether it is the model's last layer.
 * @example
 *   const summaries = unitLinearity(model, x, 0.25).map((l) => layerSummary(model, l));
 *   summaries[0].n;   // 784 for a Dense layer on flattened MNIST digits
 */
export function layerSummary(model: Sequential, l: LayerLinearity): LayerSummary {
  const dense = model.layers[l.layer];
  if (!(dense instanceof Dense)) throw new Error(`layerSummary: layer ${l.layer} of the model must be dense, got ${dense?.spec().type}`);
  const u = l.units;
  const mean = (f: (x: UnitLinearity) => number) => u.reduce((s, x) => s + f(x), 0) / u.length;
  const ratios = u.map((x) => x.ratio);
  return {
    layer: l.layer,
    units: u.length,
    n: dense.inFeatures,
    meanAbsW: mean((x) => x.meanAbsW),
    meanPredicted: mean((x) => x.predicted),
    minRatio: Math.min(...ratios),
    maxRatio: Math.max(...ratios),
    last: l.layer === model.layers.length - 1,
  };
}

export { quantile } from './stats.js';

/**
 * How linear a whole network is along its own worst direction: for each image, g = ∇x z_k (the gradient of
 * the logit itself, not the loss), η = ε·sign(g), and ratio = (z_k(x + η) − z_k(x)) / (ε·‖g‖₁), the first-order
 * prediction. η is NOT clipped to [0, 1]: the linearity argument is about the unconstrained direction, and
 * clipping would shrink η on saturated pixels (most of an MNIST digit), so the ratio would measure the box as
 * much as the model. Everything runs on a float64 twin in evaluation mode, so the ratio shows the function's
 * curvature and not float32 rounding. Ratios of images whose gradient is 0 count as 1 (η = 0 moves nothing).
 * @example
 *   const rows = networkLinearity(model, x, y, [1e-3, 0.01, 0.1, 0.25]);
 *   rows[0].medianRatio;   // ≈ 1 for small ε; exactly 1 for a softmax model
 */
export function networkLinearity(
  model: Sequential,
  x: Tensor,
  labels: ArrayLike<number>,
  epsList: number[],
  opts: NetworkLinearityOptions = {},
): NetworkLinearity[] {
  const run = new NetworkRun(model, x, labels, epsList, opts);
  for (let s = 0; s < run.N; s += run.bs) run.batch(s);
  return run.result();
}

/**
 * networkLinearity() yielding to the event loop after every batch (so Ctrl-C and timers run during a long
 * measurement); the same numbers, bit for bit.
 * @example
 *   const rows = await networkLinearityAsync(model, x, y, [0.1, 0.25], { onProgress: (done) => bar.update(done) });
 *   rows[1].medianRatio;
 */
export async function networkLinearityAsync(
  model: Sequential,
  x: Tensor,
  labels: ArrayLike<number>,
  epsList: number[],
  opts: NetworkLinearityOptions = {},
): Promise<NetworkLinearity[]> {
  const run = new NetworkRun(model, x, labels, epsList, opts);
  for (let s = 0; s < run.N; s += run.bs) {
    run.batch(s);
    await new Promise<void>((r) => setImmediate(r));
  }
  return run.result();
}

/** One networkLinearity measurement, batch by batch: the inputs checked once, the ratios filled per batch. */
class NetworkRun {
  readonly N: number;
  readonly bs: number;
  private readonly which: 'true' | 'predicted';
  private readonly per: number;
  private readonly twin: Sequential;
  private readonly ratios: number[][];

  constructor(
    model: Sequential,
    private readonly x: Tensor,
    private readonly labels: ArrayLike<number>,
    private readonly epsList: number[],
    private readonly opts: NetworkLinearityOptions,
  ) {
    const fn = 'networkLinearity';
    checkImages(fn, model, x);
    for (const e of epsList) checkEps(fn, e);
    const which = opts.logit ?? 'true';
    if (which !== 'true' && which !== 'predicted') throw new Error(`${fn}: opts.logit must be 'true' or 'predicted', got ${JSON.stringify(which)}`);
    this.which = which;
    this.N = x.shape[0];
    if (which === 'true' && labels.length !== this.N) throw new Error(`${fn}: ${labels.length} labels for a batch x of shape ${shapeStr(x.shape)}`);
    this.bs = opts.batchSize ?? 100;
    this.per = x.size / this.N;
    this.twin = float64Twin(model);
    this.ratios = epsList.map(() => new Array<number>(this.N));
  }

  /** The images [s, s + batch size). */
  batch(s: number): void {
    const { x, labels, per, twin, ratios, N } = this;
    const fn = 'networkLinearity';
    const B = Math.min(this.bs, N - s);
    const xb = new Tensor(Float64Array.from(x.data.subarray(s * per, (s + B) * per)), [B, ...x.shape.slice(1)]).requireGrad();
    const logits = twin.forward(xb);
    const C = logits.shape[1];
    const k = this.which === 'predicted' ? argmax(logits) : Int32Array.from({ length: B }, (_, n) => labels[s + n]);
    for (let n = 0; n < B; n++) {
      if (!(Number.isInteger(k[n]) && k[n] >= 0 && k[n] < C)) throw new Error(`${fn}: label ${k[n]} of image ${s + n} is not a class in 0..${C - 1}`);
    }
    // Each image's logits depend on that image alone (evaluation mode), so one backward with a one-hot dOut
    // gives every image's own ∇x z_k.
    const onehot = Tensor.zeros([B, C], 'float64');
    for (let n = 0; n < B; n++) onehot.data[n * C + k[n]] = 1;
    const [g] = grad(logits, [xb], { dOut: onehot });
    const l1 = new Float64Array(B);
    for (let n = 0; n < B; n++) for (let j = 0; j < per; j++) l1[n] += Math.abs(g.data[n * per + j]);
    this.epsList.forEach((eps, e) => {
      const xa = new Tensor(new Float64Array(B * per), xb.shape);
      for (let i = 0; i < B * per; i++) xa.data[i] = xb.data[i] + eps * Math.sign(g.data[i]);
      const za = noGrad(() => twin.forward(xa)).data;
      for (let n = 0; n < B; n++) {
        const actual = za[n * C + k[n]] - logits.data[n * C + k[n]];
        ratios[e][s + n] = ratioOf(actual, eps * l1[n]);
      }
    });
    this.opts.onProgress?.(s + B, N);
  }

  result(): NetworkLinearity[] {
    return this.epsList.map((eps, e) => {
      const sorted = this.ratios[e].slice().sort((a, b) => a - b);
      return { eps, medianRatio: quantile(sorted, 0.5), p10: quantile(sorted, 0.1), p90: quantile(sorted, 0.9), ratios: this.ratios[e] };
    });
  }
}
