// Every layer type in one record, as allOps is for ops: for each, its spec type, its builder (from a spec read as
// JSON, every field checked), its name and its derivative as text, the two columns `nablax trace` prints for layer #i
// (notation of analysis/trace.ts: layer #i maps zᵢ → zᵢ₊₁, J the loss). The LayerSpec union, buildLayer and its list
// of names come from it, and the layer test table is typed by it. A new layer type is one entry here plus its file.
import { Rng } from '../engine/random.js';
import type { DType } from '../engine/tensor.js';
import { Flatten, Maxout, ReLU, Sigmoid, Tanh, type FlattenSpec, type MaxoutSpec, type ReluSpec, type SigmoidSpec, type TanhSpec } from './activations.js';
import { BatchNorm, type BatchNormSpec } from './batchnorm.js';
import { Conv2D, type Conv2dSpec } from './conv2d.js';
import { Dense, type DenseSpec } from './dense.js';
import { Dropout, type DropoutSpec } from './dropout.js';
import type { InitScheme } from './init.js';
import type { Layer, SpecBase } from './layer.js';
import { AvgPool2D, MaxPool2D, type Pool2dSpec } from './pool.js';

/** What a builder gets besides the spec: the generator of the initial weights, the init scheme and dtype, and checks. */
export interface BuildContext {
  rng: Rng;
  init?: InitScheme;
  dtype?: DType;
  /** Names the layer in error messages, e.g. "buildModel: layer 3 (dense)". */
  where: string;
  /** `v` if it is an integer ≥ min (default 1), else an error naming `where` and the field. */
  int(field: string, v: unknown, min?: number): number;
}

/** The names around layer #i in trace's notation (input zᵢ, output zᵢ₊₁), e.g. for i = 7: z₇, z₈, ∂J/∂z₈, W₇. */
export interface Notation {
  /** zᵢ, the layer's input. */
  zIn: string;
  /** zᵢ₊₁, the layer's output. */
  zOut: string;
  /** ∂J/∂zᵢ₊₁, the gradient arriving from above. */
  up: string;
  /** The subscript i, e.g. '₇' (W₇, γ₇). */
  sub: string;
  /** The per-example shape of zᵢ, e.g. [16, 4, 4]. */
  inShape: readonly number[];
}

/** One layer type: how to build it from its spec, and how trace names it and writes its backward. */
export interface LayerType<S extends SpecBase> {
  /** The layer of a spec read from JSON (its fields may be anything: each is checked); weights drawn from ctx.rng. */
  build(spec: S, ctx: BuildContext): Layer<S>;
  /** What the layer is, after '#i ' in trace's comment column: 'dense 784→10, W₇ [10×784]'. */
  name(spec: S, n: Notation): string;
  /** Its backward as the op files write it: the right-hand side of ∂J/∂zᵢ = …, given ∂J/∂zᵢ₊₁ (n.up). */
  derivative(spec: S, n: Notation): string;
}

/** An entry of the record, with its spec type spelled out: layerType<DenseSpec>({ build, name, derivative }). */
const layerType = <S extends SpecBase>(t: LayerType<S>): LayerType<S> => t;

const pool = <T extends 'maxpool2d' | 'avgpool2d'>(
  type: T,
  Pool: new (kernel: number, stride: number, padding: number) => Layer<Pool2dSpec<T>>,
  derivative: (s: Pool2dSpec<T>, n: Notation) => string,
) =>
  layerType<Pool2dSpec<T>>({
    build: (s, c) => {
      const k = c.int('kernel', s.kernel);
      return new Pool(k, c.int('stride', s.stride ?? k), c.int('padding', s.padding ?? 0, 0));
    },
    name: (s) => `${type} ${s.kernel}`,
    derivative,
  });

// One BatchNorm class serves both types (dims picks which), so its spec's type is the pair's union: hence the cast.
const batchNorm = <T extends 'batchnorm1d' | 'batchnorm2d'>(type: T) =>
  layerType<BatchNormSpec<T>>({
    build: (s, c) =>
      new BatchNorm(
        c.int('features', s.features),
        type === 'batchnorm1d' ? 1 : 2,
        typeof s.momentum === 'number' ? s.momentum : 0.1,
        typeof s.eps === 'number' ? s.eps : 1e-5,
        c.dtype,
      ) as unknown as Layer<BatchNormSpec<T>>,
    name: () => type,
    derivative: (_, n) => `${n.up} ⊙ γ${n.sub} / √(running_var + ε)   (evaluation: running statistics)`,
  });

/**
 * Every layer type, by its spec's `type` (the order is the one buildLayer's error lists).
 * @example
 *   Object.keys(allLayers);                                   // ['dense', 'conv2d', 'maxpool2d', ...]
 *   allLayers.dense.build({ type: 'dense', in: 784, out: 10 }, ctx);
 */
