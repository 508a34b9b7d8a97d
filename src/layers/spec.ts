// Build a Sequential from its JSON description, validating every field and the shapes between layers
// (by pushing one example through), so a bad spec fails with a message naming the layer.
import { Rng } from '../engine/random.js';
import { noGrad } from '../engine/tape.js';
import { Tensor, type DType } from '../engine/tensor.js';
import { Flatten, Maxout, ReLU, Sigmoid, Tanh } from './activations.js';
import { BatchNorm } from './batchnorm.js';
import { Conv2D } from './conv2d.js';
import { Dense } from './dense.js';
import { Dropout } from './dropout.js';
import type { InitScheme } from './init.js';
import type { Layer, LayerSpec } from './layer.js';
import { AvgPool2D, MaxPool2D } from './pool.js';
import { Sequential, type ModelSpec } from './sequential.js';

export interface BuildOptions {
  seed?: number;
  init?: InitScheme;
  dtype?: DType;
}

function posInt(where: string, field: string, v: unknown, min = 1): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
    throw new Error(`${where}: '${field}' must be an integer ≥ ${min}, got ${JSON.stringify(v)}`);
  }
  return v;
}

/**
 * One layer from its spec; `rng` draws its initial weights.
 * @example
 *   const fc = buildLayer({ type: 'dense', in: 784, out: 10 }, new Rng(0));
 */
export function buildLayer(spec: LayerSpec, rng: Rng, opts: BuildOptions = {}, where = 'layer'): Layer {
  const s = spec as Record<string, unknown>;
  const o = { rng, init: opts.init, dtype: opts.dtype };
  switch (spec.type) {
    case 'dense':
      return new Dense(posInt(where, 'in', s.in), posInt(where, 'out', s.out), o);
    case 'conv2d':
      return new Conv2D(posInt(where, 'in', s.in), posInt(where, 'out', s.out), posInt(where, 'kernel', s.kernel), {
        ...o,
        stride: posInt(where, 'stride', s.stride ?? 1),
        padding: posInt(where, 'padding', s.padding ?? 0, 0),
      });
    case 'maxpool2d':
    case 'avgpool2d': {
      const k = posInt(where, 'kernel', s.kernel);
      const Ctor = spec.type === 'maxpool2d' ? MaxPool2D : AvgPool2D;
      return new Ctor(k, posInt(where, 'stride', s.stride ?? k), posInt(where, 'padding', s.padding ?? 0, 0));
    }
    case 'relu':
      return new ReLU();
    case 'tanh':
      return new Tanh();
    case 'sigmoid':
      return new Sigmoid();
    case 'flatten':
      return new Flatten();
    case 'maxout':
      return new Maxout(posInt(where, 'pieces', s.pieces));
    case 'dropout':
      if (typeof s.p !== 'number' || !(s.p >= 0 && s.p < 1)) throw new Error(`${where}: 'p' must be in [0, 1), got ${JSON.stringify(s.p)}`);
      return new Dropout(s.p, new Rng(rng.nextU32()));
    case 'batchnorm1d':
    case 'batchnorm2d':
      return new BatchNorm(
        posInt(where, 'features', s.features),
        spec.type === 'batchnorm1d' ? 1 : 2,
        typeof s.momentum === 'number' ? s.momentum : 0.1,
        typeof s.eps === 'number' ? s.eps : 1e-5,
        opts.dtype,
      );
    default:
      throw new Error(`${where}: unknown layer type ${JSON.stringify(s.type)} (expected dense, conv2d, maxpool2d, avgpool2d, relu, tanh, sigmoid, maxout, dropout, batchnorm1d, batchnorm2d, flatten)`);
  }
}

/**
 * A model from its spec, with weights drawn from `seed`; checks that the layers' shapes chain.
 * @example
 *   const model = buildModel({ input: [1, 28, 28], layers: [{ type: 'flatten' }, { type: 'dense', in: 784, out: 10 }] });
 */
export function buildModel(spec: ModelSpec, opts: BuildOptions = {}): Sequential {
  if (typeof spec !== 'object' || spec === null) throw new Error('buildModel: spec must be an object {input, layers}');
  if (!Array.isArray(spec.input) || spec.input.length === 0 || !spec.input.every((d) => Number.isInteger(d) && d > 0)) {
    throw new Error(`buildModel: 'input' must be a per-example shape such as [1, 28, 28], got ${JSON.stringify(spec.input)}`);
  }
  if (!Array.isArray(spec.layers) || spec.layers.length === 0) throw new Error("buildModel: 'layers' must be a non-empty array");
  const rng = new Rng(opts.seed ?? 0);
  const layers = spec.layers.map((l, i) => {
    if (typeof l !== 'object' || l === null) throw new Error(`buildModel: layer ${i} must be an object with a 'type'`);
    return buildLayer(l, rng, opts, `buildModel: layer ${i} (${(l as { type?: unknown }).type})`);
  });
  const model = new Sequential(spec.input.slice(), layers);
  // Push two examples through (batch-norm needs more than one per channel in training) to check the shapes chain.
  noGrad(() => {
    let h = Tensor.zeros([2, ...spec.input], opts.dtype ?? 'float32');
    model.eval();
    layers.forEach((layer, i) => {
      try {
        h = layer.forward(h);
      } catch (e) {
        throw new Error(`buildModel: layer ${i} (${spec.layers[i].type}) does not fit: ${(e as Error).message}`);
      }
    });
    model.train();
  });
  return model;
}
