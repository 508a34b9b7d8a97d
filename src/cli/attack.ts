// `nablax attack`: run attacks at several ε on the official test images of a saved model and report the clean
// accuracy and, per (attack, ε), accuracy, error and success rates, the misclassified images' confidence, distances, queries and
// speed; --out adds report.json, report.md, a picture grid per attack, an accuracy-vs-ε plot and, for targeted
// runs, a 10×10 source/target grid.
import { join } from 'node:path';
import type { Command } from 'commander';
import type { Attack, AttackSetting, TargetMode } from '../attacks/attack.js';
import { settings } from '../attacks/settings.js';
import { blackBoxAttacks } from '../attacks/black-box.js';
import { autoattack, type AutoAttackReport } from '../attacks/autoattack.js';
import { evaluateAttackSweep, type AttackExample } from '../analysis/attack-evaluation.js';
import { whiteBoxAttacks } from '../attacks/index.js';
import { loadModelOption } from './model-option.js';
import type { Dataset } from '../data/datasets.js';
import { loadDataset } from '../data/datasets.js';
import { outputClasses } from '../layers/predict.js';
import { dataOption, epsList as epsListParser, jsonOption, limitOptions, outOption } from './options.js';
import { claimOutputs, int, num, printJson, progressBar, result, say, uninterrupted, UsageError, withInterrupt } from './util.js';
import { autoAttackBudgetNotice, autoAttackFlags, checkChunkStores, runAutoAttackCli } from './attack-autoattack.js';
import { fileHash } from '../io/hash.js';
import { attackRow, writeAttackFolder } from '../report/attack-report.js';
import type { AttackJson, AttackRowJson } from '../report/json-types.js';
import { targetMatrix } from '../analysis/target-matrix.js';

export const allAttacks: Record<string, Attack> = { ...whiteBoxAttacks, autoattack, ...blackBoxAttacks };

/** Attacks whose norm --norm sets: those whose record lists the norms a caller may pick (APGD, AutoAttack). */
const normFlag = (n: string) => Boolean(allAttacks[n].kind === 'white-box' && allAttacks[n].norms);

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

/**
 * One flag per setting the attacks read (attacks/settings.ts), merged by flag over `attacks`, in the shared record's
 * order; each flag's help names the attacks that read it, each with its default where it has one, so a new attack's
 * settings reach the CLI from its record.
 */
function settingFlags(cmd: Command, attacks: Record<string, Attack>): void {
  const order = Object.values(settings).map((s) => s.flag as string);
  const byFlag = new Map<string, { setting: AttackSetting; users: string[] }>();
  for (const [name, a] of Object.entries(attacks)) {
    for (const s of a.settings) {
      const e = byFlag.get(s.flag) ?? { setting: s, users: [] };
      e.users.push(s.default === undefined ? name : `${name} ${s.default}`);
      byFlag.set(s.flag, e);
    }
  }
  const rank = (f: string) => (order.includes(f) ? order.indexOf(f) : order.length);
  for (const [flag, { setting: s, users }] of [...byFlag].sort(([a], [b]) => rank(a) - rank(b))) {
    const name = flag.split(' ')[0];
    const help = `${s.help} [${users.join(', ')}]`;
    if (s.type === 'off') cmd.option(flag, help);
    else cmd.option(flag, help, s.type === 'int' ? int(name, s.min ?? 0) : num(name, 0, Infinity, true));
  }
}

/** The values given on the command line for the settings `attack` reads, by its options keys. */
function settingValues(attack: Attack, o: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const s of attack.settings) {
    const v = o[flagAttribute(s.flag)];
    if (s.type === 'off' ? v === false : v !== undefined) out[s.key] = v;
  }
  return out;
}

/**
 * Refuse a setting that none of the chosen attacks reads (`--attack fgsm --steps 100`), naming the attacks that do:
 * silently ignoring it would report a run the user did not ask for. The same for --norm (the attacks whose norm it
 * picks) and an explicit --aa-version (AutoAttack only).
 * @throws UsageError naming the flag, the chosen attacks and the ones that read it.
 */
function checkSettingsRead(names: string[], o: Record<string, unknown>, given: (attr: string) => boolean): void {
  const chosen = names.join(', ');
  const seen = new Set<string>();
  for (const a of Object.values(allAttacks)) {
    for (const s of a.settings) {
      const attr = flagAttribute(s.flag);
      if (seen.has(s.flag) || !(s.type === 'off' ? o[attr] === false : o[attr] !== undefined)) continue;
      seen.add(s.flag);
      if (names.some((n) => allAttacks[n].settings.some((t) => t.flag === s.flag))) continue;
      const readers = Object.keys(allAttacks).filter((n) => allAttacks[n].settings.some((t) => t.flag === s.flag));
      throw new UsageError(`${s.flag.split(' ')[0]} is not read by ${chosen}; it sets ${readers.join(', ')}`);
    }
  }
  if (o.norm !== undefined && !names.some(normFlag)) {
    throw new UsageError(`--norm is not read by ${chosen} (its norm is fixed); it picks the norm of ${Object.keys(allAttacks).filter(normFlag).join(', ')}`);
  }
  if (given('aaVersion') && !names.includes('autoattack')) throw new UsageError('--aa-version sets the version of an AutoAttack run: it needs --attack autoattack');
}

/** commander's attribute for a flag: '--step-size <α>' → 'stepSize', '--no-early-stop' → 'earlyStop'. */
const flagAttribute = (flag: string) => flag.split(' ')[0].replace(/^--(no-)?/, '').replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

