// Weight initialisation from a seeded generator. 'torch' is PyTorch's default for Linear and Conv2d
// (kaiming_uniform with a = √5, i.e. U(±1/√fan_in), bias U(±1/√fan_in)), which the reference protocol uses;
// 'he' is U(±√(6/fan_in)) (He et al. 2015) and 'glorot' U(±√(6/(fan_in+fan_out))) (Glorot & Bengio 2010).
import { Rng } from '../engine/random.js';
import { Tensor, alloc, type DType } from '../engine/tensor.js';

export type InitScheme = 'torch' | 'he' | 'glorot';

/**
 * Weight and bias of a layer with the given fans, drawn from `rng`.
 * @example
 *   const { weight, bias } = initParams('he', [128, 512], 512, 128, new Rng(0));
 */
export function initParams(scheme: InitScheme, shape: number[], fanIn: number, fanOut: number, rng: Rng, dtype: DType = 'float32') {
  const bound =
    scheme === 'torch' ? 1 / Math.sqrt(fanIn) : scheme === 'he' ? Math.sqrt(6 / fanIn) : Math.sqrt(6 / (fanIn + fanOut));
  // arrays of their own (Tensor.uniform, alloc), never a recycling scope's: a model built inside a scope keeps them
  const weight = Tensor.uniform(shape, -bound, bound, rng, dtype).requireGrad();
  const bb = scheme === 'torch' ? 1 / Math.sqrt(fanIn) : 0;
  const bias = (bb > 0 ? Tensor.uniform([shape[0]], -bb, bb, rng, dtype) : new Tensor(alloc(dtype, shape[0]), [shape[0]])).requireGrad();
  return { weight, bias };
}
