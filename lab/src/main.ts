// The ∇x lab's page: state (the digit's 28×28 pixels, the models, the attack setting) and the seven panels, redrawn
// on the next animation frame after any change; only open panels compute. window.__lab exposes what the page last
// computed (pixels, probabilities, the attack's outcome) and a timing probe, for the browser test (test/lab/).
import { chainRule, traceExample, type Trace } from '../../src/analysis/trace.js';
import { pgd } from '../../src/attacks/pgd.js';
import { decodeModel } from '../../src/io/model-bytes.js';
import type { Sequential } from '../../src/layers/sequential.js';
import { defaultBrowserThreads, setupBrowserKernels } from './kernels.js';
import {
  PIXELS, gradientOf, inputOf, linearArgument, logitsAlongFgsm, probabilities, runAttack, top,
  type AttackName, type AttackSetting, type LabAttack,
} from './compute.js';
import { CLASS_COLORS, paintBars, paintDiverging, paintGray, paintTiles, plotLines } from './paint.js';

const $ = <T extends HTMLElement = HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`lab: no element #${id}`);
  return el as T;
};
const panelOpen = (n: number): boolean => ($<HTMLDetailsElement>(`p${n}`)).open;
const fmtP = (p: number): string => `${(100 * p).toFixed(1)}%`;

interface LabModel {
  name: string;
  model: Sequential;
  /** Where it came from: a shipped file's URL, or the picked file's name. */
  source: string;
}

const state = {
  pixels: new Float32Array(PIXELS),
  /** The true label while the pixels are an untouched official test digit, else null. */
  truth: null as number | null,
  models: new Map<string, LabModel>(),
  current: '',
  traceStep: 0,
  digits: { labels: new Uint8Array(0), pixels: new Uint8Array(0) },
};

/** What the browser test reads: the last computed input, probabilities and attack, and timings (ms). */
const lab = {
  ready: false,
  kernels: '',
  kernelsNote: '',
  /** Threads the kernels split batches over, whether the page is cross-origin isolated, and the worker pool's counters. */
  threads: 1,
  isolated: false,
  threadStats: { dispatched: 0, inline: 0 },
  model: '',
  last: { pixels: [] as number[], probs: [] as number[], predicted: -1, label: -1 },
  attack: null as null | { attack: AttackName; eps: number; steps: number; target: number | null; label: number; probs: number[]; predicted: number; success: boolean; queries: number | null },
  loadMessage: '',
  /** The footer's word on offline use, once the service worker is registered (or refused). */
  offline: '',
  timing: { readyMs: 0, lastUpdateMs: 0 },
  bench,
  setPixels: (p: number[]) => { state.pixels.set(p); state.truth = null; schedule(); },
  /** One PGD-40 run (ε 0.3, all 40 steps, seed 0) on the current digit and model: ms, steps run, p(class | x′). */
  timePgd40: () => {
    const m = model(), t0 = performance.now();
    const r = runPgd40(m, labelFor(m));
    const ms = performance.now() - t0;
    return { ms, iterations: r.iterations[0], probs: Array.from(probabilities(m, r.adversarial.data as Float32Array)) };
  },
  /** One run of a black-box attack on the current digit and model (panel 3's setting otherwise): ms and queries. */
  timeBlackBox: (attack: 'one-pixel' | 'square') => {
    const m = model(), t0 = performance.now();
    const r = runAttack(m, state.pixels, labelFor(m), { ...attackSetting(), attack, target: null });
    return { ms: performance.now() - t0, queries: r.queries };
  },
  /** p(class | x) for official test digits #0 … #n−1 in one batch (a batch the kernels split among the threads). */
  batchProbs: (n: number) => {
    const m = model();
    const x = Float32Array.from(state.digits.pixels.subarray(0, n * PIXELS), (v) => v / 255);
    return Array.from(probabilities(m, x, n));
  },
  /** Show official test digit #i (set up once the digits are loaded). */
  setDigit: (_i: number) => {},
};
(globalThis as unknown as { __lab: typeof lab }).__lab = lab;

function model(): Sequential {
  return state.models.get(state.current)!.model;
}

/** The label the loss is taken for: the true one for an untouched test digit, else the model's own prediction. */
function labelFor(m: Sequential, probs?: ArrayLike<number>): number {
  return state.truth ?? top(probs ?? probabilities(m, state.pixels));
}

