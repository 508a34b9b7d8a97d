// The ∇x lab's speed in headless Chromium (Debian's chromium), with the kernels on 1 and on 2 threads, interleaved
// (the issue's acceptance: ∇x and the FGSM redraw within one 16 ms frame, PGD-40 on one digit within 100 ms, first
// paint under 2 s from the local server). Starts `nablax lab`, then per round and thread count:
// - a cold load in a fresh browser context (no HTTP or service-worker cache): first contentful paint, and the first
//   prediction drawn (kernels fetched and compiled, workers started, models and digits loaded);
// - on a warm page: the ∇x + FGSM panels' update when the ε slider moves (the page's own requestAnimationFrame
//   redraw, panels 1–3 open: probabilities, ∇x, its sign, FGSM, their canvases), PGD-40 (ε 0.3, all 40 steps),
//   one-pixel (population 100: a batch per generation) and one batch of 100 test digits;
// - the peer: the same batch of 100 in Node on the same kernels and thread count (median of 5), right after.
// Prints JSON (medians over rounds, with min and max) on stdout, progress on stderr. Build first (npm run build:lab),
// then `npx tsx lab/speed.ts [rounds=5]`. Nothing is asserted: timings on a shared machine are rough.
import { spawn } from 'node:child_process';
import { chromium, type Browser, type Page } from 'playwright-core';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { useKernels, type Kernels } from '../src/engine/kernels/kernels.js';
import { loadWasmKernels } from '../src/engine/kernels/wasm-node.js';
import { Tensor } from '../src/engine/tensor.js';
import { loadModel } from '../src/io/model-file.js';
import { loadMnistData } from '../src/data/datasets.js';
import { predict } from '../src/layers/predict.js';

interface Lab {
  last: { predicted: number };
  timing: { readyMs: number; lastUpdateMs: number };
  threads: number;
  kernels: string;
  bench(reps: number): { gradFgsmRedrawMs: number; pgd40Ms: number };
  timePgd40(): { ms: number };
  timeBlackBox(a: string): { ms: number; queries: number | null };
  batchProbs(n: number): number[];
}
declare const __lab: Lab;

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const rounds = Number(process.argv[2] ?? 5);
if (!Number.isInteger(rounds) || rounds < 1) {
  process.stderr.write(`lab/speed.ts: rounds must be a positive integer, got ${process.argv[2]}\n`);
  process.exit(2);
}
const median = (v: number[]) => v.slice().sort((a, b) => a - b)[Math.floor(v.length / 2)];
const summary = (v: number[]) => ({ median: +median(v).toFixed(2), min: +Math.min(...v).toFixed(2), max: +Math.max(...v).toFixed(2), n: v.length });

const server = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'lab', '--port', '0'], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
const url = await new Promise<string>((res) => server.stdout.once('data', (d) => res(String(d).trim())));
const browser: Browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const ready = (p: Page) => p.waitForFunction(() => (globalThis as unknown as { __lab?: Lab }).__lab?.last.predicted !== undefined && __lab.last.predicted >= 0, null, { timeout: 120_000 });

/** A cold load in a fresh context: first contentful paint and first prediction drawn (ms after navigation). */
async function cold(threads: number): Promise<{ fcp: number; firstPrediction: number }> {
  const ctx = await browser.newContext({ viewport: { width: 1000, height: 900 } });
  try {
    const p = await ctx.newPage();
    await p.goto(`${url}?threads=${threads}`);
    await ready(p);
    await p.waitForFunction(() => __lab.timing.readyMs > 0);
    return await p.evaluate(() => ({
      fcp: performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? -1,
      firstPrediction: __lab.timing.readyMs,
    }));
  } finally {
    await ctx.close();
  }
}

const warm = new Map<number, Page>();
for (const t of [1, 2]) {
  const p = await (await browser.newContext({ viewport: { width: 1000, height: 900 } })).newPage();
  await p.goto(`${url}?threads=${t}`);
  await ready(p);
  const got = await p.evaluate(() => ({ threads: __lab.threads, kernels: __lab.kernels }));
  if (got.threads !== t) throw new Error(`lab/speed.ts: asked for ${t} threads, the page runs ${got.threads}`);
  await p.evaluate(() => { (document.getElementById('p2') as HTMLDetailsElement).open = true; (document.getElementById('p3') as HTMLDetailsElement).open = true; });
  await p.evaluate(() => __lab.bench(10)); // warm-up
  warm.set(t, p);
  process.stderr.write(`lab/speed.ts: warm page on ${t} thread(s), ${got.kernels}\n`);
}

