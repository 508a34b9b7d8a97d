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

/** Words of the control block per worker: [0] sequence number, [1] function, [2] argument count, [3…] arguments, [DONE]. */
const SLOT = 64;
const DONE = 63;
const ERROR = 62;
const MAX_ARGS = 58;
/**
 * Milliseconds a thread spins on the control block before it sleeps in Atomics.wait, when every thread has a core
 * of its own. Waking a sleeping thread costs ~50 µs (a round trip measured 90–120 µs on the 2-core VM, 2 µs with
 * spinning), and a training step issues a kernel call every few hundred microseconds.
 */
const SPIN_MS = 2;

// The worker: instantiate the module over the shared memory, then run calls until the sequence number goes negative.
// Plain JavaScript evaluated in the worker, so it runs the same under tsx, vitest and the compiled package.
const workerSource = `
const { workerData } = require('node:worker_threads');
const { module, memory, ctl, index, names, spinMs } = workerData;
const ex = new WebAssembly.Instance(module, { env: { memory } }).exports;
const fns = names.map((n) => ex[n]);
const base = index * ${SLOT};
let seq = 0;
for (;;) {
  // spin a little before sleeping: the next call usually comes within a millisecond
  const until = performance.now() + spinMs;
  while (Atomics.load(ctl, base) === seq && performance.now() < until) {}
  Atomics.wait(ctl, base, seq);
  seq = Atomics.load(ctl, base);
  if (seq < 0) break;
  const args = [];
  for (let i = 0, n = ctl[base + 2]; i < n; i++) args.push(ctl[base + 3 + i]);
  try {
    fns[ctl[base + 1]](...args);
    ctl[base + ${ERROR}] = 0;
  } catch (e) {
    ctl[base + ${ERROR}] = 1;
  }
  Atomics.store(ctl, base + ${DONE}, seq);
  Atomics.notify(ctl, base + ${DONE});
}
`;

/**
 * A fixed set of worker threads that run exported functions of one WebAssembly module over its shared memory.
 * Thread 0 is the caller; workers are threads 1 … n−1.
 */
export class KernelThreads {
  private readonly ctl: Int32Array;
  private readonly workers: Worker[] = [];
  private readonly seq: number[];
  private readonly busy: boolean[];
  /** Spinning only pays when no thread has to share a core: otherwise a spinning thread slows a working one. */
  private readonly spinMs: number;

  constructor(module: WebAssembly.Module, memory: WebAssembly.Memory, readonly names: readonly string[], readonly count: number) {
    this.ctl = new Int32Array(new SharedArrayBuffer(4 * SLOT * Math.max(1, count)));
    this.seq = new Array(count).fill(0);
    this.busy = new Array(count).fill(false);
    this.spinMs = count <= availableParallelism() ? SPIN_MS : 0;
    for (let t = 1; t < count; t++) {
      const w = new Worker(workerSource, {
        eval: true, workerData: { module, memory, ctl: this.ctl, index: t, names, spinMs: this.spinMs },
      });
      w.unref(); // idle workers must not keep the process alive
      this.workers.push(w);
    }
  }

  /** Start `names[fn](...args)` (32-bit integer arguments) on worker thread t ≥ 1; returns at once. */
  start(t: number, fn: number, args: number[]): void {
    if (args.length > MAX_ARGS) throw new Error(`KernelThreads.start: ${args.length} arguments, at most ${MAX_ARGS}`);
    const base = t * SLOT, c = this.ctl;
    c[base + 1] = fn;
    c[base + 2] = args.length;
    for (let i = 0; i < args.length; i++) c[base + 3 + i] = args[i];
    this.seq[t] = (this.seq[t] + 1) & 0x3fffffff;
    this.busy[t] = true;
    Atomics.store(c, base, this.seq[t]);
    Atomics.notify(c, base);
  }

  /** Wait for every started call to finish; throws if one of them trapped. */
  join(): void {
    let failed = -1;
    for (let t = 1; t < this.count; t++) {
      if (!this.busy[t]) continue;
      const base = t * SLOT;
      const until = performance.now() + this.spinMs;
      for (;;) {
        const done = Atomics.load(this.ctl, base + DONE);
        if (done === this.seq[t]) break;
        if (performance.now() < until) continue;
        Atomics.wait(this.ctl, base + DONE, done, 1000);
      }
      this.busy[t] = false;
      if (this.ctl[base + ERROR] !== 0) failed = t;
    }
    if (failed >= 0) throw new Error(`kernel thread ${failed} failed (${this.names[this.ctl[failed * SLOT + 1]]})`);
  }

  /** Stop the workers. */
  close(): void {
    for (let t = 1; t < this.count; t++) {
      Atomics.store(this.ctl, t * SLOT, -1);
      Atomics.notify(this.ctl, t * SLOT);
    }
    for (const w of this.workers) void w.terminate();
    this.workers.length = 0;
  }
}

export { splitRange } from './split-range.js';
