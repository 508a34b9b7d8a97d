// Parameter-free layers: ReLU, Tanh, Sigmoid, Flatten, and Maxout (the max over groups of `pieces` units,
// which after a Dense layer of U·K outputs gives Goodfellow et al.'s maxout units, 2013).
import { relu, sigmoid, tanh } from '../engine/ops/elementwise.js';
import { maxout } from '../engine/ops/pool.js';
import { flatten } from '../engine/ops/shape.js';
import type { Tensor } from '../engine/tensor.js';
import { Layer } from './layer.js';

export interface ReluSpec { type: 'relu' }
export interface TanhSpec { type: 'tanh' }
export interface SigmoidSpec { type: 'sigmoid' }
export interface FlattenSpec { type: 'flatten' }
export interface MaxoutSpec { type: 'maxout'; pieces: number }

/** max(x, 0). @example const h = new ReLU().forward(z); */
export class ReLU extends Layer<ReluSpec> {
  forward(x: Tensor): Tensor {
    return relu(x);
  }
  spec(): ReluSpec {
    return { type: 'relu' };
  }
}

/** tanh(x). @example const h = new Tanh().forward(z); */
export class Tanh extends Layer<TanhSpec> {
  forward(x: Tensor): Tensor {
    return tanh(x);
  }
  spec(): TanhSpec {
    return { type: 'tanh' };
  }
}

/** 1/(1+e⁻ˣ). @example const h = new Sigmoid().forward(z); */
export class Sigmoid extends Layer<SigmoidSpec> {
  forward(x: Tensor): Tensor {
    return sigmoid(x);
  }
  spec(): SigmoidSpec {
    return { type: 'sigmoid' };
  }
}

/** [N, C, H, W] → [N, C·H·W] in PyTorch's order. @example const v = new Flatten().forward(maps); */
export class Flatten extends Layer<FlattenSpec> {
  forward(x: Tensor): Tensor {
    return flatten(x);
  }
  spec(): FlattenSpec {
    return { type: 'flatten' };
  }
}

/**
 * Maxout: unit u is the max of inputs u·K … u·K+K−1.
 * @example
 *   const h = new Maxout(5).forward(new Dense(784, 1200).forward(x));  // [N, 240]
 */
export class Maxout extends Layer<MaxoutSpec> {
  constructor(readonly pieces: number) {
    super();
  }
  forward(x: Tensor): Tensor {
    return maxout(x, this.pieces);
  }
  spec(): MaxoutSpec {
    return { type: 'maxout', pieces: this.pieces };
  }
}
