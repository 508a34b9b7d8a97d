// Recycling of large op outputs (engine/recycle.ts): what a scope keeps is never pooled, what it drops is handed out
// again zeroed, nested scopes pass kept arrays outward, a throw pools nothing, the pool stays bounded; with the
// kernels' arena, arrays inside a scope are views of linear memory, kept results leave it for the JS heap when the
// outermost scope ends and the arena is emptied; and the helpers that recycle (predict, inputGradient, lossGradient,
// logitVjp, logitJacobian) return results that later calls never overwrite, equal bit for bit to the same call in a
// fresh state and to the same call with the arena off.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kernels } from '../../src/engine/kernels/kernels.js';
import v8 from 'node:v8';
import vm from 'node:vm';
import { lastingZeros, recycledByteArray, recycledBytes, recycling, useArena, type Arena } from '../../src/engine/recycle.js';
import { Rng } from '../../src/engine/random.js';
import { Tensor } from '../../src/engine/tensor.js';
import { grad } from '../../src/engine/tape.js';
import { conv2d, conv2dReluMaxPool } from '../../src/engine/ops/conv.js';
import { linear, matmul } from '../../src/engine/ops/matmul.js';
import { add, dropout, mul, relu, scale, tanh } from '../../src/engine/ops/elementwise.js';
import { inputGradient } from '../../src/attacks/input-gradient.js';
import { attackLosses, lossGradient } from '../../src/attacks/losses.js';
import { logitDiffGradient, logitJacobian } from '../../src/attacks/logit-jacobian.js';
import { predict } from '../../src/layers/predict.js';
import { buildModel } from '../../src/layers/spec.js';
import { zooSpec } from '../../src/layers/zoo.js';
import { Adam } from '../../src/train/optimizers.js';
import { crossEntropyObjective, trainingStep } from '../../src/train/loop.js';
import { encodeModel } from '../../src/io/model-bytes.js';
import { residentParameters } from '../../src/layers/resident.js';

const N = 1 << 13; // above the pooling threshold

describe('recycling on the JS heap (no arena)', () => {
  let arena: Arena | null = null;
  beforeAll(() => {
    arena = useArena(null);
  });
  afterAll(() => {
    useArena(arena);
  });

  it('pools what a scope drops, hands it out again zeroed, and never pools what it keeps', () => {
    let dropped: Tensor | null = null;
    const kept = recycling(() => {
      dropped = Tensor.full([N], 7);
      return Tensor.full([N], 3);
    }, (t) => [t]);
    const again = Tensor.zeros([N]);
    expect(again.data).toBe(dropped!.data); // the dropped array, reused …
    expect(again.data.every((v) => v === 0)).toBe(true); // … zeroed
    expect(kept.data.every((v) => v === 3)).toBe(true);
    expect(Tensor.zeros([N]).data).not.toBe(kept.data);
  });

  it('keeps arrays that share a buffer with a kept view, passes inner keeps to the outer scope, and pools nothing on a throw', () => {
    let base: Tensor | null = null;
    const view = recycling(() => {
      base = Tensor.full([2, N], 5);
      return new Tensor(base.data.subarray(N), [N]); // a view of half of it
    }, (t) => [t]);
    expect(Tensor.zeros([2 * N]).data).not.toBe(base!.data);
    expect(view.data.every((v) => v === 5)).toBe(true);

    let inner: Tensor | null = null;
    recycling(() => {
      inner = recycling(() => Tensor.full([3 * N], 1), (t) => [t]);
      return 0;
    }, () => []);
    expect(Tensor.zeros([3 * N]).data).toBe(inner!.data); // the outer scope dropped it

    let lost: Tensor | null = null;
    expect(() => recycling(() => {
      lost = Tensor.full([5 * N], 2);
      throw new Error('boom');
    }, () => [])).toThrow('boom');
    expect(Tensor.zeros([5 * N]).data).not.toBe(lost!.data);
    expect(lost!.data.every((v) => v === 2)).toBe(true);
  });

  it('pools the fused block’s route bytes and hands them out zeroed: the same gradients with pooled routes', () => {
    const rng = new Rng(9);
    const r = (shape: number[]) => Tensor.from(Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.normal()), shape);
    const x = r([8, 4, 12, 12]), w = r([128, 4, 5, 5]), b = r([128]);
    const n = 8 * 128 * 4 * 4; // one route byte per pooled output
    const run = () => recycling(() => {
      const xs = x.detach().requireGrad(), ws = w.detach().requireGrad(), bs = b.detach().requireGrad();
      const out = conv2dReluMaxPool(xs, ws, bs);
      return [out, ...grad(out, [xs, ws, bs], { dOut: Tensor.full(out.shape, 0.5) })].map((t) => Array.from(t.data));
    }, () => []);
    const fresh = run();
    // the scope gave its route array back: outside any scope it is handed out (zeroed) instead of a fresh one
    const pooled = recycledBytes();
    const routes = recycledByteArray(n);
    expect(recycledBytes()).toBe(pooled - n);
    expect(routes.every((v) => v === 0)).toBe(true);
    // poisoned route bytes in the pool change nothing
    recycling(() => recycledByteArray(n).fill(255), () => []);
    expect(run()).toEqual(fresh);
  });

  it('stays within its bound over many shapes', () => {
    for (let k = 1; k <= 40; k++) recycling(() => Tensor.zeros([k * (1 << 20)]), () => []);
    expect(recycledBytes()).toBeLessThanOrEqual(128 * 2 ** 20);
  });
});

