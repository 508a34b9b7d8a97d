// Inverted dropout (Srivastava et al. 2014): in training each value is kept with probability 1−p and scaled
// by 1/(1−p); in evaluation it is the identity. The mask comes from a seeded generator and is kept as
// `lastMask`, so a gradient check or a learner can replay exactly the same forward.
import { dropout } from '../engine/ops/elementwise.js';
import { Rng } from '../engine/random.js';
import { alloc, type Tensor } from '../engine/tensor.js';
import { Layer } from './layer.js';

export interface DropoutSpec {
  type: 'dropout';
  p: number;
}

/**
 * Dropout with drop probability p.
 * @example
 *   const drop = new Dropout(0.5, new Rng(1));
 *   const y = drop.forward(h);  // identity after drop.eval()
 */
export class Dropout extends Layer<DropoutSpec> {
  override readonly stochastic = true;
  lastMask: Float32Array | Float64Array | null = null;
  /** When set, this mask is used instead of a fresh draw (for replaying a forward). */
  fixedMask: Float32Array | Float64Array | null = null;
  constructor(readonly p: number, public rng: Rng = new Rng(0)) {
    super();
    if (!(p >= 0 && p < 1)) throw new Error(`Dropout: p must be in [0, 1), got ${p}`);
  }
  forward(x: Tensor): Tensor {
    if (!this.training || this.p === 0) return x;
    let mask = this.fixedMask;
    if (!mask) {
      mask = alloc(x.dtype, x.size);
      const keep = 1 / (1 - this.p);
      for (let i = 0; i < mask.length; i++) mask[i] = this.rng.next() < this.p ? 0 : keep;
    }
    this.lastMask = mask;
    return dropout(x, mask);
  }
  /** The generator the masks are drawn from (the training loop's per-epoch seed). */
  override reseed(rng: Rng): void {
    this.rng = rng;
  }
  spec(): DropoutSpec {
    return { type: 'dropout', p: this.p };
  }
}
