// `nablax bench --repeat N`: the summary of N repetitions (medians, ranges, side-by-side ratios) by hand, and the
// command end to end, with a stand-in for PyTorch's interpreter that records what it was asked to measure. No timing
// is asserted: only that the summary is the medians and ranges of the repetitions it reports.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { summarizeRuns, type BenchRun } from '../../../src/experiments/bench/repeat.js';
import type { BenchResult } from '../../../src/experiments/bench/throughput.js';
import { median } from '../../../src/analysis/stats.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

const ours = (measure: BenchResult['measure'], imagesPerSecond: number, gflops: number): BenchResult => ({
  model: 'cnn', measure, batch: measure === 'train' ? 128 : 256, imagesPerSecond, kernels: 'wasm-simd-fma', gflops, fractionOfPeak: null,
});
const torch = (measure: BenchResult['measure'], imagesPerSecond: number | null) => ({
  peer: 'torch', model: 'cnn', measure, batch: measure === 'train' ? 128 : 256, imagesPerSecond,
});

describe('summarizeRuns', () => {
  const runs: BenchRun[] = [
    { results: [ours('train', 9000, 56), ours('inference', 30000, 67)], peers: [torch('train', 1000), torch('inference', null)] },
    { results: [ours('train', 6000, 37), ours('inference', 20000, 45)], peers: [torch('train', 1500), torch('inference', null)] },
    { results: [ours('train', 8000, 50), ours('inference', 33000, 74)], peers: [torch('train', 2000), torch('inference', null)] },
  ];

  it('gives each figure the median of the repetitions and their range, and the fraction of the best peak', () => {
    const s = summarizeRuns(runs, 100);
    expect(s.results.map((r) => [r.measure, r.imagesPerSecond, r.imagesPerSecondRange, r.gflops, r.gflopsRange])).toEqual([
      ['train', 8000, [6000, 9000], 50, [37, 56]],
      ['inference', 30000, [20000, 33000], 67, [45, 74]],
    ]);
    expect(s.results[0].fractionOfPeak).toBe(0.5);
    expect(s.results[0].fractionOfPeakRange).toEqual([0.37, 0.56]);
    expect(summarizeRuns(runs, null).results[0].fractionOfPeakRange).toBeNull();
    // and each repetition as measured, with its own fraction
    expect(s.runs.map((run) => run.results.map((r) => r.fractionOfPeak))).toEqual([[0.56, 0.67], [0.37, 0.45], [0.5, 0.74]]);
    expect(summarizeRuns(runs, null).runs[0].results[0].fractionOfPeak).toBeNull();
  });

  it('takes ratios within each repetition (9, 4, 4), not of the medians (8000 ÷ 1500), and keeps a missing figure missing', () => {
    const s = summarizeRuns(runs, 100);
    const train = s.ratios.find((r) => r.measure === 'train')!;
    expect(train.ratio).toBe(4);
    expect(train.ratioRange).toEqual([4, 9]);
    expect(s.peers.find((p) => p.measure === 'train')!.imagesPerSecond).toBe(1500);
    const inference = s.ratios.find((r) => r.measure === 'inference')!;
    expect(inference.ratio).toBeNull();
    expect(inference.ratioRange).toBeNull();
    expect(s.peers.find((p) => p.measure === 'inference')!.imagesPerSecondRange).toBeNull();
  });

  it('refuses an empty list', () => {
    expect(() => summarizeRuns([], 100)).toThrow(/summarizeRuns: no repetitions to summarise/);
  });
});

