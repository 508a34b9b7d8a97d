// `nablax attack --attack autoattack`: AutoAttack over the first N test images at each ε, with a progress bar per
// stage (stderr: points/s and ETA), the per-stage table on stdout, and the report (stages, seconds, which stage broke
// each point, checks and warnings) for --json and report.json / report.md.
import { autoAttack, type AutoAttackReport, type AutoAttackVersion } from '../attacks/autoattack.js';
import type { Sequential } from '../layers/sequential.js';
import { getBatch } from '../data/batches.js';
import type { Dataset } from '../data/datasets.js';
import { progressBar, say, UsageError } from './util.js';

export interface AutoAttackCliOptions {
  norm: 'linf' | 'l2';
  version: AutoAttackVersion;
  seed: number;
  batchSize?: number;
  steps?: number;
  maxQueries?: number;
  json: boolean;
}

/**
 * Parse --norm and --aa-version (usage errors name the flag).
 * @example
 *   autoAttackFlags(undefined, undefined);   // { norm: 'linf', version: 'standard' }
 *   autoAttackFlags('l2', 'plus');
 */
export function autoAttackFlags(norm: string | undefined, version: string | undefined): { norm: 'linf' | 'l2'; version: AutoAttackVersion } {
  const n = norm ?? 'linf';
  if (n !== 'linf' && n !== 'l2') throw new UsageError(`--norm must be 'linf' or 'l2', got '${n}'`);
  const v = version ?? 'standard';
  if (v !== 'standard' && v !== 'plus' && v !== 'rand') throw new UsageError(`--aa-version must be 'standard', 'plus' or 'rand', got '${v}'`);
  return { norm: n, version: v };
}

/**
 * Run AutoAttack at every ε on the first `count` images of `ds`; prints the stage table per ε unless --json.
 * @example
 *   const reports = runAutoAttackCli(model, ds, 500, [0.3], { norm: 'linf', version: 'standard', seed: 0, json: false });
 *   reports[0].robustAccuracy;
 */
export function runAutoAttackCli(model: Sequential, ds: Dataset, count: number, epsList: number[], o: AutoAttackCliOptions): AutoAttackReport[] {
  const { x, y } = getBatch(ds, null, 0, count);
  const out: AutoAttackReport[] = [];
  for (const eps of epsList) {
    let bar: ReturnType<typeof progressBar> | null = null;
    let t0 = 0, total = 0;
    const r = autoAttack(model, x, y, {
      eps, norm: o.norm, version: o.version, seed: o.seed, batchSize: o.batchSize, steps: o.steps, squareQueries: o.maxQueries,
      onStage: (stage, points) => {
        bar?.stop();
        bar = progressBar(`autoattack eps ${eps} ${stage}`, points, '{rate} points/s', { rate: '-' });
        t0 = performance.now();
        total = points;
      },
      onProgress: (done) => {
        const s = (performance.now() - t0) / 1000;
        bar?.update(Math.min(Math.round(done * 100) / 100, total), { rate: s > 0 ? (done / s).toFixed(done / s >= 10 ? 0 : 2) : '-' });
      },
    });
    (bar as ReturnType<typeof progressBar> | null)?.stop();
    for (const w of r.report.warnings) say(`warning: autoattack eps ${eps}: ${w}`);
    out.push(r.report);
    if (!o.json) process.stdout.write(table(r.report) + '\n');
  }
  return out;
}

/** The per-stage table of one AutoAttack run (markdown). @example console.log(table(report)); */
export function table(r: AutoAttackReport): string {
  const pct = (v: number) => (100 * v).toFixed(2) + '%';
  return [
    `AutoAttack ${r.version}, ${r.norm} eps ${r.eps}, ${r.count} images: clean ${pct(r.cleanAccuracy)}, robust ${pct(r.robustAccuracy)}`,
    '',
    '| stage | attacked | broken | robust accuracy after | seconds |',
    '|---|---|---|---|---|',
    ...r.stages.map((s) => `| ${s.attack} | ${s.attacked} | ${s.broken} | ${pct(s.robustAccuracy)} | ${s.seconds.toFixed(1)} |`),
    '',
    `Checks: ${r.checks.map((c) => `${c.name} ${c.flagged ? 'FLAGGED' : 'ok'}`).join(', ')}; max ${r.norm} perturbation ${r.maxPerturbation.toFixed(5)}.`,
    ...r.warnings.map((w) => `Warning: ${w}`),
    '',
  ].join('\n');
}
