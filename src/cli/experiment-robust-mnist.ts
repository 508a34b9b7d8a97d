// `nablax experiment robust-mnist` (issue 17): the options, the checks before any work (the --runs file, the output
// folder, a resume's runs), progress bars on stderr, Ctrl-C (exit 130, saying what was kept), the summary or --json
// on stdout. The pipeline itself is src/experiments/robust-mnist.ts.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { robustMnistMarkdown, robustMnistReport, writeRobustMnistReport } from '../experiments/robust-mnist-report.js';
import { defaultRuns, quickRuns, resolveRuns, RunsError, type ResolvedRun } from '../experiments/robust-mnist-runs.js';
import { ExperimentInterrupted, runRobustMnist, runStatus, type RobustMnistSettings } from '../experiments/robust-mnist.js';
import { loadDataset, subset } from '../data/datasets.js';
import { jsonText } from '../report/json.js';
import { claimOutputs, Interrupted, int, num, plural, printJson, progressBar, result, say, uninterrupted, UsageError, withInterrupt, type Progress } from './util.js';

/** The defaults of a full run and of --quick (a few hundred images, tiny budgets, a weakened AutoAttack). */
export const robustMnistPresets = {
  full: { epochs: 10, budgetMinutes: 60, trainLimit: 60_000, testLimit: 10_000, robustLimit: 10_000, epochTestLimit: 500, autoattackSteps: 100, squareQueries: 5000 },
  quick: { epochs: 2, budgetMinutes: 0.5, trainLimit: 256, testLimit: 200, robustLimit: 40, epochTestLimit: 40, autoattackSteps: 5, squareQueries: 50 },
};

/** Options of `experiment` that belong to the advprop experiment only. */
const advpropOnly = ['autoattack', 'seeds', 'steps', 'stepSize', 'evalSteps', 'evalStepSize', 'lr', 'batchSize'];
/** Options of `experiment` that belong to robust-mnist only. */
export const robustMnistOnly = ['runs', 'budgetMinutes', 'resume', 'epochTestLimit', 'squareQueries', 'seed'];

/** Add robust-mnist's options to the experiment command. */
export function robustMnistOptions(cmd: Command): void {
  cmd
    .option('--runs <file.json>', 'robust-mnist: the runs, a JSON array of {name, model, method, options} (default: a built-in list)')
    .option('--budget-minutes <m>', 'robust-mnist: wall-clock training budget of each run, in minutes (full 60, quick 0.5)', num('--budget-minutes', 0, Infinity, true))
    .option('--epoch-test-limit <n>', 'robust-mnist: after every epoch, PGD-40 on the first N test images, the curve of the plot (full 500, quick 40; 0: off)', int('--epoch-test-limit', 0))
    .option('--square-queries <q>', 'robust-mnist: Square\'s query budget in AutoAttack (5,000, the reference\'s)', int('--square-queries', 1))
    .option('--seed <n>', 'robust-mnist: the runs\' seed unless a run gives its own (0)', int('--seed', 0))
    .option('--resume', 'robust-mnist: continue in --out: measured runs are skipped, trained ones measured, the others continue from their checkpoint');
}

function given(cmd: Command, keys: string[]): string | undefined {
  return keys.find((k) => cmd.getOptionValueSource(k) === 'cli');
}

const flag = (k: string) => '--' + k.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());

/** Refuse options that belong to the other experiment (one line, exit 2). */
export function checkExperimentOptions(cmd: Command, name: string): void {
  const wrong = given(cmd, name === 'robust-mnist' ? advpropOnly : robustMnistOnly);
  if (wrong) throw new UsageError(`${flag(wrong)} is not an option of experiment ${name}${name === 'robust-mnist' ? ' (a run\'s training options go in --runs FILE.json)' : ' (it belongs to robust-mnist)'}`);
}

function readRuns(file: string | undefined, quick: boolean, defaults: { epochs: number; seed: number; eps: number }): ResolvedRun[] {
  let list: unknown = quick ? quickRuns : defaultRuns;
  if (file !== undefined) {
    if (!existsSync(file)) throw new UsageError(`--runs: no such file: ${file}`);
    try {
      list = JSON.parse(readFileSync(file, 'utf8'));
    } catch (e) {
      throw new UsageError(`--runs: ${file} is not valid JSON: ${(e as Error).message.replace(/\s+/g, ' ')}`);
    }
  }
  try {
    return resolveRuns(list, defaults);
  } catch (e) {
    if (e instanceof RunsError) throw new UsageError(`--runs${file ? ` ${file}` : ''}: ${e.message}`);
    throw e;
  }
}

