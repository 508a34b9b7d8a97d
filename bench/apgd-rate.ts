// APGD-CE's cost per iteration against the bench's ∇x rate (inputGradient, batch 256, the cost of one FGSM step),
// timed interleaved in one process on the same images and model so that machine load hits both alike.
// Usage: npx tsx bench/apgd-rate.ts [rounds=5] [steps=20] [model file or zoo name=cnn]. Prints one JSON line per
// round and the median ratio; the ratio is what to quote (absolute rates depend on the machine's load). APGD skips
// the images misclassified at x: both run on the first 256 correctly classified test images, and its rate counts the
// iterations it actually ran (Σ iterations).
import { median } from '../src/analysis/stats.js';
import { apgdCe } from '../src/attacks/apgd.js';
import { inputGradient } from '../src/attacks/input-gradient.js';
import { loadModel } from '../src/io/model-file.js';
import { buildModel } from '../src/layers/spec.js';
import { zooSpec } from '../src/layers/zoo.js';
import { getBatch } from '../src/data/batches.js';
import { loadMnistData } from '../src/data/datasets.js';
import { argmax, predict } from '../src/layers/predict.js';
import { Tensor } from '../src/engine/tensor.js';

const rounds = Number(process.argv[2] ?? 5), steps = Number(process.argv[3] ?? 20);
const which = process.argv[4] ?? 'cnn';
const model = which.endsWith('.safetensors') ? loadModel(which).model : buildModel(zooSpec(which), { seed: 0 });
model.eval();
const B = 256;
// The first B test images the model classifies correctly, so that APGD (which skips the misclassified) and ∇x run
// on the same batch size.
const test = loadMnistData('test');
const all = getBatch(test, null, 0, 2 * B);
const ok = argmax(predict(model, all.x)).reduce<number[]>((acc, p, n) => (p === all.y[n] && acc.length < B ? [...acc, n] : acc), []);
if (ok.length < B) throw new Error(`apgd-rate: only ${ok.length} of the first ${2 * B} test images are classified correctly; need ${B}`);
const D = all.x.size / all.x.shape[0];
const x = new Tensor(Float32Array.from({ length: B * D }, (_, i) => all.x.data[ok[Math.floor(i / D)] * D + (i % D)]), [B, ...all.x.shape.slice(1)]);
const y = Int32Array.from(ok, (n) => all.y[n]);

// Warm-up: kernels compile and buffers settle.
inputGradient(model, x, y);
apgdCe.run(model, x, y, { eps: 0.3, steps: 2, earlyStop: false });

const ratios: number[] = [], ratiosEval: number[] = [];
for (let r = 0; r < rounds; r++) {
  let t = performance.now();
  for (let k = 0; k < steps; k++) inputGradient(model, x, y);
  const grad = (B * steps) / ((performance.now() - t) / 1000);
  t = performance.now();
  // earlyStop false: every initially correct image runs every iteration.
  const res = apgdCe.run(model, x, y, { eps: 0.3, steps, earlyStop: false, seed: r });
  const sec = (performance.now() - t) / 1000;
  const iters = res.iterations.reduce((a, b) => a + b, 0), attacked = iters / steps;
  const apgdIter = iters / sec; // iterations per second (the start's gradient and the clean forward included in the time)
  const apgdEval = (iters + attacked) / sec; // gradient evaluations per second (the start's included)
  ratios.push(apgdIter / grad);
  ratiosEval.push(apgdEval / grad);
  process.stdout.write(JSON.stringify({ round: r, gradImagesPerSecond: Math.round(grad), attacked, apgdIterationsPerSecond: Math.round(apgdIter), ratio: +(apgdIter / grad).toFixed(3) }) + '\n');
}
process.stdout.write(JSON.stringify({ steps, batch: B, medianRatioPerIteration: +median(ratios).toFixed(3), medianRatioPerGradient: +median(ratiosEval).toFixed(3) }) + '\n');
