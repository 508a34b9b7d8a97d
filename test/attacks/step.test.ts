// The one gradient-step core (src/attacks/step.ts): each norm's normalise, projection and random start (inside the
// ε-ball and [0, 1] exactly in float32, seeded bit-identical); the two-stage step (store, then project) equals the
// fused signed step of ball.ts bit for bit (why the training objectives could move onto the core with no change of
// bits); the mask-based early stop; a maximised loss of losses.ts through the core; L1 attacks' properties on a model.
import { beforeAll, describe, expect, it } from 'vitest';
import { signStepLinf } from '../../src/attacks/ball.js';
import { gradientAttack } from '../../src/attacks/gradient-attack.js';
import { attackLosses, lossValues } from '../../src/attacks/losses.js';
import { checkAttackInput, crossEntropy, gradientSteps, l1, l2, linf, norms, randomStart, stepLossOf, type BallNorm } from '../../src/attacks/step.js';
import { Rng } from '../../src/engine/random.js';
import { noGrad } from '../../src/engine/tape.js';
import { Tensor } from '../../src/engine/tensor.js';
import { argmax } from '../../src/layers/predict.js';
import type { Sequential } from '../../src/layers/sequential.js';
import { testBatch, trainedModel } from './fixtures.js';

/** ‖a − b‖ in the norm, in float64 from the stored values. */
function dist(norm: BallNorm['name'], a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let j = 0; j < a.length; j++) {
    const d = Math.abs(a[j] - b[j]);
    s = norm === 'linf' ? Math.max(s, d) : norm === 'l2' ? s + d * d : s + d;
  }
  return norm === 'l2' ? Math.sqrt(s) : s;
}
const bound = (norm: BallNorm['name'], eps: number) => (norm === 'linf' ? Math.fround(eps) : eps);
const EPS = { linf: 0.1, l2: 1.5, l1: 10 } as const;

/** A float32 image in [0, 1] with a third of its pixels at 0 or 1 (where clipping binds). */
function image(D: number, rng: Rng): Float32Array {
  return Float32Array.from({ length: D }, () => {
    const u = rng.next();
    return u < 0.17 ? 0 : u < 0.33 ? 1 : rng.next();
  });
}

