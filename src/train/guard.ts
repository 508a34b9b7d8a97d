// A guard against catastrophic overfitting in fast adversarial training (Wong, Rice & Kolter, "Fast is better than
// free", ICLR 2020, arXiv 2001.03994, §5: FGSM training can lose all PGD robustness within a few steps, and early
// stopping on a held-out PGD measurement avoids it). Every check measures robust accuracy a (any function of the
// model; pgdAccuracy on a held-out slice of the training set in `adv-train`), keeps the best weights in memory (and
// in a model file when given a path), and declares a collapse when
//     a < ratio·best  and  a < floor        (defaults ratio 0.5, floor 0.2)
// i.e. robust accuracy has more than halved from its best and is low in absolute terms; the trainer then stops and
// restores the best weights.
import { copyOf } from '../engine/nd.js';
import { pgd } from '../attacks/pgd.js';
import type { Sequential } from '../layers/sequential.js';
import { saveModel } from '../io/model-file.js';
import { getBatch } from '../data/batches.js';
import type { Dataset } from '../data/datasets.js';
import { argmax, predict } from '../layers/predict.js';

export interface GuardPoint {
  /** The epoch in progress (1-based) when measured; the epoch just completed for per-epoch checks. */
  epoch: number;
  /** Optimiser steps taken before the measurement. */
  step: number;
  /** Robust accuracy measured. */
  accuracy: number;
}

export interface GuardOptions {
  /** Robust accuracy of the model now, in [0, 1]. */
  measure: (model: Sequential) => number;
  /** Collapse when accuracy falls below ratio × best (default 0.5)… */
  ratio?: number;
  /** …and below this absolute floor (default 0.2). */
  floor?: number;
  /** Write the best weights here as a model file at every new best. */
  bestPath?: string;
  /** Extra metadata for that file. */
  metadata?: Record<string, string>;
}

/** What the guard saw: JSON for reports, and what a resumed run starts from. */
export interface GuardReport {
  ratio: number;
  floor: number;
  best: number | null;
  bestEpoch: number | null;
  bestStep: number | null;
  /** The check at which the collapse was declared, null if none. */
  stoppedAt: { epoch: number; step: number } | null;
  reason: string | null;
  /** Whether the best weights were put back into the model. */
  restored: boolean;
  history: GuardPoint[];
}

const pct = (v: number) => `${(100 * v).toFixed(1)}%`;

/**
 * Watches robust accuracy during training; `check` after every epoch (or every K steps), `restoreBest` on a collapse.
 * @example
 *   const guard = new OverfittingGuard({ measure: (m) => pgdAccuracy(m, heldOut, { eps: 0.3 }) });
 *   await train(model, data, { ...opts, onEpoch: (r) => { guard.check(model, { epoch: r.epoch, step: r.epoch * batches }); }, shouldStop: () => guard.collapsed });
 *   if (guard.collapsed) guard.restoreBest(model);
 */
export class OverfittingGuard {
  readonly ratio: number;
  readonly floor: number;
  history: GuardPoint[] = [];
  best: GuardPoint | null = null;
  stoppedAt: GuardPoint | null = null;
  reason: string | null = null;
  restored = false;
  private snapshot: (Float32Array | Float64Array)[] | null = null;

  constructor(private readonly opts: GuardOptions) {
    this.ratio = opts.ratio ?? 0.5;
    this.floor = opts.floor ?? 0.2;
    if (!(this.ratio > 0 && this.ratio <= 1)) throw new Error(`OverfittingGuard: ratio must be in (0, 1], got ${this.ratio}`);
    if (!(this.floor >= 0 && this.floor <= 1)) throw new Error(`OverfittingGuard: floor must be in [0, 1], got ${this.floor}`);
  }

  /** True once a collapse has been declared. */
  get collapsed(): boolean {
    return this.stoppedAt !== null;
  }