/** The page's own redraw after ε slider moves: median update() of `moves` moves (one requestAnimationFrame each). */
async function sliderRedraw(p: Page, moves: number): Promise<number> {
  return p.evaluate(async (n) => {
    const eps = document.getElementById('eps') as HTMLInputElement, times: number[] = [];
    for (let i = 0; i < n; i++) {
      eps.value = String(0.05 + (i % 20) * 0.01);
      eps.dispatchEvent(new Event('input'));
      await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
      times.push(__lab.timing.lastUpdateMs);
    }
    return times.sort((a, b) => a - b)[Math.floor(n / 2)];
  }, moves);
}

const keys = ['fcpMs', 'firstPredictionMs', 'sliderRedrawMs', 'gradFgsmMs', 'pgd40Ms', 'onePixelMs', 'batch100Ms', 'nodeBatch100Ms'] as const;

// the Node peer: the page's model and kernels build, on 1 and 2 threads
const cnn = loadModel(join(root, 'lab', 'models', 'cnn.safetensors')).model;
const batch = new Tensor(Float32Array.from(loadMnistData('test').images.subarray(0, 100 * 784)), [100, ...cnn.input]);
const nodeKernels = new Map<number, Kernels>();
for (const t of [1, 2]) {
  const k = loadWasmKernels({ threads: t });
  if (!k) throw new Error('lab/speed.ts: the WebAssembly kernels are not built (npm run build:wasm)');
  nodeKernels.set(t, k);
}
function nodeBatch(t: number): number {
  const prev = useKernels(nodeKernels.get(t)!);
  try {
    const ms: number[] = [];
    for (let i = 0; i < 6; i++) {
      const s = performance.now();
      predict(cnn, batch);
      ms.push(performance.now() - s);
    }
    return median(ms.slice(1));
  } finally {
    useKernels(prev);
  }
}
const results = new Map<number, Record<(typeof keys)[number], number[]>>(
  [1, 2].map((t) => [t, Object.fromEntries(keys.map((k) => [k, [] as number[]])) as Record<(typeof keys)[number], number[]>]));
const t0 = performance.now();
let phase = '', round = 0;
// progress every second: round, phase, rate and ETA
const ticker = setInterval(() => {
  const s = (performance.now() - t0) / 1000, per = round > 0 ? s / round : NaN;
  process.stderr.write(`\rlab/speed.ts: round ${round + 1}/${rounds} (${phase}), ${s.toFixed(0)} s, ${round > 0 ? `${per.toFixed(1)} s per round, ETA ${(per * (rounds - round)).toFixed(0)} s` : 'ETA after the first round'}   `);
}, 1000);
for (let r = 0; r < rounds; r++, round++) {
  for (const t of r % 2 === 0 ? [1, 2] : [2, 1]) {
    const res = results.get(t)!;
    phase = `${t} thread${t === 1 ? '' : 's'}`;
    const c = await cold(t);
    res.fcpMs.push(c.fcp);
    res.firstPredictionMs.push(c.firstPrediction);
    const p = warm.get(t)!;
    res.sliderRedrawMs.push(await sliderRedraw(p, 20));
    const b = await p.evaluate(() => __lab.bench(20));
    res.gradFgsmMs.push(b.gradFgsmRedrawMs);
    res.pgd40Ms.push(b.pgd40Ms);
    res.onePixelMs.push(await p.evaluate(() => __lab.timeBlackBox('one-pixel').ms));
    res.batch100Ms.push(await p.evaluate(() => { const s = performance.now(); __lab.batchProbs(100); return performance.now() - s; }));
    res.nodeBatch100Ms.push(nodeBatch(t));
  }
}
clearInterval(ticker);
process.stderr.write('\n');
const out = Object.fromEntries([1, 2].map((t) => [`threads${t}`, Object.fromEntries(keys.map((k) => [k, summary(results.get(t)![k])]))]));
process.stdout.write(JSON.stringify({ url, rounds, kernels: await warm.get(1)!.evaluate(() => __lab.kernels), ...out }, null, 1) + '\n');
await browser.close();
server.kill('SIGTERM');
