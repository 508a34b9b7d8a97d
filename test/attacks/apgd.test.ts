// APGD (Croce & Hein 2020, Algorithm 1): the paper's checkpoints and step-size halving, the known optimum of a
// linear (convex) toy problem in L∞ and L2, and the attack properties (ε-ball exact in float32, [0, 1], ε = 0,
// seeds, success over the initially correct) on a small trained cnn.
import { beforeAll, describe, expect, it } from 'vitest';
import { apgdCe, apgdCheckpoints, apgdDlr, apgdT, type ApgdOptions } from '../../src/attacks/apgd.js';
import type { AttackResult, WhiteBoxAttack } from '../../src/attacks/attack.js';
import { attackLosses, lossGradient } from '../../src/attacks/losses.js';
import { pgd } from '../../src/attacks/pgd.js';
import { noGrad } from '../../src/engine/tape.js';
import { Tensor } from '../../src/engine/tensor.js';
import type { Sequential } from '../../src/layers/sequential.js';
import { buildModel } from '../../src/layers/spec.js';
import { argmax } from '../../src/layers/predict.js';
import { testBatch, trainedModel } from './fixtures.js';

let cnn: Sequential, x: Tensor, y: Int32Array;
beforeAll(async () => {
  cnn = await trainedModel('cnn');
  ({ x, y } = testBatch(24));
});

const rows = (t: Tensor, n: number) => new Tensor(t.data.slice(0, n * 784), [n, ...t.shape.slice(1)]);
const pred = (m: Sequential, t: Tensor) => argmax(noGrad(() => m.forward(t)));
const sum = (a: ArrayLike<number>) => Array.from(a).reduce((s, v) => s + v, 0);

/** Exact containment on the stored float32 values: L∞ ≤ fround(ε), L2 ≤ ε, all in [0, 1] (float64 checks). */
function expectInBall(r: AttackResult, x0: Tensor, eps: number, norm: 'linf' | 'l2'): void {
  const N = x0.shape[0], D = x0.size / N, a = r.adversarial.data;
  expect(r.adversarial.data).toBeInstanceOf(Float32Array);
  for (let n = 0; n < N; n++) {
    let linf = 0, l2 = 0;
    for (let j = n * D; j < (n + 1) * D; j++) {
      expect(a[j] >= 0 && a[j] <= 1).toBe(true);
      const d = Math.abs(a[j] - x0.data[j]);
      linf = Math.max(linf, d);
      l2 += d * d;
    }
    if (norm === 'linf') expect(linf).toBeLessThanOrEqual(Math.fround(eps));
    else expect(Math.sqrt(l2)).toBeLessThanOrEqual(eps);
  }
}

describe('APGD schedule', () => {
  it('checks at the paper’s checkpoints w_j = ⌈p_j·N_iter⌉', () => {
    // p₀ = 0, p₁ = 0.22, p_{j+1} = p_j + max(p_j − p_{j−1} − 0.03, 0.06): 0.22, 0.41, 0.57, 0.70, 0.80, 0.87, 0.93, 0.99.
    const p = [0, 0.22];
    while (p[p.length - 1] + Math.max(p[p.length - 1] - p[p.length - 2] - 0.03, 0.06) <= 1) {
      p.push(p[p.length - 1] + Math.max(p[p.length - 1] - p[p.length - 2] - 0.03, 0.06));
    }
    expect(p.slice(1).map((v) => Math.round(v * 100))).toEqual([22, 41, 57, 70, 80, 87, 93, 99]);
    expect(apgdCheckpoints(100)).toEqual([22, 41, 57, 70, 80, 87, 93, 99]);
    expect(apgdCheckpoints(200)).toEqual([44, 82, 114, 140, 160, 174, 186, 198]);
  });

  it('starts at η = 2ε and halves it at every checkpoint where the loss stopped rising (a linear toy at its optimum)', () => {
    const { model, x0, yy } = linearToy();
    const seen: [number, number][] = [];
    apgdCe.run(model, x0, yy, {
      eps: 0.1, loss: 'cw', earlyStop: false, seed: 1,
      onCheckpoint: (it, step) => seen.push([it, step[0]]),
    });
    // The first step reaches the optimal vertex; the loss then stays flat, so condition 1 holds at every checkpoint.
    expect(seen).toEqual([22, 41, 57, 70, 80, 87, 93, 99].map((w, j) => [w, 0.2 / 2 ** (j + 1)]));
  });
});