describe('recycling with the kernels’ arena', () => {
  const arena = () => kernels().arena!;

  it('hands out views of linear memory inside a scope (zeroed when asked), float64 and small arrays on the heap', () => {
    expect(kernels().arena, 'the WebAssembly kernels are loaded').toBeDefined();
    recycling(() => {
      const dirty = Tensor.full([N], 9);
      expect(arena().owns(dirty.data)).toBe(true);
      expect(arena().owns(Tensor.zeros([N], 'float64').data)).toBe(false);
      expect(arena().owns(Tensor.zeros([16]).data)).toBe(false);
      expect(arena().owns(recycledByteArray(N))).toBe(true);
      // a block dropped by an inner scope serves the next request of its size, zeroed
      const inner = recycling(() => Tensor.full([2 * N], 4), () => []);
      expect(inner.data.every((v) => v === 4)).toBe(true);
      const again = Tensor.zeros([2 * N]);
      expect(again.data.byteOffset).toBe(inner.data.byteOffset);
      expect(again.data.every((v) => v === 0)).toBe(true);
      return null;
    }, () => []);
    expect(arena().owns(Tensor.zeros([N]).data), 'outside a scope: the JS heap').toBe(false);
  });

  it('moves kept results to the JS heap when the outermost scope ends, views included, and empties the arena', () => {
    let first = -1;
    let base: Tensor | null = null;
    const [whole, half] = recycling(() => {
      const inner = recycling(() => {
        base = Tensor.full([2 * N], 5);
        first = base.data.byteOffset;
        base.data[2 * N - 1] = 6;
        return new Tensor(base.data.subarray(N), [N]); // a view of its second half
      }, (t) => [t]);
      expect(arena().owns(inner.data), 'an inner scope keeps it where it is').toBe(true);
      return [Tensor.full([3 * N], 7), inner];
    }, (r) => r);
    for (const t of [whole, half]) expect(arena().owns(t.data)).toBe(false);
    expect(whole.data.every((v) => v === 7)).toBe(true);
    expect(half.data.length).toBe(N);
    expect(half.data[N - 1]).toBe(6);
    expect(half.data.subarray(0, N - 1).every((v) => v === 5)).toBe(true);
    // the next scope starts from the arena's first byte again: the kept values stay as they were
    recycling(() => {
      const t = Tensor.full([2 * N], -1);
      expect(t.data.byteOffset).toBe(first);
      return null;
    }, () => []);
    expect(whole.data.every((v) => v === 7) && half.data[0] === 5).toBe(true);
  });

  it('empties the arena on a throw from the outermost scope', () => {
    let at = -1;
    expect(() => recycling(() => {
      at = Tensor.full([N], 1).data.byteOffset;
      Tensor.full([N], 1);
      throw new Error('boom');
    }, () => [])).toThrow('boom');
    recycling(() => expect(Tensor.zeros([N]).data.byteOffset).toBe(at), () => []);
  });

  it('does not grow linear memory over many scopes of one size', () => {
    const step = () => recycling(() => {
      const a = Tensor.full([4 * N], 1), b = Tensor.zeros([4 * N]);
      b.data.set(a.data);
      return Tensor.full([N], 2);
    }, (t) => [t]);
    step();
    const bytes = kernels().memoryBytes!();
    for (let i = 0; i < 200; i++) step();
    expect(kernels().memoryBytes!()).toBe(bytes);
  });
});

