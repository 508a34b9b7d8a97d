// The browser's stand-in for src/engine/kernels/wasm-node.ts (the lab's bundler swaps it in, see lab/build.ts):
// there is no build directory to read synchronously here, so src/engine/kernels/kernels.ts starts on the TypeScript
// reference kernels and the page swaps in the WebAssembly SIMD kernels once it has fetched and compiled them
// (lab/src/kernels.ts), with instantiateKernels from the same src/engine/kernels/wasm.ts that Node runs.
import type { Kernels } from '../../../src/engine/kernels/kernels.js';

/**
 * Always null in a browser: the page loads the kernels asynchronously instead.
 * @example
 *   loadWasmKernels(); // null
 */
export function loadWasmKernels(): Kernels | null {
  return null;
}

/**
 * One thread: the page runs the kernels on its own thread.
 * @example
 *   defaultThreads(); // 1
 */
export function defaultThreads(): number {
  return 1;
}
