// Tensor: a dense, row-major array (Float32Array by default, Float64Array for gradient checks) with an
// ndarray view for slicing and a link to the op that produced it, so the tape can walk back to the leaves.
// Op outputs are always contiguous: kernels index `.data` directly.
import { copyContiguous, copyOf, isContiguous, view, type Data, type NdArray } from './nd.js';
import type { Rng } from './random.js';
import { noteAllocation, takeRecycled } from './recycle.js';

export type DType = 'float32' | 'float64';
export type Shape = readonly number[];

export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function shapeStr(shape: Shape): string {
  return `[${shape.join(', ')}]`;
}

export function sameShape(a: Shape, b: Shape): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function alloc(dtype: DType, n: number): Data {
  return dtype === 'float64' ? new Float64Array(n) : new Float32Array(n);
}

export function dtypeOf(data: Data): DType {
  return data instanceof Float64Array ? 'float64' : 'float32';
}

/**
 * An n-dimensional array that the autodiff tape can differentiate.
 * @example
 *   const x = Tensor.from([1, 2, 3, 4], [2, 2]).requireGrad();
 *   x.shape; // [2, 2]
 */
/**
 * The record an op application leaves on the tensor it produced (engine/tape.ts writes it in apply() and reads it in
 * grad()): the op, here only as much of it as the walk back needs (its name and backward; the full contract is tape's
 * Op), its inputs and attributes, and what its forward saved for the backward.
 */
export interface Node {
  op: {
    name: string;
    backward(dOut: Tensor, ctx: { inputs: Tensor[]; out: Tensor; attrs: unknown; saved: unknown; needs: boolean[] }): (Tensor | null)[];
  };
  inputs: Tensor[];
  attrs: unknown;
  saved: unknown;
}

export class Tensor {
  readonly data: Data;
  readonly shape: Shape;
  /** Set on leaves we differentiate with respect to (parameters, the input x); propagated by ops. */
  requiresGrad = false;
  /** The op application that produced this tensor, or null for a leaf or a no-grad result. */
  node: Node | null = null;
  private _nd: NdArray | null = null;

  constructor(data: Data, shape: Shape) {
    const n = sizeOf(shape);
    if (data.length !== n) throw new Error(`Tensor: data has ${data.length} elements, shape ${shapeStr(shape)} needs ${n}`);
    for (const d of shape) {
      if (!Number.isInteger(d) || d < 0) throw new Error(`Tensor: bad shape ${shapeStr(shape)}`);
    }
    this.data = data;
    this.shape = Object.freeze(shape.slice());
  }

  get dtype(): DType {
    return dtypeOf(this.data);
  }

  get size(): number {
    return this.data.length;
  }

  get ndim(): number {
    return this.shape.length;
  }

  /** An ndarray view over this tensor's data (shares memory). */
  get nd(): NdArray {
    if (!this._nd) this._nd = view(this.data, this.shape);
    return this._nd;
  }

  /** Mark this tensor as a leaf the tape should differentiate with respect to. Returns `this`. */
  requireGrad(flag = true): this {
    this.requiresGrad = flag;
    return this;
  }

  /**
   * Replace the data by a copy on the JS heap, the same values (engine/recycle.ts, for a kept result whose data is a
   * view of the kernels' arena, which the next scope reuses). Tensors that shared the old array keep it.
   */
  moveToHeap(): void {
    this.moveInto(copyOf(this.data));
  }

  /**
   * Replace the data by `data`, which holds the same values in another place (a copy on the JS heap, or in the
   * kernels' linear memory: layers/resident.ts). Tensors that shared the old array keep it.
   */
  moveInto(data: Data): void {
    if (data.length !== this.data.length) throw new Error(`Tensor.moveInto: ${data.length} values for a tensor of ${this.data.length}`);
    (this as { data: Data }).data = data;
    this._nd = null;
  }

  /** A new leaf sharing no history (and no memory) with this tensor. */
  detach(): Tensor {
    return new Tensor(copyOf(this.data), this.shape);
  }

  /** A copy converted to another dtype (float64 for gradient checks, float32 for speed). */
  to(dtype: DType): Tensor {
    const out = alloc(dtype, this.size);
    out.set(this.data);
    return new Tensor(out, this.shape);
  }

