// The report of `nablax experiment advprop` (AdvProp against vanilla training of the cnn-bn over several seeds;
// experiments/advprop.ts) from its result: setup, the mean ± standard deviation table, the verdict and its rule, the
// per-seed table. The CLI prints it and writes report.md.

type Metrics = Record<'cleanAccuracy' | 'auc' | 'robustAccuracy' | 'autoattackAccuracy', { mean: number; std: number }>;

/** What the report reads of experiments/advprop.ts's AdvpropResult. */
export interface AdvpropReport {
  quick: boolean;
  seeds: number[];
  sizes: { trainLimit: number; testLimit: number; robustLimit: number; epochs: number; batchSize: number; lr: number };
  attack: { eps: number; steps: number; stepSize: number; evalSteps: number; evalStepSize: number };
  data: { train: string };
  /** Per method (in the table's order), each metric's mean and sample standard deviation over the seeds. */
  summary: Record<string, Metrics>;
  conclusion: string;
  rule: string;
  autoattack: { version: string; steps: number };
  warnings: string[];
  runs: { seed: number; method: string; cleanAccuracy: number; auc: number; robustAccuracy: number; autoattackAccuracy: number; trainSeconds: number }[];
  seconds: number;
}

const meanPm = (s: { mean: number; std: number }, scale: number, digits: number) => `${(scale * s.mean).toFixed(digits)} ± ${(scale * s.std).toFixed(digits)}`;

/** The methods' names in the table (a method without one shows as it is named). */
const label: Record<string, string> = { vanilla: 'vanilla (cross-entropy)', advprop: 'AdvProp' };

/**
 * The report as Markdown: setup, the mean ± std table (one row per method, in the summary's order), the per-seed
 * table, the verdict and the rule.
 * @example
 *   writeFileAtomic('runs/advprop/report.md', advpropMarkdown(r));
 */
export function advpropMarkdown(r: AdvpropReport): string {
  const s = r.sizes, a = r.attack;
  return [
    `# AdvProp against vanilla training, cnn-bn on MNIST${r.quick ? ' (quick)' : ''}`,
    '',
    `Seeds ${r.seeds.join(', ')}; ${s.trainLimit.toLocaleString('en-US')} training images (${r.data.train}), ${s.epochs} epoch${s.epochs === 1 ? '' : 's'}, ` +
      `batch ${s.batchSize}, Adam ${s.lr} with cosine decay. AdvProp's attacker: PGD ε = ${a.eps}, ${a.steps} steps of ${a.stepSize}, random start, through ` +
      `the auxiliary batch-norm. Clean accuracy and macro one-vs-rest AUC on ${s.testLimit.toLocaleString('en-US')} test images; PGD-${a.evalSteps} ` +
      `(ε = ${a.eps}, step ${a.evalStepSize}, random start) and AutoAttack (${r.autoattack.version}, ${r.autoattack.steps} steps per stage, same ε) ` +
      `accuracy on the first ${s.robustLimit.toLocaleString('en-US')}. ${r.seconds.toFixed(0)} s.`,
    '',
    `| method | clean accuracy (%) | macro AUC | PGD-${a.evalSteps} accuracy (%) | AutoAttack accuracy (%) |`,
    '|---|---|---|---|---|',
    ...Object.entries(r.summary).map(([m, x]) => `| ${label[m] ?? m} | ${meanPm(x.cleanAccuracy, 100, 2)} | ${meanPm(x.auc, 1, 5)} | ${meanPm(x.robustAccuracy, 100, 1)} | ` +
      `${meanPm(x.autoattackAccuracy, 100, 1)} |`),
    '',
    r.conclusion,
    '',
    ...(r.warnings.length ? ['Warnings:', '', ...r.warnings.map((w) => `- ${w}`), ''] : []),
    `Rule: ${r.rule}`,
    '',
    '## Per seed',
    '',
    '| seed | method | clean accuracy | macro AUC | PGD accuracy | AutoAttack accuracy | training (s) |',
    '|---|---|---|---|---|---|---|',
    ...r.runs.map((x) => `| ${x.seed} | ${x.method} | ${(100 * x.cleanAccuracy).toFixed(2)}% | ${x.auc.toFixed(5)} | ${(100 * x.robustAccuracy).toFixed(1)}% | ` +
      `${(100 * x.autoattackAccuracy).toFixed(1)}% | ${x.trainSeconds.toFixed(0)} |`),
    '',
  ].join('\n');
}
