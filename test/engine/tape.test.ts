// The tape's contract: sums for reused values, gradients at intermediates, no-grad, shape checks, kinks.
import { describe, expect, it } from 'vitest';
import { add, conv2d, linear, maxPool2d, mul, relu, sum, softmaxCrossEntropy, logSoftmax } from '../../src/engine/ops/index.js';
import { Rng } from '../../src/engine/random.js';
import { apply, grad, noGrad, type Op } from '../../src/engine/tape.js';
import { Tensor } from '../../src/engine/tensor.js';
import { rand } from '../helpers.js';

describe('tape', () => {
  it('a value used twice gets the sum of both gradients', () => {
    const x = Tensor.from([1, -2, 3], [3], 'float64').requireGrad();
    const [dx] = grad(sum(add(mul(x, x), x)), [x]); // d/dx (x² + x) = 2x + 1
    expect(dx.toArray()).toEqual([3, -3, 7]);
  });

  it('returns gradients with respect to intermediate tensors', () => {
    const x = rand([2, 3], 1).requireGrad();
    const h = mul(x, x);
    const y = sum(h);
    const [dh, dx] = grad(y, [h, x]);
    expect(dh.toArray()).toEqual([1, 1, 1, 1, 1, 1]);
    expect(dx.toArray()).toEqual(x.toArray().map((v) => 2 * v));
  });

  it('records nothing under noGrad', () => {
    const x = rand([3], 2).requireGrad();
    const y = noGrad(() => mul(x, x));
    expect(y.node).toBeNull();
    expect(y.requiresGrad).toBe(false);
  });

  it('gives zeros for a tensor that does not influence the output', () => {
    const x = rand([3], 3).requireGrad();
    const z = rand([2], 4).requireGrad();
    const [dz] = grad(sum(x), [z]);
    expect(dz.toArray()).toEqual([0, 0]);
  });

  it('rejects a backward that returns the wrong shape', () => {
    const bad: Op = {
      name: 'bad',
      forward: ([x]) => ({ out: new Tensor(x.data.slice(), x.shape), saved: null }),
      backward: () => [Tensor.zeros([7], 'float64')],
    };
    const x = rand([2, 2], 5).requireGrad();
    expect(() => grad(sum(apply(bad, [x], {})), [x])).toThrow(/op 'bad' returned a gradient of shape \[7\] for input 0 of shape \[2, 2\]/);
  });

  it('needs dOut for a non-scalar output', () => {
    const x = rand([3], 6).requireGrad();
    expect(() => grad(mul(x, x), [x])).toThrow(/pass dOut/);
  });

  it('skips gradients nobody asked for (the conv weight when only ∇x is wanted)', () => {
    const x = rand([1, 1, 5, 5], 7).requireGrad();
    const w = rand([2, 1, 3, 3], 8).requireGrad();
    const b = rand([2], 9).requireGrad();
    let asked: boolean[] = [];
    const y = conv2d(x, w, b);
    const node = y.node!;
    const original = node.op;
    node.op = { ...original, backward: (d, ctx) => ((asked = ctx.needs), original.backward(d, ctx)) };
    grad(sum(y), [x]);
    expect(asked).toEqual([true, false, false]);
  });
});

describe('kinks take their documented subgradient', () => {
  it('relu at exactly 0 passes no gradient', () => {
    const x = Tensor.from([-1, 0, 2], [3], 'float64').requireGrad();
    expect(grad(sum(relu(x)), [x])[0].toArray()).toEqual([0, 0, 1]);
  });

  it('max pooling sends a tie to the first element of the window', () => {
    const x = Tensor.from([5, 5, 5, 5], [1, 1, 2, 2], 'float64').requireGrad();
    expect(grad(sum(maxPool2d(x, { kernel: 2 })), [x])[0].toArray()).toEqual([1, 0, 0, 0]);
  });
});