/** Two classes, logits = W·x + b: the CW margin z₁ − z₀ is linear in x, so its maximum over the ball is known. */
function linearToy() {
  const model = buildModel({ input: [1, 28, 28], layers: [{ type: 'flatten' }, { type: 'dense', in: 784, out: 2 }] }, { seed: 5 });
  const x0 = Tensor.full([1, 1, 28, 28], 0.5);
  const yy = Int32Array.from([0]);
  const u = lossGradient(model, x0, yy, attackLosses.cw).dx.data; // ∇x (z₁ − z₀) = W₁ − W₀, constant
  const margin = (t: Tensor) => { const z = noGrad(() => model.forward(t)).data; return z[1] - z[0]; };
  return { model, x0, yy, u, margin };
}

describe('APGD on a convex toy problem', () => {
  it('L∞: reaches the optimal vertex x + ε·sign(∇) of a linear objective', () => {
    const { model, x0, yy, u, margin } = linearToy();
    const r = apgdCe.run(model, x0, yy, { eps: 0.1, loss: 'cw', earlyStop: false, seed: 0 });
    const opt = new Tensor(Float32Array.from(x0.data, (v, j) => v + Math.fround(0.1) * Math.sign(u[j])), x0.shape);
    expect(margin(r.adversarial)).toBeCloseTo(margin(opt), 5);
    let off = 0;
    for (let j = 0; j < 784; j++) if (Math.abs(r.adversarial.data[j] - opt.data[j]) > 1e-6) off++;
    expect(off).toBe(0);
  });

  it('L2: converges to x + ε·∇/‖∇‖₂ from a random start (CE and the CW margin)', () => {
    const { model, x0, yy, u, margin } = linearToy();
    const nu = Math.sqrt(sum(Array.from(u, (v) => v * v)));
    const eps = 1;
    const opt = new Tensor(Float32Array.from(x0.data, (v, j) => v + (eps * u[j]) / nu), x0.shape);
    for (const loss of ['cw', 'ce'] as const) {
      const r = apgdCe.run(model, x0, yy, { eps, norm: 'l2', loss, earlyStop: false, seed: 3 });
      expect(margin(r.adversarial)).toBeGreaterThan(margin(opt) - 1e-4 * Math.abs(margin(opt)));
      let d2 = 0;
      for (let j = 0; j < 784; j++) d2 += (r.adversarial.data[j] - opt.data[j]) ** 2;
      expect(Math.sqrt(d2)).toBeLessThan(0.02 * eps);
      expectInBall(r, x0, eps, 'l2');
    }
  });
});

