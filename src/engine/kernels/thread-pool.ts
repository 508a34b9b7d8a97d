// How many threads a WebAssembly kernel uses, and running one export on all of them: thread 0 (the caller) runs its
// range while the workers (./threads.ts, started through StartThreads so that this file needs no Node API) run
// theirs over the same shared memory. Workers start on first use.
import type { WasmExports } from './wasm-exports.js';

/**
 * A pool of worker threads over the kernels' shared memory, as the kernels drive it: Node's KernelThreads
 * (./threads.ts, worker_threads) or the browser lab's Web Worker twin (lab/src/platform/threads.browser.ts).
 */
export interface KernelThreadPool {
  readonly count: number;
  /** Start `names[fn](...args)` on thread t ≥ 1 and return at once. */
  start(t: number, fn: number, args: number[]): void;
  /**
   * Wait for every started call; throws if one failed. With `shared`, the calls claim blocks of one range that the
   * caller's own share has finished claiming: a call no worker has taken yet is withdrawn, not waited for.
   */
  join(shared?: boolean): void;
  close(): void;
}

/** Starts the worker threads of a pool (Node: ./wasm-node.ts; the browser lab: lab/src/kernels.ts); without one, the kernels run on one thread. */
export type StartThreads = (module: WebAssembly.Module, memory: WebAssembly.Memory, names: readonly string[], count: number) => KernelThreadPool;

/** Functions the worker threads may run, by index. */
const threadFunctions = [
  'conv_fwd', 'conv_bwd', 'conv_pool_dx', 'conv_pool_dw', 'gemm_packed', 'peak_fma', 'adam', 'fab_rows', 'bn_fwd', 'bn_bwd', 'pack', 'gemm_rows',
  'pack_shared', 'gemm_packed_shared', 'gemm_rows_shared', 'adam_shared',
] as const;
export type ThreadFunction = (typeof threadFunctions)[number];

/**
 * [0, n) for each of `parts` threads: the range they claim chunks of together.
 * @example
 *   sameRange(5, 2); // [[0, 5], [0, 5]]
 */
export const sameRange = (n: number, parts: number): [number, number][] => Array.from({ length: parts }, () => [0, n] as [number, number]);

/** A kernel instance's threads: the count in use and the workers, started when a call first needs them. */
export class Threads {
  private pool: KernelThreadPool | null = null;
  constructor(
    private readonly ex: WasmExports, private readonly module: WebAssembly.Module, public count: number,
    private readonly start: StartThreads | null,
  ) {}
  /** Threads for a batch of n items: never more than there are items. */
  threadsFor(n: number): number {
    return Math.max(1, Math.min(this.count, n));
  }
  setCount(n: number): void {
    if (n !== this.count) {
      this.pool?.close();
      this.pool = null;
      this.count = n;
    }
  }
  /** Run export `fn` on thread t with args(t, ranges[t]) for every range at once; returns when all are done. */
  run(fn: ThreadFunction, ranges: [number, number][], args: (t: number, range: [number, number]) => number[]): void {
    this.dispatch(fn, ranges, args, false);
  }

  /**
   * Run export `fn`, which claims blocks of one range from a counter until none is left, on `threads` threads with
   * args(t); returns when every block is done. The caller claims too, so a worker that has not started by the time
   * it runs out is withdrawn rather than waited for: a descheduled or sleeping worker costs a share of the work,
   * never a wait.
   */
  share(fn: ThreadFunction, threads: number, args: (t: number) => number[]): void {
    this.dispatch(fn, sameRange(1, threads), args, true);
  }

  private dispatch(fn: ThreadFunction, ranges: [number, number][], args: (t: number, range: [number, number]) => number[], shared: boolean): void {
    if (ranges.length > 1) {
      if (!this.pool || this.pool.count < ranges.length) {
        this.pool?.close();
        this.pool = this.start!(this.module, this.ex.memory, threadFunctions, this.count);
      }
      const index = threadFunctions.indexOf(fn);
      for (let t = 1; t < ranges.length; t++) this.pool.start(t, index, args(t, ranges[t]));
    }
    try {
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion -- tsc needs it: the export's own type takes a fixed argument list
      (this.ex[fn] as (...a: number[]) => void)(...args(0, ranges[0]));
    } finally {
      if (ranges.length > 1) this.pool!.join(shared); // always wait, even after a trap here: the workers are still writing shared memory
    }
  }
}
