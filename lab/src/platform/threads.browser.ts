// The browser's worker threads for the WebAssembly kernels, the Web Worker twin of src/engine/kernels/threads.ts
// (Node's worker_threads): each worker instantiates the same module over the same shared WebAssembly.Memory, and a
// call is dispatched through a few words of a SharedArrayBuffer per worker with Atomics.notify, so the kernels of
// src/engine/kernels/wasm.ts split their work exactly as in Node (same ranges, same chunk counter, same fixed order
// of partial sums) and give the same bits for any thread count. Two differences, both forced by the browser:
// - The page's thread may not block in Atomics.wait, so join() spins on Atomics.load (a kernel call lasts
//   microseconds to milliseconds; the page's thread is busy with its own share meanwhile anyway).
// - A Web Worker starts only once the page's thread returns to its event loop, so a call that comes before a
//   worker has said it is ready runs that worker's share on the page's thread, after its own (on a second instance
//   over the same memory). Which thread computes a share never changes its bits (see threads.ts), so results do not
//   depend on when the workers came up. Shared memory needs a cross-origin-isolated page (lab/src/kernels.ts).

import { ControlBlock, SLOT, SPIN_MS, workerCallLoop } from '../../../src/engine/kernels/thread-control.js';

/** A worker's call that has not finished after this long is taken as hung: the page says so instead of freezing. */
const HANG_MS = 30_000;

// The worker: set up from its first message, say so, then run calls until the sequence number goes negative.
const workerSource = `
onmessage = (e) => {
  onmessage = null;
  const { module, memory, ctl, index, names, spinMs } = e.data;
  const ex = new WebAssembly.Instance(module, { env: { memory } }).exports;
  const fns = names.map((n) => ex[n]);
  const base = index * ${SLOT};
  let seq = Atomics.load(ctl, base);
  postMessage({ ready: index });
  ${workerCallLoop}
  close();
};
`;

/**
 * Web Workers that run exported functions of one WebAssembly module over its shared memory; thread 0 is the page.
 * Structurally the pool src/engine/kernels/wasm.ts drives (count, start, join, close).
 * @example
 *   const pool = new BrowserKernelThreads(module, memory, ['conv_fwd'], 2);
 *   await pool.ready; // every worker is up (calls before this run their share on the page's thread)
 */
export class BrowserKernelThreads {
  private readonly cb: ControlBlock;
  private readonly workers: Worker[] = [];
  private readonly up: boolean[];
  private readonly spinMs: number;
  /** Shares run on the page's thread because their worker was not up yet, in call order. */
  private readonly inlineCalls: { fn: number; args: number[] }[] = [];
  private inlineFns: ((...a: number[]) => void)[] | null = null;
  /** Calls handed to a worker, and calls whose share ran on the page's thread instead (for the page's status and its test). */
  readonly stats = { dispatched: 0, inline: 0 };
  /** Settles once every worker is up; rejects with the reason when one fails to start. */
  readonly ready: Promise<void>;

  constructor(private readonly module: WebAssembly.Module, private readonly memory: WebAssembly.Memory, readonly names: readonly string[], readonly count: number) {
    this.cb = new ControlBlock(count);
    this.up = new Array<boolean>(count).fill(false);
    this.up[0] = true;
    this.spinMs = count <= (navigator.hardwareConcurrency || 1) ? SPIN_MS : 0;
    const url = URL.createObjectURL(new Blob([workerSource], { type: 'text/javascript' }));
    const started: Promise<void>[] = [];
    for (let t = 1; t < count; t++) {
      const w = new Worker(url, { name: `nablax kernels ${t}` });
      started.push(new Promise<void>((resolve, reject) => {
        w.onmessage = () => { this.up[t] = true; resolve(); };
        w.onerror = (e) => { e.preventDefault(); reject(new Error(`kernel worker ${t} did not start: ${e.message || 'error'}`)); };
      }));
      w.postMessage({ module, memory, ctl: this.cb.ctl, index: t, names, spinMs: this.spinMs });
      this.workers.push(w);
    }
    this.ready = Promise.all(started).then(() => URL.revokeObjectURL(url));
  }

  /** Start `names[fn](...args)` (32-bit integer arguments) on thread t ≥ 1: on its worker when up, else queued for join(). */
  start(t: number, fn: number, args: number[]): void {
    if (!this.up[t]) {
      this.inlineCalls.push({ fn, args });
      this.stats.inline++;
      return;
    }
    this.cb.post(t, fn, args, 'BrowserKernelThreads');
    this.stats.dispatched++;
  }

  /**
   * Wait (spinning: the page may not block) for every started call, then run the queued shares here; throws if one
   * trapped. With `shared`, calls no worker has taken yet are withdrawn instead (as KernelThreads.join).
   */
  join(shared = false): void {
    let failed = -1;
    for (let t = 1; t < this.count; t++) {
      if (!this.cb.isBusy(t)) continue;
      if (shared && this.cb.withdraw(t)) continue;
      const deadline = performance.now() + HANG_MS;
      while (!this.cb.isDone(t)) {
        if (performance.now() > deadline) throw new Error(`kernel worker ${t} did not finish ${this.names[this.cb.functionOf(t)]} within ${HANG_MS / 1000} s`);
      }
      if (this.cb.settle(t)) failed = t;
    }
    if (this.inlineCalls.length > 0) {
      this.inlineFns ??= this.instantiateHere();
      for (const { fn, args } of this.inlineCalls.splice(0)) this.inlineFns[fn](...args);
    }
    if (failed >= 0) throw new Error(`kernel thread ${failed} failed (${this.names[this.cb.functionOf(failed)]})`);
  }

  /** Stop the workers. */
  close(): void {
    this.cb.stopAll();
    for (const w of this.workers) w.terminate();
    this.workers.length = 0;
  }

  /** A second instance on the page's thread over the same memory, for the shares of workers not yet up. */
  private instantiateHere(): ((...a: number[]) => void)[] {
    const ex = new WebAssembly.Instance(this.module, { env: { memory: this.memory } }).exports;
    return this.names.map((n) => ex[n] as (...a: number[]) => void);
  }
}
