// Worker threads for the WebAssembly kernels. Every worker instantiates the same module over the same shared
// linear memory, so a kernel splits its work by handing each thread a range (of images) and pointers to its own
// work buffers; nothing is copied between threads. Dispatch is a few words in a SharedArrayBuffer per worker and
// Atomics.wait/notify, so a call costs microseconds, not a postMessage round trip; threads spin briefly before
// they sleep, so back-to-back calls do not pay for waking one. The main thread works on its own share meanwhile and
// then waits for the others.
//
// Results never depend on timing or on the number of threads: whatever a thread computes depends only on its
// inputs (an image's outputs, a chunk's partial sums, a GEMM's columns), never on which thread computes it, and
// partial sums (a convolution's weight gradient) are added in a fixed order.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { ControlBlock, DONE, SLOT, SPIN_MS, workerCallLoop } from './thread-control.js';

// The worker: instantiate the module over the shared memory, then run calls until the sequence number goes negative.
// Plain JavaScript evaluated in the worker, so it runs the same under tsx, vitest and the compiled package.
const workerSource = `
const { workerData } = require('node:worker_threads');
const { module, memory, ctl, index, names, spinMs } = workerData;
const ex = new WebAssembly.Instance(module, { env: { memory } }).exports;
const fns = names.map((n) => ex[n]);
const base = index * ${SLOT};
let seq = 0;
${workerCallLoop}
`;

/**
 * A fixed set of worker threads that run exported functions of one WebAssembly module over its shared memory.
 * Thread 0 is the caller; workers are threads 1 … n−1.
 */
export class KernelThreads {
  private readonly cb: ControlBlock;
  private readonly workers: Worker[] = [];
  /** Spinning only pays when no thread has to share a core: otherwise a spinning thread slows a working one. */
  private readonly spinMs: number;

  constructor(module: WebAssembly.Module, memory: WebAssembly.Memory, readonly names: readonly string[], readonly count: number) {
    this.cb = new ControlBlock(count);
    this.spinMs = count <= availableParallelism() ? SPIN_MS : 0;
    for (let t = 1; t < count; t++) {
      const w = new Worker(workerSource, {
        eval: true, workerData: { module, memory, ctl: this.cb.ctl, index: t, names, spinMs: this.spinMs },
      });
      w.unref(); // idle workers must not keep the process alive
      this.workers.push(w);
    }
  }

  /** Start `names[fn](...args)` (32-bit integer arguments) on worker thread t ≥ 1; returns at once. */
  start(t: number, fn: number, args: number[]): void {
    this.cb.post(t, fn, args, 'KernelThreads');
  }

  /**
   * Wait for every started call to finish; throws if one of them trapped. With `shared` (the calls claim blocks of
   * one range, and the caller's own share has claimed the rest), calls no worker has taken yet are withdrawn instead.
   */
  join(shared = false): void {
    let failed = -1;
    for (let t = 1; t < this.count; t++) {
      if (!this.cb.isBusy(t)) continue;
      if (shared && this.cb.withdraw(t)) continue;
      const until = performance.now() + this.spinMs;
      for (;;) {
        const value = this.cb.doneValue(t);
        if (value === this.cb.posted(t)) break;
        if (performance.now() < until) continue;
        Atomics.wait(this.cb.ctl, t * SLOT + DONE, value, 1000);
      }
      if (this.cb.settle(t)) failed = t;
    }
    if (failed >= 0) throw new Error(`kernel thread ${failed} failed (${this.names[this.cb.functionOf(failed)]})`);
  }

  /** Stop the workers. */
  close(): void {
    this.cb.stopAll();
    for (const w of this.workers) void w.terminate();
    this.workers.length = 0;
  }
}

export { splitRange } from './split-range.js';
