// Matrix products through the GEMM kernel. matmul: [M, K]·[K, N] → [M, N].
// linear: the dense layer's y = x·Wᵀ + b with PyTorch's layout, x [N, in], W [out, in], b [out] → y [N, out].
// The kernel to read: referenceKernels.gemm (../kernels/reference.ts), which the fast kernels must match.
import { kernels } from '../kernels/kernels.js';
import { apply, type Op } from '../tape.js';
import { Tensor, shapeStr } from '../tensor.js';
import { expect, expectRank, expectSameDtype } from './check.js';

export const matmulOps = {
  matmul: {
    name: 'matmul',
    forward([a, b]) {
      expectRank('matmul', 'a', a, 2, '[M, K]');
      expectRank('matmul', 'b', b, 2, '[K, N]');
      expectSameDtype('matmul', [a, b]);
      const [M, K] = a.shape;
      const [K2, N] = b.shape;
      expect(K === K2, `matmul: inner dimensions differ: a is ${shapeStr(a.shape)}, b is ${shapeStr(b.shape)}`);
      const out = Tensor.empty([M, N], a.dtype); // the product overwrites every element
      kernels().gemm(false, false, M, N, K, a.data, 0, K, b.data, 0, N, out.data, 0, N, false);
      return { out, saved: null };
    },
    // dA = dOut·Bᵀ   dB = Aᵀ·dOut
    backward(dOut, { inputs: [a, b], needs }) {
      const [M, K] = a.shape;
      const N = b.shape[1];
      const k = kernels();
      let dA: Tensor | null = null, dB: Tensor | null = null;
      if (needs[0]) {
        dA = Tensor.empty(a.shape, a.dtype);
        k.gemm(false, true, M, K, N, dOut.data, 0, N, b.data, 0, N, dA.data, 0, K, false);
      }
      if (needs[1]) {
        dB = Tensor.empty(b.shape, b.dtype);
        k.gemm(true, false, K, N, M, a.data, 0, K, dOut.data, 0, N, dB.data, 0, N, false);
      }
      return [dA, dB];
    },
  } as Op<unknown, null>,

  linear: {
    name: 'linear',
    forward([x, w, b]) {
      expectRank('linear', 'x', x, 2, '[N, in]');
      expectRank('linear', 'weight', w, 2, '[out, in]');
      expectSameDtype('linear', [x, w, b]);
      const [N, I] = x.shape;
      const [O, I2] = w.shape;
      expect(I === I2, `linear: x must be [N, ${I2}], got ${shapeStr(x.shape)}`);
      expect(b.ndim === 1 && b.shape[0] === O, `linear: bias must be [${O}], got ${shapeStr(b.shape)}`);
      const out = Tensor.empty([N, O], x.dtype); // each row starts as the bias
      const y = out.data, bd = b.data;
      for (let n = 0; n < N; n++) y.set(bd, n * O);
      kernels().gemm(false, true, N, O, I, x.data, 0, I, w.data, 0, I, y, 0, O, true);
      return { out, saved: null };
    },
    // dX = dY·W   dW = dYᵀ·X   dB = Σₙ dY
    backward(dOut, { inputs: [x, w, b], needs }) {
      const [N, I] = x.shape;
      const O = w.shape[0];
      const k = kernels();
      const g = dOut.data;
      let dX: Tensor | null = null, dW: Tensor | null = null, dB: Tensor | null = null;
      if (needs[0]) {
        dX = Tensor.empty(x.shape, x.dtype);
        k.gemm(false, false, N, I, O, g, 0, O, w.data, 0, I, dX.data, 0, I, false);
      }
      if (needs[1]) {
        dW = Tensor.empty(w.shape, w.dtype);
        k.gemm(true, false, O, I, N, g, 0, O, x.data, 0, I, dW.data, 0, I, false);
      }
      if (needs[2]) {
        dB = Tensor.empty(b.shape, b.dtype); // every element written
        k.columnSums(g, N, O, dB.data);
      }
      return [dX, dW, dB];
    },
  } as Op<unknown, null>,
};

/** [M, K]·[K, N]. @example const c = matmul(a, b); */
export const matmul = (a: Tensor, b: Tensor): Tensor => apply(matmulOps.matmul, [a, b], {});
/** x·Wᵀ + b with W [out, in]. @example const y = linear(x, layer.weight, layer.bias); */
export const linear = (x: Tensor, w: Tensor, b: Tensor): Tensor => apply(matmulOps.linear, [x, w, b], {});
