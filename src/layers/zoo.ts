// The model zoo of the reference protocol, by name. Every model takes images [N, C, H, W] (MNIST: [N, 1, 28, 28])
// and returns logits; dense models begin with Flatten so the state_dict names match torch.nn.Sequential:
//   softmax: Flatten, Linear(784→10)                          → 1.weight [10, 784], 1.bias
//   mlp:     Flatten, Linear(784→256), ReLU, Linear(256→256), ReLU, Linear(256→10)   → 1., 3., 5.
//   maxout:  Flatten, Linear(784→1200), Maxout(5), Linear(240→1200), Maxout(5), Linear(240→10) → 1., 3., 5.
//   cnn:     Conv(1→16, 5), ReLU, MaxPool(2), Conv(16→32, 5), ReLU, MaxPool(2), Flatten, Linear(512→128), ReLU,
//            Linear(128→10)                                    → 0., 3., 7., 9.
//   cnn-bn:  the cnn with BatchNorm2d after each conv: Conv(1→16, 5), BN(16), ReLU, MaxPool(2), Conv(16→32, 5), BN(32),
//            ReLU, MaxPool(2), Flatten, Linear(512→128), ReLU, Linear(128→10)
//            → 0., 1.{weight,bias,running_mean,running_var}, 4., 5.{…}, 9., 11.   (for AdvProp, Xie et al. 2020)
import type { LayerSpec } from './layer.js';
import type { ModelSpec } from './sequential.js';

export type ZooName = 'softmax' | 'mlp' | 'maxout' | 'cnn' | 'cnn-bn';
export const zooNames: ZooName[] = ['softmax', 'mlp', 'maxout', 'cnn', 'cnn-bn'];

/**
 * The spec of a zoo model for inputs of shape [C, H, W] and `classes` outputs.
 * @example
 *   const model = buildModel(zooSpec('cnn'), { seed: 0 });
 */
export function zooSpec(name: string, input: number[] = [1, 28, 28], classes = 10): ModelSpec {
  const [C, H, W] = input;
  const n = input.reduce((a, b) => a * b, 1);
  let layers: LayerSpec[];
  switch (name) {
    case 'softmax':
      layers = [{ type: 'flatten' }, { type: 'dense', in: n, out: classes }];
      break;
    case 'mlp':
      layers = [
        { type: 'flatten' },
        { type: 'dense', in: n, out: 256 }, { type: 'relu' },
        { type: 'dense', in: 256, out: 256 }, { type: 'relu' },
        { type: 'dense', in: 256, out: classes },
      ];
      break;
    case 'maxout':
      layers = [
        { type: 'flatten' },
        { type: 'dense', in: n, out: 1200 }, { type: 'maxout', pieces: 5 },
        { type: 'dense', in: 240, out: 1200 }, { type: 'maxout', pieces: 5 },
        { type: 'dense', in: 240, out: classes },
      ];
      break;
    case 'cnn':
    case 'cnn-bn': {
      const h = Math.floor((Math.floor((H - 4) / 2) - 4) / 2), w = Math.floor((Math.floor((W - 4) / 2) - 4) / 2);
      if (h < 1 || w < 1) throw new Error(`zooSpec: ${name} needs inputs of at least 16×16, got ${H}×${W}`);
      const bn = (features: number): LayerSpec[] => (name === 'cnn-bn' ? [{ type: 'batchnorm2d', features }] : []);
      layers = [
        { type: 'conv2d', in: C, out: 16, kernel: 5 }, ...bn(16), { type: 'relu' }, { type: 'maxpool2d', kernel: 2 },
        { type: 'conv2d', in: 16, out: 32, kernel: 5 }, ...bn(32), { type: 'relu' }, { type: 'maxpool2d', kernel: 2 },
        { type: 'flatten' },
        { type: 'dense', in: 32 * h * w, out: 128 }, { type: 'relu' },
        { type: 'dense', in: 128, out: classes },
      ];
      break;
    }
    default:
      throw new Error(`zooSpec: unknown model '${name}' (expected ${zooNames.join(', ')}, or a JSON spec file)`);
  }
  return { input: input.slice(), layers };
}
