// `nablax linear`: the linear explanation of adversarial examples measured on a saved model (Goodfellow, Shlens,
// Szegedy 2015, §3): ε·m·n against the engine for every unit of every Dense layer, how close the whole network's
// logit change along ε·sign(∇x z_k) is to first order, the logits along the FGSM direction (Fig. 4) and wᵀη
// against the input dimension n. --out writes report.json, report.md and the plots.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Option, type Command } from 'commander';
import { layerSummary, networkLinearityAsync, unitLinearity } from '../analysis/linear.js';
import { firstDenseMeanAbsW, randomNScaling, trainedNScaling, type NScalingPoint } from '../analysis/n-scaling.js';
import { fgsmSweep, type SweepResult } from '../analysis/sweep.js';
import { networkPlotSvg, nScalingPlotSvg, sweepPlotSvg } from '../report/linear-figures.js';
import { fmt, linearMarkdown } from '../report/linear-report.js';
import { writeFileAtomic } from '../io/atomic.js';
import { loadModelOption } from './model-option.js';
import { Dense } from '../layers/dense.js';
import { saveSvg } from '../report/plot.js';
import { getBatch } from '../data/batches.js';
import { loadDataset } from '../data/datasets.js';
import { dataOption, deprecatedAlias, indexOption, jsonOption, limitOptions } from './options.js';
import { claimOutputs, deprecated, int, intList, letInterruptIn, num, plural, printJson, progressBar, result, say, UsageError } from './util.js';
import { jsonText } from '../report/json.js';
import { outputClasses } from '../layers/predict.js';

/** The n values of the n-scaling plot: 4×4 up to 112×112 images. */
const N_SCALING_NS = [16, 64, 196, 784, 3136, 12544];

/** An L∞ budget in (0, 1] (pixels live in [0, 1]). */
function epsValue(flag: string) {
  return (v: string): number => {
    const e = Number(v);
    if (v.trim() === '' || !Number.isFinite(e) || e <= 0 || e > 1) throw new UsageError(`${flag} must be a number in (0, 1], got '${v}'`);
    return e;
  };
}

function epsList(flag: string) {
  const one = epsValue(flag);
  return (v: string): number[] => v.split(',').map((s) => one(s.trim()));
}

const DEFAULT_UNIT_EPS = 0.25;
const DEFAULT_NETWORK_EPS = [0.001, 0.01, 0.05, 0.1, 0.25];

/**
 * The budgets of `linear` from --eps (a list, like every command's) and the deprecated --eps-list. One --eps value
 * keeps its old meaning (the per-unit budget; the network at --eps-list or the default list); several are the network
 * measurement's budgets and the largest is the per-unit one. --eps-list alone: the network's budgets, as before.
 * Throws UsageError for a list given both ways.
 * @example
 *   linearBudgets([0.1, 0.25], undefined);   // { eps: 0.25, epsList: [0.1, 0.25] }
 */
export function linearBudgets(eps: number[] | undefined, oldList: number[] | undefined): { eps: number; epsList: number[] } {
  if (oldList) deprecated('--eps-list', '--eps');
  if (eps && eps.length > 1) {
    if (oldList) throw new UsageError('--eps-list and a list in --eps are the same option; give only --eps');
    return { eps: Math.max(...eps), epsList: eps };
  }
  return { eps: eps?.[0] ?? DEFAULT_UNIT_EPS, epsList: oldList ?? DEFAULT_NETWORK_EPS };
}

