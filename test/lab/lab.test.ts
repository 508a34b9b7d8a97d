// End-to-end test of the ∇x lab in a real browser (the two commands of README.md's lab section): builds lab/dist
// (npm run build:lab), starts `nablax lab` on a
// free localhost port and drives headless Chromium (Debian's chromium, through playwright-core). The page's
// numbers are compared bit for bit with the Node engine on the same pixels and model file, with the kernels the
// page reports (the WebAssembly SIMD build it picked: the same .wasm file in Node, or the TypeScript reference).
// Screenshots of every panel and the page's speed (not asserted) go to .tmp/lab-screens/. Then offline: the service
// worker brings the page back with the network off, from `nablax lab` and from a plain static host (a sub-folder,
// no isolation headers: one thread, the TypeScript kernels).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import sirv from 'sirv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fgsm } from '../../src/attacks/fgsm.js';
import { pgd } from '../../src/attacks/pgd.js';
import { useKernels, type Kernels } from '../../src/engine/kernels/kernels.js';
import { referenceKernels } from '../../src/engine/kernels/reference.js';
import { loadWasmKernels } from '../../src/engine/kernels/wasm-node.js';
import { softmax } from '../../src/engine/ops/loss.js';
import { Tensor } from '../../src/engine/tensor.js';
import { loadModel } from '../../src/io/model-file.js';
import type { Sequential } from '../../src/layers/sequential.js';
import { loadMnistData } from '../../src/data/datasets.js';
import { predict } from '../../src/layers/predict.js';

const root = resolve(import.meta.dirname, '../..');
const screens = join(root, '.tmp', 'lab-screens');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const tsx = (args: string[]) => [process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args]] as const;

interface LabState {
  ready: boolean;
  kernels: string;
  threads: number;
  isolated: boolean;
  threadStats: { dispatched: number; inline: number };
  offline: string;
  model: string;
  last: { pixels: number[]; probs: number[]; predicted: number; label: number };
  attack: null | { attack: string; eps: number; label: number; probs: number[]; predicted: number; success: boolean; target?: number | null };
  loadMessage: string;
  timing: { readyMs: number };
}
declare const __lab: LabState & { bench(reps: number): Record<string, number | string>; batchProbs(n: number): number[] };

let server: ChildProcess | null = null;
let context: BrowserContext | null = null;
let page: Page;
let url = '';
const problems: string[] = [];
const tmp = mkdtempSync(join(tmpdir(), 'nablax-lab-'));

/** Run f with the kernels the page reports using (the same .wasm build in Node, one thread; loaded once). */
const nodeKernels = new Map<string, Kernels>();
function withPageKernels<T>(name: string, f: () => T): T {
  let k = nodeKernels.get(name) ?? null;
  if (!k) {
    k = name === 'typescript' ? referenceKernels : loadWasmKernels({ fma: name === 'wasm-simd-fma', threads: 1 });
    if (!k || k.name !== name) throw new Error(`the page ran '${name}' kernels, which this Node cannot load (got ${k?.name})`);
    nodeKernels.set(name, k);
  }
  const prev = useKernels(k);
  try {
    return f();
  } finally {
    useKernels(prev);
  }
}
const probsOf = (m: Sequential, pixels: number[]) => Array.from(softmax(predict(m, new Tensor(Float32Array.from(pixels), [1, ...m.input]))).data);
const state = () => page.evaluate(() => ({ ...__lab, bench: undefined }) as LabState);

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`the lab's browser test needs Chromium at ${CHROMIUM}: install Debian's chromium (apt-get install chromium; .ci/run does) or set CHROMIUM_PATH`);
  }
  mkdirSync(screens, { recursive: true });
  const built = spawnSync(process.execPath, ['--import', 'tsx', 'lab/build.ts'], { cwd: root, encoding: 'utf8' });
  if (built.status !== 0) throw new Error(`npm run build:lab failed: ${built.stderr}`);
  copyFileSync(join(root, 'lab/models/softmax.safetensors'), join(tmp, 'mine.safetensors'));
  const [cmd, args] = tsx(['lab', '--port', '0', '--model-file', join(tmp, 'mine.safetensors')]);
  server = spawn(cmd, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  url = await new Promise<string>((res, rej) => {
    let err = '';
    server!.stdout!.on('data', (d) => res(String(d).trim()));
    server!.stderr!.on('data', (d) => { err += String(d); });
    server!.on('exit', (code) => rej(new Error(`nablax lab exited with ${code}: ${err}`)));
  });
  context = await chromium.launchPersistentContext(join(tmp, 'profile'), {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1000, height: 900 },
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  page = context.pages()[0] ?? (await context.newPage());
  page.on('console', (m) => { if (m.type() === 'error') problems.push(m.text()); });
  page.on('pageerror', (e) => problems.push(e.message));
  await page.goto(url);
  await page.waitForFunction(() => (globalThis as unknown as { __lab?: LabState }).__lab?.last.predicted !== undefined && __lab.last.predicted >= 0, null, { timeout: 60_000 });
});

