// GEMM throughput, TypeScript reference vs WebAssembly SIMD, on the shapes the `cnn` model issues: its convs per
// image (forward NN, weight-gradient NT, input-gradient TN, see src/engine/ops/conv.ts) and its 512→128 Linear
// per batch of 128 (src/engine/ops/matmul.ts), plus a square 256³. Float32 data; times include the wasm wrapper's
// copy-in/pack/copy-out. Run: npx tsx bench/gemm.ts (`nablax bench --gemm` reports the active kernels' figures).
// The shapes and the timing loop are src/experiments/bench/gemm.ts, which `nablax bench --gemm` runs too.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { referenceKernels } from '../src/engine/kernels/reference.js';
import { loadWasmKernels } from '../src/engine/kernels/wasm-node.js';
import { Rng } from '../src/engine/random.js';
import { cnnGemmShapes, gemmGflops, type GemmShape } from '../src/experiments/bench/gemm.js';

function main(): void {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..');
  if (!existsSync(join(root, 'build', 'kernels.wasm'))) {
    execFileSync(process.execPath, [join(root, 'scripts', 'build-wasm.mjs')], { stdio: 'inherit' });
  }
  const wasm = loadWasmKernels();
  if (wasm === null) {
    console.error('bench/gemm: build/kernels.wasm does not load; run `node scripts/build-wasm.mjs`');
    process.exit(1);
  }
  const rng = new Rng(1234);
  const shapes: GemmShape[] = [...cnnGemmShapes, { M: 256, N: 256, K: 256, op: 'NN', role: 'square' }];
  const rows: string[][] = [['shape (M,N,K) op', 'role', 'reference GFLOP/s', 'wasm GFLOP/s', 'speedup']];
  for (const s of shapes) {
    const ref = gemmGflops(referenceKernels, s, rng);
    const w = gemmGflops(wasm, s, rng);
    rows.push([`(${s.M},${s.N},${s.K}) ${s.op}`, s.role, ref.toFixed(2), w.toFixed(2), `${(w / ref).toFixed(1)}x`]);
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  for (const r of rows) console.log(r.map((cell, c) => (c < 2 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  '));
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