describe('APGD-CE, APGD-DLR, APGD-T on a trained cnn', () => {
  const attacks: [WhiteBoxAttack<ApgdOptions>, ApgdOptions][] = [
    [apgdCe, { eps: 0.15, steps: 20 }], [apgdDlr, { eps: 0.15, steps: 20 }], [apgdT, { eps: 0.15, steps: 10, nTargetClasses: 3 }],
    [apgdCe, { eps: 1.5, norm: 'l2', steps: 20 }], [apgdT, { eps: 1.5, norm: 'l2', steps: 10, nTargetClasses: 2 }],
  ];

  it('stay in the ε-ball (exactly, in float32) and in [0, 1]; success means misclassified; the initially wrong are left at x', () => {
    const clean = pred(cnn, x);
    for (const [attack, o] of attacks) {
      const r = attack.run(cnn, x, y, { ...o, seed: 2 });
      expectInBall(r, x, o.eps, o.norm ?? 'linf');
      const p = pred(cnn, r.adversarial);
      for (let n = 0; n < 24; n++) {
        expect(r.success[n]).toBe(p[n] !== y[n] ? 1 : 0);
        if (clean[n] !== y[n]) {
          expect(r.iterations[n]).toBe(0);
          expect(Array.from(r.adversarial.data.subarray(n * 784, (n + 1) * 784))).toEqual(Array.from(x.data.subarray(n * 784, (n + 1) * 784)));
        }
      }
      expect(sum(r.success)).toBeGreaterThan(sum(Array.from(clean, (c, n) => (c !== y[n] ? 1 : 0))));
    }
  });

  it('return x at ε = 0 and are bit-identical for a seed (and differ for another)', () => {
    for (const [attack, o] of attacks) {
      const z = attack.run(cnn, rows(x, 6), y.subarray(0, 6), { ...o, eps: 0 });
      expect(Array.from(z.adversarial.data)).toEqual(Array.from(rows(x, 6).data));
      const a = attack.run(cnn, rows(x, 8), y.subarray(0, 8), { ...o, steps: 5, seed: 7, earlyStop: false });
      const b = attack.run(cnn, rows(x, 8), y.subarray(0, 8), { ...o, steps: 5, seed: 7, earlyStop: false });
      const c = attack.run(cnn, rows(x, 8), y.subarray(0, 8), { ...o, steps: 5, seed: 8, earlyStop: false });
      expect(a.adversarial.data.every((v, i) => Object.is(v, b.adversarial.data[i]))).toBe(true);
      expect(a.adversarial.data.some((v, i) => v !== c.adversarial.data[i])).toBe(true);
    }
  });

  it('early stop changes nothing for the rows it keeps: the batch is a view of the iterates, then gathered from scattered rows', () => {
    // Until a row succeeds the active rows are consecutive and pass as a view of the iterates; after, they are gathered.
    // Each row's trajectory is its own, so a row never broken ends at the same bits with and without early stop.
    for (const [attack, o] of [attacks[0], attacks[3]]) {
      const a = attack.run(cnn, x, y, { ...o, seed: 3, earlyStop: true });
      const b = attack.run(cnn, x, y, { ...o, seed: 3, earlyStop: false });
      const mid = Array.from(a.iterations).filter((it, n) => a.success[n] && it > 0 && it < o.steps!).length;
      expect(mid).toBeGreaterThan(0); // rows dropped mid-run: the later batches were gathered
      let kept = 0;
      for (let n = 0; n < 24; n++) {
        if (a.success[n] || b.success[n]) continue;
        kept++;
        expect(a.iterations[n]).toBe(o.steps);
        const ra = a.adversarial.data.subarray(n * 784, (n + 1) * 784), rb = b.adversarial.data.subarray(n * 784, (n + 1) * 784);
        expect(ra.every((v, j) => Object.is(v, rb[j]))).toBe(true);
      }
      expect(kept).toBeGreaterThan(0);
    }
  });

  it('APGD-CE (100 iterations) is at least as strong as PGD-40 at ε = 0.1', () => {
    const p = pgd.run(cnn, x, y, { eps: 0.1, seed: 1 });
    const a = apgdCe.run(cnn, x, y, { eps: 0.1, seed: 1 });
    expect(sum(a.success)).toBeGreaterThanOrEqual(sum(p.success));
  });

  it('rejects bad options with one-line messages', () => {
    expect(() => apgdCe.run(cnn, x, y, { eps: -1 })).toThrow(/apgd-ce.run: eps must be a finite number ≥ 0, got -1/);
    expect(() => apgdT.run(cnn, x, y, { eps: 0.1, steps: 0 })).toThrow(/apgd-t.run: steps must be an integer ≥ 1, got 0/);
    expect(() => apgdDlr.run(cnn, x, y.subarray(0, 3), { eps: 0.1 })).toThrow(/y must have 24 labels/);
    expect(() => apgdCe.run(cnn, x, y, { eps: 0.1, loss: 'bogus' as never })).toThrow(/loss must be one of ce, ce-targeted/);
  });
});