function attackSetting(): AttackSetting {
  const t = $<HTMLSelectElement>('target').value;
  return {
    attack: $<HTMLSelectElement>('attack').value as AttackName,
    eps: Number($<HTMLInputElement>('eps').value),
    steps: Number($<HTMLSelectElement>('steps').value),
    target: t === '' ? null : Number(t),
  };
}

// ---- scheduling: one redraw per animation frame, whatever the number of changes ----
let pending = false;
function schedule(): void {
  if (pending || !lab.ready) return;
  pending = true;
  requestAnimationFrame(() => {
    pending = false;
    const t0 = performance.now();
    update();
    lab.timing.lastUpdateMs = performance.now() - t0;
  });
}

function update(): void {
  const m = model();
  const probs = probabilities(m, state.pixels);
  const label = labelFor(m, probs);
  lab.model = state.current;
  lab.last = { pixels: Array.from(state.pixels), probs: Array.from(probs), predicted: top(probs), label };
  paintDraw();
  paintBars($('bars'), probs);
  $('truth').textContent = state.truth === null
    ? `drawn digit: the loss below is taken at the model's own prediction, ${label}`
    : `official test digit, true label ${state.truth}`;
  if (panelOpen(2) || panelOpen(3)) updateGradientAndAttack(m, label);
  if (panelOpen(4)) updateTrace(m, label);
  if (panelOpen(5)) updateLinear();
  if (panelOpen(6)) updateRobust();
}

// ---- panel 1: drawing ----
const drawCanvas = (): HTMLCanvasElement => $<HTMLCanvasElement>('draw');
const small = document.createElement('canvas');
/** The keyboard's pen (pixel units): arrow keys move it, Space puts it down or lifts it; shown while the pad has focus. */
const pen = { x: 14, y: 14, down: false };
function paintDraw(): void {
  paintGray(small, state.pixels, 28, 28);
  const c = drawCanvas(), ctx = c.getContext('2d')!;
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(small, 0, 0, c.width, c.height);
  if (document.activeElement === c && c.matches(':focus-visible')) {
    const u = c.width / 28;
    ctx.lineWidth = 2;
    ctx.strokeStyle = pen.down ? '#ff4d4f' : '#4da3ff';
    ctx.beginPath();
    ctx.arc((pen.x + 0.5) * u, (pen.y + 0.5) * u, 1.5 * u, 0, 2 * Math.PI);
    ctx.stroke();
  }
}

/** Drawing with the keyboard: arrows move the pen one pixel (with Shift three), inking while it is down. */
function setupKeyboardPen(c: HTMLCanvasElement): void {
  const moves: Record<string, [number, number]> = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
  c.addEventListener('keydown', (e) => {
    const mv = moves[e.key];
    if (mv) {
      const k = e.shiftKey ? 3 : 1;
      for (let i = 0; i < k; i++) {
        pen.x = Math.min(27, Math.max(0, pen.x + mv[0]));
        pen.y = Math.min(27, Math.max(0, pen.y + mv[1]));
        if (pen.down) stamp(pen.x + 0.5, pen.y + 0.5);
      }
      if (pen.down) state.truth = null;
    } else if (e.key === ' ' || e.key === 'Enter') {
      pen.down = !pen.down;
      if (pen.down) { stamp(pen.x + 0.5, pen.y + 0.5); state.truth = null; }
    } else if (e.key === 'Escape') {
      pen.down = false;
    } else return;
    e.preventDefault();
    schedule();
  });
  c.addEventListener('focus', schedule);
  c.addEventListener('blur', () => { pen.down = false; schedule(); });
}

/** Ink a soft round brush (radius 1.5 pixels) at (px, py) in pixel units. */
function stamp(px: number, py: number): void {
  const r = 1.5;
  for (let y = Math.floor(py - r); y <= Math.ceil(py + r); y++) {
    for (let x = Math.floor(px - r); x <= Math.ceil(px + r); x++) {
      if (x < 0 || y < 0 || x >= 28 || y >= 28) continue;
      const d = Math.hypot(x + 0.5 - px, y + 0.5 - py) / r;
      if (d >= 1) continue;
      const i = y * 28 + x;
      state.pixels[i] = Math.max(state.pixels[i], Math.min(1, 1.6 * (1 - d * d)));
    }
  }
}

