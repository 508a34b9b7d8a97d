// Reverse-mode autodiff. Every op application records a Node on its output (define-by-run, like micrograd);
// grad() sorts the graph topologically from the loss, walks it in reverse calling each op's backward, and
// accumulates (sums) the gradients of a tensor used in several places. Each returned gradient is shape-checked.
import { Tensor, sameShape, shapeStr, type Node, type Shape } from './tensor.js';

export type { Node };

/** What an op's backward receives besides the upstream gradient. */
export interface BackwardContext<A, S> {
  inputs: Tensor[];
  out: Tensor;
  attrs: A;
  saved: S;
  /** needs[i]: whether the caller wants the gradient of inputs[i]; backward may return null for the others. */
  needs: boolean[];
}

/**
 * An op: a named forward and its vector-Jacobian product, side by side.
 * forward returns the output and whatever backward needs to have saved.
 */
export interface Op<A = unknown, S = unknown> {
  name: string;
  forward(inputs: Tensor[], attrs: A): { out: Tensor; saved: S };
  backward(dOut: Tensor, ctx: BackwardContext<A, S>): (Tensor | null)[];
}

let gradEnabled = true;

/** Whether op applications are being recorded. */
export function isGradEnabled(): boolean {
  return gradEnabled;
}

/**
 * Run `fn` without recording the graph (evaluation, attacks' bookkeeping, optimiser updates).
 * @example
 *   const logits = noGrad(() => model.forward(x));
 */
export function noGrad<T>(fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

/**
 * Whether apply() will record an op on these inputs, i.e. whether its backward can run: a forward may skip saving
 * what only the backward reads when not.
 */
export function willRecord(inputs: Tensor[]): boolean {
  return gradEnabled && inputs.some((t) => t.requiresGrad);
}

/**
 * Apply an op: run its forward and, if any input requires a gradient, record a Node on the output.
 * @example
 *   const y = apply(elementwiseOps.relu, [x], {});
 */
export function apply<A, S>(op: Op<A, S>, inputs: Tensor[], attrs: A): Tensor {
  const { out, saved } = op.forward(inputs, attrs);
  if (willRecord(inputs)) {
    out.requiresGrad = true;
    out.node = { op, inputs, attrs, saved };
  }
  return out;
}

export interface GradOptions {
  /** Upstream gradient for a non-scalar `output` (default: ones, which requires a scalar output). */
  dOut?: Tensor;
}

/**
 * Gradients of `output` with respect to each tensor in `wrt` (leaves or intermediate tensors).
 * A tensor that does not influence `output` gets zeros.
 * @example
 *   const [dx, dW] = grad(loss, [x, layer.weight]);
 */
export function grad(output: Tensor, wrt: Tensor[], opts: GradOptions = {}): Tensor[] {
  let seed = opts.dOut;
  if (seed) {
    if (!sameShape(seed.shape, output.shape)) {
      throw new Error(`grad: dOut has shape ${shapeStr(seed.shape)}, output has ${shapeStr(output.shape)}`);
    }
  } else {
    if (output.size !== 1) throw new Error(`grad: output has shape ${shapeStr(output.shape)}; pass dOut for a non-scalar output`);
    seed = Tensor.full(output.shape, 1, output.dtype);
  }

  const targets = new Set(wrt);
  // reaches(t): t is a target or an ancestor of t is; only those inputs need a gradient.
  const reach = new Map<Tensor, boolean>();
  const reaches = (t: Tensor): boolean => {
    const known = reach.get(t);
    if (known !== undefined) return known;
    let r = targets.has(t);
    reach.set(t, r); // guards against revisiting while exploring
    if (t.node) for (const p of t.node.inputs) if (reaches(p)) r = true;
    reach.set(t, r);
    return r;
  };

  // Topological order by iterative DFS (graphs of deep nets would overflow a recursive one).
  const order: Tensor[] = [];
  const visited = new Set<Tensor>();
  const stack: [Tensor, number][] = [[output, 0]];
  while (stack.length) {
    const top = stack[stack.length - 1];
    const [t, i] = top;
    if (i === 0) {
      if (visited.has(t)) {
        stack.pop();
        continue;
      }
      visited.add(t);
    }
    const inputs = t.node ? t.node.inputs : [];
    if (i < inputs.length) {
      top[1] = i + 1;
      if (!visited.has(inputs[i])) stack.push([inputs[i], 0]);
    } else {
      stack.pop();
      order.push(t);
    }
  }

  const grads = new Map<Tensor, Tensor>();
  grads.set(output, seed);
  for (let k = order.length - 1; k >= 0; k--) {
    const t = order[k];
    const node = t.node;
    const dOut = grads.get(t);
    if (!node || !dOut) continue;
    const needs = node.inputs.map((p) => p.requiresGrad && reaches(p));
    if (!needs.some(Boolean)) continue;
    const dInputs = node.op.backward(dOut, { inputs: node.inputs, out: t, attrs: node.attrs, saved: node.saved, needs });
    for (let i = 0; i < node.inputs.length; i++) {
      if (!needs[i]) continue;
      const g = dInputs[i];
      const p = node.inputs[i];
      if (!g) throw new Error(`grad: op '${node.op.name}' returned no gradient for input ${i}`);
      if (!sameShape(g.shape, p.shape)) {
        throw new Error(
          `grad: op '${node.op.name}' returned a gradient of shape ${shapeStr(g.shape)} for input ${i} of shape ${shapeStr(p.shape)}`,
        );
      }
      accumulate(grads, p, g);
    }
  }
  return wrt.map((t) => grads.get(t) ?? Tensor.zeros(t.shape, t.dtype));
}

// A value used in several places gets the sum of its gradients. The sum goes into a fresh buffer because a
// backward may hand back its upstream gradient itself (add does) and that buffer may be shared.
function accumulate(grads: Map<Tensor, Tensor>, t: Tensor, g: Tensor): void {
  const prev = grads.get(t);
  if (!prev) {
    grads.set(t, g);
    return;
  }
  const sum = Tensor.empty(prev.shape, prev.dtype); // (inside a recycling scope: from the pool or arena)
  const s = sum.data, p = prev.data, d = g.data;
  for (let i = 0; i < s.length; i++) s[i] = p[i] + d[i];
  grads.set(t, sum);
}

/** Helper for ops: a zero tensor like `t`. */
export function zerosLike(t: Tensor | { shape: Shape; dtype: Tensor['dtype'] }): Tensor {
  return Tensor.zeros(t.shape, t.dtype);
}
