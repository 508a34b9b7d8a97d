// The worker threads' dispatch protocol (src/engine/kernels/thread-control.ts), with a JavaScript function standing in
// for a kernel: a call runs once per sequence number, whatever wake-ups the worker sees.
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

const tick = () => new Promise((r) => setTimeout(r, 1));

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
