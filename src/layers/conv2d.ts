// 2-D convolution layer, NCHW: x [N, in, H, W] → [N, out, OH, OW], weight [out, in, k, k] as in torch.nn.Conv2d.
import { conv2d, conv2dRelu, conv2dReluMaxPool } from '../engine/ops/conv.js';
import { Rng } from '../engine/random.js';
import { shapeStr, type DType, type Tensor } from '../engine/tensor.js';
import { initParams, type InitScheme } from './init.js';
import { Layer } from './layer.js';

/** A convolution's spec; stride defaults to 1, padding to 0. */
export interface Conv2dSpec {
  type: 'conv2d';
  in: number;
  out: number;
  kernel: number;
  stride?: number;
  padding?: number;
}

/**
 * Convolution with a square kernel.
 * @example
 *   const conv = new Conv2D(1, 16, 5, { rng: new Rng(0) });
 *   const maps = conv.forward(images);  // [N, 1, 28, 28] → [N, 16, 24, 24]
 */
export class Conv2D extends Layer<Conv2dSpec> {
  weight: Tensor;
  bias: Tensor;
  readonly stride: number;
  readonly padding: number;
  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    readonly kernel: number,
    opts: { stride?: number; padding?: number; rng?: Rng; init?: InitScheme; dtype?: DType } = {},
  ) {
    super();
    this.stride = opts.stride ?? 1;
    this.padding = opts.padding ?? 0;
    const fanIn = inChannels * kernel * kernel;
    const p = initParams(opts.init ?? 'torch', [outChannels, inChannels, kernel, kernel], fanIn, outChannels * kernel * kernel, opts.rng ?? new Rng(0), opts.dtype);
    this.weight = p.weight;
    this.bias = p.bias;
  }
  forward(x: Tensor): Tensor {
    this.checkInput(x);
    return conv2d(x, this.weight, this.bias, { stride: this.stride, padding: this.padding });
  }
  /** This layer, then ReLU, as one fused op (what Sequential runs for that run of layers when no 2×2 pooling follows). */
  forwardRelu(x: Tensor): Tensor {
    this.checkInput(x);
    return conv2dRelu(x, this.weight, this.bias, { stride: this.stride, padding: this.padding });
  }
  /**
   * This layer, then ReLU, then 2×2 max pooling, as one fused op (what Sequential runs for that run of layers); with
   * `weight` and `bias` given (a following batch-norm folded in, BatchNorm.foldInto), those instead of its own.
   */
  forwardReluPool(x: Tensor, weight: Tensor = this.weight, bias: Tensor = this.bias): Tensor {
    this.checkInput(x);
    return conv2dReluMaxPool(x, weight, bias, { stride: this.stride, padding: this.padding });
  }
  private checkInput(x: Tensor): void {
    if (x.ndim !== 4 || x.shape[1] !== this.inChannels) {
      throw new Error(`Conv2D.forward: x must be [N, ${this.inChannels}, H, W], got ${shapeStr(x.shape)}`);
    }
  }
  override parameters(): [string, Tensor][] {
    return [['weight', this.weight], ['bias', this.bias]];
  }
  spec(): Conv2dSpec {
    return { type: 'conv2d', in: this.inChannels, out: this.outChannels, kernel: this.kernel, stride: this.stride, padding: this.padding };
  }
}