function setupDrawing(): void {
  const c = drawCanvas();
  let last: [number, number] | null = null;
  const at = (e: PointerEvent): [number, number] => {
    const r = c.getBoundingClientRect();
    return [((e.clientX - r.left) / r.width) * 28, ((e.clientY - r.top) / r.height) * 28];
  };
  const inkTo = (p: [number, number]) => {
    const from = last ?? p;
    const steps = Math.max(1, Math.ceil(Math.hypot(p[0] - from[0], p[1] - from[1]) / 0.25));
    for (let s = 1; s <= steps; s++) stamp(from[0] + ((p[0] - from[0]) * s) / steps, from[1] + ((p[1] - from[1]) * s) / steps);
    last = p;
    state.truth = null;
    schedule();
  };
  c.addEventListener('pointerdown', (e) => {
    c.setPointerCapture(e.pointerId);
    last = null;
    inkTo(at(e));
    e.preventDefault();
  });
  c.addEventListener('pointermove', (e) => {
    if (last !== null && e.buttons !== 0) inkTo(at(e));
  });
  const end = () => { last = null; };
  c.addEventListener('pointerup', end);
  c.addEventListener('pointercancel', end);
  setupKeyboardPen(c);
  $('clear').addEventListener('click', () => { state.pixels.fill(0); state.truth = null; schedule(); });
  const pick = $<HTMLSelectElement>('digit');
  const choose = (k: number) => {
    const n = state.digits.labels.length;
    const i = ((k % n) + n) % n;
    pick.value = String(i);
    for (let p = 0; p < PIXELS; p++) state.pixels[p] = state.digits.pixels[i * PIXELS + p] / 255;
    state.truth = state.digits.labels[i];
    schedule();
  };
  pick.addEventListener('change', () => choose(Number(pick.value)));
  $('prev').addEventListener('click', () => choose(Number(pick.value) - 1));
  $('next').addEventListener('click', () => choose(Number(pick.value) + 1));
  lab.setDigit = choose;
}

// ---- panels 2 and 3: ∇x and the attack ----
function updateGradientAndAttack(m: Sequential, label: number): void {
  const { dx } = gradientOf(m, state.pixels, label);
  paintGray($<HTMLCanvasElement>('g-x'), state.pixels, 28, 28);
  paintDiverging($<HTMLCanvasElement>('g-dx'), dx, 28, 28);
  paintDiverging($<HTMLCanvasElement>('g-sign'), dx.map(Math.sign), 28, 28, 1);
  let l1 = 0, nonzero = 0;
  for (const g of dx) { l1 += Math.abs(g); if (g !== 0) nonzero++; }
  $('g-text').textContent = `J = −log p(${label} | x); ‖∇x J‖₁ = ${l1.toPrecision(3)}, ${nonzero} of 784 pixels have a non-zero gradient. ` +
    `FGSM adds ε·sign(∇x J): +ε on red pixels, −ε on blue, then clips to [0, 1].`;
  if (!panelOpen(3)) return;
  const s = attackSetting();
  const blackBox = s.attack === 'one-pixel' || s.attack === 'square';
  $('run-bb').hidden = !blackBox;
  $('steps').parentElement!.hidden = s.attack !== 'pgd';
  if (blackBox) return; // black-box attacks cost thousands of queries: they run on the button
  showAttack(m, label, s, runAttack(m, state.pixels, label, s));
}

function showAttack(m: Sequential, label: number, s: AttackSetting, r: LabAttack): void {
  paintGray($<HTMLCanvasElement>('a-x'), state.pixels, 28, 28);
  paintGray($<HTMLCanvasElement>('a-adv'), r.adversarial, 28, 28);
  const delta = r.adversarial.map((v, i) => v - state.pixels[i]);
  paintDiverging($<HTMLCanvasElement>('a-delta'), delta, 28, 28);
  paintBars($('a-bars'), r.probs);
  let linf = 0, l0 = 0;
  for (const d of delta) { linf = Math.max(linf, Math.abs(d)); if (d !== 0) l0++; }
  const goal = s.target === null ? `away from ${label}` : `towards ${s.target}`;
  const q = r.queries === null ? '' : `, ${r.queries} queries`;
  const it = s.attack === 'pgd' ? `, ${r.iterations} of ${s.steps} steps` : s.attack === 'one-pixel' || s.attack === 'square' ? `, ${r.iterations} iterations` : '';
  const text = $('a-text');
  text.textContent = `${s.attack.toUpperCase()} ${goal}, ε = ${s.eps.toFixed(2)}: the model now says ${r.predicted} (${fmtP(r.probs[r.predicted])}) — ` +
    `${r.success ? 'attack succeeded' : 'attack failed'}${it}${q}; ‖x′ − x‖∞ = ${linf.toFixed(3)}, ${l0} pixels changed.`;
  text.className = `result ${r.success ? 'bad' : 'good'}`;
  lab.attack = { ...s, label, probs: Array.from(r.probs), predicted: r.predicted, success: r.success, queries: r.queries };
  void m;
}

