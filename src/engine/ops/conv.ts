// 2-D convolution (cross-correlation, as in PyTorch), NCHW, by im2col + GEMM (kernels().conv2dForward/Backward:
// one image at a time in the reference, a batch of images per GEMM in the WebAssembly kernels).
// x [N, C, H, W], weight [OC, C, KH, KW], bias [OC] → y [N, OC, OH, OW], OH = ⌊(H + 2p − KH)/s⌋ + 1.
// Per image: cols = im2col(xₙ) [C·KH·KW, OH·OW], yₙ = W·cols + b.
import { kernels, type Window2d } from '../kernels/kernels.js';
import { apply, type Op } from '../tape.js';
import { Tensor, shapeStr } from '../tensor.js';
import { expect, expectRank, expectSameDtype } from './check.js';

export interface Conv2dAttrs {
  stride: number;
  padding: number;
}

/** Output geometry of a window of KH×KW with stride and padding over [C, H, W], or an error naming the op. */
export function window2d(op: string, C: number, H: number, W: number, KH: number, KW: number, stride: number, pad: number): Window2d {
  expect(Number.isInteger(stride) && stride >= 1, `${op}: stride must be a positive integer, got ${stride}`);
  expect(Number.isInteger(pad) && pad >= 0, `${op}: padding must be a non-negative integer, got ${pad}`);
  const OH = Math.floor((H + 2 * pad - KH) / stride) + 1;
  const OW = Math.floor((W + 2 * pad - KW) / stride) + 1;
  expect(OH >= 1 && OW >= 1, `${op}: window ${KH}×${KW} (padding ${pad}) does not fit input ${H}×${W}`);
  return { C, H, W, KH, KW, stride, pad, OH, OW };
}

export const convOps = {
  conv2d: {
    name: 'conv2d',
    forward([x, w, b], { stride, padding }) {
      expectRank('conv2d', 'x', x, 4, '[N, C, H, W]');
      expectRank('conv2d', 'weight', w, 4, '[OC, C, KH, KW]');
      expectSameDtype('conv2d', [x, w, b]);
      const [N, C, H, W] = x.shape;
      const [OC, C2, KH, KW] = w.shape;
      expect(C === C2, `conv2d: x has ${C} channels, weight ${shapeStr(w.shape)} expects ${C2}`);
      expect(b.ndim === 1 && b.shape[0] === OC, `conv2d: bias must be [${OC}], got ${shapeStr(b.shape)}`);
      const g = window2d('conv2d', C, H, W, KH, KW, stride, padding);
      const out = Tensor.zeros([N, OC, g.OH, g.OW], x.dtype);
      kernels().conv2dForward(x.data, N, g, w.data, OC, b.data, out.data);
      return { out, saved: null };
    },
    // dW = Σₙ dYₙ·colsₙᵀ   dXₙ = col2im(Wᵀ·dYₙ)   dB = Σₙ,ₕ,ᵥ dY   (in kernels().conv2dBackward)
    backward(dOut, { inputs: [x, w, b], attrs: { stride, padding }, needs }) {
      const [N, C, H, W] = x.shape;
      const [OC, , KH, KW] = w.shape;
      const g = window2d('conv2d', C, H, W, KH, KW, stride, padding);
      const dX = needs[0] ? Tensor.zeros(x.shape, x.dtype) : null;
      const dW = needs[1] ? Tensor.zeros(w.shape, w.dtype) : null;
      const dB = needs[2] ? Tensor.zeros(b.shape, b.dtype) : null;
      kernels().conv2dBackward(x.data, N, g, w.data, OC, dOut.data, dX?.data ?? null, dW?.data ?? null, dB?.data ?? null);
      return [dX, dW, dB];
    },
  } as Op<Conv2dAttrs, null>,
};

/**
 * 2-D convolution with PyTorch's layout and semantics (cross-correlation).
 * @example
 *   const y = conv2d(x, weight, bias, { stride: 1, padding: 2 });
 */
export const conv2d = (x: Tensor, w: Tensor, b: Tensor, attrs: Partial<Conv2dAttrs> = {}): Tensor =>
  apply(convOps.conv2d, [x, w, b], { stride: attrs.stride ?? 1, padding: attrs.padding ?? 0 });
