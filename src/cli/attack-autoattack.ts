// `nablax attack --attack autoattack`: AutoAttack over the first N test images at each ε, in chunks of 1,000 images
// (kept in --out as each one is measured, so Ctrl-C or a crash loses at most the chunk in progress and --resume
// continues), with a progress bar per stage (stderr: points/s and ETA), a line per chunk with the time left, the
// per-stage table on stdout, and the report (stages, seconds, which stage broke each point, checks and warnings) for
// --json and report.json / report.md.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AutoAttackChunksStopped, autoAttackInChunks, type ChunkedAutoAttackReport } from '../analysis/autoattack-chunks.js';
import type { AutoAttackReport, AutoAttackVersion } from '../attacks/autoattack.js';
import type { Sequential } from '../layers/sequential.js';
import type { Dataset } from '../data/datasets.js';
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

/** The file a run at ε keeps its chunks in. @example chunkFile('runs/aa', 0.3);   // 'runs/aa/autoattack-chunks-eps0.3.json' */
export const chunkFile = (dir: string, eps: number) => join(dir, `autoattack-chunks-eps${eps}.json`);

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
    const store = k.dir ? { path: chunkFile(k.dir, eps), key: { model: k.modelKey, data: ds.name, eps, norm: o.norm, version: o.version, seed: o.seed,
      steps: o.steps ?? 100, squareQueries: o.maxQueries ?? 5000, batchSize: o.batchSize ?? 250 } } : undefined;
    let r: ChunkedAutoAttackReport;
    try {
      r = await autoAttackInChunks(model, ds, N, {
        eps, norm: o.norm, version: o.version, seed: o.seed, batchSize: o.batchSize, steps: o.steps, squareQueries: o.maxQueries,
        chunk: k.chunk, store, reuse: k.resume, interrupted: k.stopped,
        onChunk: (start, n) => {
          if (chunks < 2) return;
          where = ` ${start + 1}-${start + n}/${N}`;
          const left = N - start;
          const s = (performance.now() - tStart) / 1000;
          const eta = measuredImages ? ` (about ${duration((s / measuredImages) * left)} left)` : '';
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
          bar = progressBar(`autoattack eps ${eps} ${stage}${where}`, points, '{rate} points/s', { rate: '-' });
          t0 = performance.now();
          total = points;
        },
        onProgress: (done) => {
          const s = (performance.now() - t0) / 1000;
          bar?.update(Math.min(Math.round(done * 100) / 100, total), { rate: s > 0 ? (done / s).toFixed(done / s >= 10 ? 0 : 2) : '-' });
        },
      });
    } catch (e) {
      (bar as ReturnType<typeof progressBar> | null)?.stop();
      if (!(e instanceof AutoAttackChunksStopped)) throw e;
      const kept = e.path ? `AutoAttack on ${e.kept} of ${e.total} images kept in ${e.path}; the same command with --resume continues` : `AutoAttack measured ${e.kept} of ${e.total} images; nothing kept (no --out)`;
      throw new Interrupted(`interrupted; ${kept}; no report written`);
    }
    (bar as ReturnType<typeof progressBar> | null)?.stop();
    if (r.chunksReused) say(`autoattack eps ${eps}: ${r.chunksReused} of ${chunks} chunks reused from ${store!.path}`);
    for (const w of r.warnings) say(`warning: autoattack eps ${eps}: ${w}`);
    const { chunkSize: _s, chunksMeasured: _m, chunksReused: _r, ...report } = r;
    out.push(report);
    if (!o.json) process.stdout.write(table(report) + '\n');
  }
  return out;
}

/** SHA-256 of a file's bytes (hex): the model in a chunk store's key. @example fileHash('runs/robust.safetensors'); */
export const fileHash = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

const pct = (v: number) => `${(100 * v).toFixed(2)}%`;
const duration = (s: number) => (s >= 3600 ? `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min` : `${Math.max(1, Math.round(s / 60))} min`);

/** The per-stage table of one AutoAttack run (markdown). @example console.log(table(report)); */
export function table(r: AutoAttackReport): string {
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