describe('the norms', () => {
  it('normalise to a step of length α in their own norm (sign for L∞), and 0 for a zero gradient', () => {
    const g = [0.5, -2, 0, 1.5], out = new Float64Array(4);
    linf.normalize(g, 0.25, out);
    expect(Array.from(out)).toEqual([0.25, -0.25, 0, 0.25]);
    l2.normalize(g, 3, out);
    expect(Math.hypot(...out)).toBeCloseTo(3, 12);
    expect(out[1] / out[0]).toBeCloseTo(-4, 12);
    l1.normalize(g, 2, out);
    expect(Array.from(out)).toEqual([0.25, -1, 0, 0.75]);
    for (const n of Object.values(norms)) {
      n.normalize([0, 0, 0, 0], 1, out);
      expect(Array.from(out), n.name).toEqual([0, 0, 0, 0]);
    }
  });

  it('project any point into the ε-ball and [0, 1], exactly in float32, and leave points inside where they are', () => {
    const rng = new Rng(11);
    for (const n of Object.values(norms)) {
      for (let t = 0; t < 20; t++) {
        const x = image(64, rng), eps = EPS[n.name] * (t % 5 === 0 ? 0.003 : rng.next());
        const xa = Float32Array.from(x, (v) => v + rng.uniform(-2, 2));
        n.project(xa, x, eps);
        expect(dist(n.name, xa, x), `${n.name} ε=${eps}`).toBeLessThanOrEqual(bound(n.name, eps));
        expect(xa.every((v) => v >= 0 && v <= 1)).toBe(true);
        const again = xa.slice();
        n.project(again, x, eps);
        expect(Array.from(again), `${n.name}: a point inside stays`).toEqual(Array.from(xa));
      }
    }
  });

  it('project onto the L1 ball by soft-thresholding (Duchi et al.): δ = (0.3, 0.1, −0.05) at ε = 0.2 → (0.2, 0, 0)', () => {
    const x = new Float64Array([0.5, 0.5, 0.5]), xa = new Float64Array([0.8, 0.6, 0.45]);
    l1.project(xa, x, 0.2);
    expect(xa[0]).toBeCloseTo(0.7, 12);
    expect(xa[1]).toBeCloseTo(0.5, 12);
    expect(xa[2]).toBeCloseTo(0.5, 12);
    const zero = new Float64Array([0.9, 0.1, 0.45]);
    l1.project(zero, x, 0);
    expect(Array.from(zero)).toEqual([0.5, 0.5, 0.5]);
  });

  it('start at a seeded random point of the ball: inside it and [0, 1], away from x, the same bits for the same seed', () => {
    const rng = new Rng(3);
    const x = new Tensor(Float32Array.from({ length: 4 * 49 }, () => rng.next()), [4, 1, 7, 7]);
    for (const n of Object.values(norms)) {
      const a = x.detach(), b = x.detach();
      randomStart(n, a, x, EPS[n.name] / 4, new Rng(5));
      randomStart(n, b, x, EPS[n.name] / 4, new Rng(5));
      expect(Array.from(a.data), n.name).toEqual(Array.from(b.data));
      for (let r = 0; r < 4; r++) {
        const ar = a.data.subarray(r * 49, (r + 1) * 49), xr = x.data.subarray(r * 49, (r + 1) * 49);
        expect(dist(n.name, ar, xr)).toBeLessThanOrEqual(bound(n.name, EPS[n.name] / 4));
        expect(dist(n.name, ar, xr)).toBeGreaterThan(0);
        expect(ar.every((v) => v >= 0 && v <= 1)).toBe(true);
      }
      const some = x.detach();
      randomStart(n, some, x, EPS[n.name], new Rng(5), Uint8Array.from([0, 1, 0, 0]));
      expect(Array.from(some.data.subarray(0, 49)), `${n.name}: a masked-out row stays at x`).toEqual(Array.from(x.data.subarray(0, 49)));
      expect(dist(n.name, some.data.subarray(49, 98), x.data.subarray(49, 98))).toBeGreaterThan(0);
    }
  });
});

describe('the step', () => {
  it('stores x + α·sign(g) then projects to the same bits as the fused signed step, in float32 and float64', () => {
    const rng = new Rng(21);
    for (const single of [true, false]) {
      for (let t = 0; t < 200; t++) {
        const D = 50, eps = [0.1, 0.3, 1e-7, 0.25 * rng.next()][t % 4], a = (rng.next() < 0.5 ? -1 : 1) * [eps, 0.01, 1.25 * eps, rng.next()][t % 4];
        const x0 = image(D, rng), x = single ? x0 : Float64Array.from(x0);
        const start = x.slice();
        for (let j = 0; j < D; j++) start[j] = x[j] + rng.uniform(-eps, eps);
        linf.project(start, x, eps);
        const g = Float32Array.from({ length: D }, () => (rng.next() < 0.1 ? 0 : rng.normal()));
        const fused = start.slice();
        signStepLinf(fused, x, g, a, eps);
        const twoStage = start.slice(), d = new Float64Array(D);
        linf.normalize(g, a, d);
        for (let j = 0; j < D; j++) twoStage[j] = twoStage[j] + d[j];
        linf.project(twoStage, x, eps);
        expect(Array.from(twoStage)).toEqual(Array.from(fused));
      }
    }
  });
});