describe('a model’s parameters in the arena (residentParameters: lasting blocks)', () => {
  const arena = () => kernels().arena!;
  const mlp = (seed: number, dtype: 'float32' | 'float64' = 'float32') => buildModel(zooSpec('mlp'), { seed, dtype });
  const owned = (m: ReturnType<typeof buildModel>) => m.parameters().map(([name, t]) => [name, arena().owns(t.data)]);

  it('moves large float32 weights into linear memory on request only; small ones, float64 and inside a scope stay', () => {
    expect(owned(mlp(1)).every(([, inArena]) => !inArena), 'buildModel alone: ordinary arrays').toBe(true);
    const m = mlp(1), before = m.parameters().map(([, t]) => Array.from(t.data));
    expect(owned(residentParameters(m))).toEqual([
      ['1.weight', true], ['1.bias', false], ['3.weight', true], ['3.bias', false], ['5.weight', false], ['5.bias', false],
    ]);
    m.parameters().forEach(([key, t], i) => expect(Array.from(t.data), key).toEqual(before[i]));
    expect(residentParameters(mlp(1, 'float64')).parameters().some(([, t]) => arena().owns(t.data))).toBe(false);
    recycling(() => {
      expect(residentParameters(mlp(1)).parameters().some(([, t]) => arena().owns(t.data))).toBe(false);
      return null;
    }, () => []);
  });

  it('a model built inside a scope keeps arrays of its own when the scope ends (dense, conv and batch-norm layers)', () => {
    const wide = { input: [1, 28, 28], layers: [
      { type: 'flatten' }, { type: 'dense', in: 784, out: 4096 }, { type: 'batchnorm1d', features: 4096 },
      { type: 'relu' }, { type: 'dense', in: 4096, out: 10 },
    ] } as Parameters<typeof buildModel>[0];
    for (const spec of [zooSpec('mlp'), zooSpec('cnn-bn'), wide]) {
      const inScope = recycling(() => {
        const m = buildModel(spec, { seed: 1 });
        expect(m.stateDict().some(([, t]) => arena().owns(t.data))).toBe(false);
        for (const [, t] of m.stateDict()) Tensor.full([t.size], NaN); // scope blocks of each size, dropped
        return m;
      }, () => []);
      for (const [, t] of inScope.stateDict()) recycling(() => Tensor.full([t.size], NaN), () => []); // later scopes reuse them
      const outside = buildModel(spec, { seed: 1 }).stateDict();
      inScope.stateDict().forEach(([key, t], i) => expect(Array.from(t.data), key).toEqual(Array.from(outside[i][1].data)));
    }
  });

  it('train in place, to the same bits as parameters on the heap, and save to the same bytes', () => {
    const rng = new Rng(3);
    const x = new Tensor(Float32Array.from({ length: 32 * 784 }, () => rng.uniform()), [32, 1, 28, 28]);
    const y = Int32Array.from({ length: 32 }, (_, i) => (i * 7) % 10);
    for (const name of ['mlp', 'cnn'] as const) {
      const a = residentParameters(buildModel(zooSpec(name), { seed: 2 })), b = buildModel(zooSpec(name), { seed: 2 });
      const views = a.parameters().map(([, t]) => t.data);
      expect(views.some((d) => arena().owns(d)), name).toBe(true);
      for (const m of [a, b]) {
        const tensors = m.parameters().map(([, t]) => t);
        const opt = new Adam(m.parameters(), { lr: 1e-3 });
        for (let step = 0; step < 4; step++) trainingStep(m, opt, tensors, crossEntropyObjective, x, y, { rng: new Rng(0), epoch: 0, step });
      }
      a.parameters().forEach(([key, t], i) => {
        expect(t.data, `${name} ${key}: updated where it lives`).toBe(views[i]);
        expect(Array.from(t.data), `${name} ${key}`).toEqual(Array.from(b.parameters()[i][1].data));
      });
      expect(Buffer.from(encodeModel(a)).equals(Buffer.from(encodeModel(b))), `${name} model bytes`).toBe(true);
    }
  });

  it('a parameter kept by a scope stays where it is when the outermost scope ends', () => {
    const w = residentParameters(mlp(4)).parameters()[0][1];
    const before = w.data;
    expect(arena().owns(before)).toBe(true);
    const kept = recycling(() => w, (t) => [t]);
    expect(kept.data).toBe(before);
  });
});