describe('ops agree with independent definitions', () => {
  it('conv2d equals a direct six-loop convolution', () => {
    const x = rand([2, 3, 9, 8], 10), w = rand([4, 3, 3, 2], 11), b = rand([4], 12);
    const y = conv2d(x, w, b, { stride: 2, padding: 1 });
    const [N, C, H, W] = x.shape, [OC, , KH, KW] = w.shape, [, , OH, OW] = y.shape;
    expect(y.shape).toEqual([2, 4, 5, 5]);
    for (let n = 0; n < N; n++) for (let oc = 0; oc < OC; oc++) for (let oh = 0; oh < OH; oh++) for (let ow = 0; ow < OW; ow++) {
      let s = b.data[oc];
      for (let c = 0; c < C; c++) for (let kh = 0; kh < KH; kh++) for (let kw = 0; kw < KW; kw++) {
        const ih = oh * 2 - 1 + kh, iw = ow * 2 - 1 + kw;
        if (ih >= 0 && ih < H && iw >= 0 && iw < W) s += x.nd.get(n, c, ih, iw) * w.nd.get(oc, c, kh, kw);
      }
      expect(y.nd.get(n, oc, oh, ow)).toBeCloseTo(s, 12);
    }
  });

  it('linear equals x·Wᵀ + b', () => {
    const x = rand([3, 4], 13), w = rand([2, 4], 14), b = rand([2], 15);
    const y = linear(x, w, b);
    for (let n = 0; n < 3; n++) for (let o = 0; o < 2; o++) {
      let s = b.data[o];
      for (let i = 0; i < 4; i++) s += x.nd.get(n, i) * w.nd.get(o, i);
      expect(y.nd.get(n, o)).toBeCloseTo(s, 12);
    }
  });

  it('cross-entropy is stable for huge logits and equals −log softmax', () => {
    const z = Tensor.from([1000, 0, -1000, 3, 2, 1], [2, 3], 'float64');
    const l = softmaxCrossEntropy(z, [1, 0], 'none');
    expect(l.data[0]).toBeCloseTo(1000, 9);
    expect(Number.isFinite(l.data[0])).toBe(true);
    const lp = logSoftmax(z);
    expect(l.data[1]).toBeCloseTo(-lp.data[3], 12);
  });

  it('float32 and float64 agree within float32 rounding', () => {
    const rng = new Rng(3);
    const x = Tensor.uniform([2, 3, 12, 12], 0, 1, rng, 'float64'), w = Tensor.uniform([5, 3, 5, 5], -0.2, 0.2, rng, 'float64');
    const b = Tensor.uniform([5], -0.1, 0.1, rng, 'float64');
    const y64 = conv2d(x, w, b), y32 = conv2d(x.to('float32'), w.to('float32'), b.to('float32'));
    for (let i = 0; i < y64.size; i++) expect(Math.abs(y64.data[i] - y32.data[i])).toBeLessThan(1e-5);
  });
});

describe('ops reject bad shapes with a message naming the op and both shapes', () => {
  it('linear', () => {
    expect(() => linear(rand([32, 28, 28], 1), rand([10, 784], 2), rand([10], 3))).toThrow(/linear: x must be \[N, in\], got \[32, 28, 28\]/);
    expect(() => linear(rand([2, 5], 1), rand([10, 784], 2), rand([10], 3))).toThrow(/linear: x must be \[N, 784\], got \[2, 5\]/);
  });
  it('conv2d', () => {
    expect(() => conv2d(rand([1, 2, 5, 5], 1), rand([3, 1, 3, 3], 2), rand([3], 3))).toThrow(/conv2d: x has 2 channels/);
    expect(() => conv2d(rand([1, 1, 2, 2], 1), rand([3, 1, 3, 3], 2), rand([3], 3))).toThrow(/does not fit input 2×2/);
  });
  it('add', () => {
    expect(() => add(rand([2, 3], 1), rand([4], 2))).toThrow(/add: shapes \[2, 3\] and \[4\] cannot be broadcast/);
  });
  it('cross-entropy labels', () => {
    expect(() => softmaxCrossEntropy(rand([2, 3], 1), [0, 3])).toThrow(/label 3 at index 1 is not a class in 0..2/);
    expect(() => softmaxCrossEntropy(rand([2, 3], 1), [0])).toThrow(/1 labels for logits \[2, 3\]/);
  });
});