// ---- panel 4: the backward pass ----
let traceCache: { key: string; trace: Trace; rule: string[] } | null = null;
function updateTrace(m: Sequential, label: number): void {
  const key = `${state.current}|${label}|${state.pixels.join(',')}`;
  if (traceCache?.key !== key) traceCache = { key, trace: traceExample(m, inputOf(m, state.pixels), label), rule: chainRule(m) };
  const { trace, rule } = traceCache;
  const L = trace.layers.length;
  const s = Math.max(0, Math.min(L + 1, state.traceStep));
  state.traceStep = s;
  const pre = $('t-rule');
  pre.replaceChildren(...rule.map((line, r) => {
    const span = document.createElement('span');
    span.textContent = line;
    if (r === s) span.className = 'on';
    return span;
  }));
  const shapeOf = (t: { shape: readonly number[] }) => t.shape.slice(1);
  const sub = (i: number) => String(i).replace(/\d/g, (d) => '₀₁₂₃₄₅₆₇₈₉'[Number(d)]);
  // Step s: 0 the loss; 1…L layer i = L − s (its output z_{i+1}, the gradient arriving there, the one it sends
  // back to z_i); L + 1 the input x and ∇x.
  type Pic = { t: { data: ArrayLike<number>; shape: readonly number[] }; cap: string } | null;
  let out: Pic, arriving: Pic, leaving: Pic, where: string;
  if (s === 0) {
    const last = trace.layers[L - 1];
    out = { t: last.tensors.output, cap: `z${sub(L)}: the logits` };
    arriving = { t: last.tensors.grad, cap: `∂J/∂z${sub(L)} = softmax(z${sub(L)}) − onehot(${label}): where backprop starts` };
    leaving = null;
    where = `loss J = −log p(${label} | x) = ${trace.loss.toPrecision(4)}`;
  } else if (s <= L) {
    const i = L - s, layer = trace.layers[i];
    out = { t: layer.tensors.output, cap: `z${sub(i + 1)}: output of layer #${i} (${layer.type}), ${layer.outputShape.join('×')}` };
    arriving = { t: layer.tensors.grad, cap: `∂J/∂z${sub(i + 1)}: the gradient arriving at its output` };
    leaving = { t: i > 0 ? trace.layers[i - 1].tensors.grad : trace.dx, cap: `∂J/∂z${sub(i)}: what it sends back to its input (the highlighted line)` };
    where = `layer #${i} ${layer.type}: ‖∂J/∂z${sub(i + 1)}‖₂ = ${layer.grad.norm2.toPrecision(3)} arriving; ${(100 * layer.output.fractionZero).toFixed(0)}% of its outputs are 0`;
  } else {
    out = { t: inputOf(m, state.pixels), cap: 'x = z₀' };
    arriving = { t: trace.dx, cap: '∇x J = ∂J/∂z₀: the gradient arriving at the input' };
    leaving = null;
    where = `∇x J: ‖·‖₁ = ${trace.dxNorm.l1.toPrecision(3)}, ‖·‖∞ = ${trace.dxNorm.linf.toPrecision(3)}`;
  }
  paintTiles($<HTMLCanvasElement>('t-out'), out.t.data, shapeOf(out.t), false, 240);
  paintTiles($<HTMLCanvasElement>('t-grad'), arriving.t.data, shapeOf(arriving.t), true, 240);
  $('t-out-cap').textContent = out.cap;
  $('t-grad-cap').textContent = arriving.cap;
  $('t-leave-fig').hidden = leaving === null;
  if (leaving) {
    paintTiles($<HTMLCanvasElement>('t-leave'), leaving.t.data, shapeOf(leaving.t), true, 240);
    $('t-leave-cap').textContent = leaving.cap;
  }
  $('t-where').textContent = `step ${s + 1} of ${L + 2}`;
  $('t-stats').textContent = where;
}

