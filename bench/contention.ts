// Results on a busy machine: Square (L∞, ε = 0.3, 5,000 queries, seed 0, as AutoAttack runs it) on 250 still-robust
// points of the PGD-trained `cnn` (test images 2,000–2,999 that APGD-CE, APGD-T and FAB-T left robust in the kept
// report, the batch holding image 2,522), with `--busy N` processes spinning beside it. Every threaded GEMM call
// (M·N·K ≥ 2²⁰) is also run on a copy through a one-thread instance of the kernels and compared bit for bit; at the
// end it prints the adversarial batch's hash (the same on an idle machine, for any thread count), the threaded GEMM
// calls checked and how many differed. A worker thread that ran a call twice (a late notify taken for a new call,
// fixed in src/engine/kernels/thread-control.ts) showed here as columns 64–127 of the first dense layer doubled.
// Usage: npx tsx bench/contention.ts [--busy 2] [--runs 1]. A run takes about a minute idle, three with two spinners.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { square } from '../src/attacks/square.js';
import { ScoreOracle } from '../src/attacks/oracle.js';
import { getBatch } from '../src/data/batches.js';
import { loadMnistData, subset } from '../src/data/datasets.js';
import { kernels, useKernels, type Kernels } from '../src/engine/kernels/kernels.js';
import { loadWasmKernels } from '../src/engine/kernels/wasm-node.js';
import { Tensor } from '../src/engine/tensor.js';
import { loadModel } from '../src/io/model-file.js';

const rule = '--busy must be an integer ≥ 0 and --runs an integer ≥ 1';
let values: { busy: string; runs: string };
try {
  values = parseArgs({ options: { busy: { type: 'string', default: '2' }, runs: { type: 'string', default: '1' } } }).values;
} catch (e) {
  console.error(`bench/contention: ${(e as Error).message.split('\n')[0]} (${rule})`);
  process.exit(2);
}
const busy = Number(values.busy), runs = Number(values.runs);
if (!/^\d+$/.test(values.busy) || !/^\d+$/.test(values.runs) || runs < 1) {
  console.error(`bench/contention: ${rule}`);
  process.exit(2);
}
const fast = kernels();
const single = loadWasmKernels({ threads: 1 });
if (single === null || fast.getThreads() < 2) {
  console.error('bench/contention: needs the WebAssembly kernels (npm run build:wasm) on at least 2 threads');
  process.exit(1);
}

const model = loadModel('results/pgd-cnn/model.safetensors').model;
model.eval();
type Chunk = { start: number; brokenBy: (string | null)[] };
const chunks = (JSON.parse(readFileSync('results/pgd-cnn/autoattack/autoattack-chunks-eps0.3.json', 'utf8')) as { chunks: Chunk[] }).chunks;
const chunk = chunks.find((c) => c.start === 2000)!;
const robust = chunk.brokenBy.map((b, i) => (b === null || b === 'square' ? i : -1)).filter((i) => i >= 0);
const b0 = Math.floor(robust.indexOf(522) / 250) * 250; // AutoAttack's batches of 250: the one holding image 2,522
const rows = robust.slice(b0, b0 + 250);
const { x, y } = getBatch(subset(loadMnistData('test'), 2000, 3000), null, 0, 1000);
const D = 784;
const xb = new Tensor(Float32Array.from({ length: rows.length * D }, (_, i) => x.data[rows[Math.floor(i / D)] * D + (i % D)]), [rows.length, 1, 28, 28]);
const yb = Int32Array.from(rows, (n) => y[n]);

let checked = 0, differing = 0;
const checking: Kernels = {
  ...fast,
  gemm(...args) {
    const [, , M, N, K] = args;
    if (M * N * K < 1 << 20) return fast.gemm(...args);
    const C = args[11];
    const copy = C.slice();
    const twin = [...args] as typeof args;
    twin[11] = copy;
    fast.gemm(...args);
    single.gemm(...twin);
    checked++;
    const a = new Uint8Array(C.buffer, C.byteOffset, C.byteLength), b = new Uint8Array(copy.buffer, copy.byteOffset, copy.byteLength);
    if (a.some((v, i) => v !== b[i])) {
      differing++;
      console.log(`gemm call ${checked} (${M}×${N}×${K}) differs from the one-thread twin`);
    }
  },
};

const spinners = Array.from({ length: busy }, () => spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }));
const stop = () => spinners.forEach((s) => s.kill());
process.on('exit', stop);
process.on('SIGINT', () => process.exit(130));
useKernels(checking);
try {
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    const before = differing;
    const res = square.run(new ScoreOracle(model), xb, yb, { eps: 0.3, seed: 0, maxQueries: 5002, pInit: 0.8, rescaleSchedule: false });
    const hash = createHash('sha256').update(new Uint8Array(res.adversarial.data.buffer)).digest('hex').slice(0, 16);
    const broken = rows.filter((_, i) => res.success[i]).map((n) => 2000 + n);
    console.log(`run ${r + 1}: adversarial batch ${hash}, broken ${JSON.stringify(broken)}, ${differing - before} differing GEMM calls, ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  }
} finally {
  useKernels(fast);
  stop();
}
console.log(`threads ${fast.getThreads()}, busy ${busy}: ${checked} threaded GEMM calls checked, ${differing} differed`);