describe('nablax bench --repeat', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nablax-bench-repeat-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const bench = (args: string[], env: NodeJS.ProcessEnv = process.env) =>
    spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'bench', ...args], { cwd: repoRoot, encoding: 'utf8', timeout: 120_000, env });

  it('reports the median and range of every figure over the repetitions it also lists', () => {
    const r = bench(['--models', 'softmax', '--seconds', '0.05', '--rounds', '1', '--repeat', '3', '--json']);
    expect(r.status, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.repeat).toBe(3);
    expect(doc.runs).toHaveLength(3);
    expect(doc.results).toHaveLength(3);
    for (const f of doc.results) {
      const each = doc.runs.map((run: { results: BenchResult[] }) => run.results.find((x) => x.measure === f.measure)!.imagesPerSecond);
      expect(f.imagesPerSecond).toBe(Math.round(median(each)));
      expect(f.imagesPerSecondRange).toEqual([Math.min(...each), Math.max(...each)]);
      expect(f.fractionOfPeak).toBeCloseTo(f.gflops / doc.peakGflops, 2);
    }
    // each repetition carries its own fraction of the run's peak
    for (const run of doc.runs as { results: BenchResult[] }[]) {
      for (const x of run.results) expect(x.fractionOfPeak).toBe(Math.round((x.gflops / doc.peakGflops) * 1000) / 1000);
    }
    // the progress line on stderr names each repetition as it starts
    expect(r.stderr).toMatch(/^bench \d+% \d+\/9 \| repetition 3 of 3 \|/m);
  });

  it('heads the table of every repetition on stdout, then the medians', () => {
    const r = bench(['--models', 'softmax', '--seconds', '0.05', '--rounds', '1', '--repeat', '2']);
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout.split('\n');
    const first = lines.indexOf('repetition 1 of 2:'), second = lines.indexOf('repetition 2 of 2:');
    const medians = lines.indexOf('medians of 2 repetitions [range]:');
    expect(first).toBeGreaterThanOrEqual(0);
    expect(second).toBeGreaterThan(first + 3); // three figures of softmax between them
    expect(medians).toBeGreaterThan(second);
    expect(r.stdout).toMatch(/samples, one before the first model and one after each model/);
  });

  it('measures PyTorch once per model and repetition, beside it, and gives the median of the side-by-side ratios', () => {
    // a stand-in interpreter: answers the import check, records each request's models, reports fixed figures
    const log = join(dir, 'calls.log');
    const fake = join(dir, 'python3');
    writeFileSync(fake, `#!${process.execPath}
const fs = require('node:fs');
if (process.argv[2] === '-c') { console.log('1.13.0-standin'); process.exit(0); }
const req = JSON.parse(fs.readFileSync(0, 'utf8'));
fs.appendFileSync(${JSON.stringify(log)}, req.models.map((m) => m.name).join(',') + '\\n');
const peers = [];
for (const m of req.models) for (const [measure, batch] of [['train', 128], ['inputGradient', 256], ['inference', 256]]) {
  peers.push({ peer: 'torch', model: m.name, measure, batch, imagesPerSecond: 100 });
}
console.log(JSON.stringify({ peers, versions: { torch: '1.13.0-standin' } }));
`);
    chmodSync(fake, 0o755);
    const r = bench(['--models', 'softmax,mlp', '--seconds', '0.05', '--rounds', '1', '--repeat', '2', '--peers', 'torch', '--json'],
      { ...process.env, NABLAX_TORCH_PYTHON: fake });
    expect(r.status, r.stderr).toBe(0);
    expect(readFileSync(log, 'utf8').trim().split('\n')).toEqual(['softmax', 'mlp', 'softmax', 'mlp']);
    const doc = JSON.parse(r.stdout);
    expect(doc.peerVersions.torch).toBe('1.13.0-standin');
    expect(doc.ratios).toHaveLength(6);
    for (const q of doc.ratios) {
      const each = doc.runs.map((run: { results: BenchResult[] }) => run.results.find((x) => x.model === q.model && x.measure === q.measure)!.imagesPerSecond / 100);
      // to 2 decimals, as reported (toBeCloseTo would fail on a rounding half-way, a difference of exactly 0.005)
      const two = (v: number) => Math.round(v * 100) / 100;
      expect(q.ratio).toBe(two(median(each)));
      expect(q.ratioRange).toEqual([two(Math.min(...each)), two(Math.max(...each))]);
    }
  });

  it('--repeat 0 is a usage error before any work', () => {
    const r = bench(['--models', 'softmax', '--repeat', '0']);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/--repeat/);
  });
});
