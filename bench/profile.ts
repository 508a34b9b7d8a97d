// Where the time goes: milliseconds per step spent in each op's forward and backward (and the optimiser) for a
// zoo model's training step (batch 128), ∇x (batch 256) and inference (batch 256), and the matrix products among
// them by shape (milliseconds per step and GFLOP/s).
// `npx tsx bench/profile.ts [model] [steps]`; NABLAX_THREADS sets the kernels' threads. Each part is timed after
// 2 s of its own steps: a model's first second of steps runs slower (3 warm-up steps, as this script had until
// 3 Dec 2026, made an `mlp` training step 4.1–4.3 ms against 3.0 after a 3 s warm-up; `nablax bench` warms each
// figure up for --seconds, 1 s by default, for the same reason).
import { allOps } from '../src/engine/ops/index.js';
import type { Op } from '../src/engine/tape.js';
import { grad, noGrad } from '../src/engine/tape.js';
import { Rng } from '../src/engine/random.js';
import { kernels } from '../src/engine/kernels/kernels.js';
import { buildModel } from '../src/layers/spec.js';
import { zooNames, zooSpec } from '../src/layers/zoo.js';
import { residentParameters } from '../src/layers/resident.js';
import { getBatch } from '../src/data/batches.js';
import { loadMnistPackage } from '../src/data/datasets.js';
import { crossEntropyObjective } from '../src/train/loop.js';
import { recycling } from '../src/engine/recycle.js';
import { Adam } from '../src/train/optimizers.js';
import { inputGradient } from '../src/attacks/input-gradient.js';
import { warmUp } from '../src/experiments/bench/throughput.js';

const times = new Map<string, number>();
const add = (key: string, ms: number) => times.set(key, (times.get(key) ?? 0) + ms);

/** Wrap every op so its forward and backward add their wall time to `times`, keyed by op and output shape. */
function instrument(): void {
  for (const op of Object.values(allOps) as Op[]) {
    const f = op.forward.bind(op), b = op.backward.bind(op);
    op.forward = (inputs, attrs) => {
      const t0 = performance.now();
      const r = f(inputs, attrs);
      add(`${op.name} fwd [${r.out.shape.join('×')}]`, performance.now() - t0);
      return r;
    };
    op.backward = (dOut, ctx) => {
      const t0 = performance.now();
      const r = b(dOut, ctx);
      add(`${op.name} bwd [${ctx.out.shape.join('×')}]`, performance.now() - t0);
      return r;
    };
  }
}

const gemms = new Map<string, number>();

/** Wrap the active kernels' GEMM so each call adds its wall time to `gemms`, keyed by transposes and shape. */
function instrumentGemm(): void {
  const k = kernels();
  const gemm = k.gemm.bind(k);
  k.gemm = (...a: Parameters<typeof gemm>) => {
    const t0 = performance.now();
    gemm(...a);
    const key = `${a[0] ? 'T' : 'N'}${a[1] ? 'T' : 'N'} M ${a[2]} N ${a[3]} K ${a[4]}`;
    gemms.set(key, (gemms.get(key) ?? 0) + performance.now() - t0);
  };
}

function report(title: string, steps: number, total: number): void {
  console.log(`\n${title}: ${(total / steps).toFixed(2)} ms/step (kernels ${kernels().name}, ${kernels().getThreads()} threads)`);
  console.log(`  (ms per step over ${steps} steps timed after 2 s of warm-up, in each op [output shape], forward and backward apart, and the optimiser's step; the GEMM rows at the end are time inside those ops, not added to it)`);
  const rows = [...times.entries()].sort((a, b) => b[1] - a[1]);
  let accounted = 0;
  for (const [k, ms] of rows) {
    accounted += ms;
    console.log(`  ${(ms / steps).toFixed(2).padStart(8)} ms  ${((100 * ms) / total).toFixed(1).padStart(5)}%  ${k}`);
  }
  console.log(`  ${((total - accounted) / steps).toFixed(2).padStart(8)} ms  ${((100 * (total - accounted)) / total).toFixed(1).padStart(5)}%  (graph, allocation, other)`);
  // the matrix products inside those ops (dense layers, im2col convolutions), by shape
  for (const [key, ms] of [...gemms.entries()].sort((a, b) => b[1] - a[1])) {
    const [M, N, K] = (key.match(/\d+/g) ?? []).map(Number);
    const gflops = (2 * M * N * K * steps) / ms / 1e6;
    console.log(`  ${(ms / steps).toFixed(2).padStart(8)} ms  GEMM ${key.padEnd(24)} ${gflops.toFixed(1).padStart(6)} GFLOP/s`);
  }
  times.clear();
  gemms.clear();
}

const name = process.argv[2] ?? 'cnn';
const steps = Number(process.argv[3] ?? 20);
if (!(zooNames as string[]).includes(name) || !(Number.isInteger(steps) && steps >= 1)) {
  console.error(`profile: usage: npx tsx bench/profile.ts [model: ${zooNames.join(', ')}] [steps ≥ 1], got ${process.argv.slice(2).join(' ')}`);
  process.exit(2);
}
const data = loadMnistPackage();
const order = new Rng(0).permutation(data.count);
const model = residentParameters(buildModel(zooSpec(name), { seed: 0 })); // as `nablax bench` runs it
const params = model.parameters();
const tensors = params.map(([, t]) => t);
const opt = new Adam(params, { lr: 1e-3 });
instrument();
instrumentGemm();
const b128 = getBatch(data, order, 0, 128);
const b256 = getBatch(data, order, 0, 256);
// in a recycling scope, as trainingStep runs it (src/train/loop.ts): the same allocations as `nablax bench`
const trainStep = () => recycling(() => {
  const value = crossEntropyObjective(model, b128.x, b128.y, { rng: new Rng(0), epoch: 0, step: 0 });
  const g = grad(value.loss, tensors);
  const t0 = performance.now();
  opt.step(g);
  add('optimizer step', performance.now() - t0);
  return value;
}, (v) => [v.loss, v.logits]);
model.train();
warmUp(trainStep, 2);
times.clear();
gemms.clear();
let t0 = performance.now();
for (let i = 0; i < steps; i++) trainStep();
report(`${name} train, batch 128`, steps, performance.now() - t0);
warmUp(() => inputGradient(model, b256.x, b256.y), 2);
times.clear();
gemms.clear();
t0 = performance.now();
for (let i = 0; i < steps; i++) inputGradient(model, b256.x, b256.y);
report(`${name} ∇x, batch 256`, steps, performance.now() - t0);
model.eval();
const infer = () => recycling(() => noGrad(() => model.forward(b256.x)), (z) => [z]); // as predict and the bench
warmUp(infer, 2);
times.clear();
gemms.clear();
t0 = performance.now();
for (let i = 0; i < steps; i++) infer();
report(`${name} inference, batch 256`, steps, performance.now() - t0);
