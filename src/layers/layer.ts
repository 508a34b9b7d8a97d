// The layer contract: forward(x) plus named parameters and buffers, a train/eval mode, and a JSON spec that
// rebuilds it. Layers call ops; they hold no second copy of the math. Every layer type, its spec and its builder
// sit in one record, allLayers (layer-types.ts), from which the LayerSpec union is derived.
import type { Rng } from '../engine/random.js';
import type { Tensor } from '../engine/tensor.js';

/** What every layer's JSON spec has: its `type`, a key of allLayers. The union of the known specs is LayerSpec. */
export interface SpecBase {
  type: string;
}

/**
 * Base class of every layer; `S` is the type of its JSON spec.
 * @example
 *   class Identity extends Layer<{ type: 'identity' }> { forward(x: Tensor) { return x; } spec() { return { type: 'identity' as const }; } }
 */
export abstract class Layer<S extends SpecBase = SpecBase> {
  training = true;
  /**
   * Whether forward in training mode draws random numbers (dropout's masks). The training loop gives such a layer a
   * fresh seeded generator each epoch (reseed); attacks make their examples with it in evaluation mode.
   */
  readonly stochastic: boolean = false;
  abstract forward(x: Tensor): Tensor;
  abstract spec(): S;
  /** Learnable tensors by local name ('weight', 'bias'). */
  parameters(): [string, Tensor][] {
    return [];
  }
  /** Non-learnable state saved with the model ('running_mean', 'running_var'). */
  buffers(): [string, Tensor][] {
    return [];
  }
  /** Give a stochastic layer the generator its training forwards draw from; a deterministic layer ignores it. */
  reseed(_rng: Rng): void {}
  /** Switch between training (true) and evaluation (false) behaviour. */
  train(mode = true): this {
    this.training = mode;
    return this;
  }
  eval(): this {
    return this.train(false);
  }
}
