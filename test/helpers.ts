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

/** B float64 images [B, 1, 4, 4] in [0, 1] (some pixels exactly 0 or 1, so clipping is exercised) and random labels of 3 classes. */
export function tinyBatch(B: number, seed: number): { x: Tensor; y: Int32Array } {
  const rng = new Rng(seed);
  const x = Tensor.zeros([B, 1, 4, 4], 'float64');
  for (let i = 0; i < x.size; i++) x.data[i] = i % 7 === 0 ? 0 : i % 11 === 0 ? 1 : rng.next();
  return { x, y: Int32Array.from({ length: B }, () => rng.int(3)) };
}
