// Batch normalisation layers (Ioffe & Szegedy 2015): BatchNorm1d over [N, C], BatchNorm2d over [N, C, H, W].
// Parameters weight (γ) and bias (β); buffers running_mean and running_var, as in PyTorch's state_dict.
// AdvProp (Xie et al., "Adversarial Examples Improve Image Recognition", CVPR 2020, arXiv 1911.09665) gives every
// batch-norm a second, auxiliary set of γ, β and running statistics for adversarial examples: enableAuxBatchNorm
// creates it (a copy of the main set), withAuxBatchNorm routes the layers through it for the duration of a function.
// The auxiliary set is trained (Sequential.parameters lists it, through auxBatchNormTensors) and checkpointed, but it
// is no part of the state_dict, so a saved model is the plain network with its main batch-norm. It lives here, not in
// the base Layer: no other layer has one.
import { add, mul, sub } from '../engine/ops/elementwise.js';
import { batchNorm, batchNormReluMaxPool, type BatchNormAttrs } from '../engine/ops/norm.js';
import { reshape } from '../engine/ops/shape.js';
import { Tensor, alloc, shapeStr, type DType } from '../engine/tensor.js';
import { Layer } from './layer.js';

/** A batch-norm's spec; momentum defaults to 0.1, eps to 1e-5 (PyTorch's). */
export interface BatchNormSpec<T extends 'batchnorm1d' | 'batchnorm2d' = 'batchnorm1d' | 'batchnorm2d'> {
  type: T;
  features: number;
  momentum?: number;
  eps?: number;
}

/** What the batch-norm helpers take: a Sequential, or anything holding its layers. */
export interface LayerStack {
  readonly layers: readonly Layer[];
}

/** One set of batch-norm state: affine parameters γ, β and running statistics. */
export interface BatchNormState {
  weight: Tensor;
  bias: Tensor;
  runningMean: Tensor;
  runningVar: Tensor;
}

/**
 * Batch-norm over `features` channels; batch statistics in training, running statistics in evaluation.
 * @example
 *   const bn = new BatchNorm(16, 2);
 *   const y = bn.forward(maps);  // [N, 16, H, W]
 */
export class BatchNorm extends Layer<BatchNormSpec> {
  weight: Tensor;
  bias: Tensor;
  runningMean: Tensor;
  runningVar: Tensor;
  /** The auxiliary set (AdvProp), null until enableAux(). */
  aux: BatchNormState | null = null;
  /** Route forward through the auxiliary set (set by withAuxBatchNorm). */
  useAux = false;
  constructor(
    readonly features: number,
    readonly dims: 1 | 2,
    readonly momentum = 0.1,
    readonly eps = 1e-5,
    dtype: DType = 'float32',
  ) {
    super();
    // arrays of its own, never a recycling scope's: a model built inside a scope keeps them when the scope ends
    const own = (value: number) => new Tensor(alloc(dtype, features).fill(value), [features]);
    this.weight = own(1).requireGrad();
    this.bias = own(0).requireGrad();
    this.runningMean = own(0);
    this.runningVar = own(1);
  }
  forward(x: Tensor): Tensor {
    const rank = this.dims === 1 ? 2 : 4;
    if (x.ndim !== rank || x.shape[1] !== this.features) {
      const layout = this.dims === 1 ? `[N, ${this.features}]` : `[N, ${this.features}, H, W]`;
      throw new Error(`BatchNorm${this.dims}d.forward: x must be ${layout}, got ${shapeStr(x.shape)}`);
    }
    const s = this.state('forward');
    return batchNorm(x, s.weight, s.bias, this.attrs(s));
  }

