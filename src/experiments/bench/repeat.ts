// `nablax bench --repeat N`: the whole measurement N times in one process (each model's nablax figures and, with
// --peers torch, PyTorch's for the same model, next to each other, their order alternating from one repetition to
// the next), summarised as the median of the N figures with their range. A speed claim is then one command's
// output: medians and ranges, a fraction of the peak measured in the same run, and a ratio to a peer measured
// beside it, which the host's drift (up to 1.7× within minutes on a shared VM) moves far less than images/s.
import { median } from '../../analysis/stats.js';
import type { BenchResult } from './throughput.js';
import type { PeerRatio, PeerResult } from './peers.js';

/** One repetition: nablax's figures and the peers' measured beside them. */
export interface BenchRun {
  results: BenchResult[];
  peers: PeerResult[];
}

/** A figure over the repetitions: the median, and the smallest and largest value seen. */
export type Range = [number, number];

/** A nablax figure over the repetitions: the median images/s (and GFLOP/s, fraction of the peak) with ranges. */
export interface RepeatedResult extends BenchResult {
  imagesPerSecondRange: Range;
  gflopsRange: Range;
  fractionOfPeakRange: Range | null;
}

/** A peer's figure over the repetitions (null when the peer cannot do it). */
export interface RepeatedPeerResult extends PeerResult {
  imagesPerSecondRange: Range | null;
}

/** nablax ÷ peer over the repetitions: the median of the per-repetition ratios and their range. */
export interface RepeatedRatio extends PeerRatio {
  ratioRange: Range | null;
}

const range = (xs: number[]): Range => [Math.min(...xs), Math.max(...xs)];
const round = (x: number, digits: number): number => Math.round(x * 10 ** digits) / 10 ** digits;

/**
 * The medians and ranges of N repetitions, figure by figure (a figure is a model and a measure; a peer's also
 * its engine). fractionOfPeak is GFLOP/s ÷ `peakGflops`, the best peak sample of the whole run (a busy neighbour
 * can only make a sample slower). Ratios are taken within each repetition (nablax and the peer measured side by
 * side), then summarised; a repetition where either side has no figure adds none. `runs` returns the repetitions
 * as given, each figure with its own fraction of the peak.
 * @example
 *   const s = summarizeRuns([{ results: r1, peers: p1 }, { results: r2, peers: p2 }], 117.1);
 *   s.results[0].imagesPerSecond;        // median images/s of the first figure
 *   s.results[0].imagesPerSecondRange;   // [slowest, fastest]
 */
export function summarizeRuns(runs: BenchRun[], peakGflops: number | null): {
  results: RepeatedResult[]; peers: RepeatedPeerResult[]; ratios: RepeatedRatio[]; runs: BenchRun[];
} {
  if (runs.length === 0) throw new Error('summarizeRuns: no repetitions to summarise');
  const key = (r: { model: string; measure: string }) => `${r.model}/${r.measure}`;
  const fraction = (g: number) => (peakGflops !== null && peakGflops > 0 ? round(g / peakGflops, 3) : null);
  const results = runs[0].results.map((first): RepeatedResult => {
    const same = runs.map((run) => run.results.find((r) => key(r) === key(first))).filter((r) => r !== undefined);
    const rates = same.map((r) => r.imagesPerSecond), gf = same.map((r) => r.gflops);
    const gflops = round(median(gf), 2);
    const [lo, hi] = range(gf);
    const fracLo = fraction(lo), fracHi = fraction(hi);
    return {
      ...first,
      imagesPerSecond: Math.round(median(rates)),
      gflops,
      fractionOfPeak: fraction(gflops),
      imagesPerSecondRange: range(rates),
      gflopsRange: [lo, hi],
      fractionOfPeakRange: fracLo === null || fracHi === null ? null : [fracLo, fracHi],
    };
  });
  const peerKey = (p: PeerResult) => `${p.peer}/${p.model}/${p.measure}`;
  const peers = runs[0].peers.map((first): RepeatedPeerResult => {
    const rates = runs
      .map((run) => run.peers.find((p) => peerKey(p) === peerKey(first))?.imagesPerSecond)
      .filter((v): v is number => typeof v === 'number');
    return rates.length === 0
      ? { ...first, imagesPerSecond: null, imagesPerSecondRange: null }
      : { ...first, imagesPerSecond: Math.round(median(rates)), imagesPerSecondRange: range(rates) };
  });
  const ratios = peers
    .filter((p) => results.some((r) => key(r) === key(p)))
    .map((p): RepeatedRatio => {
      const each: number[] = [];
      for (const run of runs) {
        const ours = run.results.find((r) => key(r) === key(p))?.imagesPerSecond;
        const theirs = run.peers.find((q) => peerKey(q) === peerKey(p))?.imagesPerSecond;
        if (ours !== undefined && typeof theirs === 'number' && theirs > 0) each.push(ours / theirs);
      }
      return each.length === 0
        ? { peer: p.peer, model: p.model, measure: p.measure, ratio: null, ratioRange: null }
        : { peer: p.peer, model: p.model, measure: p.measure, ratio: round(median(each), 2), ratioRange: range(each).map((r) => round(r, 2)) as Range };
    });
  // each repetition as measured, with its own fraction of the run's peak
  const each = runs.map((run) => ({ ...run, results: run.results.map((r) => ({ ...r, fractionOfPeak: fraction(r.gflops) })) }));
  return { results, peers, ratios, runs: each };
}
