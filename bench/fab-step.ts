// FAB's L∞ iterate update on its own (Kernels.fabStep: per row, two box-constrained projections onto the linearised
// boundary and the step), the TypeScript reference against the WebAssembly kernel with the default threads, timed
// interleaved in one process on 250 rows of 784 (AutoAttack's batch): the first 250 test images as the clean points,
// iterates within ε = 0.3 of them, gradient rows and boundary values drawn at random (a real attack's breakpoints
// are close to random too). The kernel's time includes its copies in and out of linear memory. Both give the same
// bits (test/engine/wasm-fab.test.ts); this only times them.
// Usage: npx tsx bench/fab-step.ts [rounds=7] [calls per round=10]. Prints the median and range of ms per call.
import { median } from '../src/analysis/stats.js';
import { loadMnistData } from '../src/data/datasets.js';
import { referenceKernels } from '../src/engine/kernels/reference.js';
import { loadWasmKernels } from '../src/engine/kernels/wasm-node.js';
import { Rng } from '../src/engine/random.js';

const rounds = Number(process.argv[2] ?? 7), calls = Number(process.argv[3] ?? 10);
const wasm = loadWasmKernels();
if (wasm === null) {
  console.error('bench/fab-step: build/kernels.wasm does not load; run `npm run build:wasm`');
  process.exit(1);
}
const R = 250, D = 784, eps = 0.3;
const x0 = loadMnistData('test').images.slice(0, R * D);
const rng = new Rng(1);
const start = Float32Array.from(x0, (v) => Math.min(1, Math.max(0, v + rng.uniform(-eps, eps))));
const w = Float64Array.from({ length: R * D }, () => Math.fround(rng.uniform(-1, 1)));
const f = Float64Array.from({ length: R }, () => rng.uniform(-2, 2));

const times: Record<'typescript' | 'wasm', number[]> = { typescript: [], wasm: [] };
for (let r = -1; r < rounds; r++) { // round −1 warms both up and is not counted
  for (const [name, k] of [['typescript', referenceKernels], ['wasm', wasm]] as const) {
    let spent = 0;
    for (let c = 0; c < calls; c++) {
      const x1 = start.slice();
      const t = performance.now();
      k.fabStep(x1, x0, w, f, D, 'linf', 1.05, 0.1);
      spent += performance.now() - t;
    }
    if (r >= 0) times[name].push(spent / calls);
  }
}
const threads = wasm.getThreads();
wasm.setThreads(1); // stops the workers
const show = (a: number[]) => `${median(a).toFixed(2)} ms (${Math.min(...a).toFixed(2)}–${Math.max(...a).toFixed(2)})`;
console.log(JSON.stringify({ rows: R, D, threads, rounds, calls, typescriptMs: median(times.typescript), wasmMs: median(times.wasm), speedup: median(times.typescript) / median(times.wasm) }));
console.log(`FAB L∞ step, ${R}×${D}: TypeScript ${show(times.typescript)}, WebAssembly ${show(times.wasm)} per call; ratio of medians ${(median(times.typescript) / median(times.wasm)).toFixed(2)}×`);