describe('the core on a trained model', () => {
  let soft: Sequential, x: Tensor, y: Int32Array;
  beforeAll(async () => {
    soft = await trainedModel('softmax');
    ({ x, y } = testBatch(24));
  });
  const predict = (t: Tensor) => argmax(noGrad(() => soft.forward(t)));

  it('freezes an example in its mask once `done` says so, and forwards only the examples still stepping', () => {
    const xAdv = x.detach(), active = new Uint8Array(y.length).fill(1);
    const p0 = predict(x);
    const r = gradientSteps(soft, x, xAdv, y, active, {
      norm: linf, eps: 0.3, steps: 12, stepSize: 0.03, loss: crossEntropy, done: (n, p) => p !== y[n],
    });
    const p = predict(xAdv);
    for (let n = 0; n < y.length; n++) {
      if (p0[n] !== y[n]) expect(r.iterations[n], `example ${n} was wrong at x: no step`).toBe(0);
      if (!active[n]) expect(p[n], `example ${n} frozen because it is misclassified`).not.toBe(y[n]);
      else expect(r.iterations[n]).toBe(12);
    }
    expect(active.filter((a) => !a).length).toBeGreaterThan(y.length / 2);
  });

  it('steps a maximised loss of losses.ts up, targeted too (stepLossOf: no sign flip for targets)', () => {
    const t = Int32Array.from(y, (c) => (c + 1) % 10);
    for (const [loss, targets] of [[attackLosses.cw, undefined], [attackLosses['cw-targeted'], t]] as const) {
      const r = gradientAttack(soft, x, y, { eps: 0.1, norm: 'linf', steps: 5, stepSize: 0.02, randomStart: false, earlyStop: false, loss: stepLossOf(loss), ...(targets ? { targets } : {}) });
      const before = lossValues(noGrad(() => soft.forward(x)), y, loss, targets).values;
      const after = lossValues(noGrad(() => soft.forward(r.adversarial)), y, loss, targets).values;
      for (let n = 0; n < y.length; n++) expect(after[n], `${loss.name} example ${n}`).toBeGreaterThan(before[n]);
    }
  });

  it('runs L1 attacks inside the L1 ball and [0, 1] in float32; ε = 0 returns x; seeded reruns are bit-identical; they raise the loss', () => {
    const opts = { eps: 8, norm: 'l1' as const, steps: 10, stepSize: 2, randomStart: true, restarts: 2, earlyStop: false, seed: 9 };
    const r = gradientAttack(soft, x, y, opts);
    const D = x.size / y.length;
    for (let n = 0; n < y.length; n++) {
      const a = r.adversarial.data.subarray(n * D, (n + 1) * D), o = x.data.subarray(n * D, (n + 1) * D);
      expect(dist('l1', a, o)).toBeLessThanOrEqual(8);
      expect(a.every((v) => v >= 0 && v <= 1)).toBe(true);
    }
    expect(Array.from(gradientAttack(soft, x, y, opts).adversarial.data)).toEqual(Array.from(r.adversarial.data));
    expect(Array.from(gradientAttack(soft, x, y, { ...opts, eps: 0 }).adversarial.data)).toEqual(Array.from(x.data));
    const ce = (t: Tensor) => lossValues(noGrad(() => soft.forward(t)), y, attackLosses.ce).values;
    const [l0, l] = [ce(x), ce(r.adversarial)];
    expect(l.reduce((s, v) => s + v, 0)).toBeGreaterThan(l0.reduce((s, v) => s + v, 0));
  });
});

describe('checkAttackInput', () => {
  const x = new Tensor(new Float32Array([0, 0.5, 1, 0.25]), [2, 2]);
  it.each([
    [new Tensor(new Float32Array(4), [4]), new Int32Array(4), 0.1, /^f: x must be \[N, \.\.\.\] with N images, got \[4\]$/],
    [x, new Int32Array(3), 0.1, /^f: y must have 2 labels for x of shape \[2, 2\], got 3$/],
    [x, new Int32Array(2), -0.1, /^f: eps must be a finite number ≥ 0, got -0.1$/],
    [x, new Int32Array(2), NaN, /^f: eps must be a finite number ≥ 0, got NaN$/],
    [new Tensor(new Float32Array([0, NaN, 1, 0]), [2, 2]), new Int32Array(2), 0.1, /^f: input contains NaN at flat index 1/],
    [new Tensor(new Float32Array([0, 0.5, 1.5, 0]), [2, 2]), new Int32Array(2), 0.1, /^f: x must lie in \[0, 1\], got 1.5 at flat index 2$/],
  ])('refuses bad input %#', (xs, ys, eps, message) => {
    expect(() => checkAttackInput('f', xs, ys, eps)).toThrow(message);
  });
  it('accepts a good batch', () => expect(() => checkAttackInput('f', x, new Int32Array(2), 0)).not.toThrow());
});
