// Kernels backed by hand-written WebAssembly SIMD (build/kernels-fma.wasm or build/kernels.wasm, assembled from the
// families in ./wasm/*.wat by scripts/build-wasm.mjs). The host copies operands into linear memory (TypedArray.set,
// i.e. memcpy), WASM does the work, the host copies the result out. One host file per family:
// - ./wasm-gemm.ts (gemm.wat): packed panels and a 4×8 micro-kernel, fused multiply-adds where this Node runs them;
// - ./wasm-conv.ts (conv.wat, im2col.wat, conv-relu-pool.wat): stride-1 convolutions and the fused conv → ReLU → pool
//   block, a chunk of images per GEMM, split among threads with the same bits for any thread count;
// - ./wasm-pool-relu.ts (pool-relu.wat): ReLU and 2×2 max pooling;
// - ./wasm-norm.ts (norm.wat): batch normalisation's forward and backward, channels split among threads;
// - ./wasm-optim.ts (optim.wat): Adam's update, split among threads, the same bits as the TypeScript loop;
// - ./wasm-fab.ts (fab-step.wat): FAB's iterate update (L∞ and L2), its rows split among threads, the same bits as the reference;
// - ./wasm-peak.ts (peak.wat): the machine's multiply-add ceiling, for `nablax bench`;
// with ./wasm-memory.ts (linear memory, named layouts), ./wasm-exports.ts and ./thread-pool.ts beneath them.
// Computation is float32: Float64Array operands fall back to the exact TypeScript reference (unless asked otherwise,
// for gemm), so float64 gradient checks keep their precision; every kernel is tested against ./reference.ts.
// No Node API here (the browser lab instantiates these kernels from fetched bytes): finding and reading the build,
// setting V8 flags and starting worker threads are in ./wasm-node.ts.
import type { Kernels } from './types.js';
import { referenceKernels } from './reference.js';
import { Threads, type StartThreads } from './thread-pool.js';
import { makeConvKernels } from './wasm-conv.js';
import { exportNames, type WasmExports } from './wasm-exports.js';
import { fusesMultiplyAdd, makeGemm, type Float64Policy } from './wasm-gemm.js';
import { LinearMemory } from './wasm-memory.js';
import { makeAdam, makeApgdLinfStep } from './wasm-optim.js';
import { makeFabStep } from './wasm-fab.js';
import { measurePeak } from './wasm-peak.js';
import { makePoolReluKernels } from './wasm-pool-relu.js';
import { makeBatchNormKernels } from './wasm-norm.js';

export type { Float64Policy } from './wasm-gemm.js';
export type { KernelThreadPool, StartThreads } from './thread-pool.js';
export { setDirectDx, setPoolDw, setPoolDx, setWideMaxWaste, wideGeometry } from './wasm-conv.js';
export { setParallelPack } from './wasm-gemm.js';

export interface WasmKernelOptions {
  /** See {@link Float64Policy}. Default 'reference'. */
  float64?: Float64Policy;
  /**
   * Use the GEMM with fused multiply-adds (build/kernels-fma.wasm) when this Node can run relaxed-simd: 1.4–1.7×
   * faster GEMMs, results within float32 rounding of the unfused ones. false: the portable build/kernels.wasm,
   * whose results are the same bits on every CPU. Default: true unless the environment sets NABLAX_FMA=0.
   */
  fma?: boolean;
  /** Path of the .wasm file to load (either build); default as chosen by `fma`, under the package root. */
  path?: string;
  /** Threads for the convolution kernels (default: {@link defaultThreads}). */
  threads?: number;
}

/**
 * Instantiate the WebAssembly SIMD kernels from a compiled module (either build), or null when it does not
 * instantiate or lacks an export (a stale build). Node callers use `loadWasmKernels` (./wasm-node.ts), which finds
 * and compiles the build; a browser compiles fetched bytes itself. `threads` above 1 needs `startThreads`.
 * @example
 *   const k = instantiateKernels(await WebAssembly.compile(bytes), { threads: 1 });
 *   if (k) useKernels(k);
 */
export function instantiateKernels(
  module: WebAssembly.Module,
  options: { float64?: Float64Policy; threads?: number; startThreads?: StartThreads } = {},
): Kernels | null {
  let ex: WasmExports;
  try {
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 65536, shared: true });
    const exports = new WebAssembly.Instance(module, { env: { memory } }).exports;
    ex = { ...exports, memory } as unknown as WasmExports;
  } catch {
    return null; // a module that wants other imports (a stale build), or no shared memory here
  }
  // A stale build of some other module: refuse it rather than fail on the first call.
  if (exportNames.some((k) => typeof ex[k] !== 'function')) return null;
  const mem = new LinearMemory(ex.memory);
  const start = options.startThreads ?? null;
  const pool = new Threads(ex, module, start === null ? 1 : checkThreads(options.threads ?? 1), start);
  const gemm = makeGemm(ex, mem, options.float64 ?? 'reference', pool);
  return {
    ...referenceKernels, // avgPoolForward/Backward have no WebAssembly version
    name: fusesMultiplyAdd(gemm) ? 'wasm-simd-fma' : 'wasm-simd',
    gemm,
    ...makeConvKernels(ex, mem, pool),
    ...makePoolReluKernels(ex, mem),
    ...makeBatchNormKernels(mem, pool),
    adamUpdate: makeAdam(ex, mem, pool),
    apgdLinfStep: makeApgdLinfStep(ex, mem),
    fabStep: makeFabStep(ex, mem, pool),
    peakGflops: (ms?: number) => measurePeak(ex, mem, pool, ms),
    memoryBytes: () => ex.memory.buffer.byteLength,
    arena: mem,
    getThreads: () => pool.count,
    setThreads: (n: number) => pool.setCount(start === null ? 1 : checkThreads(n)),
  };
}

/**
 * A thread count, or an error naming the bad value.
 * @example
 *   checkThreads(2); // 2
 */
export function checkThreads(n: number): number {
  if (!Number.isInteger(n) || n < 1 || n > 64) throw new Error(`threads must be an integer from 1 to 64, got ${n}`);
  return n;
}
