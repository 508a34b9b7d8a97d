// The dispatch protocol of the kernels' worker threads, shared by Node's pool (./threads.ts, worker_threads) and the
// browser lab's (lab/src/platform/threads.browser.ts, Web Workers): a few words of a SharedArrayBuffer per worker,
// written by the caller and read by the worker's call loop, with Atomics.notify to wake it. No Node API here.
//
// A worker's slot: [0] sequence number (negative: stop), [1] function, [2] argument count, [3 …] arguments,
// [CLAIM] who has the posted call (below), [ERROR] 1 when the last call trapped, [DONE] the sequence number of the
// last call finished.
//
// CLAIM is the posted call's sequence number while no thread has taken it; the worker swaps in the number with
// RUNNING set before it runs the call, and a caller that has done the call's work itself (a kernel whose threads
// claim blocks of one range: wasm/gemm.wat's *_shared) may swap in 0 instead, withdrawing it, and go on without
// waiting: a worker that was descheduled or asleep then costs the caller no wait. Exactly one of the two swaps wins.

export const SLOT = 64;
export const DONE = 63;
export const ERROR = 62;
export const CLAIM = 61;
export const MAX_ARGS = 58;
/** Set in CLAIM while the worker runs the call (sequence numbers stay below it). */
export const RUNNING = 0x40000000;
/**
 * Milliseconds a thread spins on the control block before it sleeps in Atomics.wait, when every thread has a core
 * of its own. Waking a sleeping thread costs ~50 µs (a round trip measured 90–120 µs on the 2-core VM, 2 µs with
 * spinning), and a training step issues a kernel call every few hundred microseconds.
 */
export const SPIN_MS = 2;

/**
 * The worker's call loop, as JavaScript source for a worker to evaluate. It expects in scope: `ctl` (the Int32Array),
 * `base` (its slot's first word), `fns` (the module's exports by function index), `spinMs`, and `seq` (the sequence
 * number it has seen). It returns when the sequence number goes negative.
 *
 * A call is a new sequence number, never a wake-up: the caller stores the number, then notifies, and a caller
 * descheduled between the two (a busy machine) notifies only after the worker has seen the number, run the call and
 * gone back to sleep. That late notify must not run the call a second time (which, for a kernel that accumulates
 * into its output, doubled a GEMM's columns), so the worker sleeps again until the number changes.
 */
export const workerCallLoop = `
// Spin until the sequence number leaves seq or spinMs of running have passed. Time spent descheduled does not count:
// a thread that comes back from a preemption past its deadline and sleeps at once is woken by the next call onto the
// caller's core, and the two then share one core for milliseconds. A function of its own, so that the optimiser
// keeps the clock's readings unboxed: spinning at top level allocated a number per reading (a scavenge every 30 ms).
function spinWhile(seq) {
  let spun = 0, last = performance.now();
  for (let i = 1; Atomics.load(ctl, base) === seq; i++) {
    if ((i & 63) !== 0) continue;
    const now = performance.now(), d = now - last;
    last = now;
    if (d < 0.05 && (spun += d) >= spinMs) return;
  }
}
for (;;) {
  // spin a little before sleeping: the next call usually comes within a millisecond
  spinWhile(seq);
  // sleep until the sequence number changes (a notify that finds it unchanged is the last call's, come late)
  let next;
  while ((next = Atomics.load(ctl, base)) === seq) Atomics.wait(ctl, base, seq);
  seq = next;
  if (seq < 0) break;
  const args = [];
  for (let i = 0, n = ctl[base + 2]; i < n; i++) args.push(ctl[base + 3 + i]);
  // take the call, unless the caller withdrew it (then the arguments read may be the next call's, half written)
  if (Atomics.compareExchange(ctl, base + ${CLAIM}, seq, seq | ${RUNNING}) !== seq) continue;
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
 * The caller's side of the control block for `count` threads (thread 0 is the caller): post a call to a worker,
 * see whether it finished, collect its outcome, stop every worker. How to wait for a call is the pool's own.
 * @example
 *   const cb = new ControlBlock(2);
 *   cb.post(1, 0, [64, 128], 'KernelThreads'); while (!cb.isDone(1)) {} cb.settle(1);
 */
export class ControlBlock {
  readonly ctl: Int32Array;
  private readonly seq: number[];
  private readonly busy: boolean[];

  constructor(readonly count: number) {
    this.ctl = new Int32Array(new SharedArrayBuffer(4 * SLOT * Math.max(1, count)));
    this.seq = new Array<number>(count).fill(0);
    this.busy = new Array<boolean>(count).fill(false);
  }

  /** Hand `fn(...args)` (32-bit integer arguments) to worker t ≥ 1 and wake it; `who` names the pool in the error. */
  post(t: number, fn: number, args: number[], who: string): void {
    if (args.length > MAX_ARGS) throw new Error(`${who}.start: ${args.length} arguments, at most ${MAX_ARGS}`);
    const base = t * SLOT, c = this.ctl;
    c[base + 1] = fn;
    c[base + 2] = args.length;
    for (let i = 0; i < args.length; i++) c[base + 3 + i] = args[i];
    this.seq[t] = (this.seq[t] % (RUNNING - 1)) + 1; // 1 … RUNNING − 1: never 0, the withdrawn CLAIM
    this.busy[t] = true;
    Atomics.store(c, base + CLAIM, this.seq[t]);
    Atomics.store(c, base, this.seq[t]);
    Atomics.notify(c, base);
  }

  /** Whether worker t has a posted call not yet settled. */
  isBusy(t: number): boolean {
    return this.busy[t];
  }

  /** The DONE word of worker t: the sequence number of the last call it finished (wait on it with Atomics.wait). */
  doneValue(t: number): number {
    return Atomics.load(this.ctl, t * SLOT + DONE);
  }

  /**
   * Withdraw the call posted to worker t if it has not taken it yet; true when withdrawn (it will never run, and
   * the call is settled). Only for calls whose work the caller's own share completes.
   */
  withdraw(t: number): boolean {
    const s = this.seq[t];
    if (Atomics.compareExchange(this.ctl, t * SLOT + CLAIM, s, 0) !== s) return false;
    this.busy[t] = false;
    return true;
  }

  /** Whether worker t finished the last call posted to it. */
  isDone(t: number): boolean {
    return Atomics.load(this.ctl, t * SLOT + DONE) === this.seq[t];
  }

  /** The sequence number of the last call posted to worker t. */
  posted(t: number): number {
    return this.seq[t];
  }

  /** Mark worker t's finished call collected; true when it trapped. */
  settle(t: number): boolean {
    this.busy[t] = false;
    return this.ctl[t * SLOT + ERROR] !== 0;
  }

  /** The index of the function worker t ran last. */
  functionOf(t: number): number {
    return this.ctl[t * SLOT + 1];
  }

  /** Tell every worker to leave its loop. */
  stopAll(): void {
    for (let t = 1; t < this.count; t++) {
      Atomics.store(this.ctl, t * SLOT, -1);
      Atomics.notify(this.ctl, t * SLOT);
    }
  }
}
