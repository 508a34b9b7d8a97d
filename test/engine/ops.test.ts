// Finite-difference checks (float64) of every op in the record, for every input, with a random upstream gradient.
import { describe, expect, it, vi } from 'vitest';
import { kernels } from '../../src/engine/kernels/kernels.js';
import { gradcheck } from '../../src/engine/gradcheck.js';
import { noGrad } from '../../src/engine/tape.js';
import * as o from '../../src/engine/ops/index.js';
import { Tensor } from '../../src/engine/tensor.js';
import { distinct, rand } from '../helpers.js';

type Case = { name: string; inputs: () => Tensor[]; f: (t: Tensor[]) => Tensor };

const bnStats = (c: number) => ({ runningMean: rand([c], 90), runningVar: rand([c], 91, 0.5, 2) });
const mask = (n: number) => Float64Array.from({ length: n }, (_, i) => (i % 3 === 0 ? 0 : 1 / (1 - 1 / 3)));

const cases: Record<keyof typeof o.allOps, Case[]> = {
  add: [
    { name: 'broadcast row', inputs: () => [rand([3, 4], 1), rand([4], 2)], f: ([a, b]) => o.add(a, b) },
    { name: 'broadcast column', inputs: () => [rand([3, 1], 1), rand([2, 3, 4], 2)], f: ([a, b]) => o.add(a, b) },
  ],
  sub: [{ name: 'broadcast', inputs: () => [rand([2, 3], 3), rand([2, 1], 4)], f: ([a, b]) => o.sub(a, b) }],
  mul: [{ name: 'broadcast', inputs: () => [rand([2, 3, 2], 5), rand([3, 1], 6)], f: ([a, b]) => o.mul(a, b) }],
  div: [{ name: 'broadcast', inputs: () => [rand([3, 4], 7), rand([4], 8, 0.5, 2)], f: ([a, b]) => o.div(a, b) }],
  neg: [{ name: 'plain', inputs: () => [rand([5], 9)], f: ([x]) => o.neg(x) }],
  exp: [{ name: 'plain', inputs: () => [rand([5], 10)], f: ([x]) => o.exp(x) }],
  log: [{ name: 'positive', inputs: () => [rand([5], 11, 0.2, 3)], f: ([x]) => o.log(x) }],
  relu: [{ name: 'off the kink', inputs: () => [distinct([4, 5], 12)], f: ([x]) => o.relu(x) }],
  tanh: [{ name: 'plain', inputs: () => [rand([4, 3], 13, -2, 2)], f: ([x]) => o.tanh(x) }],
  sigmoid: [{ name: 'both signs', inputs: () => [rand([4, 3], 14, -4, 4)], f: ([x]) => o.sigmoid(x) }],
  scale: [{ name: 'c = -2.5', inputs: () => [rand([3, 3], 15)], f: ([x]) => o.scale(x, -2.5) }],
  dropout: [{ name: 'fixed mask', inputs: () => [rand([3, 4], 16)], f: ([x]) => o.dropout(x, mask(12)) }],
  sum: [
    { name: 'all', inputs: () => [rand([3, 4], 17)], f: ([x]) => o.sum(x) },
    { name: 'axis 1', inputs: () => [rand([2, 3, 4], 18)], f: ([x]) => o.sum(x, 1) },
  ],
  mean: [
    { name: 'all', inputs: () => [rand([3, 4], 19)], f: ([x]) => o.mean(x) },
    { name: 'axis -1', inputs: () => [rand([2, 3, 4], 20)], f: ([x]) => o.mean(x, -1) },
  ],
  matmul: [{ name: '[3,5]·[5,4]', inputs: () => [rand([3, 5], 21), rand([5, 4], 22)], f: ([a, b]) => o.matmul(a, b) }],
  linear: [{ name: 'x[4,6] W[3,6]', inputs: () => [rand([4, 6], 23), rand([3, 6], 24), rand([3], 25)], f: ([x, w, b]) => o.linear(x, w, b) }],
  conv2d: [
    {
      name: 'stride 2, padding 1',
      inputs: () => [rand([2, 3, 7, 6], 26), rand([4, 3, 3, 3], 27), rand([4], 28)],
      f: ([x, w, b]) => o.conv2d(x, w, b, { stride: 2, padding: 1 }),
    },
    {
      name: 'stride 1, no padding, 5×5',
      inputs: () => [rand([2, 2, 8, 8], 29), rand([3, 2, 5, 5], 30), rand([3], 31)],
      f: ([x, w, b]) => o.conv2d(x, w, b),
    },
  ],
  conv2dRelu: [
    {
      name: 'stride 1, padding 1, 3×2 kernel',
      inputs: () => [rand([2, 2, 7, 6], 58), rand([3, 2, 3, 2], 59), rand([3], 60)],
      f: ([x, w, b]) => o.conv2dRelu(x, w, b, { padding: 1 }),
    },
    {
      name: 'stride 2, no padding',
      inputs: () => [rand([2, 3, 9, 9], 61), rand([4, 3, 3, 3], 62), rand([4], 63)],
      f: ([x, w, b]) => o.conv2dRelu(x, w, b, { stride: 2 }),
    },
  ],
  conv2dReluMaxPool: [
    {
      name: 'stride 1, padding 1, odd output (7×6 → 3×3)',
      inputs: () => [rand([2, 2, 7, 6], 52), rand([3, 2, 3, 2], 53), rand([3], 54)],
      f: ([x, w, b]) => o.conv2dReluMaxPool(x, w, b, { padding: 1 }),
    },
    {
      name: 'stride 2',
      inputs: () => [rand([2, 3, 9, 9], 55), rand([4, 3, 3, 3], 56), rand([4], 57)],
      f: ([x, w, b]) => o.conv2dReluMaxPool(x, w, b, { stride: 2 }),
    },
  ],
  maxPool2d: [
    { name: '2×2', inputs: () => [distinct([2, 3, 6, 6], 32)], f: ([x]) => o.maxPool2d(x, { kernel: 2 }) },
    { name: '3×3 stride 2 padding 1', inputs: () => [distinct([2, 2, 7, 7], 33)], f: ([x]) => o.maxPool2d(x, { kernel: 3, stride: 2, padding: 1 }) },
  ],
  avgPool2d: [
    { name: '2×2', inputs: () => [rand([2, 3, 6, 6], 34)], f: ([x]) => o.avgPool2d(x, { kernel: 2 }) },
    { name: '3×3 stride 2 padding 1', inputs: () => [rand([2, 2, 7, 7], 35)], f: ([x]) => o.avgPool2d(x, { kernel: 3, stride: 2, padding: 1 }) },
  ],
  maxout: [
    { name: 'dense [3, 12] / 3', inputs: () => [distinct([3, 12], 36)], f: ([x]) => o.maxout(x, 3) },
    { name: 'spatial [2, 6, 3, 3] / 2', inputs: () => [distinct([2, 6, 3, 3], 37)], f: ([x]) => o.maxout(x, 2) },
  ],
  reshape: [{ name: '[2,3,4] → [4,-1]', inputs: () => [rand([2, 3, 4], 38)], f: ([x]) => o.reshape(x, [4, -1]) }],
  logSoftmax: [{ name: '[4, 5]', inputs: () => [rand([4, 5], 39, -3, 3)], f: ([z]) => o.logSoftmax(z) }],
  softmaxCrossEntropy: [
    { name: 'mean', inputs: () => [rand([4, 5], 40, -3, 3)], f: ([z]) => o.softmaxCrossEntropy(z, [0, 3, 4, 1]) },
    { name: 'sum', inputs: () => [rand([3, 10], 41, -3, 3)], f: ([z]) => o.softmaxCrossEntropy(z, [9, 0, 5], 'sum') },
    { name: 'none', inputs: () => [rand([3, 4], 42, -3, 3)], f: ([z]) => o.softmaxCrossEntropy(z, [1, 1, 2], 'none') },
  ],
  batchNorm: [
    {
      name: 'training [6, 4]',
      inputs: () => [rand([6, 4], 43), rand([4], 44, 0.5, 1.5), rand([4], 45)],
      f: ([x, g, b]) => o.batchNorm(x, g, b, { training: true, ...bnStats(4), momentum: 0.1, eps: 1e-5 }),
    },
    {
      name: 'training [3, 2, 4, 4]',
      inputs: () => [rand([3, 2, 4, 4], 46), rand([2], 47, 0.5, 1.5), rand([2], 48)],
      f: ([x, g, b]) => o.batchNorm(x, g, b, { training: true, ...bnStats(2), momentum: 0.1, eps: 1e-5 }),
    },
    {
      name: 'evaluation [3, 2, 4, 4]',
      inputs: () => [rand([3, 2, 4, 4], 49), rand([2], 50, 0.5, 1.5), rand([2], 51)],
      f: ([x, g, b]) => o.batchNorm(x, g, b, { training: false, ...bnStats(2), momentum: 0.1, eps: 1e-5 }),
    },
  ],
  batchNormReluMaxPool: [
    {
      name: 'training, odd size (5×7 → 2×3)',
      inputs: () => [rand([3, 2, 5, 7], 64), rand([2], 65, 0.5, 1.5), rand([2], 66)],
      f: ([x, g, b]) => o.batchNormReluMaxPool(x, g, b, { training: true, ...bnStats(2), momentum: 0.1, eps: 1e-5 }),
    },
    {
      name: 'evaluation [2, 3, 4, 4]',
      inputs: () => [rand([2, 3, 4, 4], 67), rand([3], 68, 0.5, 1.5), rand([3], 69)],
      f: ([x, g, b]) => o.batchNormReluMaxPool(x, g, b, { training: false, ...bnStats(3), momentum: 0.1, eps: 1e-5 }),
    },
  ],
};

