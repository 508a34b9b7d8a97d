// Batch normalisation layers (Ioffe & Szegedy 2015): BatchNorm1d over [N, C], BatchNorm2d over [N, C, H, W].
// Parameters weight (γ) and bias (β); buffers running_mean and running_var, as in PyTorch's state_dict.
import { batchNorm } from '../engine/ops/norm.js';
import { Tensor, shapeStr, type DType } from '../engine/tensor.js';
import { Layer, type LayerSpec } from './layer.js';

/**
 * Batch-norm over `features` channels; batch statistics in training, running statistics in evaluation.
 * @example
 *   const bn = new BatchNorm(16, 2);
 *   const y = bn.forward(maps);  // [N, 16, H, W]
 */
export class BatchNorm extends Layer {
  weight: Tensor;
  bias: Tensor;
  runningMean: Tensor;
  runningVar: Tensor;
  constructor(
    readonly features: number,
    readonly dims: 1 | 2,
    readonly momentum = 0.1,
    readonly eps = 1e-5,
    dtype: DType = 'float32',
  ) {
    super();
    this.weight = Tensor.full([features], 1, dtype).requireGrad();
    this.bias = Tensor.zeros([features], dtype).requireGrad();
    this.runningMean = Tensor.zeros([features], dtype);
    this.runningVar = Tensor.full([features], 1, dtype);
  }
  forward(x: Tensor): Tensor {
    const rank = this.dims === 1 ? 2 : 4;
    if (x.ndim !== rank || x.shape[1] !== this.features) {
      const layout = this.dims === 1 ? `[N, ${this.features}]` : `[N, ${this.features}, H, W]`;
      throw new Error(`BatchNorm${this.dims}d.forward: x must be ${layout}, got ${shapeStr(x.shape)}`);
    }
    return batchNorm(x, this.weight, this.bias, {
      training: this.training,
      runningMean: this.runningMean,
      runningVar: this.runningVar,
      momentum: this.momentum,
      eps: this.eps,
    });
  }
  override parameters(): [string, Tensor][] {
    return [['weight', this.weight], ['bias', this.bias]];
  }
  override buffers(): [string, Tensor][] {
    return [['running_mean', this.runningMean], ['running_var', this.runningVar]];
  }
  spec(): LayerSpec {
    return { type: this.dims === 1 ? 'batchnorm1d' : 'batchnorm2d', features: this.features, momentum: this.momentum, eps: this.eps };
  }
}