  /**
   * forward, then ReLU and 2×2/stride-2 max pooling, as one op (batchNormReluMaxPool): Sequential runs BatchNorm2d →
   * ReLU → MaxPool2D(2) with it, in either mode. x [N, features, H, W] → [N, features, ⌊H/2⌋, ⌊W/2⌋].
   * @example
   *   const h = bn.forwardReluPool(maps);  // [N, 16, 24, 24] → [N, 16, 12, 12]
   */
  forwardReluPool(x: Tensor): Tensor {
    if (this.dims !== 2 || x.ndim !== 4 || x.shape[1] !== this.features) {
      throw new Error(`BatchNorm${this.dims}d.forwardReluPool: x must be [N, ${this.features}, H, W] of a BatchNorm2d, got ${shapeStr(x.shape)}`);
    }
    const s = this.state('forwardReluPool');
    return batchNormReluMaxPool(x, s.weight, s.bias, this.attrs(s));
  }

  /** The set forward uses: the auxiliary one while routed there (AdvProp), else the layer's own. */
  private state(f: string): BatchNormState {
    if (this.useAux && !this.aux) throw new Error(`BatchNorm${this.dims}d.${f}: routed to the auxiliary set, which was never created (enableAuxBatchNorm)`);
    return this.useAux ? this.aux! : this;
  }

  private attrs(s: BatchNormState): BatchNormAttrs {
    return { training: this.training, runningMean: s.runningMean, runningVar: s.runningVar, momentum: this.momentum, eps: this.eps };
  }
  /**
   * In evaluation mode a batch-norm after a convolution is an affine map per channel, so the two are one convolution:
   * W'[a] = W[a]·γ[a]/σ[a] and b'[a] = (b[a] − μ[a])·γ[a]/σ[a] + β[a], with μ and σ² + eps the running statistics
   * (the set forward would use: the auxiliary one while routed there). Built from the tape's ops, so gradients reach W,
   * b, γ and β as through the two layers; equal to them up to float32 rounding (the folded weights are rounded once,
   * where the layer rounds its output). Sequential runs Conv2D → BatchNorm2d → ReLU → MaxPool2D(2) in evaluation mode
   * as the fused block with these weights (PyTorch's fuse_conv_bn_eval does the same fold).
   * Shapes: weight [OC, C, KH, KW], bias [OC] for a convolution of OC = features outputs.
   * @example
   *   const { weight, bias } = bn.foldInto(conv.weight, conv.bias);   // bn in evaluation mode
   */
  foldInto(weight: Tensor, bias: Tensor): { weight: Tensor; bias: Tensor } {
    if (this.training) throw new Error(`BatchNorm${this.dims}d.foldInto: only in evaluation mode (training normalises with the batch's statistics)`);
    if (this.useAux && !this.aux) throw new Error(`BatchNorm${this.dims}d.foldInto: routed to the auxiliary set, which was never created (enableAuxBatchNorm)`);
    if (weight.ndim !== 4 || weight.shape[0] !== this.features || bias.ndim !== 1 || bias.shape[0] !== this.features) {
      throw new Error(`BatchNorm${this.dims}d.foldInto: a convolution of ${this.features} outputs, got weight ${shapeStr(weight.shape)} and bias ${shapeStr(bias.shape)}`);
    }
    const s: BatchNormState = this.useAux ? this.aux! : this;
    // 1/σ in float64 as the batch-norm op computes it, a constant (the running variance is a buffer)
    const invstd = Tensor.zeros([this.features], weight.dtype);
    for (let c = 0; c < this.features; c++) invstd.data[c] = 1 / Math.sqrt(s.runningVar.data[c] + this.eps);
    const k = mul(s.weight, invstd);
    return {
      weight: mul(weight, reshape(k, [this.features, 1, 1, 1])),
      bias: add(mul(sub(bias, s.runningMean), k), s.bias),
    };
  }