  /** The single value of a one-element tensor. */
  item(): number {
    if (this.size !== 1) throw new Error(`Tensor.item: tensor has shape ${shapeStr(this.shape)}, expected one element`);
    return this.data[0];
  }

  toArray(): number[] {
    return Array.from(this.data);
  }

  toString(): string {
    return `Tensor(${shapeStr(this.shape)}, ${this.dtype})`;
  }

  static zeros(shape: Shape, dtype: DType = 'float32'): Tensor {
    const n = sizeOf(shape);
    // inside a recycling scope (./recycle.ts) a pooled array of this type and length, zeroed, serves first
    const data = takeRecycled(dtype === 'float64', n) ?? alloc(dtype, n);
    noteAllocation(data);
    return new Tensor(data, shape);
  }

  /**
   * A tensor whose elements are unspecified, as torch.empty: for an op's output that its kernel writes in full before
   * anything reads it. Fresh arrays are zero; inside a recycling scope (./recycle.ts) a pooled array comes as it was
   * left, which spares zeroing what the kernel overwrites anyway (the cnn's convolution outputs: megabytes a call).
   * @example
   *   const out = Tensor.empty([N, OC, OH, OW]); kernels().conv2dForward(x.data, N, g, w.data, OC, b.data, out.data);
   */
  static empty(shape: Shape, dtype: DType = 'float32'): Tensor {
    const n = sizeOf(shape);
    const data = takeRecycled(dtype === 'float64', n, false) ?? alloc(dtype, n);
    noteAllocation(data);
    return new Tensor(data, shape);
  }

  static full(shape: Shape, value: number, dtype: DType = 'float32'): Tensor {
    const t = Tensor.zeros(shape, dtype);
    t.data.fill(value);
    return t;
  }

  static from(values: ArrayLike<number>, shape?: Shape, dtype: DType = 'float32'): Tensor {
    const data = alloc(dtype, values.length);
    for (let i = 0; i < values.length; i++) data[i] = values[i];
    return new Tensor(data, shape ?? [values.length]);
  }

  static scalar(value: number, dtype: DType = 'float32'): Tensor {
    return Tensor.from([value], [], dtype);
  }

  /** Wrap an ndarray view, copying it when it is strided or offset. */
  static fromNd(v: NdArray): Tensor {
    const c = isContiguous(v) ? v : copyContiguous(v);
    return new Tensor(c.data, c.shape);
  }

  // Random tensors are initial values (a layer's weights), which outlive any recycling scope: their arrays are their
  // own, never the pool's or the arena's.
  static uniform(shape: Shape, lo: number, hi: number, rng: Rng, dtype: DType = 'float32'): Tensor {
    const t = new Tensor(alloc(dtype, sizeOf(shape)), shape);
    for (let i = 0; i < t.size; i++) t.data[i] = rng.uniform(lo, hi);
    return t;
  }

  static normal(shape: Shape, mean: number, std: number, rng: Rng, dtype: DType = 'float32'): Tensor {
    const t = new Tensor(alloc(dtype, sizeOf(shape)), shape);
    for (let i = 0; i < t.size; i++) t.data[i] = rng.normal(mean, std);
    return t;
  }
}

/** Throw unless every value is finite: the guard at the boundary against NaN and Infinity inputs. */
export function assertFinite(t: Tensor, where: string): void {
  const d = t.data;
  if (allFinite(d)) return;
  for (let i = 0; i < d.length; i++) {
    const v = d[i];
    if (v !== v || v === Infinity || v === -Infinity) {
      throw new Error(`${where}: input contains ${v} at flat index ${i} (shape ${shapeStr(t.shape)})`);
    }
  }
}

// 0·v is 0 for every finite v and NaN for NaN and ±Infinity, so one sum answers for the whole array; four
// independent sums keep the adds from waiting on each other (200k floats: ~0.3 ms, against 0.5–0.9 ms for testing
// each value; a copy of the loop per array type would reach ~0.13 ms, not worth two loops at a few % of a step).
function allFinite(d: Data): boolean {
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  const n4 = d.length & ~3;
  for (let i = 0; i < n4; i += 4) {
    s0 += d[i] * 0;
    s1 += d[i + 1] * 0;
    s2 += d[i + 2] * 0;
    s3 += d[i + 3] * 0;
  }
  for (let i = n4; i < d.length; i++) s0 += d[i] * 0;
  return s0 + s1 + s2 + s3 === 0;
}
