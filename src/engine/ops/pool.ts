// Pooling: max and average over 2-D windows (NCHW), and maxout, the max over groups of K channels (pieces).
// maxPool2d/avgPool2d: x [N, C, H, W] → [N, C, OH, OW]. maxout: x [N, U·K, …] → [N, U, …], unit u taking
// channels u·K … u·K+K−1 (PyTorch: x.view(N, U, K, …).max(2)). Max ties go to the first element.
import { kernels } from '../kernels/kernels.js';
import { apply, type Op } from '../tape.js';
import { Tensor, shapeStr } from '../tensor.js';
import { window2d } from './conv.js';
import { expect, expectRank } from './check.js';

export interface Pool2dAttrs {
  kernel: number;
  stride: number;
  padding: number;
}

function geometry(op: string, x: Tensor, a: Pool2dAttrs) {
  expectRank(op, 'x', x, 4, '[N, C, H, W]');
  const [N, C, H, W] = x.shape;
  expect(a.padding * 2 <= a.kernel, `${op}: padding ${a.padding} must be at most half the kernel ${a.kernel}`);
  return { N, g: window2d(op, C, H, W, a.kernel, a.kernel, a.stride, a.padding) };
}

export const poolOps = {
  maxPool2d: {
    name: 'maxPool2d',
    forward([x], attrs) {
      const { N, g } = geometry('maxPool2d', x, attrs);
      const out = Tensor.zeros([N, g.C, g.OH, g.OW], x.dtype);
      const argmax = new Int32Array(out.size);
      // the kernel to read: referenceKernels.maxPoolForward (../kernels/reference.ts), which the fast kernels must match
      kernels().maxPoolForward(x.data, N, g, out.data, argmax);
      return { out, saved: argmax };
    },
    // dX[argmax(window)] += dY   (the gradient goes to the winner of each window)
    backward(dOut, { inputs: [x], saved: argmax }) {
      const dX = Tensor.zeros(x.shape, x.dtype);
      // the kernel to read: referenceKernels.maxPoolBackward (../kernels/reference.ts), which the fast kernels must match
      kernels().maxPoolBackward(dOut.data, argmax, dX.data);
      return [dX];
    },
  } as Op<Pool2dAttrs, Int32Array>,

  avgPool2d: {
    name: 'avgPool2d',
    forward([x], attrs) {
      const { N, g } = geometry('avgPool2d', x, attrs);
      const out = Tensor.zeros([N, g.C, g.OH, g.OW], x.dtype);
      // the kernel to read: referenceKernels.avgPoolForward (../kernels/reference.ts), which the fast kernels must match
      kernels().avgPoolForward(x.data, N, g, out.data);
      return { out, saved: null };
    },
    // dX[window] += dY / (KH·KW)
    backward(dOut, { inputs: [x], attrs }) {
      const { N, g } = geometry('avgPool2d', x, attrs);
      const dX = Tensor.zeros(x.shape, x.dtype);
      // the kernel to read: referenceKernels.avgPoolBackward (../kernels/reference.ts), which the fast kernels must match
      kernels().avgPoolBackward(dOut.data, N, g, dX.data);
      return [dX];
    },
  } as Op<Pool2dAttrs, null>,

  maxout: {
    name: 'maxout',
    forward([x], { pieces: K }) {
      expect(x.ndim >= 2, `maxout: x must be [N, U·K, …], got ${shapeStr(x.shape)}`);
      const [N, UK] = x.shape;
      expect(Number.isInteger(K) && K >= 1 && UK % K === 0, `maxout: ${UK} channels are not divisible into pieces of ${K}`);
      const U = UK / K;
      let S = 1;
      for (let i = 2; i < x.ndim; i++) S *= x.shape[i];
      const out = Tensor.empty([N, U, ...x.shape.slice(2)], x.dtype); // every element written
      // x as [N·U, K, S]: unit u of image n takes pieces u·K … u·K+K−1
      kernels().maxoutForward(x.data, N * U, K, S, out.data);
      return { out, saved: null };
    },
    // dX[winning piece] = dY, 0 for the other pieces (the winners found again from x: nothing saved)
    backward(dOut, { inputs: [x], attrs: { pieces: K } }) {
      const dX = Tensor.empty(x.shape, x.dtype); // every element written
      const S = x.size / (x.shape[0] * x.shape[1]);
      kernels().maxoutBackward(dOut.data, x.data, x.shape[0] * (x.shape[1] / K), K, S, dX.data);
      return [dX];
    },
  } as Op<{ pieces: number }, null>,
};

/** Max pooling over kernel×kernel windows. @example const y = maxPool2d(x, { kernel: 2 }); */
export const maxPool2d = (x: Tensor, a: Partial<Pool2dAttrs> & { kernel: number }): Tensor =>
  apply(poolOps.maxPool2d, [x], { kernel: a.kernel, stride: a.stride ?? a.kernel, padding: a.padding ?? 0 });
/** Average pooling over kernel×kernel windows. @example const y = avgPool2d(x, { kernel: 2 }); */
export const avgPool2d = (x: Tensor, a: Partial<Pool2dAttrs> & { kernel: number }): Tensor =>
  apply(poolOps.avgPool2d, [x], { kernel: a.kernel, stride: a.stride ?? a.kernel, padding: a.padding ?? 0 });
/** Max over groups of `pieces` channels. @example const h = maxout(linear(x, W, b), 5); */
export const maxout = (x: Tensor, pieces: number): Tensor => apply(poolOps.maxout, [x], { pieces });
