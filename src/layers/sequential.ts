// Sequential: a stack of layers applied in order, with PyTorch's state_dict naming ("<index>.<name>") so a
// saved model maps one-to-one onto the equivalent torch.nn.Sequential. The per-example input shape
// ([C, H, W]) is part of the model: forward checks it, and rejects NaN or infinite inputs at the boundary.
// forward runs each Conv2D → ReLU → MaxPool2D(2) run of layers as one fused op, and each other Conv2D → ReLU as
// another (same values and gradients); in evaluation mode Conv2D → BatchNorm2d → ReLU → MaxPool2D(2) too, the
// batch-norm folded into the convolution, and otherwise BatchNorm2d → ReLU → MaxPool2D(2) as one op (both equal up
// to float32 rounding).
import { assertFinite, shapeStr, type Tensor } from '../engine/tensor.js';
import { ReLU } from './activations.js';
import { auxBatchNormTensors, BatchNorm } from './batchnorm.js';
import { Conv2D } from './conv2d.js';
import type { Layer } from './layer.js';
import type { LayerSpec } from './layer-types.js';
import { MaxPool2D } from './pool.js';

/** What `Sequential.saveModes` returns: the model's train/eval flag and each layer's own. */
export interface ModeState {
  model: boolean;
  layers: boolean[];
}

export interface ModelSpec {
  /** Per-example input shape, e.g. [1, 28, 28]. */
  input: number[];
  layers: LayerSpec[];
}

/**
 * Layers applied in order.
 * @example
 *   const model = new Sequential([1, 28, 28], [new Flatten(), new Dense(784, 10)]);
 *   const logits = model.forward(x);  // x: [N, 1, 28, 28]
 */
export class Sequential {
  training = true;
  /**
   * Run Conv2D → ReLU → MaxPool2D(2) as one op (conv2dReluMaxPool) in forward, any other Conv2D → ReLU as one op
   * (conv2dRelu), BatchNorm2d → ReLU → MaxPool2D(2) as one (batchNormReluMaxPool) and, in evaluation mode, a
   * convolution before such a batch-norm with it (BatchNorm.foldInto). Turn off to run every layer's own op
   * (forwardAll always does, since it returns each layer's output).
   */
  fuse = true;
  constructor(readonly input: number[], readonly layers: Layer[]) {}

  forward(x: Tensor): Tensor {
    this.checkInput(x);
    return this.forwardRange(x, 0, this.layers.length);
  }

  /**
   * Run layers [start, end) on h, the output of layer start − 1 (x itself for start 0), fused as forward fuses them
   * within the range; h is not checked. For callers that keep an intermediate activation (layers/windowed.ts).
   * @example
   *   const logits = model.forwardRange(h, 3, model.layers.length);   // the layers after the first block
   */
  forwardRange(h: Tensor, start: number, end: number): Tensor {
    const ls = this.layers.slice(0, end);
    for (let i = start; i < ls.length; i++) {
      if (this.fuse && isConvBnReluPool(ls[i], ls[i + 1], ls[i + 2], ls[i + 3])) {
        // evaluation mode: the batch-norm folded into the convolution (BatchNorm.foldInto), then the fused block
        const conv = ls[i] as Conv2D;
        const { weight, bias } = (ls[i + 1] as BatchNorm).foldInto(conv.weight, conv.bias);
        h = conv.forwardReluPool(h, weight, bias);
        i += 3;
      } else if (this.fuse && isBnReluPool(ls[i], ls[i + 1], ls[i + 2])) {
        // training mode (and a batch-norm after something other than a convolution): batch-norm, ReLU and pooling in one op
        h = (ls[i] as BatchNorm).forwardReluPool(h);
        i += 2;
      } else if (this.fuse && isConvReluPool(ls[i], ls[i + 1], ls[i + 2])) {
        h = (ls[i] as Conv2D).forwardReluPool(h);
        i += 2;
      } else if (this.fuse && ls[i] instanceof Conv2D && ls[i + 1] instanceof ReLU) {
        h = (ls[i] as Conv2D).forwardRelu(h);
        i += 1;
      } else {
        h = ls[i].forward(h);
      }
    }
    return h;
  }

  /** Run forward and keep every layer's output (for watching backprop, and for the trace). */
  forwardAll(x: Tensor): Tensor[] {
    this.checkInput(x);
    const outs: Tensor[] = [];
    let h = x;
    for (const layer of this.layers) {
      h = layer.forward(h);
      outs.push(h);
    }
    return outs;
  }

