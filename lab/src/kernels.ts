// The lab's kernels: the WebAssembly SIMD kernels of src/engine/kernels/wasm.ts, instantiated from fetched bytes,
// on several threads (Web Workers over the shared memory, lab/src/platform/threads.browser.ts) when the page is
// cross-origin isolated, else the TypeScript reference kernels on the page's thread. The fused build
// (kernels-fma.wasm) needs relaxed SIMD; where it does not validate, the portable build/kernels.wasm. The kernels
// keep their linear memory in a shared WebAssembly.Memory, which a browser grants only to a cross-origin-isolated
// page (`nablax lab` sends the headers); a plain static host without them gets the TypeScript kernels, one thread.
// In the URL, `?kernels=portable` or `?kernels=typescript` picks the kernels, `?threads=N` (1–64) the thread count.
import { kernels, useKernels, type Kernels } from '../../src/engine/kernels/kernels.js';
import { checkThreads, instantiateKernels } from '../../src/engine/kernels/wasm.js';
import { BrowserKernelThreads } from './platform/threads.browser.js';

/** How the page computes: which kernels, on how many threads, and why not more. */
export interface BrowserKernels {
  /** 'wasm-simd-fma' | 'wasm-simd' | 'typescript' */
  name: string;
  /** Threads the kernels split batches over (1 unless the page is cross-origin isolated). */
  threads: number;
  /** Whether the page is cross-origin isolated (shared memory allowed). */
  isolated: boolean;
  /** Why faster kernels or more threads are not used; '' when nothing is missing. */
  note: string;
  /** Calls handed to a worker, and worker shares run on the page's thread (before the workers were up). */
  stats: { dispatched: number; inline: number };
}

/**
 * Threads by default: the cores the browser reports, at most 4 (as Node's defaultThreads: MNIST batches gain little beyond).
 * @example
 *   defaultBrowserThreads(); // 2 on a 2-core machine
 */
export function defaultBrowserThreads(): number {
  return Math.max(1, Math.min(4, navigator.hardwareConcurrency || 1));
}

/** A float32 GEMM big enough that the kernels split it among the threads (it starts the workers). */
function splitGemm(k: Kernels): void {
  const M = 128, N = 128, K = 64;
  k.gemm(false, false, M, N, K, new Float32Array(M * K), 0, K, new Float32Array(K * N), 0, N, new Float32Array(M * N), 0, N, false);
}

/** Start the workers for k (a call that splits), then wait until they are up; the reason when they do not come up. */
async function startWorkers(k: Kernels, pool: () => BrowserKernelThreads | null): Promise<string> {
  splitGemm(k);
  const p = pool();
  if (!p) return 'the worker pool did not start';
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<string>((resolve) => { timer = setTimeout(() => resolve('the kernel workers did not start within 10 s'), 10_000); });
  try {
    return await Promise.race([p.ready.then(() => ''), timeout]);
  } catch (e) {
    return (e as Error).message;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Fetch, compile and switch to the fastest kernels this browser runs, on `threads` threads when the page is
 * cross-origin isolated (default {@link defaultBrowserThreads}); returns what it chose and why not more.
 * @example
 *   const k = await setupBrowserKernels('auto');   // { name: 'wasm-simd-fma', threads: 2, isolated: true, … }
 */
export async function setupBrowserKernels(choice: string, threads: number = defaultBrowserThreads()): Promise<BrowserKernels> {
  const isolated = globalThis.crossOriginIsolated === true;
  const stats = { dispatched: 0, inline: 0 };
  const result = (name: string, n: number, note: string): BrowserKernels => ({ name, threads: n, isolated, note, stats });
  checkThreads(threads);
  if (choice === 'typescript') return result(kernels().name, 1, 'asked for in the URL');
  if (typeof WebAssembly !== 'object') return result(kernels().name, 1, 'no WebAssembly here');
  if (!isolated) {
    return result(kernels().name, 1, 'served without the COOP/COEP headers that `nablax lab` sends: no shared memory, so one thread and the TypeScript kernels');
  }
  const files = choice === 'portable' ? ['kernels.wasm'] : ['kernels-fma.wasm', 'kernels.wasm'];
  const notes: string[] = [];
  for (const file of files) {
    let bytes: Uint8Array<ArrayBuffer>;
    try {
      const res = await fetch(file);
      if (!res.ok) { notes.push(`${file}: HTTP ${res.status}`); continue; }
      bytes = new Uint8Array(await res.arrayBuffer());
    } catch (e) {
      notes.push(`${file}: ${(e as Error).message}`);
      continue;
    }
    if (!WebAssembly.validate(bytes)) { notes.push(`${file}: not valid here (${file.includes('fma') ? 'no relaxed SIMD' : 'no WebAssembly SIMD'})`); continue; }
    let pool: BrowserKernelThreads | null = null;
    const k = instantiateKernels(await WebAssembly.compile(bytes), {
      threads,
      startThreads: (m, memory, names, count) => {
        pool = new BrowserKernelThreads(m, memory, names, count);
        return pool;
      },
    });
    if (!k) { notes.push(`${file}: did not instantiate`); continue; }
    let n = threads;
    if (n > 1) {
      const why = await startWorkers(k, () => pool);
      if (why) {
        notes.push(`${why}: one thread`);
        k.setThreads(1);
        n = 1;
      }
    }
    useKernels(k);
    const out = result(k.name, n, notes.join('; '));
    // the live counters of the pool (a later setThreads may start another; the page reads these at start)
    const started = pool as BrowserKernelThreads | null;
    if (started && n > 1) out.stats = started.stats;
    return out;
  }
  return result(kernels().name, 1, notes.join('; '));
}
