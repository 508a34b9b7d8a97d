// Multiply-adds per image of a model spec, for the benchmark's GFLOP/s: the convolutions' and dense layers' products
// (pooling, activations, batch-norm and the optimiser are not counted; 1 multiply-add = 2 FLOP).
// Forward F = Σ conv OC·C·KH·KW·OH·OW + Σ dense in·out. Per measured image:
//   inference F;  ∇x 2F (forward, then dX of every layer, each the forward's size);
//   training 3F − F₁ (forward, dW of every layer, dX of every layer but the first, whose input needs no gradient).
// For the `cnn`: F = 1,116,416, so training is 6.24 MFLOP per image, ∇x 4.47, inference 2.23.
import type { ModelSpec } from '../../layers/sequential.js';

/** What the bench times: a training step, ∇x (forward + backward to the input), or inference. */
export type Measure = 'train' | 'inputGradient' | 'inference';

export interface ModelMacs {
  /** Multiply-adds of one image's forward pass. */
  forward: number;
  /** Those of the first convolution or dense layer alone (its dX is not computed in training). */
  first: number;
}

/**
 * The multiply-adds of one image's forward pass through `spec`, walking the layers' output shapes.
 * @example
 *   modelMacs(zooSpec('cnn')); // { forward: 1116416, first: 230400 }
 */
export function modelMacs(spec: ModelSpec): ModelMacs {
  let shape = spec.input.slice();
  let forward = 0;
  let first = -1;
  const count = (macs: number) => {
    if (first < 0) first = macs;
    forward += macs;
  };
  spec.layers.forEach((l, i) => {
    const where = `modelMacs: layer ${i} (${l.type})`;
    switch (l.type) {
      case 'conv2d':
      case 'maxpool2d':
      case 'avgpool2d': {
        if (shape.length !== 3) throw new Error(`${where} needs a [C, H, W] input, got [${shape.join(', ')}]`);
        const [C, H, W] = shape;
        const k = l.kernel, s = l.stride ?? (l.type === 'conv2d' ? 1 : k), p = l.padding ?? 0;
        const OH = Math.floor((H + 2 * p - k) / s) + 1, OW = Math.floor((W + 2 * p - k) / s) + 1;
        if (l.type === 'conv2d') {
          count(l.out * C * k * k * OH * OW);
          shape = [l.out, OH, OW];
        } else shape = [C, OH, OW];
        break;
      }
      case 'dense':
        count(l.in * l.out);
        shape = [l.out];
        break;
      case 'flatten':
        shape = [shape.reduce((a, b) => a * b, 1)];
        break;
      case 'maxout':
        shape = [shape[0] / l.pieces];
        break;
      default:
        break; // elementwise layers keep the shape
    }
  });
  return { forward, first: Math.max(first, 0) };
}

/**
 * FLOPs per image that one measure performs (see the header: 2 FLOP per multiply-add).
 * @example
 *   flopsPerImage(modelMacs(zooSpec('cnn')), 'train'); // 6,237,696
 */
export function flopsPerImage(m: ModelMacs, measure: Measure): number {
  const macs = measure === 'inference' ? m.forward : measure === 'inputGradient' ? 2 * m.forward : 3 * m.forward - m.first;
  return 2 * macs;
}