export const allLayers = {
  dense: layerType<DenseSpec>({
    build: (s, c) => new Dense(c.int('in', s.in), c.int('out', s.out), { rng: c.rng, init: c.init, dtype: c.dtype }),
    name: (s, n) => `dense ${s.in}→${s.out}, W${n.sub} [${s.out}×${s.in}]`,
    derivative: (_, n) => `${n.up} · W${n.sub}`,
  }),
  conv2d: layerType<Conv2dSpec>({
    build: (s, c) =>
      new Conv2D(c.int('in', s.in), c.int('out', s.out), c.int('kernel', s.kernel), {
        rng: c.rng,
        init: c.init,
        dtype: c.dtype,
        stride: c.int('stride', s.stride ?? 1),
        padding: c.int('padding', s.padding ?? 0, 0),
      }),
    name: (s, n) =>
      `conv2d ${s.in}→${s.out} ${s.kernel}×${s.kernel}${s.stride && s.stride > 1 ? ` stride ${s.stride}` : ''}${s.padding ? ` pad ${s.padding}` : ''}, W${n.sub} [${s.out}×${s.in * s.kernel * s.kernel}]`,
    derivative: (_, n) => `col2im(W${n.sub}ᵀ · ${n.up})`,
  }),
  maxpool2d: pool('maxpool2d', MaxPool2D, (s, n) => `${n.up} routed to each ${s.kernel}×${s.kernel} window's max, 0 elsewhere`),
  avgpool2d: pool('avgpool2d', AvgPool2D, (s, n) => `${n.up} spread evenly over each ${s.kernel}×${s.kernel} window (÷${s.kernel * s.kernel})`),
  relu: layerType<ReluSpec>({
    build: () => new ReLU(),
    name: () => 'relu',
    derivative: (_, n) => `${n.up} ⊙ [${n.zIn} > 0]`,
  }),
  tanh: layerType<TanhSpec>({
    build: () => new Tanh(),
    name: () => 'tanh',
    derivative: (_, n) => `${n.up} ⊙ (1 − ${n.zOut}²)`,
  }),
  sigmoid: layerType<SigmoidSpec>({
    build: () => new Sigmoid(),
    name: () => 'sigmoid',
    derivative: (_, n) => `${n.up} ⊙ ${n.zOut} ⊙ (1 − ${n.zOut})`,
  }),
  maxout: layerType<MaxoutSpec>({
    build: (s, c) => new Maxout(c.int('pieces', s.pieces)),
    name: (s) => `maxout ${s.pieces}`,
    derivative: (s, n) => `${n.up} routed to each group's winning piece (of ${s.pieces}), 0 elsewhere`,
  }),
  dropout: layerType<DropoutSpec>({
    build: (s, c) => {
      if (typeof s.p !== 'number' || !(s.p >= 0 && s.p < 1)) throw new Error(`${c.where}: 'p' must be in [0, 1), got ${JSON.stringify(s.p)}`);
      return new Dropout(s.p, new Rng(c.rng.nextU32()));
    },
    name: (s) => `dropout ${s.p}`,
    derivative: (_, n) => `${n.up}   (dropout is the identity in evaluation)`,
  }),
  batchnorm1d: batchNorm('batchnorm1d'),
  batchnorm2d: batchNorm('batchnorm2d'),
  flatten: layerType<FlattenSpec>({
    build: () => new Flatten(),
    name: () => 'flatten',
    derivative: (_, n) => `reshape(${n.up}, ${n.inShape.join('×')})`,
  }),
};

/** A layer type's name, the `type` of its spec: 'dense', 'conv2d', … */
export type LayerTypeName = keyof typeof allLayers;

/** JSON description of one layer (what `nablax train --model spec.json` and model files carry): one per layer type. */
export type LayerSpec = { [K in LayerTypeName]: (typeof allLayers)[K] extends LayerType<infer S> ? S : never }[LayerTypeName];

/**
 * Whether `type` names a layer type of the record.
 * @example
 *   isLayerType('dense');   // true
 *   isLayerType('lstm');    // false
 */
export function isLayerType(type: unknown): type is LayerTypeName {
  return typeof type === 'string' && Object.hasOwn(allLayers, type);
}

/**
 * The record's entry for a spec, typed for it.
 * @example
 *   layerTypeOf(spec).derivative(spec, n);   // '∂J/∂z₈ · W₇' for a dense layer #7
 */
export function layerTypeOf<S extends LayerSpec>(spec: S): LayerType<S> {
  if (!isLayerType(spec.type)) throw new Error(`layerTypeOf: spec.type must be one of ${Object.keys(allLayers).join(', ')}, got ${JSON.stringify(spec.type)}`);
  // The entry of spec.type takes exactly that spec type; TypeScript cannot correlate the key with the union member.
  return allLayers[spec.type] as unknown as LayerType<S>;
}