// ---- panel 5: the linear argument on the softmax model ----
function updateLinear(): void {
  const sm = state.models.get('softmax')?.model;
  if (!sm) { $('l-text').textContent = 'the softmax model is not loaded'; return; }
  const eps = Number($<HTMLInputElement>('eps').value);
  const probs = probabilities(sm, state.pixels);
  const y = labelFor(sm, probs);
  const a = linearArgument(sm, state.pixels, y, eps);
  if (!a) return;
  const epsAxis = Array.from({ length: 51 }, (_, k) => k / 100);
  plotLines($<HTMLCanvasElement>('l-gain'), epsAxis, [
    { ys: epsAxis.map((e) => e * a.m * a.n), color: '#0b6bcb', width: 2, label: 'ε·m·n' },
    { ys: epsAxis.map(() => a.margin), color: '#b42318', dashed: true, label: 'margin' },
  ], { mark: eps, xLabel: 'ε' });
  const fig = Array.from({ length: 51 }, (_, k) => -0.5 + k / 50);
  const curves = logitsAlongFgsm(sm, state.pixels, y, fig);
  plotLines($<HTMLCanvasElement>('l-fig4'), fig, Array.from({ length: curves[0].length }, (_, c) => ({
    ys: curves.map((z) => z[c]), color: CLASS_COLORS[c % 10], width: c === y ? 3 : 1.2, label: String(c),
  })), { mark: eps, xLabel: 'ε' });
  const flips = a.gain > a.margin;
  $('l-text').textContent = `softmax model, y = ${y}, runner-up j = ${a.j}: m = ${a.m.toPrecision(3)}, n = ${a.n}, ` +
    `ε·m·n = ${eps.toFixed(2)}·${a.m.toPrecision(3)}·${a.n} = ${a.gain.toPrecision(4)} (measured through the model: ${a.measured.toPrecision(4)}) ` +
    `${flips ? '>' : '≤'} margin z_y − z_j = ${a.margin.toPrecision(4)}; the argument predicts a flip from ε = ${a.flipAt.toPrecision(3)} (unclipped).`;
  $('l-text').className = `result ${flips ? 'bad' : 'good'}`;
}

// ---- panel 6: standard against PGD-trained ----
function updateRobust(): void {
  const row = $('r-row');
  const s = attackSetting();
  const setting: AttackSetting = { ...s, attack: s.attack === 'pgd' ? 'pgd' : 'fgsm' };
  const names = ['cnn', 'cnn-pgd'].filter((n) => state.models.has(n));
  if (row.childElementCount !== names.length) {
    row.replaceChildren(...names.map((n) => {
      const col = document.createElement('div');
      col.className = 'col';
      col.innerHTML = `<h3>${n === 'cnn' ? 'standard cnn' : 'PGD-trained cnn'} (${n})</h3><div class="row">` +
        `<figure><canvas width="28" height="28" class="img"></canvas><figcaption>∇x J</figcaption></figure>` +
        `<figure><canvas width="28" height="28" class="img"></canvas><figcaption>x′</figcaption></figure></div><p class="result"></p>`;
      return col;
    }));
  }
  names.forEach((n, k) => {
    const m = state.models.get(n)!.model;
    const probs = probabilities(m, state.pixels);
    const y = labelFor(m, probs);
    const { dx } = gradientOf(m, state.pixels, y);
    const r = runAttack(m, state.pixels, y, setting);
    const col = row.children[k];
    const [gc, ac] = col.querySelectorAll('canvas');
    paintDiverging(gc, dx, 28, 28);
    paintGray(ac, r.adversarial, 28, 28);
    const p = col.querySelector('p')!;
    p.textContent = `clean: ${top(probs)} (${fmtP(probs[top(probs)])}); ${setting.attack.toUpperCase()} ε = ${s.eps.toFixed(2)}: ${r.predicted} (${fmtP(r.probs[r.predicted])})`;
    p.className = `result ${r.success ? 'bad' : 'good'}`;
  });
}

