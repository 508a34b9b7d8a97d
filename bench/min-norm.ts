// Minimal adversarial perturbations of a model file on the first N official test images: FAB (L2, L∞), DeepFool (L2,
// L∞) and Carlini–Wagner L2, each with its defaults; per attack the median and quantiles of ‖δ‖ over the initially
// correct images, how many it fooled at all, accuracy at a few ε, and the attack's wall time (absolute times depend on
// the machine's load: compare them only within one run). Results as JSON on stdout, progress on stderr.
// Run: npx tsx bench/min-norm.ts --model runs/model.safetensors --count 100 [--cw-steps 1000]
import { Command, InvalidArgumentError } from 'commander';
import { existsSync } from 'node:fs';
import { cw } from '../src/attacks/cw.js';
import { deepfool, deepfoolLinf } from '../src/attacks/deepfool.js';
import { fab } from '../src/attacks/fab.js';
import { summarizeMinNorm, type MinNormResult } from '../src/attacks/min-norm.js';
import { progressBar } from '../src/cli/util.js';
import { loadModel } from '../src/io/model-file.js';
import { getBatch } from '../src/data/batches.js';
import { loadMnistData } from '../src/data/datasets.js';

const int = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${name} must be an integer ≥ 1, got '${v}'`);
  return n;
};
const opts = new Command()
  .requiredOption('--model <path>', 'model file (.safetensors)')
  .option('--count <n>', 'first N test images', int('--count'), 100)
  .option('--cw-steps <n>', 'CW Adam steps per c', int('--cw-steps'), 1000)
  .option('--only <names>', 'comma-separated subset of fab-l2,fab-linf,deepfool,deepfool-linf,cw-l2')
  .parse()
  .opts<{ model: string; count: number; cwSteps: number; only?: string }>();
if (!existsSync(opts.model)) {
  process.stderr.write(`min-norm: --model: no such file '${opts.model}'\n`);
  process.exit(2);
}
const { model } = loadModel(opts.model);
const { x, y } = getBatch(loadMnistData('test'), null, 0, opts.count);

type OnProgress = (fraction: number) => void;
const runs: [string, 'linf' | 'l2', number[], (p: OnProgress) => MinNormResult][] = [
  ['fab-l2', 'l2', [0.5, 1, 1.5, 2], (p) => fab.run(model, x, y, { eps: 2, norm: 'l2', onProgress: p })],
  ['fab-linf', 'linf', [0.05, 0.1, 0.2, 0.3], (p) => fab.run(model, x, y, { eps: 0.3, norm: 'linf', onProgress: p })],
  ['deepfool', 'l2', [0.5, 1, 1.5, 2], (p) => deepfool.run(model, x, y, { eps: 2, onProgress: p })],
  ['deepfool-linf', 'linf', [0.05, 0.1, 0.2, 0.3], (p) => deepfoolLinf.run(model, x, y, { eps: 0.3, onProgress: p })],
  ['cw-l2', 'l2', [0.5, 1, 1.5, 2], (p) => cw.run(model, x, y, { eps: 2, steps: opts.cwSteps, onProgress: p })],
];
const only = opts.only?.split(',');
const out: Record<string, unknown> = { model: opts.model, count: opts.count };
for (const [name, norm, epsilons, run] of runs) {
  if (only && !only.includes(name)) continue;
  const bar = progressBar(`${name} on ${opts.count} images`, 1000, 'of the budget (‰)');
  const t0 = performance.now();
  const r = run((f) => bar.update(Math.round(f * 1000), {}));
  bar.stop();
  const seconds = (performance.now() - t0) / 1000;
  const s = summarizeMinNorm(r.distances, norm, { epsilons });
  const iters = Array.from(r.iterations);
  out[name] = { ...s, seconds, meanIterations: iters.reduce((a, b) => a + b, 0) / iters.length };
  process.stderr.write(`${name}: median ‖δ‖ ${s.median.toFixed(4)}, found ${s.found}/${s.initiallyCorrect}, ${seconds.toFixed(1)} s\n`);
}
process.stdout.write(JSON.stringify(out, null, 2) + '\n');
