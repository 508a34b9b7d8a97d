// Dense (fully connected) layer: x [N, in] → x·Wᵀ + b [N, out], W [out, in] as in torch.nn.Linear.
import { linear } from '../engine/ops/matmul.js';
import { Rng } from '../engine/random.js';
import { shapeStr, type DType, type Tensor } from '../engine/tensor.js';
import { initParams, type InitScheme } from './init.js';
import { Layer } from './layer.js';

export interface DenseSpec {
  type: 'dense';
  in: number;
  out: number;
}

/**
 * y = x·Wᵀ + b.
 * @example
 *   const fc = new Dense(784, 10, { rng: new Rng(0) });
 *   const logits = fc.forward(x);   // x: [N, 784]
 */
export class Dense extends Layer<DenseSpec> {
  weight: Tensor;
  bias: Tensor;
  constructor(readonly inFeatures: number, readonly outFeatures: number, opts: { rng?: Rng; init?: InitScheme; dtype?: DType } = {}) {
    super();
    const p = initParams(opts.init ?? 'torch', [outFeatures, inFeatures], inFeatures, outFeatures, opts.rng ?? new Rng(0), opts.dtype);
    this.weight = p.weight;
    this.bias = p.bias;
  }
  forward(x: Tensor): Tensor {
    if (x.ndim !== 2 || x.shape[1] !== this.inFeatures) {
      throw new Error(`Dense.forward: x must be [N, ${this.inFeatures}], got ${shapeStr(x.shape)}`);
    }
    return linear(x, this.weight, this.bias);
  }
  override parameters(): [string, Tensor][] {
    return [['weight', this.weight], ['bias', this.bias]];
  }
  spec(): DenseSpec {
    return { type: 'dense', in: this.inFeatures, out: this.outFeatures };
  }
}