describe('every op passes a float64 finite-difference check for every input', () => {
  for (const [op, list] of Object.entries(cases)) {
    for (const c of list) {
      it(`${op}: ${c.name}`, () => {
        const inputs = c.inputs();
        const r = gradcheck(c.f, inputs);
        for (let i = 0; i < inputs.length; i++) expect(r.maxRelError[i], `input ${i}`).toBeLessThan(1e-6);
        // the check is not vacuous: some gradient is non-zero
        expect(r.analytic.some((a) => a.data.some((v) => Math.abs(v) > 1e-3))).toBe(true);
      });
    }
  }

  it('covers every op in the record', () => {
    expect(Object.keys(cases).sort()).toEqual(Object.keys(o.allOps).sort());
  });
});

describe('conv2dReluMaxPool saves its routes only when it is recorded', () => {
  it('no graph under noGrad or for inputs that need no gradient, and the same output as a recorded forward', () => {
    const x = rand([2, 1, 8, 8], 95), w = rand([3, 1, 3, 3], 96), b = rand([3], 97);
    const plain = o.conv2dReluMaxPool(x, w, b); // nothing requires a gradient: not recorded
    expect(plain.node).toBeNull();
    w.requiresGrad = true;
    const recorded = o.conv2dReluMaxPool(x, w, b);
    expect(recorded.node?.saved).toBeInstanceOf(Uint8Array);
    const kernel = vi.spyOn(kernels(), 'conv2dReluPoolForward');
    let skipped: Tensor;
    try {
      skipped = noGrad(() => o.conv2dReluMaxPool(x, w, b));
      expect(kernel.mock.calls[0][7]).toBeNull(); // the kernel was asked for no routes
    } finally {
      kernel.mockRestore();
    }
    expect(skipped.node).toBeNull();
    expect(Array.from(skipped.data)).toEqual(Array.from(recorded.data));
    expect(Array.from(plain.data)).toEqual(Array.from(recorded.data));
  });
});

