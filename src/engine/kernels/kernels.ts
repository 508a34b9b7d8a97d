// Kernel selection: which implementation of the contract in ./types.ts the ops call through `kernels()`. The
// WebAssembly SIMD kernels (./wasm-node.ts loads them; ./wasm.ts and its families) when built, else the plain
// TypeScript reference in ./reference.ts, which every faster implementation is tested against; `useKernels` swaps.
import { referenceKernels } from './reference.js';
import { loadWasmKernels } from './wasm-node.js';
import { useArena } from '../recycle.js';

export type { Kernels, Window2d } from './types.js';
export { threadCountProblem, threadsEnvProblem } from './wasm-node.js';
import type { Kernels } from './types.js';

/**
 * The fastest kernels available: WebAssembly SIMD when build/kernels.wasm was built (npm ci builds it), else the
 * TypeScript reference. NABLAX_KERNELS=typescript forces the reference. `fastKernelsNotice` says why, if so.
 */
function pickDefault(): { k: Kernels; notice: string | null } {
  // In a browser (no Node process) the page instantiates its kernels from fetched bytes and installs them with
  // useKernels; until then the reference kernels serve, with nothing to tell.
  if (globalThis.process === undefined) return { k: referenceKernels, notice: null };
  if (globalThis.process.env.NABLAX_KERNELS === 'typescript') return { k: referenceKernels, notice: null };
  const wasm = loadWasmKernels();
  if (wasm) return { k: wasm, notice: null };
  return { k: referenceKernels, notice: 'nablax: WebAssembly kernels not found (build/kernels.wasm; in a source checkout run `npm run build:wasm`); using the slower TypeScript kernels' };
}

const initial = pickDefault();
let active: Kernels = initial.k;
useArena(active.arena ?? null);

/** A one-line notice when the fast kernels could not be loaded, else null. */
export const fastKernelsNotice: string | null = initial.notice;
let noticePrinted = false;

/**
 * Print `fastKernelsNotice` (if any) on stderr, once per process: the CLI calls it at start, and the first kernel
 * use calls it too, so that a library user learns that the slow kernels run.
 * @example
 *   printFastKernelsNotice(); // "nablax: WebAssembly kernels not found (…); using the slower TypeScript kernels"
 */
export function printFastKernelsNotice(): void {
  noticePrinted = true;
  if (fastKernelsNotice) globalThis.process?.stderr.write(fastKernelsNotice + '\n');
}

/**
 * Use n threads for the kernels that split their work (the WebAssembly convolution); 1 = single-threaded.
 * @example
 *   setThreads(2);
 */
export function setThreads(n: number): void {
  active.setThreads(n);
}

/** The kernels ops use now. */
export function kernels(): Kernels {
  if (!noticePrinted) printFastKernelsNotice();
  return active;
}

/**
 * Swap the kernel implementation (returns the previous one so a test can restore it).
 * @example
 *   const prev = useKernels(fastKernels); try { ... } finally { useKernels(prev); }
 */
export function useKernels(k: Kernels): Kernels {
  const prev = active;
  active = k;
  useArena(k.arena ?? null); // recycling scopes take op outputs from the memory these kernels read in place
  return prev;
}
