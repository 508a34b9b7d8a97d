// `nablax attack`: run attacks at several ε on the official test images of a saved model and report, per
// (attack, ε), accuracy, error and success rates, the misclassified images' confidence, distances, queries and
// speed; --out adds report.json, report.md, a picture grid per attack, an accuracy-vs-ε plot and, for targeted
// runs, a 10×10 source/target grid.
import { join } from 'node:path';
import type { Command } from 'commander';
import type { Attack, TargetMode } from '../attacks/attack.js';
import { blackBoxAttacks } from '../attacks/black-box.js';
import { autoattack, type AutoAttackReport } from '../attacks/autoattack.js';
import { evaluateAttackSweep, type AttackExample, type AttackMetrics } from '../analysis/attack-evaluation.js';
import { whiteBoxAttacks } from '../attacks/index.js';
import { ScoreOracle } from '../attacks/oracle.js';
import { softmax } from '../engine/ops/loss.js';
import { Tensor } from '../engine/tensor.js';
import { writeFileAtomic } from '../io/atomic.js';
import { loadModelOption } from './model-option.js';
import type { Sequential } from '../layers/sequential.js';
import { adversarialGrid, targetGrid, type TargetCell } from '../report/attack-figures.js';
import { lineChartSvg, saveSvg } from '../report/plot.js';
import type { Dataset } from '../data/datasets.js';
import { loadDataset } from '../data/datasets.js';
import { argmax, predict, outputClasses } from '../layers/predict.js';
import type { AttackJson, AttackRowJson } from '../report/json-types.js';
import { dataOption, epsList as epsListParser, jsonOption, limitOptions, outOption } from './options.js';
import { claimOutputs, int, num, plural, printJson, progressBar, result, say, uninterrupted, UsageError, withInterrupt } from './util.js';
import { jsonText } from './json.js';
import { autoAttackFlags, checkChunkStores, fileHash, runAutoAttackCli } from './attack-autoattack.js';
import { attackMarkdown, autoAttackTable } from '../report/attack-report.js';

export const allAttacks: Record<string, Attack> = { ...whiteBoxAttacks, autoattack, ...blackBoxAttacks };

/** Attacks whose norm --norm sets (APGD and AutoAttack; their record entry says L∞). */
const normFlag = (n: string) => n.startsWith('apgd') || n === 'autoattack';

export type AttackResultRow = AttackRowJson;

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

function parseTarget(v: string | undefined, classes: number): TargetMode | undefined {
  if (v === undefined) return undefined;
  if (v === 'random') return { kind: 'random' };
  if (v === 'least-likely') return { kind: 'least-likely' };
  const c = Number(v);
  if (!/^\d+$/.test(v) || c >= classes) throw new UsageError(`--target must be a class in 0..${classes - 1}, 'random' or 'least-likely', got '${v}'`);
  return { kind: 'class', class: c };
}

/** The examples of `ds` (first `limit`) whose label is not `cls`: a fixed target cannot be its own true label. */
function withoutClass(ds: Dataset, cls: number, limit: number): Dataset {
  const per = ds.channels * ds.height * ds.width;
  const keep: number[] = [];
  for (let i = 0; i < Math.min(limit, ds.count); i++) if (ds.labels[i] !== cls) keep.push(i);
  const images = new Float32Array(keep.length * per);
  const labels = new Uint8Array(keep.length);
  keep.forEach((i, k) => {
    images.set(ds.images.subarray(i * per, (i + 1) * per), k * per);
    labels[k] = ds.labels[i];
  });
  return { ...ds, images, labels, count: keep.length, name: `${ds.name} (without class ${cls})` };
}

