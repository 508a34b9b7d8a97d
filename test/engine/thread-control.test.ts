// The worker threads' dispatch protocol (src/engine/kernels/thread-control.ts), with a JavaScript function standing in
// for a kernel: a call runs once per sequence number, whatever wake-ups the worker sees, and a withdrawn call never.
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { ControlBlock, SLOT, workerCallLoop } from '../../src/engine/kernels/thread-control.js';

// fns[0] counts its runs in a shared word, as an accumulating kernel would add to its output once per run
const workerSource = `
const { workerData } = require('node:worker_threads');
const { ctl, runs } = workerData;
const fns = [() => { Atomics.add(runs, 0, 1); }];
const base = ${SLOT}, spinMs = 0;
let seq = 0;
${workerCallLoop}
`;

// fns[0](a) counts its runs in runs[0] and adds its argument to runs[1]; the worker spins between calls (spinMs)
const argWorkerSource = (spinMs: number) => `
const { workerData } = require('node:worker_threads');
const { ctl, runs } = workerData;
const fns = [(a) => { Atomics.add(runs, 0, 1); Atomics.add(runs, 1, a); }];
const base = ${SLOT}, spinMs = ${spinMs};
let seq = 0;
${workerCallLoop}
`;

const tick = () => new Promise((r) => setTimeout(r, 1));

/** Spin (the worker is another thread) until worker t finished its call. */
function spinUntilDone(cb: ControlBlock, t: number): void {
  const deadline = Date.now() + 10_000;
  while (!cb.isDone(t)) if (Date.now() > deadline) throw new Error('timed out waiting for the worker');
}

async function until(what: string, ok: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await tick();
  }
}

describe('worker call loop', () => {
  let worker: Worker | null = null;
  afterEach(async () => {
    await worker?.terminate();
    worker = null;
  });

  it('runs a call once, even when a notify arrives after the call has run (a caller descheduled between store and notify)', async () => {
    const cb = new ControlBlock(2);
    const runs = new Int32Array(new SharedArrayBuffer(4));
    worker = new Worker(workerSource, { eval: true, workerData: { ctl: cb.ctl, runs } });
    cb.post(1, 0, [], 'test');
    await until('the first call finished', () => cb.isDone(1));
    cb.settle(1);
    expect(Atomics.load(runs, 0)).toBe(1);
    // The late notifies: each one finds the worker asleep (notify returns how many it woke) with the sequence number
    // unchanged. A loop that took a wake-up for a call would run the last call again on each.
    for (let i = 0; i < 3; i++) await until(`notify ${i + 1} woke the sleeping worker`, () => Atomics.notify(cb.ctl, SLOT) === 1);
    // A fourth wake shows the worker asleep again, so the reruns of the first three have finished (the old loop then
    // counts 4, or 5 if the fourth's rerun is done too); the fixed loop never runs the call again.
    await until('the worker slept again', () => Atomics.notify(cb.ctl, SLOT) === 1);
    expect(Atomics.load(runs, 0)).toBe(1);
    cb.post(1, 0, [], 'test');
    await until('the second call finished', () => cb.isDone(1));
    expect(Atomics.load(runs, 0)).toBe(2);
  });

  it('never runs a withdrawn call, nor its arguments with the next call, however the race with the worker goes', async () => {
    // Each call posts its index as the argument and is withdrawn at once or after a short wait, so the worker (asleep
    // between calls, or spinning) sometimes takes it first; the next call is posted at once either way. The calls the
    // worker ran are then exactly those not withdrawn: their count and the sum of their arguments say so.
    for (const spinMs of [0, 2]) {
      const cb = new ControlBlock(2);
      const runs = new Int32Array(new SharedArrayBuffer(8));
      worker = new Worker(argWorkerSource(spinMs), { eval: true, workerData: { ctl: cb.ctl, runs } });
      cb.post(1, 0, [0], 'test');
      await until('the worker is up', () => cb.isDone(1));
      cb.settle(1);
      let ran = 0, sum = 0, withdrawn = 0;
      for (let i = 1; i <= 3000; i++) {
        cb.post(1, 0, [i], 'test');
        const t0 = performance.now(), wait = (i % 7) * 0.002;
        while (performance.now() - t0 < wait) { /* give the worker a chance to take it */ }
        if (cb.withdraw(1)) {
          withdrawn++;
          expect(cb.isBusy(1)).toBe(false);
        } else {
          spinUntilDone(cb, 1);
          expect(cb.settle(1)).toBe(false);
          ran++;
          sum += i;
        }
      }
      cb.post(1, 0, [0], 'test'); // the worker takes calls in order: once this one is done, every earlier one is settled
      spinUntilDone(cb, 1);
      expect(Atomics.load(runs, 0), `spin ${spinMs} ms: ${withdrawn} of 3000 withdrawn`).toBe(ran + 2);
      expect(Atomics.load(runs, 1)).toBe(sum);
      expect(withdrawn).toBeGreaterThan(0); // a call posted to a sleeping worker and withdrawn at once is withdrawn
      await worker.terminate();
      worker = null;
    }
  });

  it('leaves its loop when the sequence number goes negative', async () => {
    const cb = new ControlBlock(2);
    const runs = new Int32Array(new SharedArrayBuffer(4));
    worker = new Worker(workerSource, { eval: true, workerData: { ctl: cb.ctl, runs } });
    const exited = new Promise<number>((r) => worker!.once('exit', r));
    cb.post(1, 0, [], 'test');
    await until('the call finished', () => cb.isDone(1));
    cb.stopAll();
    expect(await exited).toBe(0);
    expect(Atomics.load(runs, 0)).toBe(1);
  });
});
