// ∇x of the logits for minimum-norm attacks (FAB, DeepFool), batch-wise from the tape: one forward pass, then one
// backward pass per class with a one-hot upstream gradient (row c of the Jacobian ∂z/∂x for every example at once),
// or a single backward for a difference z_a − z_b with upstream e_a − e_b. Shapes: x [N, ...], logits [N, C],
// jacobian [N, C, D] with D the size of one example; always in evaluation mode (the caller's mode is restored).
import { grad } from '../engine/tape.js';
import { recycling } from '../engine/recycle.js';
import { Tensor, alloc, shapeStr } from '../engine/tensor.js';
import type { Sequential } from '../layers/sequential.js';
import { inEvalMode } from '../layers/predict.js';

export interface LogitJacobian {
  logits: Tensor;
  /** jacobian[(n·C + c)·D + j] = ∂z_{n,c} / ∂x_{n,j}. */
  jacobian: Float32Array | Float64Array;
  C: number;
  D: number;
}

/**
 * Logits and their full input Jacobian per example (C backward passes through one recorded forward).
 * @example
 *   const { logits, jacobian, C, D } = logitJacobian(model, x);
 *   const dz3 = jacobian.subarray((0 * C + 3) * D, (0 * C + 4) * D);   // ∇x z₃ of example 0
 */
export function logitJacobian(model: Sequential, x: Tensor): LogitJacobian {
  const N = x.shape[0];
  const D = N ? x.size / N : 0;
  // only the logits (without their graph) and the Jacobian (not a Tensor.zeros array) outlive the call
  return inEvalMode(model, () => recycling(() => {
    const xi = new Tensor(x.data, x.shape).requireGrad();
    const logits = model.forward(xi);
    if (logits.ndim !== 2 || logits.shape[0] !== N) throw new Error(`logitJacobian: the model must map x ${shapeStr(x.shape)} to logits [${N}, C], got ${shapeStr(logits.shape)}`);
    const C = logits.shape[1];
    const jacobian = alloc(x.dtype, N * C * D);
    const dOut = Tensor.zeros(logits.shape, logits.dtype);
    for (let c = 0; c < C; c++) {
      // dX = (∂z/∂x)ᵀ·e_c   (row c of every example's Jacobian)
      for (let n = 0; n < N; n++) dOut.data[n * C + c] = 1;
      const [dX] = grad(logits, [xi], { dOut });
      for (let n = 0; n < N; n++) {
        dOut.data[n * C + c] = 0;
        jacobian.set(dX.data.subarray(n * D, (n + 1) * D), (n * C + c) * D);
      }
    }
    return { logits: detachLogits(logits), jacobian, C, D };
  }, (r) => [r.logits]));
}

/**
 * Logits and ∇x (z_a − z_b) per example: one forward and one backward with upstream e_a − e_b.
 * @example
 *   const { logits, dx } = logitDiffGradient(model, x, targets, y);   // ∇x (z_t − z_y)
 */
export function logitDiffGradient(model: Sequential, x: Tensor, a: ArrayLike<number>, b: ArrayLike<number>): { logits: Tensor; dx: Tensor } {
  const N = x.shape[0];
  if (a.length !== N || b.length !== N) throw new Error(`logitDiffGradient: a and b must have ${N} classes for x ${shapeStr(x.shape)}, got ${a.length} and ${b.length}`);
  return logitVjp(model, x, (logits) => {
    const C = logits.shape[1];
    const dOut = Tensor.zeros(logits.shape, logits.dtype);
    for (let n = 0; n < N; n++) {
      dOut.data[n * C + a[n]] += 1;
      dOut.data[n * C + b[n]] -= 1;
    }
    return dOut;
  });
}

/**
 * Logits and the vector-Jacobian product ∇x (u·z) for an upstream u [N, C] chosen from the logits themselves (one
 * forward, one backward): CW's margin needs the best other class at the very point it differentiates.
 * @example
 *   const { dx } = logitVjp(model, x, (z) => oneHotOf(argmax(z), z.shape));   // ∇x of each row's top logit
 */
export function logitVjp(model: Sequential, x: Tensor, upstream: (logits: Tensor) => Tensor): { logits: Tensor; dx: Tensor } {
  // only the logits (without their graph) and ∇x outlive the call: the rest is recycled (engine/recycle.ts)
  return inEvalMode(model, () => recycling(() => {
    const xi = new Tensor(x.data, x.shape).requireGrad();
    const logits = model.forward(xi);
    const dOut = upstream(detachLogits(logits));
    // dX = (∂z/∂x)ᵀ·u
    const [dx] = grad(logits, [xi], { dOut });
    return { logits: detachLogits(logits), dx };
  }, (r) => [r.logits, r.dx]));
}

function detachLogits(z: Tensor): Tensor {
  return new Tensor(z.data, z.shape);
}
