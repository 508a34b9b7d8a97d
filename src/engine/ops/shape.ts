// Shape ops: reshape (one dimension may be −1) and flatten ([N, …] → [N, rest], PyTorch's C,H,W order).
// The output shares the input's data (ops never write into their inputs); the gradient is reshaped back.
import { apply, type Op } from '../tape.js';
import { Tensor, shapeStr, sizeOf } from '../tensor.js';

function resolve(x: Tensor, shape: readonly number[]): number[] {
  const free = shape.indexOf(-1);
  const known = sizeOf(shape.filter((d) => d !== -1));
  const out = shape.slice();
  if (free >= 0) {
    if (shape.indexOf(-1, free + 1) >= 0 || known === 0 || x.size % known !== 0) {
      throw new Error(`reshape: cannot reshape ${shapeStr(x.shape)} into ${shapeStr(shape)}`);
    }
    out[free] = x.size / known;
  }
  if (sizeOf(out) !== x.size || out.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new Error(`reshape: cannot reshape ${shapeStr(x.shape)} into ${shapeStr(shape)}`);
  }
  return out;
}

export const shapeOps = {
  reshape: {
    name: 'reshape',
    forward([x], { shape }) {
      return { out: new Tensor(x.data, resolve(x, shape)), saved: null };
    },
    // dX = reshape(dY, shape(x))
    backward(dOut, { inputs: [x] }) {
      return [new Tensor(dOut.data, x.shape)];
    },
  } as Op<{ shape: readonly number[] }, null>,
};

/** View x with a new shape of the same size. @example const y = reshape(x, [-1, 784]); */
export const reshape = (x: Tensor, shape: readonly number[]): Tensor => apply(shapeOps.reshape, [x], { shape });
/** [N, …] → [N, rest]. @example const h = flatten(featureMaps); */
export const flatten = (x: Tensor): Tensor => {
  if (x.ndim < 1) throw new Error(`flatten: x must have a batch dimension, got ${shapeStr(x.shape)}`);
  return reshape(x, [x.shape[0], x.shape[0] === 0 ? 0 : -1]);
};