  private checkInput(x: Tensor): void {
    const ok = x.ndim === this.input.length + 1 && this.input.every((d, i) => x.shape[i + 1] === d);
    if (!ok) throw new Error(`Sequential.forward: x must be [N, ${this.input.join(', ')}], got ${shapeStr(x.shape)}`);
    if (!x.node) assertFinite(x, 'Sequential.forward');
  }

  /**
   * Everything the optimiser trains, with dotted names ('0.weight'): the state_dict's parameters, then the auxiliary
   * ones ('1.aux.weight', AdvProp's batch-norm) when a layer has them.
   */
  parameters(): [string, Tensor][] {
    return [...this.named((l) => l.parameters()), ...auxBatchNormTensors(this, 'parameters')];
  }

  /** Every non-learnable tensor with its dotted name: the state_dict's buffers, then the auxiliary ones (AdvProp). */
  buffers(): [string, Tensor][] {
    return [...this.named((l) => l.buffers()), ...auxBatchNormTensors(this, 'buffers')];
  }

  /** Parameters and buffers, in PyTorch's state_dict order: what a model file holds (no auxiliary state). */
  stateDict(): [string, Tensor][] {
    return this.named((l) => [...l.parameters(), ...l.buffers()]);
  }

  /** The auxiliary parameters and buffers ('1.aux.weight', '1.aux.running_mean'): checkpointed, not in model files. */
  auxStateDict(): [string, Tensor][] {
    return auxBatchNormTensors(this, 'all');
  }

  private named(get: (l: Layer) => [string, Tensor][]): [string, Tensor][] {
    return this.layers.flatMap((l, i) => get(l).map(([n, t]) => [`${i}.${n}`, t] as [string, Tensor]));
  }

  /** Number of learnable scalars of the network itself (auxiliary parameters not counted). */
  numParameters(): number {
    return this.named((l) => l.parameters()).reduce((s, [, t]) => s + t.size, 0);
  }

  /** Put the model and every layer in training (true) or evaluation (false) mode. */
  train(mode = true): this {
    this.training = mode;
    for (const l of this.layers) l.train(mode);
    return this;
  }

  /**
   * The model's flag and each layer's own train/eval flag (a layer may differ from the model: a batch-norm frozen
   * with `model.layers[i].eval()`), for `restoreModes` after a temporary switch.
   * @example
   *   const modes = model.saveModes(); model.eval(); ...; model.restoreModes(modes);   // frozen layers stay frozen
   */
  saveModes(): ModeState {
    return { model: this.training, layers: this.layers.map((l) => l.training) };
  }

  /** Put back the flags saved by `saveModes`, layer by layer. @example model.restoreModes(saved); */
  restoreModes(saved: ModeState): this {
    if (saved.layers.length !== this.layers.length) {
      throw new Error(`Sequential.restoreModes: saved modes must have ${this.layers.length} layer flags, got ${saved.layers.length}`);
    }
    this.training = saved.model;
    this.layers.forEach((l, i) => l.train(saved.layers[i]));
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  spec(): ModelSpec {
    // A layer of a type outside allLayers (a learner's own) has its own spec, which buildModel cannot rebuild.
    return { input: this.input.slice(), layers: this.layers.map((l) => l.spec() as LayerSpec) };
  }
}

/**
 * Whether four consecutive layers are a convolution, a BatchNorm2d of its outputs in evaluation mode (in either
 * mode with `anyMode`), ReLU and 2×2/stride-2 max pooling: in evaluation mode forward folds the batch-norm into the
 * convolution and runs the fused block.
 */
export function isConvBnReluPool(a: Layer | undefined, b: Layer | undefined, c: Layer | undefined, d: Layer | undefined, anyMode = false): boolean {
  return a instanceof Conv2D && b instanceof BatchNorm && b.dims === 2 && (anyMode || !b.training) && b.features === a.outChannels && isConvReluPool(a, c, d);
}

/** Whether three consecutive layers are a BatchNorm2d, ReLU and 2×2/stride-2 max pooling (batchNormReluMaxPool). */
export function isBnReluPool(a: Layer | undefined, b: Layer | undefined, c: Layer | undefined): boolean {
  return a instanceof BatchNorm && a.dims === 2 && b instanceof ReLU && isPool2(c);
}

const isPool2 = (c: Layer | undefined): boolean => c instanceof MaxPool2D && c.kernel === 2 && c.stride === 2 && c.padding === 0;

/** Whether three consecutive layers are a convolution, ReLU and 2×2/stride-2 max pooling (conv2dReluMaxPool). */
function isConvReluPool(a: Layer | undefined, b: Layer | undefined, c: Layer | undefined): boolean {
  return a instanceof Conv2D && b instanceof ReLU && isPool2(c);
}
