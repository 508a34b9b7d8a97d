// FAB and FAB-T (Croce & Hein 2020): the box-constrained projections against an independent bisection, the exact
// minimal perturbation to a linear boundary (closed form), and the attack properties on a trained cnn (ε-ball and
// [0, 1] in float32, ε = 0 returns x, seeded reruns bit-identical, success only over the initially correct).
import { beforeAll, describe, expect, it } from 'vitest';
import { fab, fabT } from '../../src/attacks/fab.js';
import { ProjectionScratch, projectL2, projectLinf } from '../../src/engine/kernels/fab-projections.js';
import { Rng } from '../../src/engine/random.js';
import { Tensor } from '../../src/engine/tensor.js';
import { Dense } from '../../src/layers/dense.js';
import { Sequential } from '../../src/layers/sequential.js';
import { argmax, predict } from '../../src/layers/predict.js';
import { testBatch, trainedModel } from './fixtures.js';
import { closedForm, expectInBall, firstDiff, linearCase } from './min-norm-helpers.js';

/** Independent solution: bisection on λ of the monotone constraint, then d(λ) per coordinate. */
function bisect(t: number[], w: number[], b: number, norm: 'linf' | 'l2'): number[] | null {
  let c = -b;
  for (let j = 0; j < t.length; j++) c += w[j] * t[j];
  const s = c >= 0 ? 1 : -1;
  const d = (lambda: number) =>
    t.map((tj, j) => {
      const wj = s * w[j];
      const lo = -tj, hi = 1 - tj;
      const raw = norm === 'linf' ? -Math.sign(wj) * lambda : -lambda * wj;
      return Math.min(hi, Math.max(lo, raw));
    });
  const reach = (lambda: number) => -d(lambda).reduce((a, dj, j) => a + s * w[j] * dj, 0); // how far w·z went down
  if (reach(1e6) < s * c - 1e-12) return null; // unreachable inside the box
  let lo = 0, hi = 1e6;
  for (let i = 0; i < 200; i++) {
    const mid = (lo + hi) / 2;
    if (reach(mid) < s * c) lo = mid;
    else hi = mid;
  }
  return d(hi);
}

describe('FAB projections', () => {
  it('equal an independent bisection and land on the hyperplane inside the box (L∞ and L2)', () => {
    const rng = new Rng(7);
    let reachable = 0;
    for (let trial = 0; trial < 200; trial++) {
      const D = 1 + rng.int(9);
      const t = Array.from({ length: D }, () => (rng.next() < 0.2 ? rng.int(2) : rng.next()));
      const w = Array.from({ length: D }, () => (rng.next() < 0.15 ? 0 : rng.normal()));
      const b = rng.normal();
      for (const norm of ['linf', 'l2'] as const) {
        const out = new Float64Array(D);
        (norm === 'linf' ? projectLinf : projectL2)(t, w, b, out, new ProjectionScratch(D));
        for (let j = 0; j < D; j++) {
          expect(t[j] + out[j]).toBeGreaterThanOrEqual(-1e-12);
          expect(t[j] + out[j]).toBeLessThanOrEqual(1 + 1e-12);
          if (w[j] === 0) expect(out[j]).toBe(0);
        }
        const ref = bisect(t, w, b, norm);
        if (ref) {
          reachable++;
          const wz = t.reduce((a, tj, j) => a + w[j] * (tj + out[j]), 0);
          expect(Math.abs(wz - b)).toBeLessThan(1e-9);
          for (let j = 0; j < D; j++) expect(out[j]).toBeCloseTo(ref[j], 7);
        } else {
          // Unreachable: every coordinate with w ≠ 0 moves to the box edge that brings w·z toward b.
          const s = t.reduce((a, tj, j) => a + w[j] * tj, 0) - b >= 0 ? 1 : -1;
          for (let j = 0; j < D; j++) if (w[j] !== 0) expect(t[j] + out[j]).toBe(s * w[j] > 0 ? 0 : 1);
        }
      }
    }
    expect(reachable).toBeGreaterThan(100);
  });

  it('equal the bisection on image-sized rows with many ties (MNIST-like 0s and 1s, repeated gradient values)', () => {
    const rng = new Rng(8);
    const D = 784;
    // one scratch per norm across all calls, as FAB uses it
    const scratch = { linf: new ProjectionScratch(D), l2: new ProjectionScratch(D) };
    for (let trial = 0; trial < 14; trial++) {
      const t = Array.from({ length: D }, () => { const u = rng.next(); return u < 0.6 ? 0 : u < 0.7 ? 1 : Math.round(rng.next() * 16) / 16; });
      // exact zeros, and a few |w| below L2's 1e-8 cut (those coordinates do not move in L2)
      const w = Array.from({ length: D }, () => { const u = rng.next(); return u < 0.1 ? 0 : u < 0.12 ? 1e-9 : Math.round(rng.normal() * 4) / 4 || 0.5; });
      const wt = t.reduce((a, tj, j) => a + w[j] * tj, 0);
      // either side, near and far; the last two trials beyond what the box allows
      const far = trial >= 12 ? 1e4 : 0.5 + rng.next() * 20;
      const b = wt + (trial % 2 ? 1 : -1) * far;
      for (const norm of ['linf', 'l2'] as const) {
        const out = new Float64Array(D);
        (norm === 'linf' ? projectLinf : projectL2)(t, w, b, out, scratch[norm]);
        const ref = bisect(t, w.map((v) => (norm === 'l2' && Math.abs(v) < 1e-8 ? 0 : v)), b, norm);
        if (trial >= 12) {
          // unreachable: every coordinate that can move goes to the box edge that brings w·z toward b
          expect(ref).toBeNull();
          const s = wt - b >= 0 ? 1 : -1;
          for (let j = 0; j < D; j++) if (Math.abs(w[j]) >= 1e-8) expect(t[j] + out[j]).toBe(s * w[j] > 0 ? 0 : 1);
          continue;
        }
        expect(ref, `trial ${trial} ${norm}: reachable`).not.toBeNull();
        for (let j = 0; j < D; j++) expect(out[j]).toBeCloseTo(ref![j], 7);
        if (norm === 'linf') expect(Math.abs(t.reduce((a, tj, j) => a + w[j] * (tj + out[j]), 0) - b)).toBeLessThan(1e-6);
      }
    }
  });

  it('give the textbook answers on a small example', () => {
    const d = new Float64Array(2);
    projectLinf([0.5, 0.5], [1, 1], 0.6, d, new ProjectionScratch(2));
    expect(Array.from(d)).toEqual([-0.2, -0.2].map((v) => expect.closeTo(v, 12)));
    // L2 with a box edge: w = (1, 2), from (0.5, 0.1) down to w·z = 0.3 → z₂ hits 0 first, then only z₁ moves.
    projectL2([0.5, 0.1], [1, 2], 0.3, d, new ProjectionScratch(2));
    expect(d[1]).toBeCloseTo(-0.1, 12);
    expect(d[0]).toBeCloseTo(-0.2, 12);
  });
});

