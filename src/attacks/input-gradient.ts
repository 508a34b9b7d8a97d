// The ∇x API: the gradient of the loss with respect to the input images, the quantity every attack,
// saliency map and linearity measurement here is built on. Per example n, dx[n] = ∇ₓₙ J(xₙ, yₙ) with J the
// fused softmax cross-entropy on the logits (sum over the batch, so each example's gradient is its own).
// With `rescale`, each example's gradient is multiplied by the positive factor 1/(1 − p_t) before the float32
// backward (crossEntropyDirection), so its direction survives logit gaps where every p_c underflows float32.
import { mul } from '../engine/ops/elementwise.js';
import { crossEntropyDirection, softmaxCrossEntropy } from '../engine/ops/loss.js';
import { sum } from '../engine/ops/reduce.js';
import { grad } from '../engine/tape.js';
import { recycling } from '../engine/recycle.js';
import { Tensor, shapeStr } from '../engine/tensor.js';
import type { Sequential } from '../layers/sequential.js';
import { inEvalMode } from '../layers/predict.js';

export interface InputGradientOptions {
  /** Differentiate J(x, t) for these target classes instead of the labels (targeted attacks descend it). */
  targets?: ArrayLike<number>;
  /** Also return every layer's output and the gradient of the loss with respect to it. */
  layers?: boolean;
  /** 'eval' (default) runs the model in evaluation mode and restores the caller's mode; 'train' uses it as is. */
  mode?: 'eval' | 'train';
  /**
   * Return ∇x J(xₙ) · 1/(1 − p_t(xₙ)) per example instead of ∇x J: the same direction, computed from a float64
   * ∂J/∂z that cannot underflow, so sign and normalised steps (every attack here) keep their direction on models
   * too confident for float32 (default false: the plain gradient, e.g. for saliency maps and linearity measurements).
   */
  rescale?: boolean;
}

export interface LayerTrace {
  index: number;
  type: string;
  output: Tensor;
  /** ∂J/∂(this layer's output). */
  grad: Tensor;
}

export interface InputGradient {
  /** Mean loss over the batch. */
  loss: number;
  /** Loss of each example. */
  losses: Float64Array;
  logits: Tensor;
  /** ∇x J, shape of x. */
  dx: Tensor;
  layers?: LayerTrace[];
}

/**
 * Loss, logits and ∇x for a batch of images.
 * @example
 *   const { dx, logits } = inputGradient(model, x, labels);   // x: [N, 1, 28, 28] in [0, 1]
 *   const fgsm = dx.data.map((g, i) => Math.min(1, Math.max(0, x.data[i] + 0.1 * Math.sign(g))));
 */
export function inputGradient(model: Sequential, x: Tensor, labels: ArrayLike<number>, opts: InputGradientOptions = {}): InputGradient {
  const cls = opts.targets ?? labels;
  if (cls.length !== x.shape[0]) {
    throw new Error(`inputGradient: ${cls.length} ${opts.targets ? 'targets' : 'labels'} for a batch x of shape ${shapeStr(x.shape)}`);
  }
  const run = () => {
    const xi = new Tensor(x.data, x.shape).requireGrad();
    const outs = opts.layers ? model.forwardAll(xi) : [model.forward(xi)];
    const logits = outs[outs.length - 1];
    let total: Tensor, losses: Float64Array;
    if (opts.rescale) {
      // Σₙ ⟨zₙ, dZₙ⟩ with dZ a constant: its gradient is the rescaled ∇x J.
      const dir = crossEntropyDirection(logits, cls);
      total = sum(mul(logits, dir.dZ));
      losses = dir.losses;
    } else {
      const per = softmaxCrossEntropy(logits, cls, 'none');
      total = sum(per);
      losses = Float64Array.from(per.data);
    }
    const wrt = opts.layers ? [xi, ...outs] : [xi];
    const [dx, ...dOuts] = grad(total, wrt);
    // logits without their graph: with recycling, the activations behind them are pooled when this returns
    const out = opts.layers ? logits : new Tensor(logits.data, logits.shape);
    const result: InputGradient = { loss: losses.reduce((a, b) => a + b, 0) / Math.max(losses.length, 1), losses, logits: out, dx };
    if (opts.layers) {
      result.layers = outs.map((output, i) => ({ index: i, type: model.layers[i].spec().type, output, grad: dOuts[i] }));
    }
    return result;
  };
  if (opts.mode === 'train') return run();
  // evaluation mode without the layer trace: only the logits and ∇x outlive the call, so its activations and
  // intermediate gradients are recycled for the next call (engine/recycle.ts)
  if (opts.layers) return inEvalMode(model, run);
  return inEvalMode(model, () => recycling(run, (r) => [r.logits, r.dx]));
}
