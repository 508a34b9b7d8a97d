// GEMM throughput of a kernel implementation on the shapes the `cnn` model issues: its convolutions per chunk of
// images (forward NN, weight-gradient NT, input-gradient TN, see src/engine/ops/conv.ts) and its 512→128 Linear per
// batch of 128 (src/engine/ops/matmul.ts). Float32 data; times include the wasm wrapper's copy-in/pack/copy-out.
// `nablax bench --gemm` reports the active kernels' figures; bench/gemm.ts compares the reference and WebAssembly.
import type { Kernels } from '../../engine/kernels/kernels.js';
import type { Rng } from '../../engine/random.js';

export type GemmShape = { M: number; N: number; K: number; op: 'NN' | 'NT' | 'TN'; role: string };

/** The `cnn`'s GEMM calls: C[M,N] = op(A)[M,K]·op(B)[K,N]. */
// The convolutions run one GEMM per chunk of images (src/engine/kernels/wasm-conv.ts: a chunk's im2col matrix holds
// about 2¹⁸ floats, so 18 images of conv1 and 10 of conv2), so N is images × output positions.
export const cnnGemmShapes: GemmShape[] = [
  { M: 16, N: 18 * 576, K: 25, op: 'NN', role: 'conv1 forward' },
  { M: 16, N: 25, K: 18 * 576, op: 'NT', role: 'conv1 dW' },
  { M: 25, N: 18 * 576, K: 16, op: 'TN', role: 'conv1 dX (∇x only)' },
  { M: 32, N: 10 * 64, K: 400, op: 'NN', role: 'conv2 forward' },
  { M: 32, N: 400, K: 10 * 64, op: 'NT', role: 'conv2 dW' },
  { M: 400, N: 10 * 64, K: 32, op: 'TN', role: 'conv2 dX' },
  { M: 128, N: 128, K: 512, op: 'NT', role: 'fc1 forward' },
  { M: 128, N: 512, K: 128, op: 'NN', role: 'fc1 dX' },
  { M: 128, N: 512, K: 128, op: 'TN', role: 'fc1 dW' },
];

function randomF32(n: number, rng: Rng): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.uniform(-1, 1);
  return a;
}

/**
 * Best GFLOP/s of `k.gemm` on one shape over `rounds` timed rounds, each long enough (~`roundSeconds`) that timer
 * resolution does not matter, after a warm-up of `warmMs` that lets V8 tier the JS and the wasm up.
 * @example
 *   const gflops = gemmGflops(kernels(), cnnGemmShapes[0], new Rng(1234));
 */
export function gemmGflops(k: Kernels, s: GemmShape, rng: Rng, opts: { warmMs?: number; roundSeconds?: number; rounds?: number } = {}): number {
  const { M, N, K } = s;
  const warmMs = opts.warmMs ?? 200, roundSeconds = opts.roundSeconds ?? 0.15, rounds = opts.rounds ?? 5;
  const tA = s.op[0] === 'T', tB = s.op[1] === 'T';
  const A = randomF32(M * K, rng), B = randomF32(K * N, rng), C = new Float32Array(M * N);
  const lda = tA ? M : K, ldb = tB ? K : N;
  const run = () => k.gemm(tA, tB, M, N, K, A, 0, lda, B, 0, ldb, C, 0, N, false);
  const t0 = performance.now();
  let warm = 0;
  while (performance.now() - t0 < warmMs || warm < 5) { run(); warm++; }
  const flops = 2 * M * N * K;
  let reps = Math.max(1, Math.round((roundSeconds * 1e9 / flops) * 2)); // ~roundSeconds at 2 GFLOP/s, grown below
  let best = 0;
  for (let round = 0; round < rounds; round++) {
    const start = performance.now();
    for (let r = 0; r < reps; r++) run();
    const secs = (performance.now() - start) / 1e3;
    best = Math.max(best, (flops * reps) / secs / 1e9);
    if (secs < (2 / 3) * roundSeconds) reps = Math.ceil(reps * (roundSeconds / Math.max(secs, 1e-4)));
  }
  return best;
}