// ---- panel 7 and the model menu ----
function addModel(name: string, m: Sequential, source: string): void {
  state.models.set(name, { name, model: m, source });
  const sel = $<HTMLSelectElement>('model');
  if (![...sel.options].some((o) => o.value === name)) sel.add(new Option(name, name));
}

/** Refuse models the lab cannot feed or show: input must be 784 values (a 28×28 digit), output 10 classes. */
function checkFits(m: Sequential, where: string): void {
  const n = m.input.reduce((a, b) => a * b, 1);
  if (n !== PIXELS) throw new Error(`${where}: this model takes input [${m.input.join(', ')}] (${n} values); the lab feeds 28×28 grayscale digits (784)`);
  const C = probabilities(m, new Float32Array(PIXELS)).length;
  if (C !== 10) throw new Error(`${where}: this model has ${C} output classes; the lab shows the 10 digit classes`);
}

/** The engine's error as a reason a learner can act on: what kind of file this is not, then the engine's detail. */
function whyRefused(message: string, name: string): string {
  const detail = message.replace(/^(decodeSafetensors|load): /, '').replace(`${name}: `, '');
  if (message.startsWith('decodeSafetensors')) return `not a valid .safetensors file (${detail})`;
  if (/not a nablax model file/.test(message)) return `a safetensors file, but not a nablax model: ${detail.replace(/^not a nablax model file /, '')}`;
  return detail;
}

async function loadPicked(file: File): Promise<void> {
  const msg = $('load-msg');
  try {
    const bytes = new Uint8Array(await file.arrayBuffer());
    const { model: m } = decodeModel(bytes, file.name, 'load');
    checkFits(m, `load: ${file.name}`);
    const name = `${file.name.replace(/\.safetensors$/, '')} (yours)`;
    addModel(name, m, file.name);
    $<HTMLSelectElement>('model').value = name;
    state.current = name;
    msg.textContent = `Loaded ${file.name}: ${m.spec().layers.map((l) => l.type).join(' → ')}, ${m.numParameters().toLocaleString('en')} parameters. It is now the model in the menu above.`;
    msg.className = 'result good';
    schedule();
  } catch (e) {
    msg.textContent = `Refused ${file.name}: ${whyRefused((e as Error).message, file.name)}`;
    msg.className = 'result bad';
  }
  lab.loadMessage = msg.textContent ?? '';
}

async function fetchBytes(url: string): Promise<Uint8Array<ArrayBuffer>> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return new Uint8Array(await res.arrayBuffer());
}

/**
 * PGD-40 and the ∇x + FGSM redraw on the current digit, timed in this tab: medians of `reps` runs (ms).
 * @example
 *   await __lab.bench(20)   // { gradFgsmRedrawMs, pgd40Ms, ... }
 */
function bench(reps = 20): { gradFgsmRedrawMs: number; pgd40Ms: number; kernels: string; model: string } {
  const m = model();
  const label = labelFor(m);
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const redraw: number[] = [], pgd40: number[] = [];
  const s: AttackSetting = { attack: 'fgsm', eps: 0.1, steps: 40, target: null };
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    updateGradientAndAttackFor(m, label, s);
    redraw.push(performance.now() - t0);
  }
  for (let r = 0; r < Math.max(3, Math.floor(reps / 4)); r++) {
    const t0 = performance.now();
    // earlyStop off: all 40 steps run, whether or not the attack succeeds early
    runPgd40(m, label);
    pgd40.push(performance.now() - t0);
  }
  return { gradFgsmRedrawMs: median(redraw), pgd40Ms: median(pgd40), kernels: lab.kernels, model: state.current };
}
function updateGradientAndAttackFor(m: Sequential, label: number, s: AttackSetting): void {
  const { dx } = gradientOf(m, state.pixels, label);
  paintDiverging($<HTMLCanvasElement>('g-dx'), dx, 28, 28);
  paintDiverging($<HTMLCanvasElement>('g-sign'), dx.map(Math.sign), 28, 28, 1);
  showAttack(m, label, s, runAttack(m, state.pixels, label, s));
}
function runPgd40(m: Sequential, label: number) {
  return pgd.run(m, inputOf(m, state.pixels), Int32Array.of(label), { eps: 0.3, steps: 40, seed: 0, earlyStop: false });
}