afterAll(async () => {
  await context?.close();
  server?.kill('SIGTERM');
  rmSync(tmp, { recursive: true, force: true });
});

describe('the ∇x lab in Chromium', () => {
  it('serves the page cross-origin isolated and it loads with no console error', async () => {
    expect(url).toMatch(/^http:\/\/localhost:\d+\/$/);
    const s = await state();
    expect(s.ready).toBe(true);
    expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
    expect(s.kernels).toMatch(/^wasm-simd/); // isolated and with SIMD, the page runs the WebAssembly kernels
    // … on as many threads as Node would (the cores, at most 4): 2 on the 2-core machine this was written on
    const cores = await page.evaluate(() => navigator.hardwareConcurrency);
    const threads = Math.min(4, cores);
    expect(s.isolated).toBe(true);
    expect(s.threads).toBe(threads);
    if (cores >= 2) expect(s.threads).toBeGreaterThanOrEqual(2);
    const status = `kernels: ${s.kernels} on ${threads} thread${threads === 1 ? '' : 's'}, cross-origin isolated`;
    expect(await page.locator('#engine').textContent()).toBe(status);
    expect(await page.locator('footer').textContent()).toContain(status);
    expect(problems).toEqual([]);
  });

  it('splits a batch among the page\'s worker threads and gets the same bits as Node on one thread', async () => {
    const before = (await state()).threadStats.dispatched;
    // 64 official test digits in one batch: the convolutions hand chunks of it to the workers
    const probs = await page.evaluate(() => __lab.batchProbs(64));
    const s = await state();
    if (s.threads > 1) expect(s.threadStats.dispatched).toBeGreaterThan(before);
    const { model } = loadModel(join(root, 'lab/models/cnn.safetensors'));
    const digits = loadMnistData('test').images.subarray(0, 64 * 784);
    const node = withPageKernels(s.kernels, () => Array.from(softmax(predict(model, new Tensor(Float32Array.from(digits), [64, ...model.input]))).data));
    expect(probs).toHaveLength(640);
    expect(probs).toEqual(node);
  });

  it('classifies a digit drawn with pointer events, with the Node engine\'s probabilities bit for bit', async () => {
    await page.click('#clear');
    const box = (await page.locator('#draw').boundingBox())!;
    const at = (u: number, v: number) => [box.x + u * box.width, box.y + v * box.height] as const;
    // a "1": one vertical stroke
    await page.mouse.move(...at(0.5, 0.2));
    await page.mouse.down();
    for (let v = 0.2; v <= 0.8; v += 0.05) await page.mouse.move(...at(0.52, v), { steps: 2 });
    await page.mouse.up();
    await page.waitForFunction(() => __lab.last.pixels.some((p) => p > 0) && __lab.last.pixels.filter((p) => p > 0).length > 20);
    await page.waitForTimeout(100); // the last redraw
    const s = await state();
    expect(s.model).toBe('cnn');
    const { model } = loadModel(join(root, 'lab/models/cnn.safetensors'));
    const node = withPageKernels(s.kernels, () => probsOf(model, s.last.pixels));
    expect(s.last.probs).toEqual(node);
    expect(s.last.predicted).toBe(1);
    await page.screenshot({ path: join(screens, 'drawn-1.png') });
  });

  it('moves the ε slider and the adversarial prediction follows Node\'s FGSM at that ε', async () => {
    await page.evaluate(() => { (document.getElementById('p3') as HTMLDetailsElement).open = true; });
    await page.selectOption('#digit', '0'); // official test digit #0, a 7
    await page.selectOption('#attack', 'fgsm');
    const { model } = loadModel(join(root, 'lab/models/cnn.safetensors'));
    const preds: number[] = [];
    for (const eps of ['0', '0.1', '0.25']) {
      await page.locator('#eps').fill(eps);
      await page.waitForFunction((e) => __lab.attack?.eps === e, Number(eps));
      const s = await state();
      const a = s.attack!;
      const node = withPageKernels(s.kernels, () => {
        const x = new Tensor(Float32Array.from(s.last.pixels), [1, ...model.input]);
        const adv = fgsm.run(model, x, Int32Array.of(a.label), { eps: Number(eps) }).adversarial;
        return probsOf(model, Array.from(adv.data));
      });
      expect(a.label).toBe(7);
      expect(a.probs).toEqual(node);
      preds.push(a.predicted);
    }
    expect(preds[0]).toBe(7); // ε = 0 leaves the digit alone
    expect(preds[2]).not.toBe(7); // the standard cnn falls to FGSM at ε = 0.25 on this digit
  });

  it('runs targeted PGD-k, and the black-box attacks on their button with their query counts', async () => {
    await page.selectOption('#digit', '0');
    await page.locator('#eps').fill('0.3');
    await page.selectOption('#attack', 'pgd');
    await page.selectOption('#target', '3');
    await page.waitForFunction(() => __lab.attack?.attack === 'pgd' && __lab.attack.target === 3 && __lab.attack.eps === 0.3);
    let a = (await state()).attack!;
    expect(a.predicted).toBe(3); // PGD-40 pushes the standard cnn's 7 into the chosen 3 at ε = 0.3
    expect(a.success).toBe(true);
    await page.selectOption('#target', '');
    for (const attack of ['square', 'one-pixel']) {
      await page.selectOption('#attack', attack);
      await page.click('#run-bb');
      await page.waitForFunction((name) => __lab.attack?.attack === name, attack);
      a = (await state()).attack!;
      const queries = (a as unknown as { queries: number }).queries;
      expect(queries).toBeGreaterThan(1);
      expect(await page.locator('#a-text').textContent()).toContain(`${queries} queries`);
    }
    await page.selectOption('#attack', 'fgsm');
  });

  it('loads a model file through the picker and refuses a corrupt one with a clear message', async () => {
    await page.evaluate(() => { (document.getElementById('p7') as HTMLDetailsElement).open = true; });
    await page.setInputFiles('#file', join(root, 'lab/models/softmax.safetensors'));
    await page.waitForFunction(() => __lab.loadMessage !== '');
    let s = await state();
    expect(s.loadMessage).toMatch(/^Loaded softmax\.safetensors: flatten → dense, 7,850 parameters/);
    expect(s.model).toBe('softmax (yours)');
    const corrupt = join(tmp, 'corrupt.safetensors');
    writeFileSync(corrupt, Buffer.from('this is not a safetensors file at all'));
    await page.setInputFiles('#file', corrupt);
    await page.waitForFunction(() => __lab.loadMessage.startsWith('Refused'));
    s = await state();
    expect(s.loadMessage).toMatch(/^Refused corrupt\.safetensors: not a valid \.safetensors file \(header length \d+ exceeds/);
    // the file given to `nablax lab --model-file` is in the menu
    const options = await page.locator('#model option').allTextContents();
    expect(options).toEqual(expect.arrayContaining(['cnn', 'cnn-pgd', 'softmax', 'mine', 'softmax (yours)']));
    await page.selectOption('#model', 'cnn');
    await page.waitForFunction(() => __lab.model === 'cnn');
  });

  it('is usable with the keyboard alone: every control is reached by Tab with a visible focus ring, and works', async () => {
    await page.evaluate(() => { (document.getElementById('p3') as HTMLDetailsElement).open = true; });
    await page.selectOption('#attack', 'fgsm');
    await page.evaluate(() => { for (let p = 1; p <= 7; p++) (document.getElementById(`p${p}`) as HTMLDetailsElement).open = false; });
    await page.locator('h1').click(); // Tab starts from the top
    // Tab through the page; a closed panel's summary is opened with Enter, so its controls come next
    const reached: string[] = [];
    for (let i = 0; i < 80; i++) {
      await page.keyboard.press('Tab');
      const f = await page.evaluate(() => {
        const el = document.activeElement as HTMLElement;
        const id = el.tagName === 'SUMMARY' ? `${el.parentElement!.id}>summary` : el.id || `${el.tagName.toLowerCase()} in ${el.closest('[id]')?.id}`;
        const st = getComputedStyle(el);
        const ring = st.outlineStyle !== 'none' && parseFloat(st.outlineWidth) >= 2;
        return { id, ring, closed: el.tagName === 'SUMMARY' && !(el.parentElement as HTMLDetailsElement).open };
      });
      if (reached.includes(f.id) || f.id.startsWith('body')) break; // around once (past the last control: the browser's own UI)
      reached.push(f.id);
      expect(f.ring, `focus ring on #${f.id}`).toBe(true);
      if (f.closed) await page.keyboard.press('Enter');
    }
    const controls = ['model', 'draw', 'clear', 'prev', 'digit', 'next', 'eps', 'attack', 'target', 't-prev', 't-next', 't-rule', 'file'];
    writeFileSync(join(screens, 'tab-order.txt'), reached.join('\n') + '\n');
    expect(reached, reached.join(' ')).toEqual(expect.arrayContaining([...controls, ...[1, 2, 3, 4, 5, 6, 7].map((p) => `p${p}>summary`)]));
    // FGSM is chosen: PGD's k and the black-box button are hidden, so Tab skips them
    expect(reached).not.toContain('steps');
    expect(reached).not.toContain('run-bb');
    expect(await page.evaluate(() => [1, 2, 3, 4, 5, 6, 7].every((p) => (document.getElementById(`p${p}`) as HTMLDetailsElement).open))).toBe(true);

    // draw a "1" on the pad with the pen: up 8, down, 16 pixels down, lift
    await page.focus('#clear');
    await page.keyboard.press('Enter');
    await page.focus('#draw');
    for (let i = 0; i < 8; i++) await page.keyboard.press('ArrowUp');
    await page.keyboard.press('Space');
    for (let i = 0; i < 16; i++) await page.keyboard.press('ArrowDown');
    await page.keyboard.press('Space');
    await page.waitForFunction(() => __lab.last.pixels.filter((p) => p > 0).length > 30);
    await page.waitForTimeout(100);
    await page.locator('#p1').screenshot({ path: join(screens, 'keyboard-pen.png') }); // the pad's focus ring and pen
    let s = await state();
    const { model } = loadModel(join(root, 'lab/models/cnn.safetensors'));
    expect(s.last.probs).toEqual(withPageKernels(s.kernels, () => probsOf(model, s.last.pixels)));
    expect(s.last.predicted).toBe(1);
    // the next test digit with Enter on ▶, ε with the arrow keys, the backward pass with the arrow keys
    await page.focus('#next');
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => __lab.last.label === 2); // test digit #1 is a 2
    const eps0 = Number(await page.locator('#eps').inputValue());
    await page.focus('#eps');
    await page.keyboard.press('ArrowRight');
    await page.waitForFunction((e) => __lab.attack !== null && Math.abs(__lab.attack.eps - e) < 1e-9, eps0 + 0.01);
    s = await state();
    expect(await page.locator('#eps-out').textContent()).toBe((eps0 + 0.01).toFixed(2));
    const where = await page.locator('#t-where').textContent();
    await page.focus('#t-rule');
    await page.keyboard.press('ArrowDown');
    await page.waitForFunction((w) => document.getElementById('t-where')!.textContent !== w, where);
    await page.keyboard.press('ArrowUp');
    await page.waitForFunction((w) => document.getElementById('t-where')!.textContent === w, where);
    expect(problems).toEqual([]);
  });

  it('takes its thread count from ?threads=N, and refuses a bad one with the reason', async () => {
    const p = await context!.newPage();
    const seen: string[] = [];
    p.on('console', (m) => { if (m.type() === 'error') seen.push(m.text()); });
    try {
      await p.goto(`${url}?threads=1`);
      await p.waitForFunction(() => (globalThis as unknown as { __lab?: LabState }).__lab?.ready === true, null, { timeout: 60_000 });
      const s = await p.evaluate(() => ({ threads: __lab.threads, kernels: __lab.kernels }));
      expect(s.threads).toBe(1);
      expect(await p.locator('#engine').textContent()).toBe(`kernels: ${s.kernels} on 1 thread, cross-origin isolated`);
      expect(seen).toEqual([]);
      await p.goto(`${url}?threads=0`);
      await p.waitForFunction(() => document.getElementById('engine')!.textContent.startsWith('the lab could not start'));
      expect(await p.locator('#engine').textContent()).toBe('the lab could not start: ?threads=0 in the URL: expected an integer from 1 to 64');
    } finally {
      await p.close();
    }
  });

  it('fits a phone\'s width (375 px): nothing wider than the screen or its panel, every panel open (screenshot saved)', async () => {
    const p = await context!.newPage();
    try {
      await p.setViewportSize({ width: 375, height: 812 });
      await p.goto(url);
      await p.waitForFunction(() => (globalThis as unknown as { __lab?: LabState }).__lab?.last.predicted !== undefined && __lab.last.predicted >= 0, null, { timeout: 60_000 });
      await p.evaluate(() => { for (let k = 1; k <= 7; k++) (document.getElementById(`p${k}`) as HTMLDetailsElement).open = true; });
      await p.waitForTimeout(500);
      const wide = await p.evaluate(() => {
        const out: string[] = [];
        for (const el of document.body.querySelectorAll<HTMLElement>('*')) {
          if (el.closest('pre')) continue; // the chain rule scrolls sideways inside its own box
          const r = el.getBoundingClientRect();
          // inside the screen, and inside its panel's box
          const box = el.closest('details')?.getBoundingClientRect() ?? { left: 0, right: innerWidth };
          if (r.width > 0 && (r.right > Math.min(innerWidth, box.right) + 0.5 || r.left < box.left - 0.5)) out.push(`${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''} [${r.left.toFixed(0)}, ${r.right.toFixed(0)}]`);
        }
        return { out, scroll: document.documentElement.scrollWidth };
      });
      expect(wide.out).toEqual([]);
      expect(wide.scroll).toBeLessThanOrEqual(375);
      await p.screenshot({ path: join(screens, 'phone-375.png'), fullPage: true });
    } finally {
      await p.close();
    }
  });

  it('shows every panel (screenshots saved) and reports its speed', async () => {
    await page.evaluate(() => { for (let p = 1; p <= 7; p++) (document.getElementById(`p${p}`) as HTMLDetailsElement).open = true; });
    await page.selectOption('#digit', '0');
    await page.locator('#eps').fill('0.2');
    await page.click('#t-next');
    await page.waitForFunction(() => document.getElementById('t-where')!.textContent.startsWith('step 2'));
    await page.waitForTimeout(300);
    expect(problems).toEqual([]);
    for (let p = 1; p <= 7; p++) {
      const file = join(screens, `panel-${p}.png`);
      await page.locator(`#p${p}`).screenshot({ path: file });
      expect(statSync(file).size).toBeGreaterThan(2000);
    }
    await page.screenshot({ path: join(screens, 'lab.png'), fullPage: true });
    expect(await page.locator('#t-rule .on').textContent()).toMatch(/^∂J\/∂z₉ += ∂J\/∂z₁₀ · W₉ .*#9 dense 128→10/);
    expect(await page.locator('#l-text').textContent()).toMatch(/ε·m·n = 0\.20·/);
    const speed: Record<string, number | string> = await page.evaluate(() => ({
      ...__lab.bench(20),
      firstContentfulPaintMs: performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? -1,
      firstPredictionMs: __lab.timing.readyMs,
    }));
    // The same PGD-40 in Node (same kernels, one thread), interleaved with the page's after two warm-up runs each:
    // a ratio, since the machine is shared.
    const { model } = loadModel(join(root, 'lab/models/cnn.safetensors'));
    const s = await state();
    const x = new Tensor(Float32Array.from(s.last.pixels), [1, ...model.input]);
    const inPage: number[] = [], inNode: number[] = [];
    // (page.evaluate is awaited before the Node run starts, so the two never overlap)
    for (let r = 0; r < 7; r++) {
      const run = await page.evaluate(() => (__lab as unknown as { timePgd40(): { ms: number; iterations: number; probs: number[] } }).timePgd40());
      inPage.push(run.ms);
      const node = withPageKernels(s.kernels, () => {
        const t0 = performance.now();
        const r = pgd.run(model, x, Int32Array.of(s.last.label), { eps: 0.3, steps: 40, seed: 0, earlyStop: false });
        const ms = performance.now() - t0;
        return { ms, iterations: r.iterations[0], probs: probsOf(model, Array.from(r.adversarial.data)) };
      });
      inNode.push(node.ms);
      // the same 40 steps, to the same bits
      expect(run.iterations).toBe(40);
      expect(run.probs).toEqual(node.probs);
    }
    inPage.splice(0, 2);
    inNode.splice(0, 2);
    const median = (v: number[]) => v.slice().sort((a, b) => a - b)[Math.floor(v.length / 2)];
    Object.assign(speed, { pgd40PageMedianMs: median(inPage), pgd40NodeMedianMs: median(inNode), pageOverNode: median(inPage) / median(inNode) });
    writeFileSync(join(screens, 'speed.json'), JSON.stringify(speed, null, 1) + '\n');
    console.log('lab speed in Chromium (ms; shared machine, not asserted):', JSON.stringify(speed));
    expect(speed.pgd40Ms).toBeGreaterThan(0);
  });
});

describe('the ∇x lab offline, and as a static site', () => {
  const digit0 = () => {
    const { model } = loadModel(join(root, 'lab/models/cnn.safetensors'));
    return { model, pixels: Array.from(loadMnistData('test').images.subarray(0, 784)) };
  };

  /** Wait for the service worker to control p, go offline, reload: the page must come back from the cache alone. */
  async function reloadOffline(p: Page, seen: string[]): Promise<LabState> {
    await p.waitForFunction(() => __lab.offline !== '');
    expect(await p.evaluate(() => __lab.offline)).toBe('works offline');
    await p.waitForFunction(() => navigator.serviceWorker.controller !== null);
    await context!.setOffline(true);
    try {
      // offline for real: a file the service worker does not hold fails (its console error is expected)
      const n = seen.length;
      expect(await p.evaluate(() => fetch('not-cached.bin').then(() => 'fetched', () => 'failed'))).toBe('failed');
      seen.splice(n);
      await p.reload();
      await p.waitForFunction(() => (globalThis as unknown as { __lab?: LabState }).__lab?.last.predicted !== undefined && __lab.last.predicted >= 0, null, { timeout: 60_000 });
      return await p.evaluate(() => ({ ...__lab, bench: undefined, batchProbs: undefined }) as LabState);
    } finally {
      await context!.setOffline(false);
    }
  }

  it('works offline once loaded from `nablax lab`: the service worker serves page, kernels, models and digits', async () => {
    const s = await reloadOffline(page, problems);
    expect(s.isolated).toBe(true); // the cached page keeps its cross-origin-isolation headers
    expect(s.kernels).toMatch(/^wasm-simd/);
    expect(s.threads).toBe(Math.min(4, await page.evaluate(() => navigator.hardwareConcurrency)));
    const { model, pixels } = digit0();
    expect(s.last.label).toBe(7);
    expect(s.last.pixels).toEqual(pixels);
    expect(s.last.probs).toEqual(withPageKernels(s.kernels, () => probsOf(model, pixels)));
    expect(s.last.predicted).toBe(7);
    // the --model-file model, kept from the network-first models.json and its file
    expect(await page.locator('#model option').allTextContents()).toEqual(expect.arrayContaining(['cnn', 'cnn-pgd', 'softmax', 'mine']));
    await page.selectOption('#model', 'mine');
    await page.waitForFunction(() => __lab.model === 'mine');
    expect(problems).toEqual([]);
  });

  it('runs from a sub-folder of a plain static host (no isolation headers): one thread, TypeScript kernels, said in the footer; offline too', async () => {
    const files = sirv(join(root, 'lab/dist'), { dev: false });
    const host = createServer((req, res) => {
      const notFound = () => { res.writeHead(404); res.end(); };
      if (!req.url?.startsWith('/some/folder/')) return notFound();
      req.url = req.url.slice('/some/folder'.length);
      files(req, res, notFound);
    });
    await new Promise<void>((resolve) => host.listen(0, '127.0.0.1', resolve));
    const p = await context!.newPage();
    const seen: string[] = [];
    p.on('console', (m) => { if (m.type() === 'error') seen.push(m.text()); });
    p.on('pageerror', (e) => seen.push(e.message));
    try {
      await p.goto(`http://localhost:${(host.address() as AddressInfo).port}/some/folder/`);
      await p.waitForFunction(() => (globalThis as unknown as { __lab?: LabState }).__lab?.last.predicted !== undefined && __lab.last.predicted >= 0, null, { timeout: 60_000 });
      for (const s of [await p.evaluate(() => ({ ...__lab, bench: undefined, batchProbs: undefined }) as LabState), await reloadOffline(p, seen)]) {
        expect(s.isolated).toBe(false);
        expect(s.threads).toBe(1);
        expect(s.kernels).toBe('typescript');
        const { model, pixels } = digit0();
        expect(s.last.probs).toEqual(withPageKernels('typescript', () => probsOf(model, pixels)));
        expect(s.last.predicted).toBe(7);
        expect(await p.locator('footer').textContent()).toContain('kernels: typescript on 1 thread, not cross-origin isolated');
        expect(await p.locator('#engine').textContent()).toBe('kernels: typescript on 1 thread, not cross-origin isolated (served without the COOP/COEP headers that `nablax lab` sends: no shared memory, so one thread and the TypeScript kernels)');
      }
      expect(seen).toEqual([]);
    } finally {
      await p.close();
      await new Promise<void>((resolve) => host.close(() => resolve()));
    }
  });
});

describe('nablax lab (bad input)', () => {
  it('refuses a missing model file before serving: one line, exit 2', () => {
    const [cmd, args] = tsx(['lab', '--port', '0', '--model-file', join(tmp, 'nope.safetensors')]);
    const r = spawnSync(cmd, args, { cwd: root, encoding: 'utf8', timeout: 60_000 });
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toEqual([`nablax lab: --model-file ${join(tmp, 'nope.safetensors')}: no such file`]);
    expect(existsSync(join(root, 'lab/dist/index.html'))).toBe(true);
  });
});