describe('lasting blocks of the arena (an optimiser’s moments)', () => {
  it('are zeroed views outside a scope, ordinary arrays inside one, and survive the scopes after them', () => {
    const arena = kernels().arena!;
    const m = lastingZeros(N);
    expect(arena.owns(m)).toBe(true);
    expect(m.every((v) => v === 0)).toBe(true);
    m.fill(3);
    recycling(() => {
      expect(arena.owns(lastingZeros(N)), 'inside a scope: the JS heap').toBe(false);
      Tensor.full([4 * N], -1); // a scope's block, above the lasting ones
      return null;
    }, () => []);
    expect(m.every((v) => v === 3)).toBe(true);
    expect(arena.owns(lastingZeros(16)), 'small: the JS heap').toBe(false);
  });

  it('go back to the arena when their views are collected: linear memory stays flat over many optimisers', async () => {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    const settle = async () => {
      gc();
      await new Promise((r) => setTimeout(r, 10)); // finalisation callbacks run as tasks after a collection
      gc();
      await new Promise((r) => setTimeout(r, 10));
    };
    const make = () => lastingZeros(1 << 18).fill(1); // 1 MiB
    make();
    await settle();
    const bytes = kernels().memoryBytes!();
    for (let i = 0; i < 64; i++) {
      make();
      if (i % 8 === 7) await settle();
    }
    expect(kernels().memoryBytes!() - bytes, 'at most a few of the 64 MiB made').toBeLessThan(16 * 2 ** 20);
  });

  it('stop at 256 MiB of linear memory when nothing is collected: later ones are ordinary arrays', () => {
    const held: Float32Array[] = []; // kept alive, as many optimisers made in a tight loop before a collection
    const arena = kernels().arena!;
    for (let i = 0; i < 80; i++) held.push(lastingZeros(1 << 20)); // 4 MiB each, 320 MiB in all
    const inArena = held.filter((m) => arena.owns(m)).length;
    expect(inArena, 'some in the arena').toBeGreaterThan(0);
    expect(inArena, 'not all: the lasting region is capped').toBeLessThan(64);
    expect(held.every((m) => m.length === 1 << 20 && m[0] === 0 && m[m.length - 1] === 0)).toBe(true);
    expect(kernels().memoryBytes!(), 'linear memory').toBeLessThan(300 * 2 ** 20);
  });
});

describe('helpers that recycle', () => {
  const model = buildModel(zooSpec('cnn'), { seed: 5 });
  const rng = new Rng(6);
  const batch = (n: number) => new Tensor(Float32Array.from({ length: n * 784 }, () => rng.uniform()), [n, 1, 28, 28]);
  const labels = (n: number) => Int32Array.from({ length: n }, (_, i) => i % 10);
  const targets = (n: number) => Int32Array.from({ length: n }, (_, i) => (i + 3) % 10);
  /** Each helper's results on x, and copies of them taken as each call returns. */
  const calls = (x: Tensor) => {
    const n = x.shape[0];
    const arrays: (Float32Array | Float64Array)[] = [], copies: (Float32Array | Float64Array)[] = [];
    const call = (...out: (Float32Array | Float64Array)[]) => {
      arrays.push(...out);
      copies.push(...out.map((a) => a.slice()));
    };
    call(predict(model, x).data);
    const g = inputGradient(model, x, labels(n));
    call(g.logits.data, g.dx.data);
    const l = lossGradient(model, x, labels(n), attackLosses['dlr-targeted'], targets(n));
    call(l.logits.data, l.dx.data);
    const d = logitDiffGradient(model, x, targets(n), labels(n));
    call(d.logits.data, d.dx.data);
    const j = logitJacobian(model, x);
    call(j.logits.data, j.jacobian);
    return { arrays, copies };
  };

  it('return results that later calls do not overwrite, the same bits as a call in a fresh state and with the arena off', () => {
    const x = batch(40);
    const first = calls(x);
    // many later calls, on the same shape (whose arrays the pool hands back) and others
    for (let k = 0; k < 6; k++) calls(batch(k % 2 ? 40 : 17));
    first.arrays.forEach((a, i) => expect(a, `result ${i}`).toEqual(first.copies[i]));
    calls(x).copies.forEach((a, i) => expect(a, `result ${i} again`).toEqual(first.copies[i]));
    first.arrays.forEach((a, i) => expect(kernels().arena!.owns(a), `result ${i} on the heap`).toBe(false));
    const prev = useArena(null);
    try {
      calls(x).copies.forEach((a, i) => expect(a, `result ${i} without the arena`).toEqual(first.copies[i]));
    } finally {
      useArena(prev);
    }
  });
});

