// Elementwise ops: binary arithmetic with NumPy broadcasting, activations, and dropout with an explicit mask.
// Shapes: out = broadcast(a, b) for binary ops, out = x for unary ones. A broadcast input's gradient is the
// upstream gradient summed over the dimensions it was stretched along.
import { kernels } from '../kernels/kernels.js';
import { apply, type Op } from '../tape.js';
import { Tensor, sameShape, shapeStr, sizeOf, type Shape } from '../tensor.js';
import { expectSameDtype } from './check.js';

/** NumPy broadcasting of two shapes, or an error naming the op. */
export function broadcastShapes(op: string, a: Shape, b: Shape): number[] {
  const n = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i] ?? 1;
    const db = b[b.length - n + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new Error(`${op}: shapes ${shapeStr(a)} and ${shapeStr(b)} cannot be broadcast together`);
    }
    out.push(da === 1 ? db : da);
  }
  return out;
}

/** For each flat index of `outShape`, the flat index of the broadcast input of shape `inShape`. */
function broadcastMap(outShape: Shape, inShape: Shape): Int32Array {
  const n = outShape.length;
  const strides = new Array<number>(n).fill(0);
  let s = 1;
  for (let i = inShape.length - 1; i >= 0; i--) {
    const d = n - inShape.length + i;
    strides[d] = inShape[i] === 1 ? 0 : s;
    s *= inShape[i];
  }
  const size = sizeOf(outShape);
  const map = new Int32Array(size);
  const idx = new Array<number>(n).fill(0);
  let off = 0;
  for (let o = 0; o < size; o++) {
    map[o] = off;
    for (let d = n - 1; d >= 0; d--) {
      idx[d]++;
      off += strides[d];
      if (idx[d] < outShape[d]) break;
      off -= strides[d] * idx[d];
      idx[d] = 0;
    }
  }
  return map;
}

export interface BinarySaved {
  mapA: Int32Array | null; // null when the input already has the output's shape
  mapB: Int32Array | null;
}

function binaryForward(name: string, f: (a: number, b: number) => number) {
  return (inputs: Tensor[]): { out: Tensor; saved: BinarySaved } => {
    const [a, b] = inputs;
    expectSameDtype(name, [a, b]);
    const shape = broadcastShapes(name, a.shape, b.shape);
    const out = Tensor.empty(shape, a.dtype);
    const o = out.data, ad = a.data, bd = b.data;
    const mapA = sameShape(a.shape, shape) ? null : broadcastMap(shape, a.shape);
    const mapB = sameShape(b.shape, shape) ? null : broadcastMap(shape, b.shape);
    for (let i = 0; i < o.length; i++) o[i] = f(ad[mapA ? mapA[i] : i], bd[mapB ? mapB[i] : i]);
    return { out, saved: { mapA, mapB } };
  };
}

/** Sum the per-output values `g` into a tensor of `shape` through a broadcast map. */
function reduceTo(g: Float32Array | Float64Array, map: Int32Array | null, shape: Shape, like: Tensor): Tensor {
  if (!map) {
    const out = Tensor.empty(shape, like.dtype);
    out.data.set(g);
    return out;
  }
  const out = Tensor.zeros(shape, like.dtype);
  const d = out.data;
  for (let i = 0; i < g.length; i++) d[map[i]] += g[i];
  return out;
}

// Computes per-output partials, then reduces each to its input's shape.
function binaryBackward(
  dA: (g: number, a: number, b: number) => number,
  dB: (g: number, a: number, b: number) => number,
): Op<unknown, BinarySaved>['backward'] {
  return (dOut, { inputs, saved, needs }) => {
    const [a, b] = inputs;
    const g = dOut.data;
    const res: (Tensor | null)[] = [null, null];
    const tmp = new (g instanceof Float64Array ? Float64Array : Float32Array)(g.length);
    const { mapA, mapB } = saved;
    if (needs[0]) {
      for (let i = 0; i < g.length; i++) tmp[i] = dA(g[i], a.data[mapA ? mapA[i] : i], b.data[mapB ? mapB[i] : i]);
      res[0] = reduceTo(tmp, mapA, a.shape, a);
    }
    if (needs[1]) {
      for (let i = 0; i < g.length; i++) tmp[i] = dB(g[i], a.data[mapA ? mapA[i] : i], b.data[mapB ? mapB[i] : i]);
      res[1] = reduceTo(tmp, mapB, b.shape, b);
    }
    return res;
  };
}

function unaryOp(
  name: string,
  f: (x: number) => number,
  // derivative from the input x and the output y, whichever is cheaper
  df: (x: number, y: number) => number,
): Op<unknown, null> {
  return {
    name,
    forward([x]) {
      const out = Tensor.empty(x.shape, x.dtype);
      const o = out.data, d = x.data;
      for (let i = 0; i < d.length; i++) o[i] = f(d[i]);
      return { out, saved: null };
    },
    backward(dOut, { inputs: [x], out }) {
      const dX = Tensor.empty(x.shape, x.dtype);
      const g = dOut.data, xd = x.data, yd = out.data, r = dX.data;
      for (let i = 0; i < g.length; i++) r[i] = g[i] * df(xd[i], yd[i]);
      return [dX];
    },
  };
}

