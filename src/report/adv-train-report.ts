// The report of an adversarial-training run (`nablax adv-train --out DIR`) from its result document (AdvTrainJson):
// report.md (the final clean / FGSM / PGD-40 / AutoAttack figures, the guard's and the weight average's lines, the
// per-epoch table, the warnings) and curve.svg (accuracy per epoch). The CLI writes the files.
import type { GuardReport } from '../train/guard.js';
import type { AdvTrainJson } from './json-types.js';
import { lineChartSvg } from './plot.js';
import { duration, pct, plural } from './text.js';

/** The guard's line: what it measured, its best, and whether it stopped the run. */
function guardLines(g: (GuardReport & { slice: number }) | null): string[] {
  if (!g) return [];
  const best = g.best === null ? 'none yet' : `${pct(g.best)} (epoch ${g.bestEpoch}, step ${g.bestStep})`;
  return [
    `Guard against catastrophic overfitting: PGD accuracy on ${plural(g.slice, 'held-out training image')}, ${plural(g.history.length, 'check')}, best ${best}. ` +
      (g.stoppedAt ? `Stopped: ${g.reason}; ${g.restored ? 'the best weights were restored' : 'no best weights to restore'}.` : 'No collapse.'),
    '',
  ];
}

/** The weight average's line: its clean and robust figures and its file. */
function emaLines(e: AdvTrainJson['ema'], count: number, version: string): string[] {
  if (!e) return [];
  return [`Weight average (decay ${e.decay}, ${e.modelFile}): clean ${pct(e.cleanAccuracy)} on the official test set; FGSM ${pct(e.fgsmAccuracy)}, ` +
    `PGD-40 ${pct(e.pgdAccuracy)} and AutoAttack (${version}) ${pct(e.autoattackAccuracy)} on the first ${count} test images; robust accuracy ${pct(e.robustAccuracy)}.`, ''];
}

/**
 * report.md and curve.svg (null when no per-epoch point was measured) of an adversarial-training run; the markdown
 * links curve.svg, which goes beside it.
 * @example
 *   const { markdown, curveSvg } = await advTrainReport(doc);
 *   if (curveSvg) saveSvg(join(dir, 'curve.svg'), curveSvg);
 */
export async function advTrainReport(doc: AdvTrainJson): Promise<{ markdown: string; curveSvg: string | null }> {
  const curve = doc.robustHistory;
  const lines = [
    `# Adversarial training: ${doc.model}, ${doc.method}, ε = ${doc.eps}`,
    '',
    `Clean accuracy ${pct(doc.cleanAccuracy)} on ${plural(doc.testCount, 'test image')}; FGSM ${pct(doc.fgsmAccuracy)}, PGD-40 ` +
      `${pct(doc.pgdAccuracy)} and AutoAttack (${doc.autoattackVersion}${doc.autoattackSteps !== 100 ? `, ${doc.autoattackSteps} steps` : ''}) ${pct(doc.autoattackAccuracy)} ` +
      `on the first ${plural(doc.robustCount, 'test image')}; robust accuracy (the minimum over these attacks) ${pct(doc.robustAccuracy)}; training ${duration(doc.trainSeconds)}.`,
    '',
    ...guardLines(doc.guard as (GuardReport & { slice: number }) | null),
    ...emaLines(doc.ema, doc.robustCount, doc.autoattackVersion),
    ...(curve.length
      ? ['| epoch | clean | FGSM | PGD-40 |', '|---|---|---|---|',
        ...curve.map((p) => `| ${p.epoch} | ${pct(p.cleanAccuracy)} | ${pct(p.fgsmAccuracy)} | ${pct(p.pgdAccuracy)} |`)]
      : ['No per-epoch measurement (--epoch-test-limit 0).']),
    '',
    ...((doc.warnings).length ? ['Warnings:', '', ...(doc.warnings).map((w) => `- ${w}`), ''] : []),
  ];
  let curveSvg: string | null = null;
  if (curve.length) {
    const series = (['cleanAccuracy', 'fgsmAccuracy', 'pgdAccuracy'] as const).map((k, i) => ({
      name: ['clean', 'FGSM', 'PGD-40'][i],
      points: curve.map((p) => ({ x: p.epoch, y: p[k] })),
    }));
    curveSvg = await lineChartSvg({ title: `Accuracy per epoch (${doc.method}, ε = ${doc.eps})`, xTitle: 'epoch', yTitle: 'accuracy', series, yDomain: [0, 1] });
    lines.push('![accuracy per epoch](curve.svg)', '');
  }
  return { markdown: lines.join('\n'), curveSvg };
}
