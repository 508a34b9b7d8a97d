// Weight initialisation from a seeded generator. 'torch' is PyTorch's default for Linear and Conv2d
// (kaiming_uniform with a = √5, i.e. U(±1/√fan_in), bias U(±1/√fan_in)), which the reference protocol uses;
// 'he' is U(±√(6/fan_in)) (He et al. 2015) and 'glorot' U(±√(6/(fan_in+fan_out))) (Glorot & Bengio 2010).
import { Rng } from '../engine/random.js';
import { Tensor, alloc, type DType } from '../engine/tensor.js';

/**
 * A parameter of `shape` drawn from U(−bound, bound) in order (zeros for bound 0), as Tensor.uniform draws it. Its
 * array is its own, never a recycling scope's: a model built inside a scope keeps its weights when the scope ends.
 */
function draw(shape: number[], bound: number, rng: Rng, dtype: DType): Tensor {
  const data = alloc(dtype, shape.reduce((a, b) => a * b, 1));
  if (bound > 0) for (let i = 0; i < data.length; i++) data[i] = rng.uniform(-bound, bound);
  return new Tensor(data, shape);
}

export type InitScheme = 'torch' | 'he' | 'glorot';

/**
 * Weight and bias of a layer with the given fans, drawn from `rng`.
 * @example
 *   const { weight, bias } = initParams('he', [128, 512], 512, 128, new Rng(0));
 */
export function initParams(scheme: InitScheme, shape: number[], fanIn: number, fanOut: number, rng: Rng, dtype: DType = 'float32') {
  const bound =
    scheme === 'torch' ? 1 / Math.sqrt(fanIn) : scheme === 'he' ? Math.sqrt(6 / fanIn) : Math.sqrt(6 / (fanIn + fanOut));
  const weight = draw(shape, bound, rng, dtype).requireGrad();
  const bb = scheme === 'torch' ? 1 / Math.sqrt(fanIn) : 0;
  const bias = draw([shape[0]], bb, rng, dtype).requireGrad();
  return { weight, bias };
}
