// GEMM throughput, TypeScript reference vs WebAssembly SIMD, on the shapes one training step of the `cnn`
// model issues per image batch (forward NN, weight-gradient NT, input-gradient TN), plus a square 256³.
// Float32 data; times include the wasm wrapper's copy-in/pack/copy-out. Run: npx tsx bench/gemm.ts
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Kernels } from '../src/engine/kernels/kernels.js';
import { referenceKernels } from '../src/engine/kernels/reference.js';
import { loadWasmKernels } from '../src/engine/kernels/wasm.js';
import { Rng } from '../src/engine/random.js';

type Shape = { M: number; N: number; K: number; op: 'NN' | 'NT' | 'TN' };

const shapes: Shape[] = [
  { M: 16, N: 576, K: 25, op: 'NN' },
  { M: 32, N: 64, K: 400, op: 'NN' },
  { M: 16, N: 25, K: 576, op: 'NT' },
  { M: 32, N: 400, K: 64, op: 'NT' },
  { M: 400, N: 64, K: 32, op: 'TN' },
  { M: 128, N: 128, K: 512, op: 'NT' },
  { M: 128, N: 512, K: 128, op: 'NN' },
  { M: 512, N: 128, K: 128, op: 'TN' },
  { M: 256, N: 256, K: 256, op: 'NN' },
];

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
if (!existsSync(join(root, 'build', 'kernels.wasm'))) {
  execFileSync(process.execPath, [join(root, 'scripts', 'build-wasm.mjs')], { stdio: 'inherit' });
}
const wasm = loadWasmKernels();
if (wasm === null) {
  console.error('bench/gemm: build/kernels.wasm does not load; run `node scripts/build-wasm.mjs`');
  process.exit(1);
}

function randomF32(n: number, rng: Rng): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.uniform(-1, 1);
  return a;
}

/** Best GFLOP/s over a few timed rounds, each long enough (~0.15 s) that timer resolution does not matter. */
function measure(k: Kernels, s: Shape, rng: Rng): number {
  const { M, N, K } = s;
  const tA = s.op[0] === 'T', tB = s.op[1] === 'T';
  const A = randomF32(M * K, rng), B = randomF32(K * N, rng), C = new Float32Array(M * N);
  const lda = tA ? M : K, ldb = tB ? K : N;
  const run = () => k.gemm(tA, tB, M, N, K, A, 0, lda, B, 0, ldb, C, 0, N, false);
  // Warm up: let V8 tier the JS and the wasm up to optimised code before timing.
  const t0 = performance.now();
  let warm = 0;
  while (performance.now() - t0 < 200 || warm < 5) { run(); warm++; }
  const flops = 2 * M * N * K;
  let reps = Math.max(1, Math.round((0.15e9 / flops) * 2)); // ~0.15 s at 2 GFLOP/s, grown below
  let best = 0;
  for (let round = 0; round < 5; round++) {
    const start = performance.now();
    for (let r = 0; r < reps; r++) run();
    const secs = (performance.now() - start) / 1e3;
    best = Math.max(best, (flops * reps) / secs / 1e9);
    if (secs < 0.1) reps = Math.ceil(reps * (0.15 / Math.max(secs, 1e-4)));
  }
  return best;
}

const rng = new Rng(1234);
const rows: string[][] = [['shape (M,N,K) op', 'reference GFLOP/s', 'wasm GFLOP/s', 'speedup']];
for (const s of shapes) {
  const ref = measure(referenceKernels, s, rng);
  const w = measure(wasm, s, rng);
  rows.push([`(${s.M},${s.N},${s.K}) ${s.op}`, ref.toFixed(2), w.toFixed(2), `${(w / ref).toFixed(1)}x`]);
}
const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
for (const r of rows) console.log(r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  '));