describe('binary ops broadcast as NumPy does, whichever loop runs them', () => {
  // each output index mapped to its inputs' indices by hand: a right-aligned shape, size-1 dimensions stretched
  function naive(a: Tensor, b: Tensor, f: (x: number, y: number) => number): number[] {
    const n = Math.max(a.ndim, b.ndim);
    const pad = (s: readonly number[]) => [...new Array<number>(n - s.length).fill(1), ...s];
    const sa = pad(a.shape), sb = pad(b.shape), so = sa.map((d, i) => Math.max(d, sb[i]));
    const size = so.reduce((p, d) => p * d, 1);
    const flat = (s: number[], idx: number[]) => idx.reduce((p, v, i) => p * s[i] + (s[i] === 1 ? 0 : v), 0);
    const out: number[] = [];
    for (let i = 0; i < size; i++) {
      const idx: number[] = [];
      for (let d = n - 1, r = i; d >= 0; d--) {
        idx.unshift(r % so[d]);
        r = Math.floor(r / so[d]);
      }
      out.push(f(a.data[flat(sa, idx)], b.data[flat(sb, idx)]));
    }
    return out;
  }
  const pairs: [number[], number[]][] = [
    [[2, 3, 4], [2, 3, 4]], // the same shape
    [[3, 2, 5, 5], [3, 1, 1, 1]], // a per-channel scale: runs of 50
    [[3, 1, 1, 1], [3, 2, 5, 5]], // … as the first operand
    [[4, 3], [3]], // a bias: a period of 3
    [[3], [4, 3]],
    [[2, 3], []], // a scalar
    [[1, 5], [5]],
    [[2, 1, 4], [2, 3, 4]], // stretched in the middle: through the map
    [[3, 1], [1, 4]], // both stretched
    [[2, 3, 4], [1, 3, 1]],
  ];
  it('add, sub, mul and div equal an index-by-index computation', () => {
    const fs: [string, (a: Tensor, b: Tensor) => Tensor, (x: number, y: number) => number][] = [
      ['add', o.add, (x, y) => x + y], ['sub', o.sub, (x, y) => x - y], ['mul', o.mul, (x, y) => x * y], ['div', o.div, (x, y) => x / y],
    ];
    for (const [sa, sb] of pairs) {
      const a = rand(sa, 11, 0.5, 2), b = rand(sb, 12, 0.5, 2);
      for (const [name, op, f] of fs) {
        const got = op(a, b), want = naive(a, b, f);
        expect(Array.from(got.data), `${name} [${sa.join(', ')}] with [${sb.join(', ')}]`).toEqual(want);
      }
    }
  });
});
