// `adv-train`'s final AutoAttack evaluation (Croce & Hein, ICML 2020, arXiv 2003.01690, §5): by default the cheaper
// documented setting APGD-CE then APGD-T (9 targets), each on the points still robust, as AutoAttack runs its first
// two stages; with --final-attack autoattack the full 'standard' version (APGD-CE, APGD-T, FAB-T, Square). One
// progress bar per stage (points/s and ETA on stderr), and the warning when PGD-40 overstates robustness.
import { autoAttack } from '../attacks/autoattack.js';
import { apgdCe, apgdT } from '../attacks/apgd.js';
import { Tensor, alloc } from '../engine/tensor.js';
import { argmax, predict } from '../layers/predict.js';
import type { Sequential } from '../layers/sequential.js';
import { getBatch } from '../data/batches.js';
import type { Dataset } from '../data/datasets.js';
import { plural, progressBar, UsageError } from './util.js';

export const finalAttacks = ['apgd', 'autoattack'] as const;
export type FinalAttack = (typeof finalAttacks)[number];

/** What the JSON's autoattackVersion says each setting ran. */
export const finalAttackVersions: Record<FinalAttack, string> = {
  apgd: 'apgd-ce+apgd-t',
  autoattack: 'standard (apgd-ce, apgd-t, fab-t, square)',
};

export interface FinalAutoAttack {
  /** autoattackVersion of the JSON: the stages run. */
  version: string;
  /** Robust accuracy over all N images after the last stage (misclassified clean images count as broken). */
  robustAccuracy: number;
  cleanAccuracy: number;
  stages: { attack: string; robustAccuracy: number; attacked: number; broken: number }[];
  /** AutoAttack's own checks that flagged something (full version only). */
  warnings: string[];
}

/**
 * Parse --final-attack (usage error naming the flag).
 * @example
 *   finalAttackFlag(undefined);      // 'apgd'
 *   finalAttackFlag('autoattack');   // 'autoattack'
 */
export function finalAttackFlag(v: string | undefined): FinalAttack {
  const s = v ?? 'apgd';
  if (!(finalAttacks as readonly string[]).includes(s)) throw new UsageError(`--final-attack must be ${finalAttacks.join(' or ')}, got '${s}'`);
  return s as FinalAttack;
}

/**
 * AutoAttack's stages (L∞, at ε) on all images of `ds`, each stage only on the points every earlier stage failed on.
 * `steps` is the APGD/FAB iteration count (100 for reported numbers).
 * @example
 *   const r = finalAutoAttack(model, slice, 0.3, { attack: 'apgd', seed: 0, steps: 100 });
 *   r.robustAccuracy;   // after APGD-CE and APGD-T
 */
export function finalAutoAttack(model: Sequential, ds: Dataset, eps: number, o: { attack: FinalAttack; seed: number; steps: number; progress?: boolean }): FinalAutoAttack {
  const { x, y } = getBatch(ds, null, 0, ds.count);
  let bar: ReturnType<typeof progressBar> | null = null;
  const onStage = (stage: string, points: number) => {
    bar?.stop();
    bar = o.progress === false ? null : progressBar(`AutoAttack ${stage} ε=${eps} on ${plural(points, 'still-robust test image')}`, points, '{rate} img/s');
  };
  const onProgress = (done: number) => bar?.update(done);
  let out: FinalAutoAttack;
  if (o.attack === 'autoattack') {
    const { report } = autoAttack(model, x, y, { eps, norm: 'linf', version: 'standard', seed: o.seed, steps: o.steps, onStage, onProgress });
    out = { version: finalAttackVersions.autoattack, robustAccuracy: report.robustAccuracy, cleanAccuracy: report.cleanAccuracy, stages: report.stages.map(({ attack, robustAccuracy, attacked, broken }) => ({ attack, robustAccuracy, attacked, broken })), warnings: report.warnings };
  } else {
    out = apgdPair(model, x, y, eps, o.seed, o.steps, onStage, onProgress);
  }
  (bar as ReturnType<typeof progressBar> | null)?.stop();
  return out;
}

