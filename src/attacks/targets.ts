// Target classes for targeted attacks, per example of a batch: a given class, a uniformly random other class, or
// the least-likely class argmin logits (Kurakin et al. 2017, arXiv 1607.02533, "iterative least-likely class").
// y [N] true labels, logits [N, C] (needed for 'least-likely'; otherwise they only supply C, which defaults to 10).
import type { Rng } from '../engine/random.js';
import { shapeStr, type Tensor } from '../engine/tensor.js';
import type { TargetMode } from './attack.js';

/**
 * Choose one target class per example; a target never equals the example's true label.
 * @example
 *   const targets = chooseTargets({ kind: 'random' }, y, null, new Rng(0));
 *   const r = pgd.run(model, x, y, { eps: 0.3, targets });
 */
export function chooseTargets(mode: TargetMode, y: Int32Array, logits: Tensor | null, rng: Rng): Int32Array {
  const N = y.length;
  if (logits && (logits.ndim !== 2 || logits.shape[0] !== N)) {
    throw new Error(`chooseTargets: logits must be [${N}, C] for ${N} labels, got ${shapeStr(logits.shape)}`);
  }
  const C = logits ? logits.shape[1] : 10;
  for (let n = 0; n < N; n++) {
    if (!(y[n] >= 0 && y[n] < C)) throw new Error(`chooseTargets: y[${n}] must be a class in 0..${C - 1}, got ${y[n]}`);
  }
  const out = new Int32Array(N);
  switch (mode.kind) {
    case 'class': {
      const t = mode.class;
      if (!Number.isInteger(t) || t < 0 || t >= C) throw new Error(`chooseTargets: target class must be an integer in 0..${C - 1}, got ${t}`);
      for (let n = 0; n < N; n++) {
        if (y[n] === t) throw new Error(`chooseTargets: target class ${t} equals the true label of example ${n}`);
      }
      out.fill(t);
      return out;
    }
    case 'random':
      // Uniform over the C − 1 other classes: draw from 0..C−2 and skip over the true label.
      if (C < 2) throw new Error(`chooseTargets: 'random' needs at least 2 classes, got ${C}`);
      for (let n = 0; n < N; n++) {
        const t = rng.int(C - 1);
        out[n] = t >= y[n] ? t + 1 : t;
      }
      return out;
    case 'least-likely': {
      if (!logits) throw new Error(`chooseTargets: 'least-likely' needs the logits [N, C], got null`);
      // argmin over the classes other than the true one (if the model ranks the truth last, aim for the next-least).
      const d = logits.data;
      for (let n = 0; n < N; n++) {
        let best = -1;
        for (let c = 0; c < C; c++) {
          if (c !== y[n] && (best < 0 || d[n * C + c] < d[n * C + best])) best = c;
        }
        out[n] = best;
      }
      return out;
    }
    default:
      throw new Error(`chooseTargets: mode.kind must be 'class', 'random' or 'least-likely', got '${(mode as { kind: string }).kind}'`);
  }
}
