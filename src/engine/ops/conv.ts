// 2-D convolution (cross-correlation, as in PyTorch), NCHW, by im2col + GEMM (kernels().conv2dForward/Backward:
// one image at a time in the reference, a batch of images per GEMM in the WebAssembly kernels).
// x [N, C, H, W], weight [OC, C, KH, KW], bias [OC] → y [N, OC, OH, OW], OH = ⌊(H + 2p − KH)/s⌋ + 1.
// Per image: cols = im2col(xₙ) [C·KH·KW, OH·OW], yₙ = W·cols + b.
import { kernels, type Window2d } from '../kernels/kernels.js';
import { recycledByteArray } from '../recycle.js';
import { apply, willRecord, type Op } from '../tape.js';
import { Tensor, shapeStr } from '../tensor.js';
import type { Data } from '../nd.js';
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

/** Checked shapes of a convolution's inputs and its window geometry, or an error naming `op`. */
function convGeometry(op: string, x: Tensor, w: Tensor, b: Tensor, stride: number, padding: number) {
  expectRank(op, 'x', x, 4, '[N, C, H, W]');
  expectRank(op, 'weight', w, 4, '[OC, C, KH, KW]');
  expectSameDtype(op, [x, w, b]);
  const [N, C, H, W] = x.shape;
  const [OC, C2, KH, KW] = w.shape;
  expect(C === C2, `${op}: x has ${C} channels, weight ${shapeStr(w.shape)} expects ${C2}`);
  expect(b.ndim === 1 && b.shape[0] === OC, `${op}: bias must be [${OC}], got ${shapeStr(b.shape)}`);
  return { N, OC, g: window2d(op, C, H, W, KH, KW, stride, padding) };
}

/**
 * Gradient tensors for the inputs of a convolution that need one (null for the others), in input order. Empty: both
 * kernels write every element (the reference zeroes them first, the WebAssembly one copies its result over them).
 */
function convGrads(x: Tensor, w: Tensor, b: Tensor, needs: boolean[]): [Tensor | null, Tensor | null, Tensor | null] {
  return [x, w, b].map((t, i) => (needs[i] ? Tensor.empty(t.shape, t.dtype) : null)) as [Tensor | null, Tensor | null, Tensor | null];
}

/**
 * y = conv2d(x, w, b), or relu(conv2d(x, w, b)) with `relu`, a fresh output (kernels().conv2dForward or
 * conv2dReluForward; the references are referenceKernels' of the same names).
 */
function convForward(op: string, x: Tensor, w: Tensor, b: Tensor, { stride, padding }: Conv2dAttrs, relu = false): Tensor {
  const { N, OC, g } = convGeometry(op, x, w, b, stride, padding);
  const out = Tensor.empty([N, OC, g.OH, g.OW], x.dtype); // the kernels write every output
  if (relu) kernels().conv2dReluForward(x.data, N, g, w.data, OC, b.data, out.data);
  else kernels().conv2dForward(x.data, N, g, w.data, OC, b.data, out.data);
  return out;
}

/**
 * The gradients of conv2d for upstream dY (kernels().conv2dBackward; the reference is referenceKernels.conv2dBackward):
 * dW = Σₙ dYₙ·colsₙᵀ   dXₙ = col2im(Wᵀ·dYₙ)   dB = Σₙ,ₕ,ᵥ dY
 * With `reluOut` (the output of relu(conv2d(…))), dY is the ReLU's upstream gradient, taken where reluOut > 0
 * (kernels().conv2dReluBackward, as the kernel lays out each chunk's dY: never an array of its own).
 */
function convBackward(
  op: string, x: Tensor, w: Tensor, b: Tensor, { stride, padding }: Conv2dAttrs, dY: Data, needs: boolean[], reluOut: Data | null = null,
) {
  const { N, OC, g } = convGeometry(op, x, w, b, stride, padding);
  const [dX, dW, dB] = convGrads(x, w, b, needs);
  const [gx, gw, gb] = [dX?.data ?? null, dW?.data ?? null, dB?.data ?? null];
  if (reluOut) kernels().conv2dReluBackward(x.data, N, g, w.data, OC, reluOut, dY, gx, gw, gb);
  else kernels().conv2dBackward(x.data, N, g, w.data, OC, dY, gx, gw, gb);
  return [dX, dW, dB];
}

