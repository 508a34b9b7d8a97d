// Build a Sequential from its JSON description, validating every field and the shapes between layers
// (by pushing one example through), so a bad spec fails with a message naming the layer.
import { Rng } from '../engine/random.js';
import { noGrad } from '../engine/tape.js';
import { Tensor, type DType } from '../engine/tensor.js';
import type { InitScheme } from './init.js';
import type { Layer } from './layer.js';
import { allLayers, isLayerType, type BuildContext, type LayerSpec, type LayerType } from './layer-types.js';
import { Sequential, type ModelSpec } from './sequential.js';
import { shown } from '../engine/shown.js';

export interface BuildOptions {
  seed?: number;
  init?: InitScheme;
  dtype?: DType;
}

/**
 * One layer from its spec (its type's builder in allLayers); `rng` draws its initial weights.
 * @example
 *   const fc = buildLayer({ type: 'dense', in: 784, out: 10 }, new Rng(0));
 */
export function buildLayer(spec: LayerSpec, rng: Rng, opts: BuildOptions = {}, where = 'layer'): Layer {
  const type: unknown = (spec as { type?: unknown }).type;
  if (!isLayerType(type)) {
    throw new Error(`${where}: unknown layer type ${JSON.stringify(type)} (expected ${Object.keys(allLayers).join(', ')})`);
  }
  const ctx: BuildContext = {
    rng,
    init: opts.init,
    dtype: opts.dtype,
    where,
    int(field, v, min = 1) {
      if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
        throw new Error(`${where}: '${field}' must be an integer ≥ ${min}, got ${JSON.stringify(v)}`);
      }
      return v;
    },
  };
  // spec.type picks the entry that takes exactly this spec; TypeScript cannot correlate the key with the union member.
  return (allLayers[type] as unknown as LayerType<LayerSpec>).build(spec, ctx);
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
    return buildLayer(l, rng, opts, `buildModel: layer ${i} (${shown((l as { type?: unknown }).type)})`);
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
        throw new Error(`buildModel: layer ${i} (${spec.layers[i].type}) does not fit: ${(e as Error).message}`, { cause: e });
      }
    });
    model.train();
  });
  return model;
}