  /**
   * Measure the model; remember it if it is the best so far; declare a collapse if it fell below both thresholds.
   * @example
   *   if (guard.check(model, { epoch: 3, step: 1200 }) === 'collapsed') guard.restoreBest(model);
   */
  check(model: Sequential, at: { epoch: number; step: number }): 'best' | 'ok' | 'collapsed' {
    const accuracy = this.opts.measure(model);
    if (!(accuracy >= 0 && accuracy <= 1)) throw new Error(`OverfittingGuard.check: measure returned ${accuracy}, expected an accuracy in [0, 1]`);
    const p: GuardPoint = { epoch: at.epoch, step: at.step, accuracy };
    this.history.push(p);
    const best = this.best;
    if (best && accuracy < this.ratio * best.accuracy && accuracy < this.floor) {
      this.stoppedAt = p;
      this.reason = `robust accuracy collapsed to ${pct(accuracy)} at epoch ${p.epoch} (step ${p.step}), below ${this.ratio} × the best ` +
        `${pct(best.accuracy)} (epoch ${best.epoch}, step ${best.step}) and below the floor ${pct(this.floor)}: catastrophic overfitting`;
      return 'collapsed';
    }
    if (best && accuracy <= best.accuracy) return 'ok';
    this.best = p;
    this.snapshot = model.stateDict().map(([, t]) => copyOf(t.data));
    if (this.opts.bestPath) {
      saveModel(this.opts.bestPath, model, {
        ...(this.opts.metadata ?? {}), guardAccuracy: String(accuracy), guardEpoch: String(p.epoch), guardStep: String(p.step),
      });
    }
    return 'best';
  }

  /**
   * Put the best weights (parameters and batch-norm statistics) back into the model; false if there are none.
   * @example
   *   guard.restoreBest(model);
   */
  restoreBest(model: Sequential): boolean {
    if (!this.snapshot) return false;
    model.stateDict().forEach(([, t], i) => t.data.set(this.snapshot![i]));
    this.restored = true;
    return true;
  }

  /**
   * Continue from a report saved by an earlier run (a resumed training): the checks up to `step` and their best, with
   * the best weights taken from `bestWeights` (the best model file) when they belong to that best.
   * @example
   *   guard.resume(saved.guard, 3 * batches, loadModel(bestPath));
   */
  resume(report: GuardReport, step: number, bestWeights?: { model: Sequential; metadata: Record<string, string> }): void {
    this.history = report.history.filter((p) => p.step <= step);
    this.best = this.history.reduce<GuardPoint | null>((b, p) => (b && b.accuracy >= p.accuracy ? b : p), null);
    this.stoppedAt = null;
    this.reason = null;
    this.restored = false;
    this.snapshot = null;
    if (!bestWeights) return;
    const m = bestWeights.metadata;
    const fileBest: GuardPoint = { epoch: Number(m.guardEpoch), step: Number(m.guardStep), accuracy: Number(m.guardAccuracy) };
    if (!(fileBest.step <= step) || !(fileBest.accuracy >= (this.best?.accuracy ?? 0))) return;
    this.best = fileBest;
    this.snapshot = bestWeights.model.stateDict().map(([, t]) => copyOf(t.data));
  }

  report(): GuardReport {
    return {
      ratio: this.ratio, floor: this.floor,
      best: this.best?.accuracy ?? null, bestEpoch: this.best?.epoch ?? null, bestStep: this.best?.step ?? null,
      stoppedAt: this.stoppedAt ? { epoch: this.stoppedAt.epoch, step: this.stoppedAt.step } : null,
      reason: this.reason, restored: this.restored, history: this.history.slice(),
    };
  }
}

export interface PgdAccuracyOptions {
  eps: number;
  /** PGD steps (default 10). */
  steps?: number;
  /** Step length (default ε/4: 10 steps travel 2.5·ε, Madry's rule of thumb). */
  stepSize?: number;
  seed?: number;
  batchSize?: number;
}

/**
 * Accuracy under L∞ PGD (random start, seeded) on a dataset, in evaluation mode; synchronous, so a guard can run
 * it between two training steps.
 * @example
 *   const robust = pgdAccuracy(model, heldOut, { eps: 0.3, steps: 10 });
 */
export function pgdAccuracy(model: Sequential, ds: Dataset, opts: PgdAccuracyOptions): number {
  const steps = opts.steps ?? 10;
  const stepSize = opts.stepSize ?? opts.eps / 4;
  const bs = opts.batchSize ?? 256;
  let correct = 0;
  for (let s = 0, b = 0; s < ds.count; s += bs, b++) {
    const { x, y } = getBatch(ds, null, s, Math.min(s + bs, ds.count));
    const r = pgd.run(model, x, y, { eps: opts.eps, steps, stepSize, seed: (opts.seed ?? 0) + b });
    const pred = argmax(r.logits ?? predict(model, r.adversarial));
    for (let i = 0; i < y.length; i++) if (pred[i] === y[i]) correct++;
  }
  return ds.count ? correct / ds.count : 0;
}