describe('FAB on a two-class linear model', () => {
  it('returns the exact minimal L2 and L∞ perturbation to the decision boundary (closed form)', () => {
    const { model, x, y, v, c } = linearCase(16, 12, 3);
    const D = 16;
    for (const norm of ['l2', 'linf'] as const) {
      for (const attack of [fab, fabT]) {
        // η = 1.001: the step lands just past the boundary; the closed form is then met to 1e-3 (float32 images).
        const r = attack.run(model, x, y, { eps: 1, norm, nTargetClasses: 1, eta: 1.001 });
        // The defaults (η = 1.05, β = 0.9) settle in a cycle slightly outside the boundary: within 2% of the optimum.
        const d = attack.run(model, x, y, { eps: 1, norm, nTargetClasses: 1 });
        expect(r.distanceNorm).toBe(norm);
        for (let n = 0; n < 12; n++) {
          const xn = x.data.subarray(n * D, (n + 1) * D);
          const { dist, delta } = closedForm(v, c, xn, norm);
          // FAB approaches the boundary from the adversarial side: a little above the closed form, never below.
          expect(r.distances[n]).toBeGreaterThanOrEqual(dist * (1 - 1e-5));
          expect(r.distances[n]).toBeLessThanOrEqual(dist * (1 + 1e-3));
          expect(d.distances[n]).toBeGreaterThanOrEqual(dist * (1 - 1e-5));
          expect(d.distances[n]).toBeLessThanOrEqual(dist * 1.02);
          if (norm === 'l2') {
            // The L2 minimiser is unique: the point itself must be x + δ*.
            for (let j = 0; j < D; j++) expect(r.minimal.data[n * D + j]).toBeCloseTo(xn[j] + delta[j], 3);
          }
          expect(r.success[n]).toBe(1);
        }
      }
    }
  });
});

