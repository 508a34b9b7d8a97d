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
//   cnn-w2, cnn-w4: the cnn with its channels and hidden width multiplied by 2 / 4 (Conv(1→32/64), Conv(→64/128),
//            Linear(→256/512)), same names as the cnn                   → 0., 3., 7., 9.
//   madry:   Madry et al. (2018)'s MNIST challenge model: Conv(1→32, 5, padding 2), ReLU, MaxPool(2),
//            Conv(32→64, 5, padding 2), ReLU, MaxPool(2), Flatten, Linear(3136→1024), ReLU, Linear(1024→10)
//                                                                      → 0., 3., 7., 9.
//   smallcnn: TRADES' SmallCNN (Zhang et al. 2019; yaodongyu/TRADES models/small_cnn.py): Conv(1→32, 3), ReLU,
//            Conv(32→32, 3), ReLU, MaxPool(2), Conv(32→64, 3), ReLU, Conv(64→64, 3), ReLU, MaxPool(2), Flatten,
//            Linear(1024→200), ReLU, Dropout(0.5), Linear(200→200), ReLU, Linear(200→10)
//                                                                      → 0., 2., 5., 7., 11., 14., 16.
//            (TRADES names them feature_extractor.conv1 … classifier.fc3 in nested Sequentials; the flat
//            indices here are those of one torch.nn.Sequential with the same layers in the same order; the
//            weights start from PyTorch's defaults like every zoo model, not TRADES' kaiming_normal and zero fc3)
import type { LayerSpec } from './layer-types.js';
import type { ModelSpec } from './sequential.js';

export type ZooName = 'softmax' | 'mlp' | 'maxout' | 'cnn' | 'cnn-bn' | 'cnn-w2' | 'cnn-w4' | 'madry' | 'smallcnn';
export const zooNames: ZooName[] = ['softmax', 'mlp', 'maxout', 'cnn', 'cnn-bn', 'cnn-w2', 'cnn-w4', 'madry', 'smallcnn'];

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
    case 'cnn-bn':
    case 'cnn-w2':
    case 'cnn-w4': {
      const h = Math.floor((Math.floor((H - 4) / 2) - 4) / 2), w = Math.floor((Math.floor((W - 4) / 2) - 4) / 2);
      if (h < 1 || w < 1) throw new Error(`zooSpec: ${name} needs inputs of at least 16×16, got ${H}×${W}`);
      const bn = (features: number): LayerSpec[] => (name === 'cnn-bn' ? [{ type: 'batchnorm2d', features }] : []);
      const m = name === 'cnn-w2' ? 2 : name === 'cnn-w4' ? 4 : 1; // width multiplier
      layers = [
        { type: 'conv2d', in: C, out: 16 * m, kernel: 5 }, ...bn(16 * m), { type: 'relu' }, { type: 'maxpool2d', kernel: 2 },
        { type: 'conv2d', in: 16 * m, out: 32 * m, kernel: 5 }, ...bn(32 * m), { type: 'relu' }, { type: 'maxpool2d', kernel: 2 },
        { type: 'flatten' },
        { type: 'dense', in: 32 * m * h * w, out: 128 * m }, { type: 'relu' },
        { type: 'dense', in: 128 * m, out: classes },
      ];
      break;
    }
    case 'madry': {
      // same padding keeps H×W through each conv; the pools floor
      const h = Math.floor(Math.floor(H / 2) / 2), w = Math.floor(Math.floor(W / 2) / 2);
      if (h < 1 || w < 1) throw new Error(`zooSpec: madry needs inputs of at least 4×4, got ${H}×${W}`);
      layers = [
        { type: 'conv2d', in: C, out: 32, kernel: 5, padding: 2 }, { type: 'relu' }, { type: 'maxpool2d', kernel: 2 },
        { type: 'conv2d', in: 32, out: 64, kernel: 5, padding: 2 }, { type: 'relu' }, { type: 'maxpool2d', kernel: 2 },
        { type: 'flatten' },
        { type: 'dense', in: 64 * h * w, out: 1024 }, { type: 'relu' },
        { type: 'dense', in: 1024, out: classes },
      ];
      break;
    }
    case 'smallcnn': {
      const h = Math.floor((Math.floor((H - 4) / 2) - 4) / 2), w = Math.floor((Math.floor((W - 4) / 2) - 4) / 2);
      if (h < 1 || w < 1) throw new Error(`zooSpec: smallcnn needs inputs of at least 16×16, got ${H}×${W}`);
      layers = [
        { type: 'conv2d', in: C, out: 32, kernel: 3 }, { type: 'relu' },
        { type: 'conv2d', in: 32, out: 32, kernel: 3 }, { type: 'relu' }, { type: 'maxpool2d', kernel: 2 },
        { type: 'conv2d', in: 32, out: 64, kernel: 3 }, { type: 'relu' },
        { type: 'conv2d', in: 64, out: 64, kernel: 3 }, { type: 'relu' }, { type: 'maxpool2d', kernel: 2 },
        { type: 'flatten' },
        { type: 'dense', in: 64 * h * w, out: 200 }, { type: 'relu' }, { type: 'dropout', p: 0.5 },
        { type: 'dense', in: 200, out: 200 }, { type: 'relu' },
        { type: 'dense', in: 200, out: classes },
      ];
      break;
    }
    default:
      throw new Error(`zooSpec: unknown model '${name}' (expected ${zooNames.join(', ')}, or a JSON spec file)`);
  }
  return { input: input.slice(), layers };
}