/** Progress on stderr: a bar per training epoch (with the budget left) and per measurement stage. */
function progressHooks() {
  let bar: Progress | null = null;
  // the old bar ends before the new one draws its first line
  const open = (make: () => Progress) => {
    bar?.stop();
    bar = make();
  };
  return {
    stop: () => bar?.stop(),
    onMessage: (m: string) => {
      bar?.stop();
      say(m);
    },
    onBatch: (run: ResolvedRun, p: { epoch: number; epochs: number; batch: number; batches: number; loss: number; imagesPerSecond: number }, left: number) => {
      if (p.batch === 1) open(() => progressBar(`${run.name} epoch ${p.epoch + 1}/${p.epochs}`, p.batches, 'loss {loss} | {rate} img/s | budget left {left}', { loss: '–', left: '–' }));
      bar?.update(p.batch, { loss: p.loss.toFixed(4), rate: p.imagesPerSecond.toFixed(0), left: `${Math.max(0, left / 60).toFixed(1)} min` });
      if (p.batch === p.batches) bar?.stop();
    },
    onEvalStage: (label: string, points: number) => open(() => progressBar(`${label} on ${plural(points, 'image')}`, points, '{rate} img/s')),
    onEvalProgress: (done: number) => bar?.update(done),
  };
}

/**
 * The robust-mnist action: check everything, then run, report and print.
 * @example
 *   await robustMnistAction(cmd, cmd.opts());
 */
export async function robustMnistAction(cmd: Command, o: Record<string, unknown>): Promise<void> {
  const quick = !!o.quick;
  const preset = quick ? robustMnistPresets.quick : robustMnistPresets.full;
  if (o.out === undefined) throw new UsageError('experiment robust-mnist needs --out DIR (the runs, their checkpoints and the report go there)');
  const out = o.out as string;
  const eps = (o.eps as number | undefined) ?? 0.3;
  const runs = readRuns(o.runs as string | undefined, quick, { epochs: (o.epochs as number | undefined) ?? preset.epochs, seed: (o.seed as number | undefined) ?? 0, eps });
  const settings: RobustMnistSettings = {
    eps, budgetMinutes: (o.budgetMinutes as number | undefined) ?? preset.budgetMinutes,
    testLimit: (o.testLimit as number | undefined) ?? preset.testLimit, robustLimit: (o.robustLimit as number | undefined) ?? preset.robustLimit,
    epochTestLimit: (o.epochTestLimit as number | undefined) ?? preset.epochTestLimit,
    autoattackSteps: (o.autoattackSteps as number | undefined) ?? preset.autoattackSteps, squareQueries: (o.squareQueries as number | undefined) ?? preset.squareQueries,
  };
  const runsDir = join(out, 'runs');
  const resume = !!o.resume;
  if (!resume && existsSync(runsDir) && readdirSync(runsDir).length > 0) {
    throw new UsageError(`--out ${out} already holds runs (${runsDir}); continue them with --resume, or choose another --out`);
  }
  let data = o.data as string;
  let train, test;
  try {
    train = loadDataset(data, 'train');
    test = loadDataset(data, 'test');
  } catch (e) {
    throw new UsageError(`--data: ${(e as Error).message.replace(/^loadDataset: /, '')}`);
  }
  const trainLimit = (o.trainLimit as number | undefined) ?? preset.trainLimit;
  const fullTrainCount = train.count;
  train = subset(train, 0, Math.min(trainLimit, train.count));
  data = train.name;
  claimOutputs([{ path: out, kind: 'dir', flag: '--out' }]);
  if (resume) {
    for (const r of runs) {
      try {
        runStatus(out, r, train.count);
      } catch (e) {
        throw new UsageError(`--resume: ${(e as Error).message}`);
      }
    }
  }
  say(`nablax experiment robust-mnist${quick ? ' --quick' : ''}: ${plural(runs.length, 'run')} (${runs.map((r) => r.name).join(', ')}), ${settings.budgetMinutes} min each at most, ` +
    `${plural(train.count, 'training image')}; AutoAttack standard at ε = ${eps} on ${plural(Math.min(settings.robustLimit, test.count), 'test image')}`);
  const hooks = progressHooks();
  const results = await withInterrupt(async (stopped) => {
    try {
      return await runRobustMnist(runs, { out, train, test, settings, resume, hooks: { ...hooks, interrupted: stopped } });
    } catch (e) {
      hooks.stop();
      if (e instanceof ExperimentInterrupted) throw new Interrupted(`robust-mnist: ${e.message}; no report written`);
      throw e;
    }
  });
  hooks.stop();
  const command = ['nablax', ...process.argv.slice(2)].map((w) => (/^[\w@%+=:,./-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`)).join(' ');
  const doc = robustMnistReport(results, { settings, data, trainCount: train.count, quick, command, source: o.data as string, fullTrainCount });
  await uninterrupted(() => writeRobustMnistReport(out, doc, jsonText));
  say(`wrote ${join(out, 'report.md')}, report.json and robust-vs-time.svg`);
  for (const w of doc.warnings) say(`warning: ${w}`);
  if (o.json) printJson(doc);
  else result(robustMnistMarkdown(doc).trimEnd());
}