export function registerLinear(program: Command): void {
  const cmd = program
    .command('linear')
    .description('the linear explanation measured: ε·m·n for every Dense unit, and how linear the whole network is along ε·sign(∇x z)')
    .requiredOption('--model-file <path>', 'model file (.safetensors)')
    .option('--eps <list>', `comma-separated budgets in (0, 1]: several are the network measurement's, and the largest is the per-unit one; one value is the per-unit budget, with the network measured at ${DEFAULT_NETWORK_EPS.join(',')} (default ${DEFAULT_UNIT_EPS})`, epsList('--eps'))
    .addOption(new Option('--eps-list <list>', "deprecated: the network measurement's budgets (use --eps)").argParser(epsList('--eps-list')).hideHelp())
    .option('--logit <which>', "logit to push: 'true' (the label's) or 'predicted'", 'true');
  limitOptions(cmd, { test: 100, oldLimit: 'test', testHelp: 'the network measurement on the first N test images' });
  dataOption(cmd, 'mnist', 'test data');
  indexOption(cmd, [0], 'with --out: test images whose logits are swept along the FGSM direction');
  deprecatedAlias(cmd, '--sweep-index <list>', '--index', intList('--sweep-index', 0));
  cmd
    .option('--sweep-max-eps <ε>', 'with --out: the sweep covers [−ε, ε]', num('--sweep-max-eps', 0, Infinity, true), 1)
    .option('--sweep-points <n>', 'with --out: points of each sweep (odd)', int('--sweep-points', 3), 41)
    .option('--trained-resolutions <list>', 'with --out: also train softmax models at these image sizes (e.g. 14,28,56) for the n-scaling plot', intList('--trained-resolutions', 4))
    .option('--out <dir>', 'write report.json, report.md, network.svg, sweep-<i>[-clipped].svg and n-scaling.svg here');
  jsonOption(cmd);
  cmd.action(async (o) => {
      Object.assign(o, linearBudgets(o.eps as number[] | undefined, o.epsList as number[] | undefined));
      if (o.logit !== 'true' && o.logit !== 'predicted') throw new UsageError(`--logit must be 'true' or 'predicted', got '${o.logit}'`);
      if (o.sweepPoints % 2 === 0) throw new UsageError(`--sweep-points must be odd (so that ε = 0 is on the grid), got ${o.sweepPoints}`);
      if (!existsSync(o.modelFile)) throw new UsageError(`no such model file: ${o.modelFile}`);
      claimOutputs([o.out && { path: o.out, kind: 'dir', flag: '--out' }]);
      const { model, metadata } = loadModelOption(o);
      // the zoo name when the file has one, else the layers themselves (never "the model")
      const modelName = metadata.model ?? `${model.layers.map((l) => l.spec().type).join(' → ')} (${model.numParameters().toLocaleString('en-US')} parameters)`;
      const ds = loadDataset(o.data, 'test', outputClasses(model));
      for (const i of o.index as number[]) {
        if (i >= ds.count) throw new UsageError(`--index ${i} is out of range (the test set has ${ds.count} images)`);
      }
      const count = Math.min(o.testLimit, ds.count);
      const { x, y } = getBatch(ds, null, 0, count);

      const hasDense = model.layers.some((l) => l instanceof Dense);
      if (!hasDense) say(`notice: ${o.modelFile} has no Dense layers; skipping the per-unit part, measuring the network only`);
      const layers = hasDense ? unitLinearity(model, x, o.eps) : [];
      await letInterruptIn();
      const bar = progressBar(`linear: network, ${o.epsList.length} ε`, count, '{rate} img/s');
      // batch by batch, yielding between batches: Ctrl-C stops it with exit 130 and nothing written. Batches of 10:
      // the float64 twin of a cnn does about 20 images/s on a busy machine, so the bar still moves every second
      const network = await networkLinearityAsync(model, x, y, o.epsList, { logit: o.logit, batchSize: 10, onProgress: (done) => bar.update(done) });
      bar.stop();
      const summaries = layers.map((l) => layerSummary(model, l));

      const doc: Record<string, unknown> = { modelFile: o.modelFile, data: ds.name, eps: o.eps, logit: o.logit, count, layers, network };
      if (o.out) {
        // every file's contents first, then all written in one synchronous stretch: an interrupt leaves all or none
        const files: [string, string][] = [];
        const sweeps: (SweepResult & { index: number })[] = [];
        const sweepFiles: { index: number; files: string[] }[] = [];
        for (const i of o.index as number[]) {
          const one = getBatch(ds, Int32Array.of(i), 0, 1);
          const r = { ...fgsmSweep(model, one.x, one.y[0], { maxEps: o.sweepMaxEps, points: o.sweepPoints }), index: i };
          const names = [`sweep-${i}.svg`, `sweep-${i}-clipped.svg`];
          files.push([names[0], await sweepPlotSvg(r, false)], [names[1], await sweepPlotSvg(r, true)]);
          sweeps.push(r);
          sweepFiles.push({ index: i, files: names });
        }
        doc.sweeps = sweeps;
        let nScaling: NScalingPoint[] | null = null;
        const m = firstDenseMeanAbsW(model);
        if (m > 0) {
          nScaling = randomNScaling({ ns: N_SCALING_NS, m, eps: o.eps, seed: 0 });
          if (o.trainedResolutions) {
            // softmax models trained at several input resolutions: n = r², m and wᵀη measured on their weights
            say(`training softmax models at ${o.trainedResolutions.join(', ')} pixels square for the n-scaling plot`);
            nScaling = nScaling.concat(await trainedNScaling({ resolutions: o.trainedResolutions, eps: o.eps, epochs: 1, limit: 10000, seed: 0 }));
          }
          files.push(['n-scaling.svg', await nScalingPlotSvg(nScaling)]);
          doc.nScaling = nScaling;
        } else {
          say('notice: no Dense layer with nonzero weights; skipping n-scaling.svg');
        }
        files.push(['network.svg', await networkPlotSvg(network)]);
        await letInterruptIn(); // the last point where Ctrl-C leaves nothing written
        for (const [name, text] of files) saveSvg(join(o.out, name), text);
        writeFileAtomic(join(o.out, 'report.json'), jsonText(doc));
        writeFileAtomic(
          join(o.out, 'report.md'),
          linearMarkdown({ modelFile: o.modelFile, modelName, data: ds.name, eps: o.eps, count, logit: o.logit, summaries, network, sweeps: sweepFiles, nScaling: nScaling !== null }),
        );
      }

      if (o.json) {
        printJson(doc);
        return;
      }
      result(`${o.modelFile}: wᵀη = ε·m·n per Dense unit at ε = ${o.eps} (first test image)`);
      for (const s of summaries) {
        result(`  layer ${String(s.layer).padStart(2)}: ${s.units} units, n = ${s.n}, m = ${fmt(s.meanAbsW)}, mean ε·m·n = ${fmt(s.meanPredicted)}, ratio in [${s.minRatio.toFixed(8)}, ${s.maxRatio.toFixed(8)}]`);
      }
      result(`network, ${o.logit} logit, ${plural(count, 'test image')}: ratio (z(x+η) − z(x)) / (ε·‖∇x z‖₁), median [p10, p90]`);
      for (const r of network) result(`  ε = ${String(r.eps).padEnd(6)} ${r.medianRatio.toFixed(4)} [${r.p10.toFixed(4)}, ${r.p90.toFixed(4)}]`);
      if (o.out) say(`wrote ${join(o.out, 'report.md')}`);
    });
}
