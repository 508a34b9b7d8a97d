// Minibatches: copy the examples at `order[start..end)` of a dataset into an input tensor [B, C, H, W] and labels.
import { Tensor, type DType } from '../engine/tensor.js';
import type { Dataset } from './datasets.js';

export interface Batch {
  x: Tensor;
  y: Int32Array;
}

/**
 * The batch of examples order[start..end) (or start..end when order is null).
 * @example
 *   const { x, y } = getBatch(test, null, 0, 256);
 */
export function getBatch(ds: Dataset, order: Int32Array | null, start: number, end: number, dtype: DType = 'float32'): Batch {
  const per = ds.channels * ds.height * ds.width;
  const B = end - start;
  const x = Tensor.zeros([B, ds.channels, ds.height, ds.width], dtype);
  const y = new Int32Array(B);
  for (let b = 0; b < B; b++) {
    const i = order ? order[start + b] : start + b;
    x.data.set(ds.images.subarray(i * per, (i + 1) * per), b * per);
    y[b] = ds.labels[i];
  }
  return { x, y };
}