export function registerAttack(program: Command): void {
  const cmd = program
    .command('attack')
    .description('run attacks at several ε on the official test images and report accuracy, success, confidence, distances')
    .requiredOption('--model-file <path>', 'model file (.safetensors)')
    .option('--attack <list>', `comma-separated: ${Object.keys(allAttacks).join(', ')}`, 'fgsm')
    .option('--eps <list>', 'comma-separated budgets (L∞ in [0,1]; L2 ≥ 0)', epsListParser('--eps', 0), [0.05, 0.1, 0.15, 0.2, 0.25, 0.3])
    .option('--target <class|random|least-likely>', 'targeted attack toward a class (its own images are skipped), a random other class, or the least-likely class')
    .option('--norm <linf|l2>', `${Object.keys(allAttacks).filter(normFlag).join(', ')}: the norm of ε (default linf)`)
    .option('--aa-version <name>', "autoattack: 'standard' (APGD-CE, APGD-T, FAB-T, Square), 'plus' or 'rand'", 'standard')
    .option('--aa-chunk <n>', 'autoattack: images per chunk, each one AutoAttack run; with --out each chunk is kept there once measured, and Ctrl-C stops after the chunk in progress (default 1000)', int('--aa-chunk', 1))
    .option('--resume', 'autoattack with --out: reuse the chunks kept in --out that were measured on the same model file with the same settings')
    .option('--batch-size <n>', 'images per attack batch', int('--batch-size', 1))
    .option('--seed <n>', 'seed', int('--seed', 0), 0);
  settingFlags(cmd, allAttacks);
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
      checkSettingsRead(names, o, (attr) => cmd.getOptionValueSource(attr) === 'cli');
      claimOutputs([o.out && { path: o.out, kind: 'dir', flag: '--out' }]);
      const { model } = loadModelOption(o);
      let ds = loadDataset(o.data, 'test', outputClasses(model));
      const target = parseTarget(o.target, ds.numClasses);
      const limit = Math.min(o.testLimit ?? ds.count, ds.count);
      if (target?.kind === 'class') ds = withoutClass(ds, target.class, limit);
      const count = Math.min(limit, ds.count);
      const optionsOf = (n: string) => settingValues(allAttacks[n], o);
      // AutoAttack's chunk files are checked before any attack runs: a --resume with other settings is refused here
      const aaSet = settingValues(autoattack, o) as { steps?: number; squareQueries?: number };
      const aaOptions = { ...aa, seed: o.seed, batchSize: o.batchSize, steps: aaSet.steps, maxQueries: aaSet.squareQueries, json: Boolean(o.json) };
      const aaChunks = { chunk: (o.aaChunk as number | undefined) ?? 1000, dir: o.out as string | undefined, resume: Boolean(o.resume), modelKey: o.out ? fileHash(o.modelFile) : '' };
      if (names.includes('autoattack')) checkChunkStores({ ...aaChunks, stopped: () => false }, ds.name, count, epsList, aaOptions);
      // a reduced AutoAttack budget is said before any attack runs, not after the other attacks' bars
      const notice = names.includes('autoattack') ? autoAttackBudgetNotice(aaOptions) : null;
      if (notice) say(notice);
      const withNorm = (n: string) => (normFlag(n) && o.norm ? { ...optionsOf(n), norm: aa.norm } : optionsOf(n));

      const rows: AttackRowJson[] = [];
      const kept = new Map<string, AttackExample[]>();
      let cleanSaid = false; // the clean accuracy, once, before the first attack's line
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
          const row = attackRow(metrics, eps, attack.norm === 'l0' ? ((optionsOf(n).pixels as number | undefined) ?? 1) : undefined);
          rows.push(row);
          kept.set(n, examples);
          if (!o.json) {
            const pct = (v: number | null, d: number) => (v === null ? '–' : `${(100 * v).toFixed(d)}%`);
            if (!cleanSaid) {
              result(`clean accuracy ${pct(metrics.cleanAccuracy, 2)} on ${metrics.count} test images${target?.kind === 'class' ? ` (class ${target.class} left out)` : ''}`);
              cleanSaid = true;
            }
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

      // targeted white-box runs: the 10×10 source/target matrix at the largest ε, for the report folder
      const maxEps = Math.max(...epsList);
      const matrixOf = (n: string) => (o.out && target && allAttacks[n].kind === 'white-box' && kept.get(n)?.length
        ? targetMatrix(model, allAttacks[n], loadDataset(o.data, 'test', outputClasses(model)), maxEps, optionsOf(n), o.seed) : null);
      const attacks = names.filter((n) => n !== 'autoattack').map((n) => {
        const cells = matrixOf(n);
        return { key: n, name: allAttacks[n].name, l0: allAttacks[n].norm === 'l0', examples: kept.get(n) ?? [], ...(cells ? { targets: { cells, eps: maxEps } } : {}) };
      });
      // the report folder is written whole or not at all: Ctrl-C during it waits until it ends
      let pictures: string[] = [];
      if (o.out) {
        const dir = o.out as string;
        pictures = await uninterrupted(() => writeAttackFolder(dir, {
          modelFile: o.modelFile, data: ds.name, testCount: count, rows, attacks, targeted: Boolean(target), height: ds.height, width: ds.width, autoattack: autoReports,
        }));
      }
      const doc: AttackJson = { modelFile: o.modelFile, data: ds.name, testCount: count, target: o.target ?? null, results: rows, count, ...autoJson };
      if (o.json) printJson(doc);
      else if (o.out) say(`wrote ${join(o.out, 'report.md')}, report.json${pictures.length ? ` and ${pictures.join(', ')}` : ''}`);
    });
}