async function main(): Promise<void> {
  const params = new URLSearchParams(location.search);
  const asked = params.get('threads');
  if (asked !== null && !/^([1-9]|[1-5][0-9]|6[0-4])$/.test(asked)) throw new Error(`?threads=${asked} in the URL: expected an integer from 1 to 64`);
  const k = await setupBrowserKernels(params.get('kernels') ?? 'auto', asked === null ? defaultBrowserThreads() : Number(asked));
  Object.assign(lab, { kernels: k.name, kernelsNote: k.note, threads: k.threads, isolated: k.isolated, threadStats: k.stats });
  const how = `kernels: ${k.name} on ${k.threads} thread${k.threads === 1 ? '' : 's'}, ${k.isolated ? 'cross-origin isolated' : 'not cross-origin isolated'}`;
  $('engine').textContent = how + (k.note ? ` (${k.note})` : '');
  $('engine-foot').textContent = how;
  const [list, digits] = await Promise.all([
    fetch('models.json').then((r) => r.json() as Promise<{ name: string; url: string }[]>),
    fetchBytes('digits.bin'),
  ]);
  const n = Math.floor(digits.length / (1 + PIXELS));
  state.digits = { labels: digits.subarray(0, n), pixels: digits.subarray(n) };
  const pick = $<HTMLSelectElement>('digit');
  for (let i = 0; i < n; i++) pick.add(new Option(`#${i} (a ${state.digits.labels[i]})`, String(i)));
  const loaded = await Promise.all(list.map(async (e) => ({ e, bytes: await fetchBytes(e.url) })));
  for (const { e, bytes } of loaded) addModel(e.name, decodeModel(bytes, e.url, 'load').model, e.url);
  state.current = list[0].name;
  const tsel = $<HTMLSelectElement>('target');
  for (let c = 0; c < 10; c++) tsel.add(new Option(`towards ${c}`, String(c)));
  setupDrawing();
  $<HTMLSelectElement>('model').addEventListener('change', (e) => { state.current = (e.target as HTMLSelectElement).value; traceCache = null; schedule(); });
  const eps = $<HTMLInputElement>('eps');
  eps.addEventListener('input', () => { $('eps-out').textContent = Number(eps.value).toFixed(2); schedule(); });
  for (const id of ['attack', 'steps', 'target']) $(id).addEventListener('change', schedule);
  $('run-bb').addEventListener('click', () => {
    const m = model(), label = labelFor(m), s = attackSetting();
    showAttack(m, label, s, runAttack(m, state.pixels, label, s));
  });
  $('t-prev').addEventListener('click', () => { state.traceStep--; schedule(); });
  $('t-next').addEventListener('click', () => { state.traceStep++; schedule(); });
  $('t-rule').addEventListener('keydown', (e) => {
    if (e.key === 'ArrowDown' || e.key === 'ArrowRight') { state.traceStep++; schedule(); e.preventDefault(); }
    if (e.key === 'ArrowUp' || e.key === 'ArrowLeft') { state.traceStep--; schedule(); e.preventDefault(); }
  });
  for (let p = 2; p <= 6; p++) $(`p${p}`).addEventListener('toggle', schedule);
  $<HTMLInputElement>('file').addEventListener('change', (e) => {
    const f = (e.target as HTMLInputElement).files?.[0];
    if (f) void loadPicked(f);
  });
  lab.ready = true;
  lab.setDigit(0);
  requestAnimationFrame(() => { lab.timing.readyMs = performance.now(); });
  void offline();
}

/**
 * Register the service worker (sw.js: caches the page, its kernels, models and digits) once the page is up, and say in
 * the footer whether the lab now works offline. Service workers need a secure context (https, or localhost).
 */
async function offline(): Promise<void> {
  const say = (t: string) => { $('offline').textContent = t; lab.offline = t; };
  if (!('serviceWorker' in navigator)) return say('not available offline (no service workers here: needs https or localhost)');
  try {
    await navigator.serviceWorker.register('sw.js');
    await navigator.serviceWorker.ready;
    say('works offline');
  } catch (e) {
    say(`not available offline (${(e as Error).message})`);
  }
}

main().catch((e) => {
  $('engine').textContent = `the lab could not start: ${(e as Error).message}`;
  console.error(e);
});