  /** Create the auxiliary set as a copy of the main one (no-op if it exists). */
  enableAux(): BatchNormState {
    this.aux ??= {
      weight: this.weight.detach().requireGrad(),
      bias: this.bias.detach().requireGrad(),
      runningMean: this.runningMean.detach(),
      runningVar: this.runningVar.detach(),
    };
    return this.aux;
  }
  override parameters(): [string, Tensor][] {
    return [['weight', this.weight], ['bias', this.bias]];
  }
  override buffers(): [string, Tensor][] {
    return [['running_mean', this.runningMean], ['running_var', this.runningVar]];
  }
  /** The auxiliary γ and β ('aux.weight', 'aux.bias'), none before enableAux. */
  auxParameters(): [string, Tensor][] {
    return this.aux ? [['aux.weight', this.aux.weight], ['aux.bias', this.aux.bias]] : [];
  }
  /** The auxiliary running statistics ('aux.running_mean', 'aux.running_var'), none before enableAux. */
  auxBuffers(): [string, Tensor][] {
    return this.aux ? [['aux.running_mean', this.aux.runningMean], ['aux.running_var', this.aux.runningVar]] : [];
  }
  spec(): BatchNormSpec {
    return { type: this.dims === 1 ? 'batchnorm1d' : 'batchnorm2d', features: this.features, momentum: this.momentum, eps: this.eps };
  }
}

function batchNorms(model: LayerStack, f: string): BatchNorm[] {
  const bns = model.layers.filter((l): l is BatchNorm => l instanceof BatchNorm);
  if (bns.length === 0) throw new Error(`${f}: the model has no batch-norm layer (AdvProp needs one, e.g. the zoo's cnn-bn)`);
  return bns;
}

/**
 * Give every batch-norm layer of `model` its auxiliary set (a copy of the main one); call before train() so the
 * optimiser sees the auxiliary parameters. Idempotent.
 * @example
 *   const model = enableAuxBatchNorm(buildModel(zooSpec('cnn-bn'), { seed: 0 }));
 *   model.parameters().map(([n]) => n);  // [..., '1.aux.weight', '1.aux.bias', '5.aux.weight', '5.aux.bias']
 */
export function enableAuxBatchNorm<M extends LayerStack>(model: M): M {
  for (const bn of batchNorms(model, 'enableAuxBatchNorm')) bn.enableAux();
  return model;
}

/**
 * Whether every batch-norm layer of `model` has an auxiliary set (false for a model without batch-norm).
 * @example
 *   hasAuxBatchNorm(enableAuxBatchNorm(model));  // true
 */
export function hasAuxBatchNorm(model: LayerStack): boolean {
  const bns = model.layers.filter((l): l is BatchNorm => l instanceof BatchNorm);
  return bns.length > 0 && bns.every((bn) => bn.aux !== null);
}

/**
 * Run `fn` with every batch-norm layer using its auxiliary set (statistics and γ, β), then route them back to the
 * main set, also when fn throws. Nests.
 * @example
 *   const advLogits = withAuxBatchNorm(model, () => model.forward(xAdv));
 */
export function withAuxBatchNorm<T>(model: LayerStack, fn: () => T): T {
  const bns = batchNorms(model, 'withAuxBatchNorm');
  if (bns.some((bn) => !bn.aux)) throw new Error('withAuxBatchNorm: the model has no auxiliary batch-norm; call enableAuxBatchNorm(model) first');
  const was = bns.map((bn) => bn.useAux);
  for (const bn of bns) bn.useAux = true;
  try {
    return fn();
  } finally {
    bns.forEach((bn, i) => (bn.useAux = was[i]));
  }
}

/**
 * The auxiliary tensors of every batch-norm in `model`, named as Sequential names its state ('1.aux.weight'), layer by
 * layer: the parameters, the buffers, or both (each layer's parameters, then its buffers). Empty without AdvProp.
 * @example
 *   auxBatchNormTensors(enableAuxBatchNorm(model), 'parameters').map(([n]) => n);  // ['1.aux.weight', '1.aux.bias', ...]
 */
export function auxBatchNormTensors(model: LayerStack, which: 'parameters' | 'buffers' | 'all'): [string, Tensor][] {
  return model.layers.flatMap((l, i) => {
    if (!(l instanceof BatchNorm)) return [];
    const own = which === 'parameters' ? l.auxParameters() : which === 'buffers' ? l.auxBuffers() : [...l.auxParameters(), ...l.auxBuffers()];
    return own.map(([n, t]): [string, Tensor] => [`${i}.${n}`, t]);
  });
}
