// Shared pieces of the minimum-norm attack tests (FAB, DeepFool, CW): a two-class linear model with a known boundary,
// its closed-form minimal perturbations, and the property checks every attack must pass (in float64 against
// Math.fround(ε), as the float32 images are compared).
import { expect } from 'vitest';
import type { AttackResult } from '../../src/attacks/attack.js';
import { Rng } from '../../src/engine/random.js';
import { Tensor } from '../../src/engine/tensor.js';
import { Dense } from '../../src/layers/dense.js';
import { Sequential } from '../../src/layers/sequential.js';

export interface LinearCase {
  model: Sequential;
  x: Tensor;
  y: Int32Array;
  /** v = w₁ − w₀ and c = b₁ − b₀: f(x) = v·x + c = z₁ − z₀. */
  v: Float64Array;
  c: number;
}

/**
 * N points in [0.3, 0.7]ᴰ and a two-class linear model z₀ = 0, z₁ = v·x + c whose boundary lies at L∞ distance
 * 0.01–0.1 from every point (so the minimal perturbation stays inside the box); y is the model's own label.
 */
export function linearCase(D: number, N: number, seed: number): LinearCase {
  const rng = new Rng(seed);
  const v = Float64Array.from({ length: D }, () => rng.normal());
  const l1 = v.reduce((a, b) => a + Math.abs(b), 0);
  const dense = new Dense(D, 2, { rng });
  dense.weight.data.fill(0);
  dense.bias.data.fill(0);
  dense.weight.data.set(Float32Array.from(v), D);
  // c puts the boundary through the middle of the cube; rows are drawn until their L∞ distance to it lies in
  // [0.01, 0.1] (so the L2 and L∞ minimal perturbations stay inside [0, 1]ᴰ from points in [0.3, 0.7]ᴰ).
  const vf = Float64Array.from(dense.weight.data.subarray(D, 2 * D));
  const c = Math.fround(-0.5 * vf.reduce((a, b) => a + b, 0));
  dense.bias.data[1] = c;
  const model = new Sequential([D], [dense]);
  model.eval();
  const x = Tensor.zeros([N, D]);
  const y = new Int32Array(N);
  const row = new Float32Array(D);
  for (let n = 0; n < N; ) {
    for (let j = 0; j < D; j++) row[j] = rng.uniform(0.3, 0.7);
    const f = margin(vf, c, row);
    if (Math.abs(f) / l1 < 0.01 || Math.abs(f) / l1 > 0.1) continue;
    x.data.set(row, n * D);
    y[n++] = f > 0 ? 1 : 0;
  }
  return { model, x, y, v: vf, c };
}

/** f(x) = v·x + c in float64. */
export function margin(v: ArrayLike<number>, c: number, x: ArrayLike<number>): number {
  let f = c;
  for (let j = 0; j < v.length; j++) f += v[j] * x[j];
  return f;
}

/** The closed-form minimal perturbation onto v·z + c = 0 (no box): L2 −f·v/‖v‖₂², L∞ −f·sign(v)/‖v‖₁. */
export function closedForm(v: ArrayLike<number>, c: number, x: ArrayLike<number>, norm: 'linf' | 'l2'): { delta: Float64Array; dist: number } {
  const f = margin(v, c, x);
  let l1 = 0, l2sq = 0;
  for (let j = 0; j < v.length; j++) {
    l1 += Math.abs(v[j]);
    l2sq += v[j] * v[j];
  }
  const delta = Float64Array.from(v, (vj) => (norm === 'l2' ? (-f * vj) / l2sq : (-f * Math.sign(vj)) / l1));
  return { delta, dist: norm === 'l2' ? Math.abs(f) / Math.sqrt(l2sq) : Math.abs(f) / l1 };
}

/** Every row of r.adversarial lies within ε of x (|x′ − x| in float64 against Math.fround(ε)) and in [0, 1]. */
export function expectInBall(r: AttackResult, x: Tensor, eps: number, norm: 'linf' | 'l2'): void {
  const N = x.shape[0], D = x.size / N, a = r.adversarial.data;
  expect(r.adversarial.shape).toEqual(x.shape);
  const bound = Math.fround(eps);
  for (let n = 0; n < N; n++) {
    let m = 0;
    for (let j = n * D; j < (n + 1) * D; j++) {
      expect(a[j] >= 0 && a[j] <= 1).toBe(true);
      const d = Math.abs(a[j] - x.data[j]);
      m = norm === 'linf' ? Math.max(m, d) : m + d * d;
    }
    expect(norm === 'linf' ? m : Math.sqrt(m)).toBeLessThanOrEqual(bound);
  }
}

/** Index of the first element where a and b differ bit for bit (lengths included), or -1. */
export function firstDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return i;
  return -1;
}