/** APGD-CE then APGD-T (9 targets, 1 restart each), batches of 250 as the reference, as AutoAttack's first two stages. */
function apgdPair(model: Sequential, x: Tensor, y: Int32Array, eps: number, seed: number, steps: number,
  onStage: (stage: string, points: number) => void, onProgress: (done: number) => void): FinalAutoAttack {
  const N = x.shape[0], D = N ? x.size / N : 0, bs = 250;
  const rowsOf = (rows: number[]) => {
    const data = alloc(x.dtype, rows.length * D);
    rows.forEach((n, i) => data.set(x.data.subarray(n * D, (n + 1) * D), i * D));
    return { xb: new Tensor(data, [rows.length, ...x.shape.slice(1)]), yb: Int32Array.from(rows, (n) => y[n]) };
  };
  const robust = new Uint8Array(N);
  for (let s = 0; s < N; s += bs) {
    const rows = Array.from({ length: Math.min(bs, N - s) }, (_, i) => s + i);
    argmax(predict(model, rowsOf(rows).xb)).forEach((p, i) => (robust[s + i] = p === y[s + i] ? 1 : 0));
  }
  const count = () => robust.reduce((a, b) => a + b, 0);
  const cleanAccuracy = N ? count() / N : 0;
  const stages: FinalAutoAttack['stages'] = [];
  for (const [name, attack] of [['apgd-ce', apgdCe], ['apgd-t', apgdT]] as const) {
    const idx: number[] = [];
    for (let n = 0; n < N; n++) if (robust[n]) idx.push(n);
    if (!idx.length) break;
    onStage(name, idx.length);
    let broken = 0;
    for (let s = 0; s < idx.length && eps > 0; s += bs) {
      const rows = idx.slice(s, s + bs);
      const { xb, yb } = rowsOf(rows);
      const r = attack.run(model, xb, yb, { eps, norm: 'linf', seed, steps, restarts: 1, ...(name === 'apgd-t' ? { nTargetClasses: 9 } : {}), onProgress: (f) => onProgress(s + f * rows.length) });
      // As AutoAttack: a point is broken only when the model misclassifies the returned point.
      argmax(predict(model, r.adversarial)).forEach((p, i) => {
        if (p !== yb[i]) {
          robust[rows[i]] = 0;
          broken++;
        }
      });
      onProgress(s + rows.length);
    }
    stages.push({ attack: name, robustAccuracy: N ? count() / N : 0, attacked: idx.length, broken });
  }
  return { version: finalAttackVersions.apgd, robustAccuracy: N ? count() / N : 0, cleanAccuracy, stages, warnings: [] };
}

/**
 * The warning when PGD-40 accuracy exceeds the AutoAttack figure by more than 2 points (accuracies in [0, 1]).
 * @example
 *   autoattackGapWarning(0.90, 0.85, 'apgd-ce+apgd-t', 0.3);   // 'PGD-40 overstates robustness by 5.0 points (…)'
 *   autoattackGapWarning(0.90, 0.89, 'apgd-ce+apgd-t', 0.3);   // null
 */
export function autoattackGapWarning(pgdAccuracy: number, autoattackAccuracy: number, version: string, eps: number): string | null {
  // in points, rounded to 1e-9 so that 0.90 − 0.88 is 2 points, not 2.0000000000000013 (accuracies are k/N)
  const gap = Math.round(1e11 * (pgdAccuracy - autoattackAccuracy)) / 1e9;
  if (!(gap > 2)) return null;
  return `PGD-40 overstates robustness by ${gap.toFixed(1)} points (AutoAttack ${version} at ε = ${eps}: ${(100 * autoattackAccuracy).toFixed(1)}%, ` +
    `PGD-40 ${(100 * pgdAccuracy).toFixed(1)}%); report the AutoAttack figure`;
}