export const elementwiseOps = {
  // dA = dOut   dB = dOut   (each summed over its broadcast dimensions)
  add: { name: 'add', forward: binaryForward('add', (a, b) => a + b), backward: binaryBackward((g) => g, (g) => g) } as Op<unknown, BinarySaved>,
  // dA = dOut   dB = −dOut
  sub: { name: 'sub', forward: binaryForward('sub', (a, b) => a - b), backward: binaryBackward((g) => g, (g) => -g) } as Op<unknown, BinarySaved>,
  // dA = dOut·b   dB = dOut·a
  mul: { name: 'mul', forward: binaryForward('mul', (a, b) => a * b), backward: binaryBackward((g, _a, b) => g * b, (g, a) => g * a) } as Op<unknown, BinarySaved>,
  // dA = dOut / b   dB = −dOut·a / b²
  div: { name: 'div', forward: binaryForward('div', (a, b) => a / b), backward: binaryBackward((g, _a, b) => g / b, (g, a, b) => (-g * a) / (b * b)) } as Op<unknown, BinarySaved>,
  // dX = −dOut
  neg: unaryOp('neg', (x) => -x, () => -1),
  // dX = dOut·exp(x) = dOut·y
  exp: unaryOp('exp', Math.exp, (_x, y) => y),
  // dX = dOut / x
  log: unaryOp('log', Math.log, (x) => 1 / x),
  // dX = dOut·[x > 0]   (subgradient 0 at the kink x = 0, as in PyTorch). Written out rather than through
  // unaryOp: it runs after every conv and dense layer, and branch-free loops are several times faster.
  relu: {
    name: 'relu',
    forward([x]) {
      const out = Tensor.empty(x.shape, x.dtype); // every output written, here and in the ops below
      // the kernel to read: referenceKernels.reluForward (../kernels/reference.ts), which the fast kernels must match
      kernels().reluForward(x.data, out.data);
      return { out, saved: null };
    },
    // dX = dOut where x > 0
    backward(dOut, { inputs: [x] }) {
      const dX = Tensor.empty(x.shape, x.dtype);
      // the kernel to read: referenceKernels.reluBackward (../kernels/reference.ts), which the fast kernels must match
      kernels().reluBackward(dOut.data, x.data, dX.data);
      return [dX];
    },
  } as Op<unknown, null>,
  // dX = dOut·(1 − y²)
  tanh: unaryOp('tanh', Math.tanh, (_x, y) => 1 - y * y),
  // dX = dOut·y·(1 − y)
  sigmoid: unaryOp('sigmoid', (x) => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x))), (_x, y) => y * (1 - y)),
  // out = c·x;  dX = c·dOut
  scale: {
    name: 'scale',
    forward([x], { c }) {
      const out = Tensor.empty(x.shape, x.dtype);
      const o = out.data, d = x.data;
      for (let i = 0; i < d.length; i++) o[i] = c * d[i];
      return { out, saved: null };
    },
    backward(dOut, { attrs: { c } }) {
      const dX = Tensor.empty(dOut.shape, dOut.dtype);
      const g = dOut.data, r = dX.data;
      for (let i = 0; i < g.length; i++) r[i] = c * g[i];
      return [dX];
    },
  } as Op<{ c: number }, null>,
  // out = x ⊙ mask, mask holding 0 (dropped) or 1/(1−p) (kept);  dX = dOut ⊙ mask
  dropout: {
    name: 'dropout',
    forward([x], { mask }) {
      if (mask.length !== x.size) throw new Error(`dropout: mask has ${mask.length} elements, x has shape ${shapeStr(x.shape)}`);
      const out = Tensor.empty(x.shape, x.dtype);
      const o = out.data, d = x.data;
      for (let i = 0; i < d.length; i++) o[i] = d[i] * mask[i];
      return { out, saved: null };
    },
    backward(dOut, { attrs: { mask } }) {
      const dX = Tensor.empty(dOut.shape, dOut.dtype);
      const g = dOut.data, r = dX.data;
      for (let i = 0; i < g.length; i++) r[i] = g[i] * mask[i];
      return [dX];
    },
  } as Op<{ mask: Float32Array | Float64Array }, null>,
};

/** a + b with broadcasting. @example const y = add(x, bias); */
export const add = (a: Tensor, b: Tensor): Tensor => apply(elementwiseOps.add, [a, b], {});
/** a − b with broadcasting. @example const d = sub(x, mean); */
export const sub = (a: Tensor, b: Tensor): Tensor => apply(elementwiseOps.sub, [a, b], {});
/** a ⊙ b with broadcasting. @example const y = mul(x, gate); */
export const mul = (a: Tensor, b: Tensor): Tensor => apply(elementwiseOps.mul, [a, b], {});
/** a / b with broadcasting. @example const y = div(x, std); */
export const div = (a: Tensor, b: Tensor): Tensor => apply(elementwiseOps.div, [a, b], {});
/** −x. @example const y = neg(x); */
export const neg = (x: Tensor): Tensor => apply(elementwiseOps.neg, [x], {});
/** eˣ. @example const y = exp(x); */
export const exp = (x: Tensor): Tensor => apply(elementwiseOps.exp, [x], {});
/** ln x. @example const y = log(p); */
export const log = (x: Tensor): Tensor => apply(elementwiseOps.log, [x], {});
/** max(x, 0). @example const h = relu(z); */
export const relu = (x: Tensor): Tensor => apply(elementwiseOps.relu, [x], {});
/** tanh x. @example const h = tanh(z); */
export const tanh = (x: Tensor): Tensor => apply(elementwiseOps.tanh, [x], {});
/** 1 / (1 + e⁻ˣ). @example const p = sigmoid(z); */
export const sigmoid = (x: Tensor): Tensor => apply(elementwiseOps.sigmoid, [x], {});
/** c·x for a constant c. @example const y = scale(x, 0.5); */
export const scale = (x: Tensor, c: number): Tensor => apply(elementwiseOps.scale, [x], { c });
/** x ⊙ mask with a fixed mask of 0 and 1/(1−p). @example const y = dropout(x, mask); */
export const dropout = (x: Tensor, mask: Float32Array | Float64Array): Tensor => apply(elementwiseOps.dropout, [x], { mask });
