// The layer contract: forward(x) plus named parameters and buffers, a train/eval mode, and a JSON spec that
// rebuilds it. Layers call ops; they hold no second copy of the math.
import type { Tensor } from '../engine/tensor.js';

/** JSON description of one layer (what `nablax train --model spec.json` and model files carry). */
export type LayerSpec =
  | { type: 'dense'; in: number; out: number }
  | { type: 'conv2d'; in: number; out: number; kernel: number; stride?: number; padding?: number }
  | { type: 'maxpool2d'; kernel: number; stride?: number; padding?: number }
  | { type: 'avgpool2d'; kernel: number; stride?: number; padding?: number }
  | { type: 'relu' }
  | { type: 'tanh' }
  | { type: 'sigmoid' }
  | { type: 'maxout'; pieces: number }
  | { type: 'dropout'; p: number }
  | { type: 'batchnorm1d'; features: number; momentum?: number; eps?: number }
  | { type: 'batchnorm2d'; features: number; momentum?: number; eps?: number }
  | { type: 'flatten' };

/**
 * Base class of every layer.
 * @example
 *   class Identity extends Layer { forward(x: Tensor) { return x; } spec() { ... } }
 */
export abstract class Layer {
  training = true;
  abstract forward(x: Tensor): Tensor;
  abstract spec(): LayerSpec;
  /** Learnable tensors by local name ('weight', 'bias'). */
  parameters(): [string, Tensor][] {
    return [];
  }
  /** Non-learnable state saved with the model ('running_mean', 'running_var'). */
  buffers(): [string, Tensor][] {
    return [];
  }
  /** Auxiliary learnable tensors ('aux.weight' of an AdvProp batch-norm): trained and checkpointed, never in the model file. */
  auxParameters(): [string, Tensor][] {
    return [];
  }
  /** Auxiliary buffers ('aux.running_mean'): checkpointed, never in the model file. */
  auxBuffers(): [string, Tensor][] {
    return [];
  }
  /** Switch between training (true) and evaluation (false) behaviour. */
  train(mode = true): this {
    this.training = mode;
    return this;
  }
  eval(): this {
    return this.train(false);
  }
}
