// The machine's multiply-add ceiling, for `nablax bench` (Kernels.peakGflops): wasm/peak.wat's loop of independent
// SIMD multiply-adds (fused in the fma build), no memory traffic, run on every thread at once.
import { sameRange, type Threads } from './thread-pool.js';
import type { WasmExports } from './wasm-exports.js';
import { carveEach, type LinearMemory } from './wasm-memory.js';

/** FLOPs of one peak_fma iteration: 10 multiply-adds of 4 lanes, 2 FLOPs each (see peak.wat). */
const PEAK_FLOPS_PER_ITER = 10 * 4 * 2;

/**
 * The best GFLOP/s of peak_fma run on every thread at once, over five rounds that take about `ms` milliseconds in
 * all, after a warm-up that also starts the workers. The best round, not the median: a ceiling is what the CPU can
 * do when nothing else gets in the way. 0 when linear memory cannot hold the threads' results.
 * @example
 *   const gflops = measurePeak(ex, mem, pool, 300);
 */
export function measurePeak(ex: WasmExports, mem: LinearMemory, pool: Threads, ms = 300): number {
  if (!(ms > 0)) throw new Error(`peakGflops: ms must be a positive number of milliseconds, got ${ms}`);
  const T = pool.count;
  const results = carveEach({ result: 4 }, T, mem.base); // each thread's 16-byte result, on a cache line of its own
  if (!mem.ensure(results.end)) return 0;
  const out = results.at.map((a) => a.result);
  // Calibrate on this thread: iterations for one round of ms/5.
  let iters = 1 << 14, dt: number;
  for (;;) {
    const t0 = performance.now();
    ex.peak_fma(iters, out[0]);
    dt = performance.now() - t0;
    if (dt >= 2 || iters >= 1 << 28) break;
    iters *= 4;
  }
  iters = Math.max(1, Math.min(2 ** 30, Math.round((iters * ms) / 5 / Math.max(dt, 1e-3))));
  const run = () => pool.run('peak_fma', sameRange(1, T), (t) => [iters, out[t]]);
  run(); // warm-up: workers start and compile
  let best = 0;
  for (let r = 0; r < 5; r++) {
    const t0 = performance.now();
    run();
    const s = (performance.now() - t0) / 1000;
    best = Math.max(best, (T * iters * PEAK_FLOPS_PER_ITER) / s / 1e9);
  }
  return best;
}