export const convOps = {
  conv2d: {
    name: 'conv2d',
    forward: ([x, w, b], attrs) => ({ out: convForward('conv2d', x, w, b, attrs), saved: null }),
    backward: (dOut, { inputs: [x, w, b], attrs, needs }) => convBackward('conv2d', x, w, b, attrs, dOut.data, needs),
  } as Op<Conv2dAttrs, null>,

  // relu(conv2d(x, w, b)) as one op, for a convolution followed by a ReLU but no 2×2 pooling (smallcnn's first and
  // third): the ReLU is applied as the kernel writes the convolution's output (conv2dReluForward), so the full-size
  // pre-activation is never kept, copied, passed over again or allocated a second time (large fresh arrays cost page
  // faults, not only bandwidth). The same values and
  // gradients as the two ops: backward passes dOut where out > 0 (out > 0 exactly where the pre-activation is > 0),
  // then as conv2d.
  conv2dRelu: {
    name: 'conv2dRelu',
    // the ReLU in the convolution's own output pass (referenceKernels.conv2dReluForward: conv2dForward, reluForward)
    forward: ([x, w, b], attrs) => ({ out: convForward('conv2dRelu', x, w, b, attrs, true), saved: null }),
    // dY = dOut where out > 0 (referenceKernels.conv2dReluBackward: reluBackward, then conv2dBackward)
    backward: (dOut, { inputs: [x, w, b], out, attrs, needs }) => convBackward('conv2dRelu', x, w, b, attrs, dOut.data, needs, out.data),
  } as Op<Conv2dAttrs, null>,

  // The cnn's block, maxPool2d(relu(conv2d(x, w, b)), 2) as one op: the same values and gradients as the three ops
  // in turn, without writing (and reading back, and keeping for backward) the full-size convolution output and
  // its ReLU. Saved: each output's route (../kernels/pool-route.ts: where in its 2×2 window the maximum is, or none
  // where ReLU stops the gradient), one byte per output, only when the op is recorded (inference skips it).
  conv2dReluMaxPool: {
    name: 'conv2dReluMaxPool',
    forward([x, w, b], { stride, padding }) {
      const { N, OC, g } = convGeometry('conv2dReluMaxPool', x, w, b, stride, padding);
      expect(g.OH >= 2 && g.OW >= 2, `conv2dReluMaxPool: a ${g.OH}×${g.OW} convolution output is too small for 2×2 pooling`);
      const out = Tensor.empty([N, OC, g.OH >> 1, g.OW >> 1], x.dtype); // the kernels write every output
      const route = willRecord([x, w, b]) ? recycledByteArray(out.size) : null; // pooled inside a recycling scope
      // the kernel to read: referenceKernels.conv2dReluPoolForward (../kernels/reference.ts), which the fast kernels must match
      kernels().conv2dReluPoolForward(x.data, N, g, w.data, OC, b.data, out.data, route);
      return { out, saved: route };
    },
    // dY at o's window maximum = dOut[o]·[out[o] > 0] (pooling routes to the winner, ReLU passes positives), then as conv2d
    backward(dOut, { inputs: [x, w, b], attrs: { stride, padding }, saved: route, needs }) {
      const { N, OC, g } = convGeometry('conv2dReluMaxPool', x, w, b, stride, padding);
      if (route === null) throw new Error('conv2dReluMaxPool: backward of a forward that was not recorded');
      const [dX, dW, dB] = convGrads(x, w, b, needs);
      // the kernel to read: referenceKernels.conv2dReluPoolBackward (../kernels/reference.ts), which the fast kernels must match
      kernels().conv2dReluPoolBackward(
        x.data, N, g, w.data, OC, route, dOut.data, dX?.data ?? null, dW?.data ?? null, dB?.data ?? null,
      );
      return [dX, dW, dB];
    },
  } as Op<Conv2dAttrs, Uint8Array | null>,
};

/**
 * 2-D convolution with PyTorch's layout and semantics (cross-correlation).
 * @example
 *   const y = conv2d(x, weight, bias, { stride: 1, padding: 2 });
 */
export const conv2d = (x: Tensor, w: Tensor, b: Tensor, attrs: Partial<Conv2dAttrs> = {}): Tensor =>
  apply(convOps.conv2d, [x, w, b], { stride: attrs.stride ?? 1, padding: attrs.padding ?? 0 });

/**
 * relu(conv2d(x, w, b, attrs)) as one op (Sequential uses it for Conv2D → ReLU runs of layers not followed by 2×2
 * pooling): the same values and gradients, without a second full-size array.
 * @example
 *   const h = conv2dRelu(x, weight, bias);  // [N, 1, 28, 28] → [N, OC, 26, 26] for a 3×3 kernel
 */
export const conv2dRelu = (x: Tensor, w: Tensor, b: Tensor, attrs: Partial<Conv2dAttrs> = {}): Tensor =>
  apply(convOps.conv2dRelu, [x, w, b], { stride: attrs.stride ?? 1, padding: attrs.padding ?? 0 });

/**
 * maxPool2d(relu(conv2d(x, w, b, attrs)), { kernel: 2 }) as one op (Sequential uses it for Conv2D → ReLU →
 * MaxPool2D(2) runs of layers): the same values and gradients, faster and lighter.
 * @example
 *   const h = conv2dReluMaxPool(x, weight, bias);  // [N, 1, 28, 28] → [N, OC, 12, 12] for a 5×5 kernel
 */
export const conv2dReluMaxPool = (x: Tensor, w: Tensor, b: Tensor, attrs: Partial<Conv2dAttrs> = {}): Tensor =>
  apply(convOps.conv2dReluMaxPool, [x, w, b], { stride: attrs.stride ?? 1, padding: attrs.padding ?? 0 });
