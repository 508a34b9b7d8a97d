// Pooling layers over NCHW feature maps: MaxPool2D and AvgPool2D (stride defaults to the kernel, as in PyTorch).
import { avgPool2d, maxPool2d } from '../engine/ops/pool.js';
import type { Tensor } from '../engine/tensor.js';
import { Layer } from './layer.js';

/** A pooling layer's spec; stride defaults to the kernel, padding to 0. */
export interface Pool2dSpec<T extends 'maxpool2d' | 'avgpool2d'> {
  type: T;
  kernel: number;
  stride?: number;
  padding?: number;
}

/**
 * Max over kernel×kernel windows.
 * @example
 *   const pool = new MaxPool2D(2);
 *   const y = pool.forward(maps);  // [N, C, 24, 24] → [N, C, 12, 12]
 */
export class MaxPool2D extends Layer<Pool2dSpec<'maxpool2d'>> {
  constructor(readonly kernel: number, readonly stride = kernel, readonly padding = 0) {
    super();
  }
  forward(x: Tensor): Tensor {
    return maxPool2d(x, { kernel: this.kernel, stride: this.stride, padding: this.padding });
  }
  spec(): Pool2dSpec<'maxpool2d'> {
    return { type: 'maxpool2d', kernel: this.kernel, stride: this.stride, padding: this.padding };
  }
}

/**
 * Mean over kernel×kernel windows.
 * @example
 *   const pool = new AvgPool2D(2);
 *   const y = pool.forward(maps);
 */
export class AvgPool2D extends Layer<Pool2dSpec<'avgpool2d'>> {
  constructor(readonly kernel: number, readonly stride = kernel, readonly padding = 0) {
    super();
  }
  forward(x: Tensor): Tensor {
    return avgPool2d(x, { kernel: this.kernel, stride: this.stride, padding: this.padding });
  }
  spec(): Pool2dSpec<'avgpool2d'> {
    return { type: 'avgpool2d', kernel: this.kernel, stride: this.stride, padding: this.padding };
  }
}
