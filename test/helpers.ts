// Shared test helpers: seeded float64 tensors.
import { Rng } from '../src/engine/random.js';
import { Tensor } from '../src/engine/tensor.js';

export function rand(shape: number[], seed: number, lo = -1, hi = 1): Tensor {
  return Tensor.uniform(shape, lo, hi, new Rng(seed), 'float64');
}

/** Values spaced apart (a shuffled ramp plus small noise): no ties for max, none near ReLU's kink. */
export function distinct(shape: number[], seed: number): Tensor {
  const rng = new Rng(seed);
  const t = Tensor.zeros(shape, 'float64');
  const perm = rng.permutation(t.size);
  for (let i = 0; i < t.size; i++) t.data[i] = (perm[i] - t.size / 2 + 0.5) / t.size * 2 + rng.uniform(-0.1, 0.1) / t.size;
  return t;
}