/** 10×10 grid: the first test digit of each class attacked toward every other class. */
function targetFigure(model: Sequential, attack: Attack, ds: Dataset, eps: number, options: Record<string, unknown>, seed: number) {
  const per = ds.channels * ds.height * ds.width;
  const K = ds.numClasses;
  const first: number[] = [];
  for (let c = 0; c < K; c++) first.push(ds.labels.indexOf(c));
  if (first.some((i) => i < 0)) return null;
  const pairs: [number, number][] = [];
  for (let s = 0; s < K; s++) for (let t = 0; t < K; t++) if (s !== t) pairs.push([s, t]);
  const x = Tensor.zeros([pairs.length, ds.channels, ds.height, ds.width]);
  pairs.forEach(([s], k) => x.data.set(ds.images.subarray(first[s] * per, (first[s] + 1) * per), k * per));
  const y = Int32Array.from(pairs, ([s]) => s);
  const targets = Int32Array.from(pairs, ([, t]) => t);
  const opts = { ...options, eps, seed, targets };
  const r = attack.kind === 'white-box' ? attack.run(model, x, y, opts) : attack.run(new ScoreOracle(model), x, y, opts);
  const p = softmax(predict(model, r.adversarial));
  const pred = argmax(p);
  const cells: (TargetCell | null)[][] = Array.from({ length: K }, (_, s) =>
    Array.from({ length: K }, (_, t) =>
      s === t ? { values: ds.images.subarray(first[s] * per, first[s] * per + ds.height * ds.width), success: true, conf: 1 } : null,
    ),
  );
  pairs.forEach(([s, t], k) => {
    cells[s][t] = { values: r.adversarial.data.subarray(k * per, k * per + ds.height * ds.width), success: pred[k] === t, conf: p.data[k * K + t] };
  });
  return targetGrid(cells, ds.height, ds.width, `${attack.name} targeted, eps ${eps}`);
}

