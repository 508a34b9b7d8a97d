// Reductions: sum and mean over all elements (→ scalar) or over one axis (that axis removed).
// Backward broadcasts the upstream gradient back over the reduced elements.
import { apply, type Op } from '../tape.js';
import { Tensor, shapeStr } from '../tensor.js';

export interface ReduceAttrs {
  axis: number | null;
  mean: boolean;
}

// Split the shape around the axis: outer × n × inner.
function split(x: Tensor, axis: number): [number, number, number] {
  let outer = 1, inner = 1;
  for (let i = 0; i < axis; i++) outer *= x.shape[i];
  for (let i = axis + 1; i < x.shape.length; i++) inner *= x.shape[i];
  return [outer, x.shape[axis], inner];
}

function normAxis(op: string, x: Tensor, axis: number | null): number | null {
  if (axis === null) return null;
  const a = axis < 0 ? axis + x.ndim : axis;
  if (!Number.isInteger(a) || a < 0 || a >= x.ndim) throw new Error(`${op}: axis ${axis} out of range for shape ${shapeStr(x.shape)}`);
  return a;
}

const reduceOp: Op<ReduceAttrs, null> = {
  name: 'sum',
  forward([x], { axis, mean }) {
    if (axis === null) {
      let s = 0;
      const d = x.data;
      for (let i = 0; i < d.length; i++) s += d[i];
      return { out: Tensor.from([mean ? s / d.length : s], [], x.dtype), saved: null };
    }
    const [outer, n, inner] = split(x, axis);
    const shape = x.shape.filter((_, i) => i !== axis);
    const out = Tensor.zeros(shape, x.dtype);
    const o = out.data, d = x.data;
    const c = mean ? 1 / n : 1;
    for (let a = 0; a < outer; a++) {
      for (let k = 0; k < n; k++) {
        const src = (a * n + k) * inner;
        for (let b = 0; b < inner; b++) o[a * inner + b] += d[src + b];
      }
    }
    if (c !== 1) for (let i = 0; i < o.length; i++) o[i] *= c;
    return { out, saved: null };
  },
  // dX[…, k, …] = dOut[…, …] (· 1/n for the mean)
  backward(dOut, { inputs: [x], attrs: { axis, mean } }) {
    const dX = Tensor.zeros(x.shape, x.dtype);
    const r = dX.data, g = dOut.data;
    if (axis === null) {
      r.fill(mean ? g[0] / r.length : g[0]);
      return [dX];
    }
    const [outer, n, inner] = split(x, axis);
    const c = mean ? 1 / n : 1;
    for (let a = 0; a < outer; a++) {
      for (let k = 0; k < n; k++) {
        const dst = (a * n + k) * inner;
        for (let b = 0; b < inner; b++) r[dst + b] = g[a * inner + b] * c;
      }
    }
    return [dX];
  },
};

export const reduceOps = { sum: reduceOp, mean: { ...reduceOp, name: 'mean' } as Op<ReduceAttrs, null> };

/** Σ x over all elements (axis omitted) or over one axis. @example const total = sum(losses); */
export const sum = (x: Tensor, axis: number | null = null): Tensor =>
  apply(reduceOps.sum, [x], { axis: normAxis('sum', x, axis), mean: false });
/** Mean of x over all elements or over one axis. @example const m = mean(x, 0); */
export const mean = (x: Tensor, axis: number | null = null): Tensor =>
  apply(reduceOps.mean, [x], { axis: normAxis('mean', x, axis), mean: true });