describe('Tensor.empty', () => {
  // The convolutions take their outputs and gradients empty (not zeroed) from the pool: their kernels must write every
  // element. Two runs whose pools hold arrays poisoned with different values must agree bit for bit, and be finite.
  // Geometries for each WebAssembly path: im2col (3×3, unpadded and padded), the implicit GEMM (unpadded, output width
  // 8) and the widened forward (14×14 padded by 2: output width 14 computed as 16).
  const rng = new Rng(5);
  const rand = (shape: number[]) => Tensor.from(Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.normal()), shape);
  const cases = [
    { H: 12, K: 3, padding: 0 }, { H: 12, K: 3, padding: 1 }, { H: 12, K: 5, padding: 0 }, { H: 14, K: 5, padding: 2 },
  ].map((c) => ({ ...c, x: rand([8, 4, c.H, c.H]), w: rand([128, 4, c.K, c.K]), b: rand([128]) }));
  const poison = (value: number, lengths: number[]) =>
    recycling(() => {
      for (const n of lengths) for (let k = 0; k < 3; k++) Tensor.full([n], value);
      return null;
    }, () => []);
  const run = (op: typeof conv2d, c: (typeof cases)[number], value: number) => {
    const side = c.H + 2 * c.padding - c.K + 1, pooled = op === conv2dReluMaxPool;
    const outLength = 8 * 128 * (pooled ? (side >> 1) ** 2 : side * side);
    poison(value, [outLength, c.x.size, c.w.size]);
    return recycling(() => {
      const xs = c.x.detach().requireGrad(), ws = c.w.detach().requireGrad(), bs = c.b.detach().requireGrad();
      const out = op(xs, ws, bs, { padding: c.padding });
      const dOut = Tensor.full(out.shape, 0.5);
      const grads = grad(out, [xs, ws, bs], { dOut });
      return [out, ...grads].map((t) => Array.from(t.data));
    }, () => []);
  };

  it('a convolution’s output and gradients are written in full (a pool of poisoned arrays changes nothing)', () => {
    expect(Tensor.empty([4]).data).toEqual(new Float32Array(4)); // fresh: zero
    for (const op of [conv2d, conv2dReluMaxPool]) {
      for (const c of cases) {
        const a = run(op, c, NaN), z = run(op, c, 1e30), at = `${op.name} ${c.H}×${c.H} ${c.K}×${c.K} pad ${c.padding}`;
        a.forEach((values, i) => {
          expect(values.every(Number.isFinite), `${at} result ${i}`).toBe(true);
          expect(values, `${at} result ${i}`).toEqual(z[i]);
        });
      }
    }
  });

  it('matrix products and elementwise ops write their outputs and gradients in full, float32 and float64', () => {
    // odd sizes above the pooling threshold (4,757 / 6,767 / 7,171 elements), and an empty inner dimension
    const M = 67, K = 101, O = 71;
    const ops: [string, number[][], (t: Tensor[]) => Tensor][] = [
      ['matmul', [[M, K], [K, O]], ([a, b]) => matmul(a, b)],
      ['matmul K = 0', [[M * 64, 0], [0, O]], ([a, b]) => matmul(a, b)],
      ['linear', [[M, K], [O, K], [O]], ([x, w, b]) => linear(x, w, b)],
      ['relu', [[M, K]], ([x]) => relu(x)],
      ['tanh', [[M, K]], ([x]) => tanh(x)],
      ['scale', [[M, K]], ([x]) => scale(x, -1.5)],
      ['dropout', [[M, K]], ([x]) => dropout(x, Float32Array.from({ length: M * K }, (_, i) => (i % 3 ? 1.5 : 0)))],
      ['add, broadcast', [[M, K], [K]], ([a, b]) => add(a, b)],
      ['mul', [[M, K], [M, K]], ([a, b]) => mul(a, b)],
    ];
    for (const dtype of ['float32', 'float64'] as const) {
      for (const [name, shapes, f] of ops) {
        const inputs = shapes.map((s) => rand(s));
        const attempt = (value: number) => {
          recycling(() => {
            for (const n of [M * O, M * K, K * O, 64 * M * O]) for (let k = 0; k < 3; k++) Tensor.full([n], value, dtype);
            return null;
          }, () => []);
          return recycling(() => {
            const xs = inputs.map((t) => Tensor.from(Array.from(t.data), t.shape, dtype).requireGrad());
            const out = f(xs);
            const grads = grad(out, xs, { dOut: Tensor.full(out.shape, 0.5, dtype) });
            return [out, ...grads].map((t) => Array.from(t.data));
          }, () => []);
        };
        const a = attempt(NaN), z = attempt(1e30), at = `${name} ${dtype}`;
        a.forEach((values, i) => {
          expect(values.every(Number.isFinite), `${at} result ${i}`).toBe(true);
          expect(values, `${at} result ${i}`).toEqual(z[i]);
        });
      }
    }
  });
});