export function registerAttack(program: Command): void {
  const cmd = program
    .command('attack')
    .description('run attacks at several ε on the official test images and report accuracy, success, confidence, distances')
    .requiredOption('--model-file <path>', 'model file (.safetensors)')
    .option('--attack <list>', `comma-separated: ${Object.keys(allAttacks).join(', ')}`, 'fgsm')
    .option('--eps <list>', 'comma-separated budgets (L∞ in [0,1]; L2 ≥ 0)', epsListParser('--eps', 0), [0.05, 0.1, 0.15, 0.2, 0.25, 0.3])
    .option('--target <class|random|least-likely>', 'targeted attack toward a class (its own images are skipped), a random other class, or the least-likely class')
    .option('--steps <n>', "iterations of BIM/PGD/MI-FGSM/APGD (and of AutoAttack's APGD and FAB stages: 100 unless set)", int('--steps', 1))
    .option('--step-size <α>', 'step of BIM/PGD/MI-FGSM', num('--step-size', 0, Infinity, true))
    .option('--restarts <n>', 'PGD random restarts (the strongest per example is kept)', int('--restarts', 1))
    .option('--no-random-start', 'PGD from x itself instead of a uniform random start')
    .option('--no-early-stop', 'keep iterating on an example after it succeeds (maximise the loss)')
    .option('--pixels <k>', 'one-pixel attack: pixels changed (1, 3, 5)', int('--pixels', 1))
    .option('--population <n>', 'one-pixel attack: population size (paper: 400)', int('--population', 4))
    .option('--generations <n>', 'one-pixel attack: generations (paper: 100)', int('--generations', 1))
    .option('--max-queries <n>', 'Square attack: query budget (paper: 10,000; AutoAttack: 5,000)', int('--max-queries', 1))
    .option('--norm <linf|l2>', 'apgd-ce, apgd-dlr, apgd-t and autoattack: the norm of ε (default linf)')
    .option('--aa-version <name>', "autoattack: 'standard' (APGD-CE, APGD-T, FAB-T, Square), 'plus' or 'rand'", 'standard')
    .option('--aa-chunk <n>', 'autoattack: images per chunk, each one AutoAttack run; with --out each chunk is kept there once measured, and Ctrl-C stops after the chunk in progress (default 1000)', int('--aa-chunk', 1))
    .option('--resume', 'autoattack with --out: reuse the chunks kept in --out that were measured on the same model file with the same settings')
    .option('--batch-size <n>', 'images per attack batch', int('--batch-size', 1))
    .option('--seed <n>', 'seed', int('--seed', 0), 0);
  limitOptions(cmd, { test: true, oldLimit: 'test', testHelp: 'attack the first N test images' });
  dataOption(cmd, 'mnist', 'test data');
  outOption(cmd, 'dir', 'write report.json, report.md, pictures and plots here');
  jsonOption(cmd);
  cmd.action(async (o) => {
      const names = String(o.attack).split(',').map((s) => s.trim()).filter(Boolean);
      for (const n of names) if (!allAttacks[n]) throw new UsageError(`unknown attack '${n}' (expected ${Object.keys(allAttacks).join(', ')})`);
      const epsList = o.eps as number[];
      const aa = autoAttackFlags(o.norm, o.aaVersion);
      if (names.includes('autoattack') && o.target !== undefined) throw new UsageError('--target cannot be used with autoattack (it is untargeted; APGD-T and FAB-T choose their own targets)');
      for (const n of names) {
        const a = allAttacks[n];
        const bad = epsList.find((e) => e > 1);
        if ((normFlag(n) ? aa.norm : a.norm) === 'linf' && bad !== undefined) throw new UsageError(`--eps ${bad} is outside [0, 1] for the L∞ attack ${n} (images live in [0,1])`);
      }
      if (o.resume && !names.includes('autoattack')) throw new UsageError('--resume continues an AutoAttack run: it needs --attack autoattack');
      if (o.resume && !o.out) throw new UsageError('--resume needs --out (the folder holding the AutoAttack chunks measured so far)');
      if (o.aaChunk !== undefined && !names.includes('autoattack')) throw new UsageError('--aa-chunk sets the chunks of an AutoAttack run: it needs --attack autoattack');
      claimOutputs([o.out && { path: o.out, kind: 'dir', flag: '--out' }]);
      const { model } = loadModelOption(o);
      let ds = loadDataset(o.data, 'test', outputClasses(model));
      const target = parseTarget(o.target, ds.numClasses);
      const limit = Math.min(o.testLimit ?? ds.count, ds.count);
      if (target?.kind === 'class') ds = withoutClass(ds, target.class, limit);
      const count = Math.min(limit, ds.count);
      const attackOptions: Record<string, unknown> = {};
      const map: [string, string][] = [['steps', 'steps'], ['stepSize', 'stepSize'], ['restarts', 'restarts'], ['pixels', 'pixels'], ['population', 'population'], ['generations', 'generations'], ['maxQueries', 'maxQueries']];
      for (const [flag, key] of map) if (o[flag] !== undefined) attackOptions[key] = o[flag];
      if (o.randomStart === false) attackOptions.randomStart = false;
      if (o.earlyStop === false) attackOptions.earlyStop = false;
      // AutoAttack's chunk files are checked before any attack runs: a --resume with other settings is refused here
      const aaOptions = { ...aa, seed: o.seed, batchSize: o.batchSize, steps: o.steps, maxQueries: o.maxQueries, json: Boolean(o.json) };
      const aaChunks = { chunk: (o.aaChunk as number | undefined) ?? 1000, dir: o.out as string | undefined, resume: Boolean(o.resume), modelKey: o.out ? fileHash(o.modelFile) : '' };
      if (names.includes('autoattack')) checkChunkStores({ ...aaChunks, stopped: () => false }, ds.name, count, epsList, aaOptions);
      const withNorm = (n: string) => (normFlag(n) && o.norm ? { ...attackOptions, norm: aa.norm } : attackOptions);

      const rows: AttackResultRow[] = [];
      const kept = new Map<string, AttackExample[]>();
      for (const n of names.filter((m) => m !== 'autoattack')) {
        const attack = allAttacks[n];
        const budgets: (number | null)[] = attack.norm === 'l0' ? [null] : epsList;
        // every ε inside one pass over the images: a gradient attack's ∇x at x is computed once for all of them
        const label = `${n}${budgets[0] !== null ? ` eps ${budgets.join(',')}` : ''}`;
        // moves within a batch too: Square and one-pixel report after every query round or generation
        const bar = progressBar(label, count, '{rate} img/s');
        const sweep = await evaluateAttackSweep(model, attack, ds, {
          epsList: budgets.map((e) => e ?? 0), limit: count, batchSize: o.batchSize, seed: o.seed, target, attackOptions: withNorm(n),
          onProgress: (done) => bar.update(done),
        });
        bar.stop();
        for (const [i, { metrics, examples }] of sweep.entries()) {
          const eps = budgets[i];
          const row = attackRow(metrics, eps, attack.norm === 'l0' ? ((attackOptions.pixels as number | undefined) ?? 1) : undefined);
          rows.push(row);
          kept.set(n, examples);
          if (!o.json) {
            const pct = (v: number | null, d: number) => (v === null ? '–' : `${(100 * v).toFixed(d)}%`);
            const q = row.queries;
            result(`${n}${eps !== null ? ` eps ${eps}` : ''}: accuracy ${pct(row.robustAccuracy, 2)}, success ${pct(row.attackSuccessRate, 1)}, ` +
              `confidence ${row.meanWrongConfidence === null ? '–' : row.meanWrongConfidence.toFixed(3)}` +
              `${q ? `, median queries ${q.median} (failures at full budget), per success ${q.medianPerSuccess ?? '–'}` : ''} (${metrics.seconds.toFixed(1)} s)`);
          }
        }
      }

      // AutoAttack runs over all the images at once (each stage on the points still robust), with its own report.
      // Chunks of --aa-chunk images, kept in --out as they are measured: Ctrl-C stops after the chunk in progress.
      const autoReports: AutoAttackReport[] = names.includes('autoattack')
        ? await withInterrupt(
          (stopped) => runAutoAttackCli(model, ds, count, epsList, aaOptions, { ...aaChunks, stopped }),
          `stopping after the AutoAttack chunk in progress${o.out ? ', which is kept' : ''}`)
        : [];
      const autoJson = autoReports.length ? { autoattack: autoReports } : {};

      // the report folder is written whole or not at all: Ctrl-C during it waits until it ends
      if (o.out) await uninterrupted(async () => {
        const pictures: string[] = [];
        const maxEps = Math.max(...epsList);
        for (const n of names.filter((m) => m !== 'autoattack')) {
          const ex = kept.get(n) ?? [];
          if (!ex.length) continue;
          const row = [...rows].reverse().find((r) => r.attack === allAttacks[n].name);
          const title = `${n}${row?.eps !== null && row?.eps !== undefined ? `, eps ${row.eps}` : ''}${target ? ' (targeted)' : ''}`;
          adversarialGrid(ex.map((e) => ({ ...e, h: ds.height, w: ds.width, trueLabel: e.label })), title).save(join(o.out, `${n}.png`));
          pictures.push(`${n}.png`);
          if (target && allAttacks[n].kind === 'white-box') {
            const fig = targetFigure(model, allAttacks[n], loadDataset(o.data, 'test', outputClasses(model)), maxEps, attackOptions, o.seed);
            if (fig) {
              fig.save(join(o.out, `targets-${n}.png`));
              pictures.push(`targets-${n}.png`);
            }
          }
        }
        const series = names
          .filter((n) => allAttacks[n].norm !== 'l0' && n !== 'autoattack')
          .map((n) => {
            const pts = rows.filter((r) => r.attack === allAttacks[n].name).map((r) => ({ x: r.eps as number, y: r.robustAccuracy }));
            if (!pts.some((p) => p.x === 0) && rows.length) pts.unshift({ x: 0, y: rows[0].cleanAccuracy });
            return { name: n, points: pts.sort((a, b) => a.x - b.x) };
          });
        if (series.length) {
          const svg = await lineChartSvg({ title: `Accuracy under attack (${plural(count, 'test image')})`, xTitle: 'ε', yTitle: 'accuracy', series, yDomain: [0, 1] });
          saveSvg(join(o.out, 'accuracy.svg'), svg);
          pictures.unshift('accuracy.svg');
        }
        writeFileAtomic(join(o.out, 'report.json'), jsonText({ modelFile: o.modelFile, data: ds.name, testCount: count, results: rows, count, ...autoJson }));
        writeFileAtomic(join(o.out, 'report.md'), attackMarkdown(o.modelFile, ds.name, rows, pictures) + autoReports.map((r) => '\n' + autoAttackTable(r)).join(''));
      });
      const doc: AttackJson = { modelFile: o.modelFile, data: ds.name, testCount: count, target: o.target ?? null, results: rows, count, ...autoJson };
      if (o.json) printJson(doc);
      else if (o.out) say(`wrote ${join(o.out, 'report.md')}, report.json and the pictures`);
    });
}
