// Finite-difference gradient checking: the test every op and layer must pass, and a tool for learners.
// For out = f(inputs) and a fixed random R, L = Σ out ⊙ R; the tape's vector-Jacobian product (grad with
// dOut = R) is compared with central differences (L(θ+h) − L(θ−h)) / 2h, element by element, in float64.
import { Rng } from './random.js';
import { grad, noGrad } from './tape.js';
import { Tensor } from './tensor.js';

export interface GradCheckOptions {
  /** Step of the central difference (default 1e-6). */
  h?: number;
  /** Denominator floor of the relative error, so near-zero gradients are judged absolutely (default 1e-3). */
  floor?: number;
  /** Which inputs to check (default: all). */
  check?: boolean[];
  seed?: number;
  /** Check only this many randomly chosen elements per input (for large models); default all. */
  sample?: number;
}

export interface GradCheckResult {
  /** Per input: max over elements of |analytic − numeric| / max(|analytic|, |numeric|, floor). */
  maxRelError: number[];
  /** Per input: the flat index where the error was largest. */
  worstIndex: number[];
  analytic: Tensor[];
  numeric: Tensor[];
}

/**
 * Compare the tape's gradients of f with central finite differences. Inputs should be float64.
 * @example
 *   const { maxRelError } = gradcheck(([x, w, b]) => linear(x, w, b), [x, w, b]);
 */
export function gradcheck(f: (inputs: Tensor[]) => Tensor, inputs: Tensor[], opts: GradCheckOptions = {}): GradCheckResult {
  const h = opts.h ?? 1e-6;
  const floor = opts.floor ?? 1e-3;
  const check = opts.check ?? inputs.map(() => true);
  for (const t of inputs) {
    if (t.dtype !== 'float64') throw new Error(`gradcheck: inputs must be float64 for finite differences, got ${t.dtype}`);
  }
  const flags = inputs.map((t) => t.requiresGrad);
  inputs.forEach((t, i) => t.requireGrad(check[i]));
  try {
    const out = f(inputs);
    const rng = new Rng(opts.seed ?? 1234);
    const R = Tensor.zeros(out.shape, 'float64');
    for (let i = 0; i < R.size; i++) R.data[i] = rng.uniform(-1, 1);
    const wanted = inputs.filter((_, i) => check[i]);
    const analyticWanted = grad(out, wanted, { dOut: R });

    const L = (): number =>
      noGrad(() => {
        const o = f(inputs).data;
        let s = 0;
        for (let i = 0; i < o.length; i++) s += o[i] * R.data[i];
        return s;
      });

    const result: GradCheckResult = { maxRelError: [], worstIndex: [], analytic: [], numeric: [] };
    let w = 0;
    inputs.forEach((t, i) => {
      if (!check[i]) {
        result.maxRelError.push(0);
        result.worstIndex.push(-1);
        result.analytic.push(Tensor.zeros(t.shape, 'float64'));
        result.numeric.push(Tensor.zeros(t.shape, 'float64'));
        return;
      }
      const a = analyticWanted[w++];
      const num = Tensor.zeros(t.shape, 'float64');
      let worst = 0, worstAt = -1;
      const idx = opts.sample && opts.sample < t.size ? Array.from(rng.permutation(t.size).subarray(0, opts.sample)) : null;
      for (let q = 0; q < (idx ? idx.length : t.size); q++) {
        const j = idx ? idx[q] : q;
        const orig = t.data[j];
        t.data[j] = orig + h;
        const lp = L();
        t.data[j] = orig - h;
        const lm = L();
        t.data[j] = orig;
        num.data[j] = (lp - lm) / (2 * h);
        const err = Math.abs(a.data[j] - num.data[j]) / Math.max(Math.abs(a.data[j]), Math.abs(num.data[j]), floor);
        if (err > worst || worstAt < 0) {
          worst = err;
          worstAt = j;
        }
      }
      result.maxRelError.push(worst);
      result.worstIndex.push(worstAt);
      result.analytic.push(a);
      result.numeric.push(num);
    });
    return result;
  } finally {
    inputs.forEach((t, i) => t.requireGrad(flags[i]));
  }
}
