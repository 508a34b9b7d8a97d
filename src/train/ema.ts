// Weight averaging: an exponential moving average of the weights (parameters and batch-norm statistics), kept beside
// the trained model and evaluated as a model of its own. Gowal, Qin, Uesato, Mann & Kohli, "Uncovering the Limits of
// Adversarial Training against Norm-Bounded Adversarial Examples", 2020 (arXiv 2010.03593), §4 report it among the
// largest gains. After every optimiser step t (1-based):
//   θ̄ ← d_t·θ̄ + (1 − d_t)·θ,   d_t = min(d, (1 + t)/(10 + t))
// The warm-up of d_t is TensorFlow's ExponentialMovingAverage with num_updates (not from Gowal et al.): without it a
// short run's average would keep 0.999^t of the random initialisation. θ̄ starts as the weights at construction; it is
// kept in the model's dtype, so a saved average reloads to the same bits and a resumed run continues exactly.
import { buildModel } from '../layers/spec.js';
import type { Sequential } from '../layers/sequential.js';
import { loadModel, saveModel } from '../io/model-file.js';

/**
 * An exponential moving average of a model's weights, held in a second model of the same architecture.
 * @example
 *   const ema = new WeightAverage(model, { decay: 0.999 });
 *   // after every optimiser step: ema.update(model); at the end: evaluate(ema.model, testSet)
 */
export class WeightAverage {
  readonly decay: number;
  /** Updates taken (optimiser steps averaged). */
  updates = 0;
  /** The averaged weights, as a model in evaluation mode. */
  readonly model: Sequential;

  constructor(model: Sequential, opts: { decay?: number } = {}) {
    this.decay = opts.decay ?? 0.999;
    if (!(this.decay >= 0 && this.decay < 1)) throw new Error(`WeightAverage: decay must be in [0, 1), got ${this.decay}`);
    const dtype = model.stateDict()[0]?.[1].dtype ?? 'float32';
    this.model = buildModel(model.spec(), { seed: 0, dtype }).eval();
    this.copyFrom(model);
  }

  /** The decay used at the next update. */
  currentDecay(): number {
    const t = this.updates + 1;
    return Math.min(this.decay, (1 + t) / (10 + t));
  }

  /**
   * Average in the model's current weights (call after each optimiser step).
   * @example
   *   opt.step(grads); ema.update(model);
   */
  update(model: Sequential): void {
    const d = this.currentDecay();
    const src = model.stateDict(), dst = this.model.stateDict();
    if (src.length !== dst.length) throw new Error(`WeightAverage.update: the model has ${src.length} tensors, the average ${dst.length}`);
    for (let i = 0; i < src.length; i++) {
      const a = dst[i][1].data, b = src[i][1].data;
      if (a.length !== b.length) throw new Error(`WeightAverage.update: tensor '${src[i][0]}' has ${b.length} values, the average's has ${a.length}`);
      // θ̄ = d·θ̄ + (1 − d)·θ
      for (let j = 0; j < a.length; j++) a[j] = d * a[j] + (1 - d) * b[j];
    }
    this.updates++;
  }

  /** Restart the average at the model's weights. */
  copyFrom(model: Sequential): void {
    const src = model.stateDict();
    this.model.stateDict().forEach(([, t], i) => t.data.set(src[i][1].data));
  }

  /**
   * Write the averaged weights as a model file (the decay, the update count and `extra` in its metadata).
   * @example
   *   ema.save('runs/robust.ema.safetensors', { epoch: '3' });
   */
  save(path: string, extra: Record<string, string> = {}): void {
    saveModel(path, this.model, { ...extra, emaDecay: String(this.decay), emaUpdates: String(this.updates) });
  }

  /**
   * Continue from a file written by `save`: its weights and update count; returns its metadata. Throws if the file
   * is for another architecture or another decay.
   * @example
   *   const meta = ema.load('runs/robust.ema.safetensors');   // meta.epoch
   */
  load(path: string): Record<string, string> {
    const { model, metadata } = loadModel(path);
    if (JSON.stringify(model.spec()) !== JSON.stringify(this.model.spec())) throw new Error(`WeightAverage.load: ${path} is for a different architecture`);
    if (Number(metadata.emaDecay) !== this.decay) throw new Error(`WeightAverage.load: ${path} averages with decay ${metadata.emaDecay}, this run uses ${this.decay}`);
    const updates = Number(metadata.emaUpdates);
    if (!Number.isInteger(updates) || updates < 0) throw new Error(`WeightAverage.load: ${path}: bad emaUpdates ${JSON.stringify(metadata.emaUpdates)}`);
    this.copyFrom(model);
    this.updates = updates;
    return metadata;
  }
}
