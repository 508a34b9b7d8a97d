// Loading the WebAssembly SIMD kernels in Node: find build/kernels-fma.wasm or build/kernels.wasm under the package
// root, read and compile it (turning on V8's relaxed-SIMD flag where the fused build needs it), and start worker
// threads over the shared memory. ./wasm.ts instantiates the kernels from a compiled module and needs no Node API,
// so the browser lab runs the same kernels from fetched bytes (lab/src/platform/ stands in for this file there).
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import v8 from 'node:v8';
import { packageRoot } from '../package-root.js';
import type { Kernels } from './types.js';
import { KernelThreads } from './threads.js';
import { checkThreads, instantiateKernels, type WasmKernelOptions } from './wasm.js';

/** build/<file> under the package root, or null when no package.json is found above this module. */
function buildPath(file: string): string | null {
  const root = packageRoot();
  return root === null ? null : join(root, 'build', file);
}

/**
 * Compile a module file, or null when it is missing, unreadable or not valid here. A module that uses relaxed-simd
 * validates only once V8 runs it: Node 20 has it behind --experimental-wasm-relaxed-simd, which is turned on here
 * (V8 reads its wasm feature flags when it compiles a module, so setting it at run time takes effect).
 */
function compileModule(path: string): WebAssembly.Module | null {
  let bytes: Uint8Array<ArrayBuffer>;
  try {
    // A copy into a plain Uint8Array: WebAssembly.Module wants an ArrayBuffer-backed view, not Node's Buffer type.
    bytes = new Uint8Array(readFileSync(path));
  } catch {
    return null;
  }
  if (!WebAssembly.validate(bytes)) {
    v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
    if (!WebAssembly.validate(bytes)) return null;
  }
  try {
    return new WebAssembly.Module(bytes);
  } catch {
    return null;
  }
}

/** Whether fused multiply-adds are wanted by default: yes unless NABLAX_FMA=0. */
const fmaByDefault = (): boolean => process.env.NABLAX_FMA !== '0';

/**
 * Load the WebAssembly SIMD kernels, or null when the build is missing or does not compile (build it with
 * `node scripts/build-wasm.mjs`). Nothing is printed: the caller decides what to say. `name` is 'wasm-simd-fma'
 * for the fused build and 'wasm-simd' for the portable one. The wasm gemm computes in float32; see
 * {@link WasmKernelOptions.float64} for Float64Array operands.
 * @example
 *   const wasm = loadWasmKernels();
 *   if (wasm) useKernels(wasm); else console.warn('wasm kernels not built; using TypeScript');
 */
export function loadWasmKernels(options: WasmKernelOptions = {}): Kernels | null {
  let module: WebAssembly.Module | null = null;
  if (options.path !== undefined) module = compileModule(options.path);
  else {
    const fused = (options.fma ?? fmaByDefault()) ? buildPath('kernels-fma.wasm') : null;
    if (fused !== null) module = compileModule(fused);
    const portable = buildPath('kernels.wasm');
    if (module === null && portable !== null) module = compileModule(portable);
  }
  if (module === null) return null;
  return instantiateKernels(module, {
    float64: options.float64,
    threads: checkThreads(options.threads ?? defaultThreads()),
    startThreads: (m, memory, names, count) => new KernelThreads(m, memory, names, count),
  });
}

/**
 * What is wrong with a thread count given as text (`what` names where it came from), in one line, or null when it
 * is an integer from 1 to 64 written in decimal digits.
 * @example
 *   threadCountProblem('--threads', '0x2');   // "--threads must be an integer from 1 to 64, got '0x2'"
 */
export function threadCountProblem(what: string, text: string): string | null {
  const n = Number(text);
  return /^[0-9]+$/.test(text) && n >= 1 && n <= 64 ? null : `${what} must be an integer from 1 to 64, got '${text}'`;
}

/**
 * What is wrong with NABLAX_THREADS, in one line, or null when it is unset, empty or an integer from 1 to 64.
 * @example
 *   const problem = threadsEnvProblem();   // "NABLAX_THREADS must be an integer from 1 to 64, got 'two'"
 */
export function threadsEnvProblem(): string | null {
  const env = process.env.NABLAX_THREADS;
  return env === undefined || env === '' ? null : threadCountProblem('NABLAX_THREADS', env);
}

/**
 * The default thread count: NABLAX_THREADS when set, else the cores Node may use (at most 4: the kernels'
 * batches are split into that many contiguous ranges, and more threads than that buy little at MNIST sizes).
 * A NABLAX_THREADS that is not an integer from 1 to 64 is not used ({@link threadsEnvProblem} says what is wrong
 * with it; the CLI refuses it before any work).
 * @example
 *   const k = loadWasmKernels({ threads: defaultThreads() });
 */
export function defaultThreads(): number {
  if (threadsEnvProblem() === null && process.env.NABLAX_THREADS) return Number(process.env.NABLAX_THREADS);
  return Math.max(1, Math.min(4, availableParallelism()));
}
