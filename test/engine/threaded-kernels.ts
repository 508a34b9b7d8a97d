// The WebAssembly kernels with 1, 2 and 3 threads, as the kernel tests compare them with the reference: builds
// build/kernels*.wasm first when missing (a fresh checkout before `npm run build:wasm`).
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Kernels } from '../../src/engine/kernels/kernels.js';
import { setPoolDw, setPoolDx } from '../../src/engine/kernels/wasm.js';
import { loadWasmKernels } from '../../src/engine/kernels/wasm-node.js';

/** The repository's root. */
export const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * Kernels with 1, 2 and 3 threads (in that order); `test` names the test file in the error when the build does not
 * load. Call `setThreads(1)` on each afterwards to stop their workers.
 * @example
 *   beforeAll(() => { kernels = loadThreadedKernels('wasm-fab.test'); });
 */
export function loadThreadedKernels(test: string): Kernels[] {
  if (!existsSync(join(root, 'build', 'kernels.wasm')) || !existsSync(join(root, 'build', 'kernels-fma.wasm'))) {
    execFileSync(process.execPath, [join(root, 'scripts', 'build-wasm.mjs')], { cwd: root, stdio: 'pipe' });
  }
  return [1, 2, 3].map((threads) => {
    const k = loadWasmKernels({ threads });
    if (k === null) throw new Error(`${test}: build/kernels.wasm does not load`);
    return k;
  });
}

/**
 * f() with a fused block's dX, dW and dB through conv_bwd's GEMM over the full upstream gradient instead of
 * conv_pool_dx and conv_pool_dw.
 * @example
 *   const viaGemmGrads = viaGemm(() => backward(k));
 */
export function viaGemm<T>(f: () => T): T {
  const prev = [setPoolDx(false), setPoolDw(false)];
  try {
    return f();
  } finally {
    setPoolDx(prev[0]);
    setPoolDw(prev[1]);
  }
}
