// Optimisers with PyTorch's update rules, applied in place to the parameters.
// SGD:  g ← ∇ + λ·θ;  b ← μ·b + g (momentum);  θ ← θ − η·b
// Adam: m ← β₁m + (1−β₁)g;  v ← β₂v + (1−β₂)g²;  θ ← θ − η·m̂/(√v̂ + ε), m̂ = m/(1−β₁ᵗ), v̂ = v/(1−β₂ᵗ)  (Kingma & Ba 2015)
import { Tensor, sameShape, shapeStr } from '../engine/tensor.js';
import { kernels } from '../engine/kernels/kernels.js';
import { lastingZeros } from '../engine/recycle.js';

export interface Optimizer {
  readonly name: string;
  lr: number;
  /** Apply one update from gradients given in the order of the parameters. */
  step(grads: Tensor[]): void;
  /** Internal state by name (for checkpoints). */
  state(): Map<string, Tensor>;
  loadState(state: Map<string, Float32Array | Float64Array>): void;
}

type Params = [string, Tensor][];

function checkGrads(name: string, params: Params, grads: Tensor[]): void {
  if (grads.length !== params.length) throw new Error(`${name}.step: ${grads.length} gradients for ${params.length} parameters`);
  grads.forEach((g, i) => {
    if (!sameShape(g.shape, params[i][1].shape)) {
      throw new Error(`${name}.step: gradient of '${params[i][0]}' has shape ${shapeStr(g.shape)}, parameter has ${shapeStr(params[i][1].shape)}`);
    }
  });
}

function restore(name: string, into: Map<string, Tensor>, from: Map<string, Float32Array | Float64Array>): void {
  for (const [k, t] of into) {
    const d = from.get(k);
    if (!d) throw new Error(`${name}.loadState: missing state '${k}'`);
    if (d.length !== t.size) throw new Error(`${name}.loadState: state '${k}' has ${d.length} values, expected ${t.size}`);
    t.data.set(d);
  }
}

/**
 * Stochastic gradient descent with optional momentum and weight decay.
 * @example
 *   const opt = new SGD(model.parameters(), { lr: 0.1, momentum: 0.9 });
 *   opt.step(grads);
 */
export class SGD implements Optimizer {
  readonly name = 'sgd';
  lr: number;
  readonly momentum: number;
  readonly weightDecay: number;
  private bufs: Tensor[];
  constructor(private params: Params, opts: { lr: number; momentum?: number; weightDecay?: number }) {
    this.lr = opts.lr;
    this.momentum = opts.momentum ?? 0;
    this.weightDecay = opts.weightDecay ?? 0;
    this.bufs = this.momentum > 0 ? params.map(([, p]) => Tensor.zeros(p.shape, p.dtype)) : [];
  }
  step(grads: Tensor[]): void {
    checkGrads('SGD', this.params, grads);
    const { lr, momentum: mu, weightDecay: wd } = this;
    this.params.forEach(([, p], i) => {
      const th = p.data, g = grads[i].data;
      if (mu > 0) {
        const b = this.bufs[i].data;
        for (let j = 0; j < th.length; j++) {
          b[j] = mu * b[j] + g[j] + wd * th[j];
          th[j] -= lr * b[j];
        }
      } else {
        for (let j = 0; j < th.length; j++) th[j] -= lr * (g[j] + wd * th[j]);
      }
    });
  }
  state(): Map<string, Tensor> {
    return new Map(this.bufs.map((b, i) => [`momentum.${this.params[i][0]}`, b]));
  }
  loadState(s: Map<string, Float32Array | Float64Array>): void {
    restore('SGD', this.state(), s);
  }
}

/**
 * Adam.
 * @example
 *   const opt = new Adam(model.parameters(), { lr: 1e-3 });
 *   opt.step(grads);
 */
export class Adam implements Optimizer {
  readonly name = 'adam';
  lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  private t: Tensor;
  private m: Tensor[];
  private v: Tensor[];
  constructor(private params: Params, opts: { lr?: number; beta1?: number; beta2?: number; eps?: number; weightDecay?: number } = {}) {
    this.lr = opts.lr ?? 1e-3;
    this.beta1 = opts.beta1 ?? 0.9;
    this.beta2 = opts.beta2 ?? 0.999;
    this.eps = opts.eps ?? 1e-8;
    this.weightDecay = opts.weightDecay ?? 0;
    this.t = Tensor.zeros([1], 'float64');
    // float32 moments in the kernels' linear memory where it has room: the update reads and writes them in place
    const moment = (p: Tensor) => (p.dtype === 'float32' ? new Tensor(lastingZeros(p.size), p.shape) : Tensor.zeros(p.shape, p.dtype));
    this.m = params.map(([, p]) => moment(p));
    this.v = params.map(([, p]) => moment(p));
  }
  step(grads: Tensor[]): void {
    checkGrads('Adam', this.params, grads);
    const t = ++this.t.data[0];
    const { lr, beta1: b1, beta2: b2, eps, weightDecay: wd } = this;
    // PyTorch's arrangement of the bias corrections: θ −= (lr/c1)·m / (√v/√c2 + ε)
    const c1 = 1 - Math.pow(b1, t), c2 = 1 - Math.pow(b2, t);
    // The update itself is a kernel (WebAssembly on the kernel threads when built): the same bits either way.
    const k = kernels();
    for (let i = 0; i < this.params.length; i++) {
      k.adamUpdate(this.params[i][1].data, grads[i].data, this.m[i].data, this.v[i].data, b1, b2, wd, eps, lr / c1, 1 / Math.sqrt(c2));
    }
  }
  state(): Map<string, Tensor> {
    const s = new Map<string, Tensor>([['step', this.t]]);
    this.params.forEach(([n], i) => {
      s.set(`exp_avg.${n}`, this.m[i]);
      s.set(`exp_avg_sq.${n}`, this.v[i]);
    });
    return s;
  }
  loadState(s: Map<string, Float32Array | Float64Array>): void {
    restore('Adam', this.state(), s);
  }
}

export type OptimizerName = 'sgd' | 'momentum' | 'adam';

/**
 * An optimiser by name: 'sgd', 'momentum' (SGD with momentum 0.9 unless given) or 'adam'.
 * @example
 *   const opt = makeOptimizer('adam', model.parameters(), { lr: 1e-3 });
 */
export function makeOptimizer(
  name: string,
  params: Params,
  opts: { lr: number; momentum?: number; weightDecay?: number },
): Optimizer {
  if (!(opts.lr > 0) || !Number.isFinite(opts.lr)) throw new Error(`makeOptimizer: learning rate must be a positive number, got ${opts.lr}`);
  switch (name) {
    case 'sgd':
      return new SGD(params, { lr: opts.lr, momentum: opts.momentum ?? 0, weightDecay: opts.weightDecay });
    case 'momentum':
      return new SGD(params, { lr: opts.lr, momentum: opts.momentum ?? 0.9, weightDecay: opts.weightDecay });
    case 'adam':
      return new Adam(params, { lr: opts.lr, weightDecay: opts.weightDecay });
    default:
      throw new Error(`makeOptimizer: unknown optimiser '${name}' (expected sgd, momentum or adam)`);
  }
}
