// APGD's L∞ step on its own (Kernels.apgdLinfStep: the clipped sign step, the momentum step, the clip again), the
// TypeScript reference loop against the WebAssembly kernel, timed interleaved in one process on 256 rows of 784:
// the first 256 test images, their ε-ball ∩ [0, 1] at ε = 0.3, iterates drawn inside it and a gradient whose signs
// flip between calls (as a real attack's do, so that a branch predictor cannot learn them). The kernel's time
// includes its copies in and out of linear memory. Both give the same bits (test/engine/wasm-optim.test.ts); this
// only times them.
// Usage: npx tsx bench/apgd-step.ts [rounds=7] [calls per round=20]. Prints the median and range of ms per call.
import { median } from '../src/analysis/stats.js';
import { loadMnistData } from '../src/data/datasets.js';
import { referenceKernels } from '../src/engine/kernels/reference.js';
import { loadWasmKernels } from '../src/engine/kernels/wasm-node.js';
import { Rng } from '../src/engine/random.js';

const rounds = Number(process.argv[2] ?? 7), calls = Number(process.argv[3] ?? 20);
const wasm = loadWasmKernels();
if (wasm === null) {
  console.error('bench/apgd-step: build/kernels.wasm does not load; run `npm run build:wasm`');
  process.exit(1);
}
const R = 256, D = 784, eps = 0.3;
const images = loadMnistData('test').images.subarray(0, R * D);
const rng = new Rng(1);
const lo = new Float32Array(R * D), hi = new Float32Array(R * D), xa = new Float32Array(R * D), xo = new Float32Array(R * D);
const g = new Float32Array(R * D);
for (let i = 0; i < R * D; i++) {
  lo[i] = Math.max(0, images[i] - eps);
  hi[i] = Math.min(1, images[i] + eps);
  xa[i] = rng.uniform(lo[i], hi[i]);
  xo[i] = rng.uniform(lo[i], hi[i]);
  g[i] = rng.uniform(-1, 1);
}
const rows = Int32Array.from({ length: R }, (_, i) => i);
const steps = new Float64Array(R).fill(2 * eps);
const flip = () => {
  for (let i = 0; i < g.length; i++) if (rng.uniform() < 0.3) g[i] = -g[i];
};

const times: Record<'typescript' | 'wasm', number[]> = { typescript: [], wasm: [] };
for (let r = -1; r < rounds; r++) { // round −1 warms both up and is not counted
  for (const [name, k] of [['typescript', referenceKernels], ['wasm', wasm]] as const) {
    let spent = 0;
    for (let c = 0; c < calls; c++) {
      flip();
      const t = performance.now();
      k.apgdLinfStep(xa, xo, g, lo, hi, D, rows, rows, steps, 0.75);
      spent += performance.now() - t;
    }
    if (r >= 0) times[name].push(spent / calls);
  }
}
const show = (a: number[]) => `${median(a).toFixed(2)} ms (${Math.min(...a).toFixed(2)}–${Math.max(...a).toFixed(2)})`;
console.log(JSON.stringify({ rows: R, D, rounds, calls, typescriptMs: median(times.typescript), wasmMs: median(times.wasm), speedup: median(times.typescript) / median(times.wasm) }));
console.log(`APGD L∞ step, ${R}×${D}: TypeScript ${show(times.typescript)}, WebAssembly ${show(times.wasm)} per call; ratio of medians ${(median(times.typescript) / median(times.wasm)).toFixed(2)}×`);
