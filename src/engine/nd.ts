// The one place that imports `ndarray` and `ndarray-ops`, with the types we actually rely on.
// Their traps (checked): no broadcasting or bounds checks, `ops.random` cannot be seeded, in-place writes into
// overlapping views scramble data, and the @types packages are wrong in places. We check shapes ourselves.
import ndarrayModule from 'ndarray';
import opsModule from 'ndarray-ops';

export type Data = Float32Array | Float64Array;

/**
 * A copy on the JS heap, as a.slice(): for a view of shared memory (the WebAssembly kernels' arena) V8's slice()
 * copies element by element (25× slower than this allocate-and-set at 200 K floats).
 * @example
 *   const mine = copyOf(t.data);
 */
export function copyOf<T extends Data>(a: T): T {
  const out = (a instanceof Float64Array ? new Float64Array(a.length) : new Float32Array(a.length)) as T;
  out.set(a);
  return out;
}

/** The subset of an ndarray view that nablax uses. */
export interface NdArray {
  data: Data;
  shape: number[];
  stride: number[];
  offset: number;
  size: number;
  dimension: number;
  get(...idx: number[]): number;
  set(...args: number[]): number;
  index(...idx: number[]): number;
  lo(...idx: number[]): NdArray;
  hi(...idx: number[]): NdArray;
  step(...idx: number[]): NdArray;
  pick(...idx: (number | null)[]): NdArray;
  transpose(...axes: number[]): NdArray;
}

interface NdOps {
  assign(dst: NdArray, src: NdArray): NdArray;
}

const ndarray = ndarrayModule as unknown as (data: Data, shape?: number[], stride?: number[], offset?: number) => NdArray;
const ops = opsModule as unknown as NdOps;

/**
 * A row-major view over `data`.
 * @example
 *   const v = view(new Float32Array(6), [2, 3]);
 *   v.set(1, 2, 5);
 */
export function view(data: Data, shape: readonly number[]): NdArray {
  return ndarray(data, shape.slice());
}

/** True when the view is row-major, dense and starts at offset 0, so `.data` can be indexed directly. */
export function isContiguous(v: NdArray): boolean {
  if (v.offset !== 0 || v.data.length !== v.size) return false;
  let expected = 1;
  for (let d = v.shape.length - 1; d >= 0; d--) {
    if (v.shape[d] !== 1 && v.stride[d] !== expected) return false;
    expected *= v.shape[d];
  }
  return true;
}

/**
 * Copy any (strided, offset, transposed) view into a fresh row-major array of the same dtype.
 * @example
 *   const t = copyContiguous(view(data, [3, 4]).transpose(1, 0));  // a real transposed copy
 */
export function copyContiguous(v: NdArray): NdArray {
  const Ctor = v.data instanceof Float64Array ? Float64Array : Float32Array;
  const out = ndarray(new Ctor(v.size), v.shape.slice());
  if (v.size > 0) ops.assign(out, v);
  return out;
}