describe('FAB-T targets', () => {
  it('takes the 2nd, 3rd … most likely classes in turn, each only on the points not yet fooled within ε', () => {
    // Three linear classes at x = 0.5: z₀ = 0, z₁ = −0.2 + (x₀ − 0.5), z₂ = −0.3 + 3(x₁ − 0.5). Class 1 is the
    // runner-up but its boundary is farther (L2 0.2) than class 2's (0.3/3 = 0.1), and the two directions are orthogonal.
    const D = 16;
    const dense = new Dense(D, 3, { rng: new Rng(0) });
    dense.weight.data.fill(0);
    dense.weight.data[1 * D + 0] = 1;
    dense.weight.data[2 * D + 1] = 3;
    dense.bias.data.set([0, -0.2 - 0.5, -0.3 - 1.5]);
    const model = new Sequential([D], [dense]);
    const x = Tensor.full([1, D], 0.5), y = Int32Array.from([0]);
    const near = (got: number, want: number) => {
      expect(got).toBeGreaterThanOrEqual(want * (1 - 1e-5));
      expect(got).toBeLessThanOrEqual(want * (1 + 1e-3));
    };
    const o = { norm: 'l2' as const, eta: 1.001 };
    near(fab.run(model, x, y, { ...o, eps: 1 }).distances[0], 0.1); // untargeted: the nearest boundary
    near(fabT.run(model, x, y, { ...o, eps: 1, nTargetClasses: 1 }).distances[0], 0.2); // the runner-up only
    near(fabT.run(model, x, y, { ...o, eps: 1, nTargetClasses: 2 }).distances[0], 0.2); // fooled within ε: done
    const seen: number[] = [];
    const r = fabT.run(model, x, y, { ...o, eps: 0.15, nTargetClasses: 2, onProgress: (f) => seen.push(f) }); // 0.2 > ε: the 3rd class is tried too
    expect(seen.every((f, i) => f > 0 && f <= 1 && (i === 0 || f >= seen[i - 1]))).toBe(true);
    expect(seen[99]).toBeCloseTo(0.5, 12); // after the first target's 100 iterations: half of the two targets' work
    expect(seen[seen.length - 1]).toBe(1);
    near(r.distances[0], 0.1);
    expect(r.success[0]).toBe(1);
    expect(r.iterations[0]).toBe(200);
  });
});

describe('FAB and FAB-T on a trained cnn', () => {
  let cnn: Sequential, x: Tensor, y: Int32Array;
  beforeAll(async () => {
    cnn = await trainedModel('cnn');
    ({ x, y } = testBatch(12));
  });

  it('stay in the ε-ball and in [0, 1] in float32, succeed only within ε, and count the initially wrong as fooled', () => {
    const clean = argmax(predict(cnn, x));
    for (const [attack, norm, eps] of [[fabT, 'linf', 0.1], [fab, 'l2', 1.5], [fabT, 'l2', 1]] as const) {
      const r = attack.run(cnn, x, y, { eps, norm, steps: 6, nTargetClasses: 2, seed: 1 });
      expectInBall(r, x, eps, norm);
      const pred = argmax(predict(cnn, r.adversarial));
      for (let n = 0; n < 12; n++) {
        expect(r.success[n]).toBe(pred[n] !== y[n] ? 1 : 0);
        if (clean[n] !== y[n]) {
          expect(r.distances[n]).toBe(0);
          expect(firstDiff(r.adversarial.data.subarray(n * 784, (n + 1) * 784), x.data.subarray(n * 784, (n + 1) * 784))).toBe(-1);
        } else {
          expect(r.distances[n]).toBeGreaterThan(0);
          // success within ε ⇔ the minimal point found lies within ε
          expect(r.success[n]).toBe(r.distances[n] <= eps ? 1 : 0);
        }
      }
      expect(r.success.reduce((a, b) => a + b, 0)).toBeGreaterThan(clean.reduce((a, p, n) => a + (p !== y[n] ? 1 : 0), 0));
    }
  });

  it('returns x exactly at ε = 0 and reruns bit-identically with a seed (restarts included)', () => {
    const xs = new Tensor(x.data.slice(0, 4 * 784), [4, 1, 28, 28]), ys = y.subarray(0, 4);
    const zero = fab.run(cnn, xs, ys, { eps: 0, norm: 'linf', steps: 5 });
    expect(firstDiff(zero.adversarial.data, xs.data)).toBe(-1);
    const a = fab.run(cnn, xs, ys, { eps: 0.05, norm: 'l2', steps: 5, restarts: 2, seed: 9 });
    const b = fab.run(cnn, xs, ys, { eps: 0.05, norm: 'l2', steps: 5, restarts: 2, seed: 9 });
    expect(firstDiff(a.minimal.data, b.minimal.data)).toBe(-1);
    expect(firstDiff(a.distances, b.distances)).toBe(-1);
  });

  it('rejects bad options with the function, the argument and the value', () => {
    expect(() => fab.run(cnn, x, y, { eps: -1, norm: 'linf' })).toThrow(/fab: eps must be a finite number ≥ 0, got -1/);
    expect(() => fabT.run(cnn, x, y, { eps: 0.1, norm: 'l1' as 'l2' })).toThrow(/fabT: norm must be 'linf' or 'l2', got 'l1'/);
    expect(() => fab.run(cnn, x, y, { eps: 0.1, norm: 'linf', steps: 1.5 })).toThrow(/fab: steps must be an integer ≥ 0, got 1.5/);
    expect(() => fab.run(cnn, x, y.subarray(0, 3), { eps: 0.1, norm: 'linf' })).toThrow(/fab: y must have 12 labels/);
  });
});
